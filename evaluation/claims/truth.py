"""A claim's truth: its own statement, by its own procedure, at the generating parameters.

On synthetic data every claim is evaluated once more, by the very indicator that scores the
posterior draws, on the generating parameters taken as a single draw.  A clustering claim reads
the oracle clustering: the paper's procedure (the elbow K over ``k_range``, the Gibbs GMM with
the configured ``k``) run on the TRUE ``beta_worker``
(:func:`evaluation.clustering.oracle.oracle_clustering`), so "two clusters are selected" is true
when the criterion, given the truth, selects two, and "the clusters separate on size" when the
clusters the procedure finds in the truth do; never by convention.

A claim gets one of :data:`TRUTH_STATUSES`:

* ``"true"`` / ``"false"``: its statement at the generating parameters;
* ``"not applicable"``: its presupposition fails there.  A claim about the clusters (their
  order, separation or evenness) where the procedure finds one cluster in the truth (elbow
  K = 1, or fewer than two non-empty clusters); a claim naming a feature the world's design
  lacks (dropped from it); a claim on ``beta_site`` whose statement the design leaves undefined
  (a partial effect whose move the exact relations do not determine).  Such a claim is
  neither true nor false: it counts in no rate;
* ``"unknown"``: no generating parameters (real data), or no oracle clustering to read
  (clustering disabled), or a variable the claim reads is missing from the truth.

``truth_value`` is True / False for the first two and None otherwise; ``truth_note`` says why a
truth is not applicable or unknown.  :func:`truth_status` reads an entry's status, deriving it
from ``truth_value`` for runs written before statuses existed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from backends.spec import HierData
from evaluation.claims import kinds as K
from evaluation.claims.draws import ClusterDraws, truth_draws
from evaluation.claims.load import Claim

TRUE, FALSE, NOT_APPLICABLE, UNKNOWN = "true", "false", "not applicable", "unknown"
#: Every truth status a claim entry can carry.
TRUTH_STATUSES: tuple[str, ...] = (TRUE, FALSE, NOT_APPLICABLE, UNKNOWN)
#: The clustering kinds that presuppose clusters (k_selected does not: it asks how many).
CLUSTER_PRESUPPOSED: frozenset[str] = frozenset(K.CLUSTERING_KINDS) - {"k_selected"}
#: Why the clustering claims have no truth when no oracle clustering was given.
NO_ORACLE = ("no oracle clustering (the paper's procedure run on the true beta_worker) to "
             "read: clustering disabled, or none given")  # fmt: skip


@dataclass(frozen=True)
class TruthWorld:
    """What a claim's truth is evaluated on.

    Attributes
    ----------
    context : Context
        The data, the generating parameters as one draw and the oracle clustering (or None).
    one_cluster : str or None
        Why the oracle finds one cluster (the cluster claims' presupposition fails), else None.
    """

    context: K.Context
    one_cluster: str | None = None


def one_cluster_reason(oracle: ClusterDraws) -> str | None:
    """Why the oracle clustering is one cluster (elbow K = 1, or one non-empty cluster)."""
    chosen = None if oracle.chosen_k is None else int(oracle.chosen_k[0])
    if chosen == 1:
        return ("the paper's procedure on the true beta_worker finds one cluster (elbow "
                "K = 1): there are no clusters for the claim to be about")  # fmt: skip
    if np.unique(oracle.labels[0]).size < 2:
        return ("the paper's procedure on the true beta_worker puts every worksite in one "
                "cluster: there are no clusters for the claim to be about")  # fmt: skip
    return None


def truth_world(data: HierData, oracle: ClusterDraws | None = None) -> TruthWorld | None:
    """The generating parameters of ``data`` with the oracle clustering (None: no truth).

    Parameters
    ----------
    data : HierData
    oracle : ClusterDraws, optional
        One "draw": the oracle's labels, the true ``beta_worker`` and the elbow K on it
        (:func:`evaluation.claims.section.oracle_draws`).
    """
    draws = truth_draws(data.truth)
    if draws is None:
        return None
    reason = None if oracle is None else one_cluster_reason(oracle)
    return TruthWorld(K.Context(data, draws, oracle), reason)


def _entry(status: str, note: str | None = None) -> dict[str, Any]:
    value = {TRUE: True, FALSE: False}.get(status)
    return {"truth_status": status, "truth_value": value, "truth_note": note}


def not_applicable(note: str) -> dict[str, Any]:
    """The truth fields of a claim whose presupposition fails (``note`` says which)."""
    return _entry(NOT_APPLICABLE, note)


def claim_truth(claim: Claim, world: TruthWorld | None) -> dict[str, Any]:
    """``truth_status``, ``truth_value`` and ``truth_note`` of ``claim`` in ``world``.

    The indicator of the claim's kind, the one that scores the posterior draws, evaluated on
    the generating parameters (see the module docstring).
    """
    if world is None:
        return _entry(UNKNOWN, "no generating parameters (real data)")
    if claim.kind in K.CLUSTERING_KINDS and world.context.clusters is None:
        return _entry(UNKNOWN, NO_ORACLE)
    if claim.kind in CLUSTER_PRESUPPOSED and world.one_cluster:
        return not_applicable(world.one_cluster)
    kind = K.KINDS[claim.kind]
    hits = kind.indicator(claim.params, world.context)
    if hits is not None and np.size(hits):
        return _entry(TRUE if bool(np.asarray(hits)[0]) else FALSE)
    if claim.kind == "k_selected":
        return _entry(UNKNOWN, "no K selected on the truth (evaluation.clustering.k_range null)")
    if kind.site_functionals is not None and world.context.draws.beta_site is not None:
        return not_applicable("the statement is not defined on this world's design (e.g. a "
                              "move its exact relations do not determine)")  # fmt: skip
    return _entry(UNKNOWN, "the generating parameters lack a variable this claim reads")


def dropped_truth(gone: Sequence[str], world: TruthWorld | None) -> dict[str, Any]:
    """The truth fields of a claim naming features the data's design dropped."""
    if world is None:
        return _entry(UNKNOWN, "no generating parameters (real data)")
    return not_applicable(f"names {', '.join(gone)}, which this world's design lacks "
                          "(dropped: data.design)")  # fmt: skip


def truth_status(entry: Mapping[str, Any]) -> str:
    """An entry's truth status; for a run written before statuses, from its ``truth_value``
    (True: "true", False: "false", None: "unknown")."""
    status = entry.get("truth_status")
    if status in TRUTH_STATUSES:
        return str(status)
    value = entry.get("truth_value")
    return UNKNOWN if value is None else (TRUE if value else FALSE)


__all__ = [
    "CLUSTER_PRESUPPOSED",
    "FALSE",
    "NOT_APPLICABLE",
    "NO_ORACLE",
    "TRUE",
    "TRUTH_STATUSES",
    "UNKNOWN",
    "TruthWorld",
    "claim_truth",
    "dropped_truth",
    "not_applicable",
    "one_cluster_reason",
    "truth_status",
    "truth_world",
]
