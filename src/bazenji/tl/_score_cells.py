"""``bz.tl.score_cells``: per cell and track, how much the cell's accessible peaks are peaks the track predicts active.

The method (chromVAR's deviation idea, Schep et al. 2017, applied to predicted tracks, with an analytic
background instead of sampled background peak sets):

- Each track ``t`` weights each peak ``p`` by its standardized prediction ``w[p, t]`` (log1p of the predicted
  coverage, centred and scaled to unit variance over the peaks).
- Peaks are put in strata by GC content and mean accessibility (quantile bins of each). The null model is that
  each of a cell's reads in stratum ``s`` lands on a peak of ``s`` with probability proportional to that peak's
  share of all reads, ``e[p]``: the cell keeps its depth in every stratum, and within a stratum only which peaks
  it reaches is random, so peaks of like GC and accessibility are the background.
- Observed ``O[c, t] = sum_p X[c, p] w[p, t]``; under the null, with ``N[c, s]`` the cell's reads in ``s``,
  ``f[s, t]`` and ``g[s, t]`` the ``e``-weighted mean of ``w`` and ``w**2`` in ``s``:
  ``E[c, t] = sum_s N[c, s] f[s, t]`` and ``Var[c, t] = sum_s N[c, s] (g[s, t] - f[s, t]**2)``.
- The score is ``(O - E) / sqrt(Var)``: a z-score, positive when the cell's reads fall on the track's
  predicted-active peaks more than depth, GC and accessibility explain. Like chromVAR's z-scores it grows
  with a cell's depth when the enrichment is real.

``X`` is read in its sparse form and never densified; tracks go in chunks, so memory is the sparse matrix, the
peaks x chunk weights and the cells x tracks result.
"""

from __future__ import annotations

import logging

import numba
import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata import AnnData
from numba import prange
from tqdm.auto import tqdm

from .._settings import settings
from ..encode._kernels import parallel_threads
from ..io import select_tracks

logger = logging.getLogger("bazenji")


