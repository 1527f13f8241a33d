"""Reading what bazenji takes in: track tables, variants, and (from other modules) genomes and regions."""

from . import bigwig
from .bigwig import BigWigTracks, check_chromosomes, read_binned, read_window_targets
from .export import write_bedgraph, write_bigwig, write_igv_session, write_trackhub
from .genes import read_genes
from .genome import Genome
from .regions import read_regions
from .targets import default_targets, read_targets, select_tracks
from .variant_export import write_variant_table, write_vcf
from .vcf import read_vcf

__all__ = [
    "Genome",
    "read_regions",
    "read_genes",
    "BigWigTracks",
    "bigwig",
    "check_chromosomes",
    "read_binned",
    "read_window_targets",
    "default_targets",
    "read_targets",
    "read_vcf",
    "select_tracks",
    "write_bedgraph",
    "write_bigwig",
    "write_igv_session",
    "write_trackhub",
    "write_variant_table",
    "write_vcf",
]
