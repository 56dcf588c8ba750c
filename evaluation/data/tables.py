"""Bring your own data: a units table and a groups table -> :class:`~backends.spec.HierData`.

* **units** (one row per worker): the binary outcome, the group id, unit-level columns.
* **groups** (one row per worksite): the group id, group-level columns.

CSV or Parquet (Parquet needs ``pyarrow``); a CSV whose header line has no comma but a
semicolon, tab or ``|`` is read with that delimiter (logged).  Paths, column roles and
per-column recipes come from the data config (``conf/data/tables.yaml``;
``conf/data/paper_tables.yaml`` is the preset for the paper's raw columns)::

    ppl-compare data=tables data.units_path=units.csv data.groups_path=groups.csv \\
        data.outcome=signed data.group_id=site \\
        '+data.unit_features.tenure=[log,standardize]' '+data.group_features.size=standardize'

Features are built exactly as configured, in config order (see :mod:`evaluation.data.recipes`);
group ids are kept as strings, in the groups table's order.  Everything that was resolved
(columns, recipes, parameters, dropped groups, warnings) is in ``meta["design"]``.

Every problem with the input raises :class:`DataValidationError` with a one-line message
naming the file, the column and the fix.  Groups without units are dropped with a logged
warning (``logging``, not ``warnings``) and recorded in the design.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from backends.spec import HierData
from evaluation.config import plain
from evaluation.data.features import PAPER_SITE_FEATURES, PAPER_WORKER_FEATURES
from evaluation.data.files import ids_as_text, read_table, unique_columns
from evaluation.data.recipe_steps import apply_feature
from evaluation.data.recipes import DataValidationError, FeatureBlock, parse_features

log = logging.getLogger(__name__)

TABLE_KINDS: tuple[str, ...] = ("tables", "paper_tables")
REQUIRED_KEYS: tuple[str, ...] = ("units_path", "groups_path", "outcome", "group_id")
#: Accepted outcome spellings (after ``str(value).strip().lower()``).
OUTCOME_CODES: dict[str, int] = {
    "0": 0, "1": 1, "0.0": 0, "1.0": 1, "false": 0, "true": 1, "no": 0, "yes": 1,
}  # fmt: skip


# ------------------------------------------------------------------------------ checks
def _settings(cfg: Mapping[str, Any], frames: Any = None) -> dict[str, Any]:
    """The config's settings; the path of each table not given in memory is required."""
    settings = plain(cfg)
    in_memory = {k for k, f in zip(("units_path", "groups_path"), frames or (None, None),
                                   strict=True) if f is not None}  # fmt: skip
    needed = [k for k in REQUIRED_KEYS if k not in in_memory]
    unset = [k for k in needed if settings.get(k) in (None, "", "???")]
    if unset:
        raise DataValidationError(
            f"data config: {', '.join(f'data.{k}' for k in unset)} not set; pass e.g. "
            f"data.{unset[0]}=VALUE on the command line"
        )
    return settings


def _resolve(path: str) -> Path:
    from hydra.utils import to_absolute_path

    return Path(to_absolute_path(str(Path(path).expanduser())))


def _path_or_none(path: Any, frame: Any) -> str | None:
    """The resolved path of a table read from a file; None for one given in memory."""
    return None if frame is not None else str(_resolve(str(path)))


def _require_columns(frame: pd.DataFrame, columns: Sequence[str], source: str, hint: str):
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        have = list(frame.columns)
        shown = ", ".join(map(repr, have[:12])) + (" ..." if len(have) > 12 else "")
        sep = ""
        if len(have) == 1:
            sep = ("; the file has a single column: is it delimited by something other than "
                   "comma, semicolon, tab or |? save it comma-separated")  # fmt: skip
        raise DataValidationError(
            f"{source}: column(s) {missing} not found (columns: {shown}); fix {hint} or the file"
            f"{sep}"
        )


def _bad_mask(series: pd.Series) -> np.ndarray:
    bad = np.array(series.isna(), dtype=bool)
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        bad |= ~np.isfinite(series.to_numpy(dtype=float, na_value=np.nan))
    return bad


def _check_finite(frame: pd.DataFrame, columns: Sequence[str], source: str) -> None:
    masks = {c: _bad_mask(frame[c]) for c in dict.fromkeys(columns)}
    rows = np.logical_or.reduce(list(masks.values())) if masks else np.zeros(0, bool)
    if rows.any():
        detail = ", ".join(f"{c!r} ({int(m.sum())})" for c, m in masks.items() if m.any())
        first = int(np.flatnonzero(rows)[0]) + 1
        raise DataValidationError(
            f"{source}: {int(rows.sum())} row(s) have missing or infinite values in {detail} "
            f"(first at data row {first}); fill or drop those rows before loading"
        )


