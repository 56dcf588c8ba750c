"""The tiny study the study CLI's tests run (real sweeps on tiny data) and helpers to read it."""

from __future__ import annotations

import json
import re

import pytest

from evaluation.commands import findings as cli
from evaluation.study.plan import Study

TINY = ("debug=fast", "backend=pymc_nuts,pyro_meanfield",
        # the reference with the pymc_nuts job's (debug) settings: one fit serves as both
        "evaluation.reference_overrides.chains=2", "evaluation.reference_overrides.tune=200",
        "evaluation.reference_overrides.draws=200")  # fmt: skip
STUDY = Study("right", "Tiny world", "evidence", seeds=2, world="A tiny twin.")


def metrics(root, pattern):
    """The metrics.json of the runs of the tiny study whose dir name matches ``pattern``."""
    return [json.loads(p.read_text()) for p in (root / "runs" / "right").glob("*/metrics.json")
            if re.search(pattern, p.parent.name)]  # fmt: skip


def tiny_cli(argv, **patches):
    """``cli.cli(argv)`` with the tiny study as the only study (and ``patches`` on ``cli``)."""
    mp = pytest.MonkeyPatch()
    mp.setattr(cli, "STUDIES", (STUDY,))
    for name, value in patches.items():
        mp.setattr(cli, name, value)
    try:
        return cli.cli(argv)
    finally:
        mp.undo()
