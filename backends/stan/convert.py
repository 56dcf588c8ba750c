"""Pure conversions between the canonical contract and CmdStan's inputs and outputs.

No cmdstanpy import here: functions take plain arrays, column names and console text, so they
are testable on their own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import NamedTuple

import numpy as np

from backends.spec import VAR_NAMES, HierData, ModelSpec, log_jacobian_unconstrained

#: CmdStan NUTS diagnostics -> ArviZ sample_stats names.
NUTS_STATS: dict[str, str] = {
    "lp__": "lp",
    "accept_stat__": "acceptance_rate",
    "stepsize__": "step_size",
    "treedepth__": "tree_depth",
    "n_leapfrog__": "n_steps",
    "divergent__": "diverging",
    "energy__": "energy",
}


def stan_data(data: HierData, spec: ModelSpec) -> dict[str, object]:
    """The ``data`` block of ``hier_logit.stan`` for ``data`` under ``spec``.

    Prior scales and the parameterisation are data, so changing them never recompiles.
    """
    return {
        "N": data.n_workers,
        "J": data.n_worksites,
        "K_s": len(data.site_features),
        "K_w": len(data.worker_features),
        "y": data.y.astype(int),
        "site": data.site.astype(int) + 1,  # Stan indexes from 1
        "X_site": data.X_site,
        "X_worker": data.X_worker,
        "alpha_scale": spec.priors.alpha_scale,
        "sigma_site_scale": spec.priors.sigma_site_scale,
        "sigma_worker_scale": spec.priors.sigma_worker_scale,
        "noncentered": int(spec.parameterization == "noncentered"),
    }


def latent_names(spec: ModelSpec) -> tuple[str, ...]:
    """Variables reported in ``posterior``: the canonical ones, plus ``z_worker`` if non-centred."""
    return (*VAR_NAMES, "z_worker") if spec.parameterization == "noncentered" else VAR_NAMES


def canonical_posterior(
    stan_variable: Callable[[str], np.ndarray], spec: ModelSpec, n_chains: int, n_draws: int
) -> dict[str, np.ndarray]:
    """Posterior arrays shaped (chain, draw, ...) from a ``stan_variable(name)`` accessor.

    ``stan_variable`` returns (chain * draw, ...) with chains concatenated in order (cmdstanpy's
    ``fit.stan_variable``), matrices already in row/column order (``[.., j, k]``).
    """
    out = {}
    for name in latent_names(spec):
        values = np.asarray(stan_variable(name), dtype=float)
        out[name] = values.reshape(n_chains, n_draws, *values.shape[1:])
    return out


def nuts_sample_stats(
    method_variables: Mapping[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """ArviZ-named NUTS stats shaped (chain, draw) from cmdstanpy's ``method_variables()``.

    cmdstanpy returns each as (draw, chain); ``diverging`` becomes bool, counts int.
    """
    out: dict[str, np.ndarray] = {}
    for stan_name, az_name in NUTS_STATS.items():
        if stan_name not in method_variables:
            continue
        values = np.asarray(method_variables[stan_name]).T
        if az_name == "diverging":
            values = values.astype(bool)
        elif az_name in ("tree_depth", "n_steps"):
            values = values.astype(np.int64)
        out[az_name] = values
    return out


def vi_sample_stats(
    log_p: np.ndarray, log_g: np.ndarray, posterior: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """VI sample_stats from CmdStan's per-draw ``log_p__`` and ``log_g__``.

    ``log_p__`` is the model's log density on the unconstrained space with all constants and
    the Jacobian; ``log_g__`` is the approximation's log density on the unconstrained space up
    to a constant (Stan's ``calc_log_g``: the standard-normal kernel of the base draw; the
    omitted ``-log|det L| - D/2 log 2 pi`` is the same for every draw).  Subtracting the log
    Jacobian of the two log-transformed scales (:func:`backends.spec.log_jacobian_unconstrained`)
    moves both to the constrained space of the contract: ``lp`` is then comparable with
    ``spec.log_joint`` and ``log_joint - log_q`` are PSIS log-weights.

    Returns
    -------
    dict
        ``log_p``, ``log_g`` (CmdStan's, as written), ``lp`` and ``log_q`` (constrained), each
        shaped like ``log_p``.
    """
    jac = log_jacobian_unconstrained(posterior)
    log_p = np.asarray(log_p, dtype=float).reshape(jac.shape)
    log_g = np.asarray(log_g, dtype=float).reshape(jac.shape)
    return {"log_p": log_p, "log_g": log_g, "lp": log_p - jac, "log_q": log_g - jac}


class ElboTrace(NamedTuple):
    """ELBO values CmdStan printed while optimising.

    Attributes
    ----------
    steps : ndarray of int
        Iterations at which the ELBO was evaluated (every ``eval_elbo`` iterations).
    elbo : ndarray of float
    converged_step : int or None
        First iteration whose notes say ``CONVERGED`` (mean or median relative ELBO change
        below ``tol_rel_obj``), None if the run stopped at the iteration limit.
    eta : float or None
        Step-size scale chosen by the adaptation phase (None when it did not run).
    adapt_steps : int
        Iterations the eta adaptation ran: ``adapt_iter`` per step size it tried (CmdStan's
        last "Iteration: m / M (Adaptation)" line; 0 when it did not run).
    """

    steps: np.ndarray
    elbo: np.ndarray
    converged_step: int | None
    eta: float | None
    adapt_steps: int = 0


_ELBO_ROW = re.compile(r"^\s*(\d+)\s+(-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s+\S+\s+\S+(.*)$")
_ETA = re.compile(r"Success!\s+Found best value \[eta = ([-+.\deE]+)\]")
_ADAPT_ROW = re.compile(r"Iteration:\s*(\d+)\s*/\s*\d+.*\(Adaptation\)")


def parse_elbo(console: str) -> ElboTrace:
    """Read the ELBO table CmdStan's ``variational`` prints (after "Begin stochastic ...")."""
    _, sep, table = console.partition("Begin stochastic gradient ascent")
    steps, elbo, converged = [], [], None
    for line in (table if sep else "").splitlines():
        match = _ELBO_ROW.match(line)
        if match is None:
            continue
        steps.append(int(match.group(1)))
        elbo.append(float(match.group(2)))
        if converged is None and "CONVERGED" in match.group(3):
            converged = steps[-1]
    eta = _ETA.search(console)
    adapt = [int(m.group(1)) for m in _ADAPT_ROW.finditer(console)]
    return ElboTrace(
        np.asarray(steps, dtype=np.int64),
        np.asarray(elbo, dtype=float),
        converged,
        float(eta.group(1)) if eta else None,
        max(adapt, default=0),
    )
