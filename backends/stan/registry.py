"""Stan backends by CmdStan method name: :func:`make_backend` checks a method against the
installed CmdStan and builds its backend."""

from __future__ import annotations

from typing import Any

from backends.base import BackendError
from backends.spec import ModelSpec
from backends.stan.base import StanBackend, supported_methods
from backends.stan.cmdstan import find_cmdstan
from backends.stan.nuts import StanNUTS
from backends.stan.vi import StanFullRank, StanMeanField, StanPathfinder

#: Method name -> backend class.
BACKEND_CLASSES: dict[str, type[StanBackend]] = {
    "nuts": StanNUTS,
    "meanfield": StanMeanField,
    "fullrank": StanFullRank,
    "pathfinder": StanPathfinder,
}


def make_backend(method: str, *, model: ModelSpec, **settings: Any) -> StanBackend:
    """The Stan backend for ``method`` (e.g. ``"nuts"``), checked against the installed CmdStan.

    Raises
    ------
    BackendError
        Unknown method; the message lists the methods this CmdStan supports.
    """
    cmdstan = find_cmdstan()
    if method not in BACKEND_CLASSES:
        raise BackendError(
            f"unknown Stan method {method!r}; CmdStan {cmdstan.version_string} supports: "
            f"{', '.join(supported_methods(cmdstan))}"
        )
    return BACKEND_CLASSES[method](model=model, **settings)
