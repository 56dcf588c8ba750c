"""The run report: ``report.md`` and the figures of one run, from its metrics.json and the
judges' numbers.

- ``report``          ``report.md``: what ran, then every section of metrics.json in words;
- ``findings``        its first section: the claims headline and the ledger table;
- ``headline``        its headline: coverage, width, the variance components, then the rest;
- ``design``          the design check (what the data can identify);
- ``figures``         the figure files of a run (names them, saves them);
- ``plots``           the figure builders it uses (ROC, calibration, PPC, Yao, loss);
- ``cluster_figures`` the paper's Figs. 6 and 7 and the clustering's own figures.

May import the shared part of :mod:`evaluation.report` and everything below the report;
never another document (sweep, study, lesson).
"""
