"""Data sets for the Python API: the synthetic twin (or any ``conf/data`` config) by name,
your own two tables, or a complete data config (the app's path), each split into training and
held-out rows."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from backends.spec import HierData
from evaluation.api.arguments import require
from evaluation.config import feature_entries, plain
from evaluation.config.compose import compose_choice
from evaluation.data.load import load_data as load_configured
from evaluation.data.split import split_from_config
from evaluation.data.tables import load_tables


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
        ``"contraception"`` (real data, needs the ``data`` extra).
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
