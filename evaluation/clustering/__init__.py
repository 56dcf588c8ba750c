"""The paper's Gaussian-mixture clustering of worksite coefficients and its stability (a judge).

``gmm`` (the Gibbs sampler), ``select`` (choosing K: log-joint elbow, BIC), ``settings``
(validates the ``evaluation.clustering`` config block; the values live in
conf/evaluation/default.yaml), ``coefficients`` (``beta_worker`` aligned by label),
``cluster`` (posterior mean and single draws clustered), ``stability`` (ARI summaries,
co-clustering, cross-run ARI, the verdict), ``oracle`` (the same GMM on the true
coefficients: the ceiling ARI vs planted clusters), ``sigma_sweep`` (the paper's Fig. 6 log-joint
curves per sigma), ``site_features`` (the paper's Fig. 7 as numbers),
``dataset`` (what ``clusters.nc`` holds) and ``pipeline`` (``run_clustering``: one run's
numbers and that dataset).

Computes numbers only: it never writes or draws (the app writes ``clusters.nc``;
:mod:`evaluation.report.run.cluster_figures` draws the ``cluster_*.png`` figures).  May import
``backends.spec``, ``evaluation.config``, ``evaluation.data`` and ``evaluation.metrics.draws``
(labels); never ``report``, ``sweep``, ``judge`` or ``app``.
"""
