"""What a findings runs dir holds and who may write it: its configuration, its lock, its timings.

A runs dir (``--runs-dir``) holds one sweep dir per study.  Every run of a study was made with
the study's own overrides plus the user's (``ppl-compare-findings -- OVERRIDES``); those are the
run's *configuration*, read back from the job's ``.hydra/overrides.yaml`` with the swept keys
(:data:`SWEPT_KEYS`: data seed, backend, repeat) left out.  A call of another configuration
never replaces a study's runs (:func:`foreign_runs`; ``--force`` removes them first), and a
document is never written from a study whose runs mix configurations (:func:`mixed`).

Smoke and override runs get their own runs dir by default (:func:`default_dirs`:
``outputs/findings-<hash of the overrides>``, their document in its ``docs/``), so only the
study itself, without overrides, fills ``outputs/findings`` and writes ``docs/``.

A study being run is locked (:class:`StudyLock`: ``<sweep dir>/.lock`` holds the pid), so two
calls never fit the same jobs; calls running other studies of one runs dir may overlap.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from evaluation import io

#: The study's own runs dir and document dir (relative to the working directory).
DEFAULT_RUNS_DIR = Path("outputs/findings")
DEFAULT_DOCS = Path("docs")
#: Keys a study sweeps (every job has its own value): not part of a run's configuration.
SWEPT_KEYS = frozenset({"data.seed", "seed", "backend", "repeat"})
LOCK = ".lock"


def key_of(override: str) -> str:
    """The key of a Hydra override (``+a.b=1`` -> ``a.b``; ``hydra/launcher=x`` -> itself)."""
    return override.split("=", 1)[0].lstrip("+~")


def is_hydra(override: str) -> bool:
    """Whether ``override`` sets Hydra itself (launcher, dirs): not the runs' results."""
    key = key_of(override)
    return key == "hydra" or key.startswith(("hydra.", "hydra/"))


def config_overrides(overrides: Iterable[str]) -> list[str]:
    """The overrides that change what the runs compute (every one but Hydra's own)."""
    return [str(o) for o in overrides if not is_hydra(str(o))]


def default_dirs(overrides: Sequence[str]) -> tuple[Path, Path]:
    """(runs dir, docs dir) of a call with ``overrides``: the study's own without overrides,
    else ``outputs/findings-<hash>`` and its ``docs/`` (a smoke or a variant never lands in
    the study's runs or in ``docs/``)."""
    changed = config_overrides(overrides)
    if not changed:
        return DEFAULT_RUNS_DIR, DEFAULT_DOCS
    digest = hashlib.sha256("\n".join(changed).encode()).hexdigest()[:8]
    runs = DEFAULT_RUNS_DIR.with_name(f"{DEFAULT_RUNS_DIR.name}-{digest}")
    return runs, runs / "docs"


def is_default(path: Path, default: Path) -> bool:
    """Whether ``path`` is ``default`` (both resolved against the working directory)."""
    return Path(path).resolve() == Path(default).resolve()


# ----------------------------------------------------------------------------- configurations
def _is_sweep(value: str) -> bool:
    """A sweep value (``a,b``, ``range(...)``, ``choice(...)``): jobs hold one of its values."""
    return "," in value or value.startswith(("range(", "choice(", "glob("))


def signature(overrides: Iterable[str]) -> dict[str, str]:
    """Key -> value of the overrides that make a configuration (swept keys and Hydra's left
    out); a sweep value stands for any of its values (``*``)."""
    out = {}
    for o in config_overrides(overrides):
        key = key_of(o)
        if key not in SWEPT_KEYS:
            value = o.split("=", 1)[1] if "=" in o else ""
            out[key] = "*" if _is_sweep(value) else value
    return out


def matches(run: Mapping[str, str], call: Mapping[str, str]) -> bool:
    """Whether a run's signature is one the call's signature would make."""
    return set(run) == set(call) and all(v in ("*", run[k]) for k, v in call.items())


def run_overrides(run_dir: Path) -> list[str] | None:
    """The job's overrides (``.hydra/overrides.yaml``); None when absent or unreadable."""
    try:
        items = yaml.safe_load((Path(run_dir) / ".hydra" / "overrides.yaml").read_text())
    except (OSError, yaml.YAMLError):
        return None
    return [str(o) for o in items] if isinstance(items, list) else None


def _complete(run_dir: Path) -> bool:
    try:
        return io.read_json(run_dir / "metrics.json").get("status") == "complete"
    except (OSError, ValueError, AttributeError):
        return False


def complete_runs(sweep_dir: Path) -> list[Path]:
    """The run dirs of a sweep dir whose metrics.json says complete."""
    if not Path(sweep_dir).is_dir():
        return []
    return sorted(p for p in Path(sweep_dir).iterdir() if p.is_dir() and _complete(p))


