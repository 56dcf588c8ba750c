"""The study document: ``docs/findings.md`` and ``docs/figures/``, from the study's tables
(:mod:`evaluation.study`: :func:`~evaluation.study.results.load_study` reads them,
:func:`~evaluation.study.summary.world_evidence` sums them up).

- ``document``    the document: header, the answer, one section per world, cost, caveats;
- ``answer``      the plain-language answer, its sentences chosen by the numbers;
- ``evidence``    the flip tables, the run metrics, the claims one by one, the evidence figure;
- ``errors``      errors against the truth, calibration and the paired tests with NUTS;
- ``facts``       statements of fact about the runs (caveats, commands, sizes);
- ``reliability`` the reliability (calibration) figure of a world.

May import the shared part of :mod:`evaluation.report` and everything below the report;
never another document (run, sweep, lesson).
"""
