"""The configuration basics every layer uses: where the configs are, plain dicts of config
nodes, the model spec of a ``model`` config, feature entries of a ``tables`` config, and the
synthetic twin's generator knobs of a ``paper`` data config.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from backends.spec import ModelSpec, Priors

#: The Hydra config directory shipped with the project.
CONF_DIR = Path(__file__).resolve().parents[2] / "conf"
#: Keys of a ``paper`` data config that are not generator knobs (split settings, names).
NON_KNOB_KEYS: frozenset[str] = frozenset({"name", "kind", "test_fraction", "split"})


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


def feature_entries(features: Any) -> Any:
    """A ``data.unit_features`` / ``group_features`` value with bare column names as entries.

    ``[x1, x2]`` (columns taken as they are) becomes ``[{column: x1}, {column: x2}]``, the list
    form :func:`evaluation.data.recipes.parse_features` reads (no recipe = ``as_is``); a
    mapping, null or a list of ``{column: ...}`` entries is returned unchanged.
    """
    if isinstance(features, Sequence) and not isinstance(features, str):
        return [{"column": f} if isinstance(f, str) else f for f in features]
    return features


def generator_knobs(cfg: Mapping) -> dict[str, Any]:
    """The generator knobs of a data config: all keys but split settings and ``_`` keys
    (for ``kind: paper`` they are the parameters of ``make_paper_twin``: the
    :class:`~evaluation.config.schema.PaperData` schema lists them, a test checks it)."""
    return {k: v for k, v in plain(cfg).items()
            if k not in NON_KNOB_KEYS and not str(k).startswith("_")}  # fmt: skip
