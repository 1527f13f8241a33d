"""Training data: genome tiling, chromosome splits, and bigWig targets written into a window store."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence

import anndata as ad
import numpy as np
import pandas as pd
import zarr
from tqdm.auto import tqdm

from .. import store as bz_store
from .._settings import settings
from ..io.bigwig import BigWigTracks

logger = logging.getLogger("bazenji")

SPLITS = ("train", "valid", "test")


def tile_genome(
    genome,
    *,
    stride: int | None = None,
    chroms: Sequence[str] | None = None,
    model=None,
    seq_length: int = 131_072,
    bin_size: int = 128,
    crop_bins: int = 64,
    max_n_fraction: float = 0.5,
) -> bz_store.WindowPlan:
    """Tile chromosomes into training windows: a plan whose regions are the windows' output spans.

    Parameters
    ----------
    genome
        A :class:`~bazenji.io.Genome` (or anything it accepts).
    stride
        Bp between consecutive output spans; the span itself (non-overlapping targets) by default.
    chroms
        Chromosomes to tile; all by default.
    model, seq_length, bin_size, crop_bins
        The window geometry; a model's config overrides the numbers.
    max_n_fraction
        Windows whose output span is more than this fraction N are left out (the count is logged).

    Returns
    -------
    A centred-mode :class:`~bazenji.store.WindowPlan`: one window per span, region names ``chrom:start-end``.
    """
    from ..io import Genome

    genome = genome if isinstance(genome, Genome) else Genome(genome)
    seq_length, bin_size, crop_bins, n_bins = bz_store.geometry(seq_length, bin_size, crop_bins, model=model)
    span = n_bins * bin_size
    stride = span if stride is None else int(stride)
    if stride < 1:
        raise ValueError(f"stride={stride}; expected a positive number of bp")
    chroms = list(genome.chroms) if chroms is None else list(chroms)
    genome.check_chroms(chroms)
    rows, dropped = [], 0
    for chrom in chroms:
        length = genome.chrom_sizes[chrom]
        for span_start in range(0, max(length - span, 0) + 1, stride):
            codes = genome.fetch_codes(chrom, span_start, span_start + span)
            if np.mean(codes == 4) > max_n_fraction:
                dropped += 1
                continue
            rows.append((chrom, span_start, span_start + span))
    if dropped:
        logger.info(
            "tile_genome: left out %d windows whose output span is over %.0f%% N", dropped, 100 * max_n_fraction
        )
    if not rows:
        raise ValueError(f"no windows: chromosomes {chroms[:5]} are shorter than the {span} bp output span or all N")
    regions = pd.DataFrame(rows, columns=["Chromosome", "Start", "End"])
    regions.index = [f"{c}:{s}-{e}" for c, s, e in rows]
    return bz_store.plan_centered(regions, seq_length=seq_length, bin_size=bin_size, crop_bins=crop_bins)


def split_by_chrom(
    data, *, valid: Sequence[str] = (), test: Sequence[str] = (), key_added: str = "split"
) -> np.ndarray:
    """Assign windows (of a store) or regions (of an AnnData) to train / valid / test by chromosome.

    Parameters
    ----------
    data
        A window store path (writes a ``split`` variable over windows) or a regions AnnData
        (writes ``obs[key_added]``).
    valid, test
        Chromosomes held out for validation and test; every other one is training.
    key_added
        Name of the ``obs`` column for an AnnData.

    Returns
    -------
    The split label of every window / region.
    """
    valid, test = [str(c) for c in valid], [str(c) for c in test]
    overlap = sorted(set(valid) & set(test))
    if overlap:
        raise ValueError(f"chromosomes {overlap} are in both valid and test; expected disjoint lists")
    if isinstance(data, ad.AnnData):
        chroms = data.obs["Chromosome"].astype(str).to_numpy()
    else:
        chroms = bz_store.read_plan(data).windows["chrom"].astype(str).to_numpy()
    unknown = sorted(set(valid + test) - set(chroms))
    if unknown:
        raise ValueError(f"chromosomes {unknown[:5]} have no windows; present: {sorted(set(chroms))[:10]}")
    labels = np.full(len(chroms), "train", dtype=object)
    labels[np.isin(chroms, valid)] = "valid"
    labels[np.isin(chroms, test)] = "test"
    if isinstance(data, ad.AnnData):
        data.obs[key_added] = pd.Categorical(labels, categories=list(SPLITS))
    else:
        group = zarr.open_group(str(data), mode="r+")
        array = group.create_array("split", shape=(len(labels),), dtype=str, dimension_names=["window"], overwrite=True)
        array[...] = labels.astype(str)
    counts = pd.Series(labels).value_counts().to_dict()
    logger.info("split_by_chrom: %s", counts)
    return labels


FLOAT16_MAX = float(np.finfo(np.float16).max)


def write_store_targets(
    path: str | os.PathLike,
    bigwigs: Mapping | Sequence | None = None,
    *,
    targets=None,
    overwrite: bool = False,
) -> pd.DataFrame:
    """Binned training targets ``(window, bin, track)`` float16 from bigWigs, written into a window store.

    Each window's output span is binned with the official data semantics (per bin the track's
    ``sum_stat``, then clip and scale from the targets table or defaults), chunk by chunk. The
    ``targets`` array gets the attribute ``complete`` only after its last chunk: an import that stopped
    is refused by training and evaluation, and running it again redoes it.

    Returns
    -------
    The track table of the written targets (the identifiers are also stored as ``track``).
    """
    location = os.fspath(path)
    group = zarr.open_group(location, mode="r+", use_consolidated=False)
    meta = dict(group.attrs)
    if "targets" in group and group["targets"].attrs.get("complete", True) and not overwrite:
        raise FileExistsError(f"{location} already has targets; pass overwrite=True to replace them")
    plan = bz_store.read_plan(location)
    span_starts = plan.windows["start"].to_numpy() + plan.crop_bins * plan.bin_size
    span_end = span_starts + plan.n_bins * plan.bin_size
    chunk = int(meta["chunk_windows"])
    with BigWigTracks(bigwigs, targets=targets, bin_size=plan.bin_size) as tracks:
        needed = sorted(set(plan.windows["chrom"].astype(str)))
        tracks.check_chromosomes(needed, required=needed)
        table = tracks.table
        array = group.create_array(
            "targets",
            shape=(plan.n_windows, plan.n_bins, len(tracks)),
            chunks=(chunk, plan.n_bins, len(tracks)),
            dtype="float16",
            fill_value=0,
            dimension_names=["window", "bin", "track"],
            attributes={"complete": False},
            overwrite=True,
        )
        names = group.create_array("track", shape=(len(tracks),), dtype=str, dimension_names=["track"], overwrite=True)
        names[...] = np.asarray(tracks.identifiers, dtype=str)
        chroms = plan.windows["chrom"].astype(str).to_numpy()
        rc = plan.windows["rc"].to_numpy() if "rc" in plan.windows else np.zeros(plan.n_windows, bool)
        for first in tqdm(range(0, plan.n_windows, chunk), desc="targets", unit="chunk",
                          disable=not settings.progress):  # fmt: skip
            last = min(first + chunk, plan.n_windows)
            block = np.stack(
                [tracks.read(chroms[w], int(span_starts[w]), int(span_end[w])) for w in range(first, last)]
            )
            _check_float16(block, tracks.identifiers, location)
            block[rc[first:last]] = block[rc[first:last], ::-1]
            array[first:last] = block.astype(np.float16)
        array.attrs["complete"] = True
    return table


def _check_float16(block: np.ndarray, identifiers: list[str], where: str) -> None:
    """Refuse values float16 cannot hold: they would be stored as inf and train on inf."""
    peak = np.nanmax(np.abs(block), axis=(0, 1))
    over = np.flatnonzero(peak > FLOAT16_MAX)
    if len(over):
        shown = ", ".join(f"{identifiers[t]!r} (max {peak[t]:.6g})" for t in over[:5])
        raise ValueError(
            f"{where}: targets are stored as float16, whose largest value is {FLOAT16_MAX:g}, but track(s) {shown} "
            f"{'and more ' if len(over) > 5 else ''}exceed it after the transform; give them a clip (or a scale "
            "below 1) in the targets table (targets=)"
        )
