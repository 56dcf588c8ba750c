"""Configuration helpers shared by every layer: plain dicts of configs, the model spec, the
backend config with ``backend_overrides`` applied (what the user typed wins), the start-up
checks of backend settings, and backend instantiation.

A low layer: imports only ``backends.spec`` / ``backends.base``, :mod:`evaluation.schema` (and
OmegaConf / Hydra), so ``evaluation.data``, ``evaluation.metrics`` and the app can all use it.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from backends.spec import ModelSpec, Priors
from evaluation import schema

log = logging.getLogger("ppl_compare")


class ConfigError(ValueError):
    """A config the run cannot start with; the message is one line naming the key."""


#: The Hydra config directory shipped with the project.
CONF_DIR = Path(__file__).resolve().parent.parent / "conf"


def plain(node: Any) -> dict[str, Any]:
    """A config node (OmegaConf config, mapping or None) as a plain, resolved dict."""
    if node is None:
        return {}
    from omegaconf import OmegaConf

    if OmegaConf.is_config(node):
        return OmegaConf.to_container(node, resolve=True)  # type: ignore[return-value]
    return dict(node)


def model_spec(cfg_model: Any) -> ModelSpec:
    """The ModelSpec a ``model`` config describes."""
    model = plain(cfg_model)
    priors = model.get("priors") or {}
    return ModelSpec(parameterization=model["parameterization"], priors=Priors(**priors))


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


def feature_entries(features: Any) -> Any:
    """A ``data.unit_features`` / ``group_features`` value with bare column names as entries.

    ``[x1, x2]`` (columns taken as they are) becomes ``[{column: x1}, {column: x2}]``, the list
    form :func:`evaluation.data.recipes.parse_features` reads (no recipe = ``as_is``); a
    mapping, null or a list of ``{column: ...}`` entries is returned unchanged.
    """
    if isinstance(features, Sequence) and not isinstance(features, str):
        return [{"column": f} if isinstance(f, str) else f for f in features]
    return features


def instantiate_backend(backend_cfg: Any, spec: ModelSpec) -> Any:
    """Build a backend from its config (``_target_`` + settings) for model ``spec``."""
    import hydra

    # ModelSpec goes in on the call: Hydra would turn a dataclass kwarg into a DictConfig.
    return hydra.utils.instantiate(backend_cfg, _partial_=True, _convert_="all")(model=spec)


def backend_names() -> list[str]:
    """The selectable ``backend=`` configs."""
    return sorted(
        p.stem for p in (CONF_DIR / "backend").glob("*.yaml") if not p.stem.startswith("_")
    )


def compose_backend(name: str, overrides: Mapping[str, Any] | None = None) -> Any:
    """The backend config ``backend=<name>`` composed through Hydra, ``overrides`` merged in.

    Inside a running Hydra app the app's own config search path is used; elsewhere (tests,
    scripts) the project's ``conf/``.

    Raises
    ------
    ValueError
        ``name`` is not a backend config (the message lists them).
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    schema.register()
    if name not in backend_names():
        raise ValueError(
            f"evaluation.reference={name!r} is neither a posterior.nc path nor a "
            f"backend; backends: {', '.join(backend_names())}"
        )
    if GlobalHydra.instance().is_initialized():
        cfg = compose(config_name="config", overrides=[f"backend={name}"])
    else:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose(config_name="config", overrides=[f"backend={name}"])
    backend = OmegaConf.create(plain(cfg.backend))
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


# ----------------------------------------------------------------------------- start-up checks
def check_config(cfg: Any, typed: Iterable[str] = ()) -> dict[str, Any]:
    """The start-up checks of a composed run config; returns the backend settings to use.

    ``typed`` are the backend settings the user typed (:func:`typed_backend_keys`); they win
    over ``backend_overrides`` (a conflict is logged as a warning naming both values), and a
    ``backend_overrides`` key the backend lacks is logged as a warning naming it.

    Raises
    ------
    ConfigError
        One line naming the first unknown key (one a ``+key=`` override added), a missing
        mandatory value, a ``backend_overrides`` key no backend has, a setting the backend
        class does not take, or a backend setting out of range.
    """
    from omegaconf import OmegaConf

    unknown = schema.unknown_keys(cfg, accepted=schema.root_keys(CONF_DIR))
    if unknown:
        key, accepted = unknown[0]
        raise ConfigError(_unknown_key(key, accepted, [k for k, _ in unknown[1:]]))
    wrong = schema.check_root_types(cfg) or _bad_seed(cfg)
    if wrong:
        raise ConfigError(wrong)
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise ConfigError(f"{missing[0]} is required (it is ???); set it, e.g. {missing[0]}=VALUE")
    ref = cfg.evaluation.get("reference")
    if ref and str(ref).endswith(".nc") and not Path(str(ref)).is_file():
        raise ConfigError(f"evaluation.reference={ref}: no such file")
    typed = set(typed)
    overrides = plain(cfg.get("backend_overrides"))
    check_override_keys(overrides)
    backend = apply_backend_overrides(plain(cfg.backend), overrides, typed=typed)
    check_backend_signature(backend)
    from_overrides = {k: "backend_overrides" for k in overrides if k in backend and k not in typed}
    check_backend_values(backend, from_overrides)
    # valid: now name what was ignored or overruled
    return apply_backend_overrides(plain(cfg.backend), overrides, warn=True, typed=typed)


