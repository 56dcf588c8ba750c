"""The clustering settings: validate the ``evaluation.clustering`` config block.

One source each: the values live in ``conf/evaluation/default.yaml`` (the composed Hydra
config), the key names and types in :class:`evaluation.config.schema.Clustering` (the structured
config Hydra checks while composing).  This module reads the key names from that schema and
checks what it receives, so a caller that bypasses Hydra (a script, a test) gets the same
one-line ``ValueError`` naming a missing or unknown key or a bad value.  Code that needs the
defaults outside a Hydra app composes or loads that file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evaluation.clustering import gmm
from evaluation.config import schema

#: Keys of the block that are read by the caller (the judge), not by the clustering.
IGNORED: frozenset[str] = frozenset({"enabled"})
#: The keys the clustering reads, in the order they are reported (metrics.json
#: ``clustering.settings`` and the ``setting_<key>`` attributes of clusters.nc).
KEYS: tuple[str, ...] = tuple(k for k in schema.keys_of(schema.Clustering) if k not in IGNORED)
_INTS = ("n_iter", "burn_in", "n_seeds", "n_draws", "draw_restarts", "k_chains", "seed")
_FLOATS = ("sigma", "alpha0", "eta", "stability_threshold")


def _check_keys(cfg: Mapping[str, Any]) -> None:
    unknown = set(cfg) - set(KEYS) - IGNORED
    if unknown:
        raise ValueError(
            f"clustering: unknown config keys {sorted(unknown)}; known: {sorted(KEYS)}"
        )
    missing = [k for k in KEYS if k not in cfg]
    if missing:
        raise ValueError(
            f"clustering: missing config keys {missing} "
            "(their defaults are in conf/evaluation/default.yaml)"
        )


def settings(cfg: Mapping[str, Any] | None) -> dict[str, Any]:
    """The validated, typed settings of the ``clustering`` config block.

    Parameters
    ----------
    cfg : mapping
        Every key of :data:`KEYS` (``enabled`` is allowed and ignored), e.g. the composed
        ``evaluation.clustering`` block as a plain dict.

    Returns
    -------
    dict
        The settings in :data:`KEYS` order, cast to int / float / bool.

    Raises
    ------
    ValueError
        A missing or unknown key, or a bad value (one line naming it).
    """
    cfg = {str(k): cfg[k] for k in (cfg or {})}
    _check_keys(cfg)
    s = {k: cfg[k] for k in KEYS}
    for key in _INTS:
        s[key] = int(s[key])
    for key in _FLOATS:
        s[key] = float(s[key])
    s["standardize"], s["bic"] = bool(s["standardize"]), bool(s["bic"])
    s["k_range"] = None if s["k_range"] is None else [int(v) for v in s["k_range"]]
    s["sigma_is"] = str(s["sigma_is"])
    gmm.likelihood_sd(s["sigma"], s["sigma_is"])  # ValueError on an unknown reading
    if s["k"] != "auto":
        s["k"] = int(s["k"])
        gmm.check_settings(s["k"], s["sigma"], s["alpha0"], s["eta"], s["n_iter"], s["burn_in"])
    elif s["k_range"] is None:
        raise ValueError("clustering: k = 'auto' needs a k_range")
    if min(s["n_seeds"], s["k_chains"], s["draw_restarts"]) < 1 or s["n_draws"] < 0:
        raise ValueError("clustering: need n_seeds, k_chains, draw_restarts >= 1 and n_draws >= 0")
    return s


__all__ = ["IGNORED", "KEYS", "settings"]
