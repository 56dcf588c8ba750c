"""Structured configs: the schema of every config group, registered in Hydra's ConfigStore.

Each YAML file of ``conf/data``, ``conf/model``, ``conf/evaluation`` and ``conf/backend``
starts from one of these dataclasses through its ``defaults:`` list (the documented Hydra
pattern: a schema node in the same group, then ``_self_``).  The schemas hold the keys and
their types only; the values live in one place, the YAML files (every field is ``???``
until a YAML sets it).  So a misspelled key (``data.sigma_wroker=1``) or a value of the wrong
type (``data.n_workers=abc``) fails while Hydra composes the config, and a key added with
``+`` (which Hydra's ``force_add`` lets through) is caught by :func:`unknown_keys` at start-up.
The root config is not typed (it stays open to new config groups): its keys are checked by
:func:`unknown_keys` against :func:`root_keys`, its run-wide values by :func:`check_root_types`.

Schema nodes are named ``_<family>_schema`` and YAML bases ``_<family>``: names starting with
``_`` are not selectable configs (:func:`evaluation.config.backend_names` skips them).

A leaf of the layers (imports no project module): ``evaluation.config`` and the app use it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import MISSING, DictConfig, OmegaConf


# ----------------------------------------------------------------------------------- data
@dataclass
class PaperData:
    """``data=paper``: the synthetic twin's knobs (``make_paper_twin``) and the split."""

    kind: str = MISSING
    name: str = MISSING
    n_worksites: int = MISSING
    n_workers: int = MISSING
    sigma_worker: float = MISSING
    sigma_site: float | None = MISSING
    n_clusters: int = MISSING
    cluster_separation: float = MISSING
    prevalence: float = MISSING
    site_scale: float = MISSING
    design: str = MISSING
    seed: int = MISSING
    test_fraction: float = MISSING
    split: str = MISSING


@dataclass
class TablesData:
    """``data=tables`` and ``data=paper_tables``: two tables, their columns and recipes.

    ``unit_features`` / ``group_features`` are ``Any``: a mapping column -> recipe, a list
    of columns (each taken as it is) or null; :func:`evaluation.config.feature_mapping`
    turns them into the mapping the data layer reads.
    """

    kind: str = MISSING
    name: str = MISSING
    units_path: str = MISSING
    groups_path: str = MISSING
    format: str = MISSING
    outcome: str = MISSING
    group_id: str = MISSING
    unit_features: Any = MISSING
    group_features: Any = MISSING
    test_fraction: float = MISSING
    split: str = MISSING
    seed: int = MISSING


@dataclass
class PublicTablesData(TablesData):
    """A ``tables`` config whose two tables come, in memory, from a data set shipped in a
    package (``source``, e.g. ``mlmRev/Contraception``: :mod:`evaluation.data.public`);
    ``units_path`` / ``groups_path`` are null."""

    source: str = MISSING
    units_path: str | None = None
    groups_path: str | None = None


# ---------------------------------------------------------------------------------- model
@dataclass
class Priors:
    """Prior scales of the hierarchical model (``backends.spec.Priors``)."""

    alpha_scale: float = MISSING
    sigma_site_scale: float = MISSING
    sigma_worker_scale: float = MISSING


@dataclass
class Model:
    """``model=``: parameterisation and priors."""

    parameterization: str = MISSING
    priors: Priors = field(default_factory=Priors)


# ----------------------------------------------------------------------------- evaluation
@dataclass
class Clustering:
    """``evaluation.clustering``: the paper's Gibbs GMM and its stability checks."""

    enabled: bool = MISSING
    k: Any = MISSING  # an int, or "auto"
    sigma: float = MISSING
    sigma_is: str = MISSING  # "sd" | "variance": how sigma is read
    alpha0: float = MISSING
    eta: float = MISSING
    n_iter: int = MISSING
    burn_in: int = MISSING
    standardize: bool = MISSING
    n_seeds: int = MISSING
    n_draws: int = MISSING
    draw_restarts: int = MISSING
    k_range: list[int] | None = MISSING
    k_chains: int = MISSING
    stability_threshold: float = MISSING
    bic: bool = MISSING
    seed: int = MISSING


@dataclass
class Evaluation:
    """``evaluation=``: how every run is judged."""

    reference: str | None = MISSING
    reference_overrides: dict[str, Any] = MISSING
    sigma_eps: float = MISSING
    calibration_bins: int = MISSING
    figures: bool = MISSING
    divergence_warn_fraction: float = MISSING
    psis_resample: bool = MISSING
    clustering: Clustering = field(default_factory=Clustering)


