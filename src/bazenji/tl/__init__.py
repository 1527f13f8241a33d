"""Tools: prediction, training, evaluation and region-level analysis."""

from ._cluster import cluster_regions
from ._embeddings import cache_embeddings
from ._ism import attributions, ism
from ._predict import predict
from ._rank import rank_tracks
from ._train import History, evaluate, train
from ._variants import variant_effect

__all__ = [
    "History",
    "attributions",
    "cache_embeddings",
    "cluster_regions",
    "evaluate",
    "ism",
    "predict",
    "rank_tracks",
    "train",
    "variant_effect",
]
