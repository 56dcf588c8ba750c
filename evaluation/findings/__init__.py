"""The study's findings: run its sweeps and write ``docs/findings.md`` (``make findings``).

plan      the studies (sweeps) behind the document and how to run them
phase     phase tables and diagrams: one metric over true sigma_worker x method
cost      what a study cost, part by part, and the reconstructed cost before the savings
answer    the plain-language answer, its wording chosen by the numbers
document  the Markdown document and its figures
cli       ``ppl-compare-findings``
"""
