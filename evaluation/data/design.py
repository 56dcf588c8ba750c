"""The design check: rank, conditioning and null space of the model's two design matrices.

The model's worksite-level linear predictor is ``[1 | X_site] @ (alpha, beta_site)`` and its
worker-level one ``X_worker @ beta_worker[j]``.  When a design matrix ``D`` is rank deficient,
moving the coefficient vector along a *null direction* ``v`` (``D @ v = 0``) leaves every
logit unchanged: the data cannot tell those coefficient vectors apart, and only the prior
pins them.  A linear combination ``c . coef`` is *estimable* (identified by the data) exactly
when ``c`` is orthogonal to every null direction, i.e. ``c`` lies in the row space of ``D``.

The paper's design is not identified: ``[1 | X_site]`` has rank 17 for 19 columns, because the
five ``campaign_length_q*`` dummies sum to the intercept and
``log_mean_degree = log 2 + log_n_edges - log_n_discovered`` (still an exact linear relation,
with the intercept, after standardisation).

Public functions: :func:`design_check` (the JSON-ready report of one data set),
:func:`site_design` / :func:`worker_design` (the matrices and their column names),
:func:`null_directions` (a sparse, readable basis of the null space), :func:`is_estimable`
and :func:`explain_not_estimable`.  Pure NumPy; imports only ``backends.spec``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import combinations
from math import comb
from typing import Any

import numpy as np

from backends.spec import HierData

#: Name of the intercept column of ``[1 | X_site]``.
INTERCEPT = "(intercept)"
#: Singular values below ``RANK_TOL * s_max`` count as zero.
RANK_TOL = 1e-8
#: ``c`` is estimable when its component in the null space is at most ``ESTIMABLE_TOL * |c|``.
ESTIMABLE_TOL = 1e-6
#: Null-direction coefficients below this fraction of the largest one are dropped.
DROP_TOL = 1e-6
_MAX_PIVOT_SETS = 5000
_MAX_EXAMPLES = 5


def site_design(data: HierData) -> tuple[np.ndarray, tuple[str, ...]]:
    """``[1 | X_site]`` (J x (1 + K_s)) and its column names (``"(intercept)"`` first)."""
    ones = np.ones((data.n_worksites, 1))
    return np.hstack([ones, data.X_site]), (INTERCEPT, *data.site_features)


def worker_design(data: HierData) -> tuple[np.ndarray, tuple[str, ...]]:
    """``X_worker`` (N x K_w) and its column names."""
    return np.asarray(data.X_worker, dtype=float), tuple(data.worker_features)


def _svd(design: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Singular values, right singular vectors (rows) and the numerical rank."""
    d = np.asarray(design, dtype=float)
    if d.ndim != 2:
        raise ValueError(f"design matrix must be 2-D, got shape {d.shape}")
    if d.size == 0:
        return np.zeros(0), np.eye(d.shape[1]), 0
    if d.shape[0] < d.shape[1]:  # zero rows keep the null space and give a square V
        d = np.vstack([d, np.zeros((d.shape[1] - d.shape[0], d.shape[1]))])
    _, s, vt = np.linalg.svd(d, full_matrices=False)
    rank = int((s > tol * s.max()).sum()) if s.size and s.max() > 0 else 0
    return s, vt, rank


def null_basis(design: np.ndarray, tol: float = RANK_TOL) -> np.ndarray:
    """Orthonormal basis of the null space of ``design``, shape (n_columns, nullity)."""
    _, vt, rank = _svd(design, tol)
    return vt[rank:].T


