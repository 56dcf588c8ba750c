"""Structured configs: the schema of every config group, registered in Hydra's ConfigStore.

Each YAML file of ``conf/data``, ``conf/model``, ``conf/evaluation`` and ``conf/backend``
starts from one of these schemas through its ``defaults:`` list (the documented Hydra
pattern: a schema node in the same group, then ``_self_``), so a misspelled key
(``data.sigma_wroker=1``) or a value of the wrong type (``data.n_workers=abc``) fails while
Hydra composes the config, and a key added with ``+`` (which Hydra's ``force_add`` lets
through) is caught by :func:`unknown_keys` at start-up.  The root config is not typed (it
stays open to new config groups): its keys are checked by :func:`unknown_keys` against
:func:`root_keys`, its run-wide values by :func:`check_root_types`.

Where the values live: for data, model and evaluation the schemas hold keys and types only
(every field ``???``) and the values live in the YAML files; a backend's schema is derived from
its class's ``__init__`` signature (:func:`backend_schema`: keys, types and defaults, one
source), so its YAML file (``defaults: [_<ClassName>, _self_]``) holds only the name, the
``_target_`` and what differs from the class's defaults.

Schema nodes are named ``_<family>_schema`` (``_<ClassName>`` for a backend) and YAML bases
``_<family>``: names starting with ``_`` are not selectable configs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import MISSING, DictConfig, OmegaConf

from evaluation.config.core import CONF_DIR


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


@dataclass
class SourceFit:
    """How a posterior world's source posterior is fitted (once, then cached): a backend
    (NUTS), its settings (``chains``, ``tune``, ``draws``, ...) and the fit's seed."""

    backend: str = MISSING
    seed: int = MISSING
    settings: dict[str, Any] = MISSING


@dataclass
class PosteriorWorldData:
    """``data=posterior_world`` (and ``world_*``): outcomes simulated on a real design at one
    draw of its posterior (:mod:`evaluation.data.posterior_world`).

    ``source`` names a ``conf/data`` config (the real data), ``source_overrides`` changes its
    keys; ``source_fit`` is the posterior's fit, cached under ``cache_dir``; ``seed`` picks
    the draw and the outcomes; ``test_fraction`` and ``split`` are the split rule (its rows
    are the source's: the source's seed picks them).
    """

    kind: str = MISSING
    name: str = MISSING
    source: str = MISSING
    source_overrides: Any = MISSING  # a mapping; Any: `data.source_overrides={...}` replaces it
    source_fit: SourceFit = field(default_factory=SourceFit)
    cache_dir: str = MISSING
    seed: int = MISSING
    test_fraction: float = MISSING
    split: str = MISSING


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
    posterior_dtype: str = MISSING
    posterior_draws: int | None = MISSING
    clustering: Clustering = field(default_factory=Clustering)


# ------------------------------------------------------------------------------- the root
@dataclass
class RunSettings:
    """The run-wide keys of the root config (``conf/config.yaml``) besides its groups.

    Not registered: the root stays open to config groups (each directory of ``conf/`` is
    one, e.g. a new ``claims`` group); :func:`unknown_keys` checks the root against these
    fields plus the group names, :func:`check_root_types` their types.
    """

    seed: int = MISSING
    repeat: int = MISSING
    force: bool = MISSING
    backend_overrides: dict[str, Any] = MISSING


#: (group, ConfigStore name) -> schema of the data, model and evaluation groups (the backend
#: group's are derived from the backend classes: :func:`backend_schemas`).
SCHEMAS: dict[tuple[str, str], type] = {
    ("data", "_paper_schema"): PaperData,
    ("data", "_tables_schema"): TablesData,
    ("data", "_public_tables_schema"): PublicTablesData,
    ("data", "_posterior_world_schema"): PosteriorWorldData,
    ("model", "_model_schema"): Model,
    ("evaluation", "_evaluation_schema"): Evaluation,
}


