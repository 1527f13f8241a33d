"""Marker tracks of region groups: scanpy's rank_genes_groups with the track table joined."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scanpy as sc
from anndata import AnnData

from ..io.targets import TrackSelection, select_tracks
from ._cluster import track_matrix

__all__ = ["rank_tracks"]

#: Track table columns joined to the ranking, when present.
TRACK_COLUMNS = ("assay", "target", "biosample", "description")


def rank_tracks(
    adata: AnnData,
    groupby: str,
    *,
    groups: str | list[str] = "all",
    reference: str = "rest",
    method: str = "wilcoxon",
    n_tracks: int | None = 10,
    tracks: TrackSelection = None,
    layer: str | None = None,
    transform: str | None = "log1p",
    key_added: str = "bz_rank_tracks",
) -> pd.DataFrame:
    """Marker tracks of each group of regions: the tracks most specifically high in it.

    Runs :func:`scanpy.tl.rank_genes_groups` on the (transformed) coverage, with tracks in place of genes, and
    joins the track table to the result.

    Parameters
    ----------
    adata
        Regions x tracks.
    groupby
        ``obs`` column of region groups, e.g. the clusters of :func:`bazenji.tl.cluster_regions`.
    groups
        Groups to rank tracks for; ``"all"`` for every group.
    reference
        ``"rest"`` (all other regions) or a group to compare against.
    method
        ``"wilcoxon"``, ``"t-test"``, ``"t-test_overestim_var"`` or ``"logreg"``, as in scanpy.
    n_tracks
        Top tracks per group in the returned table; None for all. The full ranking is kept in ``uns``.
    tracks
        Tracks to rank (any form :func:`bazenji.io.select_tracks` accepts); all by default.
    layer
        Read coverage from this layer instead of ``X``.
    transform
        ``"log1p"``, ``"asinh"`` or None (already transformed). Scores and p-values of ``"wilcoxon"`` do not
        depend on it; scanpy's ``logfoldchanges`` assume log1p data.
    key_added
        ``uns`` key of the scanpy result, readable by :func:`scanpy.pl.rank_genes_groups` and
        :func:`scanpy.get.rank_genes_groups_df` with ``key=key_added`` (when all tracks are ranked).

    Returns
    -------
    One row per group and track, best first within each group, with columns ``group``, ``rank`` (1 = best),
    ``track``, ``score``, ``logfoldchange``, ``pval``, ``pval_adj``, ``mean_in_group`` and ``mean_reference``
    (mean coverage before the transform), then ``assay``, ``target``, ``biosample`` and ``description`` when the
    track table has them.

    Raises
    ------
    ValueError
        ``groupby`` is not an ``obs`` column, a group has fewer than two regions, or a bad track selection,
        layer or transform.
    """
    if groupby not in adata.obs.columns:
        raise ValueError(f"groupby={groupby!r} is not a column of adata.obs (columns: {list(adata.obs.columns)})")
    labels = adata.obs[groupby]
    if labels.isna().any():
        raise ValueError(f"obs[{groupby!r}] has {int(labels.isna().sum())} missing label(s); expected none")
    labels = labels.astype(str).astype("category") if not isinstance(labels.dtype, pd.CategoricalDtype) else labels
    labels = labels.cat.remove_unused_categories()
    sizes = labels.value_counts()
    if (sizes < 2).any():
        raise ValueError(f"groups with fewer than 2 regions cannot be ranked: {list(sizes.index[sizes < 2])}")
    positions = select_tracks(adata.var, tracks)
    matrix = track_matrix(adata, positions, layer=layer, transform=transform)
    work = AnnData(
        X=matrix,
        obs=pd.DataFrame({groupby: labels.to_numpy()}, index=adata.obs_names.copy()),
        var=pd.DataFrame(index=adata.var_names[positions].copy()),
    )
    if transform == "log1p" or (transform is None and layer is None and "log1p" in adata.uns):
        work.uns["log1p"] = {"base": None}
    sc.tl.rank_genes_groups(
        work, groupby, groups=groups, reference=reference, method=method, use_raw=False, key_added=key_added
    )
    result = work.uns[key_added]
    result["params"] = {**result["params"], "layer": layer, "transform": transform,
                        "tracks": [str(t) for t in work.var_names]}  # fmt: skip
    adata.uns[key_added] = result

    table = sc.get.rank_genes_groups_df(work, group=None, key=key_added)
    if "group" not in table.columns:  # a single group comes back without the column
        table.insert(0, "group", str(result["names"].dtype.names[0]))
    table = table.rename(columns={"names": "track", "scores": "score", "logfoldchanges": "logfoldchange",
                                  "pvals": "pval", "pvals_adj": "pval_adj"})  # fmt: skip
    table["group"] = table["group"].astype(str)
    table["rank"] = table.groupby("group", sort=False).cumcount() + 1
    if n_tracks is not None:
        table = table[table["rank"] <= int(n_tracks)]
    raw = track_matrix(adata, positions, layer=layer, transform=None) if transform is not None else matrix
    means = _group_means(raw, labels.to_numpy().astype(str), work.var_names, reference)
    table["mean_in_group"] = [means[0].at[g, t] for g, t in zip(table["group"], table["track"], strict=True)]
    table["mean_reference"] = [means[1].at[g, t] for g, t in zip(table["group"], table["track"], strict=True)]
    joined = [c for c in TRACK_COLUMNS if c in adata.var.columns]
    for column in joined:
        values = adata.var[column].reindex(table["track"].to_numpy())
        table[column] = values.astype(object).to_numpy()
    order = ["group", "rank", "track", "score", "logfoldchange", "pval", "pval_adj", "mean_in_group",
             "mean_reference", *joined]  # fmt: skip
    table = table[[c for c in order if c in table.columns]].reset_index(drop=True)
    table["group"] = pd.Categorical(table["group"], categories=[str(c) for c in labels.cat.categories
                                                                if str(c) in set(table["group"])])  # fmt: skip
    return table


def _group_means(matrix: np.ndarray, labels: np.ndarray, tracks, reference: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(mean in group, mean in the reference) per group and track, as group x track tables."""
    groups = list(dict.fromkeys(labels))
    inside = np.stack([matrix[labels == g].mean(axis=0) for g in groups])
    if reference == "rest":
        outside = np.stack([matrix[labels != g].mean(axis=0) for g in groups])
    else:
        outside = np.repeat(matrix[labels == reference].mean(axis=0)[None, :], len(groups), axis=0)
    index, columns = pd.Index(groups), pd.Index(tracks)
    return pd.DataFrame(inside, index=index, columns=columns), pd.DataFrame(outside, index=index, columns=columns)
