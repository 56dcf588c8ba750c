"""The NumPy log-joint gradient that benchmarks/pyro_svi.py sets beside the Pyro step: the same
log joint as the Pyro model and the gradient torch's autograd takes of it."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from pyro import poutine

from backends.pyro.model import make_model, to_tensors
from backends.spec import ModelSpec, log_joint, random_params

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/ is not installed
from benchmarks.pyro_svi import NumpyLogJoint


@pytest.mark.parametrize("parameterization", ["noncentered", "centered"])
def test_numpy_gradient_is_autograd_of_the_pyro_log_joint(tiny_twin, parameterization):
    spec = ModelSpec(parameterization)
    own = "beta_worker" if parameterization == "centered" else "z_worker"
    rng, numpy_log_joint = np.random.default_rng(3), NumpyLogJoint(tiny_twin, spec)
    for _ in range(3):
        point = random_params(tiny_twin, rng)
        point = {k: point[k] for k in ("alpha", "sigma_site", "sigma_worker", "beta_site", own)}
        value, grad = numpy_log_joint(point)
        leaves = {k: torch.tensor(np.asarray(v, float), requires_grad=True)
                  for k, v in point.items()}  # fmt: skip
        model = poutine.condition(make_model(spec), data=leaves)
        log_p = poutine.trace(model).get_trace(*to_tensors(tiny_twin, torch.float64)).log_prob_sum()
        log_p.backward()
        # float64 throughout, the same sums in another order: 1e-10 relative.
        assert value == pytest.approx(log_p.item(), rel=1e-10)
        assert value == pytest.approx(float(log_joint(point, tiny_twin, spec)), rel=1e-10)
        assert set(grad) == set(leaves)
        for name, leaf in leaves.items():
            np.testing.assert_allclose(grad[name], leaf.grad.numpy(), rtol=1e-10, atol=1e-10)
