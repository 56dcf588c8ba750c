"""Faster twins of two Pyro autoguides: the same variational family, the same ELBO, fewer passes
over their large parameter matrices per step.

Profile of a paper-scale step (861 latent dims, 1 thread, ``benchmarks/pyro_svi.py``):

* ``AutoMultivariateNormal`` (~22 ms idle, float64) spends most of a step in dense d x d
  passes: ``tril`` of the unconstrained factor (``unit_lower_cholesky``), ``scale[:, None] *
  scale_tril``, their backward, a triangular solve for ``log q`` and its backward, and Adam over
  the full matrix.  :class:`AutoFullRankNormal` keeps the strictly lower part ``lower`` of the
  unit lower-triangular factor as a plain parameter whose upper triangle and diagonal are zero
  and stay zero (a gradient hook zeroes those entries of the gradient, and Adam moves no entry
  whose gradient has always been zero), draws ``z = loc + scale * (eps + lower @ eps)`` with one
  matrix-vector product, and reads ``log q(z) = log N(eps) - sum(log scale)`` from the cached
  ``eps`` (the transform's cache): no triangular solve and no d x d temporaries in the forward
  pass.  Same family (``scale_tril = diag(scale) @ (I + lower)``, Pyro 1.9's parameterisation,
  softplus-positive ``scale``), same loss at the same parameters (tests/backends/test_pyro.py).
* ``AutoIAFNormal`` (~57 ms idle, float32, 13.4M parameters at Pyro's default hidden size)
  multiplies every weight matrix by its MADE mask in every forward pass and the gradient by it
  again in the backward pass.  :class:`AutoIAFFastNormal` zeroes the masked weights once and
  masks only the accumulated gradient (in place), so the forward pass uses the weights as they
  are; the effective weights ``weight * mask`` are the same numbers, so the flow is the same.
"""

from __future__ import annotations

import pyro.distributions as dist
import torch
from pyro.distributions import constraints
from pyro.infer.autoguide import AutoContinuous, AutoIAFNormal
from pyro.nn import PyroParam
from torch.distributions import Transform


class LowerMatVec(torch.autograd.Function):
    """``lower @ x`` for a strictly lower-triangular ``lower`` (d, d), or a batch of them
    (..., d, d), and ``x`` (..., d), whose gradient with respect to ``lower`` is kept strictly
    lower triangular.

    The backward pass forms that gradient with ``torch.outer`` (one draw) or one matrix product
    (a batch of draws) and zeroes its upper triangle in place: autograd's own backward of
    ``matmul`` takes a rank-1 ``mm`` path that cost ~6 ms per step at d = 861, and a masked
    weight would need an extra d x d pass each way.
    """

    @staticmethod
    def forward(ctx, lower, x):
        ctx.save_for_backward(lower, x)
        return torch.matmul(lower, x.unsqueeze(-1)).squeeze(-1)

    @staticmethod
    def backward(ctx, grad):
        lower, x = ctx.saved_tensors
        d = lower.shape[-1]
        grad_lower = grad_x = None
        if ctx.needs_input_grad[0]:
            if grad.dim() == 1 and x.dim() == 1:
                grad_lower = torch.outer(grad, x)
            elif lower.dim() > 2:  # a batch of factors (replicated fits): one outer product each
                grad_lower = torch.matmul(grad.unsqueeze(-1), x.unsqueeze(-2))
                grad_lower = grad_lower.sum_to_size(lower.shape).contiguous()
            else:
                g2, x2 = grad.expand(*x.shape).reshape(-1, d), x.reshape(-1, d)
                grad_lower = g2.T @ x2
            grad_lower.tril_(-1)
        if ctx.needs_input_grad[1]:
            grad_x = torch.matmul(grad.unsqueeze(-2), lower).squeeze(-2)
        return grad_lower, grad_x


