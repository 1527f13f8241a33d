"""Per-region values from binned profiles: the pieces a window contributes and how pieces combine."""

from __future__ import annotations

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
    values: np.ndarray, region: np.ndarray, n_bins: np.ndarray, n_regions: int, aggregate: str
) -> np.ndarray:
    """Region values ``(n_regions, tracks)`` from piece values, their region positions and bin counts."""
    tracks = values.shape[1]
    if aggregate in ("mean", "sum"):
        out = np.zeros((n_regions, tracks), dtype=np.float64)
        np.add.at(out, region, values)
        if aggregate == "mean":
            counts = np.bincount(region, weights=n_bins, minlength=n_regions)
            out /= np.maximum(counts, 1)[:, None]
        return out.astype(np.float32)
    out = np.full((n_regions, tracks), -np.inf if aggregate == "max" else np.nan, dtype=np.float32)
    if aggregate == "max":
        np.maximum.at(out, region, values)
    else:
        found = ~np.isnan(values[:, 0])
        out[region[found]] = values[found]
    return out
