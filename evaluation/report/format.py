"""Number and table formatting shared by the documents (one place): :func:`fmt` and
:func:`table` (the run report's style), :func:`fmt_number`, :func:`spread` and
:func:`md_table` (the sweep report's), :func:`markdown` (the study document's)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

DASH = "—"


def fmt(x: Any, digits: int = 3, dash: str = DASH) -> str:
    """A number with ``digits`` significant digits; ``dash`` for None/NaN; text unchanged."""
    if x is None:
        return dash
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        if not math.isfinite(x):
            return dash
        return f"{x:.{digits}g}" if abs(x) < 1e5 else f"{x:.3e}"
    return str(x)


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """A Markdown table."""

    def cell(x: Any) -> str:
        return fmt(x).replace("|", "\\|").replace("\n", " ")

    out = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return [*out, ""]


def fmt_number(x: float, digits: int = 3) -> str:
    """``x`` with ``digits`` significant digits, ``"-"`` for None/NaN (the sweep tables' style
    of :func:`fmt`)."""
    return fmt(None if x is None else float(x), digits, dash="-")


def spread(values: Sequence[float], digits: int = 3) -> str:
    """``mean ± sd (min–max)`` over seeds; the single value when there is one."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    if v.size == 0:
        return "-"
    if v.size == 1:
        return fmt_number(v[0], digits)
    if np.ptp(v) == 0:
        return f"{fmt_number(v[0], digits)} (all {v.size})"
    return (
        f"{fmt_number(v.mean(), digits)} ± {fmt_number(v.std(ddof=1), 2)} "
        f"({fmt_number(v.min(), digits)}–{fmt_number(v.max(), digits)})"
    )


def markdown(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table of text cells (a ``|`` in a cell becomes ``/``)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c).replace("|", "/") for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _md_cell(value: Any) -> str:
    text = "-" if value is None or (isinstance(value, float) and value != value) else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def md_table(df: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of ``df`` (no index)."""
    head = "| " + " | ".join(_md_cell(c) for c in df.columns) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    rows = ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in df.itertuples(False)]
    return "\n".join([head, rule, *rows])


#: A ``<`` that opens an HTML tag, comment or declaration (``<b``, ``</b``, ``<!--``, ``<?``).
_TAG_OPEN = re.compile(r"<(?=[A-Za-z/!?])")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")


def no_html(text: str) -> str:
    """``text`` with every tag-opening ``<`` outside code spans written as ``&lt;``.

    Names come from the user's data and configs (columns, worksite ids, titles); a Markdown
    viewer renders raw HTML, so one named ``<img src=x onerror=...>`` would run in it.  The
    entity shows as ``<``; a ``<`` before a space or digit (``P < 0.05``) and code spans
    (`` `<b>` ``, shown literally anyway) are left as they are.
    """
    out, last = [], 0
    for span in _CODE_SPAN.finditer(text):
        out += [_TAG_OPEN.sub("&lt;", text[last : span.start()]), span.group(0)]
        last = span.end()
    return "".join([*out, _TAG_OPEN.sub("&lt;", text[last:])])