class UnitLowerAffine(Transform):
    """``x -> loc + scale * (x + lower @ x)``: an affine map with the lower-triangular factor
    ``diag(scale) @ (I + lower)`` (``lower`` strictly lower triangular).

    ``cache_size=1``: the inverse of the last output is the cached input, so ``log_prob`` of a
    draw needs no triangular solve; any other value is inverted by one.
    """

    domain = constraints.real_vector
    codomain = constraints.real_vector
    bijective = True

    def __init__(self, loc, scale, lower, cache_size: int = 1) -> None:
        super().__init__(cache_size=cache_size)
        self.loc, self.scale, self.lower = loc, scale, lower

    def _call(self, x):
        return self.loc + self.scale * (x + LowerMatVec.apply(self.lower, x))

    def _inverse(self, y):
        w = ((y - self.loc) / self.scale).unsqueeze(-1)
        lower = self.lower.expand(*w.shape[:-2], *self.lower.shape)
        solved = torch.linalg.solve_triangular(lower, w, upper=False, unitriangular=True)
        return solved.squeeze(-1)

    def log_abs_det_jacobian(self, x, y):
        return self.scale.log().sum(-1).expand(x.shape[:-1])


class AutoFullRankNormal(AutoContinuous):
    """A full-rank Gaussian on the unconstrained space: ``AutoMultivariateNormal``, faster.

    Parameters: ``loc`` (d), ``scale`` (d, softplus-positive) and ``lower`` (d x d, strictly
    lower triangular, zeros elsewhere); the Cholesky factor of the covariance is
    ``diag(scale) @ (I + lower)``, exactly Pyro's ``scale[:, None] * scale_tril``.  Starts, like
    ``AutoMultivariateNormal``, at ``init_loc_fn`` with ``scale = init_scale`` and ``lower = 0``.

    Parameters
    ----------
    model : callable
    init_loc_fn : callable
        Pyro's per-site initialisation.
    init_scale : float
        Initial scale of every unconstrained latent.
    """

    scale_constraint = constraints.softplus_positive

    def __init__(self, model, init_loc_fn, init_scale: float = 0.1) -> None:
        if not init_scale > 0:
            raise ValueError(f"Expected init_scale > 0, got {init_scale}")
        self._init_scale = float(init_scale)
        super().__init__(model, init_loc_fn=init_loc_fn)

    def _setup_prototype(self, *args, **kwargs) -> None:
        super()._setup_prototype(*args, **kwargs)
        self.loc = torch.nn.Parameter(self._init_loc())
        self.scale = PyroParam(torch.full_like(self.loc, self._init_scale), self.scale_constraint)
        self.lower = torch.nn.Parameter(self.loc.new_zeros(self.latent_dim, self.latent_dim))

    def get_base_dist(self):
        return dist.Normal(torch.zeros_like(self.loc), torch.ones_like(self.loc)).to_event(1)

    def get_transform(self, *args, **kwargs):
        return UnitLowerAffine(self.loc, self.scale, self.lower)

    def scale_tril(self) -> torch.Tensor:
        """The Cholesky factor ``diag(scale) @ (I + lower)`` of the guide's covariance."""
        eye = torch.eye(self.latent_dim, dtype=self.loc.dtype)
        return self.scale[..., None] * (eye + self.lower.tril(-1))

    def _loc_scale(self, *args, **kwargs):
        return self.loc, self.scale * (1 + self.lower.tril(-1).pow(2).sum(-1)).sqrt()


# ----------------------------------------------------------------------------------------------
def _band_hook(band: torch.Tensor, start: int):
    """Zero the masked entries of a block's gradient (its band of columns ``start:``)."""

    def hook(param: torch.Tensor) -> None:
        if param.grad is not None:
            param.grad[:, start:].mul_(band)

    return hook


def _staircase_blocks(weight, mask, row_order, blocks: int):
    """Split a MADE layer whose mask is a staircase (row ``r`` of ``mask[row_order]`` is a prefix
    of ones, the prefixes non-decreasing) into row blocks: ``(weight, rows, start, band)``
    per block, with ``weight`` the block's rows up to its longest prefix and ``band`` the mask of
    the columns past its shortest prefix (the only columns where it has zeros)."""
    mask, weight = mask[row_order], (weight * mask)[row_order]
    prefix = mask.sum(-1).long()
    if bool((prefix[1:] < prefix[:-1]).any()) or not bool(
        (mask == (torch.arange(mask.shape[1]) < prefix[:, None])).all()
    ):
        raise ValueError("MADE mask is not a staircase in this order")
    out = []
    for rows in torch.arange(mask.shape[0]).tensor_split(blocks):
        if rows.numel() == 0:
            continue
        r0, r1 = int(rows[0]), int(rows[-1]) + 1
        start, stop = int(prefix[r0]), int(prefix[r1 - 1])
        out.append((weight[r0:r1, :stop].clone(), (r0, r1), start, mask[r0:r1, start:stop].clone()))
    return out


