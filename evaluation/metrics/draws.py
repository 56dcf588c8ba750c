"""Posterior draws as aligned arrays: one :class:`Draws` bundle per fit, built by :func:`extract`.

A fit's posterior enters the judges once: :func:`extract` stacks every canonical variable
(and ``z_worker``) into ``(chain, draw, *dims)`` arrays aligned to the data's coordinates by
label (never by position), keeps the sample statistics the judges read, and every judge takes
that bundle.  Two posteriors are matched element by element with :func:`paired_draws`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from backends.spec import VAR_DIMS, VAR_NAMES, Z_WORKER_DIMS, HierData

if TYPE_CHECKING:  # pragma: no cover
    import arviz as az
    import xarray as xr

SAMPLE = "sample"
#: The named dims of the posterior variables (worksite, site and worker features).
PARAM_DIMS: tuple[str, ...] = tuple(dict.fromkeys(d for dims in VAR_DIMS.values() for d in dims))
#: Dims of every variable a :class:`Draws` may hold, after (chain, draw).
DRAW_DIMS: dict[str, tuple[str, ...]] = {**VAR_DIMS, "z_worker": Z_WORKER_DIMS}


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
    """Variable ``name`` of a posterior Dataset with (chain, draw) stacked into a leading
    ``sample`` dim (for readers of a saved ``posterior.nc``; judges use :class:`Draws`)."""
    da = posterior[name]
    extra = [d for d in da.dims if d not in ("chain", "draw")]
    da = da.stack({SAMPLE: ("chain", "draw")}).transpose(SAMPLE, *extra)
    return da.drop_vars([c for c in ("chain", "draw", SAMPLE) if c in da.coords])


def posterior_dataset(obj: Any) -> xr.Dataset:
    """The posterior Dataset of an InferenceData (or the Dataset itself)."""
    return obj.posterior if hasattr(obj, "posterior") else obj


class Draws(NamedTuple):
    """One posterior as aligned arrays: what every judge takes (built once by :func:`extract`).

    Attributes
    ----------
    params : dict of str to ndarray
        Every canonical variable (:data:`backends.spec.VAR_NAMES`, and ``z_worker`` when the
        posterior has it), float, shaped ``(chain, draw, *DRAW_DIMS[name])``.
    labels : dict of str to list of str
        The coordinates of each named dim, which the arrays follow (the data's with
        :func:`extract` given data, else the posterior's own).
    stats : dict of str to ndarray
        The sample statistics with (chain, draw) dims, shaped ``(chain, draw, ...)``: e.g.
        ``diverging``, ``tree_depth``, ``energy``, ``lp`` (the log joint, where the backend
        records it) and ``log_q`` (a VI approximation's log density).
    attrs : dict
        The posterior's attrs (``backend``, ``inference_family``, ...).
    stats_attrs : dict
        The sample statistics' attrs (e.g. ``max_tree_depth``).
    """

    params: dict[str, np.ndarray]
    labels: dict[str, list[str]]
    stats: dict[str, np.ndarray]
    attrs: dict[str, Any]
    stats_attrs: dict[str, Any]

    @property
    def n_chains(self) -> int:
        """Number of chains."""
        return int(self.params["alpha"].shape[0])

    @property
    def n_draws(self) -> int:
        """Draws per chain."""
        return int(self.params["alpha"].shape[1])

    @property
    def n_samples(self) -> int:
        """Chains x draws."""
        return self.n_chains * self.n_draws

    def stacked(self, name: str) -> np.ndarray:
        """Variable (or sample statistic) ``name`` shaped ``(chain * draw, ...)``."""
        a = self.params[name] if name in self.params else self.stats[name]
        return a.reshape(-1, *a.shape[2:])

    def flat(self) -> dict[str, np.ndarray]:
        """The canonical variables shaped ``(chain * draw, ...)``."""
        return {v: self.stacked(v) for v in VAR_NAMES}

    def select(self, chains: Any = slice(None), draws: Any = slice(None)) -> Draws:
        """The draws of ``chains`` and, within each chain, ``draws`` (slices or indices)."""

        def take(a: np.ndarray) -> np.ndarray:
            return a[chains][:, draws]

        return self._replace(params={k: take(a) for k, a in self.params.items()},
                             stats={k: take(a) for k, a in self.stats.items()})  # fmt: skip

    def resampled(self, index: np.ndarray, **attrs: Any) -> Draws:
        """Draws ``index`` (flat over chain x draw, with repeats) as one chain; ``log_q``
        renamed ``log_q_proposal`` (the kept draws no longer follow the proposal); ``attrs``
        added to both attrs."""

        def take(a: np.ndarray) -> np.ndarray:
            return a.reshape(-1, *a.shape[2:])[index][None]

        stats = {("log_q_proposal" if k == "log_q" else k): take(a) for k, a in self.stats.items()}
        return Draws({k: take(a) for k, a in self.params.items()}, self.labels, stats,
                     {**self.attrs, **attrs}, {**self.stats_attrs, **attrs})  # fmt: skip

    def reordered(self, labels: Mapping[str, Sequence[str]], what: str) -> Draws:
        """The same draws with the entries of each dim of ``labels`` in its order (the same
        set of labels; ``ValueError`` naming ``what`` otherwise); these draws themselves when
        they already follow ``labels``."""
        if all(self.labels.get(d) == list(v) for d, v in labels.items()):
            return self
        params = {}
        for name, a in self.params.items():
            for axis, dim in enumerate(DRAW_DIMS[name], start=2):
                if dim not in labels:
                    continue
                have = {lab: i for i, lab in enumerate(self.labels[dim])}
                if set(have) != set(labels[dim]):
                    raise ValueError(f"{what}: {name} {dim} labels differ")
                a = np.take(a, [have[lab] for lab in labels[dim]], axis=axis)
            params[name] = a
        return self._replace(params=params, labels={**self.labels, **labels})

    def dataset(self, names: Sequence[str] | None = None) -> xr.Dataset:
        """``names`` (default: every variable) as an xarray Dataset (chain, draw, *dims),
        labelled by :attr:`labels`: for ArviZ's diagnostics."""
        import xarray as xr

        names = list(self.params) if names is None else list(names)
        return xr.Dataset(
            {n: (("chain", "draw", *DRAW_DIMS[n]), self.params[n]) for n in names},
            coords={d: self.labels[d] for n in names for d in DRAW_DIMS[n]},
        )


def _own_labels(post: xr.Dataset) -> dict[str, list[str]]:
    dims = [d for d in PARAM_DIMS if d in post.dims]
    return {d: _labels(post[d].values) if d in post.coords else _labels(np.arange(post.sizes[d]))
            for d in dims}  # fmt: skip


def _sample_stats(idata: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    groups = idata.groups() if hasattr(idata, "groups") else ()
    if "sample_stats" not in groups:
        return {}, {}
    ss = idata.sample_stats
    stats = {str(k): np.asarray(da.transpose("chain", "draw", ...).values)
             for k, da in ss.data_vars.items() if {"chain", "draw"} <= set(da.dims)}  # fmt: skip
    return stats, dict(ss.attrs)


def extract(idata: az.InferenceData | xr.Dataset, data: HierData | None = None) -> Draws:
    """The one extraction of a posterior's draws: a :class:`Draws` bundle.

    Parameters
    ----------
    idata : arviz.InferenceData or xarray.Dataset
        The posterior (an InferenceData, or its posterior Dataset: then no sample stats).
    data : HierData, optional
        Aligns every variable to its coordinates by label; without it the posterior's own
        coordinates are kept.

    Raises
    ------
    ValueError
        A canonical variable is missing, or a coordinate lacks a label of ``data``.
    """
    post = posterior_dataset(idata)
    missing = [v for v in VAR_DIMS if v not in post]
    if missing:
        raise ValueError(f"posterior lacks variables {missing}")
    labels = data_labels(data) if data is not None else _own_labels(post)
    params = {}
    for v in (*VAR_NAMES, *(("z_worker",) if "z_worker" in post else ())):
        da = select_labels(post[v].transpose("chain", "draw", *DRAW_DIMS[v]), labels, "posterior")
        params[v] = np.asarray(da.values, dtype=float)
    stats, stats_attrs = _sample_stats(idata)
    return Draws(params, labels, stats, dict(post.attrs), stats_attrs)


def element_labels(draws: Draws, name: str) -> list[str]:
    """``name[coord, ...]`` label of each element of a variable (C order)."""
    dims = DRAW_DIMS[name]
    if not dims:
        return [name]
    grids = np.meshgrid(*[np.asarray(draws.labels[d], dtype=object) for d in dims],
                        indexing="ij")  # fmt: skip
    flat = [g.ravel() for g in grids]
    return [f"{name}[{', '.join(parts)}]" for parts in zip(*flat, strict=True)]


def flat_draws(draws: Draws, name: str) -> np.ndarray:
    """A variable as a (S, n_elements) matrix."""
    values = draws.stacked(name)
    return values.reshape(values.shape[0], -1)


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


def paired_draws(method: Draws, reference: Draws, var_names: Sequence[str] | None = None
                 ) -> dict[str, Paired]:  # fmt: skip
    """Draws of ``method`` and ``reference``, the reference's reordered to the method's labels.

    Raises
    ------
    ValueError
        When variables or coordinates differ; the message names what differs, e.g.
        ``beta_site: coordinate site_feature differs: reference has [...] missing [...]``.
    """
    names = list(var_names) if var_names is not None else list(VAR_NAMES)
    lacks1 = [v for v in names if v not in method.params]
    lacks2 = [v for v in names if v not in reference.params]
    if lacks1 or lacks2:
        raise ValueError(f"variables differ: method lacks {lacks1}, reference lacks {lacks2}")
    for v in names:
        for d in DRAW_DIMS[v]:
            c1, c2 = method.labels[d], reference.labels[d]
            if set(c1) != set(c2):
                extra = [c for c in c2 if c not in set(c1)]
                missing = [c for c in c1 if c not in set(c2)]
                raise ValueError(f"{v}: coordinate {d} differs: reference has {extra} "
                                 f"missing {missing}")  # fmt: skip
    dims = {d for v in names for d in DRAW_DIMS[v]}
    ref = reference.reordered({d: method.labels[d] for d in dims}, "reference")
    return {v: Paired(flat_draws(method, v), flat_draws(ref, v), element_labels(method, v))
            for v in names}  # fmt: skip
