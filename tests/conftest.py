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
