"""Has an approximation failed?  One rule for the run report, the sweep report and the findings.

An approximation (a VI backend) *fails* when

- a variance component collapsed: its posterior median is below ``COLLAPSE_RATIO`` (0.1) of
  NUTS's (Pathfinder's sigma_worker of 3e-9 on the twin), or
- its PSIS k-hat is above 0.7 (or could not be computed) *and* the spread of the worksite
  effects or sigma_worker is outside ``BAND`` (0.5-2) x NUTS's: k-hat says the approximation is
  off, and the numbers that carry the paper's conclusions say by how much.

A k-hat within 0.7 vouches for the approximation even where a ratio is off (the draws can be
corrected by importance sampling).  Without a NUTS posterior to compare with, the verdict is
"not checked", never "ok".  Numbers only: inputs are the numbers of ``metrics.json`` or of a
sweep's comparison table, so both levels reach the same verdict.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from evaluation.metrics.diagnostics import KHAT_BAD

#: "Outside 0.5-2 x NUTS's": beta_site sd ratio or sigma_worker median ratio.
BAND: tuple[float, float] = (0.5, 2.0)
#: A scale whose median is below this fraction of NUTS's has collapsed.
COLLAPSE_RATIO = 0.1
RULE = (
    f"a scale's median below {COLLAPSE_RATIO:g} x NUTS's (collapsed), or PSIS k-hat above "
    f"{KHAT_BAD:g} (or none) with the beta_site sd or the sigma_worker median outside "
    f"{BAND[0]:g}-{BAND[1]:g} x NUTS's"
)


def _number(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else out


def approximation_verdict(
    khat: Any, sd_ratio: Any, sigma_ratios: Mapping[str, Any]
) -> dict[str, Any]:
    """The verdict of one approximation against NUTS.

    Parameters
    ----------
    khat : float or None
        PSIS k-hat of the approximation (None: not diagnosable).
    sd_ratio : float or None
        Median beta_site posterior sd / NUTS's (None: no NUTS posterior).
    sigma_ratios : mapping
        Scale name (``sigma_worker``, ``sigma_site``) -> posterior median / NUTS's (or None).

    Returns
    -------
    dict
        ``failed`` (True / False / None = not checked), ``reasons`` (plain sentences; for
        None, why it was not checked) and ``rule``.
    """
    khat, sd = _number(khat), _number(sd_ratio)
    ratios = {k: _number(v) for k, v in sigma_ratios.items()}
    reasons = [f"{name} collapsed to {r:.2g} x NUTS's median"
               for name, r in ratios.items() if r is not None and r < COLLAPSE_RATIO]  # fmt: skip
    spreads = {"beta_site sd": sd, "sigma_worker median": ratios.get("sigma_worker")}
    off = {k: v for k, v in spreads.items() if v is not None and not BAND[0] <= v <= BAND[1]}
    if off and (khat is None or khat > KHAT_BAD):
        why = "no k-hat" if khat is None else f"k-hat {khat:.2g} > {KHAT_BAD:g}"
        reasons += [f"{why} and {k} {v:.2g} x NUTS's (outside {BAND[0]:g}-{BAND[1]:g})"
                    for k, v in off.items()]  # fmt: skip
    if reasons:
        return {"failed": True, "reasons": reasons, "rule": RULE}
    if sd is None and all(v is None for v in ratios.values()):
        return {"failed": None, "reasons": ["not checked: no NUTS posterior to compare with"],
                "rule": RULE}  # fmt: skip
    return {"failed": False, "reasons": [], "rule": RULE}


def run_verdict(sections: Mapping[str, Any]) -> dict[str, Any] | None:
    """:func:`approximation_verdict` from a VI run's ``metrics.json`` sections (its own
    reference posterior); None for a run without VI diagnostics (MCMC)."""
    vi = (sections.get("diagnostics") or {}).get("vi")
    if not isinstance(vi, Mapping):
        return None
    ref = (sections.get("reference") or {}).get("blocks") or {}
    collapse = (sections.get("posterior") or {}).get("sigma_collapse") or {}
    return approximation_verdict(
        vi.get("khat"),
        (ref.get("beta_site") or {}).get("sd_ratio_median"),
        {k: (v or {}).get("ratio_median") for k, v in collapse.items()},
    )
