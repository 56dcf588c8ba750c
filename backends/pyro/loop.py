"""The optimisation loop of a Pyro SVI fit (:mod:`backends.pyro.vi`): Pyro's ELBO and a torch
optimiser stepped over one guide, whose parameters may carry several independent replicates
(:mod:`backends.pyro.replicates`), with the loss of every step and the convergence rule.

torch and pyro are imported inside the functions, so that importing this module (with
:mod:`backends.pyro.vi`) never needs them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from backends.base import BackendError
from backends.convergence import check_every, converged_step
from backends.pyro import steps


class LoopSettings(NamedTuple):
    """What the loop needs of the backend's settings (a :class:`~backends.pyro.PyroSVI`)."""

    name: str
    num_steps: int
    optimizer: str
    lr: float
    lr_decay: float
    clip_norm: float
    stop: bool
    window: int
    rtol: float
    progress: bool
    log_every: int


class Trace(NamedTuple):
    """The loop's record.

    Attributes
    ----------
    loss : ndarray, shape (steps run, replicates)
        Loss (negative ELBO) of every step, one column per replicate.
    n_run : list of int
        Steps each replicate took: where the convergence rule stopped it, else all steps run.
    timing : dict
        ``optimisation_s`` and, for a traced ELBO, ``compile_s`` (wall seconds).
    cpu_s : float
        Process CPU seconds of the steps (closer than wall time to an idle machine's figure).
    """

    loss: np.ndarray
    n_run: list[int]
    timing: dict[str, float]
    cpu_s: float


def optimise(
    s: LoopSettings,
    elbo,
    model,
    guide,
    args: tuple,
    seed: int,
    *,
    nan_message: Callable[[float, int, bool], str],
    params: list | None = None,
    replicate_losses: Callable[[], np.ndarray] | None = None,
    on_stop: Callable[[int], None] | None = None,
) -> Trace:
    """Run the SVI steps of ``guide`` (``s.num_steps``, fewer when every replicate stopped).

    One warm-up evaluation (which traces the JIT) comes first and its gradients are dropped;
    the RNG is then re-seeded with ``seed``, so JIT and plain ELBO see the same random numbers.

    Parameters
    ----------
    nan_message : callable
        ``(value, step, params)`` -> the message of the BackendError a non-finite loss (or,
        with ``params``, non-finite parameters) raises.
    params : list of Tensor, optional
        The parameters to optimise; None: ``guide.parameters()``.
    replicate_losses : callable, optional
        After a step, the loss of each replicate (an array); None: one fit, whose loss is the
        ELBO's.
    on_stop : callable, optional
        Called with a replicate's index when the convergence rule stops it (``s.stop``).
    """
    import pyro
    import torch

    with torch.no_grad():
        guide(*args)  # creates the guide's parameters
    params = list(guide.parameters()) if params is None else params
    optim, scheduler = steps.make_optimizer(params, s.optimizer, s.lr, s.lr_decay, s.clip_norm)
    t0 = time.perf_counter()
    with steps.quiet_pyro():
        steps.loss_and_grads(elbo, model, guide, args, s.name, 0)
    optim.zero_grad(set_to_none=True)
    if replicate_losses is not None:
        replicate_losses()  # drops the warm-up's
    warmup_s = time.perf_counter() - t0
    pyro.set_rng_seed(seed)

    def step_fn(step: int) -> Any:
        value = steps.loss_and_grads(elbo, model, guide, args, s.name, step)
        if not math.isfinite(value):
            raise BackendError(nan_message(value, step, False))
        optim.step()
        optim.zero_grad(set_to_none=True)
        if scheduler is not None:
            scheduler.step()
        return value if replicate_losses is None else replicate_losses()

    cpu0 = time.process_time()
    loss, n_run, loop_s = _loop(s, step_fn, 1 if replicate_losses is None else None, on_stop)
    cpu_s = time.process_time() - cpu0
    if not all(bool(torch.isfinite(p).all()) for p in params):
        raise BackendError(nan_message(float("nan"), len(loss) - 1, True))
    if getattr(elbo, "_loss_and_surrogate_loss", None) is not None:  # traced: a JIT ELBO
        return Trace(loss, n_run, {"compile_s": warmup_s, "optimisation_s": loop_s}, cpu_s)
    return Trace(loss, n_run, {"optimisation_s": loop_s + warmup_s}, cpu_s)


def _loop(s: LoopSettings, step_fn, width: int | None, on_stop) -> tuple[np.ndarray, list, float]:
    """Call ``step_fn(step)`` up to ``s.num_steps`` times; with ``s.stop``, apply the rule to
    each replicate's loss every :func:`~backends.convergence.check_every` steps and end once
    every replicate met it.  ``width``: replicates (None: the length of the first result)."""
    loss: np.ndarray | None = None
    bar = steps.progress(s.num_steps, s.name, enabled=s.progress)
    every = check_every(s.window)
    n_run: list[int | None] = []
    step = -1
    t_loop = time.perf_counter()
    try:
        with steps.quiet_pyro():
            for step in range(s.num_steps):
                value = step_fn(step)
                if loss is None:
                    width = width or int(np.size(value))
                    loss, n_run = np.empty((s.num_steps, width)), [None] * width
                loss[step] = value
                if bar is not None and (step + 1) % s.log_every == 0:
                    bar.set_postfix_str(f"loss {loss[step].mean():.4g}", refresh=False)
                    bar.update(s.log_every)
                if s.stop and (step + 1) % every == 0 and _check(s, loss, step, n_run, on_stop):
                    break
    finally:
        if bar is not None:  # full at the end (or on an error); at the step of a stop
            bar.update((step + 1 if step + 1 < s.num_steps else bar.total) - bar.n)
            bar.close()
    assert loss is not None
    runs = [n if n is not None else step + 1 for n in n_run]
    return loss[: step + 1], runs, time.perf_counter() - t_loop


def _check(s: LoopSettings, loss: np.ndarray, step: int, n_run: list, on_stop) -> bool:
    """Stop every replicate whose loss so far meets the rule; whether none is left running."""
    for r, done in enumerate(n_run):
        if done is None and converged_step(loss[: step + 1, r], s.window, s.rtol) is not None:
            n_run[r] = step + 1
            if on_stop is not None:
                on_stop(r)
    return all(n is not None for n in n_run)
