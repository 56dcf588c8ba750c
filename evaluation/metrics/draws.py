"""Posterior draws as aligned arrays: stacking over (chain, draw) and aligning by label.

Every evaluator function goes through here so that worksites and features are matched to the
data (or to another posterior: :func:`paired_draws`) by their coordinates, never by position.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from backends.spec import VAR_DIMS, VAR_NAMES, HierData

if TYPE_CHECKING:  # pragma: no cover
    import arviz as az
    import xarray as xr

SAMPLE = "sample"
#: The named dims of the posterior variables (worksite, site and worker features).
PARAM_DIMS: tuple[str, ...] = tuple(dict.fromkeys(d for dims in VAR_DIMS.values() for d in dims))


def _labels(values: np.ndarray) -> list[str]:
    return [str(v) for v in np.asarray(values).tolist()]


def data_labels(data: HierData) -> dict[str, list[str]]:
    """Coordinates of the parameter dims of ``data`` as strings."""
    coords = data.coords()
    return {dim: list(coords[dim]) for dim in PARAM_DIMS}


def select_labels(
    da: xr.DataArray,
    labels: Mapping[str, Sequence[str]],
    what: str,
    *,
    positional: bool = False,
    exact: bool = False,
) -> xr.DataArray:
    """``da`` reordered to ``labels`` on every dim it has; ``ValueError`` naming what differs.

    The one way draws are aligned to data by label (metrics, claims and clustering).
    Coordinates are compared as strings (netCDF round trips may turn ids into numbers).

    Parameters
    ----------
    da : xarray.DataArray
    labels : mapping of dim to labels
        The wanted order (e.g. :func:`data_labels`).
    what : str
        Names the caller in the error message (``"posterior"``, ``"claims"`` ...).
    positional : bool
        A dim without coordinates is taken in the given order when its size matches
        (otherwise it is an error).
    exact : bool
        The labels must be the same set (no extra label in ``da``).
    """
    for dim, wanted in labels.items():
        if dim not in da.dims:
            continue
        have = _labels(da[dim].values) if dim in da.coords else None
        if have is None:
            if positional and da.sizes[dim] == len(wanted):
                continue
            raise ValueError(f"{what}: {da.name} has no coordinates on dim {dim} "
                             f"({da.sizes[dim]} entries, data {len(wanted)})")  # fmt: skip
        missing = [w for w in wanted if w not in set(have)]
        if exact and (missing or len(have) != len(wanted)):
            raise ValueError(
                f"{what}: {da.name} {dim} labels differ from the data's (only in posterior: "
                f"{sorted(set(have) - set(wanted))[:5]}, only in data: {missing[:5]})"
            )
        if missing:
            raise ValueError(
                f"{what}: {da.name} lacks {dim} labels {missing[:10]}"
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


def posterior_dataset(obj: Any) -> xr.Dataset:
    """The posterior Dataset of an InferenceData (or the Dataset itself)."""
    return obj.posterior if hasattr(obj, "posterior") else obj


class Paired(NamedTuple):
    """Method and reference draws of one block, aligned element by element.

    Attributes
    ----------
    method, reference : ndarray (S, E), (S_ref, E)
    labels : list of str
        ``name[coord, ...]`` of each element.
    """

    method: np.ndarray
    reference: np.ndarray
    labels: list[str]


def paired_draws(data1: Any, data2: Any, var_names: Sequence[str] | None = None
                 ) -> dict[str, Paired]:  # fmt: skip
    """Draws of ``data1`` (method) and ``data2`` (reference), aligned by label.

    Raises
    ------
    ValueError
        When variables, dims or coordinates differ; the message names what differs, e.g.
        ``beta_site: coordinate site_feature differs: reference has [...] missing [...]``.
    """
    p1, p2 = posterior_dataset(data1), posterior_dataset(data2)
    names = list(var_names) if var_names is not None else [v for v in VAR_NAMES if v in p1]
    lacks1 = [v for v in names if v not in p1]
    lacks2 = [v for v in names if v not in p2]
    if lacks1 or lacks2:
        raise ValueError(f"variables differ: method lacks {lacks1}, reference lacks {lacks2}")
    out = {}
    for v in names:
        d1 = [d for d in p1[v].dims if d not in ("chain", "draw")]
        d2 = [d for d in p2[v].dims if d not in ("chain", "draw")]
        if sorted(d1) != sorted(d2):
            raise ValueError(f"{v}: dims differ: method {d1}, reference {d2}")
        labels = {}
        for d in d1:
            c1, c2 = _labels(p1[v][d].values), _labels(p2[v][d].values)
            if set(c1) != set(c2):
                extra = [c for c in c2 if c not in set(c1)]
                missing = [c for c in c1 if c not in set(c2)]
                raise ValueError(f"{v}: coordinate {d} differs: reference has {extra} "
                                 f"missing {missing}")  # fmt: skip
            labels[d] = c1
        a = select_labels(stacked(p1, v), labels, "method")
        b = select_labels(stacked(p2, v), labels, "reference").transpose(*a.dims)
        out[v] = Paired(flat_draws(a), flat_draws(b), element_labels(a))
    return out
