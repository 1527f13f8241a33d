"""What every bazenji plot shares: figure and axes set-up, showing and returning, colours, genomic axes."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

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
#: Colours of annotations that are not assays (biosamples): Dark2, Set2 and tab20b, none of them a tab10/tab20 colour
#: (those the assays get), so a biosample never has an assay's colour. Ordered greedily, each the farthest (CIELAB)
#: from the assay colours and the colours before it, so that the few biosamples of a usual plot look least alike.
ANNOTATION_COLORS = (
    "#e6ab02", "#ce6dbd", "#e5c494", "#843c39", "#637939", "#fc8d62", "#b5cf6b", "#1b9e77",
    "#e7298a", "#a6761d", "#6b6ecf", "#7b4173", "#d95f02", "#d6616b", "#393b79", "#8da0cb",
    "#e7ba52", "#ffd92f", "#66c2a5", "#7570b3", "#a6d854", "#8c6d31", "#66a61e", "#e78ac3",
)  # fmt: skip
#: matplotlib's built-in backends that only write files (used when no ``backend_registry`` lists them)
_FILE_BACKENDS = {"agg", "cairo", "pdf", "pgf", "ps", "svg", "template"}


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


def interactive() -> bool:
    """Whether figures can be shown: matplotlib's backend is not a file-only one (Agg, PDF, SVG, ...).

    Scripts, tests and CI run on such backends; Jupyter's inline backend and GUI backends are interactive.
    """
    backend = str(mpl.get_backend()).lower()
    try:
        from matplotlib.backends import BackendFilter, backend_registry
    except ImportError:  # matplotlib < 3.9 has no registry
        file_only = _FILE_BACKENDS
    else:
        file_only = set(backend_registry.list_builtin(BackendFilter.NON_INTERACTIVE))
    return backend not in file_only


def finish(fig: Figure, axes, *, show: bool | None, return_fig: bool, given_ax: bool):
    """Show and return the way every bz.pl function does.

    ``show=None`` shows unless the caller drew into its own ``ax``, asked for the figure, or matplotlib cannot show
    figures (a file-only backend such as Agg: scripts, tests, CI). Returned: the figure with ``return_fig``; else
    ``axes`` when not shown; else None (the figure was shown).
    """
    if show is None:
        show = not return_fig and not given_ax and interactive()
    if show:
        with warnings.catch_warnings():
            # show=True on a file-only backend: nothing to show, and matplotlib's warning would say only that
            warnings.filterwarnings("ignore", message=".*non-interactive.*", category=UserWarning)
            plt.show()
    if return_fig:
        return fig
    return None if show else axes


def value_kind(adata, layer: str | None = None) -> str | None:
    """``"predicted"`` or ``"observed"``: what the values of ``X`` (or ``layer``) are, from bazenji's provenance.

    :func:`bazenji.tl.predict` records its model in ``uns["bazenji"]`` (or in ``uns["bazenji"][key]`` for the layer
    ``key`` it writes with ``into=``); :func:`bazenji.pp.import_bigwigs` records ``kind="observed"``; a layer written
    by :func:`bazenji.pp.transform_tracks` holds what its source held. A layer without a record is taken at its
    name when that is ``"predicted"`` or ``"observed"``. None when nothing says.
    """
    info = adata.uns.get("bazenji")
    info = info if isinstance(info, Mapping) else {}
    if layer is None:
        return _kind_of(info)
    if isinstance(info.get(layer), Mapping):
        return _kind_of(info[layer])
    from ..pp._transform import UNS_KEY

    transformed = adata.uns.get(UNS_KEY)
    record = transformed.get(layer) if isinstance(transformed, Mapping) else None
    if isinstance(record, Mapping) and record.get("source") not in (None, layer):
        source = record["source"]
        return value_kind(adata, None if source == "X" else source)
    return layer if layer in ("predicted", "observed") else None


def _kind_of(record: Mapping) -> str | None:
    kind = record.get("kind")
    if kind == "observed":
        return "observed"
    if kind is None and "model" in record:
        return "predicted"
    return None  # unrecorded, or another kind of values (variant effects)


def category_colors(values: Sequence) -> dict:
    """A tab10 (tab20 past ten) colour per distinct value, in order of first appearance (assays: assay_colors)."""
    categories = list(dict.fromkeys(str(v) for v in values))
    cmap = plt.get_cmap("tab20" if len(categories) > 10 else "tab10")
    return {c: mpl.colors.to_hex(cmap(i % cmap.N)) for i, c in enumerate(categories)}


def assay_colors(values: Sequence) -> dict:
    """A colour per distinct assay: :data:`ASSAY_COLORS`, other assays the tab10/tab20 colours no assay has."""
    assays = list(dict.fromkeys(str(v) for v in values))
    taken = set(ASSAY_COLORS.values())
    spare = [c for c in map(mpl.colors.to_hex, (*plt.get_cmap("tab10").colors, *plt.get_cmap("tab20").colors))
             if c not in taken]  # fmt: skip
    spare = list(dict.fromkeys(spare))
    colors, unknown = {}, 0
    for assay in assays:
        if assay in ASSAY_COLORS:
            colors[assay] = ASSAY_COLORS[assay]
        else:
            colors[assay] = spare[unknown % len(spare)]
            unknown += 1
    return colors


def annotation_colors(values: Sequence, *, avoid: Sequence[str] = ()) -> dict:
    """A colour per distinct value from :data:`ANNOTATION_COLORS`, none of them in ``avoid`` (repeats past 24)."""
    avoid = {mpl.colors.to_hex(c) for c in avoid}
    pool = [c for c in ANNOTATION_COLORS if c not in avoid] or list(ANNOTATION_COLORS)
    categories = list(dict.fromkeys(str(v) for v in values))
    return {category: pool[i % len(pool)] for i, category in enumerate(categories)}


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
