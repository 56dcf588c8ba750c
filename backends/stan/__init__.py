"""Stan backends (CmdStanPy): ``stan_nuts``, ``stan_meanfield``, ``stan_fullrank``,
``stan_pathfinder``.

The model is the Stan program ``hier_logit.stan`` in this folder (both parameterisations,
chosen by data).  Importing this package does not import cmdstanpy; constructing a backend
finds CmdStan (``python -m backends.stan.install`` installs one) and compiles the program once
into a cache shared by every run.
"""

from backends.stan.backend import StanNUTS, backend_classes, make_backend, supported_methods
from backends.stan.cmdstan import PROGRAM_FILE, compile_program, find_cmdstan
from backends.stan.vi import StanFullRank, StanMeanField, StanPathfinder, StanVI

__all__ = [
    "PROGRAM_FILE",
    "StanFullRank",
    "StanMeanField",
    "StanNUTS",
    "StanPathfinder",
    "StanVI",
    "backend_classes",
    "compile_program",
    "find_cmdstan",
    "make_backend",
    "supported_methods",
]
