"""Predicted against observed coverage per track or per assay, with Pearson R and its summary by assay."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from anndata import AnnData
from matplotlib.axes import Axes

from ..io.targets import UNKNOWN_ASSAY, TrackSelection, select_tracks
from ..tl._cluster import track_matrix
from ._utils import ASSAY_COLORS, finish, grid_axes, short_label

__all__ = ["predicted_vs_observed"]

BY = ("track", "assay")
KINDS = ("auto", "scatter", "density")
DENSITY_ABOVE = 5_000  # points per panel above which kind="auto" draws a density


def predicted_vs_observed(
    pred: AnnData,
    obs: AnnData,
    *,
    tracks: TrackSelection = None,
    by: str = "track",
    layer: str | None = None,
    obs_layer: str | None = None,
    transform: str | None = "log1p",
    kind: str = "auto",
    max_panels: int = 12,
    ncols: int = 4,
    summary: bool = True,
    figsize: tuple[float, float] | None = None,
    ax: Axes | None = None,
    show: bool | None = None,
    return_fig: bool = False,
):
    """Scatter (or density) of predicted against observed region coverage, with Pearson R per track.

    Parameters
    ----------
    pred
        Predicted regions x tracks (:func:`bazenji.tl.predict`).
    obs
        Observed regions x tracks (:func:`bazenji.pp.import_bigwigs`): regions and tracks are matched to
        ``pred`` by name; tracks in only one of them are left out.
    tracks
        Tracks to compare, in any form :func:`bazenji.io.select_tracks` accepts on ``pred``'s track table.
    by
        ``"track"``: one panel per track (the first ``max_panels``); ``"assay"``: one panel per assay, all its
        tracks pooled, coloured by assay.
    layer, obs_layer
        Read ``pred`` / ``obs`` from these layers instead of ``X``.
    transform
        ``"log1p"``, ``"asinh"`` or None, applied to both before R is computed and points are drawn.
    kind
        ``"scatter"``, ``"density"`` (hexbin) or ``"auto"`` (density above 5,000 points a panel).
    max_panels
        Most scatter panels drawn; R is computed for every track all the same.
    ncols
        Panels per row.
    summary
        Add a panel of per-track R by assay (box and points).
    figsize
        Figure size; default 3 per panel.
    ax
        An axes whose place the panels take.
    show
        Show the figure (:func:`matplotlib.pyplot.show`). None: show it unless ``ax`` or ``return_fig`` is given
        or matplotlib cannot show figures (a file-only backend such as Agg: scripts, tests, CI). False: return the
        axes with the table.
    return_fig
        Return the figure with the table.

    Returns
    -------
    The per-track table, indexed by track: ``pearson_r``, ``n_regions``, ``mean_predicted`` and
    ``mean_observed`` (of the transformed values), and the track table's ``assay``, ``target``, ``biosample``
    and ``description``. The summary panel's numbers are ``table.groupby("assay")["pearson_r"].describe()``.

    Like every bz.pl function, this one returns the figure with ``return_fig`` and the axes when not shown, but
    here paired with the table and only when asked for, so that a call without those options gives the table
    wherever it runs: ``(figure, table)`` with ``return_fig``; ``(axes, table)`` with ``show=False``, the axes a
    dict named by panel (the track, or the assay with ``by="assay"``, and ``"summary"``); else the table alone.

    Raises
    ------
    ValueError
        ``pred`` and ``obs`` share no region or no track, or a bad ``by``, ``kind``, layer, transform or
        track selection.
    """
    if by not in BY:
        raise ValueError(f"by={by!r}; expected one of {BY}")
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r}; expected one of {KINDS}")
    regions = pred.obs_names.intersection(obs.obs_names, sort=False)
    if len(regions) < 2:
        raise ValueError(f"pred and obs share {len(regions)} region(s) by obs_names; expected at least 2")
    selected = pred.var_names[select_tracks(pred.var, tracks)]
    names = selected.intersection(obs.var_names, sort=False)
    if len(names) == 0:
        raise ValueError(f"pred and obs share none of the selected tracks ({list(selected[:5])}...)")
    p_rows, o_rows = pred.obs_names.get_indexer(regions), obs.obs_names.get_indexer(regions)
    predicted = track_matrix(pred, pred.var_names.get_indexer(names), layer=layer, transform=transform)[p_rows]
    observed = track_matrix(obs, obs.var_names.get_indexer(names), layer=obs_layer, transform=transform)[o_rows]
    table = _r_table(predicted, observed, names, pred.var)

    assays = table["assay"].astype(str).to_numpy()
    if by == "track":
        panels = [(str(n), [i]) for i, n in enumerate(names[:max_panels])]
    else:
        panels = [(a, list(np.flatnonzero(assays == a))) for a in dict.fromkeys(assays)]
    n_panels = len(panels) + bool(summary)
    ncols = max(1, min(ncols, n_panels))
    nrows = math.ceil(n_panels / ncols)
    fig, axes = grid_axes(ax, nrows, ncols, figsize=figsize or (3.0 * ncols, 2.8 * nrows))
    label = {"log1p": "log1p", "asinh": "asinh", None: ""}[transform]
    for panel_ax, (title, columns) in zip(axes, panels, strict=False):
        x = observed[:, columns].ravel()
        y = predicted[:, columns].ravel()
        color = ASSAY_COLORS.get(assays[columns[0]], "#444444") if by == "assay" else _track_color(table, title)
        draw = kind if kind != "auto" else ("density" if x.size > DENSITY_ABOVE else "scatter")
        if draw == "density":
            panel_ax.hexbin(x, y, gridsize=40, bins="log", cmap="viridis", mincnt=1)
        else:
            panel_ax.scatter(x, y, s=6, alpha=0.5, color=color, lw=0, rasterized=x.size > 2000)
        low, high = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
        panel_ax.plot([low, high], [low, high], color="#999999", lw=0.8, ls="--")
        r = _pearson(x, y) if by == "assay" else table["pearson_r"].iloc[columns[0]]
        name = title if by == "assay" else short_label(_describe(table, title), 34)
        extra = f", {len(columns)} tracks" if by == "assay" else ""
        panel_ax.set_title(f"{name}\nR = {r:.3f}{extra}", fontsize=8)
        panel_ax.set_xlabel(f"observed {label}".strip(), fontsize=8)
        panel_ax.set_ylabel(f"predicted {label}".strip(), fontsize=8)
        panel_ax.tick_params(labelsize=7)
    named = {title: panel_ax for panel_ax, (title, _) in zip(axes, panels, strict=False)}
    used = len(panels)
    if summary:
        _summary_panel(axes[used], table)
        named["summary"] = axes[used]
        used += 1
    for extra_ax in axes[used:]:
        extra_ax.set_visible(False)
    drawn = finish(fig, named, show=show, return_fig=return_fig, given_ax=ax is not None)
    return (drawn, table) if return_fig or show is False else table


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    x, y = x.astype(np.float64) - x.mean(), y.astype(np.float64) - y.mean()
    denominator = math.sqrt(float((x**2).sum() * (y**2).sum()))
    return float((x * y).sum() / denominator) if denominator > 0 else float("nan")


def _r_table(predicted: np.ndarray, observed: np.ndarray, names: pd.Index, var: pd.DataFrame) -> pd.DataFrame:
    p = predicted.astype(np.float64) - predicted.mean(0)
    o = observed.astype(np.float64) - observed.mean(0)
    denominator = np.sqrt((p**2).sum(0) * (o**2).sum(0))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(denominator > 0, (p * o).sum(0) / denominator, np.nan)
    table = pd.DataFrame(
        {"pearson_r": r, "n_regions": predicted.shape[0], "mean_predicted": predicted.mean(0),
         "mean_observed": observed.mean(0)},
        index=pd.Index(names.astype(str), name="track"),
    )  # fmt: skip
    for column in ("assay", "target", "biosample", "description"):
        if column in var.columns:
            table[column] = var[column].reindex(names).astype(object).to_numpy()
    if "assay" not in table.columns:
        table["assay"] = UNKNOWN_ASSAY
    return table


def _describe(table: pd.DataFrame, track: str) -> str:
    description = table["description"].get(track) if "description" in table.columns else None
    return description if isinstance(description, str) and description else track


def _track_color(table: pd.DataFrame, track: str) -> str:
    return ASSAY_COLORS.get(str(table["assay"].get(track)), "#444444")


def _summary_panel(ax: Axes, table: pd.DataFrame) -> None:
    assays = list(dict.fromkeys(table["assay"].astype(str)))
    values = [table.loc[table["assay"].astype(str) == a, "pearson_r"].dropna().to_numpy() for a in assays]
    keep = [i for i, v in enumerate(values) if v.size]
    if keep:
        ax.boxplot([values[i] for i in keep], positions=keep, widths=0.5, showfliers=False,
                   medianprops={"color": "black"})  # fmt: skip
    rng = np.random.default_rng(0)
    for i, (assay, v) in enumerate(zip(assays, values, strict=True)):
        ax.scatter(i + rng.uniform(-0.15, 0.15, v.size), v, s=10, color=ASSAY_COLORS.get(assay, "#444444"),
                   alpha=0.8, zorder=3, lw=0)  # fmt: skip
    ax.set_xticks(range(len(assays)), [f"{a}\n(n={len(v)})" for a, v in zip(assays, values, strict=True)],
                  fontsize=7)  # fmt: skip
    ax.set_ylabel("Pearson R per track", fontsize=8)
    ax.set_title("R by assay", fontsize=8)
    ax.tick_params(axis="y", labelsize=7)
    ax.set_xlim(-0.6, len(assays) - 0.4)
