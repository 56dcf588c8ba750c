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
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from evaluation.data.features import one_hot, quantile_bins, standardize

log = logging.getLogger(__name__)

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


def _fail(where: str, message: str) -> DataValidationError:
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
                raise _fail(f"data.{key}[{i}]", "a list entry must be {column: NAME, recipe: ...}")
            pairs.append((str(entry["column"]), dict(entry)))
        return pairs
    raise _fail(f"data.{key}", f"expected a mapping column -> recipe, got {features!r}")


def _parse_entry(label: str, value: Any, key: str) -> FeatureSpec:
    where = f"data.{key}.{label}"
    if value is None or isinstance(value, str) or _is_step_list(value):
        value = {"recipe": value}
    if not isinstance(value, Mapping):
        raise _fail(where, f"expected a recipe name, a list of steps or a mapping, got {value!r}")
    options = {k: v for k, v in value.items() if v is not None or k == "recipe"}  # null = unset
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise _fail(where, f"unknown option(s) {unknown}; allowed: {sorted(OPTIONS)}")
    recipe = options.pop("recipe", None)
    recipe = ["as_is"] if recipe is None else [recipe] if isinstance(recipe, str) else recipe
    if not _is_step_list(recipe) or not recipe:
        raise _fail(where, f"recipe must be a step name or a list of them, got {recipe!r}")
    bad = [s for s in recipe if str(s).lower() not in STEPS]
    if bad:
        raise _fail(where, f"unknown recipe step(s) {bad}; known steps: {sorted(set(STEPS))}")
    steps = tuple(STEPS[str(s).lower()] for s in recipe)
    for step in steps[:-1]:
        if step in EXPANDING:
            raise _fail(where, f"step {step!r} expands the column and must be the last step")
    column = str(options.pop("column", label))
    for option, allowed in OPTIONS.items():
        if option in options and allowed is not None and not allowed & set(steps):
            raise _fail(where, f"option {option!r} does not apply to recipe {list(steps)}; "
                        f"remove it (it applies to {sorted(allowed)})")  # fmt: skip
    return FeatureSpec(label, column, steps, _check_options(options, steps, where))


def _is_step_list(value: Any) -> bool:
    return (isinstance(value, Sequence) and not isinstance(value, str)
            and all(isinstance(v, str) for v in value))  # fmt: skip


def _check_options(options: dict[str, Any], steps: tuple[str, ...], where: str) -> dict:
    if steps[-1] == "quantile_bin":
        k = options.get("k", len(options["names"]) if options.get("names") else None)
        if not isinstance(k, int) or isinstance(k, bool) or k < 2:
            raise _fail(where, f"quantile_bin needs an integer k >= 2 (number of bins), got {k!r}")
        options["k"] = k
    if "names" in options:
        names = options["names"]
        if not _is_step_list(names) or len(set(names)) != len(names):
            raise _fail(where, f"names must be a list of distinct strings, got {names!r}")
        if steps[-1] == "quantile_bin" and len(names) != options["k"]:
            raise _fail(where, f"names has {len(names)} entries but k = {options['k']}")
    if "levels" in options and (not isinstance(options["levels"], Sequence)
                                or isinstance(options["levels"], str)):  # fmt: skip
        raise _fail(where, f"levels must be a list, got {options['levels']!r}")
    if options.get("other", "error") not in ("error", "zero"):
        raise _fail(where, f"other must be 'error' or 'zero', got {options['other']!r}")
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
        raise _fail(f"data.{key}", f"column(s) {dupes} listed more than once; list each once")
    return specs


