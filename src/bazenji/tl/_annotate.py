"""``bz.tl.annotate_cells``: which biosamples (assays, targets) each cell cluster's track scores point to."""

from __future__ import annotations

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import stats


def annotate_cells(
    adata: AnnData,
    groupby: str,
    *,
    by: str = "biosample",
    key: str = "bz_scores",
    key_added: str = "bz_annotation",
) -> pd.DataFrame:
    """Rank the values of a track-table column (biosamples by default) for every group of cells.

    Each cell's score for a biosample is the mean of its :func:`bazenji.tl.score_cells` z-scores over that
    biosample's tracks. For every group, biosamples are ranked by the group's mean of that score
    (``mean_score``); ``effect`` is that mean minus the mean of all other cells, tested with Welch's t-test
    (``statistic``, ``pval``) and Benjamini-Hochberg adjusted over all groups and biosamples (``pval_adj``).

    Parameters
    ----------
    adata
        Cells scored by :func:`bazenji.tl.score_cells`.
    groupby
        ``obs`` column of cell groups (e.g. ``"leiden"``).
    by
        Track-table column whose values are ranked: ``"biosample"``, ``"assay"``, ``"target"`` ...
    key
        The ``key_added`` of :func:`bazenji.tl.score_cells`.
    key_added
        ``uns`` key for the table and parameters.

    Returns
    -------
    Tidy table, best first within each group: ``group``, ``rank``, ``by`` value (column named after ``by``),
    ``n_tracks``, ``mean_score``, ``effect``, ``statistic``, ``pval``, ``pval_adj``. Also stored in
    ``uns[key_added]["table"]`` with ``"params"``.

    Raises
    ------
    KeyError
        No scores under ``key``.
    ValueError
        ``groupby`` is not an ``obs`` column, ``by`` is not a track-table column, or a group has under two cells.
    """
    if key not in adata.obsm or key not in adata.uns:
        raise KeyError(f"adata.obsm[{key!r}] not found; run bz.tl.score_cells(adata) first")
    if groupby not in adata.obs.columns:
        raise ValueError(f"groupby={groupby!r} is not a column of adata.obs (columns: {list(adata.obs.columns)})")
    tracks = pd.DataFrame(adata.uns[key]["tracks"])
    if by not in tracks.columns:
        hint = ""
        if by in ("biosample", "assay", "target"):  # read_targets splits these out of "ASSAY:target:biosample"
            hint = "; bz.io.read_targets derives it from descriptions like 'DNASE:K562' or 'CHIP:CTCF:K562'"
        raise ValueError(f"by={by!r} is not a column of the track table; expected one of {list(tracks.columns)}{hint}")
    labels = adata.obs[groupby].astype(str).to_numpy()
    groups, sizes = np.unique(labels, return_counts=True)
    if (sizes < 2).any():
        raise ValueError(f"groups with fewer than 2 cells cannot be annotated: {list(groups[sizes < 2])}")

    values = tracks[by].astype(str).to_numpy()
    names = [v for v in pd.unique(values) if v not in ("", "nan", "None")]
    scores = np.asarray(adata.obsm[key], dtype=np.float64)
    per_value = np.column_stack([np.nanmean(scores[:, values == v], axis=1) for v in names])  # cells x values
    n_tracks = [int((values == v).sum()) for v in names]
    rows = []
    for group in groups:
        inside = labels == group
        a, b = per_value[inside], per_value[~inside]
        statistic, pval = stats.ttest_ind(a, b, axis=0, equal_var=False, nan_policy="omit")
        mean_in = np.nanmean(a, axis=0)
        effect = mean_in - np.nanmean(b, axis=0) if (~inside).any() else np.full(len(names), np.nan)
        for j, name in enumerate(names):
            rows.append((group, name, n_tracks[j], mean_in[j], effect[j],
                         float(np.asarray(statistic)[j]), float(np.asarray(pval)[j])))  # fmt: skip
    table = pd.DataFrame(rows, columns=["group", by, "n_tracks", "mean_score", "effect", "statistic", "pval"])
    finite = table["pval"].notna()
    table["pval_adj"] = np.nan
    table.loc[finite, "pval_adj"] = stats.false_discovery_control(table.loc[finite, "pval"].to_numpy())
    table = table.sort_values(["group", "mean_score"], ascending=[True, False], kind="stable")
    table.insert(1, "rank", table.groupby("group").cumcount() + 1)
    table = table.reset_index(drop=True)
    adata.uns[key_added] = {"table": table, "params": {"groupby": groupby, "by": by, "key": key}}
    return table
