"""Configuration helpers shared by every layer: plain dicts of configs, the model spec, the
backend config with ``backend_overrides`` applied, and backend instantiation.

A low layer: imports only ``backends.spec`` / ``backends.base`` (and OmegaConf / Hydra), so
``evaluation.data``, ``evaluation.metrics`` and the app can all use it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from backends.spec import ModelSpec, Priors

log = logging.getLogger("ppl_compare")
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


def apply_backend_overrides(
    backend: Mapping[str, Any], overrides: Mapping[str, Any] | None, *, warn: bool = False
) -> dict[str, Any]:
    """``backend`` with the ``backend_overrides`` it has a key for.

    A key the backend lacks is left out (one preset such as ``debug=fast`` shortens VI and
    NUTS alike); with ``warn`` it is named in a warning, never dropped silently.
    """
    out = dict(backend)
    overrides = dict(overrides or {})
    out.update({k: v for k, v in overrides.items() if k in out})
    ignored = sorted(k for k in overrides if k not in out)
    if warn and ignored:
        log.warning(
            "backend_overrides: %s has no %s; ignored for this backend",
            out.get("name", "the backend"),
            ", ".join(ignored),
        )
    return out


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