def parse_outcome(series: pd.Series, column: str, source: str) -> tuple[np.ndarray, str]:
    """Binary outcome from 0/1, true/false or yes/no (case-insensitive).

    Returns
    -------
    y : ndarray of int8
    coding : str
        The spellings found, e.g. ``"yes/no"``.

    Raises
    ------
    DataValidationError
        Any other value, or only one class present.
    """
    tokens = series.astype(str).str.strip().str.lower()
    bad = ~tokens.isin(list(OUTCOME_CODES))
    if bad.any():
        examples = sorted(set(series[bad].astype(str)))[:3]
        raise DataValidationError(
            f"{source}: outcome column {column!r} has {int(bad.sum())} value(s) that are not "
            f"0/1, true/false or yes/no (e.g. {examples}); recode them or choose data.outcome"
        )
    y = tokens.map(OUTCOME_CODES).to_numpy(dtype=np.int8)
    if np.unique(y).size < 2:
        raise DataValidationError(
            f"{source}: outcome column {column!r} has only the value {int(y[0])} ({y.size} rows);"
            " the model needs both classes — check data.outcome and the file"
        )
    return y, "/".join(sorted(set(tokens)))


def _group_index(units, groups, gid: str, units_src: str, groups_src: str) -> None:
    ids = groups[gid]
    if ids.isna().any():
        raise DataValidationError(
            f"{groups_src}: {int(ids.isna().sum())} row(s) have no group id in column {gid!r}; "
            "fill or drop them"
        )
    dupes = ids[ids.duplicated()].unique().tolist()
    if dupes:
        raise DataValidationError(
            f"{groups_src}: duplicate group id(s) {dupes[:5]} in column {gid!r}; each group "
            "must appear once"
        )
    unknown = ~units[gid].isin(ids)
    if unknown.any():
        shown = units.loc[unknown, gid].unique().tolist()[:5]
        raise DataValidationError(
            f"{units_src}: {int(unknown.sum())} unit(s) have group ids not in {groups_src} "
            f"(e.g. {shown}) in column {gid!r}; add those groups or drop those units"
        )


def _blocks(specs, frame: pd.DataFrame, source: str, key: str) -> list[FeatureBlock]:
    blocks = [apply_feature(s, frame[s.column].reset_index(drop=True), source) for s in specs]
    names = [n for b in blocks for n in b.names]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DataValidationError(
            f"{source}: feature name(s) {dupes} produced twice by data.{key}; give distinct "
            "name/names"
        )
    return blocks


def _matrix(blocks: list[FeatureBlock], n: int) -> np.ndarray:
    return np.column_stack([b.values for b in blocks]) if blocks else np.empty((n, 0))


# ------------------------------------------------------------------------------ loading
class _Inputs(NamedTuple):
    """The two tables after reading and column checks, with their display names."""

    units: pd.DataFrame
    groups: pd.DataFrame
    units_src: str
    groups_src: str


def _read_inputs(s: Mapping[str, Any], unit_specs, group_specs, frames=None) -> _Inputs:
    gid, outcome = str(s["group_id"]), str(s["outcome"])
    tables, names = [], []
    for frame, key in zip(frames or (None, None), ("units_path", "groups_path"), strict=True):
        if frame is not None:  # in memory: a package's data set, or the Python API's DataFrame
            names.append(f"{s.get('source')} {key.split('_')[0]}")
            unique_columns([str(c) for c in frame.columns], names[-1])
            tables.append(ids_as_text(frame.copy(), gid))
        else:
            path = _resolve(s[key])
            tables.append(read_table(path, key, str(s.get("format") or "auto"), id_column=gid))
            names.append(path.name if path.name not in names else str(path))
    (units, groups), (usrc, gsrc) = tables, names
    _require_columns(units, [outcome, gid], usrc, "data.outcome / data.group_id")
    _require_columns(groups, [gid], gsrc, "data.group_id")
    _require_columns(units, [u.column for u in unit_specs], usrc, "data.unit_features")
    _require_columns(groups, [g.column for g in group_specs], gsrc, "data.group_features")
    for role in (outcome, gid):
        if role in [u.column for u in unit_specs]:
            raise DataValidationError(
                f"{usrc}: column {role!r} is the outcome or group id and cannot also be a "
                "unit feature; remove it from data.unit_features"
            )
    return _Inputs(units, groups, usrc, gsrc)