def score_cells(
    adata: AnnData,
    *,
    key: str = "bz",
    layer: str | None = None,
    tracks=None,
    gc_bins: int = 5,
    accessibility_bins: int = 5,
    chunk_tracks: int = 512,
    key_added: str = "bz_scores",
    copy: bool = False,
) -> AnnData | None:
    """Score every cell for every predicted track: enrichment of its reads in the track's predicted-active peaks.

    Parameters
    ----------
    adata
        Cells x peaks counts, predicted with :func:`bazenji.tl.predict` (``varm[key]``, ``var[key + "_gc"]``).
    key
        The ``key_added`` of that prediction.
    layer
        Read counts from this layer (e.g. ``"counts"`` after ``sc.pp.normalize_total``) instead of ``X``.
    tracks
        Tracks to score, in any form :func:`bazenji.io.select_tracks` accepts; all predicted tracks by default.
    gc_bins, accessibility_bins
        Quantile bins of peak GC content and of mean accessibility that make the background strata.
    chunk_tracks
        Tracks per chunk: bounds the dense peaks x tracks weights held at once.
    key_added
        ``obsm`` and ``uns`` key of the result.
    copy
        Return an annotated copy instead of writing into ``adata``.

    Returns
    -------
    None, or the annotated copy with ``copy=True``. Written: ``obsm[key_added]`` cells x tracks float32
    z-scores (see the module notes for the method; NaN for cells without reads), ``uns[key_added]`` with
    ``"tracks"`` (the scored tracks' table) and ``"params"``.

    Raises
    ------
    KeyError
        No predictions under ``key``.
    ValueError
        Negative counts, a bad layer or track selection, or bins below 1.
    """
    if key not in adata.varm or key not in adata.uns:
        raise KeyError(f"adata.varm[{key!r}] not found; run bz.tl.predict(adata, model, genome, key_added={key!r})")
    options = {"gc_bins": gc_bins, "accessibility_bins": accessibility_bins, "chunk_tracks": chunk_tracks}
    for name, value in options.items():
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name}={value!r}; expected a positive integer")
    adata = adata.copy() if copy else adata
    if layer is not None and layer not in adata.layers:
        raise ValueError(f"layer={layer!r} is not in adata.layers ({list(adata.layers)})")
    counts = sp.csr_matrix(adata.X if layer is None else adata.layers[layer], dtype=np.float32)
    if counts.nnz and counts.data.min() < 0:
        raise ValueError(f"the counts ({'X' if layer is None else layer!r}) have negative values; expected raw counts")
    table = pd.DataFrame(adata.uns[key]["tracks"])
    positions = select_tracks(table, tracks)
    predictions = np.asarray(adata.varm[key])
    step = int(chunk_tracks)
    predicted = np.ones(adata.n_vars, bool)
    for lo in range(0, len(positions), step):  # in chunks: a full-size temporary would double the memory
        predicted &= ~np.isnan(predictions[:, positions[lo : lo + step]]).any(axis=1)
    rows = np.flatnonzero(predicted)
    if not predicted.all():
        logger.warning("%d of %d peaks have no prediction (NaN) and are left out of the scores",
                       int((~predicted).sum()), adata.n_vars)  # fmt: skip
    if not predicted.all():
        counts = counts[:, rows]
    depth = np.asarray(counts.sum(axis=1)).ravel()
    if (depth == 0).any():
        logger.warning("%d of %d cells have no reads in the scored peaks; their scores are NaN",
                       int((depth == 0).sum()), adata.n_obs)  # fmt: skip

    share = np.asarray(counts.sum(axis=0)).ravel()
    share = share / max(share.sum(), 1.0)
    gc_column = f"{key}_gc"
    gc = adata.var[gc_column].to_numpy(np.float64)[predicted] if gc_column in adata.var else None
    strata = _strata(share, gc, gc_bins, accessibility_bins)
    n_strata = int(strata.max()) + 1
    membership = sp.csr_matrix((np.ones(len(strata), np.float32), (np.arange(len(strata)), strata)),
                               shape=(len(strata), n_strata))  # fmt: skip
    reads_per_stratum = np.asarray((counts @ membership).todense(), dtype=np.float64)  # cells x strata
    stratum_share = np.bincount(strata, weights=share, minlength=n_strata)
    weighted = sp.csr_matrix((share, (strata, np.arange(len(strata)))), shape=(n_strata, len(strata)))

    scores = np.full((adata.n_obs, len(positions)), np.nan, dtype=np.float32)
    has_reads = depth > 0
    for lo in tqdm(range(0, len(positions), step), desc="score_cells", unit="chunk", disable=not settings.progress):
        cols = positions[lo : lo + step]
        w = np.log1p(np.maximum(predictions[np.ix_(rows, cols)].astype(np.float64), 0))
        sd = w.std(axis=0)
        w = (w - w.mean(axis=0)) / np.where(sd > 0, sd, 1.0)  # a constant track has weights 0: scores 0
        with np.errstate(invalid="ignore", divide="ignore"):
            f = np.asarray(weighted @ w) / stratum_share[:, None]  # e-weighted mean of w per stratum
            g = np.asarray(weighted @ (w * w)) / stratum_share[:, None]
        f, g = np.nan_to_num(f), np.nan_to_num(g)  # strata without reads hold no cell's reads either
        observed = sparse_times_dense(counts, w.astype(np.float32)).astype(np.float64)
        expected = reads_per_stratum @ f
        variance = reads_per_stratum @ np.maximum(g - f * f, 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            z = np.where(variance > 0, (observed - expected) / np.sqrt(variance), 0.0)
        scores[has_reads, lo : lo + len(cols)] = z[has_reads]

    adata.obsm[key_added] = scores
    adata.uns[key_added] = {
        "tracks": table.iloc[positions].copy(),
        "params": {"key": key, "layer": layer, "gc_bins": int(gc_bins), "accessibility_bins": int(accessibility_bins),
                   "n_strata": n_strata, "gc": gc is not None, "n_peaks": int(predicted.sum()),
                   "method": "stratified analytic deviation z-score (chromVAR-like); see bazenji.tl.score_cells"},
    }  # fmt: skip
    return adata if copy else None


def sparse_times_dense(matrix: sp.csr_matrix, dense: np.ndarray, *, block: int | None = None) -> np.ndarray:
    """``matrix @ dense`` for a CSR matrix and a float32 array, in parallel over rows (numba), blocked over columns.

    scipy's product runs on one thread, and a plain row loop fetches a random row of ``dense`` from memory for every
    non-zero. Here the columns (peaks) go in blocks whose rows of ``dense`` fit in cache, and every cell adds its
    non-zeros of one block before the next: 3-7x faster at scATAC sizes (benchmarks/bench_score_cells.py).
    ``block`` is the number of columns per block; by default about 8 MiB of ``dense`` rows.
    """
    if not matrix.has_sorted_indices:  # the column cursors need sorted rows; sort a copy, never the user's matrix
        matrix = matrix.copy()
        matrix.sort_indices()
    dense = np.ascontiguousarray(dense, dtype=np.float32)
    if block is None:
        block = int(np.clip(2**21 // max(dense.shape[1], 1), 2048, 16384))
    out = np.zeros((matrix.shape[0], dense.shape[1]), dtype=np.float32)
    with parallel_threads():
        _sparse_times_dense(matrix.indptr, matrix.indices, matrix.data.astype(np.float32, copy=False), dense, out,
                            max(int(block), 1))  # fmt: skip
    return out


@numba.njit(parallel=True, cache=True, nogil=True)
def _sparse_times_dense(indptr, indices, data, dense, out, block):
    cursor = indptr[:-1].copy()  # each row's first non-zero not yet added
    for stop in range(block, dense.shape[0] + block, block):
        for row in prange(out.shape[0]):
            target, j, end = out[row], cursor[row], indptr[row + 1]
            while j < end and indices[j] < stop:
                value, source = data[j], dense[indices[j]]
                for t in range(dense.shape[1]):
                    target[t] += value * source[t]
                j += 1
            cursor[row] = j


def _strata(share: np.ndarray, gc: np.ndarray | None, gc_bins: int, accessibility_bins: int) -> np.ndarray:
    """Stratum of each peak: quantile bin of mean accessibility crossed with quantile bin of GC."""
    strata = _quantile_bins(np.log(share + 1e-12), accessibility_bins)
    if gc is None:
        logger.warning("no peak GC content (var column from bz.tl.predict); background matches accessibility only")
        return strata
    gc = np.where(np.isnan(gc), np.nanmedian(gc) if np.isfinite(gc).any() else 0.5, gc)
    return strata * gc_bins + _quantile_bins(gc, gc_bins)


def _quantile_bins(values: np.ndarray, n: int) -> np.ndarray:
    ranks = pd.Series(values).rank(method="first").to_numpy() - 1
    return np.minimum((ranks * n / max(len(values), 1)).astype(np.int64), n - 1)
