"""The paper's conclusions as checkable statements, evaluated on posterior draws.

``draws`` (posterior draws and per-draw clusterings as aligned arrays), ``context`` (what a
claim is evaluated on; the kind record), ``kinds`` (the registry) with ``site_kinds``,
``scale_kinds`` and ``cluster_kinds`` (one function per claim kind: the per-draw truth of the
statement, its wording and the linear functionals it depends on), ``load`` (a claims config as
Claim objects; feature-name checks), ``precision`` (Monte Carlo error of a probability),
``weak`` (weak identification: variance inflation), ``ledger`` (evaluate a ledger into the
JSON-ready ``claims`` section), ``compare`` (counts, and the flips between two ledgers),
``section`` (a run's claims section).  Claims live in ``conf/claims/`` (``paper.yaml``: the
study's conclusions; ``none.yaml``: an empty ledger).  May import ``backends.spec``,
``evaluation.config`` and ``evaluation.data`` only.
"""
