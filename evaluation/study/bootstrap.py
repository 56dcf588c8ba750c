"""The data seed as the unit: a cluster bootstrap over seeds, the exact McNemar test on paired
(seed, claim) outcomes, and the smallest difference the design detects (issue 29).

Cluster bootstrap
-----------------
Every error statistic of the study is a function of sums over (seed, claim) pairs: a rate is
errors / verdicts, the Brier score squared errors / pairs, the calibration error a sum over
bins of |ΣP − Σtruth| / pairs (:mod:`evaluation.study.truth`).  :func:`cluster_bootstrap` takes
those sums per seed (one row per seed), resamples the seeds with replacement (multinomial
weights from a seeded generator: the same seed gives the same interval) and recomputes the
statistic on the reweighted sums.  The claims of one seed share a data set, so they move
together: the seed, not the (seed, claim) pair, is the unit.  A paired difference (a method
against NUTS on the same seeds) is one statistic of both methods' sums, so every resample
draws the same seeds for both.

Proportions (:func:`rate_bootstrap`: error rates, power) get Wilson's score interval at the
effective sample size, the design effect taken from the bootstrap's standard error: it stays
honest at 0 errors, where every resample also has 0 and a percentile interval is the point 0
(measured: 0.78 coverage for a 2% error rate over 8 seeds of 20 claims, against 0.88 for this
one).  Every other statistic (Brier score, calibration error, paired differences) gets the
*expanded percentile* interval (Hesterberg 2015, "What teachers should know
about the bootstrap", The American Statistician 69(4); R's ``resample::CI.percentile(expand =
TRUE)``): the percentiles of the bootstrap distribution at the tail probability α'/2 with
``z_{α'/2} = sqrt(S/(S−1)) · t_{α/2, S−1}`` (S seeds).  The plain percentile interval is too
narrow with few seeds (its spread is the plug-in ``sd·sqrt((S−1)/S)`` and it uses normal, not
t, quantiles: with 6 seeds a plain 90% interval of a mean covers about 81%); the expansion
undoes both, and the seeded simulation in ``tests/evaluation/study/test_bootstrap.py``
measures the coverage.

Smallest detectable difference
------------------------------
:func:`detectable_difference` answers "what difference could this design have seen?" beside
every "no difference": the δ a two-sided test at the interval's level (α = 0.1 for 90%)
detects with 80% power, by the normal approximation with t quantiles:
``δ = q · SE(δ)``, ``q = t_{1−α/2, S−1} + t_{power, S−1}``, where ``SE(δ)² = SE² + δ(1−δ)/N``
for a difference of rates over N paired (seed, claim) outcomes, SE the bootstrap standard
error of the observed paired difference (expanded by sqrt(S/(S−1)) as the interval is).  The
second term is the Bernoulli variance a shift of δ itself adds; it keeps δ above zero when
no discordant outcome was seen (0 of 100 against 0 of 100 detects δ ≈ 0.07 at S = 10).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from evaluation.study.evidence import check_level, wilson_bounds

#: Bootstrap resamples by default (percentiles at 2.7% / 97.3% rest on ~50 resamples each).
N_BOOT = 2000
#: The generator's seed by default: the document's intervals are reproducible.
BOOT_SEED = 29
#: The power at which :func:`detectable_difference` states the smallest difference.
POWER = 0.8

#: A statistic of summed columns: maps column name -> sums (scalars, or arrays over
#: resamples) to the value(s).
Statistic = Callable[[Mapping[str, np.ndarray]], np.ndarray]


class BootInterval(NamedTuple):
    """A statistic over data seeds and its cluster-bootstrap interval.

    Attributes
    ----------
    estimate : float
        The statistic on all seeds (NaN when it is undefined, e.g. a rate of 0 trials).
    lo, hi : float
        The expanded percentile interval (NaN with fewer than 2 seeds).
    se : float
        The bootstrap standard error, expanded by sqrt(S/(S−1)) (NaN with fewer than 2 seeds).
    n_seeds : int
        Seeds resampled (those holding a row).
    k, n : float
        For a rate, its pooled numerator and denominator over all seeds (else 0).
    """

    estimate: float
    lo: float
    hi: float
    se: float
    n_seeds: int
    k: float = 0.0
    n: float = 0.0


class McNemar(NamedTuple):
    """The exact McNemar test of paired binary outcomes (a, b).

    ``only_a``: pairs where a holds and b not; ``only_b``: the reverse; ``p_value``: the
    two-sided exact binomial test of ``only_a`` of ``only_a + only_b`` discordant pairs at
    1/2 (1.0 without discordant pairs); ``n_pairs``: pairs tested.
    """

    only_a: int
    only_b: int
    p_value: float
    n_pairs: int


def expanded_tail(n_seeds: int, level: float) -> float:
    """The tail probability α'/2 of the expanded percentile interval with ``n_seeds`` seeds
    (module docstring); NaN with fewer than 2 seeds."""
    check_level(level)
    if n_seeds < 2:
        return math.nan
    t = float(stats.t.ppf((1.0 + level) / 2.0, n_seeds - 1))
    return float(stats.norm.cdf(-math.sqrt(n_seeds / (n_seeds - 1)) * t))


def resample_weights(n_seeds: int, n_boot: int = N_BOOT, seed: int = BOOT_SEED) -> np.ndarray:
    """How often each seed is drawn in each resample: shape ``(n_boot, n_seeds)``, rows sum
    to ``n_seeds`` (seeds drawn with replacement, equal probability), from ``seed``."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n_seeds, np.full(n_seeds, 1.0 / n_seeds), size=n_boot).astype(float)


