"""The run report's first section: is the design identified, and how hard are the data?

Reads ``metrics.json`` ``data.design`` (:func:`evaluation.data.design.design_check`),
``data.difficulty`` and ``data.oracle`` (:mod:`evaluation.metrics.oracle`).  Placed before
"What ran" so that a reader meets a degenerate design before any number that depends on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evaluation.report.format import fmt

#: Data kinds that are a user's own tables (a non-identified design gets a warning line).
USER_TABLES: tuple[str, ...] = ("tables", "paper_tables")
_MAX_SHOWN = 4


def _block_line(b: Mapping[str, Any]) -> str:
    cond = b.get("condition_number")
    row_space = fmt(b.get("condition_number_row_space"))
    cond_text = (f"condition number {fmt(cond)}" if cond is not None else
                 f"condition number infinite (row space: {row_space})")  # fmt: skip
    state = "identified" if b.get("identified") else "**not identified**"
    return (f"- `{b.get('matrix')}`: rank {b.get('rank')} / {b.get('n_columns')} columns, "
            f"{cond_text} — {state}.")  # fmt: skip


def _design_lines(d: Mapping[str, Any], kind: str | None) -> list[str]:
    out = []
    for key in ("site", "worker"):
        b = d.get(key)
        if not isinstance(b, Mapping):
            continue
        out.append(_block_line(b))
        dirs = b.get("null_directions", [])
        out += [f"  - null direction: `{e} = 0` on the data" for e in dirs[:_MAX_SHOWN]]
        if len(dirs) > _MAX_SHOWN:
            out.append(f"  - … and {len(dirs) - _MAX_SHOWN} more (metrics.json data.design)")
    site = d.get("site") or {}
    if not site.get("identified", True):
        out.append("- So alpha and the beta_site that load on these directions are pinned by "
                   "their priors only: they are judged on identified quantities (the worksite "
                   "linear predictor and estimable contrasts), their per-coefficient numbers "
                   "are marked \"not identified\".")  # fmt: skip
    per_site = (d.get("worker") or {}).get("per_site") or {}
    if per_site.get("sites_rank_deficient"):
        out.append(f"- {per_site['sites_rank_deficient']} worksites have rank-deficient own "
                   "X_worker rows (their beta_worker rest partly on the prior).")  # fmt: skip
    if kind in USER_TABLES and not d.get("identified", True):
        out.insert(0, "> ⚠ **Your tables' design is not identified**: some coefficients are "
                      "determined by the prior, not the data. Drop one column of each null "
                      "direction below (e.g. a reference level) to identify them.")  # fmt: skip
    return out


def _difficulty_lines(data: Mapping[str, Any]) -> list[str]:
    out = []
    diff = data.get("difficulty")
    if isinstance(diff, Mapping):
        line = (f"- Worksites with no positive outcome: {fmt(diff.get('sites_no_positive'))}, "
                f"with only positive outcomes: {fmt(diff.get('sites_all_positive'))}")  # fmt: skip
        if diff.get("site_logit_sd") is not None:
            lo, hi = fmt(diff.get("site_logit_min")), fmt(diff.get("site_logit_max"))
            line += f"; true site-logit sd {fmt(diff['site_logit_sd'])} (range {lo} … {hi})"
        out.append(line + ".")
    o = data.get("oracle")
    if isinstance(o, Mapping):
        paper = {k: fmt(v, 4) for k, v in (o.get("paper") or {}).items()}
        out.append(f"- Oracle (true parameters) on the {fmt(o.get('n'))} scored workers: AUC "
                   f"{fmt(o.get('auc'))}, accuracy {fmt(o.get('accuracy'))} (baseline "
                   f"{fmt(o.get('baseline_accuracy'))}); the paper's held-out AUC "
                   f"{paper.get('auc')}, accuracy {paper.get('accuracy')} (baseline "
                   f"{paper.get('baseline_accuracy')}). No method can beat the "
                   "oracle.")  # fmt: skip
    return out


def design_section(m: Mapping[str, Any]) -> list[str]:
    """``## Design and difficulty``: rank / columns, null directions, warnings, oracle.

    Parameters
    ----------
    m : mapping
        The run's metrics.json content.

    Returns
    -------
    list of str
        Markdown lines; empty when ``data.design`` is absent (older metrics.json).
    """
    data = m.get("data") if isinstance(m.get("data"), Mapping) else {}
    d = data.get("design")
    if not isinstance(d, Mapping):
        return []
    meta = data.get("meta") if isinstance(data.get("meta"), Mapping) else {}
    out = _design_lines(d, data.get("kind"))
    if meta.get("design") == "identified":
        dropped = ", ".join(meta.get("dropped_site_features", []))
        out.append(f"- Twin design `identified`: dropped {dropped} (effects folded into the "
                   "kept coefficients; same linear predictor).")  # fmt: skip
    out += _difficulty_lines(data)
    return ["## Design and difficulty", "", *out, ""]


__all__ = ["USER_TABLES", "design_section"]
