"""The reference posterior's written criteria, checked on its draws (numbers only; the fit and
its cache are :mod:`evaluation.fitting`'s).

Criteria (in the spirit of posteriordb's reference posteriors): at least 4 chains, every
R-hat < 1.01, bulk and tail ESS >= 400 for every parameter, no divergent transitions.  A
reference that fails them is still used, but every metric computed against it carries
``reference_flag: "failed criteria: ..."`` (see
:func:`evaluation.metrics.posterior.reference_flag`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from evaluation.metrics.diagnostics import ESS_MIN, RHAT_MAX, mcmc_diagnostics
from evaluation.metrics.draws import Draws

MIN_CHAINS = 4


class ReferenceCheck(NamedTuple):
    """Whether a reference posterior meets the written criteria.

    Attributes
    ----------
    passed : bool
    criteria : dict
        ``{criterion: {"value", "threshold", "passed"}}`` for ``chains`` (>=), ``max_rhat``
        (<), ``min_ess_bulk`` (>=), ``min_ess_tail`` (>=), ``n_divergent`` (<=).
    """

    passed: bool
    criteria: dict[str, dict[str, Any]]


def check_reference(draws: Draws) -> ReferenceCheck:
    """Check a reference posterior's draws (:func:`evaluation.metrics.draws.extract`) against
    the criteria (see the module docstring)."""
    d = mcmc_diagnostics(draws)

    def crit(value: Any, threshold: float, ok: bool) -> dict[str, Any]:
        return {"value": value, "threshold": threshold, "passed": bool(ok)}

    n_div = d["n_divergent"]
    criteria = {
        "chains": crit(d["n_chains"], MIN_CHAINS, d["n_chains"] >= MIN_CHAINS),
        "max_rhat": crit(d["max_rhat"], RHAT_MAX,
                         d["max_rhat"] is not None and d["max_rhat"] < RHAT_MAX),
        "min_ess_bulk": crit(d["min_ess_bulk"], ESS_MIN, (d["min_ess_bulk"] or 0) >= ESS_MIN),
        "min_ess_tail": crit(d["min_ess_tail"], ESS_MIN, (d["min_ess_tail"] or 0) >= ESS_MIN),
        "n_divergent": crit(n_div, 0, n_div is not None and n_div == 0),
    }  # fmt: skip
    return ReferenceCheck(all(c["passed"] for c in criteria.values()), criteria)
