"""Several Pyro fits of one data set in one vectorised loop (backends/pyro/replicates.py), and
the optimiser steps every fit records.

Real Pyro fits on the twins of tests/conftest.py; about a minute on the shared 2-core machine.
"""

from __future__ import annotations

import numpy as np
import pyro
import pytest
import torch
from evalhelpers import assert_stop_keeps_identified
from pyro import poutine
from pyro.infer import Trace_ELBO

from backends.base import check_inference_data
from backends.convergence import converged_step
from backends.pyro import PyroSVI
from backends.spec import ModelSpec, log_joint

SPEC = ModelSpec("noncentered")
GUIDES = ("meanfield", "lowrank", "fullrank")
#: A generous cap with a 500-step window (as tests/backends/test_pyro.py STOP).
STOP = {"num_steps": 4000, "num_draws": 1000, "convergence_window": 500}
#: A schedule annealed to the end (lr 0.015 x 0.999^3000 = 7e-4): no stop, no rule noise.
ANNEALED = {"num_steps": 3000, "lr_decay": 0.999, "num_draws": 1000, "convergence_window": 500}


def backend(guide: str = "meanfield", **kw) -> PyroSVI:
    kw = {"num_draws": 200, "progress": False, **kw}
    return PyroSVI(model=SPEC, name=f"pyro_{guide}", guide=guide, **kw)


