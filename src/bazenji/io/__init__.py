"""Reading what bazenji takes in: track tables, variants, and (from other modules) genomes and regions."""

from .targets import default_targets, read_targets, select_tracks

__all__ = ["default_targets", "read_targets", "select_tracks"]
