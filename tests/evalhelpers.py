"""Shared test helpers: hand-built HierData and InferenceData (no PPL involved), and running
the ``ppl-compare`` app as a user would (a subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from backends.base import build_inference_data
from backends.convergence import rolling_mean
from backends.spec import HierData, ModelSpec


def make_data(n_sites=4, n_workers=200, ks=2, kw=2, seed=0, truth=None, y=None) -> HierData:
    """A small HierData with standard-normal features; ``y`` random unless given."""
    rng = np.random.default_rng(seed)
    site = np.arange(n_workers) % n_sites
    y_random = rng.integers(0, 2, n_workers)
    y = y_random if y is None else y
    return HierData(
        y=y,
        site=site,
        X_site=rng.normal(size=(n_sites, ks)),
        X_worker=rng.normal(size=(n_workers, kw)),
        site_features=[f"s{k}" for k in range(ks)],
        worker_features=[f"w{k}" for k in range(kw)],
        worksite_ids=[f"ws{j}" for j in range(n_sites)],
        truth=truth,
        name="hand",
    )


def make_idata(draws: dict, data: HierData, sample_stats=None, backend="test_nuts", seed=0):
    """InferenceData in the canonical layout from arrays shaped (chain, draw, ...); its
    ``inference_family`` is ``vi`` when ``sample_stats`` holds ``log_q``, else ``mcmc``."""
    return build_inference_data(
        draws,
        data,
        backend=backend,
        family="vi" if "log_q" in (sample_stats or {}) else "mcmc",
        library="none",
        library_version="0",
        seed=seed,
        model=ModelSpec(),
        sample_stats=sample_stats,
    )


def normal_draws(data: HierData, centre: dict, sd: float | dict, chains=4, draws=250, seed=0):
    """Independent Normal draws of every canonical variable around ``centre``.

    ``centre`` maps each canonical name to its (unbatched) value; ``sd`` is one value or per
    variable.  Scales are kept positive by folding.
    """
    rng = np.random.default_rng(seed)
    out = {}
    for name, value in centre.items():
        value = np.asarray(value, float)
        s = sd[name] if isinstance(sd, dict) else sd
        x = value + s * rng.normal(size=(chains, draws, *value.shape))
        out[name] = np.abs(x) if name.startswith("sigma") else x
    return out


def point(data: HierData, alpha=0.0, scale=1.0, seed=0) -> dict:
    """A parameter point with every canonical variable."""
    rng = np.random.default_rng(seed)
    return {
        "alpha": np.asarray(alpha, float),
        "beta_site": scale * rng.normal(size=len(data.site_features)),
        "sigma_site": np.asarray(1.0),
        "sigma_worker": np.asarray(0.5),
        "beta_worker": scale * rng.normal(size=(data.n_worksites, len(data.worker_features))),
    }


class IidNormalBackend:
    """A stand-in 'sampler' drawing iid Normal draws around a fixed point (no PPL).

    Only for the reference cache's plumbing: ``calls`` counts fits.
    """

    calls = 0
    family = "mcmc"

    def __init__(self, model, chains=4, draws=500, name="iid_nuts", progress=False):
        self.model, self.chains, self.draws, self.name = model, chains, draws, name

    def fit(self, data, seed):
        from backends.base import FitResult

        type(self).calls += 1
        d = normal_draws(data, point(data), 0.3, self.chains, self.draws, seed)
        ss = {"diverging": np.zeros((self.chains, self.draws), bool)}
        idata = make_idata(d, data, sample_stats=ss, backend=self.name, seed=seed)
        return FitResult(idata, None, {"fit_s": 0.1}, {"n_divergent": 0})


#: The installed ``ppl-compare`` script of the interpreter running the tests.
APP = str(Path(sys.executable).parent / "ppl-compare")


def run_app(*overrides: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``ppl-compare`` with ``overrides`` in ``cwd`` (``env`` added to the environment);
    output captured, never raises."""
    return subprocess.run(
        [APP, *overrides],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, **(env or {})},
    )


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    """The single stderr line of a failed start (asserts rc 1, one line, no traceback)."""
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("ppl-compare: error: "), proc.stderr[-2000:]
    return lines[0]


def separated(j: int = 40, d: int = 4, sep: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    """Two planted clusters ``sep`` within-sds apart in the first two features."""
    rng = np.random.default_rng(3)
    labels = np.arange(j) % 2
    x = rng.normal(size=(j, d))
    x[:, :2] += (labels[:, None] - 0.5) * sep
    return x, labels


def assert_stop_keeps_identified(stopped, full, x_site: np.ndarray, window: int) -> None:
    """A VI fit stopped at the convergence rule against the full schedule of the same seed.

    The stopped fit's rolling loss is within 3 nats of the full run's, every worksite's logit
    alpha + X_site beta_site within 2 posterior sds and sigma_worker within 1 (the reasons for
    these tolerances are in the callers' docstrings: a mean displaced by delta sds costs
    delta^2 / 2 nats).
    """
    gap = rolling_mean(stopped.loss, window)[-1] - rolling_mean(full.loss, window)[-1]
    assert gap < 3.0, gap
    a, b = stopped.idata.posterior, full.idata.posterior

    def site_logits(post):
        return post["alpha"].values[0][:, None] + post["beta_site"].values[0] @ x_site.T

    eta_a, eta_b = site_logits(a), site_logits(b)
    z_eta = np.abs(eta_a.mean(axis=0) - eta_b.mean(axis=0)) / eta_b.std(axis=0)
    assert z_eta.max() < 2.0, z_eta
    sw_a, sw_b = a["sigma_worker"].values, b["sigma_worker"].values
    assert abs(sw_a.mean() - sw_b.mean()) < sw_b.std(), (sw_a.mean(), sw_b.mean(), sw_b.std())
