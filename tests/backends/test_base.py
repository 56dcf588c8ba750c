"""The backend contract of backends/base.py: declared inference family, finish_fit, checks.

No PPL runs here (the classes are imported, never constructed); the fits of each backend's own
test file check that a real fit's InferenceData carries its family.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hydra.utils import get_class

from backends.base import (
    FAMILIES,
    REQUIRED_ATTRS,
    BackendError,
    FitResult,
    build_inference_data,
    check_inference_data,
    finish_fit,
)
from backends.pymc import PyMCADVI, PyMCDADVI, PyMCNUTS, PyMCPathfinder
from backends.pyro import PyroSVI
from backends.spec import HierData, ModelSpec
from backends.stan import StanFullRank, StanMeanField, StanNUTS, StanPathfinder

CONF = Path(__file__).resolve().parents[2] / "conf" / "backend"
#: Every backend class and the family it must declare.
EXPECTED = {
    PyroSVI: "vi",
    PyMCADVI: "vi",
    PyMCNUTS: "mcmc",
    PyMCDADVI: "vi",
    PyMCPathfinder: "vi",
    StanNUTS: "mcmc",
    StanMeanField: "vi",
    StanFullRank: "vi",
    StanPathfinder: "vi",
}


def tiny_data() -> HierData:
    return HierData(
        y=[1, 0, 1],
        site=[0, 1, 1],
        X_site=[[0.5], [2.0]],
        X_worker=[[1.0], [-0.5], [0.25]],
        site_features=["s1"],
        worker_features=["w1"],
        worksite_ids=["A", "B"],
    )


def draws(chains: int = 2, n: int = 5) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "alpha": rng.normal(size=(chains, n)),
        "beta_site": rng.normal(size=(chains, n, 1)),
        "sigma_site": np.ones((chains, n)),
        "sigma_worker": np.ones((chains, n)),
        "beta_worker": rng.normal(size=(chains, n, 2, 1)),
    }


@pytest.mark.parametrize("cls", list(EXPECTED), ids=lambda c: c.__name__)
def test_every_backend_class_declares_its_family(cls):
    assert cls.family in FAMILIES
    assert cls.family == EXPECTED[cls]


def configured_targets() -> list[str]:
    """Every ``_target_`` named in conf/backend/ (leaf configs and their shared bases)."""
    return sorted(
        {
            line.partition(":")[2].split("#")[0].strip()
            for path in CONF.glob("*.yaml")
            for line in path.read_text().splitlines()
            if line.startswith("_target_:")
        }
    )


def test_every_configured_backend_declares_a_family():
    """Each Hydra `_target_` of conf/backend/ is a class with a valid family (the names of
    the backends say nothing: `pymc_nuts` is MCMC because PyMCNUTS says so)."""
    targets = configured_targets()
    assert len(targets) >= 5, targets  # PyroSVI, PyMCADVI, PyMCNUTS, StanNUTS, Stan VI...
    for target in targets:
        cls = get_class(target)
        assert cls in EXPECTED, target
        assert cls.family == EXPECTED[cls], target


class _FakeBackend:
    family = "mcmc"
    name = "fake_nuts"


def test_finish_fit_records_the_declared_family_and_checks_the_contract():
    data = tiny_data()
    timing = {"fit_s": 1.5}
    fit = finish_fit(
        _FakeBackend(),
        data,
        draws(),
        model=ModelSpec(),
        seed=3,
        library="none",
        library_version="0",
        timing=timing,
        info={"chains": 2},
        sample_stats={"diverging": np.zeros((2, 5), bool)},
    )
    assert isinstance(fit, FitResult)
    assert fit.loss is None and fit.info == {"chains": 2} and fit.timing == timing
    post = fit.idata.posterior
    assert "inference_family" in REQUIRED_ATTRS
    assert post.attrs["inference_family"] == "mcmc" and post.attrs["method"] == "nuts"
    assert fit.idata.sample_stats.attrs["inference_family"] == "mcmc"
    assert post.attrs["fit_s"] == 1.5 and post.attrs["seed"] == 3

    bad = _FakeBackend()
    bad.family = "laplace"
    with pytest.raises(BackendError, match=r"inference family must be one of \('mcmc', 'vi'\)"):
        finish_fit(bad, data, draws(), model=ModelSpec(), seed=0, library="none",
                   library_version="0", timing={}, info={})  # fmt: skip


def test_check_inference_data_requires_a_valid_inference_family():
    data = tiny_data()
    idata = build_inference_data(draws(), data, backend="x_meanfield", family="vi",
                                 library="none", library_version="0", seed=0,
                                 model=ModelSpec())  # fmt: skip
    check_inference_data(idata, data)
    idata.posterior.attrs["inference_family"] = "sampler"
    with pytest.raises(BackendError, match="inference_family 'sampler'"):
        check_inference_data(idata, data)
    del idata.posterior.attrs["inference_family"]
    with pytest.raises(BackendError, match=r"posterior attrs lack \['inference_family'\]"):
        check_inference_data(idata, data)
