"""The start-up checks of a composed run config: unknown keys, types, seeds, missing values,
the reference, the claims ledger chosen, and the backend's settings."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from evaluation.config import schema
from evaluation.config.backends import (
    apply_backend_overrides,
    check_backend_signature,
    check_backend_values,
    check_override_keys,
)
from evaluation.config.core import CONF_DIR, plain
from evaluation.config.errors import ConfigError, unknown_key

log = logging.getLogger("ppl_compare")


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
        raise ConfigError(unknown_key(key, accepted, [k for k, _ in unknown[1:]]))
    wrong = schema.check_root_types(cfg) or _bad_seed(cfg) or _bad_posterior_file(cfg)
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
#: The most repeats of one fit (``repeat``): 0 is the fit of ``seed``, 1.. are further fits.
MAX_REPEAT = 999


def _bad_seed(cfg: Any) -> str | None:
    """A one-line complaint naming ``seed``, ``data.seed`` or ``repeat`` when out of range."""
    from omegaconf import OmegaConf

    for key in ("seed", "data.seed"):
        value = OmegaConf.select(cfg, key, default=None)
        integer = isinstance(value, int) and not isinstance(value, bool)
        if value is not None and not (integer and 0 <= value <= MAX_SEED):
            return f"{key}={value}: must be an integer in [0, {MAX_SEED}]"
    repeat = OmegaConf.select(cfg, "repeat", default=0)
    if isinstance(repeat, int) and not 0 <= repeat <= MAX_REPEAT:
        return f"repeat={repeat}: must be an integer in [0, {MAX_REPEAT}]"
    return None


#: The float types ``evaluation.posterior_dtype`` may name.
POSTERIOR_DTYPES = ("float64", "float32")


def _bad_posterior_file(cfg: Any) -> str | None:
    """A one-line complaint about ``evaluation.posterior_dtype`` / ``posterior_draws``."""
    ecfg = cfg.get("evaluation") or {}
    dtype, draws = ecfg.get("posterior_dtype", "float64"), ecfg.get("posterior_draws")
    if dtype not in POSTERIOR_DTYPES:
        return f"evaluation.posterior_dtype={dtype}: must be one of {', '.join(POSTERIOR_DTYPES)}"
    if draws is not None and (isinstance(draws, bool) or not isinstance(draws, int) or draws < 4):
        return f"evaluation.posterior_draws={draws}: must be null (all) or an integer >= 4"
    return None


# ----------------------------------------------------------------------------- the claims ledger
def claims_ledgers() -> list[str]:
    """The ledgers ``claims=`` can pick: ``claims/*.yaml`` on the app's config search path."""
    from hydra.core.global_hydra import GlobalHydra

    if GlobalHydra.instance().is_initialized():
        options = GlobalHydra.instance().config_loader().get_group_options("claims")
    else:
        options = [p.stem for p in (CONF_DIR / "claims").glob("*.yaml")]
    return sorted(o for o in options if not o.startswith("_"))


def check_claims_choice(cfg: Any, hc: Any) -> None:
    """Refuse a ``claims=NAME`` that names no ledger (Hydra's optional default skips it), or a
    ledger that holds no claims (``claims=none`` turns claims off).

    The default ledger is the one named like the data set (``claims: ${data}``); a data
    config of one's own without such a ledger runs without claims, with a warning.

    Raises
    ------
    ConfigError
        One line naming the ledger and listing the ledgers there are, or saying it is empty.
    """
    name, data = hc.runtime.choices.get("claims"), hc.runtime.choices.get("data")
    typed = any(str(o).split("=", 1)[0].lstrip("+~") == "claims" for o in hc.overrides.task)
    ledger = cfg.get("claims")
    if ledger is not None and typed and name != "none" and not (ledger.get("claims") or []):
        raise ConfigError(f"claims={name}: the ledger holds no claims (no entries under "
                          "claims:); add some, or claims=none to turn claims off")  # fmt: skip
    if name is None or ledger is not None:
        return
    if name == data and not typed:
        log.warning("no claims ledger named like data=%s: claims are off (claims=NAME picks a "
                    "ledger, claims=none says so)", data)  # fmt: skip
        return
    ledgers = ", ".join(claims_ledgers())
    raise ConfigError(
        f"claims={name}: no such claims ledger; ledgers: {ledgers} (claims=none turns it off)"
    )
