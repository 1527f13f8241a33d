"""Preprocessing: regions, windows and observed tracks, scanpy-style."""

from ._bigwig import import_bigwigs
from ._encode import encode
from ._regions import regions
from ._training_data import split_by_chrom, tile_genome
from ._transform import transform_tracks
from ._windows import plan_windows

__all__ = ["encode", "import_bigwigs", "plan_windows", "regions", "split_by_chrom", "tile_genome", "transform_tracks"]
