"""Claim kinds on the worksite-level coefficients ``beta_site``.

Each rests on linear functionals of ``(alpha, beta_site)`` that the design must identify
(:attr:`~evaluation.claims.context.Kind.site_functionals`).  ``partial_effect`` and
``association`` are built so that they are identified whenever the feature's own coefficient
is not: they move the worksite features only in ways the design can tell apart.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from backends.spec import HierData
from evaluation.claims.context import (
    REQUIRED,
    Context,
    Functionals,
    Kind,
    beta_site_draws,
    col,
    names_text,
    site_vector,
)
from evaluation.data.design import expression, null_directions, site_design

#: A feature of a null direction with a coefficient below this is not in its support.
_SUPPORT_TOL = 1e-9


def _among(p: dict[str, Any], data: HierData) -> list[str]:
    return list(p["among"]) if p["among"] else list(data.site_features)


def _op(direction: str) -> str:
    return ">" if direction in ("positive", "larger") else "<"


def odds_of(p: dict[str, Any]) -> str:
    """ "odds of <outcome>": the ledger's or the data's outcome (``p["outcome"]``, set by
    :meth:`evaluation.claims.load.Ledger.for_outcome`), else the twin's, signing."""
    return f"odds of {p.get('outcome') or 'signing'}"


def _holds(value: np.ndarray, direction: str) -> np.ndarray:
    return value > 0 if direction == "positive" else value < 0


# ------------------------------------------------------------------------------------------
# sign, strongest, top, contrast
# ------------------------------------------------------------------------------------------
def _sign(p: dict[str, Any], ctx: Context) -> np.ndarray | None:
    b = beta_site_draws(ctx)
    return None if b is None else _holds(b[:, col(ctx.data.site_features, p["feature"])],
                                         p["direction"])  # fmt: skip


def _sign_text(p: dict[str, Any]) -> str:
    way = "higher" if p["direction"] == "positive" else "lower"
    return (f"beta_site[{p['feature']}] {_op(p['direction'])} 0: higher {p['feature']} goes "
            f"with {way} {odds_of(p)}")  # fmt: skip


def _ranked(p: dict[str, Any], ctx: Context) -> tuple[np.ndarray, list[str]] | None:
    b = beta_site_draws(ctx)
    if b is None:
        return None
    among = _among(p, ctx.data)
    values = b[:, [col(ctx.data.site_features, f) for f in among]]
    return (np.abs(values) if p["by_abs"] else values), among


def _strongest(p: dict[str, Any], ctx: Context) -> np.ndarray | None:
    ranked = _ranked(p, ctx)
    if ranked is None:
        return None
    values, among = ranked
    return np.argmax(values, axis=1) == among.index(p["feature"])


def _strongest_text(p: dict[str, Any]) -> str:
    value = "|beta_site|" if p["by_abs"] else "beta_site"
    pool = "all site features" if not p["among"] else names_text(p["among"])
    return f"{p['feature']} has the largest {value} among {pool}"


def _rank_functionals(top: list[str], p: dict[str, Any], data: HierData) -> Functionals:
    among = _among(p, data)
    if p["by_abs"]:  # |b_f| > |b_g| depends on every b_g on its own
        return [(f"beta_site[{g}]", {g: 1.0}) for g in among]
    rest = [g for g in among if g not in top]
    return [(f"beta_site[{f}] - beta_site[{g}]", {f: 1.0, g: -1.0}) for f in top for g in rest]


def _top(p: dict[str, Any], ctx: Context) -> np.ndarray | None:
    ranked = _ranked(p, ctx)
    if ranked is None:
        return None
    values, among = ranked
    inside = np.isin(among, p["features"])
    return values[:, inside].min(axis=1) > values[:, ~inside].max(axis=1)


def _top_text(p: dict[str, Any]) -> str:
    value = "|beta_site|" if p["by_abs"] else "beta_site"
    pool = "all site features" if not p["among"] else names_text(p["among"], limit=5)
    n = len(p["features"])
    return f"{names_text(p['features'])} have the {n} largest {value} among {pool}"


def _contrast(p: dict[str, Any], ctx: Context) -> np.ndarray | None:
    b = beta_site_draws(ctx)
    if b is None:
        return None
    return _holds(b @ site_vector(p["weights"], ctx.data.site_features), p["direction"])


