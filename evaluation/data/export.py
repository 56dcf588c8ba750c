"""Export the synthetic twin as a units table and a groups table (the ``data=paper_tables`` layout).

    ppl-compare-export OUT_DIR [--n-worksites 120] [--n-workers 16553] [--sigma-worker 0.0063]
                               [--seed 0] [--format csv|parquet] [--force]

writes ``OUT_DIR/units.<ext>`` (worker_id, worksite_id, signed, is_male, first_convo_quartile,
eigen_centrality, n_notes) and ``OUT_DIR/groups.<ext>`` (worksite_id and the 14 raw worksite
columns), each atomically.  Existing tables there are never replaced without ``--force``: the
command stops with one line (exit status 2) and writes nothing, as it does when ``OUT_DIR``
cannot be written.  Loading them with ``data=paper_tables`` gives the same arrays as the twin::

    ppl-compare data=paper_tables data.units_path=OUT_DIR/units.csv \\
        data.groups_path=OUT_DIR/groups.csv
"""

from __future__ import annotations

import argparse
import errno
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from evaluation import io
from evaluation.data.tables import DataValidationError
from evaluation.data.twin import paper_twin_tables

FORMATS: tuple[str, ...] = ("csv", "parquet")


class ExportedTables(NamedTuple):
    """Paths of the two written tables."""

    units: Path
    groups: Path


def export_twin(
    out_dir: str | Path,
    n_worksites: int = 120,
    n_workers: int = 16553,
    sigma_worker: float = 0.0063,
    seed: int = 0,
    fmt: str = "csv",
    force: bool = False,
    **knobs,
) -> ExportedTables:
    """Write the twin's raw tables (``paper_twin_tables``) to ``out_dir``, atomically.

    Parameters
    ----------
    out_dir : str or Path
        Created if absent.
    n_worksites, n_workers, sigma_worker, seed
        Twin knobs, as in :func:`evaluation.data.make_paper_twin`.
    fmt : {"csv", "parquet"}
        Parquet needs pyarrow.
    force : bool
        Replace existing ``units``/``groups`` tables (else they stop the export).
    **knobs
        Other :func:`~evaluation.data.make_paper_twin` knobs (``prevalence``, ``n_clusters``,
        ...).

    Returns
    -------
    ExportedTables

    Raises
    ------
    ExportRefused
        A table is already there and ``force`` is false; nothing is written.
    OSError
        ``out_dir`` cannot be created or written (e.g. it is a file, or read-only).
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise DataValidationError(
                "writing Parquet needs pyarrow; pip install pyarrow (or use --format csv)"
            ) from None
    out = Path(out_dir)
    paths = ExportedTables(units=out / f"units.{fmt}", groups=out / f"groups.{fmt}")
    _check_target(out, paths, force)
    tables = paper_twin_tables(n_worksites=n_worksites, n_workers=n_workers,
                               sigma_worker=sigma_worker, seed=seed, **knobs)  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    for frame, path in ((tables.units, paths.units), (tables.groups, paths.groups)):
        if fmt == "csv":
            # shortest round-trip float repr: the loader reproduces the twin's arrays exactly
            io.write_text(path, frame.to_csv(index=False))
        else:
            io.write_with(path, lambda tmp, frame=frame: frame.to_parquet(tmp, index=False))
    return paths


class ExportRefused(Exception):
    """Tables are already in the output directory and ``force`` is false."""


def _check_target(out: Path, paths: ExportedTables, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "it is a file, not a directory", str(out))
    there = [p.name for p in paths if p.exists() or p.is_symlink()]
    if there and not force:
        verb = "exist" if len(there) > 1 else "exists"
        raise ExportRefused(f"{' and '.join(there)} already {verb} in {out}; nothing written "
                            f"(--force replaces them)")  # fmt: skip


def write_example_tables(
    out_dir: str | Path, n_groups: int = 6, n_units: int = 200, seed: int = 0
) -> ExportedTables:
    """A tiny pair of tables in the ``paper_tables`` layout (for tests and examples).

    Parameters
    ----------
    out_dir : str or Path
    n_groups, n_units : int
        Worksites and workers (``n_units >= 2 * n_groups``).
    seed : int

    Returns
    -------
    ExportedTables
        ``units.csv`` and ``groups.csv``; load with ``data=paper_tables``.
    """
    return export_twin(out_dir, n_worksites=n_groups, n_workers=n_units, seed=seed,
                       sigma_worker=0.5, prevalence=0.3)  # fmt: skip


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ppl-compare-export",
        description="Write the synthetic twin as units + groups tables (data=paper_tables).",
    )
    p.add_argument("out_dir", type=Path, help="directory for units.<ext> and groups.<ext>")
    p.add_argument("--n-worksites", type=int, default=120)
    p.add_argument("--n-workers", type=int, default=16553)
    p.add_argument("--sigma-worker", type=float, default=0.0063)
    p.add_argument("--prevalence", type=float, default=0.17)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--format", choices=FORMATS, default="csv")
    p.add_argument("--force", action="store_true",
                   help="replace units/groups tables already in OUT_DIR")  # fmt: skip
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry ``ppl-compare-export``; returns the exit code (0 written, 2 nothing
    written: a bad option, tables already there without ``--force``, or an unwritable
    ``OUT_DIR``; one line on stderr)."""
    args = _parser().parse_args(argv)
    try:
        paths = export_twin(args.out_dir, n_worksites=args.n_worksites,
                            n_workers=args.n_workers, sigma_worker=args.sigma_worker,
                            seed=args.seed, fmt=args.format, force=args.force,
                            prevalence=args.prevalence)  # fmt: skip
    except ExportRefused as exc:
        return _error(str(exc))
    except OSError as exc:  # a file where the dir should be, a read-only dir, a full disk
        return _error(f"cannot write to {exc.filename or args.out_dir} "
                      f"({exc.strerror or exc}); choose another OUT_DIR")  # fmt: skip
    except ValueError as exc:  # the twin names its knobs data.<knob>: show the option instead
        return _error(re.sub(r"data\.(\w+)", lambda m: "--" + m[1].replace("_", "-"), str(exc)))
    print(f"wrote {paths.units} and {paths.groups}")
    print(f"load with: ppl-compare data=paper_tables data.units_path={paths.units} "
          f"data.groups_path={paths.groups}")  # fmt: skip
    return 0


def _error(message: str) -> int:
    print(f"ppl-compare-export: error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


__all__ = [
    "FORMATS",
    "ExportRefused",
    "ExportedTables",
    "export_twin",
    "main",
    "write_example_tables",
]
