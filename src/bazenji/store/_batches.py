"""Reading one-hot windows back in batches: whole zarr chunks, the next one read in a background thread."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterable, Iterator

import numpy as np
import xarray as xr
import zarr

from ._zarr import ONEHOT, _group, check_complete

_DONE = object()


class _ChunkReader:
    """Reads windows of one variable a whole zarr chunk at a time, from a store path or an xarray Dataset."""

    def __init__(self, source: str | os.PathLike | xr.Dataset, variable: str) -> None:
        if variable == ONEHOT:
            check_complete(source)
        if isinstance(source, xr.Dataset):
            data = source[variable]
            chunks = data.encoding.get("chunks") or data.encoding.get("preferred_chunks", {}).get("window")
            self.size = int(chunks[0] if isinstance(chunks, tuple | list) else chunks or source.attrs["chunk_windows"])
            self.n = data.sizes["window"]
            self._read = lambda lo, hi: np.asarray(data[lo:hi].values)
        else:
            array: zarr.Array = _group(source)[variable]
            self.size = int(array.chunks[0])
            self.n = int(array.shape[0])
            self._read = lambda lo, hi: np.asarray(array[lo:hi])

    def segments(self, windows: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """Runs of ``windows`` that fall in one chunk: ``(chunk, windows)``."""
        if len(windows) == 0:
            return []
        chunk = windows // self.size
        cuts = np.flatnonzero(np.diff(chunk)) + 1
        return [(int(chunk[s[0]]), s) for s in np.split(np.arange(len(windows)), cuts)]

    def read(self, chunk: int, windows: np.ndarray) -> np.ndarray:
        lo = chunk * self.size
        block = self._read(lo, min(lo + self.size, self.n))
        local = windows - lo
        if len(local) == len(block) and (local == np.arange(len(block))).all():
            return block
        return block[local]


class _Raised:
    """An exception of the producer thread, handed to the consumer (never confused with an item)."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetched(items: Iterable, depth: int = 1) -> Iterator:
    """Iterate over ``items`` while a background thread produces up to ``depth`` items ahead.

    Reading and decompressing zarr chunks releases the GIL, so the next item is read while the caller
    computes on the current one. An exception in the producer is raised in the caller; closing the
    iterator early stops the thread.
    """
    out: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as err:
            put(_Raised(err))

    thread = threading.Thread(target=produce, daemon=True, name="bazenji-prefetch")
    thread.start()
    try:
        while (item := out.get()) is not _DONE:
            if isinstance(item, _Raised):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join()


def iter_batches(
    source: str | os.PathLike | xr.Dataset,
    batch_size: int,
    *,
    windows: np.ndarray | None = None,
    prefetch: bool = True,
    variable: str = ONEHOT,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Iterate over a store's windows in batches, reading whole zarr chunks.

    Parameters
    ----------
    source
        A window store path or a Dataset from :func:`bazenji.store.open`.
    batch_size
        Windows per batch (the last batch may be smaller).
    windows
        Window indices to read, in this order; all windows by default. Sorted indices read every
        chunk once; indices jumping between chunks re-read them.
    prefetch
        Read and decompress the next chunk in a background thread while the current one is used.
    variable
        The variable to read (``onehot``, or e.g. ``targets``).

    Yields
    ------
    ``(window indices, values)``: ``int64`` array of shape ``(b,)`` and the variable's rows, for
    ``onehot`` a ``uint8`` array of shape ``(b, seq_length, 4)``.
    """
    if not isinstance(batch_size, int | np.integer) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r}; expected a positive integer")
    reader = _ChunkReader(source, variable)
    windows = np.arange(reader.n, dtype=np.int64) if windows is None else np.asarray(windows, dtype=np.int64)
    if windows.ndim != 1 or (len(windows) and (windows.min() < 0 or windows.max() >= reader.n)):
        raise IndexError(f"windows must be indices in 0..{reader.n - 1}")
    chunks = ((windows[p], reader.read(c, windows[p])) for c, p in reader.segments(windows))
    yield from _rebatch(prefetched(chunks) if prefetch else chunks, batch_size)


def _rebatch(chunks, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    pending_idx: list[np.ndarray] = []
    pending: list[np.ndarray] = []
    held = 0
    for idx, values in chunks:
        at = 0
        if held:
            take = min(batch_size - held, len(idx))
            pending_idx.append(idx[:take])
            pending.append(values[:take])
            held += take
            at = take
            if held == batch_size:
                yield np.concatenate(pending_idx), np.concatenate(pending)
                pending_idx, pending, held = [], [], 0
        while len(idx) - at >= batch_size:
            yield idx[at : at + batch_size], values[at : at + batch_size]
            at += batch_size
        if at < len(idx):
            pending_idx.append(idx[at:])
            pending.append(values[at:])
            held += len(idx) - at
    if held:
        yield np.concatenate(pending_idx), np.concatenate(pending)


class WindowDataset:
    """Map-style dataset over a store's windows, for ``torch.utils.data.DataLoader`` (no torch needed here).

    Item ``i`` is the one-hot of window ``windows[i]`` (``(seq_length, 4)`` uint8), or a tuple with the
    rows of ``variables`` too. The last chunk read is cached, so reading in order decompresses each
    chunk once; the object pickles to its path, so DataLoader workers open the store themselves.

    Parameters
    ----------
    path
        A window store path.
    windows
        The windows to serve, all by default.
    variables
        Variables to return per item, ``("onehot",)`` by default.
    """

    def __init__(
        self, path: str | os.PathLike, *, windows: np.ndarray | None = None, variables: tuple[str, ...] = (ONEHOT,)
    ) -> None:
        self.path = os.fspath(path)
        self.variables = tuple(variables)
        group = _group(self.path)
        n = int(group[ONEHOT].shape[0])
        self.windows = np.arange(n) if windows is None else np.asarray(windows, dtype=np.int64)
        self._readers: dict[str, _ChunkReader] | None = None
        self._cache: dict[str, tuple[int, np.ndarray]] = {}

    def __getstate__(self) -> dict:
        return {"path": self.path, "variables": self.variables, "windows": self.windows}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, _readers=None, _cache={})

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, i: int) -> np.ndarray | tuple[np.ndarray, ...]:
        if self._readers is None:
            self._readers = {v: _ChunkReader(self.path, v) for v in self.variables}
        w = int(self.windows[i])
        rows = []
        for name, reader in self._readers.items():
            chunk = w // reader.size
            cached = self._cache.get(name)
            if cached is None or cached[0] != chunk:
                lo = chunk * reader.size
                cached = (chunk, reader.read(chunk, np.arange(lo, min(lo + reader.size, reader.n))))
                self._cache[name] = cached
            rows.append(cached[1][w - chunk * reader.size])
        return rows[0] if len(rows) == 1 else tuple(rows)
