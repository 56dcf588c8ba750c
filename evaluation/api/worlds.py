"""Posterior worlds for the Python API: which claims a world drawn from a real posterior can
contest, known from the source posterior alone, before any world is run.

A world of ``kind: posterior_world`` (:func:`evaluation.api.datasets.posterior_world_data`)
draws its parameters from the posterior of the real data, so a claim is true in a share of the
worlds equal to its posterior probability P on the real data (its truth is its statement at the
drawn parameters).  A claim NUTS decides on the real data (P >= the ledger's ``credible``
threshold, or <= ``contradicted``) is true, or false, in nearly every world: no method can be
wrong about it often.  Only the claims NUTS leaves undecided are *contestable*::

    from evaluation import api

    counts = api.world_contestable("world_thornton_hiv")
    counts["mean_slope"]["contestable"], counts["all"]["names"]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evaluation.api.datasets import (
    Data,
    data_config,
    data_from_config,
    source_config,
    source_posterior,
)
from evaluation.api.judging import judge
from evaluation.config import plain
from evaluation.config.compose import choices

#: The thresholds of a claims section that states none (the ledger's defaults).
DEFAULT_THRESHOLDS: dict[str, float] = {"credible": 0.95, "contradicted": 0.05}
#: The key of the counts over every kind.
ALL = "all"


def contestable_claims(section: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """How many claims of an evaluated ledger a posterior world can contest, per claim kind.

    A claim is *contestable* when its P on the source posterior lies strictly between the
    ledger's thresholds (``contradicted < P < credible``: undecided on the real data, Monte
    Carlo margin aside); *decided* when P is at or beyond a threshold; *not evaluated* when
    it has no P (not identified by the design, not evaluated).  In a world drawn from that
    posterior a claim is true with probability P, so a decided claim has (nearly) the same
    truth in every world.

    Parameters
    ----------
    section : mapping
        The ``claims`` section of a judged fit of the source (``metrics["claims"]``):
        ``thresholds`` (``credible``, ``contradicted``; 0.95 / 0.05 when absent) and
        ``claims`` (rows with ``name``, ``kind``, ``probability``).

    Returns
    -------
    dict
        ``{kind: {"contestable": n, "decided": n, "not_evaluated": n, "names": [...],
        "probability": {name: P}, "borderline": [...]}}``: ``names`` are the contestable
        claims of the kind with their P; ``borderline`` the decided ones whose verdict is
        undecided only because P lies within two Monte Carlo errors of a threshold (few
        draws, e.g. clustering claims: they may be contestable); the same over every kind
        under :data:`ALL`.
    """
    bounds = {**DEFAULT_THRESHOLDS, **dict(section.get("thresholds") or {})}
    lo, hi = float(bounds["contradicted"]), float(bounds["credible"])
    out: dict[str, dict[str, Any]] = {}
    for row in section.get("claims") or []:
        p = row.get("probability")
        state = ("not_evaluated" if p is None else
                 "contestable" if lo < float(p) < hi else "decided")  # fmt: skip
        for key in (str(row["kind"]), ALL):
            counts = out.setdefault(key, _empty_counts())
            counts[state] += 1
            if state == "contestable":
                counts["names"].append(str(row["name"]))
                counts["probability"][str(row["name"])] = float(p)
            elif state == "decided" and row.get("borderline"):
                counts["borderline"].append(str(row["name"]))
    return out


def _empty_counts() -> dict[str, Any]:
    return {"contestable": 0, "decided": 0, "not_evaluated": 0, "names": [], "probability": {},
            "borderline": []}  # fmt: skip


def _ledger_name(world: Mapping[str, Any], source: Data) -> str | None:
    """The ledger named like the world (``world_paper``), else like its source, else None."""
    for name in (str(world.get("name")), source.full.name):
        if name in choices("claims"):
            return name
    return None


def world_contestable(
    world: str | Mapping[str, Any] = "world_paper",
    claims: Any = "auto",
    evaluation: Mapping[str, Any] | None = None,
    **settings: Any,
) -> dict[str, dict[str, Any]]:
    """:func:`contestable_claims` of a posterior world, from its source posterior alone.

    The source posterior is the world's own (fitted once and cached, as every world of the
    source reads it); it is judged on the source data with the ledger, clustering included.

    Parameters
    ----------
    world : str or mapping
        A ``conf/data`` posterior world (``"world_paper"``, ``"world_thornton_hiv"``,
        ``"posterior_world"``) or a complete world config (the app's ``cfg.data``).
    claims : "auto", str, path, mapping or None
        The ledger (as :func:`evaluation.api.judge` takes it); ``"auto"``: the one named like
        the world, else like its source.
    evaluation : mapping, optional
        Judges' settings to change (e.g. ``{"clustering": {"n_draws": 100}}``).
    **settings
        The world config's keys to change (``source_overrides``, ``source_fit``, ...).

    Returns
    -------
    dict
        Per claim kind and over all (:data:`ALL`): contestable, decided and not evaluated
        counts, the contestable claims and their P.

    Raises
    ------
    ValueError
        ``world`` is not a posterior world, or it has no ledger with claims (``"auto"`` for
        ``posterior_world`` on your tables finds none: name yours).
    """
    cfg = data_config(world, **settings) if isinstance(world, str) else {**plain(world), **settings}
    if cfg.get("kind") != "posterior_world":
        raise ValueError(f"world_contestable: {cfg.get('name')!r} is not a posterior world "
                         "(kind: posterior_world)")  # fmt: skip
    source = data_from_config(source_config(cfg))
    ledger = _ledger_name(cfg, source) if isinstance(claims, str) and claims == "auto" else claims
    if ledger is None:
        raise ValueError(f"world_contestable: no claims ledger for {cfg.get('name')!r}; "
                         "pass claims=")  # fmt: skip
    post = source_posterior(cfg, source.full)
    judged = judge(post.fit, Data(source.full, source.full, None), claims=ledger,
                   seed=int(cfg["source_fit"]["seed"]), evaluation=evaluation)  # fmt: skip
    section = judged.metrics.get("claims")
    if not section:
        what = repr(ledger) if isinstance(ledger, str) else "given"
        raise ValueError(f"world_contestable: the ledger {what} has no claims; pass claims=")
    return contestable_claims(section)


__all__ = ["ALL", "DEFAULT_THRESHOLDS", "contestable_claims", "world_contestable"]
