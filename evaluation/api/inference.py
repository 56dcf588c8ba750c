"""Fitting for the Python API: a backend by name with its settings as keywords, the model
(centred or not), and a cached reference posterior."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from omegaconf import OmegaConf

from backends.base import FitResult
from backends.spec import HierData, ModelSpec
from evaluation import fitting
from evaluation.api.arguments import check_backend, check_seed, require
from evaluation.api.datasets import Data
from evaluation.config import (
    backend_names,
    check_backend_signature,
    check_backend_values,
    compose_backend,
    model_spec,
    plain,
)
from evaluation.config.compose import compose_choice
from evaluation.metrics.reference import ReferenceCheck


class Reference(NamedTuple):
    """A reference posterior and its check against the reference criteria.

    Attributes
    ----------
    idata : arviz.InferenceData
    check : ReferenceCheck
        R-hat, ESS and divergences against the criteria (:mod:`evaluation.metrics.reference`).
    """

    idata: Any
    check: ReferenceCheck


def make_model(parameterization: str | None = None, **priors: float) -> ModelSpec:
    """The model to fit: ``conf/model/default.yaml`` with what is given in its place.

    Parameters
    ----------
    parameterization : {"noncentered", "centered"}, optional
        ``"centered"`` is the paper's; the default is ``noncentered``.
    **priors
        ``alpha_scale``, ``sigma_site_scale``, ``sigma_worker_scale``.
    """
    base = plain(compose_choice("model", "default").model)
    if parameterization is not None:
        base["parameterization"] = parameterization
    base["priors"] = {**base["priors"], **priors}
    return model_spec(base)


def _model(spec: ModelSpec | str | None) -> ModelSpec:
    return spec if isinstance(spec, ModelSpec) else make_model(spec)


def backend_config(backend: str | Mapping[str, Any], **settings: Any) -> Any:
    """A backend's config: ``conf/backend/<name>.yaml`` (or a composed config) with
    ``settings`` in place of its values, checked against the backend's class.

    Parameters
    ----------
    backend : str or mapping
        A backend name (:func:`evaluation.config.backend_names`) or a composed config.
    **settings
        The backend's settings to change (``backend.<key>=`` on the command line).

    Returns
    -------
    DictConfig
        ``_target_``, ``name`` and every setting.

    Raises
    ------
    ValueError
        An unknown backend, a setting the backend does not take, or a value out of range.
    """
    if isinstance(backend, str):
        if backend not in backend_names():
            raise ValueError(f"no backend {backend!r}; backends: {', '.join(backend_names())}")
        bcfg = compose_backend(backend, settings)
    else:
        bcfg = OmegaConf.merge(OmegaConf.create(plain(backend)), settings)
    check_backend_signature(plain(bcfg))
    check_backend_values(settings)
    return bcfg


def _train(data: Data | HierData) -> HierData:
    require(data, (Data, HierData), "data", "a Data (api.make_data, api.load_data) or HierData")
    return data.train if isinstance(data, Data) else data


def fit(
    data: Data | HierData,
    backend: str | Mapping[str, Any] = "pyro_meanfield",
    seed: int = 0,
    *,
    model: ModelSpec | str | None = None,
    cache_dir: str | Path | None = None,
    **settings: Any,
) -> FitResult:
    """Fit the model to the training rows with a backend chosen by name.

    Parameters
    ----------
    data : Data or HierData
        A :class:`Data` (its ``train`` rows are fitted) or the rows themselves.
    backend : str or mapping
        A name (``backend_names()``: ``"pymc_nuts"``, ``"pyro_meanfield"``,
        ``"stan_meanfield"``, ``"pymc_dadvi_lr"``, ...) or a composed backend config.
    seed : int
    model : ModelSpec or str, optional
        ``"centered"`` or ``"noncentered"`` (default), or a :func:`make_model`.
    cache_dir : path, optional
        Keep the fit there, keyed by a hash of data, model, settings and seed, and read it
        back next time instead of fitting (:func:`evaluation.fitting.cached_fit`).
    **settings
        The backend's settings, as ``backend.<key>=`` on the command line, e.g.
        ``chains=4, tune=300, draws=300`` (NUTS) or ``stop_at_convergence=True`` (VI).

    Returns
    -------
    FitResult
        ``idata`` (ArviZ InferenceData), ``loss`` (VI), ``timing``, ``info``.

    Raises
    ------
    TypeError, ValueError
        An argument of the wrong kind or value (one line naming it: ``data``, ``backend``,
        ``seed`` or a setting).
    """
    train, seed = _train(data), check_seed(seed)
    check_backend(backend)
    bcfg = backend_config(backend, **settings)
    return fitting.fit_backend(bcfg, train, _model(model), seed, cache_dir)


def reference(
    data: Data | HierData,
    source: str | Path = "pymc_nuts",
    seed: int = 0,
    *,
    model: ModelSpec | str | None = None,
    cache_dir: str | Path = ".cache/reference",
    **settings: Any,
) -> Reference:
    """A reference posterior (``evaluation.reference`` of the app), with its criteria check.

    Parameters
    ----------
    data : Data or HierData
        The data (its training rows) the reference is fitted to.
    source : str or path
        A saved ``posterior.nc``, or a backend name: that backend's fit, computed once and
        cached in ``cache_dir`` (the next call with the same data, model, settings and seed
        reads it).
    seed : int
    model : ModelSpec or str, optional
        As in :func:`fit`.
    cache_dir : path
    **settings
        The backend's settings (the app's ``evaluation.reference_overrides``).

    Returns
    -------
    Reference
        ``(idata, check)``: the check says whether R-hat, ESS and divergences meet the
        reference criteria.

    Raises
    ------
    evaluation.fitting.OtherData
        A ValueError: the ``posterior.nc`` was fitted to other data than ``data`` (sizes, or
        the data hash, named).
    """
    train, seed = _train(data), check_seed(seed)
    require(source, (str, Path), "source", "a posterior.nc path or a backend name")
    if str(source).endswith(".nc"):
        return Reference(*fitting.load_reference(Path(source), train))
    bcfg = backend_config(str(source), **settings)
    pair = fitting.cached_reference(bcfg, train, _model(model), seed, Path(cache_dir))
    return Reference(*pair)
