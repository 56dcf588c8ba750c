"""What a world's runs were, read from the runs themselves (issue 33): data sizes, NUTS's
chains × (tune + draws), VI's steps, seeds and failures per method, the world against the
model's prior, and the claims whose P is coarser than :data:`MC_TARGET`.  The study document
states these instead of writing them in advance, so a smoke or partial study never states a
fact of another one.  Numbers only, from the comparison and claims tables.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import pandas as pd

from evaluation.sweep.columns import truthy

#: The Monte Carlo error a claim's P should stay within (issue 29: clustering claims get
#: enough clustered draws for it, or the document says where they do not).
MC_TARGET = 0.02
#: The model's prior scales (comparison.csv columns) and how the document names them.
PRIOR_COLUMNS = {
    "config.model.priors.alpha_scale": "α ~ Normal(0, {})",
    "config.model.priors.sigma_site_scale": "σ_site ~ HalfCauchy({})",
    "config.model.priors.sigma_worker_scale": "σ_worker ~ HalfCauchy({})",
}


class MethodRuns(NamedTuple):
    """One method's jobs in a world: ``jobs`` (any status), ``complete``, ``failed`` (complete
    runs failing the approximation rule), ``seeds`` (data seeds with a complete run),
    ``fits_per_seed`` (the most complete fits of one seed: 2 with a repeat) and ``steps``
    (VI: the steps run, min and max; None for MCMC or when not recorded)."""

    jobs: int
    complete: int
    failed: int
    seeds: int
    fits_per_seed: int
    steps: tuple[int, int] | None

    @property
    def all_failed(self) -> bool:
        """No complete run, or every complete run failed the approximation rule."""
        return self.jobs > 0 and (self.complete == 0 or self.failed == self.complete)


class RunFacts(NamedTuple):
    """A world's runs as they were.

    Attributes
    ----------
    n_worksites, n_workers : tuple of int
        The distinct data sizes of the complete runs (one value each when all agree).
    nuts : tuple of (int, int, int)
        The distinct (chains, tune, draws) of the NUTS runs.
    step_caps : tuple of int
        The distinct VI step caps (``num_steps``).
    methods : dict of str to MethodRuns
        Per method (``method_base``), in the table's order.
    priors : tuple of str
        The model's priors with their scales (:data:`PRIOR_COLUMNS`).
    sigma_worker, site_scale, sigma_site : tuple of float
        The generating σ_worker, the scale on the site coefficients and the sd they are
        drawn with (empty when fixed, e.g. the paper's table).
    beta_site_source : tuple of str
        Where the generating β_site came from (e.g. ``"paper"``, ``"drawn"``).
    planted_clusters : tuple of bool
    drawn_from : tuple of str
        A posterior world's source data (every parameter drawn per seed from its NUTS
        posterior); empty for a synthetic world.
    """

    n_worksites: tuple[int, ...]
    n_workers: tuple[int, ...]
    nuts: tuple[tuple[int, int, int], ...]
    step_caps: tuple[int, ...]
    methods: dict[str, MethodRuns]
    priors: tuple[str, ...]
    sigma_worker: tuple[float, ...]
    site_scale: tuple[float, ...]
    sigma_site: tuple[float, ...]
    beta_site_source: tuple[str, ...]
    planted_clusters: tuple[bool, ...]
    drawn_from: tuple[str, ...] = ()


def distinct(runs: pd.DataFrame, column: str, kind: type = float) -> tuple[Any, ...]:
    """The distinct non-missing values of ``column`` (absent: empty), as ``kind``, sorted."""
    if column not in runs:
        return ()
    values = [v for v in runs[column] if v is not None and not _missing(v)]
    return tuple(sorted({kind(v) for v in values}))


def _missing(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _method_runs(jobs: pd.DataFrame) -> MethodRuns:
    done = jobs[jobs["status"] == "complete"] if "status" in jobs else jobs
    failed = int(done["verdict.failed"].map(truthy).sum()) if "verdict.failed" in done else 0
    steps = distinct(done, "fit.n_steps_run", int)
    fits = int(done.groupby("replicate").size().max()) if len(done) else 0
    return MethodRuns(len(jobs), len(done), failed, int(done["replicate"].nunique()), fits,
                      (steps[0], steps[-1]) if steps else None)  # fmt: skip


def run_facts(df: pd.DataFrame, nuts: str, methods: Sequence[str] = ()) -> RunFacts:
    """:class:`RunFacts` of one world's comparison table (every job; sizes and settings from
    its complete runs).  ``methods``: their order (others follow in table order)."""
    done = df[df["status"] == "complete"] if "status" in df else df
    bases = list(dict.fromkeys(df["method_base"])) if "method_base" in df else []
    order = [m for m in dict.fromkeys([*methods, *bases]) if m in bases]
    per = {m: _method_runs(df[df["method_base"] == m]) for m in order}
    ref = done[done["method_base"] == nuts] if "method_base" in done else done.iloc[0:0]
    settings = ref[[c for c in ("fit.chains", "fit.tune", "fit.draws") if c in ref]].dropna()
    nuts_settings = tuple(sorted({tuple(int(v) for v in row) for row in settings.to_numpy()}))
    vi = done[done.get("family", pd.Series("", index=done.index)) == "vi"]
    priors = tuple(text.format(distinct(done, col)[0]) for col, text in PRIOR_COLUMNS.items()
                   if distinct(done, col))  # fmt: skip
    return RunFacts(
        n_worksites=distinct(done, "data.n_worksites", int),
        n_workers=distinct(done, "data.n_workers", int),
        nuts=nuts_settings if settings.shape[1] == 3 else (),
        step_caps=distinct(vi, "fit.num_steps", int),
        methods=per,
        priors=priors,
        sigma_worker=distinct(done, "data.sigma_worker_truth"),
        site_scale=distinct(done, "data.meta.site_scale"),
        sigma_site=distinct(done, "data.meta.knobs.sigma_site"),
        beta_site_source=distinct(done, "data.meta.beta_site_source", str),
        planted_clusters=distinct(done, "data.planted_clusters", bool),
        drawn_from=distinct(done, "data.meta.source.name", str),
    )


class CoarseClaim(NamedTuple):
    """A claim whose P is coarser than the study's Monte Carlo target in some run: its
    largest ``mc_error`` and the fewest ``n_draws`` P rested on."""

    name: str
    mc_error: float
    n_draws: float


def coarse_claims(claims: pd.DataFrame, limit: float = MC_TARGET) -> list[CoarseClaim]:
    """The claims of a claims table whose Monte Carlo error exceeds ``limit`` in some run."""
    if claims.empty or "mc_error" not in claims:
        return []
    by = claims.groupby("name", sort=False)
    worst = by["mc_error"].max()
    draws = by["n_draws"].min() if "n_draws" in claims else worst * math.nan
    return [CoarseClaim(str(n), float(e), float(draws[n])) for n, e in worst.items()
            if math.isfinite(e) and e > limit]  # fmt: skip


__all__ = ["MC_TARGET", "PRIOR_COLUMNS", "CoarseClaim", "MethodRuns", "RunFacts",
           "coarse_claims", "distinct", "run_facts"]  # fmt: skip
