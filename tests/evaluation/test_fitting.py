"""Reference criteria, loading and the content-hashed cache (with a stand-in sampler)."""

from __future__ import annotations

import numpy as np
import pytest
from evalhelpers import IidNormalBackend, make_data, make_idata, normal_draws, point

from backends.spec import ModelSpec
from evaluation.fitting import cached_fit, cached_reference, load_reference, same_settings
from evaluation.metrics.posterior import compare_to_reference
from evaluation.metrics.reference import check_reference


def _idata(chains=4, draws=500, n_div=0, seed=0):
    data = make_data(n_sites=3, kw=2)
    d = normal_draws(data, point(data), 0.3, chains, draws, seed)
    div = np.zeros((chains, draws), bool)
    div[0, :n_div] = True
    return data, make_idata(d, data, sample_stats={"diverging": div})


def test_iid_draws_from_four_chains_pass():
    # iid, fixed seed: R-hat within ~0.005 of 1 (measured max < 1.01), ESS ~ 2000 >> 400
    check = check_reference(_idata()[1])
    assert check.passed
    assert set(check.criteria) == {
        "chains",
        "max_rhat",
        "min_ess_bulk",
        "min_ess_tail",
        "n_divergent",
    }


def test_failing_criteria_are_named_and_flagged():
    _, ref = _idata(chains=2, draws=100, n_div=3)
    check = check_reference(ref)
    assert not check.passed
    failed = {k for k, c in check.criteria.items() if not c["passed"]}
    # 2 x 100 iid draws: ESS ~ 200 < 400 (R-hat of 200 draws has sd ~0.01, so it may fail too)
    assert failed - {"max_rhat"} == {"chains", "n_divergent", "min_ess_bulk", "min_ess_tail"}
    _, method = _idata(seed=1)
    out = compare_to_reference(method, ref, check=check)
    assert out["reference_flag"].startswith("failed criteria: chains")


def test_load_reference_round_trip(tmp_path):
    _, idata = _idata()
    idata.to_netcdf(str(tmp_path / "posterior.nc"))
    loaded, check = load_reference(tmp_path / "posterior.nc")
    assert check.passed
    np.testing.assert_array_equal(loaded.posterior["alpha"].values, idata.posterior["alpha"])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_reference(tmp_path / "nope.nc")


def test_cached_reference_computes_once_per_key(tmp_path):
    data = make_data(n_sites=3, kw=2)
    cfg = {
        "_target_": "evalhelpers.IidNormalBackend",
        "name": "iid_nuts",
        "chains": 4,
        "draws": 200,
        "progress": False,
    }
    IidNormalBackend.calls = 0
    first, check = cached_reference(cfg, data, ModelSpec(), 0, tmp_path)
    again, _ = cached_reference({**cfg, "progress": True}, data, ModelSpec(), 0, tmp_path)
    assert IidNormalBackend.calls == 1 and check.passed
    np.testing.assert_array_equal(first.posterior["alpha"].values, again.posterior["alpha"])
    cached_reference(cfg, data, ModelSpec(), 1, tmp_path)  # another seed: another key
    cached_reference(cfg, data, ModelSpec(parameterization="centered"), 0, tmp_path)
    other = make_data(n_sites=3, kw=2, seed=5)
    cached_reference(cfg, other, ModelSpec(), 0, tmp_path)
    assert IidNormalBackend.calls == 4
    assert len(list(tmp_path.glob("iid_nuts-*.nc"))) == 4
    assert len(list(tmp_path.glob("iid_nuts-*.json"))) == 4


def test_cached_fit_serves_the_reference_and_an_equal_run(tmp_path):
    """A run whose settings equal the reference's reads the same cached fit (issue 15)."""
    data = make_data(n_sites=3, kw=2)
    cfg = {"_target_": "evalhelpers.IidNormalBackend", "name": "iid_nuts", "chains": 4,
           "draws": 200, "progress": False}  # fmt: skip
    IidNormalBackend.calls = 0
    made = cached_fit(cfg, data, ModelSpec(), 0, tmp_path)
    ref, ref_check = cached_reference(cfg, data, ModelSpec(), 0, tmp_path)
    assert ref_check == check_reference(ref)  # read from the sidecar, not recomputed
    read = cached_fit({**cfg, "progress": True}, data, ModelSpec(), 0, tmp_path)
    assert IidNormalBackend.calls == 1
    assert made.info["from_cache"] is False and read.info["from_cache"] is True
    assert read.info["cache_file"] == made.info["cache_file"]
    assert read.timing == pytest.approx(made.timing)  # the cost of the one fit that was made
    np.testing.assert_array_equal(read.idata.posterior["alpha"], ref.posterior["alpha"])
    assert same_settings(cfg, {**cfg, "progress": True})
    assert not same_settings(cfg, {**cfg, "draws": 201})
