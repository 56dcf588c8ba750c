"""Stochastic variational inference in Pyro: the backend and its fit loop.

:class:`PyroSVI` is the backend behind ``pyro_meanfield`` (the paper's mean-field setup),
``pyro_lowrank`` and ``pyro_fullrank``; its loop is :mod:`backends.pyro.loop` (several fits of
one data set in one vectorised loop: :mod:`backends.pyro.replicates`), and the draws from the
fitted guide and their densities are computed by :mod:`backends.pyro.convert`.  torch and pyro
are imported only when a backend is
built or a fit runs, so importing this module (e.g. by Hydra) never needs them: that is why
:mod:`backends.pyro.model` and :mod:`backends.pyro.convert` (which import torch and pyro at
their top) are imported inside ``__init__`` / ``fit`` here.

The optimiser is the paper's: Adam at ``lr`` with the learning rate multiplied by ``lr_decay``
after every step (``torch.optim.lr_scheduler.ExponentialLR``; what ``pyro.optim.ExponentialLR``
wraps), or ``ClippedAdam`` with ``lrd = lr_decay``.  Adam is elementwise, so one torch optimiser
over all guide parameters is the same update as Pyro's one-optimiser-per-parameter wrapper, at a
fraction of its Python overhead.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from backends.base import BackendError, FitResult, finish_fit, library_version, require
from backends.pyro import loop, steps
from backends.pyro.forensics import sigma_readings
from backends.spec import HierData, ModelSpec

if TYPE_CHECKING:  # pragma: no cover
    from backends.pyro.convert import Draws

OPTIMIZERS: tuple[str, ...] = ("adam", "clipped_adam")
DTYPES: tuple[str, ...] = ("float32", "float64")
_INSTALL = "pip install -e '.[pyro]' (torch==2.13.0 CPU wheel first)"


class PyroSVI:
    """Pyro SVI backend (one class for the mean-field, low-rank and full-rank guides).

    Parameters
    ----------
    model : ModelSpec
        Parameterisation and priors.
    name : str
        Backend name, e.g. ``"pyro_meanfield"``.
    guide : {"meanfield", "lowrank", "fullrank", "flow", "typeii"}
        ``AutoNormal``, ``AutoLowRankMultivariateNormal`` (``rank``), ``AutoMultivariateNormal``,
        ``AutoIAFNormal`` (``num_transforms``, ``hidden_dim``), or point estimates of the
        scales + ``AutoNormal`` (:func:`backends.pyro.model.make_typeii_guide`).
    num_steps : int
        Optimisation steps (paper: 18,000).
    lr, lr_decay : float
        Initial learning rate and its per-step multiplicative decay (paper: 0.015, 0.9995).
    optimizer : {"adam", "clipped_adam"}
        Adam with an exponential learning-rate schedule, or Pyro's ClippedAdam (``lrd``).
    clip_norm : float
        Elementwise gradient clip of ClippedAdam (ignored by Adam).
    num_draws : int
        Posterior draws returned (one chain).
    num_particles : int
        Monte Carlo samples per ELBO estimate (vectorised).
    jit : bool
        Use ``JitTrace_ELBO`` (same loss, traced once).
    progress : bool
        tqdm progress bar with the loss.
    rank : int, optional
        Rank of the low-rank guide (Pyro default about sqrt(latent dim) when None).
    init_scale : float
        Initial guide scale on the unconstrained space.
    init_sigma : float, optional
        Start of the guide for sigma_worker and sigma_site (paper forensics: the sensitivity
        to it); None: 1, Pyro's ``init_to_feasible``.  Ignored by the flow.
    log_every : int
        Steps between progress-bar loss updates.
    convergence_window, convergence_rtol : int, float
        Rolling-mean window and relative tolerance of the convergence rule
        (:data:`backends.convergence.CONVERGENCE_RULE`); recorded in ``info``, the rule is
        applied to the loss by ``evaluation.metrics.diagnostics``.
    stop_at_convergence : bool
        Stop as soon as the loss so far meets the convergence rule (checked every
        :func:`backends.convergence.check_every` steps); ``num_steps`` is then only the cap.
        False (default): the paper's exact schedule, always ``num_steps`` steps.
    dtype : {"float32", "float64"}
        Floating type of the model tensors and guide parameters.
    num_threads : int, optional
        torch intra-op threads during the fit (restored afterwards); None leaves torch's
        setting.  Default 1: a step is ~1,000 small ops, which threads only slow down (and a
        sweep runs fits side by side).
    draw_batch : int
        Draws computed per vectorised batch (bounds memory: batch x N x K_w floats).
    num_transforms, hidden_dim : int
        Size of the normalizing flow (``guide="flow"``, ``AutoIAFNormal``); hidden_dim None:
        Pyro's default (3 x latent dim + 1).
    """

    family: ClassVar[str] = "vi"

    def __init__(
        self,
        model: ModelSpec | None = None,
        name: str = "pyro_meanfield",
        guide: str = "meanfield",
        num_steps: int = 18000,
        lr: float = 0.015,
        lr_decay: float = 0.9995,
        optimizer: str = "adam",
        clip_norm: float = 10.0,
        num_draws: int = 1000,
        num_particles: int = 1,
        jit: bool = True,
        progress: bool = True,
        rank: int | None = None,
        init_scale: float = 0.1,
        init_sigma: float | None = None,
        log_every: int = 100,
        convergence_window: int = 1000,
        convergence_rtol: float = 1e-3,
        stop_at_convergence: bool = False,
        dtype: str = "float32",
        num_threads: int | None = 1,
        draw_batch: int = 100,
        num_transforms: int = 2,
        hidden_dim: int | None = None,
    ) -> None:
        from backends.pyro.model import GUIDES  # imports torch: at construction, not import

        self.model = model if model is not None else ModelSpec()
        checks = [
            (guide in GUIDES, f"guide must be one of {GUIDES}, got {guide!r}"),
            (optimizer in OPTIMIZERS, f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}"),
            (dtype in DTYPES, f"dtype must be one of {DTYPES}, got {dtype!r}"),
            (
                int(num_steps) >= 1 and int(num_draws) >= 1 and int(num_particles) >= 1,
                "num_steps, num_draws and num_particles must be >= 1",
            ),
            (lr > 0 and 0 < lr_decay <= 1, "need lr > 0 and 0 < lr_decay <= 1"),
            (init_sigma is None or init_sigma > 0, "init_sigma must be > 0 or None"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"{name}: {message}")
        self.name, self.guide = name, guide
        self.num_steps, self.num_draws = int(num_steps), int(num_draws)
        self.num_particles = int(num_particles)
        self.lr, self.lr_decay, self.optimizer = float(lr), float(lr_decay), optimizer
        self.clip_norm, self.jit, self.progress = float(clip_norm), bool(jit), bool(progress)
        self.rank = None if rank is None else int(rank)
        self.init_scale, self.log_every = float(init_scale), max(int(log_every), 1)
        self.init_sigma = None if init_sigma is None else float(init_sigma)
        self.convergence_window = int(convergence_window)
        self.convergence_rtol = float(convergence_rtol)
        self.stop_at_convergence = bool(stop_at_convergence)
        self.dtype, self.draw_batch = dtype, max(int(draw_batch), 1)
        self.num_threads = None if num_threads is None else int(num_threads)
        self.num_transforms = int(num_transforms)
        self.hidden_dim = None if hidden_dim is None else int(hidden_dim)

    def __repr__(self) -> str:
        return (
            f"PyroSVI(name={self.name!r}, guide={self.guide!r}, num_steps={self.num_steps}, "
            f"lr={self.lr}, lr_decay={self.lr_decay}, optimizer={self.optimizer!r}, "
            f"parameterization={self.model.parameterization!r})"
        )

    # ------------------------------------------------------------------------------------------
    def fit(self, data: HierData, seed: int) -> FitResult:
        """Fit the guide to ``data`` and return ``num_draws`` draws from it as one chain.

        Raises
        ------
        BackendError
            If the loss becomes NaN/inf (naming the step), or the draws are not finite.
        BackendUnavailable
            If torch or pyro is not installed.
        """
        return self.fit_replicates(data, [seed])[0]

    def fit_replicates(
        self, data: HierData | Sequence[HierData], seeds: Sequence[int]
    ) -> list[FitResult]:
        """Fit once per seed, every fit in one vectorised loop; a FitResult per seed.

        ``data``: one data set for every seed (the repeats of a fit), or one per seed (say the
        data seeds of one design), all of the same sizes (worksites, features, rows).  The
        replicates are independent fits (:mod:`backends.pyro.replicates`): each has its own
        guide parameters, loss trace and stop (the convergence rule on its own loss), and its
        draws are seeded by its seed.  Each is the fit ``fit(data, seed)`` would give within
        Monte Carlo noise, not bit for bit: the steps share one random stream (seeded by the
        first seed).  One seed: exactly :meth:`fit`.  The loop's seconds are split evenly over
        the replicates in ``timing``, and ``info["ms_per_step_cpu"]`` is its CPU per step
        divided by their number (the cost per fit).

        Raises
        ------
        ValueError
            No seed; several with a guide outside :data:`backends.pyro.replicates.REPLICABLE`;
            a data set per seed that are not one per seed or not of the same sizes.
        """
        require("torch", _INSTALL)
        pyro = require("pyro", _INSTALL)
        from backends.pyro import model as pyro_model  # torch-importing (module docstring)
        from backends.pyro import replicates

        seeds, datas = [int(s) for s in seeds], self._replicate_data(data, seeds)
        t_start = time.perf_counter()
        with steps.torch_threads(self.num_threads), pyro.validation_enabled(False):
            pyro.clear_param_store()
            pyro.set_rng_seed(seeds[0])
            dtype = steps.torch_dtype(self.dtype)
            tensors = [pyro_model.to_tensors(d, dtype) for d in datas]
            model = pyro_model.make_model(self.model)
            guide = self._make_guide(model)
            if len(seeds) > 1:
                trace, fitted = replicates.fit_loop(
                    self._settings(), self._elbo(plates=1), model, guide,
                    tensors[0] if len(datas) == 1 else tensors, seeds, self._nan_message,
                )  # fmt: skip
            else:
                trace = loop.optimise(self._settings(), self._elbo(), model, guide, tensors[0],
                                      seeds[0], nan_message=self._nan_message)  # fmt: skip
                fitted = [None]
            shared_s = (time.perf_counter() - t_start) / len(seeds)
            results = []
            for r, seed in enumerate(seeds):
                own = min(r, len(datas) - 1)  # the replicate's data set
                if fitted[r] is not None:  # a replicate: a single guide at its parameters
                    guide = replicates.single_guide(self._make_guide(model), tensors[own],
                                                    fitted[r])  # fmt: skip
                    pyro.set_rng_seed(seed)
                results.append(self._result(datas[own], model, guide, tensors[own], trace, r,
                                            seed, shared_s))  # fmt: skip
        return results

    def _replicate_data(self, data, seeds: Sequence[int]) -> list[HierData]:
        """The data sets of :meth:`fit_replicates`: ``[data]``, or one per seed, checked."""
        from backends.pyro.replicates import REPLICABLE

        datas = [data] if isinstance(data, HierData) else list(data)
        sizes = {(d.X_site.shape, d.X_worker.shape) for d in datas}
        problem = (
            "no seed" if not seeds
            else f"guide {self.guide!r} (several need one of {REPLICABLE})"
            if len(seeds) > 1 and self.guide not in REPLICABLE
            else f"{len(datas)} data sets for {len(seeds)} seeds"
            if len(datas) not in (1, len(seeds))
            else f"data sets of different sizes {sorted(sizes)}" if len(sizes) > 1 else None
        )  # fmt: skip
        if problem is not None:
            raise ValueError(f"{self.name}: fit_replicates cannot fit {problem}")
        return datas

    # ------------------------------------------------------------------------------------------
    def _settings(self) -> loop.LoopSettings:
        return loop.LoopSettings(
            self.name, self.num_steps, self.optimizer, self.lr, self.lr_decay, self.clip_norm,
            self.stop_at_convergence, self.convergence_window, self.convergence_rtol,
            self.progress, self.log_every,
        )  # fmt: skip

    def _elbo(self, plates: int = 0):
        from backends.pyro.model import MAX_PLATE_NESTING

        return steps.make_elbo(self.jit, self.num_particles, MAX_PLATE_NESTING + plates)

    def _make_guide(self, model):
        from backends.pyro.model import make_guide

        return make_guide(
            model, self.guide, init_scale=self.init_scale, rank=self.rank,
            num_transforms=self.num_transforms, hidden_dim=self.hidden_dim,
            init_sigma=self.init_sigma,
        )  # fmt: skip

    def _result(self, data, model, guide, tensors, trace, r, seed, shared_s) -> FitResult:
        """Draws from the fitted ``guide`` and the FitResult of replicate ``r`` of ``trace``."""
        from backends.pyro.convert import draw_posterior

        t0 = time.perf_counter()
        draws = draw_posterior(model, guide, tensors, self.num_draws, self.draw_batch)
        self._check_draws(draws)
        timing = {k: v / trace.loss.shape[1] for k, v in trace.timing.items()}  # per fit
        timing["sampling_s"] = time.perf_counter() - t0
        timing["fit_s"] = shared_s + timing["sampling_s"]
        info = self._info(timing, guide, trace, r)
        readings = sigma_readings(guide, draws.posterior)
        if readings is not None:  # mean-field / type-II guides: what the paper could print
            info["sigma_readings"] = readings
        return finish_fit(
            self,
            data,
            {k: v[None] for k, v in draws.posterior.items()},
            model=self.model,
            seed=seed,
            library="pyro-ppl",
            library_version=library_version("pyro-ppl"),
            timing=timing,
            info=info,
            loss=trace.loss[: trace.n_run[r], r],
            sample_stats={"log_q": draws.log_q[None], "lp": draws.lp[None]},
            extra_attrs=self._attrs(info),
        )

    def _nan_message(self, value: float, step: int, params: bool = False) -> str:
        what = "guide parameters became non-finite after" if params else f"loss became {value} at"
        hint = "" if self.optimizer == "clipped_adam" else ", try backend.optimizer=clipped_adam"
        return (
            f"{self.name}: {what} step {step}; lower backend.lr (now {self.lr:g}){hint} "
            "or standardise extreme features"
        )

    def _check_draws(self, draws: Draws) -> None:
        """Raise BackendError naming the variables whose draws (or log_q) are not finite."""
        bad = [k for k, v in draws.posterior.items() if not np.isfinite(v).all()]
        if bad or not np.isfinite(draws.log_q).all():
            raise BackendError(
                f"{self.name}: posterior draws are not finite ({bad or 'log_q'}); "
                "lower backend.lr or raise backend.num_steps"
            )

    def _info(self, timing: dict[str, float], guide, trace, r: int) -> dict[str, Any]:
        """Raw facts of fit ``r`` of ``trace`` (settings, guide, cost); convergence is judged
        elsewhere.

        ``n_steps``: the optimiser steps the fit took (fewer than the cap ``num_steps`` only
        when ``stop_at_convergence`` stopped it: ``stopped_early``); ``n_steps_run`` is the same
        count (its older name).  ``ms_per_step`` and ``ms_per_step_cpu``: wall and CPU
        milliseconds per step of the loop, per fit (a replicated loop's divided by its
        ``replicates``; ``joint_steps``: the steps that loop ran).
        """
        import torch

        n_rep, n_steps, loop_steps = trace.loss.shape[1], trace.n_run[r], len(trace.loss)
        info: dict[str, Any] = {
            "guide": self.guide,
            "guide_class": type(guide).__name__,
            "convergence_window": self.convergence_window,
            "convergence_rtol": self.convergence_rtol,
            "num_steps": self.num_steps,
            "stop_at_convergence": self.stop_at_convergence,
            "stopped_early": n_steps < self.num_steps,
            "n_steps": int(n_steps),
            "n_steps_run": int(n_steps),
            "lr": self.lr,
            "lr_decay": self.lr_decay,
            "optimizer": self.optimizer,
            "init_sigma": self.init_sigma,
            "num_particles": self.num_particles,
            "jit": self.jit,
            "dtype": self.dtype,
            "torch_threads": self.num_threads or torch.get_num_threads(),
            "ms_per_step": 1e3 * timing["optimisation_s"] / loop_steps,
            "ms_per_step_cpu": 1e3 * trace.cpu_s / n_rep / loop_steps,
            "num_guide_params": int(sum(p.numel() for p in guide.parameters())),
        }
        if n_rep > 1:
            info.update(replicates=n_rep, joint_steps=int(loop_steps))
        if self.guide == "lowrank":
            info["rank"] = int(guide.rank)
        if self.guide == "flow":
            info.update(num_transforms=self.num_transforms, hidden_dim=self.hidden_dim)
        return info

    @staticmethod
    def _attrs(info: dict[str, Any]) -> dict[str, Any]:
        """The VI settings stored as ``vi_*`` attrs of every InferenceData group."""
        keys = ("guide", "num_steps", "lr", "lr_decay", "optimizer", "num_particles", "dtype")
        return {f"vi_{k}": info[k] for k in keys}
