"""The Python API's argument checks: a wrong kind of argument is a TypeError, a wrong value a
ValueError, each one line naming the argument (never an error from deep inside a library)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from backends.base import FitResult
from evaluation.config import MAX_SEED


def shown(value: Any) -> str:
    """A value as an error message names it: None, a short string, else its type."""
    if value is None:
        return "None"
    if isinstance(value, str):
        return f"the string {value[:60]!r}"
    return f"a {type(value).__name__}"


def require(value: Any, kinds: type | tuple[type, ...], name: str, what: str) -> None:
    """TypeError naming ``name`` unless ``value`` is one of ``kinds`` (``what`` says which)."""
    if not isinstance(value, kinds):
        raise TypeError(f"{name}: expected {what}, got {shown(value)}")


def check_seed(seed: Any, name: str = "seed") -> int:
    """``seed`` as an int in [0, :data:`~evaluation.config.MAX_SEED`] (ValueError otherwise)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"{name}={seed!r}: must be an integer in [0, {MAX_SEED}]")
    return int(seed)


def check_backend(backend: Any) -> None:
    """A backend argument: a name or a composed config (TypeError otherwise)."""
    require(backend, (str, Mapping), "backend", "a backend name (api.backend_names()) or config")


def reference_posterior(reference: Any) -> Any:
    """The InferenceData of a ``reference`` argument of :func:`evaluation.api.judge` (None,
    a FitResult, an InferenceData, or a ``(idata, check)`` pair such as a Reference)."""
    if reference is None:
        return None
    if isinstance(reference, str | Path):
        raise TypeError(f"reference: expected a fitted reference, got {shown(str(reference))}; "
                        f"api.reference(data, {str(reference)!r}) fits (or reads) one")  # fmt: skip
    if isinstance(reference, FitResult):
        return reference.idata
    if isinstance(reference, tuple) and reference and hasattr(reference[0], "posterior"):
        return reference[0]
    if hasattr(reference, "posterior"):
        return reference
    raise TypeError(f"reference: expected a FitResult, an InferenceData or an api.Reference, "
                    f"got {shown(reference)}")  # fmt: skip


def require_claims(metrics: Mapping[str, Any], name: str) -> None:
    """ValueError naming ``name`` when a judgement's metrics hold no claims."""
    if not (metrics.get("claims") or {}).get("claims"):
        raise ValueError(f"{name}: judged without claims (claims=None, or no ledger named like "
                         "its data); judge it with claims=LEDGER")  # fmt: skip