def _drop_empty_groups(t: _Inputs, gid: str) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Groups that have units (table order), the dropped ids, and the warning text."""
    has_units = t.groups[gid].isin(t.units[gid].unique())
    dropped = t.groups.loc[~has_units, gid].tolist()
    notes = []
    if dropped:
        more = " ..." if len(dropped) > 10 else ""
        notes.append(f"{len(dropped)} group(s) in {t.groups_src} have no units and were "
                     f"dropped: {dropped[:10]}{more}")  # fmt: skip
        log.warning("%s", notes[-1])
    kept = t.groups.loc[has_units].reset_index(drop=True)
    if len(kept) < 2:
        raise DataValidationError(
            f"{t.groups_src}: only {len(kept)} group(s) with units; the hierarchical model "
            f"needs at least 2 — check data.group_id ({gid!r}) and the files"
        )
    return kept, dropped, notes


def load_tables(cfg: Mapping[str, Any], frames: Any = None) -> HierData:
    """Load a units table and a groups table as configured by a ``tables`` data config.

    Parameters
    ----------
    cfg : mapping or DictConfig
        Keys ``kind`` (``tables`` | ``paper_tables``), ``name``, ``units_path``,
        ``groups_path``, ``format`` (``auto`` | ``csv`` | ``parquet``), ``outcome``,
        ``group_id``, ``unit_features``, ``group_features`` (see :mod:`evaluation.data.recipes`).
        Other keys (``test_fraction``, ``split``, ``seed``) are ignored here.
    frames : (units, groups), optional
        Tables in memory (a package's data set, :mod:`evaluation.data.public`; the Python
        API's DataFrames) instead of the files ``units_path`` / ``groups_path``; a None in
        place of one is read from its file.

    Returns
    -------
    HierData
        Units in file order; worksites in the groups table's order (groups without units
        dropped); ``meta["design"]`` records the resolved design.

    Raises
    ------
    DataValidationError
        Any invalid input, with a one-line message naming file, column and fix.
    """
    s = _settings(cfg, frames)
    kind, gid, outcome = str(s.get("kind", "tables")), str(s["group_id"]), str(s["outcome"])
    unit_specs = parse_features(s.get("unit_features"), "unit_features")
    group_specs = parse_features(s.get("group_features"), "group_features")
    for specs, key, where in ((unit_specs, "unit_features", "unit"),
                              (group_specs, "group_features", "group")):  # fmt: skip
        if not specs:
            raise DataValidationError(
                f"data config: data.{key} is empty; list at least one {where} column, e.g. "
                f"'+data.{key}.COLUMN=standardize'"
            )
    t = _read_inputs(s, unit_specs, group_specs, frames)
    _check_finite(t.units, [outcome, gid, *(u.column for u in unit_specs)], t.units_src)
    _group_index(t.units, t.groups, gid, t.units_src, t.groups_src)
    groups, dropped, notes = _drop_empty_groups(t, gid)
    _check_finite(groups, [g.column for g in group_specs], t.groups_src)
    y, coding = parse_outcome(t.units[outcome], outcome, t.units_src)
    ids = tuple(groups[gid].astype(str))
    site = pd.Index(ids).get_indexer(t.units[gid].astype(str))
    unit_blocks = _blocks(unit_specs, t.units, t.units_src, "unit_features")
    group_blocks = _blocks(group_specs, groups, t.groups_src, "group_features")
    site_names = tuple(n for b in group_blocks for n in b.names)
    worker_names = tuple(n for b in unit_blocks for n in b.names)
    if kind == "paper_tables":
        _check_paper_names(site_names, worker_names)
    design = {
        "kind": kind, "units_path": _path_or_none(s.get("units_path"), (frames or [None])[0]),
        "groups_path": _path_or_none(s.get("groups_path"), (frames or [None, None])[1]),
        "source": s.get("source"), "format": str(s.get("format") or "auto"),
        "outcome": outcome, "outcome_coding": coding, "group_id": gid,
        "n_units": int(y.size), "n_groups": len(ids), "n_groups_read": len(ids) + len(dropped),
        "site_features": list(site_names), "worker_features": list(worker_names),
        "group_recipes": [b.record for b in group_blocks],
        "unit_recipes": [b.record for b in unit_blocks],
        "dropped_groups": dropped, "dropped_units": 0,
        "warnings": notes + [f"{b.record['column']}: {n}" for b in group_blocks + unit_blocks
                             for n in b.record["notes"]],
    }  # fmt: skip
    return HierData(
        y=y, site=site, X_site=_matrix(group_blocks, len(ids)),
        X_worker=_matrix(unit_blocks, y.size), site_features=site_names,
        worker_features=worker_names, worksite_ids=ids, name=str(s.get("name") or kind),
        meta={"kind": kind, "design": design},
    )  # fmt: skip


def _check_paper_names(site_names: tuple[str, ...], worker_names: tuple[str, ...]) -> None:
    for got, want, key in ((site_names, PAPER_SITE_FEATURES, "group_features"),
                           (worker_names, PAPER_WORKER_FEATURES, "unit_features")):  # fmt: skip
        if tuple(got) != tuple(want):
            raise DataValidationError(
                f"data=paper_tables: data.{key} produce {list(got)}, not the paper's "
                f"{list(want)}; restore the preset or use data=tables for another design"
            )


__all__ = [
    "OUTCOME_CODES",
    "REQUIRED_KEYS",
    "TABLE_KINDS",
    "DataValidationError",
    "load_tables",
    "parse_outcome",
    "read_table",
]
