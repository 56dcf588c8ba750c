"""Shared fixtures: small synthetic twins used by every backend's tests."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def small_twin():
    """20 worksites x 2,000 workers, sigma_worker 0.5 (the backends' recovery case)."""
    from evaluation.data.twin import make_paper_twin

    return make_paper_twin(n_worksites=20, n_workers=2000, sigma_worker=0.5, seed=0)


@pytest.fixture(scope="session")
def tiny_twin():
    """8 worksites x 300 workers: for density-equivalence checks and smoke runs."""
    from evaluation.data.twin import make_paper_twin

    return make_paper_twin(n_worksites=8, n_workers=300, sigma_worker=0.5, seed=1)


#: Site features whose columns make the paper's design rank-deficient: the five campaign-length
#: quintile dummies sum to the intercept, and log_mean_degree = log 2 + log_n_edges -
#: log_n_discovered (before standardising; an affine relation after it).
NOT_IDENTIFIED = ("campaign_length_q1", "log_mean_degree")


def identified(data):
    """``data`` without the :data:`NOT_IDENTIFIED` site columns, truth re-expressed on them.

    The outcomes and the true site logits ``alpha + X_site @ beta_site`` are unchanged: the
    new ``(alpha, beta_site)`` is the exact solution of ``[1 | X_reduced] b = eta_true``
    (the dropped columns are affine in the kept ones, so the residual is rounding only), and
    ``[1 | X_reduced]`` has full column rank, so every coefficient is identified.
    """
    import dataclasses

    import numpy as np

    keep = [i for i, f in enumerate(data.site_features) if f not in NOT_IDENTIFIED]
    assert len(keep) == len(data.site_features) - len(NOT_IDENTIFIED)
    truth = dict(data.truth)
    eta = truth["alpha"] + data.X_site @ truth["beta_site"]
    design = np.column_stack([np.ones(data.n_worksites), data.X_site[:, keep]])
    assert np.linalg.matrix_rank(design) == design.shape[1], "reduced design still singular"
    coef, *_ = np.linalg.lstsq(design, eta, rcond=None)
    np.testing.assert_allclose(design @ coef, eta, atol=1e-8 * max(1.0, np.abs(eta).max()))
    truth["alpha"], truth["beta_site"] = coef[0], coef[1:]
    return dataclasses.replace(
        data,
        X_site=data.X_site[:, keep],
        site_features=tuple(data.site_features[i] for i in keep),
        truth=truth,
        name=f"{data.name}_identified",
    )


@pytest.fixture(scope="session")
def identified_twin(small_twin):
    """The small twin on an identified site design (17 coefficients, 20 worksites)."""
    return identified(small_twin)


def hanley_mcneil_se(auc: float, n_pos: int, n_neg: int) -> float:
    """Standard error of an AUC estimate (Hanley & McNeil 1982, exponential approximation)."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)
    return float((var / (n_pos * n_neg)) ** 0.5)


@pytest.fixture(scope="session")
def oracle_comparison():
    """``compare(prob, test) -> dict``: a fit's held-out AUC and accuracy beside the oracle's.

    The oracle predicts with the true parameters (``expit`` of the true linear predictor) on
    the same held-out rows; the tolerances are 3 standard errors of the oracle's estimate
    (Hanley-McNeil for the AUC, binomial for the accuracy).  A fit that predicts at the
    oracle's level passes; a broken predictive (wrong rows, wrong worksite, sign, no worker
    effects) falls below by many standard errors.
    """
    import numpy as np
    from scipy.special import expit
    from sklearn.metrics import roc_auc_score

    from backends.spec import linear_predictor

    def compare(prob, test) -> dict:
        truth = {k: np.asarray(test.truth[k]) for k in ("alpha", "beta_site", "beta_worker")}
        oracle = expit(linear_predictor(truth, test))
        y = np.asarray(test.y) == 1
        out = {"auc": roc_auc_score(y, prob), "oracle_auc": roc_auc_score(y, oracle),
               "accuracy": float(np.mean((prob > 0.5) == y)),
               "oracle_accuracy": float(np.mean((oracle > 0.5) == y))}  # fmt: skip
        out["auc_se"] = hanley_mcneil_se(out["oracle_auc"], int(y.sum()), int((~y).sum()))
        acc = out["oracle_accuracy"]
        out["accuracy_se"] = float(np.sqrt(acc * (1 - acc) / y.size))
        return out

    return compare
