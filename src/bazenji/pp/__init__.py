"""Preprocessing: regions, windows and observed tracks, scanpy-style."""

from ._bigwig import import_bigwigs

__all__ = ["import_bigwigs"]
