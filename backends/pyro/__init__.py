"""Pyro backend: SVI with mean-field, low-rank and full-rank autoguides (``PyroSVI``).

``model.py`` (the Pyro model and its guides), ``vi.py`` (the backend), ``loop.py`` (the fit
loop), ``replicates.py`` (several fits of one data set in one vectorised loop), ``convert.py``
(guide draws to canonical arrays with ``log_q`` and ``lp``).  May import ``backends.spec``,
``backends.base`` and ``backends.convergence``.  Importing this package does not import torch
or pyro; constructing or fitting a :class:`PyroSVI` does.
"""

from backends.pyro.vi import PyroSVI

__all__ = ["PyroSVI"]
