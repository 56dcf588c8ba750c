"""A backend's settings: the selectable configs, composing one (also the reference's),
``backend_overrides`` (what the user typed wins), the checks of keys and ranges against the
backend class, and instantiation.

One source for a backend's settings: its class's ``__init__`` signature (names, types,
defaults), from which :mod:`evaluation.config.schema` derives the structured config its YAML
file starts from; the YAML file holds only what differs from the class's defaults.
"""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from backends.spec import ModelSpec
from evaluation.config import schema
from evaluation.config.compose import choices, compose_choice
from evaluation.config.core import plain
from evaluation.config.errors import ConfigError

log = logging.getLogger("ppl_compare")


def typed_backend_keys(task_overrides: Iterable[str]) -> set[str]:
    """The backend settings the user typed, e.g. ``{"num_steps"}`` for ``backend.num_steps=50``.

    ``task_overrides`` are the job's command-line overrides (``HydraConfig.get().overrides
    .task``, or a run's ``.hydra/overrides.yaml``); ``+``/``++`` forms count, deletions and
    group choices (``backend=pymc_nuts``) do not.
    """
    keys = set()
    for text in task_overrides:
        key = str(text).split("=", 1)[0].lstrip("+")
        if key.startswith("backend.") and "=" in str(text):
            keys.add(key.split(".")[1])
    return keys


def apply_backend_overrides(
    backend: Mapping[str, Any],
    overrides: Mapping[str, Any] | None,
    *,
    warn: bool = False,
    typed: Iterable[str] = (),
) -> dict[str, Any]:
    """``backend`` with the ``backend_overrides`` it has a key for.

    A key the backend lacks is left out (one preset such as ``debug=fast`` shortens VI and
    NUTS alike); with ``warn`` it is named in a warning, never dropped silently.  A setting
    the user typed on the command line (``typed``, see :func:`typed_backend_keys`) wins over
    an override; with ``warn`` a conflict is a warning naming both values.
    """
    out = dict(backend)
    overrides = dict(overrides or {})
    typed = set(typed)
    for key, value in overrides.items():
        if key not in out:
            continue
        if key in typed:
            if warn and out[key] != value:
                log.warning(
                    "backend.%s=%s (command line) wins over backend_overrides.%s=%s",
                    key, out[key], key, value,
                )  # fmt: skip
            continue
        out[key] = value
    ignored = sorted(k for k in overrides if k not in out)
    if warn and ignored:
        log.warning(
            "backend_overrides: %s has no %s; ignored for this backend",
            out.get("name", "the backend"),
            ", ".join(ignored),
        )
    return out


def check_override_keys(overrides: Mapping[str, Any] | None) -> None:
    """Refuse a ``backend_overrides`` key that no backend family has (a typo).

    Raises
    ------
    ConfigError
        One line naming the key(s) and the settings backends have.
    """
    unknown = sorted(set(overrides or {}) - schema.backend_keys())
    if unknown:
        raise ConfigError(
            f"backend_overrides.{unknown[0]}: no backend has this setting"
            + (f" (nor {', '.join(unknown[1:])})" if unknown[1:] else "")
            + f"; backend settings: {', '.join(sorted(schema.backend_keys()))}"
        )


class _Range(NamedTuple):
    """The values a numeric backend setting may take."""

    kind: str  # "integer" | "number"
    low: float
    high: float = math.inf
    low_open: bool = False  # low itself excluded
    high_open: bool = True  # high itself excluded (always for inf)
    nullable: bool = False  # null allowed (a library default)

    def text(self) -> str:
        if math.isinf(self.high):
            article = "an" if self.kind == "integer" else "a"
            return f"{article} {self.kind} {'>' if self.low_open else '>='} {self.low:g}"
        left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
        return f"a {self.kind} in {left}{self.low:g}, {self.high:g}{right}"

    def holds(self, value: Any) -> bool:
        if value is None:
            return self.nullable
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        v = float(value)
        if self.kind == "integer" and not v.is_integer():
            return False
        above = v > self.low if self.low_open else v >= self.low
        return above and (v < self.high if self.high_open else v <= self.high)


_COUNTS = (
    "num_steps num_draws chains draws num_particles log_every convergence_window obj_n_mc "
    "max_treedepth num_paths max_lbfgs_iters num_elbo_draws grad_samples elbo_samples "
    "eval_elbo adapt_iter draw_batch"
).split()

