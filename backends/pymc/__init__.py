"""PyMC backends: ``pymc_nuts`` (``PyMCNUTS``: nutpie or PyMC NUTS), ``pymc_meanfield`` and
``pymc_fullrank`` (``PyMCADVI``), ``pymc_pathfinder`` (``PyMCPathfinder``) and ``pymc_dadvi``
(``PyMCDADVI``) through ``pymc-extras``.

``model.py`` (the ``pm.Model``), ``nuts.py``, ``vi.py``, ``pathfinder.py``, ``dadvi.py``,
``convert.py`` (PyMC / nutpie output and the fitted approximation to canonical arrays,
``log_q`` and ``lp``).  May import ``backends.spec``, ``backends.base`` and
``backends.convergence``.  Importing this package does not import PyMC; each ``fit`` does.
"""

from backends.pymc.dadvi import PyMCDADVI
from backends.pymc.nuts import PyMCNUTS
from backends.pymc.pathfinder import PyMCPathfinder
from backends.pymc.vi import PyMCADVI

__all__ = ["PyMCADVI", "PyMCDADVI", "PyMCNUTS", "PyMCPathfinder"]
