"""The plain-language answer at the top of ``docs/findings.md``, chosen by the numbers.

Each sentence states numbers from :mod:`evaluation.study.summary` with their intervals and
how many seeds they rest on; the verbs ("more often than", "as often as") are picked by
comparing intervals, never written in advance: two intervals that overlap are "not
distinguishable" at these seeds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from evaluation.report.study_evidence import interval_text, rate_text
from evaluation.study.evidence import Interval, Rate
from evaluation.study.summary import MEANFIELDS, NUTS, FlipDirections, MethodEvidence


def compare(a: Rate | Interval, b: Rate | Interval) -> str:
    """ "more often than" / "less often than" when the 90% intervals do not overlap, else
    "not distinguishably more or less often than"."""
    if a.lo > b.hi:
        return "more often than"
    if a.hi < b.lo:
        return "less often than"
    return "not distinguishably more or less often than"


def _by_method(evidence: Sequence[MethodEvidence]) -> dict[str, MethodEvidence]:
    return {e.method: e for e in evidence}


def false_credible_sentence(world: str, evidence: Sequence[MethodEvidence]) -> str:
    """When one of the paper's conclusions is false: how often each method calls it credible."""
    ev = _by_method(evidence)
    nuts = ev.get(NUTS)
    if nuts is None or nuts.truth is None or not nuts.truth.false_credible.n:
        return f"In the {world} world no claim is false by construction: not checked."
    mf = [(m, ev[m].truth.false_credible) for m in MEANFIELDS
          if m in ev and ev[m].truth is not None]  # fmt: skip
    if not mf:
        return "No mean-field run finished in that world: not checked."
    parts = "; ".join(f"{m} {rate_text(r)}" for m, r in mf)
    verdict = compare(mf[0][1], nuts.truth.false_credible)
    return (
        f"**When one of the paper's conclusions is false** ({world} world), mean-field "
        f"still calls it credible in {parts} of the false claims; NUTS in "
        f"{rate_text(nuts.truth.false_credible)}: {mf[0][0]} does so {verdict} NUTS."
    )


def power_sentence(world: str, evidence: Sequence[MethodEvidence]) -> str:
    """When a conclusion is true: how often each method calls it credible."""
    ev = _by_method(evidence)
    rows = [(m, ev[m].truth.power) for m in (NUTS, *MEANFIELDS)
            if m in ev and ev[m].truth is not None and ev[m].truth.power.n]  # fmt: skip
    if not rows:
        return ""
    return (
        f"When a conclusion is true ({world} world) it is called credible by "
        + "; ".join(f"{m} in {rate_text(r)}" for m, r in rows)
        + "."
    )


def flips_sentence(world: str, evidence: Sequence[MethodEvidence]) -> str:
    """Mean-field's flips against NUTS beside NUTS against NUTS, per seed."""
    ev = _by_method(evidence)
    m = next((x for x in MEANFIELDS if x in ev and ev[x].flips.flips.n), None)
    if m is None:
        return f"In the {world} world no seed holds mean-field, NUTS and NUTS's repeat."
    f = ev[m].flips
    return (
        f"In the {world} world {m} flips {interval_text(f.flips, 1)} of the claims per "
        f"seed against NUTS, where a second NUTS run flips {interval_text(f.floor_flips, 1)}"
        f": {interval_text(f.excess, 1)} beyond the floor (means over {f.excess.n} seeds, "
        f"90% intervals); its own second fit flips {interval_text(ev[m].repeat_flips, 1)}."
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


def remedy_sentence(evidence: Sequence[MethodEvidence]) -> str:
    """Which methods (not NUTS, not mean-field) stay within NUTS's floor, and at what cost."""
    ev = _by_method(evidence)
    nuts_s = ev[NUTS].fit_s.mean if NUTS in ev else float("nan")
    good, bad = [], []
    for e in evidence:
        if e.method == NUTS or e.method in MEANFIELDS or not e.flips.excess.n:
            continue
        x = e.flips.excess
        within = (x.lo if math.isfinite(x.lo) else x.mean) <= 0.0 and e.failed.k == 0
        text = (f"{e.method} ({interval_text(e.flips.excess, 1)} flips beyond the floor, "
                f"{e.fit_s.mean:.0f} s per fit)")  # fmt: skip
        (good if within else bad).append(text)
    tail = f" (NUTS {nuts_s:.0f} s)"
    out = []
    if good:
        out.append("Not distinguishable from NUTS's floor: " + "; ".join(good) + tail + ".")
    if bad:
        out.append("Beyond the floor or failed: " + "; ".join(bad) + ".")
    return " ".join(out)


def answer_section(
    worlds: Mapping[str, tuple[str, Sequence[MethodEvidence]]],
    directions: Mapping[str, FlipDirections] | None = None,
) -> str:
    """``## The answer``: per world (key -> (title, evidence)), the sentences above;
    ``directions`` (key -> mean-field's :class:`FlipDirections`) where the truth is known."""
    lines = ["## The answer", ""]
    wrong = worlds.get("wrong")
    if wrong is not None:
        lines += [false_credible_sentence("paper-wrong", wrong[1]), ""]
    for key, (title, evidence) in worlds.items():
        d = (directions or {}).get(key)
        sentences = [flips_sentence(key, evidence),
                     direction_sentence(MEANFIELDS[0], d) if d else "",
                     power_sentence(key, evidence), remedy_sentence(evidence)]  # fmt: skip
        if key == "right":
            sentences.insert(1, false_credible_sentence(key, evidence))
        lines += [f"_{title}._", "", *(f"- {s}" for s in sentences if s), ""]
    return "\n".join(lines)


def caveats(seeds: Mapping[str, int]) -> str:
    """What the findings do not show (the design's limits; ``seeds``: per world, seeds run)."""
    counts = ", ".join(f"{k} {n}" for k, n in seeds.items()) or "none"
    return "\n".join([
        "## Caveats", "",
        f"- Seeds per world: {counts}. Intervals are 90% (Student-t over seeds; Wilson for "
        "rates). The rates count every (seed, claim) as one trial; claims of one seed share a "
        "data set, so their intervals may be too narrow. `make findings FINDINGS_ARGS=\"--seeds "
        "50\"` runs more.",
        "- The twin is quarter-sized (40 worksites, 4,000 workers) so that the replicated study "
        "fits 120 minutes on 2 cores; the paper-scale single-seed study is "
        "`ppl-compare experiment=meanfield_study`.",
        "- NUTS is the reference at 4 chains × (400 + 300) draws; its second run (another "
        "chain seed) is the floor. Full-rank is fitted once per seed (no VI-vs-VI repeat).",
        "- Thornton's claims are stated on the per-village slopes (the model has no unit-level "
        "fixed effect): the mean over villages of a slope is positive (negative).",
        "",
    ])  # fmt: skip


__all__ = ["answer_section", "caveats", "compare", "direction_sentence",
           "false_credible_sentence", "flips_sentence",
           "power_sentence", "remedy_sentence"]  # fmt: skip
