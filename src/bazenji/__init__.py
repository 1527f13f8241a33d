"""bazenji: Basenji2 predictions for the scverse."""

import importlib
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("bazenji")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["datasets", "encode", "get", "io", "models", "pl", "pp", "settings", "store", "tl"]

# The subpackages (and the settings, which import torch) are imported on first use (PEP 562): importing them
# all eagerly pulls in torch, scanpy, anndata, zarr and numba, several seconds that `bazenji --help` and a
# mistyped option should not pay. `bz.tl` and `from bazenji import tl` behave as before; the import merely
# happens at the first access instead of at `import bazenji`.


def __getattr__(name: str):
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    # The settings first, whatever is asked for: their import applies BAZENJI_THREADS and sets the level of the
    # `bazenji` logger, which the eager import guaranteed before any subpackage ran (bz.models alone computes
    # with torch, and the io and store modules log, without importing the settings themselves).
    settings = importlib.import_module("._settings", __name__).settings
    value = settings if name == "settings" else importlib.import_module(f".{name}", __name__)
    globals()[name] = value  # later lookups are plain attribute reads, no longer routed through here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