# ------------------------------------------------------------------------------ applying
def _numeric(series: pd.Series, where: str) -> np.ndarray:
    if pd.api.types.is_bool_dtype(series):
        return series.to_numpy(dtype=float)
    if not pd.api.types.is_numeric_dtype(series):
        values = series.reset_index(drop=True)
        numbers = pd.to_numeric(values, errors="coerce")
        bad = values.notna() & numbers.isna()
        if not bad.any():  # numbers held as text (a DataFrame of strings)
            return numbers.to_numpy(dtype=float)
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise _fail(where, f"is not numeric ({str(values.iloc[row])!r} at data row {row + 1}; "
                    f"{int(bad.sum())} such row(s)); give it recipe onehot if it is "
                    "categorical, or fix the values")  # fmt: skip
    return series.to_numpy(dtype=float)


def _log(x: np.ndarray, step: str, where: str, notes: list[str]) -> np.ndarray:
    floor = -1.0 if step == "log1p" else 0.0
    bad = int(np.sum(x <= floor if step == "log1p" else x < floor))
    if bad:
        rule = "> -1" if step == "log1p" else ">= 0"
        raise _fail(where, f"{bad} row(s) violate {rule} needed by {step}; "
                    "drop the log step or fix the values")  # fmt: skip
    if step == "log" and np.any(x == 0):
        notes.append(f"log1p used instead of log: {int(np.sum(x == 0))} zero value(s)")
        log.info("%s: %s", where, notes[-1])
        return np.log1p(x)
    return np.log1p(x) if step == "log1p" else np.log(x)


def _levels(series: pd.Series, spec: FeatureSpec, where: str) -> tuple[np.ndarray, list]:
    """Integer codes 1..L (0 = not a level) and the levels."""
    given = spec.options.get("levels")
    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    values = series.to_numpy(dtype=float) if numeric else series.astype(str).to_numpy()
    if given is None:
        levels = sorted(pd.unique(values).tolist())
    else:
        levels = list(given)
        try:
            keys = [float(v) for v in levels] if numeric else [str(v) for v in levels]
        except (TypeError, ValueError):
            raise _fail(where, f"levels {levels} are not numbers but the column is") from None
        if len(set(keys)) != len(keys):
            raise _fail(where, f"levels {levels} contain duplicates")
    keys = [float(v) for v in levels] if numeric else [str(v) for v in levels]
    lookup = {k: i + 1 for i, k in enumerate(keys)}
    codes = np.array([lookup.get(v, 0) for v in values], dtype=np.int64)
    return codes, levels


def _onehot(series: pd.Series, spec: FeatureSpec, where: str, record: dict) -> np.ndarray:
    codes, levels = _levels(series, spec, where)
    missing = int(np.sum(codes == 0))
    if missing and spec.options.get("other", "error") == "error":
        example = series[codes == 0].iloc[0]
        raise _fail(where, f"{missing} row(s) have values not in levels {levels} "
                    f"(e.g. {example!r}); add them to levels or set other: zero")  # fmt: skip
    if missing:
        record["notes"].append(f"{missing} row(s) outside levels -> all-zero row")
    record["levels"] = [_plain(v) for v in levels]
    return one_hot(codes, len(levels))


def _quantile_bin(x: np.ndarray, k: int, record: dict) -> np.ndarray:
    codes = quantile_bins(x, k)
    split = [i for i in range(1, k) if np.any(np.isin(x[codes == i], x[codes == i + 1]))]
    if split:
        record["notes"].append(
            f"tied values split across bins {[f'q{i}|q{i + 1}' for i in split]} by row order"
        )
    record["bin_edges"] = [float(x[codes == i].max()) for i in range(1, k) if np.any(codes == i)]
    return one_hot(codes, k)