def _contrast_text(p: dict[str, Any]) -> str:
    names = list(p["weights"])
    expr = expression(np.array([p["weights"][n] for n in names], float), names)
    return f"the contrast {expr} of beta_site is {_op(p['direction'])} 0"


# ------------------------------------------------------------------------------------------
# partial_effect: a move of the features the design can tell apart
# ------------------------------------------------------------------------------------------
def partial_move(feature: str, held_fixed: list[str], data: HierData) -> dict[str, float] | None:
    """The feature move "``feature`` + 1 sd, ``held_fixed`` unchanged" that the design allows.

    Every null direction ``v`` of ``[1 | X_site]`` is an exact relation ``X_site . v = const``
    among the features, so a realisable change ``delta`` of a worksite's features satisfies
    ``delta . v = 0``.  ``delta[feature] = 1``; the features sharing a null direction with
    ``feature`` (other than ``held_fixed``) move as the relations force; all others stay.

    Returns
    -------
    dict or None
        {feature: change in sd units} (non-zero entries), or None when the relations do not
        determine the move (hold more features fixed) or forbid it.
    """
    matrix, names = site_design(data)
    feats = list(data.site_features)
    dirs = [np.asarray(d["vector"])[1:] for d in null_directions(matrix, names)]
    f = col(feats, feature)
    if not any(abs(v[f]) > _SUPPORT_TOL for v in dirs):
        return {feature: 1.0}
    tied = {g for v in dirs if abs(v[f]) > _SUPPORT_TOL for g in np.flatnonzero(
        np.abs(v) > _SUPPORT_TOL)}  # fmt: skip
    free = sorted(tied - {f} - {col(feats, h) for h in held_fixed})
    if not free:
        return None
    a = np.array([[v[g] for g in free] for v in dirs])
    rhs = -np.array([v[f] for v in dirs])
    sol, *_ = np.linalg.lstsq(a, rhs, rcond=None)
    if np.linalg.matrix_rank(a) < len(free) or np.abs(a @ sol - rhs).max() > 1e-8:
        return None
    move = {feature: 1.0, **{feats[g]: float(x) for g, x in zip(free, sol, strict=True)}}
    return {k: v for k, v in move.items() if abs(v) > 1e-12}


def _partial_functionals(p: dict[str, Any], data: HierData) -> Functionals:
    move = partial_move(p["feature"], p["held_fixed"], data)
    if move is None:  # undetermined: the coefficient alone, which the design check rejects
        return [(f"beta_site[{p['feature']}] (the move is not determined by the design)",
                 {p["feature"]: 1.0})]  # fmt: skip
    return [(f"the move {_move_text(move)}", move)]


def _move_text(move: dict[str, float]) -> str:
    return ", ".join(f"{v:+.3g} sd {k}" for k, v in move.items())


def _partial(p: dict[str, Any], ctx: Context) -> np.ndarray | None:
    b = beta_site_draws(ctx)
    move = partial_move(p["feature"], p["held_fixed"], ctx.data)
    if b is None or move is None:
        return None
    return _holds(b @ site_vector(move, ctx.data.site_features), p["direction"])


def _partial_text(p: dict[str, Any]) -> str:
    held = f" with {names_text(p['held_fixed'])} held fixed" if p["held_fixed"] else ""
    way = "higher" if p["direction"] == "positive" else "lower"
    return (f"raising {p['feature']} by one sd{held} (the features the design ties to it "
            f"move with it) goes with {way} {odds_of(p)}")  # fmt: skip


def _partial_detail(p: dict[str, Any], ctx: Context) -> str | None:
    move = partial_move(p["feature"], p["held_fixed"], ctx.data)
    return None if move is None else f"the move on this data: {_move_text(move)}"


# ------------------------------------------------------------------------------------------
# association: how the worksite linear predictor varies with one feature across worksites
# ------------------------------------------------------------------------------------------
def association_vector(feature: str, data: HierData) -> np.ndarray:
    """Per site feature, its least-squares slope on ``feature`` across the worksites.

    ``beta_site @ slopes`` is the slope of the worksite linear predictor ``X_site . beta_site``
    on ``feature``: the worksites' other features change with it as they do in the data.  It
    is a combination of differences of worksite rows, so the design always identifies it.
    """
    x = np.asarray(data.X_site, dtype=float)
    s = x[:, col(data.site_features, feature)]
    centred = s - s.mean()
    ss = float(centred @ centred)
    return centred @ (x - x.mean(axis=0)) / ss if ss > 0 else np.zeros(x.shape[1])


