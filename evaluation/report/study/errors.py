"""The study document's tables of errors against the truth, calibration and the paired tests
with NUTS (issue 29), and the facts of a world's runs.  Text only; the numbers come from
:mod:`evaluation.study.errors` and :mod:`evaluation.study.facts`.

Every rate is pooled over (seed, claim) pairs and states ``k/n``; its interval treats the seed
as the unit (:mod:`evaluation.study.bootstrap`: Wilson's at the effective sample size for a
proportion, the cluster bootstrap's expanded percentile interval otherwise).  A paired
difference is "method − NUTS" on the seeds and claims both scored, with the exact McNemar test
on the discordant pairs where one applies and the smallest difference detectable at 80% power.
"""

from __future__ import annotations

from collections.abc import Sequence

from evaluation.report.format import markdown
from evaluation.report.headline import (
    boot_text,
    detectable_text,
    mcnemar_text,
    paired_verdict,
    signed_text,
)
from evaluation.report.study.evidence import method_name
from evaluation.study.errors import ErrorEvidence, PairedDifference
from evaluation.study.facts import RunFacts
from evaluation.study.truth import Contestable, TruthScores

#: The error columns of :func:`errors_table`: (header, TruthScores field, as a rate).
ERROR_COLUMNS = (
    ("confident errors", "confident_error", True),
    ("credible calls false", "credible_false", True),
    ("power", "power", True),
    ("errors among sharpened verdicts", "sharpened_error", True),
    ("Brier score", "brier", False),
    ("calibration error", "calibration_error", False),
)
#: The paired statistics of :func:`paired_table`: (header, field, as a rate).
PAIRED_COLUMNS = (
    ("confident errors", "confident_error", True),
    ("Brier score", "brier", False),
    ("calibration error", "calibration_error", False),
)


def errors_table(
    errors: Sequence[ErrorEvidence], field: str = "contestable", facts: RunFacts | None = None
) -> str:
    """One row per method: the :class:`TruthScores` of ``field`` (``contestable``,
    ``contestable_ok``, ``every_claim``, ``every_claim_ok``)."""
    rows = []
    for e in errors:
        s: TruthScores = getattr(e, field)
        cells = [boot_text(getattr(s, f), rate) for _, f, rate in ERROR_COLUMNS]
        rows.append([method_name(e.method, facts), str(s.n_pairs), *cells])
    return markdown(["method", "pairs", *(h for h, _, _ in ERROR_COLUMNS)], rows)


def failed_apart_table(errors: Sequence[ErrorEvidence], facts: RunFacts | None = None) -> str:
    """Confident errors with and without the runs failing the approximation rule."""
    rows = []
    for e in errors:
        rows.append([method_name(e.method, facts), str(e.n_failed_runs),
                     boot_text(e.contestable.confident_error),
                     boot_text(e.contestable_ok.confident_error),
                     boot_text(e.every_claim.confident_error),
                     boot_text(e.every_claim_ok.confident_error)])  # fmt: skip
    heads = ["method", "first fits failed", "contestable: every run",
             "contestable: without failed runs", "every claim: every run",
             "every claim: without failed runs"]  # fmt: skip
    return markdown(heads, rows)


def paired_table(
    errors: Sequence[ErrorEvidence],
    changes: dict[str, PairedDifference | None],
    ok: bool = False,
) -> str:
    """Per method: method − NUTS for :data:`PAIRED_COLUMNS` (contestable claims; ``ok``: the
    seeds where neither first fit failed) and for the verdict changes (flips against NUTS
    minus NUTS's repeat's), each with its test and the smallest detectable difference."""
    rows = []
    for e in errors:
        paired = e.vs_nuts_ok if ok else e.vs_nuts
        if not paired:
            continue
        cells = []
        for _, f, rate in PAIRED_COLUMNS:
            d = paired[f]
            cells.append(f"{signed_text(d.difference, rate)}; {paired_verdict(d)}"
                         + (f"; {mcnemar_text(d.test)}" if d.test else "")
                         + f"; detectable {detectable_text(d, rate)}")  # fmt: skip
        c = changes.get(e.method)
        flips = (
            "–"
            if c is None
            else (
                f"{signed_text(c.difference)}; {paired_verdict(c)}; "
                f"{mcnemar_text(c.test)}; detectable {detectable_text(c)}"
            )
        )
        rows.append([e.method, *cells, flips])
    heads = ["method", *(f"Δ {h} vs NUTS" for h, _, _ in PAIRED_COLUMNS),
             "Δ verdict changes vs NUTS's repeat"]  # fmt: skip
    return markdown(heads, rows) if rows else "_No method besides NUTS has scored pairs._"


