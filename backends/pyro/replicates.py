"""Several independent fits of one guide in one vectorised SVI loop: replicates as an outer plate.

A step of a small model costs mostly fixed per-operation overhead, not arithmetic, so ``R``
independent fits (the repeats of one data set) cost far less as one step over ``R`` copies of the
guide's parameters than as ``R`` steps:

* the model and guide run inside ``pyro.plate("replicate", R, dim=REPLICATE_DIM)``, outside the
  model's own plates (the batch dim draws already use, :data:`backends.pyro.model.DRAW_DIM`),
  on one data set or on one per replicate of the same sizes (the seeds of one design,
  :func:`stack`);
* every guide parameter gets ``R`` copies with batch shape ``(R, 1, 1)`` (:func:`replicate`), so
  each replicate has its own Gaussian and the ELBO is the sum of ``R`` independent ELBOs: its
  gradient with respect to one replicate's parameters is that replicate's own gradient, and Adam
  (elementwise) moves each copy as it would move it alone;
* each replicate's loss is read off a weight: the model and guide run under
  ``poutine.scale(scale=weight)`` with ``weight = 1`` of shape ``(R, 1, 1)``, so the loss is
  ``sum_r weight_r * loss_r`` and ``d loss / d weight_r = loss_r`` comes with the backward pass
  Pyro's ELBO runs anyway (:func:`weighted`).

Only the guides whose parameters are per-latent tensors can be replicated this way
(:data:`REPLICABLE`: ``AutoDiagonalNormal``, ``AutoLowRankMultivariateNormal`` and
:class:`~backends.pyro.guides.AutoFullRankNormal`).  Imports torch and pyro at its top:
:mod:`backends.pyro.vi` imports it only when a fit runs.
"""

from __future__ import annotations

from typing import Any

import pyro
import torch
from pyro import poutine
from pyro.nn import PyroParam

from backends.pyro import loop
from backends.pyro.model import MAX_PLATE_NESTING, ModelTensors

#: Dim of the replicate plate (outside the model's plates).
REPLICATE_DIM = -MAX_PLATE_NESTING - 1
#: Guides whose fits can be replicated.
REPLICABLE: tuple[str, ...] = ("meanfield", "lowrank", "fullrank")


def replicate(guide, n: int) -> None:
    """Give every parameter of a set-up ``AutoContinuous`` guide ``n`` independent copies, each
    starting at the current value, batched as ``(n, 1, 1, *shape)`` (in place)."""
    constrained = dict(guide._pyro_params)  # name -> (constraint, event_dim)
    plain = [k for k in dict(guide.named_parameters()) if not k.endswith("_unconstrained")]
    for name, (constraint, event_dim) in constrained.items():
        value = getattr(guide, name).detach()
        setattr(guide, name, PyroParam(_copies(value, n), constraint, event_dim))
    for name in plain:
        setattr(guide, name, torch.nn.Parameter(_copies(getattr(guide, name).detach(), n)))


def _copies(value: torch.Tensor, n: int) -> torch.Tensor:
    return value.expand(n, 1, 1, *value.shape).clone()


def weighted(fn, n: int):
    """``fn(*args)`` as ``wrapped(weight, *args)``: run inside the replicate plate with every log
    density scaled by ``weight`` (shape ``(n, 1, 1)``; ones: the plain sum of the ELBOs)."""

    def wrapped(weight, *args):
        with pyro.plate("replicate", n, dim=REPLICATE_DIM), poutine.scale(scale=weight):
            return fn(*args)

    return wrapped


def snapshot(guide, r: int) -> dict[str, torch.Tensor]:
    """Replicate ``r``'s parameters (unconstrained, by name), copied."""
    return {name: p.detach()[r, 0, 0].clone() for name, p in guide.named_parameters()}


def load(guide, params: dict[str, torch.Tensor]) -> None:
    """Set a set-up single guide's parameters to ``params`` (a :func:`snapshot`)."""
    with torch.no_grad():
        for name, p in guide.named_parameters():
            p.copy_(params[name])


def stack(tensors: list[ModelTensors]) -> ModelTensors:
    """One data set per replicate as one batch: ``X_site`` (R, J, K_s), ``X_worker1``
    (R, N, K_w + 1), ``site`` (R, N) and ``y`` (R, 1, N) (the obs plate's dim -1 and the
    replicate plate's -3); the data sets need the same sizes."""
    x_site, x_worker1, site, y = (torch.stack(parts) for parts in zip(*tensors, strict=True))
    return ModelTensors(x_site, x_worker1, site, y.unsqueeze(-2))


def fit_loop(settings: loop.LoopSettings, elbo, model, guide, tensors, seeds, nan_message):
    """One loop over ``len(seeds)`` replicates of the single-fit ``guide`` of ``model``.

    ``tensors``: the data of every replicate (:class:`~backends.pyro.model.ModelTensors`),
    or a list of one per replicate (then batched by :func:`stack`).

    Returns
    -------
    trace : loop.Trace
        The loop's trace (one column of losses per replicate).
    fitted : list of dict
        Each replicate's parameters (:func:`snapshot`) where the rule stopped it, else at the
        end; :func:`single_guide` turns one into a guide to draw from.
    """
    n, one = len(seeds), tensors if isinstance(tensors, ModelTensors) else tensors[0]
    with torch.no_grad():
        guide(*one)  # the guide's parameters, for one data set
    replicate(guide, n)
    if not isinstance(tensors, ModelTensors):
        tensors = stack(tensors)
    weight = torch.ones(n, 1, 1, dtype=one.y.dtype, requires_grad=True)
    fitted: list[Any] = [None] * n

    def losses():  # d loss / d weight_r = replicate r's loss (the module docstring)
        value = weight.grad.reshape(-1).numpy().copy()
        weight.grad = None
        return value

    def on_stop(r: int) -> None:
        fitted[r] = snapshot(guide, r)

    trace = loop.optimise(settings, elbo, weighted(model, n), weighted(guide, n),
                          (weight, *tensors), seeds[0], nan_message=nan_message,
                          params=list(guide.parameters()), replicate_losses=losses,
                          on_stop=on_stop)  # fmt: skip
    return trace, [snapshot(guide, r) if f is None else f for r, f in enumerate(fitted)]


def single_guide(guide, tensors, params: dict[str, torch.Tensor]):
    """``guide`` (a fresh single guide of the model) set up at a replicate's ``params``.

    Clears Pyro's param store first: the replicated guide's parameters have the same names.
    """
    pyro.clear_param_store()
    with torch.no_grad():
        guide(*tensors)
    load(guide, params)
    return guide
