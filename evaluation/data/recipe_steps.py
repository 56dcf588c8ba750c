"""Apply a feature's recipe (:mod:`evaluation.data.recipes`) to its source column: the steps
left to right, the output names, and the checks that refuse what cannot be fitted (values
outside a log's domain or ``levels``, non-finite or beyond
:data:`~evaluation.data.recipes.MAX_ABS_FEATURE`, constant columns), each as one
:class:`~evaluation.data.recipes.DataValidationError` line naming the file and the column.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from evaluation.data.features import one_hot, quantile_bins, standardize
from evaluation.data.recipes import (
    EXPANDING,
    MAX_ABS_FEATURE,
    FeatureBlock,
    FeatureSpec,
    invalid,
)

log = logging.getLogger("evaluation.data.recipes")  # the recipes' one logger, as before the split


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
        raise invalid(where, f"is not numeric ({str(values.iloc[row])!r} at data row {row + 1}; "
                    f"{int(bad.sum())} such row(s)); give it recipe onehot if it is "
                    "categorical, or fix the values")  # fmt: skip
    return series.to_numpy(dtype=float)


def _log(x: np.ndarray, step: str, where: str, notes: list[str]) -> np.ndarray:
    floor = -1.0 if step == "log1p" else 0.0
    bad = int(np.sum(x <= floor if step == "log1p" else x < floor))
    if bad:
        rule = "> -1" if step == "log1p" else ">= 0"
        raise invalid(where, f"{bad} row(s) violate {rule} needed by {step}; "
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
            raise invalid(where, f"levels {levels} are not numbers but the column is") from None
        if len(set(keys)) != len(keys):
            raise invalid(where, f"levels {levels} contain duplicates")
    keys = [float(v) for v in levels] if numeric else [str(v) for v in levels]
    lookup = {k: i + 1 for i, k in enumerate(keys)}
    codes = np.array([lookup.get(v, 0) for v in values], dtype=np.int64)
    return codes, levels


def _onehot(series: pd.Series, spec: FeatureSpec, where: str, record: dict) -> np.ndarray:
    codes, levels = _levels(series, spec, where)
    missing = int(np.sum(codes == 0))
    if missing and spec.options.get("other", "error") == "error":
        example = series[codes == 0].iloc[0]
        raise invalid(where, f"{missing} row(s) have values not in levels {levels} "
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
                raise invalid(where, f"has out-of-range values for standardize (largest |value| "
                            f"{np.abs(x).max():g}: its sd overflows); fix the values, or put log "
                            "before standardize")  # fmt: skip
            if stats["sd"] == 0:
                raise invalid(where, f"is constant ({x[0]:g}) before standardize; remove it from "
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
        raise invalid(where, f"{int(bad.sum())} row(s) have non-finite or out-of-range values "
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
        raise invalid(where, f"names has {len(names)} entries but the recipe makes "
                    f"{values.shape[1]} columns; give {values.shape[1]} names")  # fmt: skip
    _check_range(values, series, spec, where)
    for name, col in zip(names, values.T, strict=True):
        if col.size and np.ptp(col) == 0:
            raise invalid(where, f"feature {name!r} is constant ({col[0]:g}) after "
                        f"{'+'.join(spec.steps)}; remove it from the features or change its "
                        "recipe")  # fmt: skip
    record["outputs"] = list(names)
    return FeatureBlock(values, names, record)


__all__ = ["apply_feature"]
