"""The building blocks of the sweep report: a :class:`Section` of paragraphs, tables and saved
:class:`Figure` s, and the guards that keep one broken figure or section from losing the report.

Every section module (:mod:`~evaluation.report.sweep.calibration`,
:mod:`~evaluation.report.sweep.paper`, :mod:`~evaluation.report.sweep.report`) builds these;
:mod:`evaluation.report.sweep.report` renders them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from evaluation import io
from evaluation.sweep.records import FIG_DIR

log = logging.getLogger("ppl_compare.sweep")


class Figure(NamedTuple):
    """A saved figure: its path, the path relative to the sweep dir, caption, PNG bytes."""

    path: Path
    rel: str
    caption: str
    png: bytes


class Section(NamedTuple):
    """A report section: title and blocks, each ``("p", str)``, ``("table", DataFrame)`` or
    ``("figure", Figure)``."""

    title: str
    blocks: list[tuple[str, Any]]


def save(fig: Any, sweep_dir: Path, name: str, caption: str) -> Figure | None:
    """Save ``fig`` as ``figures/<name>.png`` in the sweep dir (None for no figure)."""
    if fig is None:
        return None
    path = io.save_figure(fig, Path(sweep_dir) / FIG_DIR / f"{name}.png")
    return Figure(path, f"{FIG_DIR}/{name}.png", caption, path.read_bytes())


def figure_block(
    make: Callable[[], Any], sweep_dir: Path, name: str, caption: str
) -> list[tuple[str, Any]]:
    """The blocks of one figure: ``[("figure", Figure)]``, ``[]`` when ``make`` returns None,
    or a one-paragraph note when drawing failed."""
    try:
        fig = save(make(), sweep_dir, name, caption)
    except Exception as exc:  # one broken figure must not lose the report
        log.warning("sweep figure %s failed: %s", name, exc, exc_info=True)
        return [("p", f"(figure {name} could not be drawn: {type(exc).__name__}: {exc})")]
    return [("figure", fig)] if fig is not None else []


def optional(make: Callable[[], Section | None], name: str) -> list[Section]:
    """``[section]`` from ``make``, ``[]`` when it returns None, or a section saying it failed."""
    try:
        section = make()
    except Exception as exc:
        log.warning("sweep report section %s failed: %s", name, exc, exc_info=True)
        return [Section(name, [("p", f"(could not be built: {type(exc).__name__}: {exc})")])]
    return [section] if section is not None else []
