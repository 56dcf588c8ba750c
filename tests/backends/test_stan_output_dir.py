"""CmdStan output folders: under the cache, removed on exit, and a killed run's removed later."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from backends.stan.cmdstan import output_dir

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def runs(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("PPL_COMPARE_STAN_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "runs" / socket.gethostname()


def test_output_dir_lives_under_the_cache_and_is_removed(runs):
    with output_dir("nuts") as out:
        out = Path(out)
        assert out.parent == runs and out.is_dir()
        assert re.fullmatch(rf"stan-nuts-{os.getpid()}-\w+", out.name)
        (out / "chain-1.csv").write_text("lp__\n")
    assert not out.exists() and list(runs.iterdir()) == []


def test_output_dir_is_removed_when_the_fit_raises(runs):
    with pytest.raises(RuntimeError), output_dir("meanfield") as out:
        raise RuntimeError("CmdStan failed")
    assert not Path(out).exists()


def test_a_run_killed_by_sigterm_is_cleaned_by_the_next_start(runs):
    script = (
        "import os, signal\n"
        "from backends.stan.cmdstan import output_dir\n"
        "with output_dir('nuts') as out:\n"
        "    open(os.path.join(out, 'chain-1.csv'), 'w').write('lp__')\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=os.environ, check=False)
    assert proc.returncode == -signal.SIGTERM
    (left,) = runs.iterdir()  # SIGTERM skips the clean-up ...
    assert left.name.startswith("stan-nuts-") and (left / "chain-1.csv").exists()
    live = runs / f"stan-fullrank-{os.getppid()}-abc"  # ... a live process's folder is kept
    live.mkdir()
    with output_dir("nuts") as out:  # ... and the next start removes the dead run's folder
        assert sorted(p.name for p in runs.iterdir()) == sorted([live.name, Path(out).name])
    assert [p.name for p in runs.iterdir()] == [live.name]