def kind_table(errors: Sequence[ErrorEvidence]) -> str:
    """Confident errors per claim kind (every claim with a known truth), one column per
    method: ``errors/confident (pairs)``."""
    kinds = list(dict.fromkeys(k for e in errors for k in e.by_kind))
    rows = []
    for kind in kinds:
        cells = []
        for e in errors:
            s = e.by_kind.get(kind)
            ce = None if s is None else s.confident_error
            cells.append("–" if s is None else f"{ce.k:.0f}/{ce.n:.0f} ({s.n_pairs})")
        rows.append([kind, *cells])
    return markdown(["claim kind", *(e.method for e in errors)], rows)


def calibration_table(errors: Sequence[ErrorEvidence]) -> str:
    """Per bin of P: per method the mean P and the fraction true (interval; n)."""
    if not errors:
        return ""
    rows = []
    for i, b in enumerate(errors[0].calibration):
        right = "]" if b.hi >= 1.0 else ")"
        cells = []
        for e in errors:
            c = e.calibration[i]
            cells.append("–" if not c.n else f"P {c.mean_p:.2f} → {boot_text(c.fraction_true)}")
        rows.append([f"[{b.lo:.2f}, {b.hi:.2f}{right}", *cells])
    return markdown(["P(claim)", *(e.method for e in errors)], rows)


def contestable_text(rule: Contestable | None, nuts: ErrorEvidence | None) -> str:
    """The rule, what it keeps and what it leaves out, with the counts left out of every rate."""
    if rule is None:
        return ""
    keep, out = len(rule.claims), len(rule.excluded)
    s = nuts.every_claim if nuts is not None else None
    dropped = "" if s is None else (
        f" Left out of every rate (NUTS's first fits): {s.n_not_applicable} (seed, claim) "
        f"pairs whose truth is not applicable, {s.n_unknown} of unknown truth and "
        f"{s.n_not_evaluated} not evaluated.")  # fmt: skip
    listed = ", ".join(f"`{n}`" for n in rule.excluded) or "none"
    return (
        "Headline rates count the claims contestable in this world, by a rule fixed in code "
        "before the runs: a claim is contestable when its truth varies across the seeds or "
        "NUTS (first fit) leaves it undecided in some seed. "
        f"{keep} claims are contestable ({len(rule.varies)} by varying truth, "
        f"{len(rule.nuts_undecided)} by NUTS undecided); {out} are not and are excluded from "
        f"the headline rates: {listed}." + dropped
    )


def prior_text(facts: RunFacts) -> str:
    """What the world's prior is beside the model's, and what calibration can mean here."""
    model = "; ".join(facts.priors) or "not recorded"
    world = []
    scale = f" × {_join(facts.site_scale)}" if facts.site_scale else ""
    if facts.sigma_site:
        world.append(f"β_site drawn per seed ~ Normal(0, {_join(facts.sigma_site)}){scale} "
                     "(σ_site fixed, not drawn)")  # fmt: skip
    elif facts.beta_site_source:
        world.append(f"β_site fixed (`{_join(facts.beta_site_source)}`){scale}")
    if facts.drawn_from:
        sw = facts.sigma_worker
        spread = f" (σ_worker {sw[0]:.3g} to {sw[-1]:.3g} over the seeds)" if sw else ""
        world.append(f"every parameter drawn per seed from the NUTS posterior of "
                     f"`{_join(facts.drawn_from)}`{spread}")  # fmt: skip
    elif facts.sigma_worker:
        world.append(f"σ_worker fixed at {_join(facts.sigma_worker)}")
    if facts.planted_clusters:
        world.append("clusters planted" if all(facts.planted_clusters) else "no clusters planted")
    return (
        f"**The world's prior.** The model's prior: {model}. This world: "
        f"{'; '.join(world) or 'not recorded'}. Exact inference is calibrated (P in a bin "
        "matches the fraction true) only when the world is drawn from the model's prior; "
        "this world is not, so NUTS's distance from the diagonal is the yardstick each method "
        "is read against, not zero."
    )


def _join(values: Sequence[object]) -> str:
    return " / ".join(str(v) for v in values) or "–"


__all__ = ["calibration_table", "contestable_text", "errors_table", "failed_apart_table",
           "kind_table", "paired_table", "prior_text"]  # fmt: skip
