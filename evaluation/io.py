"""Writing run outputs so that a crash never leaves a file that looks complete.

Every writer here goes to a temporary name in the destination directory and is renamed into
place (``os.replace`` is atomic on one file system).  ``metrics.json`` is written last by the
app, so its presence with ``"status": "complete"`` marks a finished run.
"""

from __future__ import annotations

import json
import math
import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np


def _temp_file(path: Path) -> Path:
    """Create an empty ``.<name>.<random>.tmp`` next to ``path``, mode ``0o666 & ~umask``.

    ``tempfile.mkstemp`` would create it ``0600`` and ``os.replace`` keeps that mode, so
    results would be owner-only whatever the umask; ``os.open`` with ``0o666`` lets the umask
    decide, as for any file the user creates.
    """
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"{path.parent}: no free temporary name for {path.name}")


def _atomic(path: Path, write: Callable[[Path], None]) -> Path:
    """Run ``write(tmp)`` on a temporary file next to ``path``, then rename it to ``path``.

    The file gets the umask's permissions (e.g. ``0644`` under umask ``022``); the temporary
    file is removed if ``write`` fails or the process is interrupted by an exception.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_file(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
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


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8), atomically."""
    return _atomic(Path(path), lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_with(path: Path, write: Callable[[Path], None]) -> Path:
    """Write ``path`` atomically with ``write(tmp)``, a writer of a temporary file next to it
    (e.g. ``lambda tmp: frame.to_parquet(tmp)``)."""
    return _atomic(Path(path), write)


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


def save_figure(fig: Any, path: Path, dpi: int = 110) -> Path:
    """Save a matplotlib figure as PNG (``dpi`` dots per inch) atomically and close it."""
    import matplotlib.pyplot as plt

    try:
        return _atomic(
            Path(path), lambda tmp: fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
        )
    finally:
        plt.close(fig)
