"""The one report package: three documents from the judges' numbers, sharing tables, figures
and formatting.

- shared: ``format`` (numbers, Markdown tables), ``figures`` (matplotlib builders, through
  :func:`evaluation.io.pyplot`), ``cluster_figures`` (the paper's Figs. 6 and 7 and the
  clustering's own), ``forest`` (beta_site intervals by method), ``sections`` (a sweep or study
  document's sections and saved figures), ``themes`` (the headline metrics of a sweep);
- the run report (``report.md`` of a run): ``run_report``, ``headline``, ``claims_headline``,
  ``design``, ``run_figures``;
- the sweep report (``report.md`` / ``report.html`` of a sweep): ``sweep_report`` with the
  sections ``sweep_claims``, ``calibration``, ``paper``, ``forensics`` and ``sweep_figures``;
- the study document (``docs/findings.md``): ``study_document``, with ``study_evidence``
  (tables, figure) and ``study_headline`` (the answer).

May import the judges (``evaluation.metrics``, ``evaluation.clustering``, ``evaluation.claims``)
and the sweep's table (``evaluation.sweep`` below its writer): never the judge, the app or the
study's runner.
"""
