"""PyMC backends: ``pymc_nuts`` (nutpie or PyMC NUTS), ``pymc_meanfield``, ``pymc_fullrank``.

Importing this package does not import PyMC; each ``fit`` does.
"""

from backends.pymc.advi import PyMCADVI
from backends.pymc.nuts import PyMCNUTS

__all__ = ["PyMCADVI", "PyMCNUTS"]