class BlockMADE(torch.nn.Module):
    """Pyro's one-hidden-layer ``AutoRegressiveNN`` (the IAF's network) with its masked weights
    stored as row blocks of their staircase: about half the parameters, no mask products.

    MADE orders the hidden units by degree, so in the order of the permuted inputs the input
    mask is a staircase (hidden unit ``k`` sees a prefix of the inputs), and so is the output
    mask over the hidden units once the outputs are sorted by degree.  Each block of rows keeps
    a dense weight up to the block's longest prefix; the few masked entries inside it (a band)
    stay zero because their gradient is zeroed in place after accumulation and Adam never moves
    an entry whose gradient has always been zero.  Built from a Pyro network, it computes the
    same function (tests/backends/test_pyro.py).

    Parameters
    ----------
    arn : pyro.nn.AutoRegressiveNN
        One hidden layer, no skip connections, two outputs per input (mean, log scale).
    blocks : int
        Row blocks per layer (more: fewer stored zeros, more small matrix products).
    """

    def __init__(self, arn, blocks: int = 16) -> None:
        super().__init__()
        if len(arn.layers) != 2 or arn.skip_layer is not None or arn.output_multiplier != 2:
            raise ValueError("BlockMADE needs one hidden layer, no skips, two outputs per input")
        self.input_dim, self.f = arn.input_dim, arn.f
        self.register_buffer("permutation", arn.permutation.clone())
        first, second = arn.layers
        mask1 = first.mask[:, arn.permutation]  # inputs in the network's order
        order2 = torch.argsort(second.mask.sum(-1), stable=True)
        self.register_buffer("unsort", torch.argsort(order2))
        self.layer1 = self._blocks(first.weight[:, arn.permutation], mask1,
                                   torch.arange(mask1.shape[0]), blocks)  # fmt: skip
        self.layer2 = self._blocks(second.weight, second.mask, order2, blocks)
        # one bias per layer (hidden units in their order, outputs in the network's order)
        self.bias1 = torch.nn.Parameter(first.bias.detach().clone())
        self.bias2 = torch.nn.Parameter(second.bias.detach().clone())

    @staticmethod
    def _blocks(weight, mask, order, blocks: int) -> torch.nn.ModuleList:
        out = torch.nn.ModuleList()
        parts = _staircase_blocks(weight.detach(), mask, order, blocks)
        for block_weight, (r0, r1), start, band in parts:
            block = torch.nn.Linear(block_weight.shape[1], r1 - r0, bias=False)
            with torch.no_grad():
                block.weight.copy_(block_weight)
            block.register_buffer("band", band)
            block.weight.register_post_accumulate_grad_hook(_band_hook(block.band, start))
            out.append(block)
        return out

    @staticmethod
    def _run(blocks: torch.nn.ModuleList, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([block(x[..., : block.in_features]) for block in blocks], dim=-1)

    def forward(self, x: torch.Tensor):
        """``(mean, log_scale)`` of the affine autoregressive transform at ``x``."""
        hidden = self.f(self._run(self.layer1, x[..., self.permutation]) + self.bias1)
        out = self._run(self.layer2, hidden)[..., self.unsort] + self.bias2
        return torch.unbind(out.reshape(*x.shape[:-1], 2, self.input_dim), dim=-2)


def block_flow(transform, blocks: int = 16) -> None:
    """Replace the network of every ``AffineAutoregressive`` part of ``transform`` (a Pyro
    ``ComposeTransformModule``) by its :class:`BlockMADE`, in place."""
    for part in getattr(transform, "parts", [transform]):
        part.arn = BlockMADE(part.arn, blocks=blocks)


class AutoIAFFastNormal(AutoIAFNormal):
    """``AutoIAFNormal`` whose autoregressive networks are :class:`BlockMADE` (built at the
    first call, like the flow itself): the same flow, with half the parameters to move."""

    def get_posterior(self, *args, **kwargs):
        fresh = self.transform is None
        if fresh:
            self.transform = self._init_transform_fn(self.latent_dim)
            block_flow(self.transform)
            for _, param in self.named_pyro_params():  # as AutoNormalizingFlow does
                self._prototype_tensor = param
                break
        return super().get_posterior(*args, **kwargs)