def _numeric_steps(x: np.ndarray, spec: FeatureSpec, where: str, record: dict) -> np.ndarray:
    """Apply the numeric steps left to right; returns shape (n, outputs)."""
    for step in spec.steps:
        if step in ("log", "log1p"):
            x = _log(x, step, where, record["notes"])
        elif step == "standardize":
            with np.errstate(over="ignore", invalid="ignore"):
                stats = {"mean": float(x.mean()), "sd": float(x.std())}
            if not (np.isfinite(stats["mean"]) and np.isfinite(stats["sd"])):
                raise _fail(where, f"has out-of-range values for standardize (largest |value| "
                            f"{np.abs(x).max():g}: its sd overflows); fix the values, or put log "
                            "before standardize")  # fmt: skip
            if stats["sd"] == 0:
                raise _fail(where, f"is constant ({x[0]:g}) before standardize; remove it from "
                            "the features or change its recipe")  # fmt: skip
            record.setdefault("standardize", []).append(stats)
            x = standardize(x)
        elif step == "quantile_bin":
            x = _quantile_bin(x, spec.options["k"], record)
    return x.reshape(x.shape[0], -1)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _output_names(spec: FeatureSpec, record: dict, width: int) -> tuple[str, ...]:
    if spec.steps[-1] not in EXPANDING:
        prefix = "".join(f"{s}_" for s in reversed(spec.steps) if s in ("log", "log1p"))
        return (str(spec.options.get("name", prefix + spec.column)),)
    if "names" in spec.options:
        names = tuple(str(n) for n in spec.options["names"])
    elif spec.steps[-1] == "quantile_bin":
        names = tuple(f"{spec.column}_q{i + 1}" for i in range(width))
    else:
        names = tuple(f"{spec.column}_{level}" for level in record["levels"])
    return names


def _check_range(values: np.ndarray, series: pd.Series, spec: FeatureSpec, where: str) -> None:
    """Refuse output values that are not finite or beyond :data:`MAX_ABS_FEATURE`."""
    with np.errstate(invalid="ignore"):
        bad = np.any(~(np.abs(values) <= MAX_ABS_FEATURE), axis=1)  # NaN compares False
    if bad.any():
        example = series.iloc[int(np.flatnonzero(bad)[0])]
        raise _fail(where, f"{int(bad.sum())} row(s) have non-finite or out-of-range values "
                    f"after {'+'.join(spec.steps)} (e.g. {_plain(example)}; features must lie "
                    f"within +-{MAX_ABS_FEATURE:g} after the recipe); add log or standardize to "
                    "the recipe, or fix the values")  # fmt: skip


def apply_feature(spec: FeatureSpec, series: pd.Series, source: str) -> FeatureBlock:
    """Apply one feature's recipe to its (already NaN-checked) source column.

    Parameters
    ----------
    spec : FeatureSpec
    series : pandas.Series
        The source column, one value per row of the table (no missing values).
    source : str
        File name, for messages.

    Returns
    -------
    FeatureBlock

    Raises
    ------
    DataValidationError
        Non-numeric column for a numeric step, values outside a log's domain, values outside
        ``levels``, a ``names`` list of the wrong length, an output value that is not finite or
        beyond :data:`MAX_ABS_FEATURE`, or an output column that is constant.
    """
    where = f"{source}: column {spec.column!r}"
    record: dict[str, Any] = {"label": spec.label, "column": spec.column,
                              "recipe": list(spec.steps), "notes": []}  # fmt: skip
    if spec.steps[-1] == "onehot":
        values = _onehot(series, spec, where, record)
    else:
        values = _numeric_steps(_numeric(series, where), spec, where, record)
    names = _output_names(spec, record, values.shape[1])
    if len(names) != values.shape[1]:
        raise _fail(where, f"names has {len(names)} entries but the recipe makes "
                    f"{values.shape[1]} columns; give {values.shape[1]} names")  # fmt: skip
    _check_range(values, series, spec, where)
    for name, col in zip(names, values.T, strict=True):
        if col.size and np.ptp(col) == 0:
            raise _fail(where, f"feature {name!r} is constant ({col[0]:g}) after "
                        f"{'+'.join(spec.steps)}; remove it from the features or change its "
                        "recipe")  # fmt: skip
    record["outputs"] = list(names)
    return FeatureBlock(values, names, record)


__all__ = [
    "EXPANDING",
    "MAX_ABS_FEATURE",
    "STEPS",
    "DataValidationError",
    "FeatureBlock",
    "FeatureSpec",
    "apply_feature",
    "parse_features",
]
