"""From PyMC / nutpie output to the canonical layout, aligning by label (never by position),
and from a fitted ADVI approximation to the per-draw ``log_q`` and ``lp`` of the contract.

PyMC is not imported here at module level (PyTensor and scipy.linalg only inside the functions
that need them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from backends.base import BackendError
from backends.spec import VAR_DIMS, Z_WORKER_DIMS, HierData, ModelSpec

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

#: Sampler statistics kept, from the sampler's own name to ArviZ's reserved name.
STAT_NAMES: dict[str, str] = {
    # shared by PyMC and nutpie
    "diverging": "diverging",
    "energy": "energy",
    "energy_error": "energy_error",
    "n_steps": "n_steps",
    "step_size": "step_size",
    "step_size_bar": "step_size_bar",
    # PyMC
    "lp": "lp",
    "tree_depth": "tree_depth",
    "acceptance_rate": "acceptance_rate",
    "max_energy_error": "max_energy_error",
    "reached_max_treedepth": "reached_max_treedepth",
    # nutpie
    "logp": "lp",
    "depth": "tree_depth",
    "mean_tree_accept": "acceptance_rate",
    "maxdepth_reached": "reached_max_treedepth",
}


def posterior_arrays(
    posterior: xr.Dataset, data: HierData, spec: ModelSpec
) -> dict[str, np.ndarray]:
    """Canonical posterior arrays (chain, draw, *dims) selected by name and coordinate label.

    Parameters
    ----------
    posterior : xarray.Dataset
        A PyMC / nutpie posterior group (it may hold transformed ``*_log__`` variables too;
        they are dropped).
    data : HierData
        Gives the coordinate labels each dim is selected by.
    spec : ModelSpec
        ``z_worker`` is kept when the parameterisation is non-centred.

    Returns
    -------
    dict of str to ndarray
    """
    dims = {**VAR_DIMS}
    if spec.parameterization == "noncentered":
        dims["z_worker"] = Z_WORKER_DIMS
    labels = data.coords()
    out = {}
    for name, var_dims in dims.items():
        if name not in posterior:
            raise BackendError(f"PyMC posterior lacks {name!r}; the model and backend disagree")
        da = posterior[name]
        if tuple(sorted(da.dims)) != tuple(sorted(("chain", "draw", *var_dims))):
            raise BackendError(f"PyMC returned {name} with dims {da.dims}, expected {var_dims}")
        da = da.assign_coords({d: [str(v) for v in da.coords[d].values] for d in var_dims})
        da = da.sel({d: labels[d] for d in var_dims})
        out[name] = np.asarray(da.transpose("chain", "draw", *var_dims).values, dtype=float)
    return out


def sample_stats_arrays(stats: xr.Dataset) -> dict[str, np.ndarray]:
    """Sampler statistics under ArviZ's reserved names (see :data:`STAT_NAMES`)."""
    out = {}
    for name, arviz_name in STAT_NAMES.items():
        if name in stats and arviz_name not in out:
            values = np.asarray(stats[name].transpose("chain", "draw").values)
            if arviz_name in ("tree_depth", "n_steps"):
                values = values.astype(np.int64)
            out[arviz_name] = values
    return out


def split_sampling_time(
    total_s: float, warmup_steps: float, draw_steps: float
) -> tuple[float, float]:
    """Split a sampling wall time into (warm-up, sampling) in proportion to leapfrog steps.

    Neither PyMC nor nutpie reports the two phases' wall times separately; each leapfrog step
    costs one gradient evaluation of the same model, so wall time is proportional to the
    number of steps.
    """
    steps = warmup_steps + draw_steps
    if not np.isfinite(total_s) or steps <= 0:
        return float("nan"), float(total_s)
    return total_s * warmup_steps / steps, total_s * draw_steps / steps