#: The largest seed every library takes (NumPy, PyTorch, PyMC and CmdStan: 2**32 - 1).
MAX_SEED = 2**32 - 1


def _bad_seed(cfg: Any) -> str | None:
    """A one-line complaint naming ``seed`` or ``data.seed`` when out of [0, MAX_SEED]."""
    from omegaconf import OmegaConf

    for key in ("seed", "data.seed"):
        value = OmegaConf.select(cfg, key, default=None)
        integer = isinstance(value, int) and not isinstance(value, bool)
        if value is not None and not (integer and 0 <= value <= MAX_SEED):
            return f"{key}={value}: must be an integer in [0, {MAX_SEED}]"
    return None


def _unknown_key(key: str, accepted: Iterable[str], more: Sequence[str] = ()) -> str:
    parent = key.rpartition(".")[0] or "the config"
    also = f" (and {', '.join(more)})" if more else ""
    return f"unknown config key {key}{also}; {parent} accepts: {', '.join(accepted)}"


def first_line(text: object) -> str:
    """The first non-blank line of ``str(text)``."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else type(text).__name__


def _unknown_key_line(exc: BaseException, cause: Any) -> str:
    """One line for an OmegaConf error raised while applying an override."""
    full_key = str(getattr(cause, "full_key", "") or "")
    object_type = getattr(cause, "object_type", None)
    if "not in" in str(cause) and full_key and dataclasses.is_dataclass(object_type):
        accepted = sorted(k for k in schema.keys_of(object_type) if not k.startswith("_"))
        return _unknown_key(full_key, accepted)
    lines = [line.strip().rstrip(".") for line in str(exc).splitlines() if line.strip()]
    return "; ".join([f"{lines[0]}: {first_line(cause)}", *lines[1:]])


def error_line(exc: BaseException) -> str | None:
    """The one line to show for an error raised while Hydra composes or sets up a job.

    Hydra's config errors (an unknown option or key, a bad value or override) and a file
    system error (an unwritable run dir, e.g. Hydra's "Unable to configure handler 'file'")
    become one line naming the key or path; None for any other error (a bug, shown with its
    traceback by the caller).
    """
    from hydra.errors import HydraException, MissingConfigException, OverrideParseException
    from omegaconf.errors import OmegaConfBaseException

    if isinstance(exc, MissingConfigException):
        options = [str(o) for o in (exc.options or []) if not str(o).startswith("_")]
        return first_line(exc) + (f"; available: {', '.join(options)}" if options else "")
    if isinstance(exc, OverrideParseException):
        return f"cannot parse override {exc.override!r}: {first_line(exc)}"
    if isinstance(exc, HydraException | OmegaConfBaseException):
        cause = exc.__cause__
        if isinstance(cause, OmegaConfBaseException):
            return _unknown_key_line(exc, cause)
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        return ": ".join(lines[:2]) if lines else type(exc).__name__
    if (line := yaml_error_line(exc)) is not None:
        return line
    seen: BaseException | None = exc
    while seen is not None and not isinstance(seen, OSError):
        seen = seen.__cause__ or seen.__context__
    if isinstance(seen, OSError) and seen.filename:
        return cannot_write(seen.filename, seen)
    return None


def yaml_error_line(exc: BaseException) -> str | None:
    """One line for a YAML file that cannot be read (bad syntax, or a tag such as
    ``!!python/object`` that safe loading refuses), naming the file and line; else None."""
    import yaml

    if not isinstance(exc, yaml.YAMLError):
        return None
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f"{mark.name}, line {mark.line + 1}" if mark is not None else "a YAML file"
    problem = getattr(exc, "problem", None) or first_line(exc)
    tags = " (only plain YAML is read: no Python tags)" if "constructor" in problem else ""
    return f"cannot read {where}: {problem}{tags}"


def cannot_write(path: object, exc: OSError) -> str:
    """One line: ``path`` cannot be written, why, and the fix."""
    return (
        f"cannot write to {path} ({exc.strerror or exc}): make it writable, or choose another "
        "run dir with hydra.run.dir=DIR (hydra.sweep.dir=DIR for a sweep)"
    )
