"""Window plans: which model windows to run, and which output bins of which window each region takes.

Geometry: a window ``[start, start + seq_length)`` yields ``n_bins = seq_length // bin_size - 2 * crop_bins``
output bins; output bin ``j`` covers ``start + (crop_bins + j) * bin_size`` to ``+ bin_size``. The bins
form the window's *output span*, ``n_bins * bin_size`` bp in the middle of the window.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

logger = logging.getLogger("bazenji")

WINDOW_COLUMNS = ["chrom", "start", "end", "rc"]
ASSIGNMENT_COLUMNS = ["region", "window", "bin_start", "bin_end"]
REGION_COLUMNS = ["Chromosome", "Start", "End", "Strand"]


@dataclass
class WindowPlan:
    """Windows to encode and predict, and the bins each region takes from them.

    Attributes
    ----------
    windows
        One row per window: ``chrom``, ``start``, ``end`` (``int64``, unclipped: a window may run past a
        chromosome end and is padded with N) and ``rc`` (the window is encoded reverse-complemented:
        stranded mode, minus-strand regions).
    regions
        The regions table (``Chromosome``, ``Start``, ``End`` [, ``Strand``, ...]), indexed by region names.
    assignments
        One row per (region, window) piece, sorted by window: ``region`` (row position in ``regions``),
        ``window``, and the half-open output bins ``bin_start``, ``bin_end`` (0 .. ``n_bins``) that the
        region overlaps, numbered in genomic orientation even for ``rc`` windows (predictions of those
        must be flipped back before the bins are read). A region longer than a window's output span
        has several pieces in tiled mode.
    seq_length, bin_size, crop_bins, n_bins
        Window geometry.
    mode
        ``"centered"`` or ``"tiled"``.
    margin
        Tiled mode: the least distance in bp between a region and the edges of its window's output span.
    n_windows_saved
        Windows saved against one window per region (``n_regions - n_windows``).
    stranded
        Whether minus-strand regions have reverse-complemented windows.
    """

    windows: pd.DataFrame
    regions: pd.DataFrame
    assignments: pd.DataFrame
    seq_length: int = 131_072
    bin_size: int = 128
    crop_bins: int = 64
    n_bins: int = 896
    mode: str = "centered"
    margin: int = 0
    n_windows_saved: int = 0
    stranded: bool = False

    @property
    def n_windows(self) -> int:
        """Number of windows."""
        return len(self.windows)

    @property
    def span(self) -> int:
        """Length in bp of a window's output span."""
        return self.n_bins * self.bin_size

    def output_starts(self) -> np.ndarray:
        """Genomic start of output bin 0 of every window."""
        return self.windows["start"].to_numpy() + self.crop_bins * self.bin_size

    def __repr__(self) -> str:
        saved = f", {self.n_windows_saved} windows saved" if self.mode == "tiled" else ""
        return (
            f"WindowPlan({self.mode}, {len(self.regions)} regions, {self.n_windows} windows of {self.seq_length} bp, "
            f"{self.n_bins} bins of {self.bin_size} bp{saved})"
        )

    def equals(self, other: WindowPlan) -> bool:
        """Whether two plans have the same geometry, windows, region coordinates and assignments."""
        geometry = ("seq_length", "bin_size", "crop_bins", "n_bins")
        if any(getattr(self, g) != getattr(other, g) for g in geometry):
            return False
        cols = [c for c in REGION_COLUMNS if c in self.regions.columns]
        try:
            pd.testing.assert_frame_equal(_windows_table(self.windows), _windows_table(other.windows))
            pd.testing.assert_frame_equal(self.assignments.reset_index(drop=True), other.assignments)
            pd.testing.assert_frame_equal(self.regions[cols], other.regions[cols], check_dtype=False)
        except (AssertionError, KeyError):
            return False
        return True


def _windows_table(windows: pd.DataFrame) -> pd.DataFrame:
    out = windows.reset_index(drop=True)[WINDOW_COLUMNS].copy()
    out["chrom"] = out["chrom"].astype(str).astype(object)
    return out.astype({"start": np.int64, "end": np.int64, "rc": bool})


