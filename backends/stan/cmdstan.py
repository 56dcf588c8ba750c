"""Finding CmdStan and compiling Stan programs once, into a shared on-disk cache.

The executable of a program is cached under ``<cache>/<name>-<program hash>-cmdstan-<version>/``
(cache: ``$PPL_COMPARE_STAN_CACHE`` or ``~/.cache/ppl-compare/stan``), so a sweep compiles once.
Two processes compiling the same program at once are serialised by an exclusive file lock, and
the executable appears under its final name only through an atomic rename, so a reader never
sees a half-written file.  A fit's CmdStan output goes to :func:`output_dir` (under the cache,
not the system temp folder), which also removes the folders of killed runs.  cmdstanpy is
imported lazily.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from backends.base import BackendError, BackendUnavailable, file_lock

#: Where the Stan program of this package lives.
PROGRAM_DIR = Path(__file__).resolve().parent
#: The model's Stan program (both parameterisations, chosen by the data flag ``noncentered``).
PROGRAM_FILE = PROGRAM_DIR / "hier_logit.stan"
INSTALL_HINT = "python -m backends.stan.install"
_INCLUDE = re.compile(r'^\s*#include\s+[<"]?([^>"\s]+)[>"]?\s*$', re.MULTILINE)


class CmdStanInfo(NamedTuple):
    """A usable CmdStan installation.

    Attributes
    ----------
    path : pathlib.Path
        Its root directory.
    version : tuple of int
        ``(major, minor)``, e.g. ``(2, 27)``.
    version_string : str
        e.g. ``"2.27.0"`` (from the directory name when it has one).
    """

    path: Path
    version: tuple[int, int]
    version_string: str


class CompiledModel(NamedTuple):
    """A compiled Stan program.

    Attributes
    ----------
    model : cmdstanpy.CmdStanModel
    exe_file : pathlib.Path
    compiled : bool
        True when this call compiled it, False when it came from the cache.
    compile_s : float
        Seconds spent compiling (0.0 when cached).
    cmdstan : CmdStanInfo
    """

    model: Any
    exe_file: Path
    compiled: bool
    compile_s: float
    cmdstan: CmdStanInfo


def quiet_cmdstanpy(verbose: bool = False) -> None:
    """Keep cmdstanpy's INFO chatter (one line per chain start/finish) out of the console."""
    from cmdstanpy.utils import get_logger

    get_logger().setLevel(logging.INFO if verbose else logging.WARNING)


