"""The pieces of a Pyro SVI fit loop (:mod:`backends.pyro.vi`): the ELBO, the optimiser and its
schedule, one loss-and-gradient step, and the context managers around the loop (torch threads,
quiet warnings, the progress bar).  torch and pyro are imported inside the functions, so that
importing this module (with :mod:`backends.pyro.vi`) never needs them.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from typing import Any

from backends.base import BackendError


def loss_and_grads(elbo, model, guide, tensors, name: str, step: int) -> float:
    """One ELBO evaluation with gradients; a deep PPL error becomes a one-line BackendError."""
    try:
        return float(elbo.loss_and_grads(model, guide, *tensors))
    except (RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BackendError(f"{name}: Pyro failed at step {step}: {first}") from exc


def make_elbo(jit: bool, num_particles: int, max_plate_nesting: int):
    """``JitTrace_ELBO`` or ``Trace_ELBO`` (vectorised particles when ``num_particles > 1``)."""
    from pyro.infer import JitTrace_ELBO, Trace_ELBO

    kwargs: dict[str, Any] = {"ignore_jit_warnings": True} if jit else {}
    return (JitTrace_ELBO if jit else Trace_ELBO)(
        num_particles=num_particles,
        vectorize_particles=True,
        max_plate_nesting=max_plate_nesting,
        **kwargs,
    )


def make_optimizer(params, optimizer: str, lr: float, lr_decay: float, clip_norm: float):
    """Adam + per-step ExponentialLR, or ClippedAdam with ``lrd``; returns (optim, scheduler)."""
    import torch

    if optimizer == "adam":
        optim = torch.optim.Adam(params, lr=lr, fused=True)
        return optim, torch.optim.lr_scheduler.ExponentialLR(optim, gamma=lr_decay)
    from pyro.optim.clipped_adam import ClippedAdam

    return ClippedAdam(params, lr=lr, lrd=lr_decay, clip_norm=clip_norm), None


def torch_dtype(name: str):
    """The torch floating type named ``name`` ("float32" or "float64")."""
    import torch

    return {"float32": torch.float32, "float64": torch.float64}[name]


@contextmanager
def quiet_pyro():
    """Silence torch's deprecation notice for ``torch.jit.trace`` (used by JitTrace_ELBO) and
    Pyro's "Encountered NaN: loss" warning (the fit loop raises BackendError on it instead)."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r".*torch\.jit\.\w+` is deprecated", category=DeprecationWarning
        )
        warnings.filterwarnings("ignore", message=r"Encountered NaN", category=UserWarning)
        yield


@contextmanager
def torch_threads(n: int | None):
    """Run the block with ``n`` torch intra-op threads (None: unchanged), then restore them."""
    import torch

    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def progress(total: int, name: str, enabled: bool):
    """A tqdm bar over ``total`` steps, or None when not ``enabled``."""
    if not enabled:
        return None
    from tqdm.auto import tqdm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tqdm.auto may warn about missing ipywidgets
        return tqdm(total=total, desc=name, unit="step", mininterval=1.0)