# ------------------------------------------------------------------------------- backends
@dataclass
class PyroVI:
    """Pyro SVI (``backends.pyro.PyroSVI``): pyro_meanfield, pyro_fullrank."""

    _target_: str = MISSING
    name: str = MISSING
    guide: str = MISSING
    num_steps: int = MISSING
    lr: float = MISSING
    lr_decay: float = MISSING
    optimizer: str = MISSING
    clip_norm: float = MISSING
    num_draws: int = MISSING
    num_particles: int = MISSING
    jit: bool = MISSING
    init_scale: float = MISSING
    init_sigma: float | None = MISSING
    log_every: int = MISSING
    convergence_window: int = MISSING
    convergence_rtol: float = MISSING
    stop_at_convergence: bool = MISSING
    dtype: str = MISSING
    num_threads: int | None = MISSING
    progress: bool = MISSING


@dataclass
class PyroLowRank(PyroVI):
    """Pyro SVI with the low-rank guide: PyroVI plus ``rank``."""

    rank: int | None = MISSING


@dataclass
class PyroFlow(PyroVI):
    """Pyro SVI with the normalizing-flow guide (AutoIAFNormal): PyroVI plus the flow's size."""

    num_transforms: int = MISSING
    hidden_dim: int | None = MISSING


@dataclass
class PyMCVI:
    """PyMC ADVI (``backends.pymc.PyMCADVI``): pymc_meanfield, pymc_fullrank."""

    _target_: str = MISSING
    name: str = MISSING
    method: str = MISSING
    num_steps: int = MISSING
    lr: float = MISSING
    lr_decay: float = MISSING
    num_draws: int = MISSING
    obj_n_mc: int = MISSING
    convergence_window: int = MISSING
    convergence_rtol: float = MISSING
    stop_at_convergence: bool = MISSING
    progress: bool = MISSING


@dataclass
class PyMCNUTS:
    """PyMC NUTS (``backends.pymc.PyMCNUTS``): pymc_nuts."""

    _target_: str = MISSING
    name: str = MISSING
    chains: int = MISSING
    tune: int = MISSING
    draws: int = MISSING
    target_accept: float = MISSING
    max_treedepth: int = MISSING
    cores: int | None = MISSING
    sampler: str = MISSING
    nutpie: dict[str, Any] = MISSING  # any nutpie.sample setting
    init: str = MISSING
    max_divergence_fraction: float = MISSING
    progress: bool = MISSING


@dataclass
class StanVI:
    """CmdStan ADVI (``backends.stan.StanMeanField`` / ``StanFullRank``)."""

    _target_: str = MISSING
    name: str = MISSING
    num_steps: int = MISSING
    lr: float | None = MISSING
    lr_decay: float | None = MISSING
    num_draws: int = MISSING
    tol_rel_obj: float = MISSING
    grad_samples: int = MISSING
    elbo_samples: int = MISSING
    eval_elbo: int = MISSING
    adapt_iter: int = MISSING
    progress: bool = MISSING


@dataclass
class StanNUTS:
    """CmdStan NUTS (``backends.stan.StanNUTS``): stan_nuts."""

    _target_: str = MISSING
    name: str = MISSING
    chains: int = MISSING
    tune: int = MISSING
    draws: int = MISSING
    target_accept: float = MISSING
    max_treedepth: int = MISSING
    parallel_chains: int | None = MISSING
    progress: bool = MISSING


@dataclass
class StanPathfinder:
    """CmdStan Pathfinder (``backends.stan.StanPathfinder``): stan_pathfinder."""

    _target_: str = MISSING
    name: str = MISSING
    num_paths: int = MISSING
    num_draws: int = MISSING
    max_lbfgs_iters: int = MISSING
    num_elbo_draws: int = MISSING
    progress: bool = MISSING


@dataclass
class PyMCPathfinder:
    """pymc-extras Pathfinder (``backends.pymc.PyMCPathfinder``): pymc_pathfinder."""

    _target_: str = MISSING
    name: str = MISSING
    num_paths: int = MISSING
    num_draws: int = MISSING
    num_draws_per_path: int = MISSING
    maxiter: int = MISSING
    num_elbo_draws: int = MISSING
    jitter: float = MISSING
    importance_sampling: str = MISSING
    init: str = MISSING
    progress: bool = MISSING


@dataclass
class PyMCDADVI:
    """DADVI objective (``backends.pymc.PyMCDADVI``): pymc_dadvi, pymc_dadvi_lr."""

    _target_: str = MISSING
    name: str = MISSING
    n_fixed_draws: int = MISSING
    num_draws: int = MISSING
    maxiter: int = MISSING
    init_log_sd: float = MISSING
    lr_covariance: bool = MISSING
    progress: bool = MISSING


