"""Sweeps: collect a multirun's runs into one table (numbers), and the writer of its report.

Modules, lowest first: ``records`` (a run on disk as a RunRecord, one flat row per run, the
truth it recorded), ``columns`` (labels, reading columns, cost and verdict columns, run
counts), ``cross`` (each run against the MCMC run of its data), ``claims`` (the claims of each
run against that run's: pairs and flips), ``comparison`` (``comparison.csv``: all of the above),
``cost`` (what a study cost, part by part).  On top, importing the report package: ``build``
(writes comparison.csv and the report files, never replacing a file it did not write),
``callback`` (the Hydra callback at the end of a multirun; the sweep's exit status) and ``cli``
(``ppl-compare-report``).

Below ``build``, ``callback`` and ``cli`` the package imports only ``backends.spec``,
``evaluation.io``, ``evaluation.config``, ``evaluation.data``, ``evaluation.metrics``,
``evaluation.clustering`` and ``evaluation.claims``: never the report, the judge or the app.
"""
