"""The forensics of the paper's sigma_worker: the type-II guide and the sigma readings."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from backends.base import check_inference_data
from backends.pyro import PyroSVI
from backends.pyro.forensics import READINGS, SIGMA_SITES
from backends.spec import ModelSpec
from evaluation.sweep.build import comparison_table
from evaluation.sweep.forensics import forensics_section, matches, verdict
from evaluation.sweep.records import collect_runs

pytest.importorskip("pyro")


def _fit(data, guide: str, parameterization: str = "centered"):
    backend = PyroSVI(
        model=ModelSpec(parameterization=parameterization), name=f"pyro_{guide}", guide=guide,
        num_steps=60, num_draws=40, progress=False, jit=False,
    )  # fmt: skip
    return backend.fit(data, seed=0)


def test_typeii_follows_the_contract_with_constant_scales(tiny_twin):
    fit = _fit(tiny_twin, "typeii")
    check_inference_data(fit.idata, tiny_twin)
    readings = fit.info["sigma_readings"]
    for site in SIGMA_SITES:
        draws = fit.idata.posterior[site].values
        assert np.ptp(draws) == 0.0  # a point estimate: every draw is the same
        assert readings[site]["point"] == pytest.approx(float(draws.ravel()[0]), rel=1e-6)
        assert readings[site]["guide_loc"] is None and readings[site]["guide_scale"] is None
    assert np.ptp(fit.idata.posterior["alpha"].values) > 0  # mean-field on the rest
    assert fit.info["guide_class"] == "AutoGuideList"


@pytest.mark.parametrize("parameterization", ["centered", "noncentered"])
def test_meanfield_records_the_three_sigma_readings(tiny_twin, parameterization):
    fit = _fit(tiny_twin, "meanfield", parameterization)
    readings = fit.info["sigma_readings"]
    assert set(readings) == set(SIGMA_SITES)
    for site in SIGMA_SITES:
        r = readings[site]
        assert set(r) == set(READINGS) and r["point"] is None
        assert all(math.isfinite(r[k]) for k in ("guide_loc", "guide_scale", "median"))
        assert r["guide_loc"] > 0 and r["guide_scale"] > 0
        # the median of the guide's log-normal marginal is exp(loc)
        assert r["median"] == pytest.approx(r["guide_loc"], rel=0.5)


def test_lowrank_has_no_readings(tiny_twin):
    assert "sigma_readings" not in _fit(tiny_twin, "lowrank").info


# ----------------------------------------------------------------------------- sweep section
def _metrics(backend: str, truth: float, readings: dict) -> dict:
    return {
        "status": "complete", "backend": backend, "language": "pyro",
        "method": backend.split("_", 1)[1], "family": "vi", "seed": 0,
        "data": {"name": "paper", "kind": "paper", "sigma_worker_truth": truth},
        "fit": {"num_steps": 100, "sigma_readings": readings},
    }  # fmt: skip


def _readings(loc: float, scale: float, median: float, point: float | None = None) -> dict:
    one = {"guide_loc": loc, "guide_scale": scale, "median": median, "point": point}
    return {"sigma_worker": one, "sigma_site": {**one, "guide_loc": 2.1}}


def _fake_sweep(root):
    runs = {
        "0_mf": _metrics("pyro_meanfield", 0.006294, _readings(0.05, 0.0071, 0.051)),
        "1_mf": _metrics("pyro_meanfield", 0.25, _readings(0.2, 0.03, 0.21)),
        "2_t2": _metrics("pyro_typeii", 0.006294, _readings(None, None, 0.02, 0.02)),
    }
    for name, metrics in runs.items():
        (root / name).mkdir(parents=True)
        (root / name / "metrics.json").write_text(json.dumps(metrics))
    return root


def test_forensics_section_names_the_matching_reading(tmp_path):
    records = collect_runs(_fake_sweep(tmp_path / "sweep"))
    df = comparison_table(records)
    section = forensics_section(df, records)
    assert section is not None and section.title == "Paper forensics"
    table = section.blocks[1][1]
    assert list(table["variant"]) == [
        "paper (published)", "pyro_meanfield", "pyro_meanfield", "pyro_typeii",
    ]  # fmt: skip
    assert matches(df[df["status"] == "complete"]) == [
        ("pyro_meanfield", 0.006294, "guide_scale", 0.0071)
    ]
    sentence = section.blocks[2][1]
    assert sentence == verdict(df)
    assert "pyro_meanfield guide scale = 0.0071 (true σ_worker 0.006294)" in sentence
    assert "typeii" not in sentence


def test_forensics_section_absent_without_readings(tmp_path):
    df = pd.DataFrame({"status": ["complete"], "backend": ["pymc_nuts"]})
    assert forensics_section(df) is None
    frame = pd.DataFrame(
        {"status": ["complete"], "backend": ["pyro_meanfield"], "data.sigma_worker_truth": [0.05],
         "fit.sigma_readings.sigma_worker.median": [0.5]}
    )  # fmt: skip
    assert verdict(frame).endswith(
        "no variant and no reading of this sweep; the closest is pyro_meanfield median of draws"
        " = 0.5 (true σ_worker 0.05), a factor 79.4 away."
    )
    assert verdict(frame.drop(columns="fit.sigma_readings.sigma_worker.median")).endswith(
        "no variant and no reading of this sweep."
    )