def cluster_bootstrap(
    per_seed: pd.DataFrame,
    statistic: Statistic,
    level: float = 0.9,
    n_boot: int = N_BOOT,
    seed: int = BOOT_SEED,
) -> BootInterval:
    """A statistic of per-seed sums with its cluster-bootstrap interval over seeds.

    Parameters
    ----------
    per_seed : DataFrame
        One row per data seed, one column per summed quantity (e.g. ``errors``, ``verdicts``).
    statistic : callable
        Maps ``{column: sums}`` to the statistic; called once on the totals and once on all
        resamples at once (each column then an array of ``n_boot`` weighted sums), so it must
        be written with array arithmetic.  NaN where it is undefined.
    level : float
        Coverage of the interval (module docstring: expanded percentile).
    n_boot, seed : int
        Resamples and the generator's seed.

    Returns
    -------
    BootInterval
        ``k`` and ``n`` are 0 (see :func:`rate_bootstrap`).  Resamples where the statistic is
        NaN (e.g. a resample without a single trial) are left out of the percentiles; when
        more than half are, the interval is NaN.
    """
    s = len(per_seed)
    sums = {c: per_seed[c].to_numpy(dtype=float) for c in per_seed.columns}
    estimate = float(statistic({c: v.sum() for c, v in sums.items()})) if s else math.nan
    tail = expanded_tail(s, level)
    if s < 2 or not math.isfinite(estimate):
        return BootInterval(estimate, math.nan, math.nan, math.nan, s)
    w = resample_weights(s, n_boot, seed)
    reps = np.asarray(statistic({c: w @ v for c, v in sums.items()}), dtype=float)
    reps = reps[np.isfinite(reps)]
    if reps.size < n_boot / 2:
        return BootInterval(estimate, math.nan, math.nan, math.nan, s)
    lo, hi = np.quantile(reps, [tail, 1.0 - tail])
    se = float(reps.std(ddof=1)) * math.sqrt(s / (s - 1))
    return BootInterval(estimate, float(lo), float(hi), se, s)


