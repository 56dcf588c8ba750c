"""Atomic writers: results keep the umask's permissions and leave no temporary file."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest
import xarray as xr

from evaluation import io


@pytest.fixture
def umask():
    """Set a umask for one test and restore the previous one afterwards."""
    previous = os.umask(0o022)
    try:
        yield lambda mask: os.umask(mask)
    finally:
        os.umask(previous)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _figure():
    plt = io.pyplot()
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    return fig


def _write_all(out):
    return [
        io.write_json(out / "metrics.json", {"status": "complete", "x": np.float64(1.5)}),
        io.write_netcdf(out / "posterior.nc", xr.Dataset({"a": ("draw", np.arange(3.0))})),
        io.save_figure(_figure(), out / "figures" / "loss.png"),
    ]


def test_results_are_0644_under_umask_022(tmp_path, umask):
    umask(0o022)
    paths = _write_all(tmp_path)
    assert [_mode(p) for p in paths] == [0o644] * 3
    assert json.loads(paths[0].read_text()) == {"status": "complete", "x": 1.5}
    assert sorted(p.name for p in tmp_path.rglob("*")) == [
        "figures", "loss.png", "metrics.json", "posterior.nc",
    ]  # fmt: skip


def test_results_follow_a_stricter_umask(tmp_path, umask):
    umask(0o077)
    assert [_mode(p) for p in _write_all(tmp_path)] == [0o600] * 3


def test_overwrite_takes_the_umask_mode_and_leaves_no_temp_file(tmp_path, umask):
    umask(0o022)
    target = tmp_path / "metrics.json"
    target.write_text("old")
    target.chmod(0o600)
    io.write_json(target, {"status": "complete"})
    assert _mode(target) == 0o644
    assert json.loads(target.read_text()) == {"status": "complete"}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_failed_write_keeps_the_old_file_and_removes_the_temp_file(tmp_path):
    target = tmp_path / "metrics.json"
    target.write_text('{"status": "complete"}\n')

    def boom(tmp):
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        io._atomic(target, boom)
    assert target.read_text() == '{"status": "complete"}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_temp_file_is_hidden_next_to_the_target(tmp_path, umask):
    umask(0o022)
    seen = []
    io._atomic(tmp_path / "a.json", lambda tmp: seen.append((tmp.name, _mode(tmp))))
    ((name, mode),) = seen
    assert name.startswith(".a.json.") and name.endswith(".tmp")
    assert mode == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]
