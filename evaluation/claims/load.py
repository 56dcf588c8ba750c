"""Claims ledgers as configuration: the claim objects, loading and name checks.

A ledger is a mapping (a ``conf/claims/*.yaml`` file or its composed config node)::

    subject: "the paper's {n} conclusions"           # optional: how headlines name them
    outcome: signing                                   # optional: "higher odds of <outcome>"
    thresholds: {credible: 0.95, contradicted: 0.05}   # optional; these are the defaults
    claims:
      - name: ndo_positive          # unique
        kind: sign                  # one of evaluation.claims.kinds.KINDS
        feature: ndo                # the kind's parameters, at the top level of the entry
        direction: positive
        source: "..."               # optional: the sentence of the study it encodes
        statement: "..."            # optional: overrides the generated wording
        counted_with: other_claim   # optional: flips of the two count once (a near-duplicate)

Public API: :class:`Thresholds`, :class:`Claim`, :class:`Ledger`, :func:`load_ledger`,
:func:`parse_claim` and :func:`check_features`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from evaluation.claims import kinds as K
from evaluation.config import plain, yaml_error_line

_ENTRY_KEYS = ("name", "kind", "source", "statement", "counted_with")
_TOP_KEYS = ("thresholds", "claims", "description", "subject", "outcome")


@dataclass(frozen=True)
class Thresholds:
    """Verdict thresholds: credible if P >= credible, contradicted if P <= contradicted."""

    credible: float = 0.95
    contradicted: float = 0.05

    def __post_init__(self) -> None:
        if not 0.0 <= self.contradicted < self.credible <= 1.0:
            raise ValueError(
                "claims.thresholds need 0 <= contradicted < credible <= 1, got "
                f"contradicted={self.contradicted!r}, credible={self.credible!r}"
            )


@dataclass(frozen=True)
class Claim:
    """One checkable statement: ``kind`` with its (validated, defaulted) ``params``."""

    name: str
    kind: str
    params: dict[str, Any]
    source: str | None = None
    statement: str | None = None
    #: Another claim of the ledger this one nearly duplicates: their flips count once.
    counted_with: str | None = None
    #: What the odds are of, in the generated wording (the ledger's ``outcome``, or the data's).
    outcome: str | None = None

    @property
    def text(self) -> str:
        """The statement in plain English (the override, or generated from the params and the
        outcome)."""
        params = {**self.params, "outcome": self.outcome} if self.outcome else self.params
        return self.statement or K.KINDS[self.kind].statement(params)


@dataclass(frozen=True)
class Ledger:
    """The thresholds and the claims of one claims config."""

    thresholds: Thresholds = field(default_factory=Thresholds)
    claims: tuple[Claim, ...] = ()
    description: str | None = None
    #: How headlines name the claims, ``{n}`` the number (e.g. "the paper's {n} conclusions").
    subject: str | None = None
    #: What the odds are of in generated statements (e.g. "signing"); None: the data's outcome.
    outcome: str | None = None

    def for_outcome(self, outcome: str | None) -> Ledger:
        """This ledger with ``outcome`` in the wording of claims that name none (the ledger's
        own ``outcome`` wins)."""
        word = self.outcome or outcome
        if not word:
            return self
        claims = tuple(c if c.outcome else replace(c, outcome=word) for c in self.claims)
        return replace(self, claims=claims)


# ------------------------------------------------------------------------------------------
# Loading and parameter validation
# ------------------------------------------------------------------------------------------
def _names(value: Any, what: str, allow_none: bool = False) -> list[str] | None:
    if value is None and allow_none:
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Sequence) or not items or not all(isinstance(v, str) for v in items):
        raise ValueError(f"{what} must be a name or a non-empty list of names, got {value!r}")
    return list(items)


def _number(value: Any, what: str, low: float, high: float = np.inf, *, strict=True) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value)
    inside = ok and (low < value < high if strict else low <= value < high)
    if not inside:
        bounds = f"({low:g}, {high:g})" if strict else f"[{low:g}, {high:g})"
        raise ValueError(f"{what} must be a number in {bounds}, got {value!r}")
    return float(value)


def _choice(value: Any, what: str, allowed: Sequence[Any]) -> Any:
    if value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(map(str, allowed))}, got {value!r}")
    return value


def _coefficients(value: Any, what: str) -> list[Any]:
    """Worker coefficients: names, or {name: weight} contrasts, in a non-empty list."""
    items = [value] if isinstance(value, str | Mapping) else value
    if not isinstance(items, Sequence) or not items:
        raise ValueError(f"{what} must be a non-empty list of names or contrasts, got {value!r}")
    return [v if isinstance(v, str) else _weights(v, what) for v in items]


def _weights(value: Any, what: str) -> dict[str, float]:
    if not isinstance(value, Mapping) or not value:
        raise ValueError(f"{what} must be a non-empty mapping feature -> number, got {value!r}")
    out = {str(k): _number(v, f"{what}[{k}]", -np.inf) for k, v in value.items()}
    if not any(out.values()):
        raise ValueError(f"{what} must not be all zero")
    return out


def _check_param(kind: str, key: str, value: Any) -> Any:
    """The validated value of parameter ``key`` of a ``kind`` claim."""
    what = f"'{key}'"
    if key in ("feature", "size_feature"):
        if not isinstance(value, str) or not value:
            raise ValueError(f"{what} must be a feature name, got {value!r}")
        return value
    if key in ("features", "among", "larger", "smaller"):
        return _names(value, what, allow_none=key == "among")
    if key == "held_fixed":
        return [] if value in (None, (), []) else _names(value, what)
    if key == "coefficients":
        return _coefficients(value, what)
    if key == "permutation_level":
        if value is None and kind != "cluster_even":
            return None
        return _number(value, what, 0.0, 1.0)
    if key == "weights":
        return _weights(value, what)
    if key == "direction":
        allowed = K.ORDER_DIRECTIONS if kind == "cluster_effect_order" else K.SIGN_DIRECTIONS
        return _choice(value, what, allowed)
    if key == "threshold":
        return _number(value, what, 0.0, strict=kind != "cluster_separates")
    if key == "share":
        return _number(value, what, 0.0, 1.0)
    if key == "k":
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{what} must be an integer >= 1, got {value!r}")
        return value
    if key in ("by_abs", "weighted"):
        return _choice(value, what, (True, False))
    if key == "require":
        return _choice(value, what, K.REQUIRE)
    if key == "parameter":
        return _choice(value, what, K.SCALE_PARAMETERS)
    raise AssertionError(f"no validator for {key}")  # pragma: no cover - registry and code agree


def parse_claim(entry: Mapping[str, Any], names_seen: Sequence[str] = ()) -> Claim:
    """A :class:`Claim` from one ledger entry (``ValueError`` naming the claim on a bad one)."""
    entry = dict(entry)
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"claims: every claim needs a 'name' (string), got {entry!r}")
    if name in names_seen:
        raise ValueError(f"claim '{name}': duplicate name")
    kind = entry.get("kind")
    if kind not in K.KINDS:
        raise ValueError(f"claim '{name}': unknown kind {kind!r} (valid: {', '.join(K.KINDS)})")
    defaults = K.KINDS[kind].defaults
    extra = sorted(set(entry) - set(defaults) - set(_ENTRY_KEYS))
    if extra:
        raise ValueError(
            f"claim '{name}': unknown key(s) {', '.join(extra)} for kind {kind} "
            f"(parameters: {', '.join(defaults)})"
        )
    params = {}
    for key, default in defaults.items():
        if key not in entry and default is K.REQUIRED:
            raise ValueError(f"claim '{name}': kind {kind} needs '{key}'")
        try:
            params[key] = _check_param(kind, key, entry.get(key, default))
        except ValueError as err:
            raise ValueError(f"claim '{name}': {err}") from None
    _check_combination(name, kind, params)
    text = {k: entry.get(k) for k in ("source", "statement", "counted_with")}
    return Claim(
        name, kind, params, **{k: (None if v is None else str(v)) for k, v in text.items()}
    )


def _check_combination(name: str, kind: str, params: Mapping[str, Any]) -> None:
    """Parameters that must agree with each other (``ValueError`` naming the claim)."""
    among = params.get("among")
    named = [params["feature"]] if kind == "strongest" else params.get("features") or []
    if kind in ("strongest", "top") and among:
        missing = [f for f in named if f not in among]
        if missing:
            raise ValueError(f"claim '{name}': feature '{missing[0]}' is not in 'among'")
        if len(named) >= len(among):
            raise ValueError(f"claim '{name}': 'features' must leave some of 'among' out")
    if kind == "group_dominates" and set(params["larger"]) & set(params["smaller"]):
        raise ValueError(f"claim '{name}': 'larger' and 'smaller' share features")
    if kind == "partial_effect" and params["feature"] in params["held_fixed"]:
        raise ValueError(f"claim '{name}': 'feature' cannot also be held fixed")


def _check_counted_with(claims: Sequence[Claim]) -> None:
    """Every ``counted_with`` names another claim of the same ledger."""
    names = {c.name for c in claims}
    for c in claims:
        if c.counted_with is not None and (c.counted_with not in names or c.counted_with == c.name):
            raise ValueError(f"claim '{c.name}': counted_with '{c.counted_with}' is not another "
                             "claim of this ledger")  # fmt: skip


def load_ledger(source: str | Path | Mapping[str, Any] | None) -> Ledger:
    """Load a claims ledger.

    Parameters
    ----------
    source : path, mapping, OmegaConf node or None
        A YAML file, or its content (e.g. the composed ``claims`` config group); None or a
        mapping without ``claims`` gives an empty ledger.

    Returns
    -------
    Ledger

    Raises
    ------
    ValueError
        A malformed ledger; the one-line message names the claim and the key at fault.
    """
    if isinstance(source, str | Path):
        try:
            with open(source, encoding="utf-8") as fh:  # the file named in a YAML error
                content = yaml.safe_load(fh) or {}
        except yaml.YAMLError as exc:  # e.g. a !!python/object tag: one line, no traceback
            raise ValueError(f"claims: {yaml_error_line(exc)}") from None
    else:
        content = plain(source)
    if not isinstance(content, Mapping):
        raise ValueError(f"claims: a ledger is a mapping, got {type(content).__name__}")
    extra = sorted(set(content) - set(_TOP_KEYS))
    if extra:
        raise ValueError(f"claims: unknown top-level key(s) {', '.join(extra)}")
    th = content.get("thresholds") or {}
    if not isinstance(th, Mapping) or set(th) - {"credible", "contradicted"}:
        raise ValueError(f"claims.thresholds: keys credible and contradicted only, got {th!r}")
    for key, value in th.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"claims.thresholds.{key} must be a number in [0, 1], got {value!r}")
    thresholds = Thresholds(**th)
    claims: list[Claim] = []
    for entry in content.get("claims") or []:
        if not isinstance(entry, Mapping):
            raise ValueError(f"claims: every claim is a mapping, got {entry!r}")
        claims.append(parse_claim(entry, [c.name for c in claims]))
    _check_counted_with(claims)
    subject, outcome = content.get("subject"), content.get("outcome")
    if subject is not None and (not isinstance(subject, str) or "{n}" not in subject):
        raise ValueError(f"claims.subject must be a text holding {{n}}, got {subject!r}")
    if outcome is not None and (not isinstance(outcome, str) or not outcome.strip()):
        raise ValueError(f"claims.outcome must be a text (e.g. signing), got {outcome!r}")
    claims = [replace(c, outcome=outcome) for c in claims] if outcome else claims
    return Ledger(thresholds, tuple(claims), content.get("description"), subject, outcome)


def _referenced(claim: Claim, keys: Sequence[str]) -> list[str]:
    out: list[str] = []
    for key in keys:
        value = claim.params.get(key)
        if value is None:
            continue
        items = [value] if isinstance(value, str | Mapping) else list(value)
        for item in items:  # a name, or a mapping keyed by names (weights, contrasts)
            out += [item] if isinstance(item, str) else list(item)
    return out


def dropped_features(claim: Claim, dropped: Sequence[str]) -> list[str]:
    """The site features of ``claim`` that the data's design dropped (e.g. by
    ``data.design=identified``): such a claim is "not evaluated", not an error."""
    keys = K.KINDS[claim.kind].site_params
    return [f for f in _referenced(claim, keys) if f in set(dropped)]


def check_features(
    ledger: Ledger,
    site_features: Sequence[str],
    worker_features: Sequence[str],
    dropped: Sequence[str] = (),
) -> None:
    """Raise ``ValueError`` (one line: claim, feature, valid names) on an unknown feature.

    Claims naming a feature in ``dropped`` (columns the data's design removed on purpose) are
    not checked: they are reported as not evaluated.
    """
    for claim in ledger.claims:
        if dropped_features(claim, dropped):
            continue
        kind = K.KINDS[claim.kind]
        for level, keys, valid in (
            ("site", kind.site_params, site_features),
            ("worker", kind.worker_params, worker_features),
        ):
            for feature in _referenced(claim, keys):
                if feature not in valid:
                    raise ValueError(
                        f"claim '{claim.name}': unknown {level} feature '{feature}' "
                        f"(valid {level} features: {', '.join(valid)})"
                    )


__all__ = [
    "Claim",
    "Ledger",
    "Thresholds",
    "check_features",
    "dropped_features",
    "load_ledger",
    "parse_claim",
]
