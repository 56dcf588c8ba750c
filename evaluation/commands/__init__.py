"""The top floor: every command-line entry point and the Hydra callback that ends a sweep.

- ``report``     ``ppl-compare-report SWEEP_DIR``: rebuild a sweep's comparison report;
- ``callback``   the Hydra callback at the end of a multirun (the report, the exit status);
- ``sweep_files`` what both write: the sweep's table (:mod:`evaluation.sweep`), then its report
  (:mod:`evaluation.report.sweep`), never replacing a file it did not write;
- ``findings``   ``ppl-compare-findings``: run the study's sweeps (:mod:`evaluation.study`),
  then write ``docs/findings.md`` (:mod:`evaluation.report.study`).

``ppl-compare`` itself is :mod:`evaluation.app`, on the same floor.  Commands call the
builders (``sweep``, ``study``), then the documents (``report``); nothing below imports them.
"""