def ratio(num: str, den: str) -> Statistic:
    """The statistic ``Σnum / Σden`` (NaN where ``Σden`` is 0)."""

    def stat(x: Mapping[str, np.ndarray]) -> np.ndarray:
        d = np.asarray(x[den], dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(d > 0, np.asarray(x[num], dtype=float) / np.where(d > 0, d, 1), np.nan)

    return stat


def rate_bootstrap(
    per_seed: pd.DataFrame, num: str, den: str, level: float = 0.9, **kwargs: int
) -> BootInterval:
    """A pooled proportion ``Σnum / Σden`` over seeds (``k = Σnum`` of ``n = Σden`` trials)
    with Wilson's interval at the effective sample size the seeds' clustering leaves.

    The cluster bootstrap over seeds gives the proportion's standard error SE; the design
    effect ``deff = max(1, SE² / (p(1−p)/n))`` says how much the claims of one seed move
    together, and the interval is Wilson's at ``n / deff`` trials
    (:func:`~evaluation.study.evidence.wilson_bounds`).  Unlike the percentile interval it
    does not collapse to a point at 0 or n errors (a seed-free bootstrap of 0 errors is
    always 0); at 0 < p < 1 it is about as wide as the bootstrap's (module docstring; the
    coverage is measured in ``tests/evaluation/study/test_bootstrap.py``).  ``se`` is the
    bootstrap's; fewer than 2 seeds give no interval.
    """
    iv = cluster_bootstrap(per_seed[[num, den]], ratio(num, den), level, **kwargs)
    k, n = float(per_seed[num].sum()), float(per_seed[den].sum())
    iv = iv._replace(k=k, n=n)
    if not (n > 0 and math.isfinite(iv.se)):
        return iv
    p = k / n
    binomial = p * (1.0 - p) / n
    deff = max(1.0, iv.se**2 / binomial) if binomial > 0 else 1.0
    lo, hi = wilson_bounds(p, n / deff, level)
    return iv._replace(lo=lo, hi=hi)


def mcnemar_exact(a: ArrayLike, b: ArrayLike) -> McNemar:
    """The exact McNemar test of paired binary outcomes (e.g. a method's confident error and
    NUTS's on the same (seed, claim)): a two-sided binomial test on the discordant pairs.

    It treats the pairs as independent; the claims of one seed are not, which is why the
    study states the cluster bootstrap's paired interval beside it.
    """
    x, y = (np.asarray(v, dtype=bool).ravel() for v in (a, b))
    if x.size != y.size:
        raise ValueError("mcnemar_exact needs the same number of outcomes in a and b")
    only_a, only_b = int((x & ~y).sum()), int((~x & y).sum())
    d = only_a + only_b
    p = float(stats.binomtest(only_a, d, 0.5).pvalue) if d else 1.0
    return McNemar(only_a, only_b, min(p, 1.0), int(x.size))


def detectable_difference(
    se: float,
    n_seeds: int,
    n_pairs: int | None = None,
    level: float = 0.9,
    power: float = POWER,
) -> float:
    """The smallest paired difference detected with probability ``power`` (module docstring).

    Parameters
    ----------
    se : float
        Bootstrap standard error of the observed paired difference
        (:attr:`BootInterval.se`).
    n_seeds : int
        Seeds the difference rests on (t quantiles with ``n_seeds − 1`` degrees of freedom).
    n_pairs : int, optional
        For a difference of rates: the paired (seed, claim) outcomes (adds the Bernoulli
        variance ``δ(1−δ)/n_pairs`` of the shift itself).  None for other statistics.
    level, power : float
        The two-sided test's level (as the intervals': α = 1 − level) and the power.

    Returns
    -------
    float
        δ; NaN with fewer than 2 seeds or a non-finite ``se``, and for a statistic other than
        a rate whose seeds showed no variance at all (nothing says what it could detect).
    """
    check_level(level)
    check_level(power)
    if n_seeds < 2 or not math.isfinite(se) or (se == 0.0 and not n_pairs):
        return math.nan
    df = n_seeds - 1
    q = float(stats.t.ppf((1.0 + level) / 2.0, df) + stats.t.ppf(power, df))
    if not n_pairs:
        return q * se
    # δ² = q²(se² + δ(1 − δ)/N)  <=>  δ²(1 + q²/N) − δ q²/N − q² se² = 0
    a, b = 1.0 + q * q / n_pairs, q * q / n_pairs
    return float((b + math.sqrt(b * b + 4.0 * a * q * q * se * se)) / (2.0 * a))


__all__ = ["BOOT_SEED", "N_BOOT", "POWER", "BootInterval", "McNemar", "Statistic",
           "cluster_bootstrap", "detectable_difference", "expanded_tail", "mcnemar_exact",
           "rate_bootstrap", "ratio", "resample_weights"]  # fmt: skip
