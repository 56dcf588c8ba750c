"""Per-column feature recipes for the tabular loader (``data=tables`` / ``data=paper_tables``).

A data config lists features as a mapping from a label (by default the source column) to a
recipe, in the order the design matrix gets them::

    group_features:
      pct_male: standardize                         # one step
      mean_agi_zip: {recipe: [log, standardize], name: log_mean_agi_zip}
      campaign_length_days:
        recipe: quantile_bin
        k: 5
        names: [campaign_length_q1, campaign_length_q2, campaign_length_q3, ...]
      region: {recipe: onehot, levels: [north, south], other: zero}
      tenure:                                       # empty = as_is
      first_convo: {column: first_convo_time, recipe: quantile_bin, k: 4}

A list of ``{column: ..., recipe: ...}`` entries is accepted too.  Steps, applied left to
right (``onehot`` and ``quantile_bin`` expand one column into several and must come last):

``as_is``
    The numeric column unchanged (booleans become 0/1).
``log``
    Natural log; if the column has zeros, ``log1p`` of the whole column instead (stated in
    the design notes and the log).  Negative values are an error.  Prefixes ``log_``.
``log1p``
    ``log(1 + x)``; values <= -1 are an error.  Prefixes ``log1p_``.
``standardize`` (or ``standardise``)
    ``(x - mean) / sd`` with ``ddof=0`` (:func:`evaluation.data.standardize`).
``onehot``
    One 0/1 column per level; ``levels`` (default: the sorted distinct values) fixes them and
    their order; a value not in ``levels`` is an error, or an all-zero row with ``other: zero``
    (a reference category).  Default names ``<column>_<level>``.
``quantile_bin``
    ``k`` equal-count bins by rank (:func:`evaluation.data.quantile_bins`, ties broken by row
    order; ties split across bins are reported), one-hot.  Default names ``<column>_q1..qk``.

Every output column must be finite with ``|value| <=`` :data:`MAX_ABS_FEATURE` (``1e6``) after
its recipe: features enter a logit linear predictor whose coefficients are of order one, so a
larger value (a raw count or amount taken ``as_is``, or a garbage value such as ``1e300``)
cannot be fitted and is refused before any fit, naming the file and column, with the fix
(add ``log`` or ``standardize`` to the recipe, or correct the values).  A column whose values
are too large for ``standardize`` to compute its sd (beyond about ``1e154``) is refused the
same way.

Each feature's resolution (steps, outputs, means/sds, bin edges, notes) is returned as a
JSON-serialisable record for ``HierData.meta["design"]``.

This module reads a recipe (:func:`parse_features`); :mod:`evaluation.data.recipe_steps`
applies it to a column (:func:`~evaluation.data.recipe_steps.apply_feature`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

#: Accepted step names (and aliases) -> canonical step.
STEPS: dict[str, str] = {
    "as_is": "as_is", "identity": "as_is", "raw": "as_is",
    "log": "log", "log1p": "log1p",
    "standardize": "standardize", "standardise": "standardize",
    "onehot": "onehot", "one_hot": "onehot",
    "quantile_bin": "quantile_bin",
}  # fmt: skip
#: Steps that turn one column into several; they must be the last step.
EXPANDING: frozenset[str] = frozenset({"onehot", "quantile_bin"})
#: Option keys of a feature entry, and the steps each option belongs to (None: any).
OPTIONS: dict[str, frozenset[str] | None] = {
    "column": None,
    "recipe": None,
    "name": frozenset({"as_is", "log", "log1p", "standardize"}),
    "names": EXPANDING,
    "k": frozenset({"quantile_bin"}),
    "levels": frozenset({"onehot"}),
    "other": frozenset({"onehot"}),
}
#: Largest ``|value|`` a feature may have after its recipe (features enter a logit linear
#: predictor with coefficients of order one; beyond this the column needs log/standardize).
MAX_ABS_FEATURE: float = 1e6


class DataValidationError(ValueError):
    """Input tables or their data config are unusable.

    The message is one line naming the file, the column and the fix; the app prints it, exits
    non-zero and writes nothing to the run dir.
    """


class FeatureSpec(NamedTuple):
    """One resolved feature entry of a data config.

    Attributes
    ----------
    label : str
        Key of the entry in the config (the column, unless ``column`` is given).
    column : str
        Source column in the table.
    steps : tuple of str
        Canonical step names, applied left to right.
    options : dict
        The remaining options (``name``, ``names``, ``k``, ``levels``, ``other``).
    """

    label: str
    column: str
    steps: tuple[str, ...]
    options: dict[str, Any]


class FeatureBlock(NamedTuple):
    """The design-matrix columns one feature entry produced.

    Attributes
    ----------
    values : ndarray, shape (n_rows, n_outputs)
    names : tuple of str
        Output feature names, in column order.
    record : dict
        JSON-serialisable account of what was done (for ``meta["design"]``).
    """

    values: np.ndarray
    names: tuple[str, ...]
    record: dict[str, Any]


def invalid(where: str, message: str) -> DataValidationError:
    """The one-line error of a feature entry or column (``where``: file and column, or key)."""
    return DataValidationError(f"{where}: {message}")


# ------------------------------------------------------------------------------ parsing
def _entries(features: Any, key: str) -> list[tuple[str, Any]]:
    """(label, value) pairs from the mapping or list form, order kept."""
    if features is None:
        return []
    if isinstance(features, Mapping):
        return [(str(label), value) for label, value in features.items()]
    if isinstance(features, Sequence) and not isinstance(features, str):
        pairs = []
        for i, entry in enumerate(features):
            if not isinstance(entry, Mapping) or "column" not in entry:
                raise invalid(
                    f"data.{key}[{i}]", "a list entry must be {column: NAME, recipe: ...}"
                )
            pairs.append((str(entry["column"]), dict(entry)))
        return pairs
    raise invalid(f"data.{key}", f"expected a mapping column -> recipe, got {features!r}")


def _parse_entry(label: str, value: Any, key: str) -> FeatureSpec:
    where = f"data.{key}.{label}"
    if value is None or isinstance(value, str) or _is_step_list(value):
        value = {"recipe": value}
    if not isinstance(value, Mapping):
        raise invalid(where, f"expected a recipe name, a list of steps or a mapping, got {value!r}")
    options = {k: v for k, v in value.items() if v is not None or k == "recipe"}  # null = unset
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise invalid(where, f"unknown option(s) {unknown}; allowed: {sorted(OPTIONS)}")
    recipe = options.pop("recipe", None)
    recipe = ["as_is"] if recipe is None else [recipe] if isinstance(recipe, str) else recipe
    if not _is_step_list(recipe) or not recipe:
        raise invalid(where, f"recipe must be a step name or a list of them, got {recipe!r}")
    bad = [s for s in recipe if str(s).lower() not in STEPS]
    if bad:
        raise invalid(where, f"unknown recipe step(s) {bad}; known steps: {sorted(set(STEPS))}")
    steps = tuple(STEPS[str(s).lower()] for s in recipe)
    for step in steps[:-1]:
        if step in EXPANDING:
            raise invalid(where, f"step {step!r} expands the column and must be the last step")
    column = str(options.pop("column", label))
    for option, allowed in OPTIONS.items():
        if option in options and allowed is not None and not allowed & set(steps):
            raise invalid(where, f"option {option!r} does not apply to recipe {list(steps)}; "
                        f"remove it (it applies to {sorted(allowed)})")  # fmt: skip
    return FeatureSpec(label, column, steps, _check_options(options, steps, where))


def _is_step_list(value: Any) -> bool:
    return (isinstance(value, Sequence) and not isinstance(value, str)
            and all(isinstance(v, str) for v in value))  # fmt: skip


def _check_options(options: dict[str, Any], steps: tuple[str, ...], where: str) -> dict:
    if steps[-1] == "quantile_bin":
        k = options.get("k", len(options["names"]) if options.get("names") else None)
        if not isinstance(k, int) or isinstance(k, bool) or k < 2:
            raise invalid(
                where, f"quantile_bin needs an integer k >= 2 (number of bins), got {k!r}"
            )
        options["k"] = k
    if "names" in options:
        names = options["names"]
        if not _is_step_list(names) or len(set(names)) != len(names):
            raise invalid(where, f"names must be a list of distinct strings, got {names!r}")
        if steps[-1] == "quantile_bin" and len(names) != options["k"]:
            raise invalid(where, f"names has {len(names)} entries but k = {options['k']}")
    if "levels" in options and (not isinstance(options["levels"], Sequence)
                                or isinstance(options["levels"], str)):  # fmt: skip
        raise invalid(where, f"levels must be a list, got {options['levels']!r}")
    if options.get("other", "error") not in ("error", "zero"):
        raise invalid(where, f"other must be 'error' or 'zero', got {options['other']!r}")
    return options


def parse_features(features: Any, key: str) -> list[FeatureSpec]:
    """Resolve a ``data.unit_features`` / ``data.group_features`` config value.

    Parameters
    ----------
    features : mapping or list or None
        Mapping label -> recipe (a step name, a list of steps, ``None`` = ``as_is``, or a
        mapping with ``recipe`` and options), or a list of ``{column: ..., ...}`` entries.
    key : str
        The config key (for messages), e.g. ``"unit_features"``.

    Returns
    -------
    list of FeatureSpec
        In config order.

    Raises
    ------
    DataValidationError
        Unknown step or option, misplaced expanding step, bad ``k``/``names``/``levels``, or
        a source column listed twice.
    """
    specs = [_parse_entry(label, value, key) for label, value in _entries(features, key)]
    columns = [s.column for s in specs]
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    if dupes:
        raise invalid(f"data.{key}", f"column(s) {dupes} listed more than once; list each once")
    return specs


__all__ = [
    "EXPANDING",
    "MAX_ABS_FEATURE",
    "STEPS",
    "DataValidationError",
    "FeatureBlock",
    "FeatureSpec",
    "invalid",
    "parse_features",
]
