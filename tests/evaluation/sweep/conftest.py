"""Fixtures of the sweep report's tests: a fabricated sweep dir, and the report's own glue
without its sections and figures."""

from __future__ import annotations

import pytest
from sweepfakes import make_fake_sweep, quick_render


@pytest.fixture
def fake_sweep(tmp_path):
    """4 complete runs, a failed one and an interrupted one (:func:`make_fake_sweep`)."""
    return make_fake_sweep(tmp_path / "sweep")


@pytest.fixture
def quick(monkeypatch):
    """The report's own glue without its sections and figures (seconds per build)."""
    monkeypatch.setattr("evaluation.commands.sweep_files.render_report", quick_render)
