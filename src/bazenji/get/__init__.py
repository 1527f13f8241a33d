"""Getters: bazenji's results stored in a user's AnnData, handed back as AnnData scanpy can plot."""

from ._getters import scores, tracks

__all__ = ["scores", "tracks"]
