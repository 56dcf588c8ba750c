"""The one headline engine: the words every document's headline states, built one way.

A headline — the run report's findings and headline, the sweep report's findings, the study's
answer — is sentences chosen by the numbers.  What they share lives here:

- **counts**: :func:`plural`; the claims a ledger names (:func:`subject`), the pool its
  verdicts are counted in (:func:`pool`), which claims the design identifies
  (:func:`identified_clause`) and how a posterior judges the rest (:func:`verdict_counts`);
- **intervals**: a probability with its Monte Carlo error (:func:`with_mc_error`), a mean over
  seeds (:func:`interval_text`), a rate (:func:`rate_text`), a bootstrap estimate
  (:func:`boot_text`), a paired difference (:func:`signed_text`), its test
  (:func:`mcnemar_text`) and the smallest difference the design detects
  (:func:`detectable_text`);
- **verdicts chosen by the numbers**: a coverage against its binomial band
  (:func:`coverage_verdict`), a paired difference against zero (:func:`paired_verdict`), and
  that difference in words (:func:`compare`);
- **flips**: what a flip is (:data:`FLIP`) and which claims flip between a method and NUTS
  (:func:`flipped_between`).

Whether a method differs from NUTS is decided by the paired tests with the seed as the unit
(:mod:`evaluation.study.errors`): "higher" or "lower" when the cluster-bootstrap interval of
the paired difference excludes zero and, for paired binary outcomes, the exact McNemar test
agrees at :data:`ALPHA`, never by whether two intervals overlap; every "no difference
detected" states the smallest difference the design detects at 80% power
(:func:`evaluation.study.bootstrap.detectable_difference`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from evaluation.metrics.floors import coverage_band
from evaluation.report.format import DASH, fmt
from evaluation.study.bootstrap import BootInterval, McNemar
from evaluation.study.errors import PairedDifference
from evaluation.study.evidence import Interval, Rate

#: What a flip is, in every document that counts flips (the rule:
#: :func:`evaluation.claims.compare.is_flip`).
FLIP = "a change of verdict beyond Monte Carlo noise"
#: How a ledger's claims are named when it gives no ``subject`` ("{n}": how many).
DEFAULT_SUBJECT = "the ledger's {n} claims"
#: The two-sided level of every paired test (the intervals are 90%).
ALPHA = 0.1


# ----------------------------------------------------------------------------- counts
def plural(n: int, one: str, many: str) -> str:
    """``1 verdict is`` / ``3 verdicts are``: ``n`` and the word that agrees with it."""
    return f"{n} {one if n == 1 else many}"


def subject(section: Mapping[str, Any], n: int | None = None) -> str:
    """How the headline names the claims ("the paper's 14 conclusions")."""
    n = section["summary"]["n_claims"] if n is None else n
    return str(section.get("subject") or DEFAULT_SUBJECT).replace("{n}", str(n))


def pool(summary: Mapping[str, Any]) -> str:
    """The claims a posterior's verdicts are counted among: ``of the other 12`` (those the
    design identifies, when it does not identify some) or ``of the 14``."""
    other = summary["n_claims"] - summary["n_not_identified"]
    return f"of the other {other}" if summary["n_not_identified"] else f"of the {other}"


def identified_clause(section: Mapping[str, Any]) -> str:
    """ "Of the paper's 19 conclusions, 1 is not identified by its design and 7 are weakly
    identified (nearly collinear features)" (or "all are identified by the design")."""
    s = section["summary"]
    head = f"Of {subject(section)}"
    k, weak = s["n_not_identified"], s.get("n_weakly_identified") or 0
    weak_text = ""
    if weak:
        weak_text = (
            f"{plural(weak, 'is', 'are')} weakly identified (nearly collinear worksite features)"
        )
    if not k:
        return f"{head}, all are identified by the design" + (f" ({weak_text})" if weak else "")
    return f"{head}, {plural(k, 'is', 'are')} not identified by its design" + (
        f" and {weak_text}" if weak else ""
    )


def verdict_counts(s: Mapping[str, Any]) -> str:
    """ "8 of the other 12 credible, 1 contradicted, 3 undecided" (and not evaluated)."""
    close = s.get("n_borderline") or 0
    within = f" ({close} within Monte Carlo error of a threshold)" if close else ""
    parts = [f"{s['n_credible']} {pool(s)} credible", f"{s['n_contradicted']} contradicted",
             f"{s['n_undecided']} undecided{within}"]  # fmt: skip
    if s.get("n_not_evaluated"):
        parts.append(f"{s['n_not_evaluated']} not evaluated")
    return ", ".join(parts)


# ----------------------------------------------------------------------------- intervals
def with_mc_error(p: Any, err: Any, dash: str = DASH) -> str:
    """ "0.987 ± 0.012" (P to 3 digits, its Monte Carlo error to 2), or the bare P when it has
    none; ``dash`` for a missing P (the run report's "—", the sweep tables' "-")."""

    def number(x: Any, digits: int) -> str:
        return fmt(None if x is None else float(x), digits, dash)

    return number(p, 3) if p is None or err is None else f"{number(p, 3)} ± {number(err, 2)}"


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


