"""A synthetic data set's true parameters as a labelled dataset (``truth.nc`` of a run).

A run on data with a known truth records it next to its posterior, so a report never rebuilds
the data set to find it: the canonical variables of :data:`backends.spec.VAR_DIMS` with their
named dims and the data's coordinates, and the planted cluster labels per worksite.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from backends.spec import VAR_DIMS, HierData

#: The file a run writes the truth into.
TRUTH_NC = "truth.nc"


def truth_dataset(data: HierData) -> xr.Dataset | None:
    """The truth of ``data`` with dims and coordinates (None for data without a truth)."""
    if data.truth is None:
        return None
    coords = data.coords()
    variables: dict[str, Any] = {}
    for name, dims in VAR_DIMS.items():
        if name in data.truth:
            variables[name] = (dims, np.asarray(data.truth[name], float))
    if data.cluster_labels is not None:
        variables["cluster_label"] = (("worksite",), np.asarray(data.cluster_labels, np.int64))
    used = {d for dims, _ in variables.values() for d in dims}
    return xr.Dataset(variables, coords={d: list(coords[d]) for d in used})


def truth_labels(truth: xr.Dataset) -> dict[str, list[str]]:
    """The coordinates of a truth dataset's dims, as strings (to align draws by label)."""
    return {str(d): [str(v) for v in truth[d].values] for d in truth.dims}


def truth_arrays(truth: xr.Dataset) -> Mapping[str, np.ndarray]:
    """The canonical variables of a truth dataset as arrays (in its coordinates' order)."""
    return {v: np.asarray(truth[v].values, float) for v in VAR_DIMS if v in truth}
