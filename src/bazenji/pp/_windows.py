"""``bz.pp.plan_windows``: regions -> the windows the model runs on."""

from __future__ import annotations

import os
from typing import Literal

import pandas as pd
from anndata import AnnData

from ..io.regions import read_regions
from ..store._plan import WindowPlan, geometry, plan_centered, plan_tiled


def plan_windows(
    regions: AnnData | pd.DataFrame | str | os.PathLike | object,
    *,
    mode: Literal["centered", "tiled"] = "centered",
    seq_length: int = 131_072,
    model: object | None = None,
    margin: int | None = None,
    bin_size: int = 128,
    crop_bins: int = 64,
    stranded: bool = False,
) -> WindowPlan:
    """Plan the model windows for a set of regions.

    Parameters
    ----------
    regions
        A regions AnnData (from :func:`bazenji.pp.regions`) or anything :func:`bazenji.io.read_regions` reads.
    mode
        ``"centered"``: one window per region, in region order, centred on ``(Start + End) // 2`` (window
        start ``mid - seq_length // 2``, as ``basenji_predict_bed``). ``"tiled"``: nearby regions share
        windows; every region lies at least ``margin`` bp inside its window's output span, and regions
        longer than an output span get several windows whose pieces are stitched when aggregating (with the
        margin before the first piece and after the last). Those windows are placed first and shared: a
        shorter region that fits one of them takes it, and overlapping long regions continue each other's.
    seq_length
        Window length in bp; ignored when ``model`` is given.
    model
        A model (anything with ``config.seq_length``, ``config.bin_size`` and ``config.crop_bins``) whose
        geometry replaces ``seq_length``, ``bin_size`` and ``crop_bins``.
    margin
        Tiled mode: least distance in bp between a region and the edges of its window's output span; by default
        4,096 bp (an eighth of the span for models whose output span is shorter than 32,768 bp).
    bin_size
        Output bin size in bp; ignored when ``model`` is given.
    crop_bins
        Output bins cropped at each side of the window; ignored when ``model`` is given.
    stranded
        Minus-strand regions get reverse-complemented windows (``plan.windows["rc"]``), which tiled mode
        never shares with plus-strand regions. By default every window reads the plus strand.

    Returns
    -------
    The :class:`~bazenji.store.WindowPlan`; ``plan.n_windows_saved`` tells what tiling saved.
    """
    table = read_regions(regions)
    seq_length, bin_size, crop_bins, _ = geometry(seq_length, bin_size, crop_bins, model)
    if mode == "centered":
        return plan_centered(table, seq_length=seq_length, bin_size=bin_size, crop_bins=crop_bins, stranded=stranded)
    if mode == "tiled":
        return plan_tiled(
            table, seq_length=seq_length, bin_size=bin_size, crop_bins=crop_bins, margin=margin, stranded=stranded
        )
    raise ValueError(f"mode={mode!r}; expected 'centered' or 'tiled'")
