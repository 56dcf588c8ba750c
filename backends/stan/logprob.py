"""The Stan program's own log density at given parameter points (for "same model" checks).

CmdStan >= 2.31 has a ``log_prob`` method (used through cmdstanpy when found); CmdStan 2.27
has not, so the fallback is PyStan 3 (httpstan) built from the *same* ``.stan`` file.  Both
return the density on the constrained space without the Jacobian and with every constant,
which is what :func:`backends.spec.log_joint` computes.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from backends.base import BackendUnavailable
from backends.spec import HierData, ModelSpec
from backends.stan import convert
from backends.stan.cmdstan import PROGRAM_FILE, compile_program, find_cmdstan, resolve_includes


def stan_params(point: Mapping[str, np.ndarray], spec: ModelSpec) -> dict[str, np.ndarray]:
    """The Stan program's parameters (constrained) for one canonical point.

    The block of the parameterisation not in use has zero rows.
    """
    beta = np.asarray(point["beta_worker"], dtype=float)
    sigma_worker = float(point["sigma_worker"])
    empty = np.zeros((0, beta.shape[1]))
    z = np.asarray(point["z_worker"], float) if "z_worker" in point else beta / sigma_worker
    noncentered = spec.parameterization == "noncentered"
    return {
        "alpha": float(point["alpha"]),
        "beta_site": np.asarray(point["beta_site"], dtype=float),
        "sigma_site": float(point["sigma_site"]),
        "sigma_worker": sigma_worker,
        "beta_worker_centered": empty if noncentered else beta,
        "z_worker": z if noncentered else empty,
    }


def _json_ready(values: Mapping[str, object]) -> dict[str, object]:
    return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in values.items()}


def log_density_cmdstan(
    points: Sequence[Mapping[str, np.ndarray]],
    data: HierData,
    spec: ModelSpec,
    stan_file: Path = PROGRAM_FILE,
) -> np.ndarray:  # pragma: no cover - needs CmdStan >= 2.31
    """Log density through cmdstanpy's ``log_prob`` (CmdStan >= 2.31)."""
    model = compile_program(stan_file).model
    sdata = convert.stan_data(data, spec)
    out = []
    for point in points:
        frame = model.log_prob(
            _json_ready(stan_params(point, spec)), data=sdata, jacobian=False, sig_figs=15
        )
        out.append(float(frame["lp__"].iloc[0]))
    return np.asarray(out)


def log_density_pystan(
    points: Sequence[Mapping[str, np.ndarray]],
    data: HierData,
    spec: ModelSpec,
    stan_file: Path = PROGRAM_FILE,
    random_seed: int = 1,
) -> np.ndarray:
    """Log density through PyStan 3 (``posterior.log_prob(..., adjust_transform=False)``).

    The first build of the program compiles it with g++ (about a minute); httpstan caches the
    model in ``~/.cache/httpstan`` afterwards.
    """
    with warnings.catch_warnings():  # httpstan / aiohttp import-time deprecations
        warnings.simplefilter("ignore")
        try:
            import stan
        except ImportError as exc:
            raise BackendUnavailable(
                f"PyStan is needed for log densities with CmdStan < 2.31 ({exc}); "
                "install it with: pip install -e '.[stan-logprob]'"
            ) from exc
        sdata = _json_ready(convert.stan_data(data, spec))
        posterior = stan.build(
            resolve_includes(Path(stan_file)), data=sdata, random_seed=random_seed
        )
        out = []
        for point in points:
            upars = posterior.unconstrain_pars(_json_ready(stan_params(point, spec)))
            out.append(posterior.log_prob(upars, adjust_transform=False))
    return np.asarray(out, dtype=float)


def stan_log_density(
    points: Sequence[Mapping[str, np.ndarray]],
    data: HierData,
    spec: ModelSpec,
    stan_file: Path = PROGRAM_FILE,
) -> tuple[np.ndarray, str]:
    """The program's log density at ``points`` and which route computed it.

    Returns
    -------
    values : ndarray, shape (len(points),)
    route : {"cmdstan", "pystan"}
    """
    try:
        cmdstan_ok = find_cmdstan().version >= (2, 31)
    except BackendUnavailable:
        cmdstan_ok = False
    if cmdstan_ok:  # pragma: no cover - not the CmdStan installed here
        return log_density_cmdstan(points, data, spec, stan_file), "cmdstan"
    return log_density_pystan(points, data, spec, stan_file), "pystan"


__all__ = ["log_density_cmdstan", "log_density_pystan", "stan_log_density", "stan_params"]
