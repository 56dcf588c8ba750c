"""The plain-language answer at the top of ``docs/findings.md``, chosen by the numbers.

Each sentence states numbers from :mod:`evaluation.study.summary` with their intervals and
how many seeds they rest on, in the headline engine's words (:mod:`evaluation.report.headline`:
the intervals, and whether a method differs from NUTS by the paired tests with the seed as the
unit, :func:`~evaluation.report.headline.compare`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from evaluation.claims.load import Thresholds
from evaluation.report.headline import (
    FLIP,
    boot_text,
    compare,
    detectable_text,
    interval_text,
    paired_verdict,
    signed_text,
)
from evaluation.report.study.evidence import failed_everywhere
from evaluation.study.bootstrap import BootInterval
from evaluation.study.facts import RunFacts
from evaluation.study.summary import (
    MEANFIELDS,
    NUTS,
    FlipDirections,
    MethodEvidence,
    WorldEvidence,
)

#: How the answer names NUTS's repeat, the floor of the verdict changes.
FLOOR = "NUTS's repeat's"


def _by_method(evidence: Sequence[MethodEvidence]) -> dict[str, MethodEvidence]:
    return {e.method: e for e in evidence}


def _meanfield(ev: Mapping[str, MethodEvidence]) -> str | None:
    return next((m for m in MEANFIELDS if m in ev and ev[m].errors is not None), None)


def _named(method: str, facts: RunFacts | None) -> str:
    """A method in a sentence, marked when :func:`failed_everywhere` (the prose twin of the
    tables' :func:`method_name`)."""
    failed = failed_everywhere(method, facts)
    return f"{method} (every run failed the approximation rule)" if failed else method


def errors_sentence(world: str, w: WorldEvidence) -> str:
    """Confident errors both ways over the contestable claims: NUTS, mean-field, paired."""
    ev = _by_method(w.methods)
    nuts, m = ev.get(NUTS), _meanfield(ev)
    if nuts is None or nuts.errors is None or m is None:
        return f"In the {world} world no truth is known for NUTS and mean-field: not checked."
    n_ok, mf = ev[m].errors.n_failed_runs, ev[m].errors
    rest = boot_text(mf.contestable_ok.confident_error)
    rest = "no confident verdict is left to count" if rest == "–" else rest
    failed = (f" {n_ok} of its first fits fail the approximation rule; without them "
              f"{rest}." if n_ok else "")  # fmt: skip
    return (
        f"**Confident errors** ({world} world, contestable claims; credible but false or "
        f"contradicted but true, per confident verdict): NUTS "
        f"{boot_text(nuts.errors.contestable.confident_error)}, "
        f"{_named(m, w.facts)} {boot_text(mf.contestable.confident_error)}: "
        f"{m}'s rate is {compare(mf.vs_nuts['confident_error'])}.{failed}"
    )


def promise_text(s: BootInterval, promise: float) -> str:
    """Where a sharpened-error rate's interval lies against what a calibrated P promises."""
    if not (math.isfinite(s.lo) and math.isfinite(s.hi)):
        return f"not tested against the {promise:.0%} a calibrated P allows (1 seed)"
    if s.lo > promise:
        return f"more than the {promise:.0%} a calibrated P allows"
    if s.hi <= promise:
        return f"within the {promise:.0%} a calibrated P allows"
    return f"not distinguishable from the {promise:.0%} a calibrated P allows"


def sharpened_sentence(world: str, w: WorldEvidence, thresholds: Thresholds) -> str:
    """How often the verdicts each mean-field made confident where NUTS was undecided are
    wrong, against the share a calibrated credible threshold allows (its interval decides)."""
    ev = _by_method(w.methods)
    said = [(m, ev[m].errors.contestable.sharpened_error) for m in MEANFIELDS
            if m in ev and ev[m].errors is not None]  # fmt: skip
    said = [(m, s) for m, s in said if s.n]
    if not said:
        return ""
    promise = 1.0 - thresholds.credible
    return (
        f"**Sharpened verdicts** ({world} world): of the verdicts a mean-field made confident "
        "where NUTS was undecided, wrong: "
        + "; ".join(f"{_named(m, w.facts)} {boot_text(s)}, {promise_text(s, promise)}"
                    for m, s in said)
        + f" (a credible threshold of {thresholds.credible:g} is wrong at most "
        f"{promise:.0%} of the time if P is calibrated; 90% intervals, the seed as the unit)."
    )  # fmt: skip


def calibration_sentence(world: str, w: WorldEvidence) -> str:
    """The calibration error of every method scored against the truth, each beside NUTS's by
    the paired test."""
    ev = _by_method(w.methods)
    nuts = ev.get(NUTS)
    if nuts is None or nuts.errors is None:
        return ""
    others = [e for e in w.methods if e.method != NUTS and e.errors is not None]
    if not others:
        return ""
    parts = [f"{e.method} {boot_text(e.errors.contestable.calibration_error, rate=False)}: "
             f"{e.method}'s is {compare(e.errors.vs_nuts['calibration_error'], rate=False)}"
             for e in others if "calibration_error" in e.errors.vs_nuts]  # fmt: skip
    return (
        f"**Calibration** ({world} world, contestable claims; |mean P − fraction true| over "
        f"the bins): NUTS {boot_text(nuts.errors.contestable.calibration_error, rate=False)}; "
        + "; ".join(parts)
        + "."
    )


def power_sentence(world: str, evidence: Sequence[MethodEvidence]) -> str:
    """When a contestable conclusion is true: how often each method calls it credible."""
    ev = _by_method(evidence)
    scored = [m for m in (NUTS, *MEANFIELDS) if m in ev and ev[m].errors is not None]
    rows = [(m, ev[m].errors.contestable.power) for m in scored
            if ev[m].errors.contestable.power.n]  # fmt: skip
    if not rows:
        return ""
    return (
        f"When a contestable conclusion is true ({world} world) it is called credible by "
        + "; ".join(f"{m} in {boot_text(r)}" for m, r in rows)
        + "."
    )


def flips_sentence(world: str, evidence: Sequence[MethodEvidence]) -> str:
    """Mean-field's flips against NUTS beside NUTS against NUTS, per seed, and their test."""
    ev = _by_method(evidence)
    m = next((x for x in MEANFIELDS if x in ev and ev[x].flips.flips.n), None)
    if m is None:
        return f"In the {world} world no seed holds mean-field, NUTS and NUTS's repeat."
    f, changes = ev[m].flips, ev[m].verdict_changes
    paired = ""
    if changes is not None:
        paired = f" Per (seed, claim), its verdict changes are {compare(changes, True, FLOOR)}."
    return (
        f"In the {world} world {m} flips {interval_text(f.flips, 1)} of the claims per "
        f"seed against NUTS (a flip: {FLIP}), where a "
        f"second NUTS run flips {interval_text(f.floor_flips, 1)}: "
        f"{interval_text(f.excess, 1)} beyond the floor (means over {f.excess.n} seeds, 90% "
        f"intervals); its own second fit flips {interval_text(ev[m].repeat_flips, 1)}." + paired
    )


def direction_sentence(method: str, d: FlipDirections) -> str:
    """Where ``method``'s flips go: sharper and right, sharper and wrong, softer, reversed."""
    total = d.sharper_right + d.sharper_wrong + d.softer + d.reversed
    if total == 0:
        return ""
    return (
        f"Of {method}'s {total} flips with a known truth ({d.seeds} seeds), "
        f'{d.sharper_right} turn NUTS\'s "undecided" into the right confident verdict, '
        f"{d.sharper_wrong} into the wrong one, {d.softer} turn a confident NUTS verdict "
        f"undecided and {d.reversed} reverse it."
    )


def remedy_sentence(evidence: Sequence[MethodEvidence], facts: RunFacts | None = None) -> str:
    """Which methods (not NUTS, not mean-field) change verdicts no more than NUTS's repeat
    (paired test) without a failed run, and at what cost."""
    ev = _by_method(evidence)
    nuts_s = ev[NUTS].fit_s.mean if NUTS in ev else float("nan")
    good, bad = [], []
    for e in evidence:
        c = e.verdict_changes
        if e.method == NUTS or e.method in MEANFIELDS or c is None:
            continue
        verdict = paired_verdict(c)
        within = verdict in ("no difference detected", "lower") and e.failed.k == 0
        text = (f"{_named(e.method, facts)} (verdict changes {signed_text(c.difference)} "
                f"vs NUTS's repeat, detectable {detectable_text(c)}; {e.failed.k}/"
                f"{e.failed.n} runs failed; {e.fit_s.mean:.0f} s per fit)")  # fmt: skip
        (good if within else bad).append(text)
    tail = f" (NUTS {nuts_s:.0f} s)"
    out = []
    if good:
        out.append("No more verdict changes than NUTS's repeat detected, no run failed: "
                   + "; ".join(good) + tail + ".")  # fmt: skip
    if bad:
        out.append("More verdict changes than NUTS's repeat, or a failed run: "
                   + "; ".join(bad) + ".")  # fmt: skip
    return " ".join(out)


def answer_section(
    worlds: Mapping[str, tuple[str, WorldEvidence]],
    directions: Mapping[str, FlipDirections] | None = None,
    thresholds: Thresholds | None = None,
) -> str:
    """``## The answer``: per world (key -> (title, evidence)), led by the error rate among
    sharpened verdicts and the calibration of every method, then the sentences above;
    ``directions`` (key -> mean-field's :class:`FlipDirections`) where the truth is known."""
    th = thresholds or Thresholds()
    lines = ["## The answer", ""]
    for key, (title, w) in worlds.items():
        d = (directions or {}).get(key)
        sentences = [
            sharpened_sentence(key, w, th),
            calibration_sentence(key, w),
            errors_sentence(key, w),
            flips_sentence(key, w.methods),
            direction_sentence(MEANFIELDS[0], d) if d else "",
            power_sentence(key, w.methods),
            remedy_sentence(w.methods, w.facts),
        ]
        lines += [f"_{title}._", "", *(f"- {s}" for s in sentences if s), ""]
    return "\n".join(lines)


def closing_note(
    worlds: Mapping[str, tuple[str, WorldEvidence]],
    thresholds: Thresholds | None = None,
    wall: str = "–",
    forensic: str | None = None,
) -> str:
    """``## In short`` (the document's first section): per world the seeds each method rests
    on and the answer's first sentence (the sharpened verdicts, else the confident errors),
    the forensic verdict and the measured wall time (``wall``: already in words)."""
    th = thresholds or Thresholds()
    lines = ["## In short", ""]
    for key, (title, w) in worlds.items():
        seeds = ", ".join(f"{m} {r.seeds}" for m, r in w.facts.methods.items()) or "none"
        lead = sharpened_sentence(key, w, th) or errors_sentence(key, w)
        lines.append(f"- _{title}_ (seeds per method: {seeds}). {lead}")
    if forensic:
        lines.append(f"- _Paper forensics._ {forensic}")
    lines.append(f"- Measured wall time of the study: {wall}.")
    return "\n".join([*lines, ""])


__all__ = ["answer_section", "calibration_sentence", "closing_note", "direction_sentence",
           "errors_sentence", "flips_sentence", "power_sentence", "promise_text", "remedy_sentence",
           "sharpened_sentence"]  # fmt: skip