def configurations(
    sweep_dir: Path, swept: Iterable[str] = ()
) -> dict[tuple[tuple[str, str], ...], list[Path]]:
    """The complete runs of a sweep dir grouped by configuration (sorted signature items, the
    keys ``swept`` by the study itself left out); runs without a readable
    ``.hydra/overrides.yaml`` are left out."""
    out: dict[tuple[tuple[str, str], ...], list[Path]] = {}
    skip = set(swept)
    for run_dir in complete_runs(sweep_dir):
        overrides = run_overrides(run_dir)
        if overrides is not None:
            items = sorted((k, v) for k, v in signature(overrides).items() if k not in skip)
            out.setdefault(tuple(items), []).append(run_dir)
    return out


def describe(items: Iterable[tuple[str, str]], base: Mapping[str, str] = ()) -> str:
    """A configuration as the overrides that differ from ``base`` ("no overrides" if none)."""
    base = dict(base)
    shown = [f"{k}={v}" for k, v in items if base.get(k) != v]
    return " ".join(shown) or "no overrides"


def foreign_runs(
    sweep_dir: Path, call: Sequence[str], study_overrides: Sequence[str]
) -> dict[str, list[Path]]:
    """The complete runs of ``sweep_dir`` that a configuration other than the call's
    (``call``: every override of the study's commands) made, by their description (the
    overrides beyond the study's own ``study_overrides``)."""
    want, base = signature(call), signature(study_overrides)
    return {describe(items, base): runs for items, runs in configurations(sweep_dir).items()
            if not matches(dict(items), want)}  # fmt: skip


def remove_runs(sweep_dir: Path, call: Sequence[str]) -> int:
    """Remove every run dir of ``sweep_dir`` (complete or not) that another configuration
    made (``--force``); returns how many."""
    want, n = signature(call), 0
    for run_dir in (p for p in Path(sweep_dir).iterdir() if p.is_dir()):
        overrides = run_overrides(run_dir)
        if overrides is not None and not matches(signature(overrides), want):
            shutil.rmtree(run_dir)
            n += 1
    return n


def mixed(sweep_dir: Path, study_overrides: Sequence[str]) -> str | None:
    """One line when the complete runs of ``sweep_dir`` come from several configurations
    (e.g. a smoke run into a study's runs dir), naming what tells them apart; None when they
    are one.  Keys the study's own overrides sweep (the forensics' ``backend.init_sigma=0.01,
    0.1,1.0``) tell jobs of one configuration apart, not configurations."""
    swept = [k for k, v in signature(study_overrides).items() if v == "*"]
    found = configurations(sweep_dir, swept)
    if len(found) < 2:
        return None
    common = set.intersection(*(set(items) for items in found))
    shared = describe(sorted(common), signature(study_overrides))
    own = {items: describe(items, dict(common)) if set(items) - common else "nothing else"
           for items in found}  # fmt: skip
    parts = [f"{len(runs)} with {own[items]}" for items, runs in found.items()]
    return (f"{sweep_dir} mixes runs of {len(found)} configurations (all with {shared}; "
            f"{'; '.join(parts)})")  # fmt: skip


# ----------------------------------------------------------------------------- the lock
class Busy(RuntimeError):
    """Another process holds a study's lock; the message names it and its pid."""


class StudyLock:
    """An exclusive, non-blocking lock on a sweep dir (``<sweep dir>/.lock`` holds the pid),
    released when the process ends however it ends."""

    def __init__(self, sweep_dir: Path) -> None:
        self.path = Path(sweep_dir) / LOCK
        self._handle: Any = None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`Busy` naming the holder's pid."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            pid = handle.read().strip() or "unknown"
            handle.close()
            raise Busy(
                f"{self.path.parent} is being run by another ppl-compare-findings "
                f"(pid {pid}); wait for it to end, or use another --runs-dir"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        """Let the lock go (the file stays; an unlocked file means no holder)."""
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


# ----------------------------------------------------------------------------- timings
def read_timings(path: Path) -> dict[str, Any]:
    """``timings.json`` of a runs dir ({} when absent).

    Raises
    ------
    ValueError
        One line naming the file when it cannot be read as a JSON object.
    """
    if not Path(path).exists():
        return {}
    try:
        timings = io.read_json(path)
    except (OSError, ValueError) as exc:
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(
            f"cannot read {path} ({type(exc).__name__}: {why}); fix it, or "
            "remove it (the wall times of earlier calls are then lost)"
        ) from None
    if not isinstance(timings, dict):
        raise ValueError(f"cannot read {path}: not a JSON object; fix or remove it")
    return timings