def _sparsest(basis: np.ndarray) -> np.ndarray:
    """A basis of the same span with as few non-zero entries as a pivoted reduction allows.

    Every choice of ``p`` pivot rows (``p`` = nullity) gives the basis ``B @ inv(B[P])`` with
    an identity block on the pivots; the one with the fewest non-zeros (ties: best
    conditioned) is kept.  Too many choices: pivots taken greedily from the last column.
    """
    p = basis.shape[1]
    if p == 0:
        return basis
    support = np.flatnonzero(np.abs(basis).max(axis=1) > DROP_TOL)
    choices: Iterable[tuple[int, ...]] = combinations(support.tolist(), p)
    if comb(len(support), p) > _MAX_PIVOT_SETS:
        choices = [tuple(_greedy_pivots(basis, support))]
    best, best_key = basis, None
    for piv in choices:
        if len(piv) != p:
            continue
        block = basis[list(piv)]
        sv = np.linalg.svd(block, compute_uv=False)
        if sv.min() <= 1e-8 * sv.max():
            continue
        cand = basis @ np.linalg.inv(block)
        scale = np.abs(cand).max(axis=0)
        nnz = int((np.abs(cand) > DROP_TOL * scale).sum())
        key = (nnz, -sv.min() / sv.max())
        if best_key is None or key < best_key:
            best, best_key = cand, key
    return best


def _greedy_pivots(basis: np.ndarray, support: np.ndarray) -> list[int]:
    """Pivot rows chosen from the last column backwards (Gaussian elimination)."""
    b = basis.copy()
    free = list(range(b.shape[1]))
    pivots: list[int] = []
    for row in support[::-1]:
        if not free:
            break
        k = max(free, key=lambda col: abs(b[row, col]))
        if abs(b[row, k]) <= DROP_TOL * np.abs(b).max():
            continue
        b[:, k] /= b[row, k]
        others = [m for m in range(b.shape[1]) if m != k]
        b[:, others] -= np.outer(b[:, k], b[row, others])
        free.remove(k)
        pivots.append(int(row))
    return pivots


def _normalise(v: np.ndarray) -> np.ndarray:
    """Largest |coef| = 1, tiny entries zeroed; most entries positive (tie: the first)."""
    v = v / np.abs(v).max()
    v = np.where(np.abs(v) > DROP_TOL, v, 0.0)
    pos, neg = int((v > 0).sum()), int((v < 0).sum())
    if neg > pos or (neg == pos and v[np.flatnonzero(v)[0]] < 0):
        v = -v
    return v + 0.0  # no negative zeros


def expression(coefs: np.ndarray, names: Sequence[str], digits: int = 3) -> str:
    """A readable linear combination, e.g. ``"q1 + q2 - 0.5 (intercept)"``.

    Positive terms first, then negative ones, each group in column order; a coefficient of
    (rounded) 1 is not written.
    """
    terms = []
    order = [i for i in range(len(names)) if coefs[i] > 0] + [
        i for i in range(len(names)) if coefs[i] < 0
    ]
    for i in order:
        mag = float(f"{abs(coefs[i]):.{digits}g}")
        text = names[i] if mag == 1 else f"{mag:g} {names[i]}"
        sign = "-" if coefs[i] < 0 else "+"
        terms.append(f"- {text}" if not terms and sign == "-" else f"{sign} {text}")
    out = " ".join(terms)
    return out[2:] if out.startswith("+ ") else out or "0"


def null_directions(
    design: np.ndarray, names: Sequence[str], tol: float = RANK_TOL
) -> list[dict[str, Any]]:
    """The null space of ``design`` as a sparse, readable basis.

    Parameters
    ----------
    design : ndarray, shape (n, p)
    names : sequence of str
        The p column names.
    tol : float
        Relative rank tolerance (singular values below ``tol * s_max`` are zero).

    Returns
    -------
    list of dict
        One per null direction: ``expression`` (str, e.g. ``"campaign_length_q1 + ... +
        campaign_length_q5 - (intercept)"``, read "= 0 on the data"), ``coefficients``
        ({name: coef}, non-zero entries only, largest |coef| = 1) and ``vector`` (the full
        normalised direction as a list, in column order).
    """
    names = tuple(names)
    if len(names) != np.shape(design)[1]:
        raise ValueError(f"{len(names)} names for {np.shape(design)[1]} design columns")
    out = []
    for v in _sparsest(null_basis(design, tol)).T:
        v = _normalise(v)
        out.append({
            "expression": expression(v, names),
            "coefficients": {n: round(float(c), 6) for n, c in zip(names, v, strict=True) if c},
            "vector": [float(c) for c in v],
        })  # fmt: skip
    return out


