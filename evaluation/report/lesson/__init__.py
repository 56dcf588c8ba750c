"""The lesson (``docs/tutorial.ipynb``): its figures, in ``figures``.

The notebook reads ``from evaluation.report import lesson`` and calls ``lesson.funnel_figure``
and the rest, so the figures are named here too (one definition, in ``figures``).

May import the shared part of :mod:`evaluation.report` and everything below the report;
never another document (run, sweep, study).
"""

from evaluation.report.lesson.figures import (
    claims_figure,
    funnel_figure,
    ridge_figure,
    site_predictor_figure,
    tradeoff_figure,
    weakest_worker_coefficient,
)

__all__ = [
    "claims_figure",
    "funnel_figure",
    "ridge_figure",
    "site_predictor_figure",
    "tradeoff_figure",
    "weakest_worker_coefficient",
]
