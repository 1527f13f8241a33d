"""Tools: prediction, training, evaluation, region-level analysis and per-cell track scores."""

from ._annotate import annotate_cells
from ._cluster import cluster_regions
from ._embeddings import cache_embeddings
from ._genes import observe_genes, predict_genes
from ._ism import attributions, ism
from ._predict import predict
from ._rank import rank_tracks
from ._score_cells import score_cells
from ._train import History, evaluate, train
from ._variants import variant_effect

__all__ = [
    "History",
    "annotate_cells",
    "attributions",
    "cache_embeddings",
    "cluster_regions",
    "evaluate",
    "ism",
    "observe_genes",
    "predict",
    "predict_genes",
    "rank_tracks",
    "score_cells",
    "train",
    "variant_effect",
]
