"""Running the study's commands: each in its own process group, its output passed on, and all
of it stopped, quietly, when the CLI is stopped.

A terminal's Ctrl-C reaches its whole foreground process group, and a study command is a Hydra
multirun whose launcher has worker processes of its own: each would print its own traceback.
So each command runs in a new session (its own process group, out of the terminal's reach),
and SIGINT or SIGTERM to the CLI raise :class:`~evaluation.signals.Interrupted` (inside
:func:`~evaluation.signals.interrupts_raise`);
:func:`run_command` then stops passing the command's output on (what dying workers print is
dropped), sends SIGINT to the command's whole group (the launcher shuts its workers down and
cleans up, the app removes what an interrupted run wrote), waits up to :data:`GRACE_S` and
kills what is left.  Complete runs stay on disk, so the same call resumes the study.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

#: Seconds a stopped command's processes get to end on SIGINT before SIGKILL.
GRACE_S = 20.0


def _pump(stream: IO[str], name: str, muted: threading.Event) -> None:
    """Copy ``stream`` line by line to ``sys.<name>`` until it ends, unless ``muted``."""
    with contextlib.suppress(OSError, ValueError):
        for line in stream:
            if not muted.is_set():
                out = getattr(sys, name)
                out.write(line)
                out.flush()
    with contextlib.suppress(OSError):
        stream.close()


def _members(pgid: int) -> bool:
    """Whether a live (not zombie) process is in group ``pgid``."""
    proc = Path("/proc")
    if not proc.is_dir():  # not Linux: ask the kernel, zombies included
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    for stat in proc.glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":  # state, ppid, pgrp
                return True
    return False


def stop_group(proc: subprocess.Popen[str], grace_s: float = GRACE_S) -> None:
    """SIGINT to the process group of ``proc`` (its session leader), then SIGKILL to what is
    still alive after ``grace_s`` seconds.

    SIGINT, as a terminal's Ctrl-C: the launcher then shuts its workers down and cleans up
    after itself (joblib's temporary folders and semaphores), and each job's app removes what
    its interrupted run wrote.
    """
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGINT)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        proc.poll()
        if proc.returncode is not None and not _members(proc.pid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def run_command(
    cmd: Sequence[str], tick: Callable[[], None] | None = None, every_s: float = 30.0
) -> int:
    """Run ``cmd`` in its own process group, passing its output on; its exit status.

    ``tick`` (the study's progress line) is called every ``every_s`` seconds while it runs.

    Raises
    ------
    Interrupted, KeyboardInterrupt
        After the command's whole process group was stopped (:func:`stop_group`).
    """
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # its lines in the order it wrote them
    pipe = subprocess.PIPE
    proc = subprocess.Popen(list(cmd), stdout=pipe, stderr=pipe, text=True, errors="replace",
                            start_new_session=True, env=env)  # fmt: skip
    muted = threading.Event()
    pumps = [threading.Thread(target=_pump, args=(stream, name, muted), daemon=True)
             for stream, name in ((proc.stdout, "stdout"), (proc.stderr, "stderr"))]  # fmt: skip
    for pump in pumps:
        pump.start()
    try:
        code = None
        while code is None:
            try:
                code = proc.wait(timeout=every_s)
            except subprocess.TimeoutExpired:
                if tick is not None:
                    tick()
    except BaseException:  # Interrupted, KeyboardInterrupt: stop the group, quietly
        muted.set()
        stop_group(proc)
        raise
    for pump in pumps:
        pump.join()
    return code
