"""The replicated study's tables and figure in ``docs/findings.md`` (issue 22).

Every number is a mean over data seeds with its 90% interval, or a count or rate with its
interval, and says how many seeds (or trials) it rests on; a method's difference from NUTS
stands beside NUTS's own repeat on the same seeds (:mod:`evaluation.study.summary`).  Text
only; the numbers come from :mod:`evaluation.study.evidence`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evaluation import io
from evaluation.study.evidence import Interval, Rate, paired_floor
from evaluation.study.summary import MEANFIELDS, NUTS, MethodEvidence, metric_evidence
from evaluation.sweep.columns import repeat_label

#: The run metrics of a world's second table: (header, column(s), digits).
RUN_METRICS: tuple[tuple[str, tuple[str, ...], int], ...] = (
    ("β_site sd / NUTS", ("reference.blocks.beta_site.sd_ratio_median",
                          "vs_nuts.blocks.beta_site.sd_ratio_median"), 2),
    ("σ_worker / NUTS", ("cross.sigma_worker_ratio",), 2),
    ("β_site cov90 (identified)", ("posterior.beta_site_identified_coverage90",), 2),
    ("held-out AUC", ("predictive.auc",), 3),
    ("k̂", ("diagnostics.vi.khat",), 1),
)  # fmt: skip
#: The method whose claims are listed one by one.
MEANFIELD = MEANFIELDS[0]


def interval_text(iv: Interval, digits: int = 2) -> str:
    """``0.42 (0.31 to 0.55)``; one seed: ``0.42 (1 seed)``; none: ``–``."""
    if iv.n == 0 or not math.isfinite(iv.mean):
        return "–"
    if iv.n == 1 or not math.isfinite(iv.lo):
        return f"{iv.mean:.{digits}f} (1 seed)"
    return f"{iv.mean:.{digits}f} ({iv.lo:.{digits}f} to {iv.hi:.{digits}f})"


def rate_text(r: Rate | None) -> str:
    """``12% (8–17%; 14/120)``; no trials: ``–``."""
    if r is None or r.n == 0:
        return "–"
    return f"{r.rate:.0%} ({r.lo:.0%}–{r.hi:.0%}; {r.k}/{r.n})"


def _row(e: MethodEvidence) -> list[str]:
    t = e.truth
    is_nuts = e.method == NUTS
    return [
        f"{e.method} (reference)" if is_nuts else e.method,
        str(e.n_seeds),
        f"{e.failed.k}/{e.failed.n}" if e.family == "vi" else "–",
        "–" if is_nuts else interval_text(e.flips.flips),
        interval_text(e.flips.floor_flips),
        "–" if is_nuts else interval_text(e.flips.excess),
        interval_text(e.repeat_flips),
        "–" if is_nuts else interval_text(e.abs_delta, 3),
        interval_text(e.abs_delta_floor, 3),
        rate_text(None if t is None else t.false_credible),
        rate_text(None if t is None else t.power),
        "–" if t is None else interval_text(t.brier, 3),
        interval_text(e.fit_s, 0),
    ]


METHOD_HEADERS = (
    "method", "seeds", "runs failed", "flips vs NUTS per seed", "NUTS vs NUTS (floor)",
    "excess over the floor", "flips vs its own repeat", "mean abs ΔP vs NUTS",
    "NUTS vs NUTS abs ΔP", "false-credible rate", "power", "Brier score", "fit s",
)  # fmt: skip


def markdown(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c).replace("|", "/") for c in r) + " |" for r in rows]
    return "\n".join(lines)


def method_table(evidence: Sequence[MethodEvidence]) -> str:
    """One row per method: flips beside both floors, |ΔP|, truth scores, failures, cost."""
    return markdown(METHOD_HEADERS, [_row(e) for e in evidence])


def metric_table(runs: pd.DataFrame, methods: Sequence[str]) -> str:
    """Run metrics per method (first fits), then NUTS's repeat (its floor): mean (90% CI)."""
    labels = [*methods, repeat_label(NUTS, 1)]
    cols = [(h, c, d) for h, c, d in RUN_METRICS if any(x in runs for x in c)]
    values = {h: metric_evidence(runs, c, labels) for h, c, _ in cols}
    rows = []
    for label in labels:
        cells = [interval_text(values[h][label], d) for h, _, d in cols]
        if any(c != "–" for c in cells):
            name = f"{label}: the floor" if label == repeat_label(NUTS, 1) else label
            rows.append([name, *cells])
    return markdown(["method", *(h for h, _, _ in cols)], rows)


