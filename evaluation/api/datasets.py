"""Data sets for the Python API: the synthetic twin (or any ``conf/data`` config) by name,
your own two tables, or a complete data config (the app's path), each split into training and
held-out rows; and worlds drawn from a real data set's posterior (``kind: posterior_world``),
whose posterior is fitted here, once, and cached."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from backends.spec import HierData
from evaluation import fitting
from evaluation.api.arguments import require
from evaluation.config import (
    backend_names,
    check_backend_signature,
    check_backend_values,
    compose_backend,
    feature_entries,
    model_spec,
    plain,
)
from evaluation.config.compose import compose_choice
from evaluation.data.load import load_data as load_configured
from evaluation.data.posterior_world import draw_index, pick_draw, posterior_world
from evaluation.data.split import split_from_config
from evaluation.data.tables import load_tables

log = logging.getLogger("ppl_compare")

#: The data kind of a world drawn from a real data set's posterior (conf/data/posterior_world).
WORLD_KIND = "posterior_world"


class Data(NamedTuple):
    """A data set and its held-out split.

    Attributes
    ----------
    full : HierData
        Every worker (with the truth, for the synthetic twin).
    train : HierData
        The rows a backend fits.
    test : HierData or None
        The held-out rows (None when ``test_fraction`` is 0: then scores are in-sample).
    """

    full: HierData
    train: HierData
    test: HierData | None


def data_from_config(settings: Mapping[str, Any]) -> Data:
    """The data set a complete data config describes (the app's ``cfg.data``), split.

    Parameters
    ----------
    settings : mapping or DictConfig
        Every key of a ``conf/data`` config (``kind`` says which loader); a feature list of
        bare column names (``unit_features: [x1, x2]``) means each column taken as it is
        (:func:`evaluation.config.feature_entries`).

    Returns
    -------
    Data
        ``(full, train, test)``, split by ``test_fraction``, ``split`` and ``seed``.
    """
    settings = plain(settings)
    if settings.get("kind") == WORLD_KIND:
        return posterior_world_data(settings)
    for key in ("unit_features", "group_features"):
        if key in settings:
            settings[key] = feature_entries(settings[key])
    full = load_configured(settings)
    return Data(full, *split_from_config(full, settings))


def data_config(config: str = "paper", **settings: Any) -> dict[str, Any]:
    """The data config ``conf/data/<config>.yaml`` with ``settings`` in place of its values.

    Parameters
    ----------
    config : str
        The config's name (``conf/data/<config>.yaml``).
    **settings
        Its keys to change.

    Returns
    -------
    dict
        The complete config, interpolations resolved (``seed`` is the root's, 0, unless set).

    Raises
    ------
    ValueError
        ``config`` names no data config, or a setting is not one of its keys.
    """
    base = plain(compose_choice("data", config).data)
    unknown = sorted(set(settings) - set(base))
    if unknown:
        raise ValueError(f"data={config} has no setting {unknown[0]!r}; settings: "
                         f"{', '.join(sorted(base))}")  # fmt: skip
    return {**base, **settings}


def make_data(config: str = "paper", **settings: Any) -> Data:
    """Build a data set by name: the synthetic twin of the paper by default.

    Parameters
    ----------
    config : str
        A data config of ``conf/data/``: ``"paper"`` (the twin), ``"paper_calibrated"``,
        ``"contraception"`` (real data, needs the ``data`` extra), ``"world_paper"``,
        ``"world_thornton_hiv"`` (worlds drawn from a real posterior:
        :func:`posterior_world_data`; the first call fits its source, later ones read it).
    **settings
        Its keys, as ``data.<key>=`` on the command line.  For the twin:
        ``n_worksites``, ``n_workers``, ``sigma_worker``, ``sigma_site``, ``n_clusters``,
        ``cluster_separation``, ``prevalence``, ``site_scale``, ``design``, ``seed`` (see
        :func:`evaluation.data.twin.make_paper_twin`); for every data set ``test_fraction``
        (0 = no held-out rows) and ``split`` (``"workers"`` or ``"worksites"``).

    Returns
    -------
    Data
        ``(full, train, test)``.

    Examples
    --------
    >>> data = make_data(n_worksites=12, n_workers=1200, sigma_worker=1.0, n_clusters=2)
    """
    return data_from_config(data_config(config, **settings))


def load_data(
    units: str | Path | pd.DataFrame,
    groups: str | Path | pd.DataFrame,
    *,
    outcome: str,
    group_id: str,
    unit_features: Any,
    group_features: Any,
    **settings: Any,
) -> Data:
    """Your own data: a units table (one row per worker) and a groups table (one per worksite).

    Parameters
    ----------
    units, groups : path or DataFrame
        CSV or Parquet files, or the tables in memory.
    outcome : str
        The binary outcome column of ``units`` (0/1, true/false, yes/no).
    group_id : str
        The group id column, in both tables.
    unit_features, group_features : list or mapping
        Columns taken as they are (``["tenure", "age"]``) or column -> recipe
        (``{"tenure": ["log", "standardize"]}``; recipes: :mod:`evaluation.data.recipes`).
    **settings
        Other keys of ``conf/data/tables.yaml``: ``test_fraction``, ``split``, ``seed``,
        ``format``, ``name``.

    Returns
    -------
    Data

    Raises
    ------
    TypeError
        A table that is neither a path nor a DataFrame, or a column name that is no string.
    evaluation.data.recipes.DataValidationError
        A problem with the tables (one line naming the file or table, the column and the fix).
    """
    for name, table in (("units", units), ("groups", groups)):
        require(table, (str, Path, pd.DataFrame), name, "a CSV or Parquet path, or a DataFrame")
    for name, column in (("outcome", outcome), ("group_id", group_id)):
        require(column, str, name, "a column name")
    features = {"unit_features": unit_features, "group_features": group_features}
    cfg = data_config("tables", outcome=outcome, group_id=group_id, **features, **settings)
    frames = [t if isinstance(t, pd.DataFrame) else None for t in (units, groups)]
    if all(f is None for f in frames):
        return data_from_config({**cfg, "units_path": str(units), "groups_path": str(groups)})
    for key in features:
        cfg[key] = feature_entries(cfg[key])
    paths = {f"{n}_path": str(t) for n, t in (("units", units), ("groups", groups))
             if not isinstance(t, pd.DataFrame)}  # fmt: skip
    full = load_tables({**cfg, **paths, "source": "DataFrame"}, tuple(frames))
    return Data(full, *split_from_config(full, cfg))


# ----------------------------------------------------------------------- posterior worlds
def source_config(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The data config of a posterior world's source: ``conf/data/<source>.yaml`` with
    ``source_overrides`` in place of its values (its ``seed`` is 0 unless overridden).

    Raises
    ------
    ValueError
        ``source`` names no data config, an override is not one of its keys, or the source
        is itself a posterior world.
    """
    settings = plain(settings)
    source = str(settings["source"])
    cfg = data_config(source, **(settings.get("source_overrides") or {}))
    if cfg.get("kind") == WORLD_KIND:
        raise ValueError(f"data.source={source}: a posterior world's source must be data "
                         "(the twin, tables, a public data set), not another world")  # fmt: skip
    return cfg


def source_posterior(settings: Mapping[str, Any], source: HierData) -> fitting.SourcePosterior:
    """The posterior of ``source`` a world of ``settings`` draws from: ``source_fit`` (backend,
    its settings, seed) fitted on every row of the source under the default model
    (``conf/model/default.yaml``), once, cached under ``cache_dir``
    (:func:`evaluation.fitting.source_posterior`).

    Raises
    ------
    ValueError
        An unknown backend, or a setting it does not take or out of its range.
    """
    fit = plain(settings)["source_fit"]
    name, values = str(fit["backend"]), dict(fit.get("settings") or {})
    if name not in backend_names():
        raise ValueError(f"data.source_fit.backend={name!r}: no such backend; backends: "
                         f"{', '.join(backend_names())}")  # fmt: skip
    bcfg = compose_backend(name, values)
    try:
        check_backend_signature(plain(bcfg))
    except ValueError as exc:
        raise ValueError(f"data.source_fit.settings: {exc}") from None
    check_backend_values(values, {key: "data.source_fit.settings" for key in values})
    spec = model_spec(compose_choice("model", "default").model)
    cache = Path(plain(settings)["cache_dir"])
    return fitting.source_posterior(bcfg, source, spec, int(fit["seed"]), cache)


def posterior_world_data(settings: Mapping[str, Any]) -> Data:
    """A world drawn from a real data set's posterior (``kind: posterior_world``), split.

    The source (``source`` with ``source_overrides``) is built, its posterior fitted once and
    cached (:func:`source_posterior`); ``seed`` picks one draw
    (:func:`evaluation.data.posterior_world.draw_index`) and simulates new outcomes on the
    source's design at it (:func:`evaluation.data.posterior_world.posterior_world`).  The
    held-out rows are the source's: the split rule ``test_fraction`` / ``split`` with the
    source's seed.

    Returns
    -------
    Data
        ``full.truth`` is the drawn parameters; ``full.meta`` records the source (config,
        overrides, name), the posterior (backend, settings, seed, cache key and file, its
        check) and the draw.
    """
    settings = plain(settings)
    cfg = source_config(settings)
    source = data_from_config(cfg).full
    post = source_posterior(settings, source)
    fit, seed = settings["source_fit"], int(settings["seed"])
    if not post.check.passed:
        log.warning("the posterior the world draws from (%s) fails the reference criteria: "
                    "raise data.source_fit.settings (chains, tune, draws)",
                    fit["backend"])  # fmt: skip
    n_draws = int(next(iter(post.draws.values())).shape[0])
    index = draw_index(n_draws, seed, order_seed=int(fit["seed"]))
    meta = {**_world_provenance(settings, source, post), "draw_index": index, "n_draws": n_draws}
    full = posterior_world(source, pick_draw(post.draws, index), seed,
                           name=str(settings["name"]), meta=meta)  # fmt: skip
    rule = {"test_fraction": settings["test_fraction"], "split": settings["split"],
            "seed": int(cfg.get("seed", 0))}  # fmt: skip
    return Data(full, *split_from_config(full, rule))


def _world_provenance(
    settings: Mapping[str, Any], source: HierData, post: fitting.SourcePosterior
) -> dict[str, Any]:
    """What a world records of its source and of the posterior it draws from (JSON-ready)."""
    fit = settings["source_fit"]
    return {
        "source": {"config": str(settings["source"]), "name": source.name,
                   "overrides": dict(settings.get("source_overrides") or {}),
                   "n_workers": source.n_workers, "n_worksites": source.n_worksites},
        "source_fit": {"backend": fit["backend"], "settings": dict(fit.get("settings") or {}),
                       "seed": int(fit["seed"]), "key": post.key,
                       "cache_file": post.fit.info.get("cache_file"),
                       "check": post.check._asdict()},
    }  # fmt: skip
