"""Everything that feeds backends and judges them: one package per concept.

Imports flow one way (``tests/test_architecture.py`` guards it), lowest first:

* ``io`` (atomic writers, the one pyplot set-up), ``config`` (config helpers, backend
  instantiation), ``schema`` (structured configs);
* ``data`` -- the synthetic twin, the tables loader and its recipes, splits, export;
* ``metrics``, ``clustering``, ``claims`` -- judges: pure numbers from a posterior;
* ``report`` -- formatting, figures, the per-run report;
* ``judge`` (one run's sections and figures), ``sweep`` (a multirun's comparison report);
* ``app`` -- the ``ppl-compare`` Hydra entry point: build data -> fit -> judge -> write.

``evaluation`` imports ``backends.spec`` and ``backends.base``; ``backends`` never imports
``evaluation``.
"""
