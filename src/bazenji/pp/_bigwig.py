"""Observed coverage from bigWig files, in the regions x tracks layout of predictions."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence

import anndata as ad
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .._settings import settings
from ..io.bigwig import BigWigTracks, apply_transform
from ..io.targets import read_targets
from ..store import is_store
from ._training_data import write_store_targets

__all__ = ["import_bigwigs"]

AGGREGATES = ("mean", "sum", "max", "center")

# Regions closer than this share one read of the bigWig (one values() call per block and track).
_BLOCK_BP = 1 << 21
_INTERVAL = re.compile(r"^(?P<chrom>[^:\s]+)[:_-](?P<start>\d+)[-_](?P<end>\d+)$")


def import_bigwigs(
    regions: ad.AnnData | pd.DataFrame | str | os.PathLike,
    bigwigs: Mapping[str, str | os.PathLike] | Sequence[str | os.PathLike] | None = None,
    *,
    targets: str | os.PathLike | pd.DataFrame | None = None,
    bin_size: int = 128,
    aggregate: str = "mean",
    overwrite: bool = False,
) -> ad.AnnData | pd.DataFrame:
    """Observed coverage per region and track, in the same layout and bins as predictions.

    Each region is cut into the ``bin_size`` bins a centred Basenji2 window gives it: bin edges at the region's
    midpoint ``(Start + End) // 2`` plus multiples of ``bin_size`` (window start = midpoint - 65,536, output
    starting 8,192 bp in; both multiples of 128). Every bin gets the track's ``sum_stat``, ``clip_soft``,
    ``clip`` and ``scale`` in Basenji's order (see :mod:`bazenji.io.bigwig`), and the bins the region overlaps
    are aggregated as predictions are.

    Parameters
    ----------
    regions
        A regions AnnData (``obs`` with ``Chromosome``, ``Start``, ``End``; or, for a cells x peaks AnnData, the
        same columns or ``chr:start-end`` names in ``var``), a DataFrame with those columns (``chrom``,
        ``start``, ``end`` are accepted too), a BED/narrowPeak file (read by :func:`bazenji.io.read_regions`,
        as :func:`bazenji.tl.predict` reads it, so the rows and names match its predictions) or a window store.
    bigwigs
        ``{identifier: path}``, a list of paths, or ``None`` to use the ``file`` column of ``targets``.
    targets
        A Basenji targets table (path or DataFrame) with each track's description and transform.
    bin_size
        Bases per bin.
    aggregate
        How a region's bins become one value: ``"mean"``, ``"sum"``, ``"max"`` or ``"center"`` (the bin that
        starts at the midpoint).

    overwrite
        Window stores only: replace targets written before.

    Returns
    -------
    For a window store: the track table, after writing binned training targets ``targets``
    (window, bin, track) float16 over every window's output span, with the same per-bin transform.
    Otherwise a regions x tracks AnnData: ``obs`` the regions (input order and names), ``var`` the track table as
    :func:`bazenji.io.read_targets` returns it plus ``file``, ``X`` float32, and ``uns["bazenji"]`` with the
    parameters and files.

    Raises
    ------
    FileNotFoundError
        A bigWig file or the targets table does not exist.
    ValueError
        A region chromosome is missing from a bigWig (with a ``chr`` prefix hint), a region is empty, or an
        option is invalid.
    """
    if isinstance(regions, str | os.PathLike) and is_store(regions):
        return write_store_targets(regions, bigwigs, targets=targets, overwrite=overwrite)
    if isinstance(regions, str | os.PathLike):  # a BED/narrowPeak file, read as bz.tl.predict reads it
        from ..io.regions import read_regions

        regions = read_regions(regions)
    if aggregate not in AGGREGATES:
        raise ValueError(f"aggregate={aggregate!r}; expected one of {list(AGGREGATES)}")
    obs = _regions_table(regions)
    chroms = obs["Chromosome"].astype(str).to_numpy()
    starts = obs["Start"].to_numpy(dtype=np.int64)
    ends = obs["End"].to_numpy(dtype=np.int64)
    bad = np.flatnonzero(ends <= starts)
    if bad.size:
        i = bad[0]
        raise ValueError(f"region {obs.index[i]!r} ({chroms[i]}:{starts[i]}-{ends[i]}) is empty; expected End > Start")

    mids = (starts + ends) // 2
    first = np.floor_divide(starts - mids, bin_size)  # bin offsets relative to the midpoint, first inclusive
    last = -np.floor_divide(mids - ends, bin_size)  # ceil((End - mid) / bin_size), exclusive
    if aggregate == "center":
        first, last = np.zeros_like(first), np.ones_like(last)
    lo = mids + first * bin_size
    hi = mids + last * bin_size

    with BigWigTracks(bigwigs, targets=targets, bin_size=bin_size) as tracks:
        used = list(dict.fromkeys(chroms.tolist()))
        tracks.check_chromosomes({c: None for c in used}, required=used, against="the regions")
        blocks = _blocks(chroms, lo, hi)
        X = np.zeros((len(obs), len(tracks)), dtype=np.float32)
        bar = tqdm(
            total=len(tracks) * len(blocks), desc="bigWig", unit="block", disable=not settings.progress, leave=False
        )
        with bar:
            for t in range(len(tracks)):
                for members in blocks:
                    chrom = chroms[members[0]]
                    X[members, t] = _block_values(tracks, t, chrom, lo[members], hi[members], bin_size, aggregate)
                    bar.update()
        table = tracks.table.copy()

    var = read_targets(table)
    adata = ad.AnnData(X=X, obs=obs, var=var)
    adata.uns["bazenji"] = {
        "kind": "observed",
        "source": "bigwig",
        "params": {
            "bin_size": int(bin_size),
            "aggregate": aggregate,
            "grid": "centered: bin edges at (Start + End) // 2 + k * bin_size",
            "transform": "per bin: sum_stat, clip_soft, clip to [-clip, clip], scale (basenji_data_read.py order)",
            "missing_values": "no entry or stored NaN counts as 0",
            "targets": None if targets is None or isinstance(targets, pd.DataFrame) else str(targets),
        },
        "files": {str(k): str(v) for k, v in zip(table["identifier"], table["file"], strict=True)},
        "versions": _versions(),
    }
    return adata


def _block_values(tracks, t, chrom, lo, hi, bin_size, aggregate) -> np.ndarray:
    """Aggregated values of the regions of one block (same chromosome, close together) for track ``t``."""
    block_lo, block_hi = int(lo.min()), int(hi.max())
    coverage = tracks.read_coverage(t, chrom, block_lo, block_hi)
    n_bins = (hi - lo) // bin_size
    bounds = np.cumsum(n_bins) - n_bins  # position of each region's first bin in the flat list of bins
    # Start of every bin of every region, relative to the block, then the (bins, bin_size) matrix of coverage.
    region_of_bin = np.repeat(np.arange(len(lo)), n_bins)
    bin_in_region = np.arange(n_bins.sum()) - np.repeat(bounds, n_bins)
    bin_starts = (lo - block_lo)[region_of_bin] + bin_in_region * bin_size
    matrix = coverage[bin_starts[:, None] + np.arange(bin_size)[None, :]]
    binned = apply_transform(matrix, tracks.transforms[t], bin_size=bin_size)[:, 0].astype(np.float64)
    if aggregate == "max":
        return np.maximum.reduceat(binned, bounds).astype(np.float32)
    sums = np.add.reduceat(binned, bounds)
    return (sums / n_bins if aggregate == "mean" else sums).astype(np.float32)


def _blocks(chroms: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> list[np.ndarray]:
    """Groups of region positions on one chromosome whose bins fit in one read of at most ``_BLOCK_BP``."""
    order = np.lexsort((lo, chroms))
    blocks, current, block_lo, block_hi, chrom = [], [], 0, 0, None
    for i in order:
        if current and (chroms[i] != chrom or max(block_hi, hi[i]) - block_lo > _BLOCK_BP):
            blocks.append(np.asarray(current))
            current = []
        if not current:
            chrom, block_lo, block_hi = chroms[i], lo[i], hi[i]
        current.append(i)
        block_hi = max(block_hi, hi[i])
    if current:
        blocks.append(np.asarray(current))
    return blocks


def _regions_table(regions) -> pd.DataFrame:
    """The regions as a DataFrame with ``Chromosome``, ``Start``, ``End`` (int64) and unique string row names."""
    if isinstance(regions, ad.AnnData):
        table = _find_intervals(regions.obs)
        if table is None:
            table = _find_intervals(regions.var)
        if table is None:
            raise ValueError(
                "regions AnnData has no intervals: expected Chromosome/Start/End columns (or chr:start-end names) "
                f"in obs or var; obs has {list(regions.obs.columns)}, var has {list(regions.var.columns)}"
            )
        return table
    if hasattr(regions, "df") and not isinstance(regions, pd.DataFrame):  # pyranges < 1
        regions = regions.df
    if not isinstance(regions, pd.DataFrame):
        raise TypeError(f"regions is a {type(regions).__name__}; expected a regions AnnData or a DataFrame")
    table = _find_intervals(regions, from_names=False)
    if table is None:
        raise ValueError(
            f"regions DataFrame lacks interval columns: expected Chromosome, Start, End; got {list(regions.columns)}"
        )
    if isinstance(regions.index, pd.RangeIndex) or not regions.index.is_unique:
        if "Name" in table.columns and table["Name"].is_unique and table["Name"].notna().all():
            names = table["Name"].astype(str).tolist()
        else:
            names = [f"{c}:{s}-{e}" for c, s, e in zip(table["Chromosome"], table["Start"], table["End"], strict=True)]
        table.index = pd.Index(_unique(names), dtype=object)
    return table


def _find_intervals(frame: pd.DataFrame, *, from_names: bool = True) -> pd.DataFrame | None:
    renames = {}
    lower = {str(c).lower(): c for c in frame.columns}
    for want, options in (
        ("Chromosome", ("chromosome", "chrom", "chr", "seqnames")),
        ("Start", ("start", "chromstart")),
        ("End", ("end", "chromend")),
    ):
        found = next((lower[o] for o in options if o in lower), None)
        if found is None:
            break
        renames[found] = want
    if len(renames) == 3:
        table = frame.rename(columns=renames).copy()
    elif from_names:
        parsed = [_INTERVAL.match(str(name)) for name in frame.index]
        if not parsed or not all(parsed):
            return None
        table = frame.copy()
        table["Chromosome"] = [m["chrom"] for m in parsed]
        table["Start"] = [int(m["start"]) for m in parsed]
        table["End"] = [int(m["end"]) for m in parsed]
    else:
        return None
    table["Chromosome"] = table["Chromosome"].astype(str)
    for column in ("Start", "End"):
        values = pd.to_numeric(table[column], errors="coerce")
        if values.isna().any():
            raise ValueError(f"regions column {column!r} has missing or non-integer values; expected integers")
        table[column] = values.astype(np.int64)
    table.index = table.index.astype(str)
    return table


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if name in seen:
            seen[name] += 1
            out.append(f"{name}-{seen[name]}")
        else:
            seen[name] = 0
            out.append(name)
    return out


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for package in ("bazenji", "pyBigWig", "numpy", "anndata"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "unknown"
    return out
