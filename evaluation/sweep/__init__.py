"""Sweeps: collect a multirun's runs into one table (numbers; never renders).

Modules, lowest first: ``records`` (a run on disk as a RunRecord, one flat row per run, the
truth it recorded), ``jobs`` (every job the sweep launched, also those that left no run dir),
``columns`` (labels, reading columns, cost and verdict columns, run counts), ``cross`` (each
run against the MCMC run of its data), ``claims`` (the claims of each run against that run's:
pairs and flips), ``comparison`` (``comparison.csv``: all of the above), ``cost`` (what a
study cost, part by part).

The package imports only ``backends.spec``, ``evaluation.io``, ``evaluation.config``,
``evaluation.data``, ``evaluation.metrics``, ``evaluation.clustering`` and
``evaluation.claims``: never the report that draws its table
(:mod:`evaluation.report.sweep`), the judge, the app or the commands that write its files
(:mod:`evaluation.commands.sweep_files`).
"""
