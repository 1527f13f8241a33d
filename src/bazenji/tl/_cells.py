"""Predictions for the peaks of a cells x peaks AnnData (scATAC, a MuData's ATAC modality), written into it."""

from __future__ import annotations

import logging
from collections.abc import Callable

import anndata as ad
import numpy as np
import pandas as pd

from ..io import read_regions
from ..io.regions import _has_interval_columns, parse_interval_names

logger = logging.getLogger("bazenji")

#: modality names tried, in order, when a MuData is given
ATAC_MODALITIES = ("atac", "peaks", "chromatin", "ATAC")


def peaks_target(data) -> ad.AnnData | None:
    """The AnnData whose ``var`` are peaks to predict into, or None when ``data`` is not cells x peaks.

    A cells x peaks AnnData has observations without intervals and at least one variable; a regions AnnData
    (intervals in ``obs``, as :func:`bazenji.pp.regions` and :func:`bazenji.tl.predict` make) is not one.
    """
    if type(data).__name__ == "MuData":
        for name in ATAC_MODALITIES:
            if name in data.mod:
                return data.mod[name]
        raise ValueError(
            f"the MuData has no ATAC-like modality: found {list(data.mod)}; expected one of {list(ATAC_MODALITIES)} "
            "(or pass the modality itself, e.g. mdata.mod['name'])"
        )
    if not isinstance(data, ad.AnnData) or data.n_vars == 0:
        return None
    if _has_interval_columns(data.obs):  # every column naming read_regions accepts
        return None
    if _is_interval(data.obs_names[0]) and not _is_interval(data.var_names[0]):
        return None  # regions in obs_names (e.g. peaks x cells): predicted as regions
    return data


def _is_interval(name: str) -> bool:
    try:
        parse_interval_names([str(name)])
    except ValueError:
        return False
    return True


def peak_gc(genome, peaks: pd.DataFrame) -> np.ndarray:
    """GC fraction of each peak's called bases (N excluded; NaN for an all-N peak)."""
    gc = np.full(len(peaks), np.nan, dtype=np.float32)
    for i, (chrom, start, end) in enumerate(zip(peaks["Chromosome"], peaks["Start"], peaks["End"], strict=True)):
        counts = np.bincount(genome.fetch_codes(chrom, int(start), int(end)), minlength=5)
        called = counts[:4].sum()
        if called:
            gc[i] = (counts[1] + counts[2]) / called
    return gc


def predict_into_peaks(
    data, target: ad.AnnData, *, genome, key_added: str, copy: bool, run: Callable[[pd.DataFrame], ad.AnnData]
):
    """Predict every peak of ``target`` with ``run`` (regions -> regions x tracks) and store it in ``target``.

    Peaks on sequences the genome lacks are predicted as NaN rows and reported by count and name; a genome
    with none of the peaks' sequences (another build) is an error.
    """
    if copy:
        data = data.copy()
        target = peaks_target(data)
    if key_added in target.varm:
        logger.warning("replacing adata.varm[%r] with new predictions", key_added)
    try:
        peaks = read_regions(target, axis="var")
    except ValueError as err:
        raise ValueError(
            f"the var names of the cells x peaks AnnData are not intervals ({err}); expected names like "
            "'chr1:100-600' (or var columns Chromosome/Start/End)"
        ) from None
    known = peaks["Chromosome"].isin(genome.chrom_sizes).to_numpy()
    if not known.any():
        raise ValueError(
            f"none of the {len(peaks)} peaks lies on a sequence of the genome: peaks are on "
            f"{sorted(peaks['Chromosome'].unique())[:5]}, the genome has {genome.chroms[:5]}; expected peaks "
            "called on the genome build given"
        )
    if not known.all():
        absent = peaks.loc[~known, "Chromosome"].value_counts()
        logger.warning(
            "%d of %d peaks lie on %d sequence(s) absent from the genome (%s); their predictions are NaN",
            int((~known).sum()), len(peaks), len(absent),
            ", ".join(f"{c}: {n}" for c, n in absent.head(5).items()) + (", ..." if len(absent) > 5 else ""),
        )  # fmt: skip
    result = run(peaks.loc[known])
    values = np.full((len(peaks), result.n_vars), np.nan, dtype=np.float32)
    values[known] = result.X
    gc = np.full(len(peaks), np.nan, dtype=np.float32)
    gc[known] = peak_gc(genome, peaks.loc[known])
    target.varm[key_added] = values
    target.var[f"{key_added}_gc"] = gc
    target.uns[key_added] = {
        "tracks": result.var,
        "provenance": result.uns["bazenji"],
        "n_peaks": int(len(peaks)),
        "n_peaks_predicted": int(known.sum()),
    }
    return data if copy else None
