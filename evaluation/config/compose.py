"""Composing the project's configs without a command line: the root config with one group
choice (``backend=pymc_nuts``, ``data=paper``, ``claims=paper``), as the app would see it.

Used by the Python API (:mod:`evaluation.api`) and by the reference posterior's config
(:func:`evaluation.config.backends.compose_backend`).
"""

from __future__ import annotations

from typing import Any

from evaluation.config import schema
from evaluation.config.core import CONF_DIR


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
