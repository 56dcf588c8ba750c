"""SIGINT and SIGTERM as an exception: the one definition the app (a run stopped with one line,
nothing written) and the study CLI (its sweeps stopped, one line) share."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from typing import Any


class Interrupted(BaseException):
    """SIGTERM or SIGINT arrived (a BaseException: no library swallows it); ``signum`` says
    which."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def interrupts_raise() -> Iterator[None]:
    """SIGTERM and SIGINT raise :class:`Interrupted` inside the block, once: a second signal
    while the first is being handled (the clean-up) is ignored.  In the main thread only (a
    launcher's worker thread keeps its signals as they are)."""
    raised = False

    def handler(signum: int, frame: Any) -> None:
        nonlocal raised
        if not raised:
            raised = True
            raise Interrupted(signum)

    signals = (signal.SIGTERM, signal.SIGINT)
    try:
        previous = {s: signal.signal(s, handler) for s in signals}
    except ValueError:  # not the main thread: signals stay as they are
        previous = {}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
