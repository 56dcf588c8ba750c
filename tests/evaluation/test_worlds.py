"""Worlds drawn from a real posterior through the API (issue 30): the source's NUTS posterior is
fitted once and cached, each seed's truth is its own draw of it, the real design and held-out
rows are kept; and the claims such a world can contest, read off the source posterior."""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest

from evaluation import api
from evaluation.metrics.draws import extract

#: A small real-data stand-in (the twin at source seed 0, worksites 5x closer than the paper's
#: so outcomes are not near-certain) and a short real NUTS fit of it.
SOURCE = {"n_worksites": 6, "n_workers": 300, "site_scale": 0.2}
FIT = {"backend": "pymc_nuts", "seed": 0,
       "settings": {"chains": 2, "tune": 150, "draws": 100, "progress": False}}  # fmt: skip
SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def worlds(tmp_path_factory):
    """Three worlds of one source (one NUTS fit, cached) and the source itself."""
    cache = tmp_path_factory.mktemp("worlds_cache")
    made = {seed: api.make_data("posterior_world", source="paper", source_overrides=SOURCE,
                                source_fit=FIT, cache_dir=str(cache), seed=seed)
            for seed in SEEDS}  # fmt: skip
    return made, api.make_data("paper", **SOURCE), cache


def test_the_source_posterior_is_fitted_once_and_cached(worlds):
    made, _, cache = worlds
    assert len(list(cache.glob("pymc_nuts-*.nc"))) == 1
    keys = {w.full.meta["source_fit"]["key"] for w in made.values()}
    assert len(keys) == 1
    meta = made[0].full.meta
    assert meta["source"]["config"] == "paper" and meta["source"]["overrides"] == SOURCE
    assert meta["source_fit"]["settings"]["draws"] == 100 and meta["n_draws"] == 200


def test_each_world_keeps_the_real_design_and_split(worlds):
    made, source, _ = worlds
    for world in made.values():
        for part in ("full", "train", "test"):
            w, s = getattr(world, part), getattr(source, part)
            for attr in ("X_site", "X_worker", "site"):
                np.testing.assert_array_equal(getattr(w, attr), getattr(s, attr))
            for attr in ("site_features", "worker_features", "worksite_ids"):
                assert getattr(w, attr) == getattr(s, attr)
        assert world.full.name == "posterior_world"


def test_each_seeds_truth_is_its_own_draw_of_the_cached_posterior(worlds):
    made, source, _ = worlds
    idata = az.from_netcdf(made[0].full.meta["source_fit"]["cache_file"])
    draws = extract(idata, source.full).flat()
    indices = [w.full.meta["draw_index"] for w in made.values()]
    assert len(set(indices)) == len(SEEDS)
    for world, index in zip(made.values(), indices, strict=True):
        for name, value in world.full.truth.items():
            np.testing.assert_array_equal(value, draws[name][index])
            np.testing.assert_array_equal(world.train.truth[name], value)
        assert np.mean(world.full.y != source.full.y) > 0.05  # re-simulated, not the source's
    a, b = made[0].full.truth["beta_worker"], made[1].full.truth["beta_worker"]
    assert not np.array_equal(a, b)


def test_world_config_errors_are_one_line(tmp_path):
    with pytest.raises(ValueError, match="another world"):
        api.make_data("posterior_world", source="world_paper", cache_dir=str(tmp_path))
    with pytest.raises(ValueError, match="n_wrkers"):
        api.make_data("posterior_world", source="paper", source_overrides={"n_wrkers": 5},
                      cache_dir=str(tmp_path))  # fmt: skip
    bad = {**FIT, "backend": "pymc_nutz"}
    with pytest.raises(ValueError, match=r"source_fit\.backend='pymc_nutz'"):
        api.make_data("posterior_world", source="paper", source_overrides=SOURCE,
                      source_fit=bad, cache_dir=str(tmp_path))  # fmt: skip


def test_contestable_claims_counts_undecided_claims_per_kind():
    section = {
        "thresholds": {"credible": 0.9, "contradicted": 0.1},
        "claims": [
            {"name": "a", "kind": "sign", "probability": 0.5},
            {"name": "b", "kind": "sign", "probability": 0.9},  # at a threshold: decided
            {"name": "c", "kind": "sign", "probability": 0.1, "borderline": True},
            {"name": "d", "kind": "sign", "probability": 0.95},  # undecided at 0.95 / 0.05
            {"name": "e", "kind": "top", "probability": 0.11},
            {"name": "f", "kind": "top", "probability": None},  # not identified
        ],
    }
    counts = api.contestable_claims(section)
    assert counts["sign"] == {"contestable": 1, "decided": 3, "not_evaluated": 0, "names": ["a"],
                              "probability": {"a": 0.5}, "borderline": ["c"]}  # fmt: skip
    assert (counts["top"]["contestable"], counts["top"]["not_evaluated"]) == (1, 1)
    assert counts["all"]["contestable"] == 2 and counts["all"]["names"] == ["a", "e"]
    default = api.contestable_claims({"claims": section["claims"]})  # 0.95 / 0.05
    assert default["sign"]["names"] == ["a", "b", "c"]


def test_world_contestable_reads_the_source_posterior(worlds):
    """The P it counts are the source posterior's (the share of its draws where the claim
    holds), not a world's: computed here from the cached draws."""
    made, source, cache = worlds
    feature = source.full.site_features[4]
    ledger = {"thresholds": {"credible": 0.95, "contradicted": 0.05}, "claims": [
        {"name": "s", "kind": "sign", "feature": feature, "direction": "positive"},
        {"name": "w", "kind": "scale_below", "parameter": "sigma_worker", "threshold": 1e6},
    ]}  # fmt: skip
    counts = api.world_contestable("posterior_world", claims=ledger, source="paper",
                                   source_overrides=SOURCE, source_fit=FIT,
                                   cache_dir=str(cache),
                                   evaluation={"clustering": {"enabled": False}})  # fmt: skip
    idata = az.from_netcdf(made[0].full.meta["source_fit"]["cache_file"])
    draws = extract(idata, source.full).flat()
    assert counts["scale_below"] == {"contestable": 0, "decided": 1, "not_evaluated": 0,
                                     "names": [], "probability": {}, "borderline": []}  # fmt: skip
    p = float(np.mean(draws["beta_site"][:, 4] > 0))
    sign = counts["sign"]
    assert sign["contestable"] + sign["decided"] + sign["not_evaluated"] == 1
    if sign["contestable"]:
        assert sign["probability"]["s"] == pytest.approx(p)
    with pytest.raises(ValueError, match="not a posterior world"):
        api.world_contestable("paper")
