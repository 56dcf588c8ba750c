"""Judges of one posterior: numbers only, never a figure or a file of their own.

``draws`` (``extract``: a posterior's draws once, as the ``Draws`` bundle of arrays aligned by
label that every judge takes; two posteriors paired by label),
``distance`` (Wasserstein and correlation distances between two sets of draws),
``predictive`` (held-out accuracy, AUC, lpd, Brier, calibration, and the curves the predictive
figures show), ``posterior`` (against the truth: bias, interval coverage, sigma collapse;
against a reference posterior: standardised errors, sd ratios, distances, the Yao points),
``diagnostics`` (R-hat, ESS, divergences, VI convergence, PSIS k-hat), ``reference`` (the
reference posterior's criteria; its fit and cache are :mod:`evaluation.fitting`'s), ``floors``
(Monte Carlo noise floors of the comparisons, coverage dependence), ``identified`` (alpha and
beta_site judged on identified quantities), ``oracle`` (what the true parameters score),
``psis`` (PSIS importance resampling of a VI posterior), ``verdict`` (the failure rule of an
approximation).
May import ``backends.spec``, ``backends.base``, ``evaluation.config`` and ``evaluation.data``
only -- never ``evaluation.io`` (no writing), ``report``, ``judge``, ``sweep`` or ``app``;
figures of these numbers are drawn in :mod:`evaluation.report` (tests/test_architecture.py).
"""