def find_cmdstan() -> CmdStanInfo:
    """The CmdStan installation cmdstanpy would use, checked to have a working ``bin/stanc``.

    Raises
    ------
    BackendUnavailable
        cmdstanpy is missing, or no built CmdStan is found; the message says how to install.
    """
    try:
        import cmdstanpy
    except ImportError as exc:
        raise BackendUnavailable(
            f"cmdstanpy is not installed ({exc}); install it with: pip install -e '.[stan]'"
        ) from exc
    try:
        path = Path(cmdstanpy.cmdstan_path())
    except (ValueError, OSError) as exc:
        raise BackendUnavailable(
            f"CmdStan is not installed or not found ({str(exc).splitlines()[0]}); "
            f"install it with: {INSTALL_HINT}"
        ) from exc
    stanc = path / "bin" / "stanc"
    try:
        out = subprocess.run(
            [str(stanc), "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise BackendUnavailable(
            f"CmdStan at {path} is not built (bin/stanc does not run); "
            f"install it with: {INSTALL_HINT}"
        ) from exc
    match = re.search(r"cmdstan-(\d+)\.(\d+)\.(\d+)", path.name) or re.search(
        r"v?(\d+)\.(\d+)\.(\d+)", out
    )
    if match is None:
        raise BackendUnavailable(f"cannot tell the version of CmdStan at {path}: {out.strip()!r}")
    major, minor, patch = (int(g) for g in match.groups())
    return CmdStanInfo(path, (major, minor), f"{major}.{minor}.{patch}")


def cache_dir() -> Path:
    """Root of the executable cache (``$PPL_COMPARE_STAN_CACHE`` or ~/.cache/ppl-compare/stan)."""
    env = os.environ.get("PPL_COMPARE_STAN_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "ppl-compare" / "stan"


def resolve_includes(stan_file: Path, _seen: frozenset[Path] = frozenset()) -> str:
    """Program text with every ``#include`` replaced by the included file's text.

    Includes are looked up next to the including file (stanc's default include path), which
    is what both CmdStan and PyStan (after this inlining) see.
    """
    stan_file = Path(stan_file).resolve()
    if stan_file in _seen:
        raise BackendError(f"circular #include of {stan_file}")
    text = stan_file.read_text()

    def inline(match: re.Match) -> str:
        return resolve_includes(stan_file.parent / match.group(1), _seen | {stan_file})

    return _INCLUDE.sub(inline, text)


def program_hash(stan_file: Path) -> str:
    """Short hash of the program text, includes inlined (the cache key's program part)."""
    return hashlib.sha256(resolve_includes(stan_file).encode()).hexdigest()[:16]


def check_syntax(stan_file: Path, cmdstan: CmdStanInfo) -> None:
    """Run stanc on ``stan_file`` and raise :class:`BackendError` carrying stanc's message."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [
                str(cmdstan.path / "bin" / "stanc"),
                f"--include-paths={Path(stan_file).parent}",
                f"--o={Path(tmp) / 'model.hpp'}",
                str(stan_file),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    if proc.returncode != 0:
        message = (proc.stderr or proc.stdout).strip()
        raise BackendError(
            f"Stan program {stan_file} does not compile (stanc {cmdstan.version_string}): {message}"
        )


def _compile_into(stan_file: Path, target_dir: Path, cmdstan: CmdStanInfo) -> Path:
    """Compile in a fresh temporary directory and move the executable atomically into place."""
    import cmdstanpy

    name = stan_file.stem
    with tempfile.TemporaryDirectory(dir=target_dir.parent, prefix=".build-") as tmp:
        tmp_dir = Path(tmp)
        for src in stan_file.parent.glob("*.stan"):  # the program and anything it includes
            shutil.copy2(src, tmp_dir / src.name)
        try:
            model = cmdstanpy.CmdStanModel(
                stan_file=tmp_dir / stan_file.name,
                force_compile=True,
                stanc_options={"include-paths": [str(tmp_dir)]},
            )
        except (ValueError, RuntimeError, subprocess.SubprocessError) as exc:
            raise BackendError(
                f"C++ compilation of {stan_file.name} with CmdStan {cmdstan.version_string} "
                f"failed: {str(exc).strip()[-2000:]}"
            ) from exc
        target_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(tmp_dir / stan_file.name, target_dir / stan_file.name)
        exe = target_dir / name
        os.replace(model.exe_file, exe)  # same file system: atomic
    return exe


def cached_build(
    stan_file: Path,
    cmdstan: CmdStanInfo,
    cache: Path,
    build: Callable[[Path, Path, CmdStanInfo], Path],
) -> tuple[Path, bool, float]:
    """The cached executable of ``stan_file``, calling ``build`` once if it is missing.

    ``build(stan_file, target_dir, cmdstan)`` must leave the executable at its returned path
    only when complete (atomic rename).  Concurrent callers, threads or processes, serialise on
    an exclusive lock per cache key and re-check after acquiring it, so one of them builds.

    Returns
    -------
    exe : pathlib.Path
    compiled : bool
        True when this call built it.
    seconds : float
        Build time (0.0 from the cache).
    """
    key = f"{stan_file.stem}-{program_hash(stan_file)}-cmdstan-{cmdstan.version_string}"
    target_dir = cache / key
    exe = target_dir / stan_file.stem
    if exe.exists():
        return exe, False, 0.0
    with file_lock(cache / f"{key}.lock"):
        if exe.exists():  # another process finished while we waited
            return exe, False, 0.0
        start = time.perf_counter()
        exe = build(stan_file, target_dir, cmdstan)
        return exe, True, time.perf_counter() - start


def _check_and_compile(stan_file: Path, target_dir: Path, cmdstan: CmdStanInfo) -> Path:
    check_syntax(stan_file, cmdstan)
    return _compile_into(stan_file, target_dir, cmdstan)


def compile_program(
    stan_file: Path = PROGRAM_FILE,
    *,
    cmdstan: CmdStanInfo | None = None,
    cache: Path | None = None,
) -> CompiledModel:
    """The compiled executable of ``stan_file``: from the cache, or compiled once and cached.

    Parameters
    ----------
    stan_file : path
        A Stan program; ``#include`` files are looked up in its directory.
    cmdstan : CmdStanInfo, optional
        Defaults to :func:`find_cmdstan`.
    cache : path, optional
        Defaults to :func:`cache_dir`.

    Raises
    ------
    BackendUnavailable
        No usable CmdStan.
    BackendError
        The program does not compile (the message carries stanc's or the compiler's output).
    """
    import cmdstanpy

    stan_file = Path(stan_file).resolve()
    cmdstan = cmdstan or find_cmdstan()
    cache = Path(cache) if cache is not None else cache_dir()
    exe, compiled, compile_s = cached_build(stan_file, cmdstan, cache, _check_and_compile)
    model = cmdstanpy.CmdStanModel(exe_file=str(exe))
    return CompiledModel(model, exe, compiled, compile_s, cmdstan)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


@contextlib.contextmanager
def output_dir(method: str) -> Iterator[str]:
    """A fresh CmdStan output folder under the cache, removed when the block exits.

    The folder is ``<cache>/runs/<host>/stan-<method>-<pid>-*`` (never the system temp
    folder).  A run killed by SIGTERM or SIGKILL cannot remove its folder, so every call first
    removes this host's folders whose process no longer exists.
    """
    root = cache_dir() / "runs" / socket.gethostname()
    root.mkdir(parents=True, exist_ok=True)
    for old in root.glob("stan-*"):
        match = re.fullmatch(r"stan-[a-z]+-(\d+)-\w+", old.name)
        if match and not _process_exists(int(match[1])):
            shutil.rmtree(old, ignore_errors=True)
    out = tempfile.mkdtemp(prefix=f"stan-{method}-{os.getpid()}-", dir=root)
    try:
        yield out
    finally:
        shutil.rmtree(out, ignore_errors=True)


def write_data(out: str, data: dict) -> str:
    """Write the Stan data dict as ``<out>/data.json`` and return its path.

    Passing a path (not a dict) to CmdStanPy keeps its data file in the run's own output folder
    (:func:`output_dir`), not in a system-temp folder that a killed run would strand.
    """
    from cmdstanpy import write_stan_json

    path = os.path.join(out, "data.json")
    write_stan_json(path, data)
    return path
