"""Simulation-based calibration of claim probabilities (issue 30, "Done when").

In a world whose parameters are drawn from the model's own prior, exact inference is
calibrated: among the claims it gives P ~ p, a share p is true.  The check runs on a conjugate
stand-in of the ledger's beta_site claims, so the exact posterior is in closed form and the test
takes well under a second:

    beta ~ Normal(0, tau^2 I_K),   y | beta ~ Normal(X beta, s^2 I_n),   X fixed, small, correlated
    posterior: Normal(m, V),  V = (X'X / s^2 + I / tau^2)^-1,  m = V X'y / s^2
    claim c'beta > 0 (a sign claim: c = e_k; a contrast: c = e_0 - e_1):  P = Phi(c'm / sqrt(c'Vc))

Each seed draws beta from the prior, then y; each claim's truth is its statement at that beta.
Over 48 seeds x 6 claims the P are binned as issue 29 bins them (0-0.05, 0.05-0.25, ...,
0.95-1) and each bin's mean P must lie in the 99% Wilson interval of its fraction true.  The
same check must fail for an overconfident posterior (sd / 3, as mean-field's narrow posteriors)
and for one computed under a wrong prior, so it can catch a miscalibrated method.  The pairs of
one seed share its data and six bins are checked, so on 200 other sets of 48 seeds the exact
posterior fails the check 8% of the time (the sd / 3 posterior: 100%); these fixed seeds pass.

The bins are the study's (:data:`evaluation.study.truth.CALIBRATION_BINS`); the interval is a
99% Wilson interval over the pairs, not the study's 90% seed bootstrap
(:func:`evaluation.study.truth.calibration`), so that six bins checked at once rarely fail by
chance (the 8% above).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.stats import norm

from evaluation.study.truth import CALIBRATION_BINS

#: Bin edges of P: the study's (issue 29: 0-0.05, 0.05-0.25, ..., 0.95-1).
EDGES = CALIBRATION_BINS
#: Two-sided 99% normal quantile of the Wilson intervals.
Z99 = 2.576
N_SEEDS, K, N_OBS, TAU, NOISE = 48, 4, 8, 1.0, 1.5


class Bin(NamedTuple):
    """One calibration bin: P in [lo, hi), its pairs, mean P, fraction true and its interval."""

    lo: float
    hi: float
    n: int
    mean_p: float
    frac_true: float
    ci_lo: float
    ci_hi: float


def wilson(k: int, n: int, z: float = Z99) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion k / n."""
    p, z2 = k / n, z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return centre - half, centre + half


def calibration_table(p: np.ndarray, truth: np.ndarray, edges=EDGES) -> list[Bin]:
    """P against the fraction true, per bin of P (the last bin includes 1)."""
    p, truth = np.asarray(p, float), np.asarray(truth, bool)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, len(edges) - 2)
    out = []
    for b in range(len(edges) - 1):
        sel = which == b
        n = int(sel.sum())
        if n:
            k = int(truth[sel].sum())
            out.append(Bin(edges[b], edges[b + 1], n, float(p[sel].mean()), k / n, *wilson(k, n)))
    return out


def miscalibrated(table: list[Bin], min_n: int = 5) -> list[Bin]:
    """The bins (with at least ``min_n`` pairs) whose mean P lies outside their interval."""
    return [b for b in table if b.n >= min_n and not b.ci_lo <= b.mean_p <= b.ci_hi]


#: The claims: c'beta > 0 for each row c (K sign claims, then two contrasts).
CLAIMS = np.vstack([np.eye(K), [1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0]])


def design() -> np.ndarray:
    """A small fixed design with correlated columns (as the paper's worksite features are)."""
    rng = np.random.default_rng(2024)
    z = rng.normal(size=(N_OBS, K))
    return z + 0.6 * z[:, [0]]


def sbc_pairs(sd_scale: float = 1.0, prior_sd: float = TAU) -> tuple[np.ndarray, np.ndarray]:
    """(P, truth) of every (seed, claim): parameters from the prior, the exact posterior
    (``sd_scale`` < 1 narrows it; ``prior_sd`` != ``TAU`` computes it under a wrong prior)."""
    x = design()
    v = np.linalg.inv(x.T @ x / NOISE**2 + np.eye(K) / prior_sd**2)
    ps, truths = [], []
    for seed in range(N_SEEDS):
        rng = np.random.default_rng(seed)
        beta = rng.normal(0.0, TAU, size=K)  # the world: a draw of the model's own prior
        y = x @ beta + rng.normal(0.0, NOISE, size=N_OBS)
        m = v @ (x.T @ y / NOISE**2)
        sd = np.sqrt(np.einsum("ck,kl,cl->c", CLAIMS, v, CLAIMS)) * sd_scale
        ps.append(norm.cdf(CLAIMS @ m / sd))
        truths.append(CLAIMS @ beta > 0)
    return np.concatenate(ps), np.concatenate(truths)


def test_exact_inference_is_calibrated_in_a_world_drawn_from_its_prior():
    p, truth = sbc_pairs()
    table = calibration_table(p, truth)
    assert sum(b.n for b in table) == N_SEEDS * len(CLAIMS)
    assert len([b for b in table if b.n >= 5]) >= 5  # the P spread over the bins
    assert miscalibrated(table) == [], table


def test_an_overconfident_posterior_or_a_wrong_prior_is_caught():
    """sd / 3 (mean-field's narrow posteriors), and a prior sd of 0.2 where the world's is 1
    (a scale pinned near zero): both make extreme P too often wrong."""
    for p, truth in (sbc_pairs(sd_scale=1 / 3), sbc_pairs(prior_sd=0.2)):
        assert miscalibrated(calibration_table(p, truth)), "the check has no power"


def test_calibration_table_bins_by_p_and_counts_the_truth():
    p = np.array([0.0, 0.04, 0.05, 0.3, 0.96, 1.0, 1.0])
    truth = np.array([0, 1, 0, 1, 1, 1, 0], bool)
    table = calibration_table(p, truth)
    assert [(b.lo, b.n) for b in table] == [(0.0, 2), (0.05, 1), (0.25, 1), (0.95, 3)]
    last = table[-1]
    assert last.frac_true == 2 / 3 and last.mean_p == np.mean([0.96, 1.0, 1.0])
    assert last.ci_lo < 2 / 3 < last.ci_hi
    lo, hi = wilson(50, 100)
    assert hi - 0.5 == 0.5 - lo and 0.37 < lo < 0.38  # 99%: 0.5 -/+ 0.126
