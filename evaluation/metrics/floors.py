"""Monte Carlo noise floors of cross-method numbers, and the effective n of a coverage band.

A cross-method number (sd ratio, |SME|, W1/sd, correlation distance, ...) of a method against
an exact posterior is never exactly its ideal value, even for a second exact sample: two exact
N(0, I) samples of 840 elements with 1,000 and 2,000 draws already differ by a correlation
distance of about 32.  The *floor* of a number is the same number computed for an independent
pair of exact-posterior samples: disjoint chain halves of the reference (chains ``0..C/2-1``
against ``C/2..C-1``; with one chain the first against the second half of its draws), the first
half thinned to the method's number of draws when it has more, so that the statistic sees the
same sample size.  A number is *beyond its floor* when its deviation from the ideal value
(``|log x|`` for ratios, ``x`` for distances) exceeds :data:`FLOOR_FACTOR` times the floor's
(for the median sd ratio, at least :data:`FLOOR_FACTOR` times its noise from the floor's
per-element spread, :func:`median_noise`).

Pure functions: posteriors in (:class:`~evaluation.metrics.draws.Draws`), numbers out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from evaluation.metrics.draws import Draws

#: A number is beyond its floor when its deviation exceeds this many times the floor's (the
#: floor is one realisation of the noise, so a margin keeps pure noise from being flagged).
FLOOR_FACTOR = 2.0
#: Block statistics that are ratios (ideal 1; deviation |log x|); the rest are distances
#: (ideal 0; deviation x).
RATIO_STATS = ("sd_ratio_median", "sd_ratio_min", "sd_ratio_max")
DISTANCE_STATS = ("sme_mean_abs", "sme_max_abs", "wasserstein_mean", "wasserstein_std_mean",
                  "corr_frobenius", "corr_rms")  # fmt: skip
FLOOR_STATS = RATIO_STATS + DISTANCE_STATS
#: The coefficient blocks whose coverage of the truth is reported.
COVERAGE_BLOCKS = ("beta_worker", "beta_site")


def split_chains(draws: Draws) -> tuple[Draws, Draws]:
    """Two disjoint halves of a posterior: chains ``0..C/2-1`` and ``C/2..C-1``.

    With one chain, the first and second half of its draws.

    Raises
    ------
    ValueError
        When there are fewer than two chains and fewer than four draws.
    """
    n_chain, n_draw = draws.n_chains, draws.n_draws
    if n_chain >= 2:
        half = n_chain // 2
        return draws.select(chains=slice(0, half)), draws.select(chains=slice(half, n_chain))
    if n_draw >= 4:
        half = n_draw // 2
        return draws.select(draws=slice(0, half)), draws.select(draws=slice(half, 2 * half))
    raise ValueError(f"cannot split {n_chain} chain(s) x {n_draw} draws into two halves")


def thin_to(draws: Draws, n_draws: int | None) -> Draws:
    """``draws`` with at most ``n_draws`` draws in all, evenly spaced within each chain."""
    n_chain, n_draw = draws.n_chains, draws.n_draws
    if n_draws is None or n_draws >= n_chain * n_draw:
        return draws
    per_chain = max(2, math.ceil(n_draws / n_chain))
    keep = np.unique(np.linspace(0, n_draw - 1, per_chain).round().astype(int))
    return draws.select(draws=keep)


def floor_of(compare_fn: Callable[..., Any], ref_draws: Draws, n_draws: int | None = None,
             **kwargs: Any) -> Any:  # fmt: skip
    """``compare_fn(half_a, half_b, **kwargs)`` for two disjoint halves of ``ref_draws``.

    Parameters
    ----------
    compare_fn : callable
        A comparison ``(method, reference, **kwargs) -> result``, e.g.
        :func:`evaluation.metrics.posterior.compare_to_reference`.
    ref_draws : Draws
        The exact (reference / NUTS) posterior.
    n_draws : int, optional
        The compared method's number of draws: the first half (in the method's place) is
        thinned to it when it has more.
    """
    a, b = split_chains(ref_draws)
    return compare_fn(thin_to(a, n_draws), b, **kwargs)


def deviation(stat: str, value: Any) -> float | None:
    """Distance of a statistic from its ideal value (``|log x|`` for ratios, else ``x``)."""
    if value is None or not np.isfinite(value):
        return None
    if stat in RATIO_STATS:
        return abs(math.log(value)) if value > 0 else math.inf
    return float(value)


def beyond_floor(stat: str, value: Any, floor: Any, factor: float = FLOOR_FACTOR,
                 noise: float | None = None) -> bool | None:  # fmt: skip
    """Whether ``value`` deviates more than ``factor`` x the floor's deviation, or than
    ``factor`` x ``noise`` when that is larger (None: unknown)."""
    dv, df = deviation(stat, value), deviation(stat, floor)
    if dv is None or df is None:
        return None
    return bool(dv > factor * max(df, noise or 0.0))


def median_noise(floor: Mapping[str, Any]) -> float | None:
    """Noise scale of a block's median sd ratio: the floor's per-element spread
    (mean |log| of its min and max ratio) over sqrt(n).  One realisation of the median can land
    on 1 by chance; this keeps the flag from then firing on Monte Carlo noise."""
    lo, hi = (
        deviation("sd_ratio_min", floor.get("sd_ratio_min")),
        deviation("sd_ratio_max", floor.get("sd_ratio_max")),
    )
    n = floor.get("n")
    if lo is None or hi is None or not n:
        return None
    return 0.5 * (lo + hi) / math.sqrt(n)


def add_floor_stats(stats: Mapping[str, Any], floor: Mapping[str, Any]) -> dict[str, Any]:
    """A block's stats with ``<stat>_floor`` and ``<stat>_beyond_floor`` for every floored stat,
    and ``beyond_floor``: whether any of them is beyond its floor."""
    out = dict(stats)
    flags = []
    for stat in FLOOR_STATS:
        if stat not in stats:
            continue
        out[f"{stat}_floor"] = floor.get(stat)
        noise = median_noise(floor) if stat == "sd_ratio_median" else None
        out[f"{stat}_beyond_floor"] = beyond_floor(stat, stats[stat], floor.get(stat), noise=noise)
        flags.append(out[f"{stat}_beyond_floor"])
    out["beyond_floor"] = any(bool(f) for f in flags)
    return out


def with_floors(compared: Mapping[str, Any], floor: Mapping[str, Any] | None,
                how: str) -> dict[str, Any]:  # fmt: skip
    """A :func:`~evaluation.metrics.posterior.compare_to_reference` result with the floors of
    every block (and ``all``) beside its numbers, and ``floor``: how the floor was made."""
    out = dict(compared)
    if not floor:
        out["floor"] = {"method": None, "note": how}
        return out
    out["blocks"] = {b: add_floor_stats(s, (floor.get("blocks") or {}).get(b) or {})
                     for b, s in (compared.get("blocks") or {}).items()}  # fmt: skip
    if compared.get("all"):
        out["all"] = add_floor_stats(compared["all"], floor.get("all") or {})
    out["floor"] = {
        "method": how,
        "factor": FLOOR_FACTOR,
        "n_draws": floor.get("n_draws"),
        "ref_n_draws": floor.get("ref_n_draws"),
    }
    return out


def split_note(ref_draws: Draws) -> str:
    """How :func:`split_chains` splits ``ref_draws``, in words."""
    c = ref_draws.n_chains
    if c >= 2:
        return f"chains 0-{c // 2 - 1} vs {c // 2}-{c - 1} of the exact posterior"
    return "first vs second half of the draws of the exact posterior's one chain"


def compare_with_floor(compare_fn: Callable[..., dict], draws: Draws, ref_draws: Draws,
                       **kwargs: Any) -> dict[str, Any]:  # fmt: skip
    """``compare_fn(draws, ref_draws, **kwargs)`` with the floors of its numbers beside them.

    The floor is ``compare_fn`` of two disjoint halves of ``ref_draws`` (:func:`floor_of`,
    thinned to the method's draws); when it cannot be computed (too few draws, an error) the
    result says why in ``floor.note`` and carries no ``*_floor`` numbers.
    """
    compared = compare_fn(draws, ref_draws, **kwargs)
    try:
        floor = floor_of(compare_fn, ref_draws, draws.n_samples)
    except (ValueError, KeyError) as exc:
        return with_floors(compared, None, f"no floor: {exc}")
    return with_floors(compared, floor, split_note(ref_draws))


# ----------------------------------------------------------------------------- coverage band
def mean_abs_corr(draws: np.ndarray) -> float:
    """Mean pairwise |correlation| between the columns of ``draws`` (S, n), corrected for its
    value e = sqrt(2 / (pi S)) for independent columns: (mean - e) / (1 - e), clipped to
    [0, 1] (0 for independent columns, 1 for identical ones; 0 for fewer than 2 columns)."""
    x = np.asarray(draws, float)
    x = x.reshape(x.shape[0], -1)
    s = x.shape[0]
    x = x[:, x.std(axis=0) > 0]
    if x.shape[1] < 2 or s < 3:
        return 0.0
    c = np.abs(np.corrcoef(x, rowvar=False))
    k = c.shape[0]
    mean = (c.sum() - k) / (k * (k - 1))
    noise = math.sqrt(2.0 / (math.pi * s))
    return float(min(1.0, max(0.0, (mean - noise) / (1.0 - noise))))


def effective_n(n: int, mean_abs_correlation: float) -> float:
    """n / (1 + (n - 1) * mean pairwise |corr|): the number of independent trials that n
    dependent coefficients are worth in a coverage count."""
    rho = min(1.0, max(0.0, float(mean_abs_correlation)))
    return float(n) / (1.0 + (n - 1) * rho)


def coverage_band(nominal: float, n: float, k: float = 2.0) -> tuple[float, float]:
    """``nominal`` +- ``k`` binomial sd for ``n`` (effective) trials."""
    sd = math.sqrt(nominal * (1.0 - nominal) / max(float(n), 1.0))
    return nominal - k * sd, nominal + k * sd


def coverage_dependence(draws: np.ndarray) -> dict[str, float]:
    """``{"n", "mean_abs_corr", "n_eff"}`` of a block's coverage count from its draws (S, n)."""
    x = np.asarray(draws, float)
    x = x.reshape(x.shape[0], -1)
    rho = mean_abs_corr(x)
    return {"n": int(x.shape[1]), "mean_abs_corr": rho, "n_eff": effective_n(x.shape[1], rho)}


def coverage_dependence_section(draws: Draws, data: Any) -> dict[str, dict[str, float]] | None:
    """Per coefficient block with a known truth (``beta_worker``, ``beta_site``):
    :func:`coverage_dependence` of its posterior draws aligned to ``data`` (None without truth).
    """
    if getattr(data, "truth", None) is None:
        return None
    return {b: coverage_dependence(draws.stacked(b)) for b in COVERAGE_BLOCKS if b in data.truth}
