"""Posterior draws as aligned arrays: stacking over (chain, draw) and aligning by label.

Every evaluator function goes through here so that worksites and features are matched to the
data (or to another posterior) by their coordinates, never by position.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from backends.spec import VAR_DIMS, HierData

if TYPE_CHECKING:  # pragma: no cover
    import arviz as az
    import xarray as xr

SAMPLE = "sample"


def _labels(values: np.ndarray) -> list[str]:
    return [str(v) for v in np.asarray(values).tolist()]


def data_labels(data: HierData) -> dict[str, list[str]]:
    """Coordinates of the parameter dims of ``data`` as strings."""
    return {
        "worksite": list(data.worksite_ids),
        "site_feature": list(data.site_features),
        "worker_feature": list(data.worker_features),
    }


def select_labels(da: xr.DataArray, labels: Mapping[str, Sequence[str]], what: str) -> xr.DataArray:
    """``da`` reordered to ``labels`` on every dim it has; ``ValueError`` naming what differs.

    Coordinates are compared as strings (netCDF round trips may turn ids into numbers).
    """
    for dim, wanted in labels.items():
        if dim not in da.dims:
            continue
        have = _labels(da[dim].values) if dim in da.coords else None
        if have is None:
            raise ValueError(f"{what}: {da.name} has no coordinates on dim {dim}")
        missing = [w for w in wanted if w not in set(have)]
        if missing:
            raise ValueError(
                f"{what}: {da.name} coordinate {dim} lacks {missing[:10]}"
                f"{' ...' if len(missing) > 10 else ''} (has {have[:10]})"
            )
        da = da.assign_coords({dim: have}).sel({dim: list(wanted)})
    return da


def stacked(posterior: xr.Dataset, name: str) -> xr.DataArray:
    """Variable ``name`` with (chain, draw) stacked into a leading ``sample`` dim."""
    da = posterior[name]
    extra = [d for d in da.dims if d not in ("chain", "draw")]
    da = da.stack({SAMPLE: ("chain", "draw")}).transpose(SAMPLE, *extra)
    return da.drop_vars([c for c in ("chain", "draw", SAMPLE) if c in da.coords])


def param_draws(idata: az.InferenceData, data: HierData) -> dict[str, np.ndarray]:
    """Canonical variables as arrays shaped (S, ...) aligned to ``data``'s coordinates."""
    labels = data_labels(data)
    post = idata.posterior
    missing = [v for v in VAR_DIMS if v not in post]
    if missing:
        raise ValueError(f"posterior lacks variables {missing}")
    return {
        v: np.asarray(select_labels(stacked(post, v), labels, "posterior").values, dtype=float)
        for v in VAR_DIMS
    }


def n_samples(idata: az.InferenceData) -> int:
    """Number of posterior draws, chains x draws."""
    sizes = idata.posterior.sizes
    return int(sizes["chain"] * sizes["draw"])


def element_labels(da: xr.DataArray) -> list[str]:
    """``name[coord, ...]`` label of each element of ``da`` (non-sample dims, C order)."""
    dims = [d for d in da.dims if d != SAMPLE]
    if not dims:
        return [str(da.name)]
    grids = np.meshgrid(*[_labels(da[d].values) for d in dims], indexing="ij")
    flat = [g.ravel() for g in grids]
    return [f"{da.name}[{', '.join(parts)}]" for parts in zip(*flat, strict=True)]


def flat_draws(da: xr.DataArray) -> np.ndarray:
    """A stacked variable as a (S, n_elements) matrix."""
    values = np.asarray(da.values, dtype=float)
    return values.reshape(values.shape[0], -1)