def is_estimable(
    c: np.ndarray | Sequence[float],
    design_matrix: np.ndarray,
    tol: float = RANK_TOL,
    atol: float = ESTIMABLE_TOL,
) -> bool:
    """Whether ``c . coef`` is estimable from ``design_matrix`` (``c`` in its row space).

    Parameters
    ----------
    c : array_like, shape (p,)
        Weights on the design's p coefficients (for ``[1 | X_site]``: intercept first).
    design_matrix : ndarray, shape (n, p)
    tol : float
        Relative rank tolerance.
    atol : float
        ``c`` is estimable when the norm of its projection on the null space is at most
        ``atol * |c|``.

    Returns
    -------
    bool
    """
    c = np.asarray(c, dtype=float)
    if c.shape != (np.shape(design_matrix)[1],):
        raise ValueError(f"c has shape {c.shape}, design has {np.shape(design_matrix)[1]} columns")
    norm = np.linalg.norm(c)
    if norm == 0:
        return True
    return bool(np.linalg.norm(null_basis(design_matrix, tol).T @ c) <= atol * norm)


def loading_directions(
    c: np.ndarray | Sequence[float],
    design_matrix: np.ndarray,
    names: Sequence[str],
    tol: float = RANK_TOL,
    atol: float = ESTIMABLE_TOL,
) -> list[str]:
    """The readable null directions (:func:`null_directions`) that ``c`` loads on.

    Empty exactly when ``c . coef`` is estimable.
    """
    if is_estimable(c, design_matrix, tol, atol):
        return []
    c = np.asarray(c, dtype=float)
    limit = atol * np.linalg.norm(c)
    return [
        d["expression"]
        for d in null_directions(design_matrix, names, tol)
        if abs(np.dot(d["vector"], c)) > limit
    ]


def explain_not_estimable(
    c: np.ndarray | Sequence[float],
    design_matrix: np.ndarray,
    names: Sequence[str],
    tol: float = RANK_TOL,
    atol: float = ESTIMABLE_TOL,
) -> str | None:
    """Why ``c . coef`` is not estimable, or None when it is.

    Returns
    -------
    str or None
        ``"it loads on the null direction '<expr> = 0' of the design (collinear columns)"``,
        naming each readable null direction ``v`` with ``c . v != 0``.
    """
    loads = loading_directions(c, design_matrix, names, tol, atol)
    if not loads:
        return None
    which = "; ".join(f"'{e} = 0'" for e in loads)
    plural = "s" if len(loads) > 1 else ""
    return f"it loads on the null direction{plural} {which} of the design (collinear columns)"


def _condition(s: np.ndarray, rank: int, n_cols: int) -> tuple[float | None, float | None]:
    """(s_max / s_min, None when rank deficient; s_max / smallest non-zero s)."""
    if not s.size or rank == 0:
        return None, None
    row_space = float(s.max() / s[rank - 1])
    return (row_space if rank == n_cols else None), row_space


def _block(design: np.ndarray, names: tuple[str, ...], label: str, tol: float) -> dict[str, Any]:
    """The JSON-ready check of one design matrix."""
    s, _, rank = _svd(design, tol)
    n_cols = design.shape[1]
    full, row_space = _condition(s, rank, n_cols)
    dirs = null_directions(design, names, tol) if rank < n_cols else []
    return {
        "matrix": label,
        "columns": list(names),
        "n_rows": int(design.shape[0]),
        "n_columns": int(n_cols),
        "rank": rank,
        "rank_deficiency": int(n_cols - rank),
        "condition_number": full,
        "condition_number_row_space": row_space,
        "null_directions": [d["expression"] for d in dirs],
        "null_coefficients": [d["coefficients"] for d in dirs],
        "identified": rank == n_cols,
    }


