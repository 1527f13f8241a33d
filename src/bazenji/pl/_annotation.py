"""``bz.pl.cell_annotation``: cluster x biosample dot plot of :func:`bazenji.tl.annotate_cells`."""

from __future__ import annotations

import numpy as np
import pandas as pd
from anndata import AnnData
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ._utils import finish, panel_grid, short_label

#: -log10 adjusted p-values above this get the largest dot: at single-cell sizes p-values reach 1e-300, and a
#: linear scale up to those would make every merely significant dot invisible
_SIGNIFICANCE_CAP = 50.0


def cell_annotation(
    adata: AnnData | pd.DataFrame,
    *,
    key: str = "bz_annotation",
    n_top: int = 3,
    values=None,
    alpha: float = 0.05,
    cmap: str = "RdBu_r",
    figsize: tuple[float, float] | None = None,
    ax: Axes | None = None,
    show: bool | None = None,
    return_fig: bool = False,
) -> dict[str, Axes] | Figure | None:
    """Dot plot of cell groups (rows) by biosamples (columns): mean score as colour, significance as size.

    The columns are each group's ``n_top`` best biosamples (or assays, targets: whatever ``by`` the annotation
    ranked), in the order the groups first rank them, so a clean annotation reads as a diagonal. Colour is the
    group's mean score (:func:`bazenji.tl.score_cells` z-scores averaged over the biosample's tracks), centred on
    0; dot area grows with ``-log10(pval_adj)`` up to 1e-50; dots not significant at ``alpha`` are drawn hollow.
    Each group's top hit has a black outline.

    Parameters
    ----------
    adata
        Cells annotated by :func:`bazenji.tl.annotate_cells`, or its returned table.
    key
        The ``key_added`` of that annotation.
    n_top
        Best values per group to show.
    values
        Show these values (columns) instead, in this order.
    alpha
        Adjusted p-value below which a dot is filled.
    cmap
        Diverging colormap of the mean score.
    figsize, ax, show, return_fig
        As in every bz.pl function (see :mod:`bazenji.pl`).

    Returns
    -------
    ``{"dotplot": Axes, "colorbar": Axes}`` when not shown, the figure with ``return_fig``, else None.
    """
    table, by = _annotation_table(adata, key)
    if isinstance(n_top, bool) or not isinstance(n_top, int | np.integer) or n_top < 1:
        raise ValueError(f"n_top={n_top!r}; expected a positive integer")
    groups = _group_order(adata, key, table)
    if values is None:
        top = table[table["rank"] <= n_top]
        order = top["group"].map({g: i for i, g in enumerate(groups)})
        values = list(dict.fromkeys(top.assign(order=order).sort_values(["order", "rank"])[by].astype(str)))
    else:
        values = [str(v) for v in ([values] if isinstance(values, str) else values)]
        missing = [v for v in values if v not in set(table[by].astype(str))]
        if missing:
            raise ValueError(f"values {missing} are not in the annotation's {by!r} column")
    cells = table.assign(**{by: table[by].astype(str)}).set_index(["group", by])
    cells = cells.reindex(pd.MultiIndex.from_product([groups, values]))

    fig, grid = panel_grid(ax, 1, 2, width_ratios=(max(len(values), 2), 0.3),
                           figsize=figsize or (1.5 + 0.45 * len(values), 1.5 + 0.4 * len(groups)))  # fmt: skip
    main, bar = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])
    x, y = np.tile(np.arange(len(values)), len(groups)), np.repeat(np.arange(len(groups)), len(values))
    score = cells["mean_score"].to_numpy(float)
    limit = float(np.nanmax(np.abs(score))) if np.isfinite(score).any() else 1.0
    padj = cells["pval_adj"].to_numpy(float)
    significance = np.clip(-np.log10(np.where(np.isfinite(padj), np.maximum(padj, 1e-300), 1.0)), 0, _SIGNIFICANCE_CAP)
    size = 20 + 220 * significance / _SIGNIFICANCE_CAP
    filled = np.isfinite(padj) & (padj < alpha)
    dots = main.scatter(x[filled], y[filled], s=size[filled], c=score[filled], cmap=cmap, vmin=-limit, vmax=limit)
    main.scatter(x[~filled], y[~filled], s=size[~filled], facecolors="none", edgecolors="#999999", linewidths=0.8)
    best = cells["rank"].to_numpy(float) == 1
    main.scatter(x[best], y[best], s=size[best], facecolors="none", edgecolors="black", linewidths=1.4)
    main.set_xticks(range(len(values)), [short_label(v, 24) for v in values], rotation=90)
    main.set_yticks(range(len(groups)), groups)
    main.set_xlim(-0.6, len(values) - 0.4)
    main.set_ylim(len(groups) - 0.4, -0.6)
    main.set_xlabel(by)
    main.set_ylabel(_groupby(adata, key))
    main.set_axisbelow(True)
    main.grid(color="#eeeeee")
    fig.colorbar(dots, cax=bar, label="mean score (z)")
    return finish(fig, {"dotplot": main, "colorbar": bar}, show=show, return_fig=return_fig, given_ax=ax is not None)


def _annotation_table(adata, key: str) -> tuple[pd.DataFrame, str]:
    """The tidy table of :func:`bazenji.tl.annotate_cells` and the track-table column it ranked."""
    if isinstance(adata, pd.DataFrame):
        table = adata
    elif key in adata.uns and "table" in adata.uns[key]:
        table = pd.DataFrame(adata.uns[key]["table"])
    else:
        raise KeyError(f"adata.uns[{key!r}] holds no annotation; run bz.tl.annotate_cells(adata, groupby=...) first")
    fixed = {"group", "rank", "n_tracks", "mean_score", "effect", "statistic", "pval", "pval_adj"}
    by = [c for c in table.columns if c not in fixed]
    if len(by) != 1 or not fixed <= set(table.columns):
        raise ValueError(f"not an annotation table (columns {list(table.columns)}); expected bz.tl.annotate_cells'")
    return table.assign(group=table["group"].astype(str)), by[0]


def _groupby(adata, key: str) -> str:
    if isinstance(adata, AnnData):
        return str(adata.uns[key].get("params", {}).get("groupby", "group"))
    return "group"


def _group_order(adata, key: str, table: pd.DataFrame) -> list[str]:
    """The groups in ``obs``'s category order where there is one (Leiden's 0, 1, 2 ... 10), else as in the table."""
    present = list(pd.unique(table["group"]))
    column = adata.obs.get(_groupby(adata, key)) if isinstance(adata, AnnData) else None
    if column is not None and isinstance(column.dtype, pd.CategoricalDtype):
        categories = [str(c) for c in column.cat.categories]
        return [c for c in categories if c in present] + [g for g in present if g not in categories]
    return present
