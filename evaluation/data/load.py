"""The data dispatcher: a data config -> HierData (``paper`` twin, ``tables``, ``paper_tables``).

The split is applied by :mod:`evaluation.data.split`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from backends.spec import HierData
from evaluation.config import generator_knobs, plain
from evaluation.config.schema import PaperData, keys_of
from evaluation.data.public import public_tables
from evaluation.data.tables import load_tables
from evaluation.data.twin import make_paper_twin

DATA_KINDS: tuple[str, ...] = ("paper", "tables", "paper_tables")


def load_data(cfg: Mapping) -> HierData:
    """Build the data set a data config describes, dispatching on ``cfg["kind"]``.

    ``"paper"``: :func:`make_paper_twin` with the config's knobs; ``"tables"`` and
    ``"paper_tables"``: :func:`evaluation.data.tables.load_tables`, on the tables of a
    package's data set built in memory when the config has a ``source``
    (:func:`evaluation.data.public.public_tables`).  Nothing is written.  The split is not
    applied here (see :func:`split_from_config`).
    """
    kind = plain(cfg).get("kind")
    if kind == "paper":
        knobs = generator_knobs(cfg)
        allowed = set(generator_knobs({k: None for k in keys_of(PaperData)}))
        unknown = sorted(set(knobs) - allowed)
        if unknown:
            raise ValueError(f"data: unknown keys {unknown} for kind 'paper'; "
                             f"knobs are {sorted(allowed)}")  # fmt: skip
        data = make_paper_twin(**knobs)
        name = str(plain(cfg).get("name", data.name))
        return data if name == data.name else dataclasses.replace(data, name=name)
    if kind in ("tables", "paper_tables"):
        source = plain(cfg).get("source")
        return load_tables(cfg, public_tables(str(source)) if source else None)
    raise ValueError(f"data.kind must be one of {DATA_KINDS}, got {kind!r}")
