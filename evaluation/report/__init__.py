"""Presentation: formatting, figures and the per-run ``report.md``, from the judges' numbers.

``format`` (numbers and Markdown tables, shared with the sweep report), ``figures`` (matplotlib
figure builders, through :func:`evaluation.io.pyplot`), ``run_figures`` (a run's figure files:
``figures/{roc,calibration,ppc_kde,yao}.png`` and ``loss.png``), ``run_report`` (the run's
``report.md``).
May import ``evaluation.metrics`` (and what it may import: ``backends.spec``,
``backends.base``, ``evaluation.io``, ``evaluation.config``, ``evaluation.data``) -- never
``judge``, ``sweep`` or ``app``.
"""
