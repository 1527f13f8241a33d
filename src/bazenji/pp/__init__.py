"""Preprocessing: regions, windows and observed tracks, scanpy-style."""

from ._bigwig import import_bigwigs
from ._regions import regions

__all__ = ["import_bigwigs", "regions"]