# ------------------------------------------------------------------------------- backends
def backend_classes(conf_dir: Path | None = None) -> dict[str, type]:
    """Every backend class a ``conf/backend`` YAML file names (``_target_``), by class name.

    Importing a backend class imports no PPL (they are imported inside ``fit``).
    """
    import importlib

    import yaml

    out: dict[str, type] = {}
    for path in sorted(Path(conf_dir or CONF_DIR, "backend").glob("*.yaml")):
        target = (yaml.safe_load(path.read_text()) or {}).get("_target_")
        if target:
            module, _, name = str(target).rpartition(".")
            out[name] = getattr(importlib.import_module(module), name)
    return out


def _omegaconf_type(hint: Any) -> Any:
    """The OmegaConf-supported type of a signature annotation (Any when it has none): a
    union with None stays nullable; a mapping is a dict of anything."""
    import types
    import typing

    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        base = _omegaconf_type(args[0]) if len(args) == 1 else (str if str in args else Any)
        return base if base is Any else base | None
    if hint in (int, float, bool, str):
        return hint
    if hint in (dict, Mapping) or typing.get_origin(hint) in (dict, Mapping):
        return dict[str, Any]
    return Any


def _default(value: Any) -> Any:
    """A dataclass field holding a signature default (``???`` for a parameter without one)."""
    import inspect

    if value is inspect.Parameter.empty:
        return field(default=MISSING)
    if isinstance(value, Mapping):
        return field(default_factory=lambda v=dict(value): dict(v))
    return field(default=value)


def backend_schema(cls: type) -> type:
    """The structured config of a backend class: one field per ``__init__`` parameter (but
    ``model``) with its type and default, and ``_target_`` (the one source of a backend's
    settings is its signature; its YAML file holds what differs)."""
    import inspect
    import typing

    hints = typing.get_type_hints(cls.__init__)
    fields: list[tuple[str, Any, Any]] = [("_target_", str, field(default=MISSING))]
    for name, p in inspect.signature(cls.__init__).parameters.items():
        if name not in ("self", "model") and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            fields.append((name, _omegaconf_type(hints.get(name, Any)), _default(p.default)))
    return dataclasses.make_dataclass(f"{cls.__name__}Settings", fields)


def backend_schemas() -> dict[str, type]:
    """``_<ClassName>`` (the ConfigStore name a backend YAML starts from) -> its schema."""
    return {f"_{name}": backend_schema(cls) for name, cls in backend_classes().items()}


def register() -> None:
    """Store every schema in Hydra's ConfigStore (idempotent; needed before composing)."""
    from hydra.core.config_store import ConfigStore

    store = ConfigStore.instance()
    for (group, name), node in SCHEMAS.items():
        store.store(group=group, name=name, node=node)
    for name, node in backend_schemas().items():
        store.store(group="backend", name=name, node=node)


def keys_of(schema: type) -> list[str]:
    """The keys a schema accepts, in declaration order."""
    return [f.name for f in dataclasses.fields(schema)]


def backend_keys() -> set[str]:
    """Every setting some backend class takes (``_target_`` excluded)."""
    return {k for s in backend_schemas().values() for k in keys_of(s)} - {"_target_"}


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
    for key, kind in (("seed", int), ("repeat", int), ("force", bool)):
        value = cfg.get(key)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            return f"{key}={value}: must be {'an integer' if kind is int else 'true or false'}"
    return None


__all__ = [
    "SCHEMAS",
    "Clustering",
    "Evaluation",
    "Model",
    "PaperData",
    "PosteriorWorldData",
    "Priors",
    "PublicTablesData",
    "RunSettings",
    "SourceFit",
    "TablesData",
    "backend_classes",
    "backend_keys",
    "backend_schema",
    "backend_schemas",
    "check_root_types",
    "keys_of",
    "register",
    "root_keys",
    "unknown_keys",
]
