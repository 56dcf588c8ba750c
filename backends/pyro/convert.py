"""From a fitted Pyro guide to the canonical arrays: posterior draws, with the guide's and the
model's log density of each draw.

Imports torch and pyro at its top: :mod:`backends.pyro.vi` imports it only when a fit runs.

``log_q`` is the sum of the guide trace's log densities: the autoguides sample each latent on
the unconstrained space and emit it through ``Delta(value, log_density=log|du/dx|)``, so the
sum is the guide density on the constrained space of the model's latent sites (what
``spec.log_joint`` is a density over).  ``lp`` is the model's log joint, replayed on the draw.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pyro
import torch
from pyro import poutine

from backends.pyro.model import DRAW_DIM


class Draws(NamedTuple):
    """Posterior draws from a fitted guide.

    Attributes
    ----------
    posterior : dict of str to ndarray
        Canonical variables (plus ``z_worker`` when non-centred), each shaped (draw, ...).
    log_q : ndarray, shape (draw,)
        Guide log density of each draw on the constrained space of the model's latent sites.
    lp : ndarray, shape (draw,)
        Model log joint (priors + likelihood, no Jacobian) of each draw.
    """

    posterior: dict[str, np.ndarray]
    log_q: np.ndarray
    lp: np.ndarray


def draw_posterior(model, guide, tensors, num_draws: int, batch: int = 100) -> Draws:
    """``num_draws`` draws from ``guide`` with their guide and model log densities.

    Draws are vectorised with an outer ``pyro.plate`` at dim -3 in batches of ``batch``; the
    guide trace's log densities include the ``Delta(log_density=...)`` terms of the
    autoguides, so their sum is the guide density on the constrained space of the model's
    latent sites; the model is replayed on the guide trace for the log joint.
    """
    parts: list[dict[str, np.ndarray]] = []
    with torch.no_grad():
        for start in range(0, num_draws, batch):
            size = min(batch, num_draws - start)
            with pyro.plate("_draws", size, dim=DRAW_DIM):
                guide_tr = poutine.trace(guide).get_trace(*tensors)
                model_tr = poutine.trace(poutine.replay(model, trace=guide_tr)).get_trace(*tensors)
            parts.append(_trace_summary(guide_tr, model_tr, size))
    merged = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    log_q, lp = merged.pop("__log_q"), merged.pop("__lp")
    return Draws(posterior=merged, log_q=log_q, lp=lp)


def _trace_summary(guide_tr, model_tr, size: int) -> dict[str, np.ndarray]:
    """Values of the canonical sites (shaped (draw, ...)) and the per-draw log densities."""
    shapes = {
        "alpha": (),
        "sigma_site": (),
        "sigma_worker": (),
        "beta_site": (-1,),
        "beta_worker": (-1, -1),
        "z_worker": (-1, -1),
    }
    out = {}
    for name, shape in shapes.items():
        if name in model_tr.nodes:
            value = model_tr.nodes[name]["value"]
            tail = value.shape[value.dim() - len(shape) :] if shape else ()
            out[name] = value.reshape(size, *tail).double().numpy()
    out["__log_q"] = log_prob_per_draw(guide_tr, size)
    out["__lp"] = log_prob_per_draw(model_tr, size)
    return out


def log_prob_per_draw(trace, size: int) -> np.ndarray:
    """Per-draw log density of a trace run under the draws plate (dim -3).

    Parameters
    ----------
    trace : pyro.poutine.Trace
        A guide or model trace whose sample sites carry the draws dim at -3.
    size : int
        Number of draws in the batch.

    Returns
    -------
    ndarray, shape (size,)
        Sum over every sample site (latent, auxiliary, Delta and observed) of its log_prob,
        summed in float64 over all dims but the draws dim.
    """
    trace.compute_log_prob()
    total = torch.zeros(size, dtype=torch.float64)
    for site in trace.nodes.values():
        if site["type"] != "sample":
            continue
        lp = site["log_prob"]
        while lp.dim() < 3:
            lp = lp.unsqueeze(0)
        total = total + lp.double().sum((-2, -1)).reshape(-1)
    return total.numpy()
