"""Reference criteria, loading and the content-hashed cache (with a stand-in sampler)."""

from __future__ import annotations

import numpy as np
import pytest
from evalhelpers import IidNormalBackend, make_data, make_idata, normal_draws, point

from backends.spec import ModelSpec
from evaluation.fitting import (
    cached_fit,
    cached_reference,
    fit_seed,
    load_reference,
    same_settings,
)
from evaluation.metrics.draws import extract
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
    check = check_reference(extract(_idata()[1]))
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
    check = check_reference(extract(ref))
    assert not check.passed
    failed = {k for k, c in check.criteria.items() if not c["passed"]}
    # 2 x 100 iid draws: ESS ~ 200 < 400 (R-hat of 200 draws has sd ~0.01, so it may fail too)
    assert failed - {"max_rhat"} == {"chains", "n_divergent", "min_ess_bulk", "min_ess_tail"}
    _, method = _idata(seed=1)
    out = compare_to_reference(extract(method), extract(ref), check=check)
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
    assert ref_check == check_reference(extract(ref))  # read from the sidecar, not recomputed
    read = cached_fit({**cfg, "progress": True}, data, ModelSpec(), 0, tmp_path)
    assert IidNormalBackend.calls == 1
    assert made.info["from_cache"] is False and read.info["from_cache"] is True
    assert read.info["cache_file"] == made.info["cache_file"]
    assert read.timing == pytest.approx(made.timing)  # the cost of the one fit that was made
    np.testing.assert_array_equal(read.idata.posterior["alpha"], ref.posterior["alpha"])
    assert same_settings(cfg, {**cfg, "progress": True})
    assert not same_settings(cfg, {**cfg, "draws": 201})


def test_a_repeat_gets_its_own_reproducible_seed_and_repeat_zero_keeps_the_seed():
    assert fit_seed(7, 0) == 7  # the first fit: the reference and its cache are shared
    seeds = {fit_seed(s, k) for s in range(20) for k in (1, 2)}
    assert len(seeds) == 40 and all(0 <= x < 2**31 for x in seeds)  # no collisions here
    assert fit_seed(3, 1) == fit_seed(3, 1) and fit_seed(3, 1) != fit_seed(4, 1)


def test_a_run_is_paired_with_a_first_nuts_fit_never_its_repeat():
    import pandas as pd

    from evaluation.sweep.columns import repeat_label
    from evaluation.sweep.cross import mcmc_partner

    group = pd.DataFrame({
        "backend": ["pymc_nuts", "pymc_nuts", "pyro_meanfield"], "family": ["mcmc", "mcmc", "vi"],
        "fit_repeat": [1, 0, 0],  # the repeat comes first in job order
    })  # fmt: skip
    assert mcmc_partner(group, 2) == 1 and mcmc_partner(group, 0) == 1
    assert mcmc_partner(group, 1) == 0  # NUTS's partner is its repeat: the floor pair
    assert repeat_label("pymc_nuts", 1) == "pymc_nuts (repeat 1)"
    assert repeat_label("pymc_nuts", 0) == "pymc_nuts"