def _association_functionals(p: dict[str, Any], data: HierData) -> Functionals:
    v = association_vector(p["feature"], data)
    weights = {f: float(w) for f, w in zip(data.site_features, v, strict=True) if w}
    return [(f"the slope of X_site . beta_site on {p['feature']}", weights or {p["feature"]: 1})]


def _association(p: dict[str, Any], ctx: Context) -> np.ndarray | None:
    b = beta_site_draws(ctx)
    return None if b is None else _holds(b @ association_vector(p["feature"], ctx.data),
                                         p["direction"])  # fmt: skip


def _association_text(p: dict[str, Any]) -> str:
    way = "higher" if p["direction"] == "positive" else "lower"
    return (f"worksites with higher {p['feature']} have {way} worksite-level {odds_of(p)}, "
            f"their other features as they come (slope of X_site . beta_site on "
            f"{p['feature']} across worksites {_op(p['direction'])} 0)")  # fmt: skip


# ------------------------------------------------------------------------------------------
# group_dominates: one group of features moves the worksite odds more than another
# ------------------------------------------------------------------------------------------
def _group_part(group: list[str], data: HierData) -> np.ndarray:
    x = np.asarray(data.X_site, dtype=float)
    return x[:, [col(data.site_features, f) for f in group]]


def _group_functionals(p: dict[str, Any], data: HierData) -> Functionals:
    """A basis of the worksites' centred contributions of each group (all must be estimable)."""
    out: Functionals = []
    for key in ("larger", "smaller"):
        xg = _group_part(p[key], data)
        _, s, vt = np.linalg.svd(xg - xg.mean(axis=0), full_matrices=False)
        keep = s > 1e-8 * max(s.max(initial=0.0), 1e-300)
        for i, row in enumerate(vt[keep]):
            out.append((f"the worksite spread of the {key} group (direction {i + 1})",
                        dict(zip(p[key], map(float, row), strict=True))))  # fmt: skip
    return out


def _group_dominates(p: dict[str, Any], ctx: Context) -> np.ndarray | None:
    b = beta_site_draws(ctx)
    if b is None:
        return None
    cols = {k: [col(ctx.data.site_features, f) for f in p[k]] for k in ("larger", "smaller")}
    sd = {k: (b[:, c] @ _group_part(p[k], ctx.data).T).std(axis=1) for k, c in cols.items()}
    return sd["larger"] > sd["smaller"]


def _group_text(p: dict[str, Any]) -> str:
    return (f"across worksites, {names_text(p['larger'])} together move the log-{odds_of(p)} "
            f"more than {names_text(p['smaller'], limit=7)} together (sd over "
            "worksites of X_site[group] . beta_site[group])")  # fmt: skip


KINDS: tuple[Kind, ...] = (
    Kind("sign", {"feature": REQUIRED, "direction": REQUIRED}, _sign, _sign_text,
         site_params=("feature",),
         site_functionals=lambda p, d: [(f"beta_site[{p['feature']}]", {p["feature"]: 1.0})]),
    Kind("strongest", {"feature": REQUIRED, "among": None, "by_abs": False},
         _strongest, _strongest_text, site_params=("feature", "among"),
         site_functionals=lambda p, d: _rank_functionals([p["feature"]], p, d)),
    Kind("top", {"features": REQUIRED, "among": None, "by_abs": False}, _top, _top_text,
         site_params=("features", "among"),
         site_functionals=lambda p, d: _rank_functionals(list(p["features"]), p, d)),
    Kind("contrast", {"weights": REQUIRED, "direction": REQUIRED}, _contrast, _contrast_text,
         site_params=("weights",),
         site_functionals=lambda p, d: [("the contrast", dict(p["weights"]))]),
    Kind("partial_effect", {"feature": REQUIRED, "held_fixed": (), "direction": REQUIRED},
         _partial, _partial_text, site_params=("feature", "held_fixed"),
         site_functionals=_partial_functionals, detail=_partial_detail),
    Kind("association", {"feature": REQUIRED, "direction": REQUIRED}, _association,
         _association_text, site_params=("feature",),
         site_functionals=_association_functionals),
    Kind("group_dominates", {"larger": REQUIRED, "smaller": REQUIRED}, _group_dominates,
         _group_text, site_params=("larger", "smaller"), site_functionals=_group_functionals),
)  # fmt: skip

__all__ = ["KINDS", "association_vector", "partial_move"]