def claim_table(claims: pd.DataFrame, method: str = MEANFIELD) -> str:
    """Per claim: ΔP of ``method`` against NUTS beside NUTS's repeat, and the flip rates."""
    floors = paired_floor(claims, method, NUTS, repeat_label(NUTS, 1))
    if not floors:
        return f"_No seed holds {method}, NUTS and NUTS's repeat._"
    truth = claims[claims["method_label"] == NUTS].groupby("name")["truth_value"]
    rows = []
    for name, f in floors.items():
        known = truth.get_group(name).dropna() if name in truth.groups else pd.Series()
        share = f"{known.astype(bool).mean():.0%} of {len(known)}" if len(known) else "–"
        mc = f"{f.mc_error:.3f}" if math.isfinite(f.mc_error) else "–"
        rows.append([name, interval_text(f.delta), interval_text(f.abs_delta_floor), mc,
                     rate_text(f.flips), rate_text(f.floor_flips), share])  # fmt: skip
    heads = ["claim", f"ΔP = P({method}) − P(NUTS)", "NUTS vs NUTS abs ΔP", "MC error of ΔP",
             "flip rate", "NUTS vs NUTS flip rate", "true in (seeds)"]  # fmt: skip
    return markdown(heads, rows)


def evidence_figure(worlds: Sequence[tuple[str, Sequence[MethodEvidence]]], path: Path) -> Path:
    """Intervals per method: excess flips per seed, and the false-credible rate, per world."""
    plt = io.pyplot()
    methods = list(dict.fromkeys(e.method for _, ev in worlds for e in ev))
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.45 * len(methods) + 1.6), sharey=True)
    y = {m: i for i, m in enumerate(methods)}
    for k, (title, ev) in enumerate(worlds):
        dy = 0.25 * (k - (len(worlds) - 1) / 2)
        pts = [(y[e.method] + dy, e.flips.excess.mean, e.flips.excess.lo, e.flips.excess.hi)
               for e in ev if e.method != NUTS]  # fmt: skip
        _points(axes[0], pts, f"C{k}", title)
        rates = [
            (
                y[e.method] + dy,
                e.truth.false_credible.rate,
                e.truth.false_credible.lo,
                e.truth.false_credible.hi,
            )
            for e in ev
            if e.truth and e.truth.false_credible.n
        ]
        _points(axes[1], rates, f"C{k}", title)  # fmt: skip
    axes[0].axvline(0.0, color="grey", lw=0.8)
    axes[0].set_xlabel("claims flipped vs NUTS per seed, minus NUTS vs NUTS (90% CI)")
    axes[1].set_xlabel("false-credible rate: credible though false (90% Wilson)")
    axes[0].set_yticks(range(len(methods)), methods)
    axes[0].invert_yaxis()
    axes[0].legend(loc="lower right", fontsize=8)
    axes[1].legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return io.save_figure(fig, path, dpi=80)


def _points(ax: Any, pts: Sequence[tuple[float, float, float, float]], color: str, label: str):
    if not pts:
        return
    yy, mid, lo, hi = (np.asarray(v, dtype=float) for v in zip(*pts, strict=True))
    err = np.vstack([np.nan_to_num(mid - lo), np.nan_to_num(hi - mid)])
    ax.errorbar(mid, yy, xerr=err, fmt="o", color=color, ms=4, capsize=2, label=label)


__all__ = ["claim_table", "evidence_figure", "interval_text", "method_table", "metric_table",
           "rate_text"]  # fmt: skip
