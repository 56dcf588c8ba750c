"""The study document's statements of fact about its runs (issue 33): the caveats, a method
marked FAILED, and commands shown with paths relative to the repository.  Every fact comes from
the runs (:class:`evaluation.study.facts.RunFacts`), none is written in advance.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from evaluation.study.bootstrap import BOOT_SEED, N_BOOT
from evaluation.study.facts import MC_TARGET, CoarseClaim, RunFacts

#: The repository root (paths in the document are shown relative to it).
REPO = Path(__file__).resolve().parents[3]


def relative_command(command: str, root: Path = REPO) -> str:
    """``command`` with every absolute path (a word, or the value of ``key=/path``) shown
    relative to ``root`` (``../..`` for paths outside it): no machine path in the document."""
    words = []
    for word in command.split(" "):
        key, eq, value = word.rpartition("=") if "=/" in word else ("", "", word)
        if value.startswith("/"):
            value = os.path.relpath(value, root)
        words.append(f"{key}{eq}{value}")
    return " ".join(words)


def _one(values: Sequence[object], what: str) -> str:
    if not values:
        return f"{what} not recorded"
    return " / ".join(f"{v:,}" if isinstance(v, int) else str(v) for v in values)


def size_text(facts: RunFacts) -> str:
    """``600 units in 10 groups per data set`` (units: the twin's workers; groups: worksites)."""
    return (f"{_one(facts.n_workers, 'units')} units in {_one(facts.n_worksites, 'groups')} "
            "groups per data set")  # fmt: skip


def settings_text(facts: RunFacts, nuts: str) -> str:
    """NUTS's chains × (tune + draws) and VI's steps run (cap) per method, as run."""
    ref = "; ".join(f"{c} chains × ({t} + {d}) draws" for c, t, d in facts.nuts) or "not run"
    vi = [f"{m} {s[0]:,}" + (f"–{s[1]:,}" if s[1] != s[0] else "")
          for m, r in facts.methods.items() if (s := r.steps) is not None]  # fmt: skip
    caps = " / ".join(f"{c:,}" for c in facts.step_caps)
    steps = f"; VI steps run: {', '.join(vi)} (cap {caps})" if vi else ""
    return f"{nuts}: {ref}{steps}"


def seeds_text(facts: RunFacts) -> str:
    """Per method: its data seeds, fits per seed and runs failed; FAILED when all failed."""
    parts = []
    for m, r in facts.methods.items():
        mark = " FAILED" if r.all_failed else ""
        once = ", fitted once per seed (no repeat)" if r.fits_per_seed == 1 else ""
        parts.append(f"{m}{mark} {r.seeds} seeds{once}, {r.complete} of {r.jobs} jobs "
                     f"complete, {r.failed} failing the approximation rule")  # fmt: skip
    return "; ".join(parts) or "no runs"


def failed_methods(facts: RunFacts) -> list[str]:
    """The methods every run of which failed (no complete run, or each failing the rule)."""
    return [m for m, r in facts.methods.items() if r.all_failed]


def coarse_text(coarse: Sequence[CoarseClaim]) -> str:
    """The claims whose P is coarser than :data:`MC_TARGET` somewhere (empty when none)."""
    if not coarse:
        return ""
    listed = ", ".join(f"`{c.name}` (MC error up to {c.mc_error:.3f}, {c.n_draws:.0f} draws)"
                       for c in coarse)  # fmt: skip
    return f"- P's Monte Carlo error exceeds {MC_TARGET} in some run for: {listed}."


def caveats(
    worlds: Mapping[str, RunFacts],
    coarse: Mapping[str, Sequence[CoarseClaim]],
    nuts: str,
    thornton: bool = False,
) -> str:
    """What the findings do not show, stated from the runs of each world."""
    lines = ["## Caveats", ""]
    for key, f in worlds.items():
        lines.append(f"- {key}: {size_text(f)}; {settings_text(f, nuts)}. Runs: "
                     f"{seeds_text(f)}.")  # fmt: skip
        if text := coarse_text(coarse.get(key, ())):
            lines.append(f"  {text[2:]}")
    lines += [
        f"- Intervals are 90%: Student-t over seeds for means; a cluster bootstrap over seeds "
        f"({N_BOOT:,} resamples, generator seed {BOOT_SEED}) for the error rates and power "
        "(Wilson's interval at the effective sample size its design effect leaves), and for "
        "the Brier score, calibration error and every paired difference (expanded percentile "
        "interval); Wilson for the per-claim flip rates (seeds as trials). The McNemar tests "
        "treat the (seed, claim) pairs as independent; the bootstrap does not. NUTS's second "
        "run (another chain seed) is the floor of the flips.",
        "- Repeats (the floors) and the richer methods ran on the first seeds of a world only "
        "where the runs above say so (seeds per method); "
        '`make findings FINDINGS_ARGS="--seeds 50"` runs more seeds in every world, its '
        "subsets kept.",
    ]
    if thornton:
        lines.append("- Thornton's claims are stated on the per-village slopes (the model has no "
                     "unit-level fixed effect): the mean over villages of a slope is positive "
                     "(negative).")  # fmt: skip
    return "\n".join([*lines, ""])


__all__ = ["REPO", "caveats", "coarse_text", "failed_methods", "relative_command",
           "seeds_text", "settings_text", "size_text"]  # fmt: skip
