"""Reading what bazenji takes in: track tables, variants, and (from other modules) genomes and regions."""

from .targets import default_targets, read_targets, select_tracks
from .vcf import read_vcf

__all__ = ["default_targets", "read_targets", "read_vcf", "select_tracks"]
