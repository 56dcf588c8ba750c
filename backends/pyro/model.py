"""The hierarchical logistic regression of :mod:`backends.spec` as a Pyro model, and its guides.

The model is vectorised: plates ``site_feature`` (dim -1), ``worksite`` (dim -2) x
``worker_feature`` (dim -1) and ``obs`` (dim -1), no Python loop over workers or worksites.
The site-level part of the logit is computed once per worksite and gathered together with
the worker coefficients (see :func:`logits`), instead of ``X_site[site] @ beta_site``.
All data enter as tensor arguments (:class:`ModelTensors`), which is what
:class:`pyro.infer.JitTrace_ELBO` needs.

The model also runs under an outer vectorised plate at dim ``-3`` (:data:`DRAW_DIM`), which is how
posterior draws and their densities are computed in batches (see :mod:`backends.pyro.convert`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pyro
import pyro.distributions as dist
import torch
from pyro.infer import autoguide

from backends.pyro.guides import AutoFullRankNormal, AutoIAFFastNormal
from backends.spec import HierData, ModelSpec

#: Plates nested inside the model (worksite x worker_feature).
MAX_PLATE_NESTING = 2
#: Dim of the outer plate over posterior draws.
DRAW_DIM = -MAX_PLATE_NESTING - 1
#: Guide names accepted by :func:`make_guide`.
GUIDES: tuple[str, ...] = ("meanfield", "lowrank", "fullrank", "flow", "typeii")
#: Latent sites the ``typeii`` guide fits as point estimates (AutoDelta).
SCALE_SITES: tuple[str, ...] = ("sigma_site", "sigma_worker")
#: Latent sample sites of each parameterisation (the guide's sites).
LATENT_SITES: dict[str, tuple[str, ...]] = {
    "centered": ("alpha", "sigma_site", "sigma_worker", "beta_site", "beta_worker"),
    "noncentered": ("alpha", "sigma_site", "sigma_worker", "beta_site", "z_worker"),
}


class ModelTensors(NamedTuple):
    """The data of a :class:`~backends.spec.HierData` as tensors (model arguments, in order).

    The worker block carries an extra column of ones, so that the site-level part of the logit
    rides along with the per-worksite worker coefficients: one row gather of
    ``[beta_worker | X_site @ beta_site]`` by ``site`` and one row-wise dot product give both
    parts.  Its gradient is a single ``index_add`` over the N worker rows -- the dominant cost
    of a step at paper scale, cheaper per row than a flat gather of all N x K_w coefficients
    plus a separate gather of the site part.

    Attributes
    ----------
    X_site : Tensor, shape (J, K_s)
    X_worker1 : Tensor, shape (N, K_w + 1)
        ``X_worker`` with a trailing column of ones.
    site : LongTensor, shape (N,)
    y : Tensor, shape (N,)
        Outcomes as floats (0./1.), the dtype of the features.
    """

    X_site: torch.Tensor
    X_worker1: torch.Tensor
    site: torch.Tensor
    y: torch.Tensor


def to_tensors(data: HierData, dtype: torch.dtype = torch.float32) -> ModelTensors:
    """Copy ``data`` into tensors of floating type ``dtype`` (HierData arrays are read-only)."""
    x_worker = torch.tensor(np.array(data.X_worker), dtype=dtype)
    ones = torch.ones(x_worker.shape[0], 1, dtype=dtype)
    return ModelTensors(
        X_site=torch.tensor(np.array(data.X_site), dtype=dtype),
        X_worker1=torch.cat([x_worker, ones], dim=1).contiguous(),
        site=torch.tensor(np.array(data.site), dtype=torch.long),
        y=torch.tensor(np.array(data.y), dtype=dtype),
    )


def logits(
    alpha: torch.Tensor,
    beta_site: torch.Tensor,
    beta_worker: torch.Tensor,
    data: ModelTensors,
) -> torch.Tensor:
    """``alpha + X_site[site] . beta_site + X_worker . beta_worker[site]``, batch-aware.

    Unbatched shapes are ``()``, ``(K_s,)``, ``(J, K_w)`` -> ``(N,)``; under the draws plate
    ``(D, 1, 1)``, ``(D, 1, K_s)``, ``(D, J, K_w)`` -> ``(D, 1, N)``.  The data may carry the
    replicates' batch too (``X_site`` (R, J, K_s), ``X_worker1`` (R, N, K_w + 1), ``site``
    (R, N): one data set per replicate, :func:`backends.pyro.replicates.stack`).  The site part is
    computed per worksite, appended to the worker coefficients and gathered with them:
    ``([beta_worker | X_site @ beta_site][site] * [X_worker | 1]).sum(-1)``.
    """
    batch, n_sites, width = beta_worker.shape[:-2], beta_worker.shape[-2], data.X_worker1.shape[-1]
    site_eta = torch.matmul(data.X_site, beta_site.reshape(*batch, -1, 1))  # (..., J, 1)
    coef = torch.cat([beta_worker, site_eta], dim=-1)  # (..., J, K_w + 1)
    if batch:  # rows of the flattened batch: a gather along dim -2 of a batched tensor (and
        # its index_add backward) costs 2-3x as much at paper scale
        size, site = math.prod(batch), data.site.expand(*batch, data.site.shape[-1])
        rows = (site + n_sites * torch.arange(size).reshape(*batch, 1)).reshape(-1)
        coef = coef.reshape(size * n_sites, width).index_select(0, rows)
        coef = coef.reshape(*batch, -1, width)  # (..., N, K_w + 1)
    else:
        coef = torch.index_select(coef, 0, data.site)  # (N, K_w + 1)
    eta = (coef * data.X_worker1).sum(-1)  # (..., N)
    if batch:  # batched: (D, N) -> (D, 1, N) to line up with the obs plate
        eta = eta.unsqueeze(-2)
    return alpha + eta


def make_model(spec: ModelSpec):
    """The Pyro model of ``spec`` (parameterisation and priors), taking :class:`ModelTensors`.

    Written for a short traced step (``JitTrace_ELBO``): the plates are sized by Python ints
    (:func:`_plate`) and the prior constants are tensors made once per floating type, so the
    traced step holds no per-site ``size / subsample_size`` scale and no constant arithmetic.

    Returns
    -------
    callable
        ``model(*ModelTensors)``; sample sites ``alpha``, ``sigma_site``,
        ``sigma_worker``, ``beta_site``, ``beta_worker`` (centred) or ``z_worker`` (non-centred,
        with ``beta_worker`` a deterministic site), and the observed ``y``.
    """
    priors = spec.priors
    centered = spec.parameterization == "centered"
    scales = (0.0, 1.0, priors.alpha_scale, priors.sigma_site_scale, priors.sigma_worker_scale)
    constants: dict[torch.dtype, tuple[torch.Tensor, ...]] = {}

    def model(X_site, X_worker1, site, y):
        data = ModelTensors(X_site, X_worker1, site, y)
        if X_site.dtype not in constants:
            constants[X_site.dtype] = tuple(torch.tensor(v, dtype=X_site.dtype) for v in scales)
        zero, one, alpha_scale, site_scale, worker_scale = constants[X_site.dtype]
        n_sites, n_site_features = (int(n) for n in X_site.shape[-2:])  # (replicates, ...)
        n_worker_features, n_obs = int(X_worker1.shape[-1]) - 1, int(y.shape[-1])
        alpha = pyro.sample("alpha", dist.Normal(zero, alpha_scale))
        sigma_site = pyro.sample("sigma_site", dist.HalfCauchy(site_scale))
        sigma_worker = pyro.sample("sigma_worker", dist.HalfCauchy(worker_scale))
        with _plate("site_feature", n_site_features, -1):
            beta_site = pyro.sample("beta_site", dist.Normal(zero, sigma_site))
        with (
            _plate("worksite", n_sites, -2),
            _plate("worker_feature", n_worker_features, -1),
        ):
            if centered:
                beta_worker = pyro.sample("beta_worker", dist.Normal(zero, sigma_worker))
            else:
                z_worker = pyro.sample("z_worker", dist.Normal(zero, one))
                beta_worker = pyro.deterministic("beta_worker", sigma_worker * z_worker)
        eta = logits(alpha, beta_site, beta_worker, data)
        with _plate("obs", n_obs, -1):
            pyro.sample("y", dist.Bernoulli(logits=eta), obs=y)

    return model


def _plate(name: str, size: int, dim: int) -> pyro.plate:
    """A full plate whose size and subsample size are both the int ``size``: left to itself,
    ``pyro.plate`` reads the subsample size off its index tensor, which under ``torch.jit.trace``
    is a traced tensor, and then multiplies every log density inside by ``size / size``."""
    return pyro.plate(name, size, subsample_size=size, dim=dim)


def make_guide(
    model,
    guide: str,
    *,
    init_scale: float = 0.1,
    rank: int | None = None,
    num_transforms: int = 2,
    hidden_dim: int | None = None,
    init_sigma: float | None = None,
):
    """An autoguide for ``model``.

    Parameters
    ----------
    model : callable
    guide : {"meanfield", "lowrank", "fullrank", "flow", "typeii"}
        ``AutoDiagonalNormal`` (mean-field: the family and parameters of the paper's
        ``AutoNormal`` -- a location and a softplus-positive scale per unconstrained latent, the
        same start -- with all latents drawn as one vector: about a quarter fewer operations
        per step), ``AutoLowRankMultivariateNormal`` (``rank``; Pyro's default rank is about
        sqrt of the latent dimension when None), :class:`~backends.pyro.guides.AutoFullRankNormal`,
        :class:`~backends.pyro.guides.AutoIAFFastNormal` (a normalizing flow:
        ``num_transforms`` inverse autoregressive transforms of a standard normal, each an
        autoregressive network with ``hidden_dim`` hidden units (None: Pyro's default, 3 x the
        latent dimension + 1; at least the latent dimension)), or :func:`make_typeii_guide`.
    init_scale : float
        Initial scale of the guide on the unconstrained space.  Every guide starts at
        ``init_to_feasible`` (unconstrained zeros: alpha = beta = 0, sigma = 1), as
        ``AutoNormal`` does by default, so the start does not depend on the seed.
    rank : int, optional
        Rank of the low-rank covariance factor (``lowrank`` only).
    num_transforms, hidden_dim : int
        Size of the flow (``flow`` only); ``init_scale`` does not apply to it (the flow starts
        near a standard normal on the unconstrained space; Pyro ignores an ``init_loc_fn``).
    init_sigma : float, optional
        Start of the guide for both scales (:data:`SCALE_SITES`; location ``log init_sigma``
        on the unconstrained space, or the point estimate of ``typeii``); None: 1, as
        ``init_to_feasible``.  Not for the flow.
    """
    init_scale = float(init_scale)
    init_loc = init_scales_at(init_sigma)
    if guide == "meanfield":
        return autoguide.AutoDiagonalNormal(model, init_loc_fn=init_loc, init_scale=init_scale)
    if guide == "lowrank":
        return autoguide.AutoLowRankMultivariateNormal(
            model, init_loc_fn=init_loc, init_scale=init_scale,
            rank=None if rank is None else int(rank),
        )  # fmt: skip
    if guide == "fullrank":
        return AutoFullRankNormal(model, init_loc_fn=init_loc, init_scale=init_scale)
    if guide == "flow":
        return AutoIAFFastNormal(
            model,
            hidden_dim=None if hidden_dim is None else [int(hidden_dim)],
            num_transforms=int(num_transforms),
        )
    if guide == "typeii":
        return make_typeii_guide(model, init_scale=init_scale, init_sigma=init_sigma)
    raise ValueError(f"guide must be one of {GUIDES}, got {guide!r}")


def init_scales_at(init_sigma: float | None):
    """Pyro ``init_loc_fn``: :data:`SCALE_SITES` at ``init_sigma``, every other site (and both
    scales when ``init_sigma`` is None) at ``init_to_feasible``."""
    if init_sigma is None:
        return autoguide.init_to_feasible
    value = float(init_sigma)
    if not value > 0:
        raise ValueError(f"init_sigma must be > 0, got {init_sigma}")

    def init_loc_fn(site):
        start = autoguide.init_to_feasible(site)
        return torch.full_like(start, value) if site["name"] in SCALE_SITES else start

    return init_loc_fn


def make_typeii_guide(model, *, init_scale: float = 0.1, init_sigma: float | None = None):
    """Type-II (empirical Bayes) guide: point estimates of the two scales, mean-field the rest.

    An ``AutoGuideList`` of ``AutoDelta`` on :data:`SCALE_SITES` (draws of the scales are the
    point estimate; they start at ``init_sigma``, None: 1) and ``AutoNormal`` (``init_scale``)
    on every other latent site, which starts at ``init_to_feasible``.
    """
    guides = autoguide.AutoGuideList(model)
    guides.append(
        autoguide.AutoDelta(
            pyro.poutine.block(model, expose=list(SCALE_SITES)),
            init_loc_fn=init_scales_at(init_sigma),
        )
    )
    guides.append(
        autoguide.AutoNormal(
            pyro.poutine.block(model, hide=list(SCALE_SITES)),
            init_loc_fn=autoguide.init_to_feasible,
            init_scale=float(init_scale),
        )
    )
    return guides
