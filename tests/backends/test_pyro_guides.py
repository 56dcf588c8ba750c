"""The faster full-rank and flow guides (backends/pyro/guides.py) against Pyro's own.

At the same parameters and the same random numbers, ``AutoFullRankNormal`` must give the draws,
the log density, the ELBO and its gradient of ``AutoMultivariateNormal``, and
``AutoIAFFastNormal`` / ``BlockMADE`` those of ``AutoIAFNormal`` / ``AutoRegressiveNN``; and
the entries the structure keeps at zero (the factor's upper triangle, the masked weights) must
stay zero through a fit.  Small models only (tiny twin, 77 latent dims).
"""

from __future__ import annotations

import pyro
import pytest
import torch
from pyro.infer import Trace_ELBO
from pyro.infer.autoguide import AutoIAFNormal, AutoMultivariateNormal, init_to_feasible
from pyro.nn import AutoRegressiveNN

from backends.pyro.guides import AutoFullRankNormal, AutoIAFFastNormal, BlockMADE
from backends.pyro.model import make_model, to_tensors
from backends.spec import ModelSpec

SPEC = ModelSpec("noncentered")


def _loss_and_grads(guide, model, tensors, seed: int = 5) -> tuple[float, list[torch.Tensor]]:
    pyro.set_rng_seed(seed)
    loss = Trace_ELBO().loss_and_grads(model, guide, *tensors)
    return loss, [p.grad.clone() for p in guide.parameters()]


@pytest.fixture
def fullrank_pair(tiny_twin):
    """Pyro's AutoMultivariateNormal at random parameters, and ours at the same parameters."""
    pyro.clear_param_store()
    tensors, model = to_tensors(tiny_twin, torch.float64), make_model(SPEC)
    ref = AutoMultivariateNormal(model, init_loc_fn=init_to_feasible, init_scale=0.1)
    ref(*tensors)
    d, gen = ref.latent_dim, torch.Generator().manual_seed(0)
    with torch.no_grad():
        ref.loc.copy_(0.3 * torch.randn(d, generator=gen, dtype=torch.float64))
        ref.scale_unconstrained.copy_(0.3 * torch.randn(d, generator=gen, dtype=torch.float64) - 1)
        ref.scale_tril_unconstrained.copy_(0.1 * torch.randn(d, d, generator=gen).double())
    ours = AutoFullRankNormal(model, init_loc_fn=init_to_feasible, init_scale=0.1)
    ours(*tensors)
    with torch.no_grad():
        ours.loc.copy_(ref.loc)
        ours.scale_unconstrained.copy_(ref.scale_unconstrained)
        ours.lower.copy_(ref.scale_tril_unconstrained.tril(-1))
    return ref, ours, model, tensors


def test_fullrank_gives_pyros_draws_density_elbo_and_gradient(fullrank_pair):
    ref, ours, model, tensors = fullrank_pair
    torch.testing.assert_close(ours.scale_tril(), ref.scale[:, None] * ref.scale_tril)
    # the same draws from the same random numbers, and the same log density of them
    draws = {}
    for name, guide in (("ref", ref), ("ours", ours)):
        pyro.set_rng_seed(3)
        posterior = guide.get_posterior()
        draws[name] = posterior.rsample((50,))
        draws[name + "_lp"] = posterior.log_prob(draws[name])
    torch.testing.assert_close(draws["ours"], draws["ref"], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(draws["ours_lp"], draws["ref_lp"], rtol=1e-12, atol=1e-9)
    # a value that is not the last draw goes through the triangular solve: same density
    other = ref.get_posterior().sample((7,))
    torch.testing.assert_close(
        ours.get_posterior().log_prob(other), ref.get_posterior().log_prob(other)
    )
    # the ELBO and its gradient (Pyro's gradient of the unit factor restricted to its strict
    # lower triangle, which is all that enters the guide)
    loss_ref, (g_loc, g_scale, g_tril) = _loss_and_grads(ref, model, tensors)
    loss_ours, (h_loc, h_scale, h_lower) = _loss_and_grads(ours, model, tensors)
    assert loss_ours == pytest.approx(loss_ref, rel=1e-12)
    for ours_grad, ref_grad in ((h_loc, g_loc), (h_scale, g_scale), (h_lower, g_tril.tril(-1))):
        torch.testing.assert_close(ours_grad, ref_grad, rtol=1e-10, atol=1e-10)
    assert not h_lower.triu().any()


def test_blockmade_is_pyros_network(tiny_twin):
    torch.manual_seed(0)
    arn = AutoRegressiveNN(40, [121])
    with torch.no_grad():  # non-trivial biases
        for layer in arn.layers:
            layer.bias.normal_()
    block = BlockMADE(arn, blocks=6)
    x = torch.randn(3, 2, 40)
    for got, want in zip(block(x), arn(x), strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    stored = sum(p.numel() for p in block.parameters())
    assert stored < 0.7 * sum(p.numel() for p in arn.parameters())  # about half the weights


def test_fast_flow_gives_pyros_elbo_at_the_same_start(tiny_twin):
    tensors, model = to_tensors(tiny_twin, torch.float32), make_model(SPEC)
    out = []
    for cls in (AutoIAFNormal, AutoIAFFastNormal):
        pyro.clear_param_store()
        pyro.set_rng_seed(0)  # same seed: same random network and permutation
        guide = cls(model, hidden_dim=[100], num_transforms=2)
        guide(*tensors)
        loss, grads = _loss_and_grads(guide, model, tensors)
        out.append((loss, torch.cat([g.reshape(-1) for g in grads]).norm()))
    assert out[1][0] == pytest.approx(out[0][0], rel=1e-5)
    assert float(out[1][1]) == pytest.approx(float(out[0][1]), rel=1e-4)


@pytest.mark.parametrize("guide", ["fullrank", "flow"])
def test_structural_zeros_stay_zero_through_a_fit(tiny_twin, guide):
    """Adam (the backends' optimiser) moves no entry whose gradient is always zero."""
    from backends.pyro.model import make_guide

    pyro.clear_param_store()
    pyro.set_rng_seed(0)
    tensors, model = to_tensors(tiny_twin, torch.float32), make_model(SPEC)
    fitted = make_guide(model, guide, hidden_dim=100)
    fitted(*tensors)
    optim = torch.optim.Adam(list(fitted.parameters()), lr=0.01)
    elbo = Trace_ELBO()
    for _ in range(60):
        elbo.loss_and_grads(model, fitted, *tensors)
        optim.step()
        optim.zero_grad(set_to_none=True)
    if guide == "fullrank":
        assert fitted.lower.tril(-1).abs().max() > 0 and not fitted.lower.triu().any()
        return
    blocks = [m for m in fitted.modules() if isinstance(m, torch.nn.Linear)]
    assert len(blocks) > 4 and all(hasattr(b, "band") for b in blocks)
    for b in blocks:
        band = b.weight[:, b.weight.shape[1] - b.band.shape[1] :]
        assert band[b.band == 1].abs().max() > 0 and not band[b.band == 0].any()
