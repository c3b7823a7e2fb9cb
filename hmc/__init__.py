"""hmc: a reproducible study of hierarchical multi-label classification.

The library behind the study's notebooks and book: hierarchies and datasets, models, losses,
metrics and statistics for HCAL and the rare-node loss on C-HMCNN. Importing ``hmc`` is cheap and
needs no GPU; submodules that need torch import it themselves.
"""

from hmc.errors import DatasetMissingError, HierarchyError, HMCDataError
from hmc.hierarchy import Hierarchy

__version__ = "0.1.0"

__all__ = ["Hierarchy", "HMCDataError", "HierarchyError", "DatasetMissingError", "__version__"]
