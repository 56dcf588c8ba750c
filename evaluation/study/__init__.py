"""The study (``make findings``): run its sweeps and write ``docs/findings.md``.

plan      the studies (sweeps) behind the document and how to run them
runs      what a runs dir holds and who may write it: configurations, the lock, timings
processes each command in its own process group, stopped quietly with the CLI
cli       ``ppl-compare-findings``: run or resume them, then write the document
          (:mod:`evaluation.report.study_document`)
evidence  the statistics of the evidence, numbers only: intervals over seeds, Wilson rates,
          ΔP, paired NUTS-vs-NUTS floors, false-credible rate, power and Brier score
"""
