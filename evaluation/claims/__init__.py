"""The paper's conclusions as checkable statements, evaluated on posterior draws.

``draws`` (posterior draws and per-draw clusterings as aligned arrays), ``kinds`` (one function
per claim kind: the per-draw truth of the statement, its plain-English wording and the linear
functionals it depends on), ``load`` (a claims config as Claim objects; feature-name checks),
``ledger`` (evaluate a ledger into the JSON-ready ``claims`` section, compare two of them).
Claims live in ``conf/claims/`` (``paper.yaml``: the study's conclusions; ``none.yaml``: an
empty ledger).  May import ``backends.spec``, ``evaluation.config`` and ``evaluation.data`` only.
"""
