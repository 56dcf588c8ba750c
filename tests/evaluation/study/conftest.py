"""One real run of the tiny study (PyMC NUTS and Pyro mean-field, two data seeds, each fitted
twice), shared by the study CLI's tests of the session."""

from __future__ import annotations

import pytest
from studyfakes import TINY, tiny_cli


@pytest.fixture(scope="session")
def findings(tmp_path_factory):
    """(root, exit status) of ``ppl-compare-findings`` on the tiny study: runs in
    ``root/runs``, the document in ``root/docs``, the reference cache in ``root/cache``."""
    root = tmp_path_factory.mktemp("findings")
    mp = pytest.MonkeyPatch()
    mp.setenv("PPL_COMPARE_CACHE", str(root / "cache"))
    argv = ["--runs-dir", str(root / "runs"), "--docs", str(root / "docs"), "--", *TINY]
    try:
        status = tiny_cli(argv)
    finally:
        mp.undo()
    return root, status
