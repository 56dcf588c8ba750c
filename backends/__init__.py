"""The model contract and its implementations, one sub-package per PPL.

``spec`` (names, dims, priors, HierData, the NumPy reference log density) and ``base`` (the
Backend protocol, FitResult, the one helper that finishes a fit) are the contract;
``pyro/``, ``pymc/`` and ``stan/`` share one layout (``model.py``, ``nuts.py`` and/or ``vi.py``,
``convert.py``) and import their PPL lazily.  Nothing here imports ``evaluation``.
"""
