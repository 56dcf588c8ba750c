"""The tutorial's figures (``docs/tutorial.ipynb``): the mean-field trade-off on this model, one
picture per idea, drawn from posteriors (InferenceData) and the judges' numbers.

Each function returns a :class:`matplotlib.figure.Figure` built without pyplot, so a notebook
shows it as the cell's value (and nothing else: no global figure state, no backend switch).
Methods are given as ``{label: InferenceData}`` (or ``{label: numbers}``), the exact posterior
(NUTS) first; each method keeps its colour across figures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from backends.spec import HierData
from evaluation.metrics.draws import extract
from evaluation.metrics.identified import site_predictor

#: Colours of the methods, in the order given (exact posterior first).
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")
#: Verdict of a claim -> the mark written beside its probability.
VERDICT_MARK = {"credible": "✔", "contradicted": "✘", "undecided": "?"}


def _draws(idata: Any, name: str, **where: str) -> np.ndarray:
    """Every draw of a posterior variable (one element when ``where`` selects it), flat."""
    return np.asarray(idata.posterior[name].sel(**where).values, dtype=float).ravel()


def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def weakest_worker_coefficient(idata: Any) -> tuple[str, str]:
    """The worker coefficient the data say least about (where the funnel shows).

    Parameters
    ----------
    idata : InferenceData
        Usually the exact (NUTS) posterior.

    Returns
    -------
    (str, str)
        ``(worksite, worker_feature)`` of the largest posterior sd of ``beta_worker``
        relative to the posterior median of ``sigma_worker``.
    """
    beta = idata.posterior["beta_worker"]
    spread = beta.std(("chain", "draw")) / float(idata.posterior["sigma_worker"].median())
    j, k = np.unravel_index(int(np.argmax(spread.values)), spread.shape)
    return str(beta["worksite"].values[j]), str(beta["worker_feature"].values[k])


def funnel_figure(posteriors: Mapping[str, Any], worksite: str, feature: str,
                  truth: float | None = None) -> Figure:  # fmt: skip
    """sigma_worker (log scale) against one worker coefficient, one panel per method.

    Parameters
    ----------
    posteriors : mapping
        ``{label: InferenceData}``.
    worksite, feature : str
        The coefficient ``beta_worker[worksite, feature]``.
    truth : float, optional
        The true sigma_worker (a dashed line).

    Returns
    -------
    Figure
    """
    fig = _figure(4.6 * len(posteriors), 4.4)
    axes = fig.subplots(1, len(posteriors), sharex=True, sharey=True, squeeze=False)[0]
    for ax, (label, idata), colour in zip(axes, posteriors.items(), COLOURS, strict=False):
        x = _draws(idata, "beta_worker", worksite=worksite, worker_feature=feature)
        ax.scatter(x, _draws(idata, "sigma_worker"), s=6, alpha=0.35, color=colour, lw=0)
        if truth is not None:
            ax.axhline(truth, color="black", ls="--", lw=1, label=f"true σ_worker = {truth:g}")
            ax.legend(loc="lower right", fontsize=9)
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_title(label, fontsize=12)
        ax.set_xlabel(f"β_worker[{worksite}, {feature}]", fontsize=11)
    axes[0].set_ylabel("σ_worker (log scale)", fontsize=11)
    fig.suptitle("The funnel: when σ_worker is small, every worker coefficient must be near 0",
                 fontsize=13)  # fmt: skip
    return fig


def ridge_figure(posteriors: Mapping[str, Any], first: str = "campaign_length_q1",
                 second: str = "campaign_length_q2",
                 truth: tuple[float, float] | None = None) -> Figure:  # fmt: skip
    """Two site coefficients against each other, one panel per method, with their correlation.

    Parameters
    ----------
    posteriors : mapping
        ``{label: InferenceData}``.
    first, second : str
        Site features (default: the first two campaign-length quintiles, whose sum with the
        other three is the intercept).
    truth : (float, float), optional
        The true coefficients (a star).

    Returns
    -------
    Figure
    """
    fig = _figure(4.6 * len(posteriors), 4.4)
    axes = fig.subplots(1, len(posteriors), sharex=True, sharey=True, squeeze=False)[0]
    for ax, (label, idata), colour in zip(axes, posteriors.items(), COLOURS, strict=False):
        x = _draws(idata, "beta_site", site_feature=first)
        y = _draws(idata, "beta_site", site_feature=second)
        ax.scatter(x, y, s=6, alpha=0.35, color=colour, lw=0)
        if truth is not None:
            ax.plot(*truth, marker="*", ms=14, color="black", ls="", label="truth")
            ax.legend(loc="lower right", fontsize=9)
        ax.set_title(f"{label}: correlation {np.corrcoef(x, y)[0, 1]:.2f}", fontsize=12)
        ax.set_xlabel(f"β_site[{first}]", fontsize=11)
    axes[0].set_ylabel(f"β_site[{second}]", fontsize=11)
    fig.suptitle("A direction the data cannot see: the quintile dummies sum to the intercept",
                 fontsize=13)  # fmt: skip
    return fig


def site_predictor_figure(posteriors: Mapping[str, Any], data: HierData,
                          coverage: Mapping[str, float] | None = None) -> Figure:  # fmt: skip
    """90% intervals of every worksite's predictor alpha + X_site . beta_site, with the truth.

    Parameters
    ----------
    posteriors : mapping
        ``{label: InferenceData}``.
    data : HierData
        The data set, with its truth (worksites are sorted by their true value).
    coverage : mapping, optional
        ``{label: share of true values inside the 90% intervals}``, for the legend.

    Returns
    -------
    Figure
    """
    true = site_predictor(np.asarray(data.truth["alpha"]), np.asarray(data.truth["beta_site"]),
                          data)  # fmt: skip
    order = np.argsort(true)
    x = np.arange(true.size)
    fig = _figure(12, 4.8)
    ax = fig.subplots()
    width = 0.36 / max(1, len(posteriors) - 1)
    for i, ((label, idata), colour) in enumerate(zip(posteriors.items(), COLOURS, strict=False)):
        d = extract(idata, data).flat()
        lo, hi = np.quantile(site_predictor(d["alpha"], d["beta_site"], data), [0.05, 0.95], 0)
        shown = label if coverage is None else f"{label}: {coverage[label]:.0%} of truths inside"
        ax.vlines(x + (i - (len(posteriors) - 1) / 2) * width, lo[order], hi[order],
                  color=colour, lw=2.2, label=shown)  # fmt: skip
    ax.plot(x, true[order], "o", color="black", ms=4, label="truth")
    ax.set_xlabel("worksite (sorted by its true value)", fontsize=11)
    ax.set_ylabel("α + X_site · β_site  (log-odds)", fontsize=11)
    ax.set_xticks([])
    ax.legend(fontsize=10, loc="upper left")
    ax.set_title("Each worksite's predicted log-odds of signing: 90% intervals and the truth",
                 fontsize=13)  # fmt: skip
    return fig


def _bars(ax: Any, labels: Sequence[str], values: Sequence[float | None], title: str) -> None:
    heights = [np.nan if v is None else float(v) for v in values]
    ax.bar(labels, heights, color=COLOURS[: len(labels)])
    for i, h in enumerate(heights):  # the value inside the top of its bar
        ax.text(i, h, f"{h:.2f}", ha="center", va="top", fontsize=12, color="white",
                fontweight="bold")  # fmt: skip
    ax.set_title(title, fontsize=12)
    ax.tick_params(axis="x", labelsize=10)


def tradeoff_figure(numbers: Mapping[str, Mapping[str, Any]]) -> Figure:
    """Held-out AUC, 90% coverage and sd ratio side by side, one bar per method.

    Parameters
    ----------
    numbers : mapping
        ``{label: evaluation.api.headline(...)}``, the exact posterior first (its
        ``sd_ratio_floor`` is drawn as the noise level).

    Returns
    -------
    Figure
    """
    labels = list(numbers)
    fig = _figure(13, 4.2)
    auc, cover, ratio = fig.subplots(1, 3)
    _bars(auc, labels, [numbers[k]["auc"] for k in labels], "Prediction: held-out AUC")
    auc.set_ylim(0.5, 1.05)
    _bars(cover, labels, [numbers[k]["coverage90"] for k in labels],
          "Honesty: 90% intervals holding the truth")  # fmt: skip
    cover.axhline(0.9, color="black", ls="--", lw=1, label="target 0.90", zorder=0.5)
    cover.set_ylim(0, 1.25)
    cover.legend(fontsize=10, loc="upper right")
    _bars(ratio, labels, [numbers[k]["sd_ratio"] for k in labels],
          "Width: posterior sd ÷ NUTS's (β_site)")  # fmt: skip
    floor = numbers[labels[0]].get("sd_ratio_floor")
    ratio.axhline(1.0, color="black", ls="--", lw=1, label="as wide as NUTS", zorder=0.5)
    if floor is not None:
        ratio.axhline(floor, color="grey", ls=":", lw=1.5, label=f"NUTS vs NUTS: {floor:.2f}",
                      zorder=0.5)  # fmt: skip
    ratio.set_ylim(0, 1.45)
    ratio.legend(fontsize=10, loc="upper right")
    fig.suptitle("Predicts as well, understates uncertainty", fontsize=13)
    return fig


def claims_figure(claims: Mapping[str, Sequence[Mapping[str, Any]]],
                  flips: Sequence[str] = ()) -> Figure:  # fmt: skip
    """The probability of each claim under each method, a heat map.

    Each cell shows P and the verdict's mark (✔ credible, ✘ contradicted, ? undecided; grey:
    not identified); the names of the flipped claims are red.

    Parameters
    ----------
    claims : mapping
        ``{label: claim rows}`` (:attr:`evaluation.api.Judgement.claims`), same ledger.
    flips : sequence of str
        Names of the claims whose verdict flips between the methods.

    Returns
    -------
    Figure
    """
    labels = list(claims)
    names = [row["name"] for row in claims[labels[0]]]
    prob = np.full((len(names), len(labels)), np.nan)
    fig = _figure(3.2 + 2.0 * len(labels), 0.9 + 0.36 * len(names))
    ax = fig.subplots()
    for j, label in enumerate(labels):
        rows = {row["name"]: row for row in claims[label]}
        for i, name in enumerate(names):
            p = rows[name]["probability"]
            prob[i, j] = np.nan if p is None else p
            dark = p is not None and abs(p - 0.5) > 0.3
            ax.text(j, i, _cell(rows[name]), ha="center", va="center", fontsize=10,
                    color="white" if dark else "black")  # fmt: skip
    image = ax.imshow(np.ma.masked_invalid(prob), aspect="auto", vmin=0, vmax=1,
                      cmap=_cmap())  # fmt: skip
    ax.set_xticks(range(len(labels)), labels, fontsize=11)
    ax.xaxis.tick_top()
    ax.set_yticks(range(len(names)), names, fontsize=10)
    for tick, name in zip(ax.get_yticklabels(), names, strict=True):
        if name in flips:
            tick.set_color("#d62728")
            tick.set_fontweight("bold")
    fig.colorbar(image, ax=ax, label="P(claim holds)", shrink=0.6)
    ax.set_xlabel("✔ credible (P ≥ 0.95)   ✘ contradicted (P ≤ 0.05)   ? undecided\n"
                  "red claim name: the verdict flips between the methods", fontsize=10)  # fmt: skip
    fig.suptitle("The study's claims under each method", fontsize=13)
    return fig


def _cell(row: Mapping[str, Any]) -> str:
    """A claim's cell: its probability and verdict mark, or why it has none."""
    if row["probability"] is None:
        return str(row["verdict"])
    return f"{row['probability']:.2f} {VERDICT_MARK.get(row['verdict'], '')}"


def _cmap() -> Any:
    from matplotlib import colormaps

    return colormaps["RdBu"].with_extremes(bad="lightgrey")
