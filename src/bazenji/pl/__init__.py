"""Plotting: track profiles at a locus, region x track heatmaps, predicted vs observed, training curves."""

from ._heatmap import region_heatmap
from ._history import training_history
from ._logo import logo
from ._scatter import predicted_vs_observed
from ._tracks import tracks

__all__ = ["logo", "predicted_vs_observed", "region_heatmap", "tracks", "training_history"]
