"""One room for configuration: schemas, validation, ranges, the reference config and the
generator's knobs.

- :mod:`~evaluation.config.core`: where the configs are, plain dicts, the model spec, feature
  entries, the twin's generator knobs;
- :mod:`~evaluation.config.schema`: the structured configs of every group (a backend's derived
  from its class's signature) and their registration in Hydra;
- :mod:`~evaluation.config.backends`: a backend's settings (compose, overrides, reference,
  ranges, checks against the class, instantiation);
- :mod:`~evaluation.config.checks`: the start-up checks of a run config (keys, types, seeds,
  the claims ledger chosen);
- :mod:`~evaluation.config.errors`: config errors as one line.

A low layer: imports only ``backends.spec`` (and Hydra / OmegaConf); every other package of
``evaluation`` may use it.  The names below are its interface.
"""

from evaluation.config.backends import (
    RANGES,
    apply_backend_overrides,
    backend_config,
    backend_names,
    check_backend_signature,
    check_backend_values,
    check_override_keys,
    compose_backend,
    instantiate_backend,
    reference_cache,
    reference_config,
    typed_backend_keys,
)
from evaluation.config.checks import MAX_SEED, check_claims_choice, check_config, claims_ledgers
from evaluation.config.compose import compose_error
from evaluation.config.core import (
    CONF_DIR,
    feature_entries,
    generator_knobs,
    model_spec,
    plain,
)
from evaluation.config.errors import (
    ConfigError,
    cannot_write,
    error_line,
    first_line,
    unknown_key,
    yaml_error_line,
)

__all__ = [
    "CONF_DIR",
    "MAX_SEED",
    "RANGES",
    "ConfigError",
    "apply_backend_overrides",
    "backend_config",
    "backend_names",
    "cannot_write",
    "check_backend_signature",
    "check_backend_values",
    "check_claims_choice",
    "check_config",
    "check_override_keys",
    "claims_ledgers",
    "compose_backend",
    "compose_error",
    "error_line",
    "feature_entries",
    "first_line",
    "generator_knobs",
    "instantiate_backend",
    "model_spec",
    "plain",
    "reference_cache",
    "reference_config",
    "typed_backend_keys",
    "unknown_key",
    "yaml_error_line",
]