def _per_site_worker_rank(data: HierData, tol: float) -> dict[str, Any]:
    """Worksites whose own workers' X_worker rows have rank below K_w."""
    kw = len(data.worker_features)
    short = []
    for j, wid in enumerate(data.worksite_ids):
        rows = data.X_worker[data.site == j]
        if _svd(rows, tol)[2] < kw:
            short.append(wid)
    return {"sites_rank_deficient": len(short), "examples": short[:_MAX_EXAMPLES]}


def fold_columns(
    x_site: np.ndarray, beta_site: np.ndarray, names: tuple[str, ...], drop: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], float]:
    """Drop exactly collinear columns, folding their effects into the kept ones.

    Each dropped column is an exact linear combination ``g0 + X_kept @ g`` of the intercept and
    the kept columns (least squares; ``ValueError`` when it is not), so ``X @ beta ==
    const + X_kept @ beta_kept`` with ``beta_kept = beta[kept] + G @ beta[drop]`` and
    ``const = g0 @ beta[drop]``: every worksite's linear predictor is unchanged.

    Returns
    -------
    (X_kept, beta_kept, kept names, const)
    """
    di = [names.index(f) for f in drop]
    ki = [i for i in range(len(names)) if i not in di]
    design = np.hstack([np.ones((x_site.shape[0], 1)), x_site[:, ki]])
    g, *_ = np.linalg.lstsq(design, x_site[:, di], rcond=None)
    resid = np.abs(design @ g - x_site[:, di]).max()
    if resid > 1e-8 * max(1.0, np.abs(x_site[:, di]).max()):
        raise ValueError(f"data.design=identified: {drop} are not exactly collinear "
                         f"(residual {resid:.2g})")  # fmt: skip
    folded = g @ beta_site[di]
    kept_beta = beta_site[ki] + folded[1:]
    return x_site[:, ki], kept_beta, tuple(names[i] for i in ki), float(folded[0])


def design_check(data: HierData, tol: float = RANK_TOL) -> dict[str, Any]:
    """Rank, conditioning and null space of ``[1 | X_site]`` and of ``X_worker``.

    Parameters
    ----------
    data : HierData
    tol : float
        Relative rank tolerance: singular values below ``tol * s_max`` count as zero.

    Returns
    -------
    dict
        JSON-ready: ``identified`` (both blocks full column rank), ``tol``, ``site`` and
        ``worker`` (each: matrix, columns, n_rows, n_columns, rank, rank_deficiency,
        condition_number (s_max / s_min; None when rank deficient, i.e. infinite),
        condition_number_row_space (s_max / smallest non-zero s), null_directions (readable
        strings, each "= 0 on the data"), null_coefficients ({name: coef}), identified);
        ``worker`` also has ``per_site`` (worksites whose own rows of X_worker are rank
        deficient: their beta_worker rest partly on the prior), and ``messages`` (one line
        per problem).
    """
    site = _block(*site_design(data), "[1 | X_site]", tol)
    worker = _block(*worker_design(data), "X_worker", tol)
    worker["per_site"] = _per_site_worker_rank(data, tol)
    messages = [
        f"{b['matrix']} has rank {b['rank']} for {b['n_columns']} columns; not identified: "
        + "; ".join(f"{e} = 0" for e in b["null_directions"])
        for b in (site, worker)
        if not b["identified"]
    ]
    return {
        "identified": bool(site["identified"] and worker["identified"]),
        "tol": tol,
        "site": site,
        "worker": worker,
        "messages": messages,
    }


__all__ = [
    "ESTIMABLE_TOL",
    "INTERCEPT",
    "RANK_TOL",
    "design_check",
    "explain_not_estimable",
    "expression",
    "fold_columns",
    "is_estimable",
    "loading_directions",
    "null_basis",
    "null_directions",
    "site_design",
    "worker_design",
]
