"""Reading one table of your own data: CSV (comma, or the semicolon, tab or ``|`` its header
line uses) or Parquet, duplicate column names refused, group ids kept as text."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from evaluation.data.recipes import DataValidationError

log = logging.getLogger("evaluation.data.tables")  # the loader's one logger, as before the split

_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
#: Delimiters tried, in order, when a CSV header line has no comma.
_OTHER_DELIMITERS: tuple[str, ...] = (";", "\t", "|")


def _format(path: Path, fmt: str, key: str) -> str:
    if fmt in ("csv", "parquet"):
        return fmt
    suffixes = [s.lower() for s in path.suffixes]
    for suffix in reversed(suffixes):
        if suffix in _FORMATS:
            return _FORMATS[suffix]
    raise DataValidationError(
        f"{path.name}: cannot tell the format from the extension; use .csv or .parquet, or "
        f"set data.format=csv|parquet (data.{key})"
    )


def _delimiter(path: Path) -> str:
    """``,`` unless the header line has no comma but a semicolon, tab or ``|`` (most frequent)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        line = f.readline()
    counts = {d: line.count(d) for d in _OTHER_DELIMITERS}
    best = max(_OTHER_DELIMITERS, key=counts.__getitem__)
    if "," in line or not counts[best]:
        return ","
    log.info("%s: the header line has no comma; reading it with delimiter %r", path.name, best)
    return best


def _header(path: Path, fmt: str, sep: str = ",") -> list[str]:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    first = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False, sep=sep)
    return [str(c) for c in first.iloc[0]] if len(first) else []


def read_table(path: str | Path, key: str, fmt: str = "auto", id_column: str | None = None):
    """Read one table, refusing duplicate column names.

    Parameters
    ----------
    path : str or Path
    key : str
        The config key that named the file (``"units_path"`` or ``"groups_path"``).
    fmt : {"auto", "csv", "parquet"}
        ``auto`` decides by the extension.
    id_column : str, optional
        Read as strings (group ids keep leading zeros and are never numbers).

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    DataValidationError
        Missing file, unknown format, Parquet without pyarrow, unreadable or empty file,
        duplicate column names.

    Notes
    -----
    A CSV is comma-separated unless its header line has no comma but a ``;``, tab or ``|``
    (the most frequent of them is used).
    """
    path = Path(path)
    if not path.is_file():
        what = "a directory, not a file" if path.is_dir() else "file not found"
        raise DataValidationError(
            f"{path}: {what}; set data.{key}=PATH to an existing CSV or Parquet file"
        )
    fmt = _format(path, fmt, key)
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise DataValidationError(
                f"{path.name}: reading Parquet needs pyarrow; pip install pyarrow "
                "(or save the table as CSV)"
            ) from None
    try:
        sep = _delimiter(path) if fmt == "csv" else ","
        header = _header(path, fmt, sep)
        if fmt == "csv":
            dtype = {id_column: str} if id_column in header else None
            frame = pd.read_csv(path, dtype=dtype, sep=sep)
        else:
            frame = pd.read_parquet(path)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataValidationError(
            f"{path.name}: cannot read as {fmt} ({first_line}); check the file"
        ) from None
    unique_columns(header, path.name)
    if frame.empty:
        raise DataValidationError(f"{path.name}: the table has no rows; check data.{key}")
    return ids_as_text(frame, id_column)


def ids_as_text(frame: pd.DataFrame, id_column: str | None) -> pd.DataFrame:
    """``frame`` with its id column as stripped strings (missing ids stay missing)."""
    if id_column in frame.columns:
        ids = frame[id_column]
        frame[id_column] = ids.where(ids.isna(), ids.astype(str).str.strip()).astype(object)
    return frame


def unique_columns(columns: list[str], source: str) -> None:
    """Refuse a table whose column names repeat (one line naming them)."""
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    if dupes:
        raise DataValidationError(
            f"{source}: duplicate column name(s) {dupes}; rename them so each is unique"
        )
