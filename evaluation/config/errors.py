"""Config errors as one line: the error type, and the one-line message of any error Hydra,
OmegaConf, YAML or the file system raises while a job is composed or set up."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

from evaluation.config import schema


class ConfigError(ValueError):
    """A config the run cannot start with; the message is one line naming the key."""


def unknown_key(key: str, accepted: Iterable[str], more: Sequence[str] = ()) -> str:
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
        return unknown_key(full_key, accepted)
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