def geometry(
    seq_length: int = 131_072, bin_size: int = 128, crop_bins: int = 64, model: object | None = None
) -> tuple[int, int, int, int]:
    """``(seq_length, bin_size, crop_bins, n_bins)``, from ``model.config`` when a model is given.

    Parameters
    ----------
    seq_length, bin_size, crop_bins
        Geometry used when ``model`` is ``None``.
    model
        Anything with ``config.seq_length``, ``config.bin_size`` and ``config.crop_bins`` (a Basenji2 model),
        or such a config itself.
    """
    if model is not None:
        config = getattr(model, "config", model)
        try:
            seq_length, bin_size, crop_bins = (int(getattr(config, k)) for k in ("seq_length", "bin_size", "crop_bins"))
        except AttributeError as err:
            raise TypeError(
                f"model {type(model).__name__} has no config with seq_length, bin_size and crop_bins"
            ) from err
    seq_length, bin_size, crop_bins = int(seq_length), int(bin_size), int(crop_bins)
    if bin_size < 1 or seq_length < 1 or crop_bins < 0:
        raise ValueError(
            f"seq_length={seq_length}, bin_size={bin_size}, crop_bins={crop_bins}: expected positive sizes"
        )
    if seq_length % bin_size:
        raise ValueError(f"seq_length={seq_length} is not a multiple of bin_size={bin_size}")
    n_bins = seq_length // bin_size - 2 * crop_bins
    if n_bins < 1:
        raise ValueError(
            f"crop_bins={crop_bins} leaves no output bins of a {seq_length} bp window of {bin_size} bp bins"
        )
    if model is not None and hasattr(config, "n_bins") and int(config.n_bins) != n_bins:
        raise ValueError(f"model config n_bins={config.n_bins} but its geometry gives {n_bins}")
    return seq_length, bin_size, crop_bins, n_bins


def _bins(starts: np.ndarray, ends: np.ndarray, first: np.ndarray, bin_size: int, n_bins: int):
    """Half-open output bins ``[bin_start, bin_end)`` overlapping ``[starts, ends)``, clipped to ``0..n_bins``."""
    lo = np.clip(np.floor_divide(starts - first, bin_size), 0, n_bins)
    hi = np.clip(-np.floor_divide(first - ends, bin_size), 0, n_bins)
    return lo.astype(np.int64), hi.astype(np.int64)


def _region_arrays(regions: pd.DataFrame, stranded: bool):
    chrom = regions["Chromosome"].astype(str).to_numpy()
    start = regions["Start"].to_numpy(dtype=np.int64)
    end = regions["End"].to_numpy(dtype=np.int64)
    minus = np.zeros(len(regions), bool)
    if stranded:
        if "Strand" not in regions.columns:
            raise ValueError("stranded=True needs a Strand column in the regions; they have none")
        minus = regions["Strand"].astype(str).to_numpy() == "-"
    return chrom, start, end, minus


def plan_centered(
    regions: pd.DataFrame, *, seq_length: int, bin_size: int, crop_bins: int, stranded: bool = False
) -> WindowPlan:
    """One window per region, centred on ``(Start + End) // 2`` as ``basenji_predict_bed`` does."""
    seq_length, bin_size, crop_bins, n_bins = geometry(seq_length, bin_size, crop_bins)
    chrom, start, end, minus = _region_arrays(regions, stranded)
    w_start = (start + end) // 2 - seq_length // 2
    windows = pd.DataFrame({"chrom": chrom.astype(object), "start": w_start, "end": w_start + seq_length, "rc": minus})
    first = w_start + crop_bins * bin_size
    lo, hi = _bins(start, end, first, bin_size, n_bins)
    clipped = int(((start < first) | (end > first + n_bins * bin_size)).sum())
    if clipped:
        warnings.warn(
            f"{clipped} regions are longer than a window's output span ({n_bins * bin_size} bp) and only their "
            "central bins are predicted; mode='tiled' covers them with several windows",
            UserWarning,
            stacklevel=3,
        )
    n = len(regions)
    assignments = pd.DataFrame({"region": np.arange(n), "window": np.arange(n), "bin_start": lo, "bin_end": hi})
    return WindowPlan(
        windows, regions, assignments.astype(np.int64), seq_length, bin_size, crop_bins, n_bins, "centered", 0, 0,
        stranded,
    )  # fmt: skip