# ------------------------------------------------------------------------------------------
# The replicated ELBO: each replicate's loss is its own ELBO
# ------------------------------------------------------------------------------------------
def _replicated_guide(data, guide_name: str, n: int):
    """A guide of ``n`` replicates with different (random) parameters, float64."""
    from backends.pyro.model import make_guide, make_model, to_tensors
    from backends.pyro.replicates import replicate

    pyro.clear_param_store()
    tensors, model = to_tensors(data, torch.float64), make_model(SPEC)
    guide = make_guide(model, guide_name, rank=2)
    with torch.no_grad():
        guide(*tensors)
    replicate(guide, n)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in guide.parameters():
            p.add_(0.2 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
            if guide_name == "fullrank" and p.dim() == 5:  # the factor stays strictly lower
                p.copy_(p.tril(-1))
    return model, guide


@pytest.fixture(scope="module")
def three_designs():
    """Three data sets of one design (tiny twins of seeds 1-3: the same sizes)."""
    from evaluation.data.twin import make_paper_twin

    return [make_paper_twin(n_worksites=8, n_workers=300, sigma_worker=0.5, seed=k)
            for k in (1, 2, 3)]  # fmt: skip


@pytest.mark.parametrize("guide_name", GUIDES)
@pytest.mark.parametrize("per_replicate", [False, True], ids=["one data set", "one per seed"])
def test_weight_gradient_is_each_replicates_own_negative_elbo(
    three_designs, guide_name, per_replicate
):
    """One step of Pyro's Trace_ELBO over 3 replicates: d loss / d weight_r must be replicate
    r's log q - log p at its own draw, with log p the NumPy reference log joint of its own data
    set and log q the density of replicate r's own Gaussian (its slice of the parameters), and
    their sum the loss.  A weight that scaled the wrong dim, parameters shared across
    replicates, or a replicate scored on another's data breaks this."""
    from backends.pyro.model import to_tensors
    from backends.pyro.replicates import stack, weighted

    n, datas = 3, three_designs if per_replicate else three_designs[:1] * 3
    model, guide = _replicated_guide(datas[0], guide_name, n)
    tensors = stack([to_tensors(d, torch.float64) for d in datas])
    weight = torch.ones(n, 1, 1, dtype=torch.float64, requires_grad=True)
    pyro.set_rng_seed(4)
    total = Trace_ELBO(max_plate_nesting=3).loss_and_grads(
        weighted(model, n), weighted(guide, n), weight, *tensors
    )
    per = weight.grad.reshape(-1).numpy()
    pyro.set_rng_seed(4)  # the same random numbers: the draws of that step
    trace = poutine.trace(weighted(guide, n)).get_trace(weight, *tensors)
    latent = next(s["value"] for name, s in trace.nodes.items() if name.endswith("_latent"))
    expected = []
    with torch.no_grad():
        for r in range(n):
            values = {k: trace.nodes[k]["value"][r].numpy().squeeze() for k in
                      ("alpha", "sigma_site", "sigma_worker", "beta_site", "z_worker")}  # fmt: skip
            values["z_worker"] = trace.nodes["z_worker"]["value"][r].numpy()
            log_q = _single_posterior(guide, r).log_prob(latent[r, 0, 0]).item()
            log_q -= np.log(values["sigma_site"]) + np.log(values["sigma_worker"])  # du/dx
            expected.append(log_q - float(log_joint(values, datas[r], SPEC)))
    # float64 throughout: round-off of a ~600-term sum, 1e-9 relative.
    np.testing.assert_allclose(per, expected, rtol=1e-9)
    assert per.sum() == pytest.approx(total, rel=1e-12)


def _single_posterior(guide, r: int):
    """Replicate ``r``'s Gaussian on the unconstrained space (the guide's own distribution
    family, built from its slice of the parameters)."""
    import pyro.distributions as dist

    loc, scale = guide.loc[r, 0, 0], guide.scale[r, 0, 0]
    if hasattr(guide, "cov_factor"):  # Pyro's low-rank: factor scaled by the scale
        factor = guide.cov_factor[r, 0, 0] * scale[:, None]
        return dist.LowRankMultivariateNormal(loc, factor, scale * scale)
    if hasattr(guide, "lower"):
        tril = scale[:, None] * (torch.eye(len(loc), dtype=loc.dtype) + guide.lower[r, 0, 0])
        return dist.MultivariateNormal(loc, scale_tril=tril)
    return dist.Normal(loc, scale).to_event(1)


# ------------------------------------------------------------------------------------------
# A replicated fit gives each replicate the fit it would get alone
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def two_designs(small_twin):
    """Two data sets of one design: small_twin and its twin of another data seed."""
    from evaluation.data.twin import make_paper_twin

    return [small_twin, make_paper_twin(n_worksites=20, n_workers=2000, sigma_worker=0.5, seed=1)]


REPLICATED = [
    pytest.param("meanfield", {"stop_at_convergence": True, **STOP}, True, id="meanfield"),
    pytest.param("meanfield", {"stop_at_convergence": True, **STOP}, False,
                 id="meanfield-one-data-set", marks=pytest.mark.slow),
    pytest.param("lowrank", {"rank": 3, **ANNEALED}, False, id="lowrank", marks=pytest.mark.slow),
]  # fmt: skip


@pytest.mark.parametrize(("guide_name", "settings", "per_seed"), REPLICATED)
def test_replicated_fit_gives_each_seed_its_own_fit(two_designs, guide_name, settings, per_seed):
    """Two seeds fitted together against each fitted alone, on one data set each (the seeds
    of one design) or both on the first: mean-field stopped by the rule (each replicate by
    its own loss), low-rank on a schedule annealed to the end.

    Tolerance (assert_stop_keeps_identified, both ways round): fits stopped by the rule, or
    annealed, each sit within ~2 nats of the optimum, so their rolling losses are within 3 nats
    and, a mean displaced by delta sds costing delta^2 / 2 nats, every worksite logit within 2
    posterior sds and sigma_worker within 1.  A replicate fitted to another's gradient or data,
    or stopped at another's step, fails this.
    """
    b, seeds = backend(guide_name, **settings), [3, 11]
    datas = two_designs if per_seed else two_designs[:1] * 2
    together = b.fit_replicates(datas if per_seed else datas[0], seeds)
    window = settings["convergence_window"]
    for seed, data, fit in zip(seeds, datas, together, strict=True):
        alone = b.fit(data, seed)
        assert_stop_keeps_identified(fit, alone, data.X_site, window)
        assert_stop_keeps_identified(alone, fit, data.X_site, window)
        check_inference_data(fit.idata, data)
        np.testing.assert_array_equal(fit.idata.observed_data["y"].values, data.y)
        n = fit.info["n_steps"]
        assert fit.loss.shape == (n,) and n <= fit.info["joint_steps"] <= settings["num_steps"]
        assert fit.info["replicates"] == 2 and fit.idata.posterior.attrs["seed"] == seed
        if b.stop_at_convergence:  # stopped by the rule on its own loss, before the cap
            assert n < settings["num_steps"]
            assert converged_step(fit.loss, window, 1e-3) is not None
    a, b2 = (f.idata.posterior["alpha"].values for f in together)
    assert not np.array_equal(a, b2)  # independent fits, not one fit twice


def test_fit_replicates_refuses_what_it_cannot_replicate(tiny_twin, small_twin):
    cannot = "pyro_.*: fit_replicates cannot fit"
    for guide_name in ("flow", "typeii"):
        with pytest.raises(ValueError, match=f"{cannot} guide '{guide_name}'"):
            backend(guide_name, num_steps=5).fit_replicates(tiny_twin, [0, 1])
    b = backend(num_steps=5)
    with pytest.raises(ValueError, match=f"{cannot} no seed"):
        b.fit_replicates(tiny_twin, [])
    with pytest.raises(ValueError, match=f"{cannot} 2 data sets for 3 seeds"):
        b.fit_replicates([tiny_twin, tiny_twin], [0, 1, 2])
    with pytest.raises(ValueError, match=f"{cannot} data sets of different sizes"):
        b.fit_replicates([tiny_twin, small_twin], [0, 1])


@pytest.mark.parametrize("guide_name", [*GUIDES, "flow", "typeii"])
def test_every_fit_records_its_optimiser_steps(tiny_twin, guide_name):
    b = backend(guide_name, num_steps=7, num_draws=10, hidden_dim=80, jit=guide_name != "flow")
    fit = b.fit(tiny_twin, 0)
    assert fit.info["n_steps"] == 7 == len(fit.loss) and fit.info["ms_per_step_cpu"] > 0