def boot_text(iv: BootInterval | None, rate: bool = True, digits: int = 3) -> str:
    """``12% (8–17%; 5/40)`` for a rate, ``0.081 (0.052 to 0.113)`` otherwise; ``–`` when
    undefined; ``(1 seed)`` when there is no interval."""
    if iv is None or not math.isfinite(iv.estimate):
        return "–" if iv is None or not iv.n else f"– (0/{iv.n:.0f})"
    counts = f"; {iv.k:.0f}/{iv.n:.0f}" if rate else ""
    if rate:
        value = f"{iv.estimate:.0%}"
        ci = f"{iv.lo:.0%}–{iv.hi:.0%}" if math.isfinite(iv.lo) else "1 seed"
    else:
        value = f"{iv.estimate:.{digits}f}"
        ci = f"{iv.lo:.{digits}f} to {iv.hi:.{digits}f}" if math.isfinite(iv.lo) else "1 seed"
    return f"{value} ({ci}{counts})"


def signed_text(iv: BootInterval, rate: bool = True) -> str:
    """A difference: ``+6 points (−1 to +14)`` for rates, ``+0.012 (−0.004 to +0.030)``."""
    if not math.isfinite(iv.estimate):
        return "–"
    scale, spec, unit = (100.0, "+.0f", " points") if rate else (1.0, "+.3f", "")

    def f(x: float) -> str:  # a value that rounds to zero has no sign: "0", not "-0"
        text = format(scale * x, spec)
        return text[1:] if float(text) == 0 else text

    ci = f"{f(iv.lo)} to {f(iv.hi)}" if math.isfinite(iv.lo) else "1 seed"
    return f"{f(iv.estimate)}{unit} ({ci})"


def mcnemar_text(t: McNemar | None) -> str:
    """``5 vs 1 discordant, p = 0.22``."""
    if t is None:
        return "–"
    return f"{t.only_a} vs {t.only_b} discordant, p = {t.p_value:.2g}"


def detectable_text(d: PairedDifference, rate: bool = True) -> str:
    """The smallest difference detectable at 80% power: ``±7 points``."""
    if not math.isfinite(d.detectable):
        return "–"
    return f"±{100 * d.detectable:.0f} points" if rate else f"±{d.detectable:.3f}"


# ----------------------------------------------------------------------------- verdicts
def coverage_verdict(cov: float | None, nominal: float, n: int | None,
                     n_eff: float | None = None) -> str:  # fmt: skip
    """Is an empirical coverage consistent with ``nominal`` (2 binomial sd)?

    Coefficients of one block are not independent trials: with ``n_eff`` (the effective n of
    :func:`evaluation.metrics.floors.effective_n`, from the posterior correlation between the
    coefficients) the band is 2 binomial sd for ``n_eff`` trials and the verdict says so; without
    it the ``n`` coefficients are treated as independent (older metrics.json).
    """
    if cov is None or not n:
        return ""
    independent = n_eff is None or not math.isfinite(n_eff)
    trials = n if independent else max(float(n_eff), 1.0)
    lo, hi = coverage_band(nominal, trials)
    if cov < lo:
        verdict = "intervals too narrow (overconfident)"
    elif cov > hi:
        verdict = "intervals too wide (conservative)"
    else:
        verdict = "consistent with nominal"
    if independent:
        return verdict
    return (f"{verdict} (band {fmt(lo)}–{fmt(hi)}: 2 binomial sd for an effective n of "
            f"{fmt(trials)} of the {n} coefficients, from their posterior "
            "correlation)")  # fmt: skip


def paired_verdict(d: PairedDifference) -> str:
    """``higher``/``lower`` when the paired interval (the seed as the unit) excludes 0 and,
    for paired binary outcomes, the exact McNemar test agrees at :data:`ALPHA`; else ``no
    difference detected``; ``not tested`` without an interval.  (With few seeds that all
    moved the same way the bootstrap has no spread to show; the McNemar test still counts
    how few pairs disagree.)"""
    iv = d.difference
    if not (math.isfinite(iv.lo) and math.isfinite(iv.hi)):
        return "not tested"
    if d.test is not None and d.test.p_value >= ALPHA:
        return "no difference detected"
    if iv.lo > 0:
        return "higher"
    if iv.hi < 0:
        return "lower"
    return "no difference detected"


def compare(d: PairedDifference, rate: bool = True, reference: str = "NUTS's") -> str:
    """The paired verdict in words: ``higher than NUTS's (paired difference …)``, or ``not
    distinguishable from NUTS's (…; the design detects ±… or more with 80% power)``."""
    verdict = paired_verdict(d)
    iv = d.difference
    test = f"; McNemar {mcnemar_text(d.test)}" if d.test else ""
    detail = (f"paired difference {signed_text(iv, rate)}, 90% cluster-bootstrap interval "
              f"over {iv.n_seeds} seeds{test}")  # fmt: skip
    if verdict in ("higher", "lower"):
        return f"{verdict} than {reference} ({detail})"
    if verdict == "not tested":
        return f"not tested against {reference} ({detail})"
    return (f"not distinguishable from {reference} ({detail}; the design detects a difference of "
            f"{detectable_text(d, rate)} or more with 80% power)")  # fmt: skip


# ----------------------------------------------------------------------------- flips
def flipped_between(method: str, names: Sequence[str], reference: str = "NUTS") -> str:
    """ "the 2 that flip between pyro_meanfield and NUTS: a, b" (or "none flips between …")."""
    if not names:
        return f"none flips between {method} and {reference}"
    that = plural(len(names), "that flips", "that flip")
    return f"the {that} between {method} and {reference}: {', '.join(names)}"


__all__ = ["ALPHA", "DEFAULT_SUBJECT", "FLIP", "boot_text", "compare", "coverage_verdict",
           "detectable_text", "flipped_between", "identified_clause", "interval_text",
           "mcnemar_text", "paired_verdict", "plural", "pool", "rate_text", "signed_text",
           "subject", "verdict_counts", "with_mc_error"]  # fmt: skip