def _tile_group(start: np.ndarray, end: np.ndarray, lead: int, span: int, margin: int):
    """Windows (as window starts) for short regions of one chromosome and orientation; per region its window.

    A region fits a window whose output span starts in ``[end + margin - span, start - margin]``; the
    fewest such starts that hit every region's interval are found greedily by interval right ends, and
    each window is then centred within the interval its regions share. Every region must fit one span.
    """
    lo = end + margin - span
    hi = start - margin
    window_of = np.full(len(start), -1, np.int64)
    spans: list[int] = []
    order = np.argsort(hi, kind="stable")
    group_lo = point = 0
    members: list[int] = []

    def close() -> None:
        if members:
            spans.append((group_lo + point) // 2)
            window_of[members] = len(spans) - 1

    for i in order.tolist():
        if members and lo[i] <= point:
            members.append(i)
            group_lo = max(group_lo, int(lo[i]))
        else:
            close()
            members = [i]
            point, group_lo = int(hi[i]), int(lo[i])
    close()
    return np.asarray(spans, np.int64) - lead, window_of


def _cover(origin: int, start: int, end: int, span: int, margin: int) -> range | None:
    """Grid positions ``k`` (spans ``origin + k * span``) covering ``[start, end)`` with ``margin`` bp to spare.

    None when the grid puts the region's start or end closer than ``margin`` to the outer edges of its spans.
    """
    k0, k1 = (start - origin) // span, (end - 1 - origin) // span
    if start - (origin + k0 * span) < margin or origin + (k1 + 1) * span - end < margin:
        return None
    return range(k0, k1 + 1)


def _tile_long(start: np.ndarray, end: np.ndarray, span: int, margin: int):
    """Output-span starts of windows for regions longer than one span, and per region its windows in order.

    Each region gets consecutive abutting spans, at least ``margin`` bp before its start and after its
    end. Its own grid is centred on it; it takes the windows of an earlier region's grid instead (adding
    the ones it lacks, in the same phase) when that needs fewer new windows, so overlapping and nested
    long regions share windows.
    """
    spans: list[int] = []
    grids: list[tuple[int, dict[int, int]]] = []  # (origin, grid position -> index into spans)
    reach: list[int] = []  # per grid, the end of its last span
    active: list[int] = []  # grids that may still reach the next region (regions come by start)
    pieces: list[list[int]] = [[] for _ in start]
    for i in np.argsort(start, kind="stable").tolist():
        s, e = int(start[i]), int(end[i])
        active = [g for g in active if reach[g] > s]
        n = -(-(e - s + 2 * margin) // span)
        chosen, cover, fewest = None, range(n), n
        for g in active:
            ks = _cover(grids[g][0], s, e, span, margin)
            new = n if ks is None else sum(k not in grids[g][1] for k in ks)
            if new < fewest:
                chosen, cover, fewest = g, ks, new
        if chosen is None:
            chosen = len(grids)
            grids.append(((s + e) // 2 - n * span // 2, {}))
            reach.append(grids[chosen][0])
            active.append(chosen)
        origin, windows = grids[chosen]
        for k in cover:
            if k not in windows:
                windows[k] = len(spans)
                spans.append(origin + k * span)
        reach[chosen] = max(reach[chosen], origin + (cover[-1] + 1) * span)
        pieces[i] = [windows[k] for k in cover]
    return np.asarray(spans, np.int64), pieces


def _in_windows(start: np.ndarray, end: np.ndarray, span_starts: np.ndarray, span: int, margin: int) -> np.ndarray:
    """Per region the placed window whose output span holds it with ``margin`` (the most central one), or -1."""
    found = np.full(len(start), -1, np.int64)
    if not len(span_starts) or not len(start):
        return found
    lo, hi = end + margin - span, start - margin  # the span starts that hold the region
    mid = (lo + hi) // 2
    order = np.argsort(span_starts, kind="stable")
    placed = span_starts[order]
    right = np.minimum(np.searchsorted(placed, mid), len(placed) - 1)
    best_distance = np.full(len(start), np.iinfo(np.int64).max)
    for candidate in (np.maximum(right - 1, 0), right):
        at = placed[candidate]
        better = (lo <= at) & (at <= hi) & (np.abs(at - mid) < best_distance)
        found[better] = order[candidate[better]]
        best_distance[better] = np.abs(at - mid)[better]
    return found


def _tile_strand(start: np.ndarray, end: np.ndarray, lead: int, span: int, margin: int):
    """Windows for the regions of one chromosome and orientation: window starts, and (region, window) pieces.

    Long regions are placed first; a short region goes into one of their windows when it fits there
    with the margin, and the remaining short regions are tiled greedily (:func:`_tile_group`).
    """
    long = end - start + 2 * margin > span
    long_idx = np.flatnonzero(long)
    long_spans, long_pieces = _tile_long(start[long_idx], end[long_idx], span, margin)
    short_idx = np.flatnonzero(~long)
    window_of = _in_windows(start[short_idx], end[short_idx], long_spans, span, margin)
    rest = short_idx[window_of < 0]
    greedy_starts, greedy_of = _tile_group(start[rest], end[rest], lead, span, margin)
    region = [np.repeat(long_idx, [len(p) for p in long_pieces]), short_idx[window_of >= 0], rest]
    window = [np.asarray([w for p in long_pieces for w in p], np.int64), window_of[window_of >= 0],
              len(long_spans) + greedy_of]  # fmt: skip
    starts = np.concatenate([long_spans - lead, greedy_starts])
    return starts, np.concatenate(region).astype(np.int64), np.concatenate(window).astype(np.int64)


def default_margin(span: int) -> int:
    """Tiled mode's default margin: 4,096 bp (32 bins of the human model), at most an eighth of the output span."""
    return min(4_096, span // 8)


def plan_tiled(
    regions: pd.DataFrame,
    *,
    seq_length: int,
    bin_size: int,
    crop_bins: int,
    margin: int | None = None,
    stranded: bool = False,
) -> WindowPlan:
    """Few windows shared by nearby regions, each region at least ``margin`` bp inside its window's output span.

    Regions too long for one output span (with margins) get consecutive windows whose output spans
    abut, centred on the region (or continuing the windows of an overlapping long region), with at
    least ``margin`` bp before the region's start and after its end; each window gives one piece of the
    region. Shorter regions that fit one of those windows with the margin take it; the rest share
    windows placed greedily. Windows are never shared across chromosomes or, when ``stranded``, strands.
    """
    seq_length, bin_size, crop_bins, n_bins = geometry(seq_length, bin_size, crop_bins)
    span, lead = n_bins * bin_size, crop_bins * bin_size
    margin = default_margin(span) if margin is None else margin
    if isinstance(margin, bool) or not isinstance(margin, int | np.integer):
        raise ValueError(f"margin={margin!r}; expected an integer number of bp")
    margin = int(margin)
    if margin < 0 or 2 * margin >= span:
        raise ValueError(f"margin={margin} must be >= 0 and leave room in an output span of {span} bp")
    chrom, start, end, minus = _region_arrays(regions, stranded)
    chrom_order = {c: i for i, c in enumerate(dict.fromkeys(chrom.tolist()))}
    rows_w: list[tuple] = []  # (chrom, window start, rc)
    pieces: list[tuple[np.ndarray, np.ndarray]] = []  # (region positions, window ids)
    groups = pd.Series(np.arange(len(chrom))).groupby([chrom, minus], sort=False)
    for (c, rc), idx in groups:
        idx = idx.to_numpy()
        w_starts, region, window = _tile_strand(start[idx], end[idx], lead, span, margin)
        pieces.append((idx[region], len(rows_w) + window))
        rows_w += [(c, int(s), bool(rc)) for s in w_starts]
    windows = pd.DataFrame(rows_w, columns=["chrom", "start", "rc"])
    windows["end"] = windows["start"] + seq_length
    # order windows along the genome (chromosomes as first met in the regions), plus strand first
    key = np.lexsort((windows["rc"].to_numpy(), windows["start"].to_numpy(), windows["chrom"].map(chrom_order)))
    new_id = np.empty(len(windows), np.int64)
    new_id[key] = np.arange(len(windows))
    windows = windows.iloc[key].reset_index(drop=True)[WINDOW_COLUMNS]
    windows["chrom"] = windows["chrom"].astype(object)
    region = np.concatenate([p[0] for p in pieces]).astype(np.int64)
    window = new_id[np.concatenate([p[1] for p in pieces]).astype(np.int64)]
    first_bp = windows["start"].to_numpy()[window] + lead
    lo, hi = _bins(start[region], end[region], first_bp, bin_size, n_bins)
    assignments = pd.DataFrame({"region": region, "window": window, "bin_start": lo, "bin_end": hi})
    assignments = assignments.sort_values(["window", "region"], kind="stable").reset_index(drop=True)
    saved = len(regions) - len(windows)
    logger.info("tiled %d regions into %d windows (%d saved)", len(regions), len(windows), saved)
    return WindowPlan(
        windows, regions, assignments.astype(np.int64), seq_length, bin_size, crop_bins, n_bins, "tiled", margin,
        saved, stranded,
    )  # fmt: skip