# ------------------------------------------------------------------------------- the root
@dataclass
class RunSettings:
    """The run-wide keys of the root config (``conf/config.yaml``) besides its groups.

    Not registered: the root stays open to config groups (each directory of ``conf/`` is
    one, e.g. a new ``claims`` group); :func:`unknown_keys` checks the root against these
    fields plus the group names, :func:`check_root_types` their types.
    """

    seed: int = MISSING
    force: bool = MISSING
    backend_overrides: dict[str, Any] = MISSING


#: (group, ConfigStore name) -> schema.  The YAML files name these in their defaults list.
SCHEMAS: dict[tuple[str, str], type] = {
    ("data", "_paper_schema"): PaperData,
    ("data", "_tables_schema"): TablesData,
    ("data", "_public_tables_schema"): PublicTablesData,
    ("model", "_model_schema"): Model,
    ("evaluation", "_evaluation_schema"): Evaluation,
    ("backend", "_pyro_vi_schema"): PyroVI,
    ("backend", "_pyro_lowrank_schema"): PyroLowRank,
    ("backend", "_pymc_vi_schema"): PyMCVI,
    ("backend", "_pymc_nuts_schema"): PyMCNUTS,
    ("backend", "_stan_vi_schema"): StanVI,
    ("backend", "_stan_nuts_schema"): StanNUTS,
    ("backend", "_stan_pathfinder_schema"): StanPathfinder,
    ("backend", "_pymc_pathfinder_schema"): PyMCPathfinder,
    ("backend", "_pymc_dadvi_schema"): PyMCDADVI,
    ("backend", "_pyro_flow_schema"): PyroFlow,
}
#: The backend families (one schema each).
BACKEND_SCHEMAS: tuple[type, ...] = tuple(s for (g, _), s in SCHEMAS.items() if g == "backend")


def register() -> None:
    """Store every schema in Hydra's ConfigStore (idempotent; needed before composing)."""
    from hydra.core.config_store import ConfigStore

    store = ConfigStore.instance()
    for (group, name), node in SCHEMAS.items():
        store.store(group=group, name=name, node=node)


def keys_of(schema: type) -> list[str]:
    """The keys a schema accepts, in declaration order."""
    return [f.name for f in dataclasses.fields(schema)]


def backend_keys() -> set[str]:
    """Every setting some backend family has (``_target_`` excluded)."""
    return {k for s in BACKEND_SCHEMAS for k in keys_of(s)} - {"_target_"}


def unknown_keys(
    node: Any, prefix: str = "", accepted: Iterable[str] | None = None
) -> list[tuple[str, list[str]]]:
    """Keys of ``node`` its schema does not declare, as (full key, the keys it accepts).

    Walks every sub-node typed by a dataclass (a ``+key=value`` override is let through by
    Hydra's composition and lands here); untyped sub-nodes (``nutpie``,
    ``reference_overrides``, the feature mappings) are free-form and not checked.
    ``accepted`` declares the keys of an untyped ``node`` (the root: see
    :func:`root_keys`).
    """
    if not isinstance(node, DictConfig):
        return []
    found: list[tuple[str, list[str]]] = []
    kind = OmegaConf.get_type(node)
    declared = keys_of(kind) if dataclasses.is_dataclass(kind) else accepted
    declared = None if declared is None else list(declared)
    for key in node.keys():
        full = f"{prefix}{key}"
        if declared is not None and key not in declared:
            found.append((full, sorted(k for k in declared if not k.startswith("_"))))
            continue
        found += unknown_keys(node._get_node(key), f"{full}.")
    return found


def root_keys(conf_dir: Path) -> list[str]:
    """The keys the root config accepts: :class:`RunSettings` and every config group."""
    groups = [p.name for p in Path(conf_dir).iterdir() if p.is_dir() and p.name != "hydra"]
    return [*keys_of(RunSettings), *sorted(groups), "hydra"]


def check_root_types(cfg: Any) -> str | None:
    """A one-line complaint about a run-wide value of the wrong type, or None."""
    for key, kind in (("seed", int), ("force", bool)):
        value = cfg.get(key)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            return f"{key}={value}: must be {'an integer' if kind is int else 'true or false'}"
    return None


__all__ = [
    "BACKEND_SCHEMAS",
    "SCHEMAS",
    "Clustering",
    "Evaluation",
    "Model",
    "PaperData",
    "Priors",
    "PublicTablesData",
    "PyMCDADVI",
    "PyMCNUTS",
    "PyMCPathfinder",
    "PyMCVI",
    "PyroFlow",
    "PyroLowRank",
    "PyroVI",
    "RunSettings",
    "StanNUTS",
    "StanPathfinder",
    "StanVI",
    "TablesData",
    "backend_keys",
    "check_root_types",
    "keys_of",
    "register",
    "root_keys",
    "unknown_keys",
]
