"""Composing the project's configs without a command line: the root config with one group
choice (``backend=pymc_nuts``, ``data=paper``, ``claims=paper``), as the app would see it.

Used by the Python API (:mod:`evaluation.api`), by the reference posterior's config
(:func:`evaluation.config.backends.compose_backend`), and to name the real error behind
Hydra's complaint about a sweep value (:func:`compose_error`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evaluation.config import schema
from evaluation.config.core import CONF_DIR
from evaluation.config.errors import error_line, first_line, unknown_key


def choices(group: str) -> list[str]:
    """The selectable configs of a group (``conf/<group>/*.yaml``; ``_`` files are bases)."""
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml") if not p.stem.startswith("_"))


def compose_choice(group: str, name: str) -> Any:
    """The root config composed with ``<group>=<name>`` (e.g. ``data=paper``).

    Inside a running Hydra app the app's own config search path is used; elsewhere (the
    Python API, tests, scripts) the project's ``conf/``.  Interpolations are left as they are:
    take the group's node and :func:`~evaluation.config.core.plain` it to resolve them
    against the root (``seed: ${seed}``).

    Raises
    ------
    ValueError
        ``name`` is not a config of ``group`` (the message lists them).
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    if name not in choices(group):
        raise ValueError(f"{group}={name!r}: no such config; choose one of "
                         f"{', '.join(choices(group))}")  # fmt: skip
    schema.register()
    overrides = [f"{group}={name}"]
    if GlobalHydra.instance().is_initialized():
        return compose(config_name="config", overrides=overrides)
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def _multirun_config(overrides: Sequence[str]) -> Any:
    """The app's config composed with ``overrides`` as a multirun does (Hydra's node kept,
    sweep values left unexpanded); raises what Hydra raises."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.types import RunMode

    def compose() -> Any:
        return GlobalHydra.instance().hydra.compose_config(
            config_name="config", overrides=list(overrides), run_mode=RunMode.MULTIRUN,
            validate_sweep_overrides=False, with_log_configuration=False,
        )  # fmt: skip

    schema.register()
    if GlobalHydra.instance().is_initialized():
        return compose()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose()


def sweep_params(overrides: Sequence[str]) -> dict[str, str]:
    """The sweeper's own params (``hydra.sweeper.params``: an experiment's sweep) of the config
    composed with ``overrides``, key -> value as written (``range(0,10)``, ``a,b``)."""
    params = _multirun_config(overrides).hydra.sweeper.params or {}
    return {str(k): str(v) for k, v in params.items()}


def compose_error(overrides: Sequence[str]) -> str | None:
    """The one-line error of composing the app's config with ``overrides`` as a multirun
    does, sweep values left unexpanded; None when it composes.

    Hydra decides between a run and a multirun by composing the config first and, when that
    fails, goes on as a single run, so a typo beside a sweep value (``experiment=main
    data.seed=0,1 data.sigma_wroker=1``) is reported as "Ambiguous value for argument
    'data.seed=0,1'"; this composition names the typo instead.
    """
    try:
        cfg = _multirun_config(overrides)
    except Exception as exc:  # any composition error is the user's: one line
        return error_line(exc) or first_line(exc)
    from omegaconf import OmegaConf

    task = OmegaConf.masked_copy(cfg, [str(k) for k in cfg if k != "hydra"])
    unknown = schema.unknown_keys(task, accepted=schema.root_keys(CONF_DIR))  # a +key= typo
    if unknown:
        return unknown_key(unknown[0][0], unknown[0][1], [k for k, _ in unknown[1:]])
    return None
