"""Writing run outputs so that a crash never leaves a file that looks complete.

Every writer here goes to a temporary name in the destination directory and is renamed into
place (``os.replace`` is atomic on one file system).  ``metrics.json`` is written last by the
app, so its presence with ``"status": "complete"`` marks a finished run.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np


def _atomic(path: Path, write: Callable[[Path], None]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def to_jsonable(obj: Any) -> Any:
    """Convert NumPy scalars/arrays, paths and non-finite floats (-> None) for JSON."""
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.bool_ | bool):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(path: Path, payload: Mapping[str, Any]) -> Path:
    """Write ``payload`` as indented JSON, atomically."""
    text = json.dumps(to_jsonable(payload), indent=2, allow_nan=False)
    return _atomic(Path(path), lambda tmp: tmp.write_text(text + "\n"))


def write_netcdf(path: Path, obj: Any) -> Path:
    """Write an InferenceData or xarray Dataset to netCDF, atomically."""
    return _atomic(Path(path), lambda tmp: obj.to_netcdf(str(tmp)))


def read_json(path: Path) -> dict[str, Any]:
    """Read a JSON file."""
    return json.loads(Path(path).read_text())


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the non-interactive Agg backend (the one place it is set)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: Path) -> Path:
    """Save a matplotlib figure as PNG atomically and close it."""
    import matplotlib.pyplot as plt

    try:
        return _atomic(
            Path(path), lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
        )
    finally:
        plt.close(fig)


def plot_loss(
    loss: np.ndarray,
    path: Path,
    *,
    title: str,
    converged_step: int | None,
    steps: np.ndarray | None = None,
) -> Path:
    """The VI loss trace (negative ELBO), with the convergence step marked.

    ``steps`` are the iteration numbers of the recorded losses (CmdStan records one every
    ``eval_elbo`` iterations); by default one loss per step, numbered from 1.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    loss = np.asarray(loss, dtype=float)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    x = np.arange(1, loss.size + 1) if steps is None else np.asarray(steps, dtype=float)
    ax.plot(x, loss, lw=0.6, color="tab:blue", marker="." if loss.size < 200 else None)
    if loss.size and np.isfinite(loss).all():
        lo, hi = np.percentile(loss, [0.5, 99.5]) if loss.size > 200 else (loss.min(), loss.max())
        pad = 0.05 * max(hi - lo, 1e-9)
        ax.set_ylim(lo - pad, hi + pad)
    if converged_step is not None:
        ax.axvline(
            converged_step,
            color="tab:red",
            ls="--",
            lw=1,
            label=f"converged at step {converged_step}",
        )
        ax.legend(loc="upper right")
    ax.set(xlabel="step", ylabel="loss (negative ELBO)", title=title)
    return save_figure(fig, path)
