"""What every bazenji plot shares: figure and axes set-up, showing and returning, colours, genomic axes."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

#: Colours per assay, shared by all plots so an assay looks the same everywhere.
ASSAY_COLORS = {"DNASE": "#1f77b4", "ATAC": "#17becf", "CHIP": "#2ca02c", "CAGE": "#d62728", "unknown": "#7f7f7f"}
OBSERVED_COLOR = "#4d4d4d"


def lane_axes(
    ax: Axes | Sequence[Axes] | None,
    n: int,
    *,
    height_ratios: Sequence[float] | None = None,
    figsize: tuple[float, float] | None = None,
    sharex: bool = True,
) -> tuple[Figure, list[Axes]]:
    """``n`` axes stacked vertically: a new figure, the given list of axes, or one axes split into lanes."""
    if ax is not None and not isinstance(ax, Axes):
        axes = list(np.ravel(ax))
        if len(axes) != n:
            raise ValueError(f"ax holds {len(axes)} axes; this plot needs {n} (or pass one axes to split)")
        return axes[0].figure, axes
    if ax is None:
        fig = plt.figure(figsize=figsize, layout="constrained")
        grid = fig.add_gridspec(n, 1, height_ratios=height_ratios, hspace=0.05)
    else:
        fig = ax.figure
        grid = _subgrid(ax, n, 1, height_ratios=height_ratios)
    axes = []
    for i in range(n):
        axes.append(fig.add_subplot(grid[i, 0], sharex=axes[0] if axes and sharex else None))
    return fig, axes


def grid_axes(
    ax: Axes | None, nrows: int, ncols: int, *, figsize: tuple[float, float] | None = None
) -> tuple[Figure, list[Axes]]:
    """A grid of ``nrows x ncols`` axes, row by row: in a new figure or splitting one given axes."""
    if ax is None:
        fig = plt.figure(figsize=figsize, layout="constrained")
        grid = fig.add_gridspec(nrows, ncols)
    else:
        fig = ax.figure
        grid = _subgrid(ax, nrows, ncols)
    return fig, [fig.add_subplot(grid[r, c]) for r in range(nrows) for c in range(ncols)]


def panel_grid(
    ax: Axes | None,
    nrows: int,
    ncols: int,
    *,
    height_ratios: Sequence[float] | None = None,
    width_ratios: Sequence[float] | None = None,
    figsize: tuple[float, float] | None = None,
):
    """A figure and a gridspec of panels: a new figure, or the place of one given axes."""
    if ax is None:
        fig = plt.figure(figsize=figsize, layout="constrained")
        grid = fig.add_gridspec(nrows, ncols, height_ratios=height_ratios, width_ratios=width_ratios)
        return fig, grid
    if not isinstance(ax, Axes):
        raise ValueError(f"ax is a {type(ax).__name__}; expected one matplotlib Axes to draw this plot into")
    return ax.figure, _subgrid(ax, nrows, ncols, height_ratios=height_ratios, width_ratios=width_ratios)


def _subgrid(ax: Axes, nrows: int, ncols: int, *, height_ratios=None, width_ratios=None):
    """A gridspec occupying the place of ``ax``, which is removed."""
    spec = ax.get_subplotspec()
    if spec is None:
        raise ValueError("ax must be a subplot (from plt.subplots or fig.add_subplot) to be split into panels")
    ax.remove()
    return spec.subgridspec(
        nrows, ncols, height_ratios=height_ratios, width_ratios=width_ratios, hspace=0.05, wspace=0.3
    )


def finish(fig: Figure, axes, *, show: bool | None, return_fig: bool, given_ax: bool):
    """Show and/or return, scanpy-style: the figure, the axes, or None once shown."""
    if show is None:
        show = not return_fig and not given_ax
    if show:
        if mpl.get_backend().lower() in {"agg", "pdf", "svg", "ps", "cairo", "template"}:
            return None  # nothing to show on a file-only backend; the figure stays open for savefig
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*non-interactive.*")
            plt.show()
        return None
    if return_fig:
        return fig
    return axes


def category_colors(values: Sequence, *, palette: dict | None = None) -> dict:
    """A colour per distinct value, in order of first appearance (assays get :data:`ASSAY_COLORS`)."""
    categories = list(dict.fromkeys(str(v) for v in values))
    cmap = plt.get_cmap("tab20" if len(categories) > 10 else "tab10")
    colors = {}
    for i, category in enumerate(categories):
        if palette and category in palette:
            colors[category] = palette[category]
        elif category in ASSAY_COLORS and palette is None:
            colors[category] = ASSAY_COLORS[category]
        else:
            colors[category] = mpl.colors.to_hex(cmap(i % cmap.N))
    return colors


def format_bp(value: float, _pos=None) -> str:
    """Genomic coordinate with thousands separators: ``1,234,567``."""
    return f"{int(round(value)):,}"


def genomic_xaxis(ax: Axes, chrom: str, start: int, end: int) -> None:
    """Coordinates on ``ax``'s x axis: the view ``[start, end)`` of ``chrom``, ticks in bp with separators."""
    ax.set_xlim(start, end)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
    ax.xaxis.set_major_formatter(FuncFormatter(format_bp))
    ax.set_xlabel(f"{chrom} (bp)")


def short_label(text: str, width: int = 32) -> str:
    """``text`` cut to ``width`` characters with an ellipsis."""
    text = str(text)
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def track_labels(var: pd.DataFrame | None, names: Sequence[str], width: int = 32) -> list[str]:
    """Readable lane labels: the description when the track table has one, else the track name.

    A description shared by several of the tracks gets the track name appended, so every label is unique.
    """
    descriptions = []
    for name in names:
        description = None
        if var is not None and "description" in var.columns and name in var.index:
            description = var.at[name, "description"]
        descriptions.append(description if isinstance(description, str) and description else None)
    counts = pd.Series([d for d in descriptions if d is not None]).value_counts()
    labels = []
    for name, description in zip(names, descriptions, strict=True):
        if description is None:
            labels.append(short_label(name, width))
        elif counts[description] > 1:
            labels.append(f"{short_label(description, width)}\n{short_label(name, width)}")
        else:
            labels.append(short_label(description, width))
    return labels
