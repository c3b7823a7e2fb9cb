"""Datasets: the FUN/GO/others HMC benchmarks and the image hierarchies.

``load_benchmark`` and ``load_image_hierarchy`` are imported on first use, so that ``import hmc.data``
stays cheap (no torch import).
"""

from hmc.data.paths import cache_dir, data_dirs, find, locate

_LAZY = {
    "load_benchmark": "hmc.data.benchmarks",
    "BENCHMARKS": "hmc.data.benchmarks",
    "load_image_hierarchy": "hmc.data.images",
    "IMAGE_HIERARCHIES": "hmc.data.images",
}

__all__ = ["cache_dir", "data_dirs", "find", "locate", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hmc.data' has no attribute {name!r}")
