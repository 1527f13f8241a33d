"""Binned track profiles at a region or locus: one lane per track, predicted and observed, with annotations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from anndata import AnnData
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

from ..io.targets import TrackSelection, select_tracks
from ._profiles import (
    PROFILE_KEY,
    Profile,
    covering_region,
    from_adata,
    from_store,
    is_store,
    open_store,
    parse_locus,
    region_position,
    store_region_locus,
    strings,
)
from ._utils import ASSAY_COLORS, OBSERVED_COLOR, category_colors, finish, format_bp, genomic_xaxis, lane_axes
from ._utils import track_labels as make_labels

__all__ = ["tracks"]

LAYOUTS = ("overlay", "stack")


def tracks(
    data,
    region: str | int | None = None,
    *,
    locus: str | tuple[str, int, int] | None = None,
    tracks: TrackSelection = None,
    observed=None,
    layout: str = "overlay",
    genes: pd.DataFrame | str | None = None,
    show_regions: bool = True,
    profile_key: str = PROFILE_KEY,
    observed_variable: str = "targets",
    colors: str | Sequence[str] | Mapping[str, str] | None = None,
    sharey: bool = False,
    figsize: tuple[float, float] | None = None,
    ax: Axes | Sequence[Axes] | None = None,
    show: bool | None = None,
    return_fig: bool = False,
):
    """Binned coverage profiles at a region or locus, one lane per track.

    Each track is a filled area over its bins (128 bp for Basenji2) on genomic coordinates. Observed coverage,
    when given, is drawn in the same lane (grey, behind the prediction) or in a lane of its own. A bottom lane
    marks the region, the other regions in view, and genes.

    Parameters
    ----------
    data
        Predictions with profiles in ``obsm[profile_key]`` (:func:`bazenji.tl.predict` with ``keep_profiles``),
        or a window store holding a ``profile`` variable (a path or the ``xarray.Dataset`` of
        ``xarray.open_zarr``).
    region
        The region to show: an ``obs`` name or position of ``data``, or a region name in the store. Its whole
        profile (the centred window's output span, 114,688 bp for Basenji2) is shown unless ``locus`` narrows it.
    locus
        The genomic interval to show, ``"chr1:1,000,000-1,020,000"`` or ``(chrom, start, end)``. Without
        ``region``, the region (or store window) whose profile covers it best is used.
    tracks
        Profile tracks to draw, in any form :func:`bazenji.io.select_tracks` accepts (assay names and queries
        need the track table, i.e. an AnnData); all by default.
    observed
        Observed profiles of the same tracks (matched by name): an AnnData with ``obsm[profile_key]`` on the
        same regions (or regions covering the locus), or a window store with an ``observed_variable``
        (``targets``) variable.
    layout
        ``"overlay"``: observed and predicted in one lane per track; ``"stack"``: a lane each.
    genes
        Gene (or any feature) annotation: a BED file or a DataFrame with ``Chromosome``, ``Start``, ``End`` and
        optionally ``Name`` and ``Strand`` (anything :func:`bazenji.io.read_regions` reads).
    show_regions
        Mark the regions of ``data`` in view in the annotation lane (the chosen one highlighted).
    profile_key
        ``obsm`` key of the profiles in ``data`` and ``observed``.
    observed_variable
        Variable of an ``observed`` window store holding the profiles.
    colors
        Lane colours: one colour, a list (one per track) or a dict track -> colour; by default by assay.
    sharey
        The same y range in every lane.
    figsize
        Figure size; default 10 wide and 0.9 per lane.
    ax
        One axes to split into the lanes, or a sequence with one axes per lane (annotation lane included).
    show
        Show the figure (:func:`matplotlib.pyplot.show`). None: show it unless ``ax`` or ``return_fig`` is given
        or matplotlib cannot show figures (a file-only backend such as Agg: scripts, tests, CI).
    return_fig
        Return the figure.

    Returns
    -------
    The figure with ``return_fig``; else, when not shown, a dict of the lane axes, top to bottom: one per track
    named by the track, ``"<track> (observed)"`` for the observed lanes of ``layout="stack"``, and
    ``"annotation"`` for the bottom lane when there is one; else (shown) None.

    Raises
    ------
    ValueError
        Neither ``region`` nor ``locus``, a region or locus not covered by the profiles, no profiles in ``data``,
        a bad track selection, or ``observed`` sharing no track with ``data``.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout={layout!r}; expected one of {LAYOUTS}")
    if region is None and locus is None:
        raise ValueError("pass region= (a region name or position) or locus= ('chrom:start-end')")
    view = parse_locus(locus) if locus is not None else None
    predicted, focus, regions_table = _predicted(data, region, view, profile_key)
    if view is None:
        view = (predicted.chrom, predicted.start, predicted.end)
    chrom, start, end = view

    table = predicted.var if predicted.var is not None else pd.DataFrame(index=pd.Index(predicted.tracks))
    selected = select_tracks(table, tracks)
    names = [predicted.tracks[i] for i in selected]
    observed_profile = _observed(observed, focus, view, profile_key, observed_variable)
    observed_index = {}
    if observed_profile is not None:
        positions = {t: i for i, t in enumerate(observed_profile.tracks)}
        observed_index = {t: positions[t] for t in names if t in positions}
        if not observed_index:
            raise ValueError(
                f"observed shares no track with the profiles shown ({names[:5]}); observed has "
                f"{observed_profile.tracks[:5]}"
            )

    lanes = []  # (kind, track position in predicted, track name)
    for i, name in zip(selected, names, strict=True):
        lanes.append(("predicted", i, name))
        if layout == "stack" and name in observed_index:
            lanes.append(("observed", i, name))
    genes_table = _genes(genes, chrom, start, end)
    in_view = _regions_in_view(regions_table, chrom, start, end) if show_regions else None
    annotate = focus is not None or (genes_table is not None and len(genes_table)) or (
        in_view is not None and len(in_view)
    )  # fmt: skip
    n_axes = len(lanes) + bool(annotate)
    ratios = [1.0] * len(lanes) + ([0.45 + 0.25 * (genes_table is not None)] if annotate else [])
    figsize = figsize or (10, 0.6 + 0.85 * len(lanes) + (0.6 if annotate else 0))
    fig, axes = lane_axes(ax, n_axes, height_ratios=ratios, figsize=figsize)

    lane_colors = _lane_colors(colors, names, table)
    labels = dict(zip(names, make_labels(predicted.var, names), strict=True))
    for lane_ax, (kind, i, name) in zip(axes, lanes, strict=False):
        if kind == "predicted":
            if layout == "overlay" and name in observed_index:
                _area(lane_ax, observed_profile, observed_index[name], start, end, OBSERVED_COLOR, 0.45, "observed")
            _area(lane_ax, predicted, i, start, end, lane_colors[name], 0.45, "predicted", outline=True)
            lane_ax.set_ylabel(labels[name], rotation=0, ha="right", va="center", fontsize=8)
        else:
            _area(lane_ax, observed_profile, observed_index[name], start, end, OBSERVED_COLOR, 0.6, "observed")
            lane_ax.set_ylabel(f"{labels[name]}\n(observed)", rotation=0, ha="right", va="center", fontsize=8)
        if focus is not None:
            lane_ax.axvspan(focus[1], focus[2], color="#ff7f0e", alpha=0.12, lw=0)
        lane_ax.spines[["top", "right"]].set_visible(False)
        lane_ax.tick_params(axis="y", labelsize=7)
        lane_ax.yaxis.set_major_locator(_two_ticks())
    if observed_index and layout == "overlay":
        axes[0].legend(loc="upper right", fontsize=7, frameon=False, ncols=2)
    if sharey:
        top = max(a.get_ylim()[1] for a in axes[: len(lanes)])
        for lane_ax in axes[: len(lanes)]:
            lane_ax.set_ylim(0, top)
    if annotate:
        _annotation_lane(axes[-1], focus, in_view, genes_table, start, end)
    for lane_ax in axes[:-1]:
        lane_ax.tick_params(axis="x", labelbottom=False)
    genomic_xaxis(axes[-1], chrom, start, end)
    title = f"{chrom}:{format_bp(start)}-{format_bp(end)}"
    if focus is not None and focus[3]:
        title = f"{focus[3]}  ({title})"
    axes[0].set_title(title, fontsize=9, loc="left")
    named = dict(zip([_lane_key(kind, name) for kind, _, name in lanes], axes, strict=False))
    if annotate:
        named["annotation"] = axes[-1]
    return finish(fig, named, show=show, return_fig=return_fig, given_ax=ax is not None)


def _lane_key(kind: str, name: str) -> str:
    return name if kind == "predicted" else f"{name} (observed)"


def _predicted(data, region, view, key):
    """Profile to draw, the focus region (chrom, start, end, name) or None, and the regions table for context."""
    if isinstance(data, AnnData):
        position = region_position(data, region) if region is not None else covering_region(data, *view)
        obs = data.obs
        focus = (str(obs["Chromosome"].iloc[position]), int(obs["Start"].iloc[position]),
                 int(obs["End"].iloc[position]), str(data.obs_names[position]))  # fmt: skip
        table = obs[["Chromosome", "Start", "End"]].assign(Name=data.obs_names.astype(str))
        return from_adata(data, position, key), focus, table
    if is_store(data):
        dataset = open_store(data)
        focus = None
        if region is not None:
            focus = (*store_region_locus(dataset, region), str(region))
        chrom, start, end = view if view is not None else focus[:3]
        table = None
        if "region" in dataset and {"region_chrom", "region_start", "region_end"} <= set(dataset.variables):
            table = pd.DataFrame({
                "Chromosome": strings(dataset["region_chrom"].values),
                "Start": np.asarray(dataset["region_start"].values, dtype=np.int64),
                "End": np.asarray(dataset["region_end"].values, dtype=np.int64),
                "Name": strings(dataset["region"].values),
            })  # fmt: skip
        return from_store(dataset, chrom, start, end, "profile"), focus, table
    raise TypeError(f"data is a {type(data).__name__}; expected an AnnData with obsm profiles or a window store")


def _observed(observed, focus, view, key, variable) -> Profile | None:
    if observed is None:
        return None
    chrom, start, end = view if view is not None else focus[:3]
    if isinstance(observed, AnnData):
        if focus is not None and focus[3] in observed.obs_names and view is None:
            position = int(observed.obs_names.get_loc(focus[3]))
        else:
            position = covering_region(observed, chrom, start, end)
        return from_adata(observed, position, key)
    if is_store(observed):
        return from_store(open_store(observed), chrom, start, end, variable)
    raise TypeError(f"observed is a {type(observed).__name__}; expected an AnnData with obsm profiles or a store")


def _area(ax: Axes, profile: Profile, column: int, start: int, end: int, color, alpha, label, outline=False):
    edges = profile.edges
    keep = np.flatnonzero((edges[1:] > start) & (edges[:-1] < end))
    if keep.size == 0:
        return
    x = edges[keep[0] : keep[-1] + 2]
    y = profile.values[keep, column]
    y = np.append(y, y[-1])
    ax.fill_between(x, 0, y, step="post", color=color, alpha=alpha, lw=0, label=label)
    if outline:
        ax.step(x, y, where="post", color=color, lw=0.6)
    if np.nanmin(y) >= 0:
        ax.set_ylim(bottom=0)


def _two_ticks():
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(nbins=2, prune=None)


def _lane_colors(colors, names: list[str], table: pd.DataFrame) -> dict[str, str]:
    if isinstance(colors, str):
        return dict.fromkeys(names, colors)
    if isinstance(colors, Mapping):
        missing = [n for n in names if n not in colors]
        if missing:
            raise ValueError(f"colors has no colour for track(s) {missing[:5]}")
        return {n: colors[n] for n in names}
    if colors is not None:
        colors = list(colors)
        if len(colors) != len(names):
            raise ValueError(f"colors has {len(colors)} entries; expected one per track ({len(names)})")
        return dict(zip(names, colors, strict=True))
    if "assay" in table.columns:
        assays = table["assay"].reindex(names).astype(str)
        return {n: ASSAY_COLORS.get(a, "#7f7f7f") for n, a in zip(names, assays, strict=True)}
    return category_colors(names)


def _genes(genes, chrom: str, start: int, end: int) -> pd.DataFrame | None:
    if genes is None:
        return None
    from ..io.regions import read_regions

    table = read_regions(genes)
    keep = (table["Chromosome"].astype(str) == chrom) & (table["End"] > start) & (table["Start"] < end)
    return table[keep]


def _regions_in_view(table: pd.DataFrame | None, chrom: str, start: int, end: int) -> pd.DataFrame | None:
    if table is None:
        return None
    keep = (table["Chromosome"].astype(str) == chrom) & (table["End"] > start) & (table["Start"] < end)
    return table[keep]


def _annotation_lane(ax: Axes, focus, in_view, genes, start: int, end: int) -> None:
    ax.set_ylim(0, 2 if genes is not None else 1)
    ax.set_yticks([])
    ax.spines[["top", "right", "left"]].set_visible(False)
    width = end - start
    if in_view is not None:
        label = len(in_view) <= 12
        for row in in_view.itertuples(index=False):
            is_focus = focus is not None and row.Name == focus[3]
            ax.add_patch(Rectangle((row.Start, 0.25), max(row.End - row.Start, width / 400), 0.5,
                                   color="#ff7f0e" if is_focus else "#9e9e9e", lw=0))  # fmt: skip
            if label and not is_focus:
                ax.text((row.Start + row.End) / 2, 0.8, str(row.Name), ha="center", va="bottom", fontsize=6)
    if focus is not None:
        already = in_view is not None and (in_view["Name"] == focus[3]).any()
        if not already:
            ax.add_patch(Rectangle((focus[1], 0.25), max(focus[2] - focus[1], width / 400), 0.5, color="#ff7f0e", lw=0))
        ax.text((focus[1] + focus[2]) / 2, 0.8, focus[3], ha="center", va="bottom", fontsize=7, color="#c55a00")
    if genes is not None:
        for row in genes.itertuples(index=False):
            g_start, g_end = max(int(row.Start), start), min(int(row.End), end)
            ax.plot([g_start, g_end], [1.45, 1.45], color="#3b3b8f", lw=3, solid_capstyle="butt")
            strand = getattr(row, "Strand", ".")
            if strand in ("+", "-"):
                marks = np.linspace(g_start, g_end, max(2, int((g_end - g_start) / width * 12) + 2))[1:-1]
                ax.plot(marks, np.full_like(marks, 1.45), ls="none", marker=">" if strand == "+" else "<",
                        color="white", markersize=3)  # fmt: skip
            name = getattr(row, "Name", None)
            if isinstance(name, str) and name:
                ax.text((g_start + g_end) / 2, 1.62, name, ha="center", va="bottom", fontsize=7, style="italic")
