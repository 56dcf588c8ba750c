"""The replicated study's flip tables and evidence figure in ``docs/findings.md`` (issue 22).

Every number is a mean over data seeds with its 90% interval, or a count or rate with its
interval, and says how many seeds (or trials) it rests on; a method's difference from NUTS
stands beside NUTS's own repeat on the same seeds (:mod:`evaluation.study.summary`).  Text
only; the numbers come from :mod:`evaluation.study.floors` and :mod:`evaluation.study.errors`
(whose tables are :mod:`evaluation.report.study.errors`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evaluation import io
from evaluation.claims.load import Thresholds
from evaluation.report.format import markdown
from evaluation.report.headline import interval_text, rate_text
from evaluation.study.facts import RunFacts
from evaluation.study.floors import paired_floor
from evaluation.study.summary import MEANFIELDS, NUTS, MethodEvidence, metric_evidence
from evaluation.study.truth import claim_outcomes
from evaluation.sweep.columns import repeat_label

#: The run metrics of a world's second table: (header, column(s), digits); each scale's
#: posterior sd ratio to NUTS stands beside its median ratio (a method can match σ_worker's
#: median and still understate its spread).
RUN_METRICS: tuple[tuple[str, tuple[str, ...], int], ...] = (
    ("β_site sd / NUTS", ("reference.blocks.beta_site.sd_ratio_median",
                          "vs_nuts.blocks.beta_site.sd_ratio_median"), 2),
    ("σ_worker median / NUTS", ("posterior.sigma_collapse.sigma_worker.ratio_median",
                                "cross.sigma_worker_ratio"), 2),
    ("σ_worker sd / NUTS", ("reference.blocks.sigma_worker.sd_ratio_median",
                            "vs_nuts.blocks.sigma_worker.sd_ratio_median"), 2),
    ("σ_site median / NUTS", ("posterior.sigma_collapse.sigma_site.ratio_median",), 2),
    ("σ_site sd / NUTS", ("reference.blocks.sigma_site.sd_ratio_median",
                          "vs_nuts.blocks.sigma_site.sd_ratio_median"), 2),
    ("β_site cov90 (identified)", ("posterior.beta_site_identified_coverage90",), 2),
    ("held-out AUC", ("predictive.auc",), 3),
    ("k̂", ("diagnostics.vi.khat",), 1),
)  # fmt: skip
#: The method whose claims are listed one by one.
MEANFIELD = MEANFIELDS[0]


def failed_everywhere(method: str, facts: RunFacts | None) -> bool:
    """Whether every run of ``method`` failed (no complete run, or each failing the
    approximation rule); False when the runs are not known."""
    runs = facts.methods.get(method) if facts is not None else None
    return runs is not None and runs.all_failed


def method_name(method: str, facts: RunFacts | None = None) -> str:
    """The method's name in a table: ``(reference)`` for NUTS and ``— FAILED`` when
    :func:`failed_everywhere`."""
    name = f"{method} (reference)" if method == NUTS else method
    return f"{name} — FAILED" if failed_everywhere(method, facts) else name


def changes_text(e: MethodEvidence) -> str:
    """The paired test of the method's verdict changes against NUTS's repeat's."""
    c = e.verdict_changes
    if c is None:
        return "–"
    t = c.test
    return f"{t.only_a} vs {t.only_b} of {t.n_pairs} pairs, p = {t.p_value:.2g}"


def _seeds_text(e: MethodEvidence) -> str:
    """The method's seeds, and those the flip columns rest on when fewer (the seeds with
    NUTS's repeat, which the floor needs): ``30 (flips: 10)``."""
    n_flips = e.flips.floor_flips.n
    return f"{e.n_seeds} (flips: {n_flips})" if 0 < n_flips < e.n_seeds else str(e.n_seeds)


def _row(e: MethodEvidence, facts: RunFacts | None) -> list[str]:
    is_nuts = e.method == NUTS
    return [
        method_name(e.method, facts),
        _seeds_text(e),
        f"{e.failed.k}/{e.failed.n}" if e.family == "vi" else "–",
        "–" if is_nuts else interval_text(e.flips.flips),
        interval_text(e.flips.floor_flips),
        "–" if is_nuts else interval_text(e.flips.excess),
        interval_text(e.repeat_flips),
        "–" if is_nuts else interval_text(e.abs_delta, 3),
        interval_text(e.abs_delta_floor, 3),
        changes_text(e),
        interval_text(e.fit_s, 0),
    ]


METHOD_HEADERS = (
    "method", "seeds", "runs failed", "flips vs NUTS per seed", "NUTS vs NUTS (floor)",
    "excess over the floor", "flips vs its own repeat", "mean abs ΔP vs NUTS",
    "NUTS vs NUTS abs ΔP", "flips only by the method vs only by NUTS's repeat (McNemar)",
    "fit s",
)  # fmt: skip


def method_table(evidence: Sequence[MethodEvidence], facts: RunFacts | None = None) -> str:
    """One row per method: flips beside both floors and their paired test, |ΔP|, failures,
    cost; ``facts`` marks a method whose every run failed."""
    return markdown(METHOD_HEADERS, [_row(e, facts) for e in evidence])


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


