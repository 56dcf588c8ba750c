"""Pyro backend: SVI with mean-field, low-rank and full-rank autoguides.

Importing this package does not import torch or pyro; :meth:`PyroSVI.fit` does.
"""

from backends.pyro.svi import PyroSVI

__all__ = ["PyroSVI"]
