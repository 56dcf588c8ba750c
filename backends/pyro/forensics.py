"""Forensics of the paper's sigma_worker: every number a Pyro mean-field fit could print.

The paper's table reports sigma_worker = 0.006294 for its Pyro ``AutoNormal`` fit.  A fitted
``AutoNormal`` holds, for a positive scale such as ``sigma_worker``, a location ``loc`` and a
scale ``scale`` on the unconstrained (log) space -- so does ``AutoDiagonalNormal`` (the same
family and parameters, what ``pyro_meanfield`` fits), as entries of its ``loc`` and ``scale``
vectors; :func:`sigma_readings` records

* ``guide_loc``: ``exp(loc)``, the guide's location mapped to the constrained space (also the
  median of the guide's log-normal marginal),
* ``guide_scale``: the guide's scale parameter itself (``AutoNormal.scales.<site>``, the
  site's entry of ``AutoDiagonalNormal.scale``: a standard deviation on the log scale -- a few
  hundredths on the twin),
* ``median``: the median of the posterior draws,
* ``point``: the point estimate of a ``typeii`` guide (``AutoDelta`` on the scales),
* ``variance``: the median of the draws of sigma^2 (the paper says its Half-Cauchy priors
  "parameterize the distributions for the variance"),

so that a sweep can say which of them the paper's number matches.  No torch import here: the
guide's parameters are read through their ``detach()`` / ``item()`` methods.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

#: The scales whose readings are recorded.
SIGMA_SITES: tuple[str, ...] = ("sigma_worker", "sigma_site")
#: The reading names, in table order.
READINGS: tuple[str, ...] = ("guide_loc", "guide_scale", "median", "point", "variance")


def _value(param: Any) -> float:
    return float(param.detach().reshape(-1)[0].item())


def _parts(guide: Any) -> list[Any]:
    """The autoguides of ``guide`` (the members of an ``AutoGuideList``, else ``[guide]``)."""
    if type(guide).__name__ == "AutoGuideList":
        return list(guide)
    return [guide]


def _normal_site(part: Any, site: str) -> tuple[float, float] | None:
    """(loc, scale) of ``site`` on the unconstrained space in a mean-field autoguide, or None."""
    kind = type(part).__name__
    if kind == "AutoNormal" and getattr(part.locs, site, None) is not None:
        return _value(getattr(part.locs, site)), _value(getattr(part.scales, site))
    if kind == "AutoDiagonalNormal":  # the site's entries of the packed vectors
        locs = {s["name"]: v for s, v in part._unpack_latent(part.loc)}
        if site in locs:
            scales = {s["name"]: v for s, v in part._unpack_latent(part.scale)}
            return _value(locs[site]), _value(scales[site])
    return None


def _site_reading(guide: Any, site: str, draws: np.ndarray | None) -> dict[str, float | None]:
    reading: dict[str, float | None] = dict.fromkeys(READINGS)
    for part in _parts(guide):
        normal = _normal_site(part, site)
        if normal is not None:
            reading["guide_loc"], reading["guide_scale"] = math.exp(normal[0]), normal[1]
        elif type(part).__name__ == "AutoDelta" and getattr(part, site, None) is not None:
            reading["point"] = _value(getattr(part, site))
    if draws is not None and np.size(draws):
        reading["median"] = float(np.median(draws))
        reading["variance"] = float(np.median(np.square(draws)))
    return reading


def sigma_readings(
    guide: Any, posterior: Mapping[str, np.ndarray]
) -> dict[str, dict[str, float | None]] | None:
    """The readings of :data:`SIGMA_SITES` from a fitted guide and its posterior draws.

    Parameters
    ----------
    guide : pyro.infer.autoguide.AutoGuide
        A fitted ``AutoDiagonalNormal`` or ``AutoNormal``, or an ``AutoGuideList`` of
        ``AutoDelta`` + ``AutoNormal``.
    posterior : mapping
        Draws by variable name (``sigma_worker``, ``sigma_site``, ...).

    Returns
    -------
    dict or None
        ``{site: {reading: value}}`` for every reading of :data:`READINGS` (None where the
        guide has no such reading), or None for a guide that is neither (low-rank, full-rank, flow).
    """
    kinds = {type(part).__name__ for part in _parts(guide)}
    if not kinds & {"AutoNormal", "AutoDiagonalNormal", "AutoDelta"}:
        return None
    return {site: _site_reading(guide, site, posterior.get(site)) for site in SIGMA_SITES}
