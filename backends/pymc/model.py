"""The model of :mod:`backends.spec` as a vectorised ``pm.Model`` with the canonical names.

Only this package imports PyMC; :func:`build_model` is the one place the model is written.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import expit

from backends.spec import VAR_DIMS, Z_WORKER_DIMS, HierData, ModelSpec

if TYPE_CHECKING:  # pragma: no cover
    import pymc as pm

#: What to install when PyMC or a sampler's package is missing.
INSTALL_HINTS: dict[str, str] = {
    "pymc": "pip install 'ppl-compare[pymc]'  (or: pip install pymc)",
    "nutpie": "pip install 'ppl-compare[pymc]'  (or: pip install nutpie)",
}

#: The ``pm.Data`` containers of :func:`build_model`, each with what it holds.
DATA_NAMES: dict[str, str] = {
    "X_site": "HierData.X_site",
    "X_worker": "HierData.X_worker",
    "site": "HierData.site",
    "cell": "HierData.site * K_w + k: where row i's coefficient k lies in beta_worker.ravel()",
    "y_observed": "HierData.y",
}


def data_arrays(data: HierData) -> dict[str, np.ndarray]:
    """The arrays of ``data`` by the name of the ``pm.Data`` container that holds each."""
    n_features = data.X_worker.shape[1]
    return {
        "X_site": data.X_site,
        "X_worker": data.X_worker,
        "site": data.site,
        "cell": data.site[:, None] * n_features + np.arange(n_features),
        "y_observed": data.y,
    }


def bernoulli_logit_logp(value: Any, eta: Any) -> Any:
    """``log Bernoulli(value | sigmoid(eta)) = value * eta - softplus(eta)`` (value in {0, 1}).

    PyMC's own ``Bernoulli(logit_p=...)`` evaluates ``sigmoid(eta)`` to check it lies in
    [0, 1] and branches on ``value``; this form has one softplus per row and its gradient one
    sigmoid.
    """
    import pytensor.tensor as pt

    return value * eta - pt.softplus(eta)


def _bernoulli_logit_random(
    eta: np.ndarray, rng: np.random.Generator | None = None, size: Any = None
) -> np.ndarray:
    """Draws of the outcome given the logits (for posterior predictive draws)."""
    return (rng or np.random.default_rng()).binomial(1, expit(eta), size=size).astype(np.int8)


def build_model(data: HierData, spec: ModelSpec) -> pm.Model:
    """Build the hierarchical logistic regression for ``data`` as a PyMC model.

    Parameters
    ----------
    data : HierData
        Its :meth:`HierData.coords` become the model's coordinates, so every variable comes
        out of PyMC with the canonical names, dims and coordinates (nothing renamed later).
    spec : ModelSpec
        Parameterisation (``centered`` or ``noncentered``) and prior scales.

    Returns
    -------
    pymc.Model
        Free variables ``alpha, beta_site, sigma_site, sigma_worker`` and ``beta_worker``
        (centred) or ``z_worker`` with ``beta_worker`` a Deterministic (non-centred); observed
        ``y`` with dims ``obs``.  Every data array is a ``pm.Data`` (names in
        :data:`DATA_NAMES`, the outcomes as ``y_observed``), so a model compiled once (nutpie)
        can take another data set of the same shapes without recompiling.
    """
    import pymc as pm

    p, arrays = spec.priors, data_arrays(data)
    # no parameter checks: every scale is positive by its log transform and every
    # probability is a sigmoid, so PyMC's checks only cost time in each gradient
    with pm.Model(coords=data.coords(), check_bounds=False) as model:
        x_site = pm.Data("X_site", arrays["X_site"], dims=("worksite", "site_feature"))
        x_worker = pm.Data("X_worker", arrays["X_worker"], dims=("obs", "worker_feature"))
        site = pm.Data("site", arrays["site"], dims="obs")

        alpha = pm.Normal("alpha", mu=0.0, sigma=p.alpha_scale)
        # Start both scales at 1 (PyMC's default start is the prior's support point, the
        # HalfCauchy scale 5: jittered, sigma_worker ~ 12 and |beta_worker| ~ 12 make the
        # likelihood so peaked that a pm.sample chain can stick with step size -> 0).
        sigma_site = pm.HalfCauchy("sigma_site", beta=p.sigma_site_scale, initval=1.0)
        sigma_worker = pm.HalfCauchy("sigma_worker", beta=p.sigma_worker_scale, initval=1.0)
        beta_site = pm.Normal("beta_site", mu=0.0, sigma=sigma_site, dims=VAR_DIMS["beta_site"])
        if spec.parameterization == "centered":
            beta_worker = pm.Normal(
                "beta_worker", mu=0.0, sigma=sigma_worker, dims=VAR_DIMS["beta_worker"]
            )
        else:
            z_worker = pm.Normal("z_worker", mu=0.0, sigma=1.0, dims=Z_WORKER_DIMS)
            beta_worker = pm.Deterministic(
                "beta_worker", sigma_worker * z_worker, dims=VAR_DIMS["beta_worker"]
            )
        site_eta = pm.math.dot(x_site, beta_site)  # (worksite,)
        # beta_worker[site] as a gather from the flat vector: its gradient is a scatter-add of
        # scalars, which numba runs ~4x faster than the row-wise one of beta_worker[site]
        cell = pm.Data("cell", arrays["cell"], dims=("obs", "worker_feature"))
        worker_eta = (x_worker * beta_worker.ravel()[cell]).sum(axis=-1)  # (obs,)
        eta = alpha + site_eta[site] + worker_eta
        y_observed = pm.Data("y_observed", arrays["y_observed"], dims="obs")
        pm.CustomDist("y", eta, logp=bernoulli_logit_logp, random=_bernoulli_logit_random,
                      dtype="int8", observed=y_observed, dims="obs")  # fmt: skip
    return model


def latent_names(spec: ModelSpec) -> tuple[str, ...]:
    """Free (latent) variables of the parameterisation, in the order of :data:`VAR_DIMS`."""
    block = "beta_worker" if spec.parameterization == "centered" else "z_worker"
    return ("alpha", "beta_site", "sigma_site", "sigma_worker", block)


def posterior_names(spec: ModelSpec) -> tuple[str, ...]:
    """Variables the posterior group keeps: the canonical ones (+ ``z_worker`` if non-centred)."""
    extra = ("z_worker",) if spec.parameterization == "noncentered" else ()
    return (*VAR_DIMS, *extra)


@contextmanager
def quiet_pytensor() -> Iterator[None]:
    """Silence PyTensor's one-time "could not link to a BLAS installation" UserWarning.

    It is advice about pip-installed PyTensor (slower matrix products), not a problem with a
    fit; tests run with warnings as errors.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="PyTensor could not link to a BLAS", category=UserWarning
        )
        yield
