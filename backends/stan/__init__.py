"""Stan backends (CmdStanPy): ``stan_nuts`` (``StanNUTS``), ``stan_meanfield``,
``stan_fullrank`` and ``stan_pathfinder`` (``StanMeanField``, ``StanFullRank``,
``StanPathfinder``).

The model is the Stan program ``hier_logit.stan`` in this folder (both parameterisations,
chosen by data).  ``cmdstan.py`` finds CmdStan and compiles the program once into a cache
shared by every run (``python -m backends.stan.install`` installs a CmdStan); ``common.py`` is
the plumbing every Stan backend shares; ``nuts.py`` and ``vi.py`` the methods; ``convert.py``
holds the pure conversions to and from CmdStan; ``logprob.py`` the program's own log density.
May import ``backends.spec``, ``backends.base`` and ``backends.convergence``.  Importing this
package does not import cmdstanpy.
"""

from backends.stan.nuts import StanNUTS
from backends.stan.vi import StanFullRank, StanMeanField, StanPathfinder

__all__ = ["StanFullRank", "StanMeanField", "StanNUTS", "StanPathfinder"]
