"""The one report package, shaped like its documents: each document in its own sub-package,
beside the shared part they all use.

Documents:

- ``run/``     the run report (``report.md`` of a run) and a run's figures;
- ``sweep/``   the sweep report (``report.md`` / ``report.html`` of a sweep), from its table;
- ``study/``   the study document (``docs/findings.md``);
- ``lesson/``  the tutorial's figures (``docs/tutorial.ipynb``).

The shared part (this package's own modules):

- ``headline`` the one headline engine: counts, intervals and the claims and flips wording
  every document states, and the verdicts chosen by the numbers;
- ``format``   numbers and Markdown tables;
- ``forest``   beta_site intervals by method (a run's figure and the sweep's).

A document imports the shared part and its own modules, never another document; the shared
part imports no document (``tests/test_architecture.py``).  The package may import the
layers below it — the judges' numbers (``evaluation.metrics``, ``evaluation.clustering``,
``evaluation.claims``), the sweep's and the study's tables (``evaluation.sweep``,
``evaluation.study``) — never the commands or the app that call it.
"""