def json_safe(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """Plain-Python copy of a settings mapping (e.g. a Hydra ``DictConfig``)."""
    out: dict[str, Any] = {}
    for key, value in dict(mapping or {}).items():
        if isinstance(value, np.generic):
            value = value.item()
        out[str(key)] = value
    return out


class Unconstrained(NamedTuple):
    """Draws mapped to the approximation's unconstrained space.

    Attributes
    ----------
    u : ndarray, shape (S, d)
        Flat unconstrained vectors in the approximation's ordering.
    log_det_jacobian : ndarray, shape (S,)
        ``log |d theta / d u|`` summed over the transformed variables (``log sigma`` for the
        two HalfCauchy scales).
    """

    u: np.ndarray
    log_det_jacobian: np.ndarray


def to_unconstrained(approx: Any, draws: Mapping[str, np.ndarray]) -> Unconstrained:
    """Map constrained draws (S, *shape) to the flat unconstrained vectors ADVI works with.

    Parameters
    ----------
    approx : pymc.variational.Approximation
        A single-group approximation; its ``ordering`` says where each value variable sits.
    draws : mapping
        Constrained draws of the model's free variables by name, draw axis first.
    """
    import pytensor.tensor as pt

    group = approx.groups[0]
    model = approx.model
    rv_of_value = {value.name: rv for rv, value in model.rvs_to_values.items()}
    n = len(next(iter(draws.values())))
    u = np.empty((n, group.ddim))
    log_det = np.zeros(n)
    for value_name, (_, slc, _, _) in group.ordering.items():
        rv = rv_of_value[value_name]
        x = np.asarray(draws[rv.name], dtype=float)
        transform = model.rvs_to_transforms.get(rv)
        if transform is not None:
            params = rv.owner.inputs[2:]
            x = _evaluate(transform.forward(pt.as_tensor_variable(x), *params))
            jac = _evaluate(transform.log_jac_det(pt.as_tensor_variable(x), *params))
            log_det += np.broadcast_to(jac, x.shape).reshape(n, -1).sum(axis=1)
        u[:, slc] = x.reshape(n, -1)
    return Unconstrained(u=u, log_det_jacobian=log_det)


def _evaluate(expr: Any) -> np.ndarray:
    return np.asarray(expr.eval() if hasattr(expr, "eval") else expr, dtype=float)


def gaussian_log_q(approx: Any, u: np.ndarray) -> np.ndarray:
    """Log density of the fitted Gaussian at unconstrained points ``u`` (S, d)."""
    from scipy.linalg import solve_triangular

    group = approx.groups[0]
    mu = np.asarray(group.mean.eval(), dtype=float)
    if hasattr(group, "L"):  # full rank: q = N(mu, L L^T)
        chol = np.asarray(group.L.eval(), dtype=float)
        z = solve_triangular(chol, (u - mu).T, lower=True).T
        log_det = np.log(np.diag(chol)).sum()
    else:  # mean field: independent normals
        std = np.asarray(group.std.eval(), dtype=float)
        z = (u - mu) / std
        log_det = np.log(std).sum()
    return -0.5 * (z**2).sum(axis=1) - log_det - 0.5 * u.shape[1] * np.log(2 * np.pi)


def constrained_log_q(approx: Any, draws: Mapping[str, np.ndarray]) -> np.ndarray:
    """Log density of the approximation on the CONSTRAINED space of the latents.

    ``log q_theta(theta) = log q_u(u) - log |d theta / d u|``: directly comparable with
    :func:`backends.spec.log_joint`, so ``log_joint - log_q`` are importance log-weights.
    """
    un = to_unconstrained(approx, draws)
    return gaussian_log_q(approx, un.u) - un.log_det_jacobian


def model_log_density(model: Any, approx: Any, draws: Mapping[str, np.ndarray]) -> np.ndarray:
    """PyMC's log joint of each draw on the constrained space (``jacobian=False``)."""
    logp = model.compile_logp(jacobian=False)
    un = to_unconstrained(approx, draws)
    point_of = approx.groups[0].ordering
    out = np.empty(len(un.u))
    for s, u in enumerate(un.u):
        point = {name: u[slc].reshape(shape) for name, (_, slc, shape, _) in point_of.items()}
        out[s] = logp(point)
    return out