#: Numeric backend settings and their ranges; any backend having the key is checked.
RANGES: dict[str, _Range] = {
    **{k: _Range("integer", 1) for k in _COUNTS},
    **{k: _Range("integer", 1, nullable=True) for k in ("rank", "num_threads", "cores")},
    "parallel_chains": _Range("integer", 1, nullable=True),
    "tune": _Range("integer", 0),
    "lr": _Range("number", 0, low_open=True, nullable=True),
    "lr_decay": _Range("number", 0, 1, low_open=True, high_open=False, nullable=True),
    "clip_norm": _Range("number", 0, low_open=True),
    "init_scale": _Range("number", 0, low_open=True),
    "init_sigma": _Range("number", 0, low_open=True, nullable=True),
    "convergence_rtol": _Range("number", 0, low_open=True),
    "tol_rel_obj": _Range("number", 0, low_open=True),
    "target_accept": _Range("number", 0, 1, low_open=True),
    "max_divergence_fraction": _Range("number", 0, 1, high_open=False),
}


def check_backend_values(
    settings: Mapping[str, Any], source: Mapping[str, str] | None = None
) -> None:
    """Refuse a numeric backend setting out of its range (``num_steps=-5``, ``lr=0``, ...).

    ``source`` names where a key's value came from (default ``backend``), e.g.
    ``{"num_steps": "backend_overrides"}``, for the message.

    Raises
    ------
    ConfigError
        One line naming the first bad key, its value and the allowed range.
    """
    source = dict(source or {})
    for key, value in settings.items():
        rule = RANGES.get(str(key))
        if rule is not None and not rule.holds(value):
            raise ConfigError(f"{source.get(key, 'backend')}.{key}={value}: must be {rule.text()}")


def check_backend_signature(backend: Mapping[str, Any]) -> None:
    """Refuse a backend setting its class (the ``_target_``) does not take.

    The class's ``__init__`` parameters are the schema of every backend config, also of one
    without a registered dataclass schema.  Skipped when the class cannot be imported (the
    instantiation reports that).

    Raises
    ------
    ConfigError
        One line naming the key and the valid ones.
    """
    import hydra.utils

    target = backend.get("_target_")
    try:
        cls = hydra.utils.get_class(str(target))
    except Exception:  # an unavailable PPL is reported by instantiate_backend
        return
    params = inspect.signature(cls.__init__).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    valid = sorted(set(params) - {"self", "model"})
    unknown = [k for k in backend if not str(k).startswith("_") and k not in valid]
    if unknown:
        raise ConfigError(
            f"backend.{unknown[0]}: not a setting of {backend.get('name', target)} ({target}); "
            f"valid: {', '.join(valid)}"
        )


def instantiate_backend(backend_cfg: Any, spec: ModelSpec) -> Any:
    """Build a backend from its config (``_target_`` + settings) for model ``spec``."""
    import hydra

    # ModelSpec goes in on the call: Hydra would turn a dataclass kwarg into a DictConfig.
    return hydra.utils.instantiate(backend_cfg, _partial_=True, _convert_="all")(model=spec)


def backend_names() -> list[str]:
    """The selectable ``backend=`` configs."""
    return choices("backend")


def compose_backend(name: str, overrides: Mapping[str, Any] | None = None) -> Any:
    """The backend config ``backend=<name>`` composed through Hydra, ``overrides`` merged in.

    Inside a running Hydra app the app's own config search path is used; elsewhere (tests,
    scripts) the project's ``conf/``.

    Raises
    ------
    ValueError
        ``name`` is not a backend config (the message lists them).
    """
    from omegaconf import OmegaConf

    if name not in backend_names():
        raise ValueError(
            f"evaluation.reference={name!r} is neither a posterior.nc path nor a "
            f"backend; backends: {', '.join(backend_names())}"
        )
    backend = OmegaConf.create(plain(compose_choice("backend", name).backend))
    return OmegaConf.merge(backend, dict(overrides or {}))


def backend_config(cfg: Any, typed: Iterable[str] = (), *, warn: bool = False) -> Any:
    """``cfg.backend`` with ``cfg.backend_overrides`` applied to the keys the backend has.

    A setting in ``typed`` (what the user typed on the command line) wins over an override.
    """
    from omegaconf import OmegaConf

    overrides = plain(cfg.get("backend_overrides"))
    backend = apply_backend_overrides(plain(cfg.backend), overrides, warn=warn, typed=typed)
    return OmegaConf.create(backend)


def reference_config(cfg: Any) -> Any:
    """The backend config of ``evaluation.reference`` with its overrides (None when the
    reference is off or a ``posterior.nc`` path)."""
    ref = cfg.evaluation.get("reference")
    if not ref or str(ref).endswith(".nc"):
        return None
    return compose_backend(str(ref), plain(cfg.evaluation.get("reference_overrides")))


def reference_cache(cfg: Any) -> Path:
    """Where reference posteriors (and runs that are the reference) are cached."""
    return Path(cfg.paths.cache_dir) / "reference"