def _truth_share(statuses: pd.Series) -> str:
    """``60% of 5`` (true among the seeds with a known truth), ``+ 2 n/a`` not applicable."""
    known = statuses[statuses.isin(["true", "false"])]
    text = f"{(known == 'true').mean():.0%} of {len(known)}" if len(known) else "–"
    na = int((statuses == "not applicable").sum())
    return text + (f" + {na} n/a" if na else "")


def claim_table(
    claims: pd.DataFrame, method: str = MEANFIELD, thresholds: Thresholds | None = None
) -> str:
    """Per claim: ΔP of ``method`` against NUTS beside NUTS's repeat, its Monte Carlo error
    and the draws P rests on, the flip rates (flips beyond Monte Carlo noise), how often the
    claim is true, and over the seeds how often ``method``'s verdict differs from NUTS's and
    how often each is confident and wrong (:func:`~evaluation.study.truth.claim_outcomes`):
    on the paper's world, which of its conclusions are at risk."""
    floors = paired_floor(claims, method, NUTS, repeat_label(NUTS, 1), thresholds=thresholds)
    if not floors:
        return f"_No seed holds {method}, NUTS and NUTS's repeat._"
    nuts = claims[claims["method_label"] == NUTS]
    truth = nuts.groupby("name")["truth_status"]
    draws = nuts.groupby("name")["n_draws"].mean() if "n_draws" in nuts else pd.Series()
    said = claim_outcomes(claims, method, NUTS, thresholds or Thresholds())
    rows = []
    for name, f in floors.items():
        share = _truth_share(truth.get_group(name)) if name in truth.groups else "–"
        mc = f"{f.mc_error:.3f}" if math.isfinite(f.mc_error) else "–"
        n = draws.get(name, math.nan)
        o = said.loc[name] if name in said.index else None
        rows.append([name, interval_text(f.delta), interval_text(f.abs_delta_floor), mc,
                     f"{n:.0f}" if math.isfinite(n) else "–",
                     rate_text(f.flips), rate_text(f.floor_flips), share,
                     *(_count(o, k, n) for k, n in (("differs", "paired"), ("wrong", "scored"),
                                                    ("nuts_wrong", "nuts_scored")))])  # fmt: skip
    heads = ["claim", f"ΔP = P({method}) − P(NUTS)", "NUTS vs NUTS abs ΔP", "MC error of ΔP",
             "NUTS draws P rests on", "flip rate", "NUTS vs NUTS flip rate",
             "true in (seeds)", f"{method}'s verdict ≠ NUTS's (seeds)",
             f"{method} confident and wrong (seeds with a truth)",
             "NUTS confident and wrong"]  # fmt: skip
    return markdown(heads, rows)


def _count(row: pd.Series | None, k: str, n: str) -> str:
    """``k/n`` of a :func:`~evaluation.study.truth.claim_outcomes` row, ``–`` without pairs."""
    return "–" if row is None or not row[n] else f"{row[k]}/{row[n]}"


def evidence_figure(worlds: Sequence[tuple[str, Sequence[MethodEvidence]]], path: Path) -> Path:
    """Intervals per method: excess flips per seed, and the confident-error rate over the
    contestable claims (the seed as the unit), per world."""
    plt = io.pyplot()
    methods = list(dict.fromkeys(e.method for _, ev in worlds for e in ev))
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.45 * len(methods) + 1.6), sharey=True)
    y = {m: i for i, m in enumerate(methods)}
    for k, (title, ev) in enumerate(worlds):
        dy = 0.25 * (k - (len(worlds) - 1) / 2)
        pts = [(y[e.method] + dy, e.flips.excess.mean, e.flips.excess.lo, e.flips.excess.hi)
               for e in ev if e.method != NUTS]  # fmt: skip
        _points(axes[0], pts, f"C{k}", title)
        rates = [(y[e.method] + dy, *_ends(e.errors.contestable.confident_error))
                 for e in ev if e.errors and e.errors.contestable.confident_error.n]  # fmt: skip
        _points(axes[1], rates, f"C{k}", title)
    axes[0].axvline(0.0, color="grey", lw=0.8)
    axes[0].set_xlabel("claims flipped vs NUTS per seed,\nminus NUTS vs NUTS (90% CI)")
    axes[1].set_xlabel(
        "confident errors (credible but false, contradicted but true)\nper "
        "confident verdict, contestable claims (90%, seed as the unit)"
    )
    axes[0].set_yticks(range(len(methods)), methods)
    axes[0].invert_yaxis()
    axes[0].legend(loc="lower right", fontsize=8)
    axes[1].legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return io.save_figure(fig, path, dpi=80)


def _ends(iv: Any) -> tuple[float, float, float]:
    return iv.estimate, iv.lo, iv.hi


def _points(ax: Any, pts: Sequence[tuple[float, float, float, float]], color: str, label: str):
    if not pts:
        return
    yy, mid, lo, hi = (np.asarray(v, dtype=float) for v in zip(*pts, strict=True))
    err = np.clip(np.vstack([np.nan_to_num(mid - lo), np.nan_to_num(hi - mid)]), 0.0, None)
    ax.errorbar(mid, yy, xerr=err, fmt="o", color=color, ms=4, capsize=2, label=label)


__all__ = ["changes_text", "claim_table", "evidence_figure", "failed_everywhere", "method_name",
           "method_table", "metric_table"]  # fmt: skip
