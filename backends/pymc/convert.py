"""From PyMC / nutpie output to the canonical layout, aligning by label (never by position)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

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
