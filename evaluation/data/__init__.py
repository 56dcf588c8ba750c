"""Data for the backends: the paper's synthetic twin, your own tables, splits and export.

``features`` (a leaf: the paper's feature names and transforms), ``twin`` (the synthetic twin
with a known truth), ``recipes`` and ``tables`` (the two-table loader), ``load`` (a data config
-> HierData), ``split`` (held-out workers or worksites), ``export`` (the twin as tables),
``posterior_world`` (new outcomes on a real design at one posterior draw; it never fits: the
posterior comes from :mod:`evaluation.api.datasets`).
May import ``backends.spec``, ``evaluation.config`` and ``evaluation.io`` only.
"""
