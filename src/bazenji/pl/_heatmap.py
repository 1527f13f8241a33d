"""Regions x tracks heatmap: rows ordered by region group, columns annotated with the track table."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from anndata import AnnData
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.legend import Legend
from matplotlib.patches import Patch

from ..io.targets import TrackSelection, select_tracks
from ..tl._cluster import track_matrix
from ._utils import annotation_colors, assay_colors, category_colors, finish, panel_grid, value_kind

__all__ = ["region_heatmap"]

SCALES = ("track", "region", None)
MAX_LEGEND = 12  # annotation categories beyond this get a colour bar but no legend


def region_heatmap(
    adata: AnnData,
    *,
    groupby: str,
    tracks: TrackSelection = None,
    layer: str | None = None,
    transform: str | None = "log1p",
    standard_scale: str | None = "track",
    annotations: Sequence[str] = ("assay", "biosample"),
    sort_tracks: bool = True,
    cmap: str = "viridis",
    figsize: tuple[float, float] | None = None,
    ax: Axes | None = None,
    show: bool | None = None,
    return_fig: bool = False,
):
    """Heatmap of regions x tracks, regions ordered by group, tracks annotated by assay and biosample.

    Parameters
    ----------
    adata
        Regions x tracks.
    groupby
        ``obs`` column of region groups (e.g. ``"bz_cluster"`` from :func:`bazenji.tl.cluster_regions`); rows
        are ordered by its categories, keeping the input order within a group. Group colours are read from
        ``uns[f"{groupby}_colors"]`` when scanpy put them there.
    tracks
        Tracks to show, in any form :func:`bazenji.io.select_tracks` accepts; all by default.
    layer
        Read coverage from this layer instead of ``X``. Whether the values are predicted or observed is read from
        bazenji's records in ``uns`` (:func:`bazenji.tl.predict`, :func:`bazenji.pp.import_bigwigs`) and said in
        the colour bar's label.
    transform
        ``"log1p"``, ``"asinh"`` or None (already transformed).
    standard_scale
        ``"track"``: each column scaled to [0, 1]; ``"region"``: each row; None: the values as they are.
    annotations
        Track table columns drawn as colour bars above the heatmap (those absent from ``var`` are skipped), each
        labelled with its column name and explained by a legend titled the same. ``assay`` has the assay colours
        every bz.pl plot uses; the other bars colours that are none of those and none of each other's.
    sort_tracks
        Order columns by the annotations (stable), so each assay and biosample forms a block.
    cmap
        Colour map of the heatmap.
    figsize
        Figure size; default 8 x 6.
    ax
        An axes whose place the heatmap and its bars take.
    show
        Show the figure (:func:`matplotlib.pyplot.show`). None: show it unless ``ax`` or ``return_fig`` is given
        or matplotlib cannot show figures (a file-only backend such as Agg: scripts, tests, CI).
    return_fig
        Return the figure.

    Returns
    -------
    The figure with ``return_fig``; else, when not shown, a dict of axes: ``"heatmap"``, ``"groups"``,
    ``"colorbar"``, one per annotation drawn, and ``"legend"`` when a legend is drawn (annotations with at most 12
    categories); else (shown) None.

    Raises
    ------
    ValueError
        ``groupby`` is not an ``obs`` column, a bad ``standard_scale``, layer, transform or track selection.
    """
    if groupby not in adata.obs.columns:
        raise ValueError(f"groupby={groupby!r} is not a column of adata.obs (columns: {list(adata.obs.columns)})")
    if standard_scale not in SCALES:
        raise ValueError(f"standard_scale={standard_scale!r}; expected one of {SCALES}")
    positions = select_tracks(adata.var, tracks)
    var = adata.var.iloc[positions]
    drawn = [c for c in annotations if c in var.columns]
    if sort_tracks and drawn:
        keys = pd.DataFrame({c: var[c].astype(str).to_numpy() for c in drawn})
        order = keys.sort_values(drawn, kind="stable").index.to_numpy()
        positions, var = positions[order], var.iloc[order]
    labels = adata.obs[groupby]
    if not isinstance(labels.dtype, pd.CategoricalDtype):
        labels = labels.astype(str).astype("category")
    labels = labels.cat.remove_unused_categories()
    rows = np.argsort(labels.cat.codes.to_numpy(), kind="stable")
    matrix = track_matrix(adata, positions, layer=layer, transform=transform)[rows]
    matrix = _standardise(matrix, standard_scale)

    palettes, used = {}, []
    for column in drawn:
        # assays in their colours of every bz.pl plot; other bars from a palette none of those belong to, and
        # each bar clear of the colours the bars before it took, so no two bars' colours can be confused
        values = var[column].astype(str)
        palettes[column] = assay_colors(values) if column == "assay" else annotation_colors(values, avoid=used)
        used += palettes[column].values()
    legends = [c for c in drawn if len(palettes[c]) <= MAX_LEGEND]
    n_bars = len(drawn)
    fig, grid = panel_grid(
        ax,
        n_bars + 1,
        4,
        height_ratios=[0.35] * n_bars + [10],
        width_ratios=[0.4, 12, 0.35, 2.6 if legends else 0.01],
        figsize=figsize or (8 + 1.5 * bool(legends), 6),
    )
    axes = {"heatmap": fig.add_subplot(grid[n_bars, 1])}
    image = axes["heatmap"].imshow(matrix, aspect="auto", interpolation="nearest", cmap=cmap)
    axes["heatmap"].set_xlabel(f"tracks ({len(positions)})")
    if len(positions) <= 40:
        axes["heatmap"].set_xticks(np.arange(len(positions)), list(var.index.astype(str)), rotation=90, fontsize=6)
    else:
        axes["heatmap"].set_xticks([])

    axes["groups"] = fig.add_subplot(grid[n_bars, 0], sharey=axes["heatmap"])
    groups = labels.cat.categories.astype(str)
    colors = _group_colors(adata, groupby, groups)
    codes = labels.cat.codes.to_numpy()[rows]
    axes["groups"].imshow(codes[:, None], aspect="auto", interpolation="nearest",
                          cmap=ListedColormap(colors), vmin=-0.5, vmax=len(groups) - 0.5)  # fmt: skip
    axes["groups"].set_xticks([])
    for bound in np.flatnonzero(np.diff(codes)) + 0.5:
        axes["heatmap"].axhline(bound, color="white", lw=0.8)
    present = [i for i in range(len(groups)) if (codes == i).any()]
    axes["groups"].set_yticks([np.flatnonzero(codes == i).mean() for i in present], [groups[i] for i in present],
                              fontsize=8)  # fmt: skip
    axes["groups"].set_ylabel(f"{groupby} ({adata.n_obs} regions)")
    axes["heatmap"].tick_params(axis="y", left=False, labelleft=False)

    for i, column in enumerate(drawn):
        bar = fig.add_subplot(grid[i, 1], sharex=axes["heatmap"])
        palette = palettes[column]
        categories = list(palette)
        codes = [categories.index(v) for v in var[column].astype(str)]
        bar.imshow(np.array([codes]), aspect="auto", interpolation="nearest",
                   cmap=ListedColormap([palette[c] for c in categories]), vmin=-0.5,
                   vmax=len(categories) - 0.5)  # fmt: skip
        bar.set_yticks([0], [column], fontsize=7)
        bar.tick_params(axis="x", bottom=False, labelbottom=False)
        axes[column] = bar
    axes["colorbar"] = fig.add_subplot(grid[n_bars, 2])
    label = _value_label(value_kind(adata, layer), transform, standard_scale)
    fig.colorbar(image, cax=axes["colorbar"], label=label)
    if legends:
        axes["legend"] = fig.add_subplot(grid[n_bars, 3])
        axes["legend"].axis("off")
        for k, column in enumerate(legends):
            handles = [Patch(color=color, label=category) for category, color in palettes[column].items()]
            axes["legend"].add_artist(Legend(axes["legend"], handles, [h.get_label() for h in handles], title=column,
                                             fontsize=7, title_fontsize=8, frameon=False, loc="upper left",
                                             bbox_to_anchor=(0, 1 - 0.45 * k)))  # fmt: skip
    return finish(fig, axes, show=show, return_fig=return_fig, given_ax=ax is not None)


def _standardise(matrix: np.ndarray, how: str | None) -> np.ndarray:
    if how is None:
        return matrix
    axis = 0 if how == "track" else 1
    low = matrix.min(axis=axis, keepdims=True)
    span = matrix.max(axis=axis, keepdims=True) - low
    return np.divide(matrix - low, span, out=np.zeros_like(matrix), where=span > 0)


def _group_colors(adata: AnnData, groupby: str, groups) -> list[str]:
    stored = adata.uns.get(f"{groupby}_colors")
    if stored is not None and len(stored) >= len(groups):
        return list(stored)[: len(groups)]
    palette = category_colors(groups)
    return [palette[g] for g in groups]


def _value_label(kind: str | None, transform: str | None, standard_scale: str | None) -> str:
    coverage = "coverage" if kind is None else f"{kind} coverage"
    value = {"log1p": f"log1p({coverage})", "asinh": f"asinh({coverage})", None: coverage}[transform]
    return value if standard_scale is None else f"{value}, scaled per {standard_scale}"
