"""Everything that feeds backends and judges them: one package per concept.

Imports flow one way (``tests/test_architecture.py`` guards it; docs/architecture.md draws
it), lowest first:

* ``io`` (atomic writers, the one pyplot set-up), ``signals``, ``config`` (schemas, checks,
  a backend's settings);
* ``data`` -- the synthetic twin, your own tables and their recipes, public data, splits;
* ``metrics``, ``clustering``, ``claims`` -- the judges: numbers from a posterior;
* ``fitting`` (the one place that fits), ``judge`` (one run's sections), ``sweep`` (a sweep's
  table), ``study`` (the study's plan and statistics) -- builders, numbers only;
* ``report`` -- the documents (``run/``, ``sweep/``, ``study/``, ``lesson/``) and their
  shared part; ``rundir`` -- what a run writes;
* ``app`` (``ppl-compare``), ``api`` (the same stages as functions) and ``commands`` (the other
  CLIs and the sweep callback) -- the top floor: builders first, then documents.

``evaluation`` imports ``backends.spec`` and ``backends.base``; ``backends`` never imports
``evaluation``.
"""

import warnings as _warnings

# ArviZ 0.2x (pinned below 1) announces its 1.0 refactor on the first import of each day: five
# lines of stderr before a one-line error, and in a lesson's output.  Nothing here uses what it
# announces, so the notice is silenced before any module imports arviz.
_warnings.filterwarnings(
    "ignore", message=r"\s*ArviZ is undergoing a major refactor", category=FutureWarning
)
