"""Plotting: track profiles at a locus, region x track heatmaps, predicted vs observed, training curves.

Every function shows and returns the same way, as scanpy's plots do:

- ``show=None`` (the default) shows the figure unless ``ax`` or ``return_fig`` is given or matplotlib cannot show
  figures (a file-only backend such as Agg: scripts, tests, CI); ``show=True`` / ``False`` always / never shows;
- ``return_fig=True`` returns the figure;
- otherwise a figure that was not shown returns its axes: one ``Axes`` (:func:`logo`), or a dict of named axes for
  the plots made of several (:func:`tracks`, :func:`region_heatmap`, :func:`predicted_vs_observed`,
  :func:`training_history`, :func:`cell_annotation`);
- a shown figure returns None.

:func:`predicted_vs_observed` computes a table: it returns the table, paired with the figure or the axes only when
asked for them (``return_fig=True``, ``show=False``).
"""

from ._annotation import cell_annotation
from ._heatmap import region_heatmap
from ._history import training_history
from ._logo import logo
from ._scatter import predicted_vs_observed
from ._tracks import tracks

__all__ = ["cell_annotation", "logo", "predicted_vs_observed", "region_heatmap", "tracks", "training_history"]
