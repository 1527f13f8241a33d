"""bazenji: Basenji2 predictions for the scverse."""

from importlib.metadata import PackageNotFoundError, version

from . import datasets, encode, io, models, pl, pp, store, tl
from ._settings import settings

try:
    __version__ = version("bazenji")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["datasets", "encode", "io", "models", "pl", "pp", "settings", "store", "tl"]
