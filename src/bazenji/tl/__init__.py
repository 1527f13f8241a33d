"""Tools: prediction, training, evaluation and region-level analysis."""

from ._cluster import cluster_regions
from ._rank import rank_tracks

__all__ = ["cluster_regions", "rank_tracks"]
