"""The unit of work of ``bz.tl.predict``: one chunk of windows through the model into the store."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .. import store as bz_store
from ._aggregate import piece_values
from ._ensemble import DTYPES, predict_onehot


def _region_center_bins(plan) -> np.ndarray:
    """Per assignment row: the output bin (of its window) that holds its region's midpoint."""
    assignments = plan.assignments
    regions = plan.regions
    mid = ((regions["Start"].to_numpy() + regions["End"].to_numpy()) // 2)[assignments["region"].to_numpy()]
    first_bp = plan.windows["start"].to_numpy()[assignments["window"].to_numpy()] + plan.crop_bins * plan.bin_size
    return ((mid - first_bp) // plan.bin_size).astype(np.int64)


@dataclass(frozen=True)
class ChunkSpec:
    """What every window chunk of one prediction shares: where results go and how the model runs.

    Small and picklable: it travels with each dask task.
    """

    store: str
    key: str
    chunk_windows: int
    n_windows: int
    head_tracks: np.ndarray | None
    rc: bool
    shifts: tuple[int, ...]
    dtype: str
    batch_size: int
    aggregate: str
    strand_pairs: np.ndarray | None
    profile_columns: np.ndarray | None

    def bounds(self, chunk: int) -> tuple[int, int]:
        """First and one-past-last window of ``chunk``."""
        return chunk * self.chunk_windows, min((chunk + 1) * self.chunk_windows, self.n_windows)


@dataclass(frozen=True)
class ChunkLayout:
    """The plan's rows for one window chunk: which region pieces each of its windows holds."""

    first: int
    window_rc: np.ndarray
    offsets: np.ndarray
    bin_start: np.ndarray
    bin_end: np.ndarray
    center_bin: np.ndarray


class PlanLayout:
    """Per-window piece tables of a whole plan, sliced into one :class:`ChunkLayout` per chunk."""

    def __init__(self, plan, n_windows: int) -> None:
        assignments = plan.assignments
        self.offsets = np.searchsorted(assignments["window"].to_numpy(), np.arange(n_windows + 1))
        self.bin_start = assignments["bin_start"].to_numpy()
        self.bin_end = assignments["bin_end"].to_numpy()
        self.center_bin = _region_center_bins(plan)
        self.window_rc = plan.windows["rc"].to_numpy(bool) if "rc" in plan.windows else np.zeros(n_windows, bool)

    def chunk(self, spec: ChunkSpec, chunk: int) -> ChunkLayout:
        """The layout of window chunk ``chunk``."""
        lo, hi = spec.bounds(chunk)
        rows = slice(self.offsets[lo], self.offsets[hi])
        return ChunkLayout(
            first=lo, window_rc=self.window_rc[lo:hi], offsets=self.offsets[lo : hi + 1] - self.offsets[lo],
            bin_start=self.bin_start[rows], bin_end=self.bin_end[rows], center_bin=self.center_bin[rows],
        )  # fmt: skip


def onehot_array(store: str | Path):
    """The store's ``onehot`` zarr array, opened for reading."""
    import zarr

    return zarr.open_group(str(store), mode="r", use_consolidated=False)["onehot"]


def predict_chunk(
    spec: ChunkSpec,
    chunk: int,
    layout: ChunkLayout,
    model,
    device: torch.device,
    *,
    onehot: np.ndarray | None = None,
    on_batch: Callable[[int], object] | None = None,
) -> float:
    """Predict one window chunk and write its per-region pieces (and profiles) into the store, then mark it done.

    The unit of work of :func:`predict`, in one process or as one dask task: it touches only this chunk's
    arrays and done flag, so chunks run in any order and anywhere that sees the store.

    Parameters
    ----------
    spec
        The prediction's shared parameters.
    chunk
        Window chunk number.
    layout
        The chunk's piece table (:meth:`PlanLayout.chunk`).
    model
        A model already on ``device``, in eval mode.
    device
        Where batches go.
    onehot
        The chunk's one-hot windows as a uint8 tensor when already read (prefetched, pinned for CUDA); read
        from the store otherwise.
    on_batch
        Called with the number of windows of every finished batch (progress).

    Returns
    -------
    Seconds spent in the model.
    """
    if onehot is None:
        lo, hi = spec.bounds(chunk)
        onehot = torch.from_numpy(np.asarray(onehot_array(spec.store)[lo:hi]))
    dtype = DTYPES[spec.dtype]
    pieces, kept = [], []
    model_s = 0.0
    # pieces are taken batch by batch: only one batch of profiles (and the kept tracks) is ever in memory
    for b in range(0, len(onehot), spec.batch_size):
        tic = time.perf_counter()
        # asynchronous on CUDA when the chunk sits in pinned memory (predict_here pins it there)
        x = onehot[b : b + spec.batch_size].to(device, non_blocking=True)
        out = predict_onehot(
            model, x, tracks=spec.head_tracks, rc=spec.rc, shifts=spec.shifts, dtype=dtype,
            strand_pairs=spec.strand_pairs,
        )  # fmt: skip
        profiles = out.cpu().numpy()
        model_s += time.perf_counter() - tic
        flip = layout.window_rc[b : b + len(profiles)]
        if flip.any():
            profiles[flip] = profiles[flip, ::-1]
        for w in range(b, b + len(profiles)):
            rows = slice(layout.offsets[w], layout.offsets[w + 1])
            pieces.append(
                piece_values(
                    profiles[w - b],
                    layout.bin_start[rows],
                    layout.bin_end[rows],
                    layout.center_bin[rows],
                    spec.aggregate,
                )  # fmt: skip
            )
        if spec.profile_columns is not None:
            kept.append(profiles[..., spec.profile_columns].astype(np.float16))
        if on_batch is not None:
            on_batch(len(x))
    if spec.profile_columns is not None:
        bz_store.write_profile(spec.store, layout.first, np.concatenate(kept))
    bz_store.write_chunk(spec.store, spec.key, chunk, {"pieces": np.concatenate(pieces)})
    return model_s


def predict_here(spec: ChunkSpec, layout: PlanLayout, todo: list[int], model, device, bar) -> float:
    """The chunks in this process, the next chunk's one-hot read in a background thread meanwhile.

    On CUDA the chunk is read into pinned host memory, so batch copies to the GPU are asynchronous, and cuDNN
    picks its fastest convolution algorithms for the (fixed) window shape.
    """
    onehot = onehot_array(spec.store)
    model_s = 0.0
    pin = device.type == "cuda"

    def read(c):
        lo, hi = spec.bounds(c)
        block = torch.from_numpy(np.asarray(onehot[lo:hi]))
        return block.pin_memory() if pin else block

    with ThreadPoolExecutor(1, thread_name_prefix="bazenji-read") as reader, _cudnn_autotuned(pin):
        upcoming = reader.submit(read, todo[0]) if todo else None
        for position, c in enumerate(todo):
            block = upcoming.result()
            upcoming = reader.submit(read, todo[position + 1]) if position + 1 < len(todo) else None
            model_s += predict_chunk(spec, c, layout.chunk(spec, c), model, device, onehot=block, on_batch=bar.update)
    return model_s


@contextmanager
def _cudnn_autotuned(enabled: bool):
    """Turn on cuDNN benchmark mode for the duration of a prediction, restored afterwards (it is process-wide)."""
    before = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = before or enabled
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = before
