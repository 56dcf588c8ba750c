"""A posterior world keeps the real design and takes its truth from its own draw (issue 30).

The generator is pure (source data + one parameter set + seed -> data), so these tests hand it
draws made here; the fitted, cached posterior it is given in a run is tested in
tests/evaluation/test_worlds.py.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.special import expit

from backends.spec import VAR_DIMS, linear_predictor
from evaluation.data.posterior_world import draw_index, pick_draw, posterior_world
from evaluation.data.twin import make_paper_twin

S = 64  # draws of the stand-in posterior


@pytest.fixture(scope="module")
def source():
    """The real data: a small twin (its own truth and outcomes must not leak into a world)."""
    return make_paper_twin(n_worksites=8, n_workers=600, sigma_worker=0.5, seed=5)


@pytest.fixture(scope="module")
def draws(source):
    """Stacked stand-in posterior draws, (S, ...) per variable, far from the source's truth:
    alpha around +1 (the source's prevalence is 17%, alpha ~ -1.8), so outcomes simulated at
    the source's truth instead of the draw would be caught by their mean."""
    rng = np.random.default_rng(0)
    ks, kw, j = len(source.site_features), len(source.worker_features), source.n_worksites
    return {
        "alpha": 1.0 + 0.3 * rng.normal(size=S),
        "beta_site": 0.2 * rng.normal(size=(S, ks)),
        "sigma_site": np.abs(rng.normal(1.0, 0.1, S)),
        "sigma_worker": np.abs(rng.normal(0.4, 0.05, S)),
        "beta_worker": 0.4 * rng.normal(size=(S, j, kw)),
    }


def test_draw_index_is_a_permutation_of_the_draws():
    picked = [draw_index(S, seed, order_seed=3) for seed in range(S)]
    assert sorted(picked) == list(range(S))  # seeds 0..S-1: every draw once
    assert picked != list(range(S))  # not the chain order (neighbouring draws correlate)
    assert draw_index(S, S + 5, order_seed=3) == picked[5]  # beyond S it wraps
    assert [draw_index(S, s, order_seed=4) for s in range(S)] != picked
    with pytest.raises(ValueError, match="n_draws >= 1"):
        draw_index(0, 1)


def test_world_keeps_the_design_and_its_truth_is_its_own_draw(source, draws):
    worlds = {}
    for seed in range(4):
        index = draw_index(S, seed)
        world = posterior_world(source, pick_draw(draws, index), seed, name="w",
                                meta={"draw_index": index})  # fmt: skip
        for attr in ("X_site", "X_worker", "site"):
            np.testing.assert_array_equal(getattr(world, attr), getattr(source, attr))
        for attr in ("site_features", "worker_features", "worksite_ids"):
            assert getattr(world, attr) == getattr(source, attr)
        for name in VAR_DIMS:  # the truth is exactly the draw the seed picked
            np.testing.assert_array_equal(world.truth[name], draws[name][index])
        assert world.cluster_labels is None and world.name == "w"
        assert world.meta["draw_index"] == index and world.meta["seed"] == seed
        assert world.meta["design"] == source.meta["design"]
        json.dumps(world.meta)
        worlds[seed] = world
    assert len({w.meta["draw_index"] for w in worlds.values()}) == 4  # own draws
    for seed, world in worlds.items():  # re-simulated: neither the source's nor another's
        assert np.mean(world.y != source.y) > 0.2
        assert all(np.mean(world.y != other.y) > 0.1 for s, other in worlds.items() if s != seed)


def test_outcomes_follow_the_drawn_parameters(source, draws):
    """sum(y) matches sum(expit(eta)) at the draw within 4 binomial sds (the source's truth
    would give ~17% positives, the draws ~70%); y = 1 rows have the higher mean logit."""
    params = pick_draw(draws, 7)
    world = posterior_world(source, params, seed=11)
    p = expit(linear_predictor(params, source))
    assert abs(world.y.sum() - p.sum()) < 4 * np.sqrt(np.sum(p * (1 - p)))
    eta = linear_predictor(params, source)
    assert eta[world.y == 1].mean() > eta[world.y == 0].mean()
    same = posterior_world(source, params, seed=11)
    np.testing.assert_array_equal(same.y, world.y)  # a seed gives one world
    assert np.mean(posterior_world(source, params, seed=12).y != world.y) > 0.1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.pop("sigma_worker"), "lack sigma_worker"),
        (lambda p: p.update(beta_worker=p["beta_worker"][:-1]), "beta_worker must be finite"),
        (lambda p: p.update(alpha=np.nan), "alpha must be finite"),
    ],
)
def test_parameters_that_do_not_fit_the_design_are_one_line_errors(source, draws, change,
                                                                   message):  # fmt: skip
    params = pick_draw(draws, 0)
    change(params)
    with pytest.raises(ValueError, match=message) as err:
        posterior_world(source, params, seed=0)
    assert "\n" not in str(err.value)
