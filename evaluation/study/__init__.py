"""The study (``make findings``): its plan, its runs and its statistics (numbers; never renders).

plan      the studies (sweeps) behind the document and how to run them
runs      what a runs dir holds and who may write it: configurations, the lock, timings
processes each command in its own process group, stopped quietly with the CLI
results   a study's sweep dir read back as tables (:func:`load_study`)

The statistics:

table      one row per (run, claim), with the claims judge's truth status
evidence   intervals: a mean over seeds (Student-t), a rate (Wilson), ΔP
floors     a method against NUTS beside NUTS against NUTS on the same seeds (flips, ΔP)
truth      verdicts against the truth per (seed, claim): errors both ways, power, Brier,
           calibration; the contestable claims
bootstrap  the cluster bootstrap over seeds, the exact McNemar test, the smallest
           detectable difference
errors     per method of a world: its errors, calibration and paired tests with NUTS
facts      what a world's runs were (sizes, settings, seeds, failures, the world's prior)
summary    per method and world: all of the above together (:func:`world_evidence`)

``ppl-compare-findings`` (:mod:`evaluation.commands.findings`) runs the plan, then writes the
document (:mod:`evaluation.report.study`); the package imports neither.
"""
