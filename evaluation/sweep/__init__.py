"""Sweeps: collect a multirun's runs into one table and write the comparison report.

Modules, lowest first (each imports only those before it): ``records`` (a run on disk as a
RunRecord, one flat row per run, a run's rebuilt data), ``tables`` (labels, headline metrics,
cost columns, summary tables), ``sections`` (Section / Figure, the report's building blocks),
``cross`` (each run against the MCMC run of its data), ``calibration`` (coverage and rank
histograms across replications), ``paper`` (the paper's published values beside the sweep's),
``figures``, ``report`` (every section, rendered as Markdown and HTML), ``build``
(comparison.csv + report files, never replacing a file it did not write), ``callback`` (the
Hydra callback at the end of a multirun; the sweep's exit status) and ``cli``
(``ppl-compare-report``).

May import: ``backends.spec``, ``evaluation.io``, ``evaluation.config``, ``evaluation.data``,
``evaluation.metrics``, ``evaluation.clustering`` and ``evaluation.report`` (the formatting);
never ``evaluation.judge`` or ``evaluation.app``.  No import cycles, no function-level imports
of project modules.
"""
