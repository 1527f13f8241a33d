"""Per-region values from binned profiles: the pieces a window contributes and how pieces combine."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

AGGREGATES = ("mean", "sum", "max", "center")


def check_aggregate(aggregate: str) -> str:
    """Validate an aggregate name."""
    if aggregate not in AGGREGATES:
        raise ValueError(f"aggregate={aggregate!r}; expected one of {AGGREGATES}")
    return aggregate


def piece_values(
    profile: np.ndarray, bin_start: np.ndarray, bin_end: np.ndarray, center_bin: np.ndarray, aggregate: str
) -> np.ndarray:
    """One row per piece (a region's bins within one window) from that window's ``profile`` ``(bins, tracks)``.

    ``mean`` and ``sum`` pieces hold bin sums, ``max`` the maximum, ``center`` the value of the region's
    centre bin when it lies in this piece and NaN otherwise; :func:`combine_pieces` finishes the job.
    """
    out = np.empty((len(bin_start), profile.shape[1]), dtype=np.float32)
    if aggregate in ("mean", "sum"):
        # direct sums: work in proportion to the bins regions cover, not to the whole window x every track
        for i, (start, end) in enumerate(zip(bin_start, bin_end, strict=True)):
            out[i] = profile[start:end].sum(axis=0, dtype=np.float64)
    elif aggregate == "max":
        for i, (start, end) in enumerate(zip(bin_start, bin_end, strict=True)):
            out[i] = profile[start:end].max(axis=0)
    else:
        inside = (center_bin >= bin_start) & (center_bin < bin_end)
        out[:] = np.nan
        out[inside] = profile[center_bin[inside]]
    return out


def combine_pieces(
    chunks: Iterable[np.ndarray], region: np.ndarray, n_bins: np.ndarray, n_regions: int, aggregate: str
) -> np.ndarray:
    """Region values ``(n_regions, tracks)`` float32 from piece values, their region positions and bin counts.

    ``chunks`` yields the piece values in the order of ``region`` in consecutive blocks (one per store chunk),
    so only one block is held besides the result.
    """
    out, offset = None, 0
    for values in chunks:
        rows = region[offset : offset + len(values)]
        offset += len(values)
        if out is None:
            fill = {"mean": 0.0, "sum": 0.0, "max": -np.inf, "center": np.nan}[aggregate]
            out = np.full((n_regions, values.shape[1]), fill, dtype=np.float32)
        if aggregate in ("mean", "sum"):
            np.add.at(out, rows, values)
        elif aggregate == "max":
            np.maximum.at(out, rows, values)
        else:
            found = ~np.isnan(values[:, 0])
            out[rows[found]] = values[found]
    if offset != len(region):
        raise ValueError(f"{offset} piece values for {len(region)} pieces; the store's results are incomplete")
    if aggregate == "mean":
        out /= np.maximum(np.bincount(region, weights=n_bins, minlength=n_regions), 1).astype(np.float32)[:, None]
    return out
