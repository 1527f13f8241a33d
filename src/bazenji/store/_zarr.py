"""The window store: a zarr group of one-hot windows plus the plan that made them, opened as an xarray Dataset.

Layout (zarr format 3, dimension names in the array metadata, so ``xarray.open_zarr`` reads it)::

    onehot           (window, position, base) uint8   chunks (chunk_windows, seq_length, 4), blosc zstd bit-shuffle
    base             (base,)   str    "A", "C", "G", "T"
    chrom            (window,) str    \
    start, end       (window,) int64   window coordinates, unclipped (N padding past chromosome ends)
    rc               (window,) bool   window encoded reverse-complemented (stranded minus-strand regions)
    done             (chunk,)  bool   one zarr chunk per element: window chunk i is encoded
    region           (region,) str    region names (obs_names), with region_chrom/start/end/strand
    piece_region, piece_window, piece_bin_start, piece_bin_end   (piece,) int64: the plan's assignments

Group attributes: ``bazenji_format`` ("window-store"), ``format_version``, ``seq_length``, ``bin_size``,
``crop_bins``, ``n_bins``, ``alphabet`` ("ACGT"), ``n_encoding`` ("zeros"), ``mode``, ``margin``,
``stranded``, ``n_windows``, ``n_windows_saved``, ``chunk_windows``, ``genome_path``,
``genome_fingerprint``, ``created``, ``complete`` and ``bazenji_version``.

A store lives at a local path or at any fsspec URL zarr supports (``s3://...``, ``memory://...``). A
local store is built next to its path and renamed into place; a URL has no atomic rename, so the store
is built in place with ``created`` False until its last array is written, and a store found with
``created`` False is replaced by :func:`bazenji.pp.encode`.

Metadata is not consolidated: zarr 3 hides arrays added after consolidation from readers that
trust it, and prediction adds arrays to the store later. ``xarray.open_zarr(path, consolidated=False)``
opens it without a warning.
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pandas as pd
import xarray as xr
import zarr
from zarr.codecs import BloscCodec

from ._plan import REGION_COLUMNS, WindowPlan

FORMAT = "window-store"
FORMAT_VERSION = 1
ONEHOT = "onehot"


def _compressor(level: int) -> BloscCodec:
    # bit-shuffle turns one-hot bytes into bit planes; zstd on 256 kB blocks then stores ~2 bits per base
    return BloscCodec(cname="zstd", clevel=level, shuffle="bitshuffle", typesize=1, blocksize=1 << 18)


def _path(path: str | os.PathLike) -> str:
    return os.fspath(path)


def is_url(path: str | os.PathLike) -> bool:
    """Whether ``path`` is an fsspec URL (``s3://...``, ``memory://...``) rather than a local path."""
    return isinstance(path, str) and "://" in path


def _filesystem(url: str):
    import fsspec

    return fsspec.core.url_to_fs(url)


def exists(path: str | os.PathLike) -> bool:
    """Whether anything (a store or not) is at the local path or URL ``path``."""
    path = _path(path)
    if is_url(path):
        fs, root = _filesystem(path)
        return fs.exists(root)
    return os.path.exists(path)


def is_store(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a bazenji window store."""
    try:
        group = zarr.open_group(_path(path), mode="r", use_consolidated=False)
    except (FileNotFoundError, zarr.errors.GroupNotFoundError, ValueError, OSError):
        return False
    return group.attrs.get("bazenji_format") == FORMAT


def _group(path: str | os.PathLike, mode: str = "r") -> zarr.Group:
    path = _path(path)
    if not is_store(path):
        raise FileNotFoundError(f"{path!r} is not a bazenji window store (no zarr group, bazenji_format={FORMAT!r})")
    return zarr.open_group(path, mode=mode, use_consolidated=False)


def _array(group: zarr.Group, name: str, values: np.ndarray, dims: list[str], **kw) -> zarr.Array:
    values = np.asarray(values)
    if values.dtype.kind in "UOT":
        values = values.astype(str)
        array = group.create_array(name, shape=values.shape, dtype=str, dimension_names=dims, **kw)
    else:
        array = group.create_array(name, shape=values.shape, dtype=values.dtype, dimension_names=dims, **kw)
    if values.size:
        array[...] = values
    return array


def create(
    path: str | os.PathLike,
    plan: WindowPlan,
    *,
    chunk_windows: int,
    genome_path: str | None,
    genome_fingerprint: str,
    compression_level: int = 1,
) -> str:
    """Create an empty window store for ``plan`` (nothing encoded yet), replacing nothing.

    A local store is built next to ``path`` and moved into place in one rename, so ``path`` is either
    absent or a whole store, whenever the process stops. A store at a URL is built in place and its
    ``created`` attribute set only once it is whole.

    Returns
    -------
    The store path.
    """
    path = _path(path)
    if exists(path):
        raise FileExistsError(f"{path!r} exists")
    n = plan.n_windows
    chunk_windows = max(1, min(int(chunk_windows), max(n, 1)))
    meta = _attributes(plan, chunk_windows, genome_path, genome_fingerprint)
    if is_url(path):
        # the format marker goes in with the group, so a half-built store is known for one
        group = zarr.open_group(path, mode="w", zarr_format=3, attributes={**meta, "created": False})
        _fill(group, plan, chunk_windows, compression_level)
        group.attrs["created"] = True
        return path
    partial = f"{path}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    group = zarr.open_group(partial, mode="w", zarr_format=3)
    _fill(group, plan, chunk_windows, compression_level)
    group.attrs.update({**meta, "created": True})
    os.rename(partial, path)
    return path


def _attributes(plan: WindowPlan, chunk_windows: int, genome_path: str | None, genome_fingerprint: str) -> dict:
    from .. import __version__

    n = plan.n_windows
    return {
        "bazenji_format": FORMAT,
        "format_version": FORMAT_VERSION,
        "bazenji_version": __version__,
        "seq_length": plan.seq_length,
        "bin_size": plan.bin_size,
        "crop_bins": plan.crop_bins,
        "n_bins": plan.n_bins,
        "alphabet": "ACGT",
        "n_encoding": "zeros",
        "mode": plan.mode,
        "margin": int(plan.margin),
        "stranded": bool(plan.stranded),
        "n_windows": n,
        "n_windows_saved": int(plan.n_windows_saved),
        "chunk_windows": chunk_windows,
        "n_chunks": -(-n // chunk_windows),
        "genome_path": genome_path or "",
        "genome_fingerprint": genome_fingerprint,
        "complete": n == 0,
    }


def _fill(group: zarr.Group, plan: WindowPlan, chunk_windows: int, compression_level: int) -> None:
    """Write every array of a new store: the empty one-hot, the windows, the regions and the plan's pieces."""
    n, length = plan.n_windows, plan.seq_length
    onehot = group.create_array(
        ONEHOT,
        shape=(n, length, 4),
        chunks=(chunk_windows, length, 4),
        dtype="uint8",
        fill_value=0,
        compressors=_compressor(compression_level),
        dimension_names=["window", "position", "base"],
    )
    onehot.attrs["description"] = "one-hot DNA, channels A C G T; N and other codes all-zero"
    _array(group, "base", np.array(list("ACGT")), ["base"])
    windows = plan.windows
    _array(group, "chrom", windows["chrom"].astype(str).to_numpy(), ["window"])
    _array(group, "start", windows["start"].to_numpy(np.int64), ["window"])
    _array(group, "end", windows["end"].to_numpy(np.int64), ["window"])
    rc = windows["rc"].to_numpy(bool) if "rc" in windows else np.zeros(n, bool)
    _array(group, "rc", rc, ["window"])
    n_chunks = -(-n // chunk_windows)
    group.create_array("done", shape=(n_chunks,), chunks=(1,), dtype=bool, fill_value=False, dimension_names=["chunk"])
    regions = plan.regions
    _array(group, "region", regions.index.astype(str).to_numpy(), ["region"])
    _array(group, "region_chrom", regions["Chromosome"].astype(str).to_numpy(), ["region"])
    _array(group, "region_start", regions["Start"].to_numpy(np.int64), ["region"])
    _array(group, "region_end", regions["End"].to_numpy(np.int64), ["region"])
    if "Strand" in regions:
        _array(group, "region_strand", regions["Strand"].astype(str).to_numpy(), ["region"])
    for column in plan.assignments.columns:
        _array(group, f"piece_{column}", plan.assignments[column].to_numpy(np.int64), ["piece"])


def is_created(path: str | os.PathLike) -> bool:
    """Whether a store was built whole (False: its creation at a URL stopped half-way; it holds nothing encoded)."""
    return bool(_group(path).attrs.get("created", True))


def open(path: str | os.PathLike, **kwargs) -> xr.Dataset:  # noqa: A001 - the module's verb, like xarray.open_zarr
    """Open a window store as an :class:`xarray.Dataset` backed lazily by its zarr arrays.

    Parameters
    ----------
    path
        The store.
    **kwargs
        Passed to :func:`xarray.open_zarr` (e.g. ``chunks={}`` for dask arrays).

    Returns
    -------
    Dataset with ``onehot`` (window, position, base) and the other variables of the store layout.
    """
    _group(path)
    kwargs.setdefault("chunks", None)
    return xr.open_zarr(_path(path), consolidated=False, zarr_format=3, **kwargs)


def attrs(path: str | os.PathLike) -> dict:
    """The store's group attributes."""
    return dict(_group(path).attrs)


def read_plan(path: str | os.PathLike) -> WindowPlan:
    """The :class:`WindowPlan` a store was written from (regions with their coordinates and strand)."""
    group = _group(path)
    meta = group.attrs

    def values(name: str) -> np.ndarray:
        data = np.asarray(group[name][...])
        return np.asarray(data.tolist(), dtype=object) if data.dtype.kind in "OUT" else data

    windows = pd.DataFrame(
        {
            "chrom": values("chrom"),
            "start": values("start").astype(np.int64),
            "end": values("end").astype(np.int64),
            "rc": values("rc").astype(bool),
        }
    )
    regions = pd.DataFrame(
        {
            "Chromosome": values("region_chrom"),
            "Start": values("region_start").astype(np.int64),
            "End": values("region_end").astype(np.int64),
        },
        index=pd.Index(values("region"), dtype=object),
    )
    if "region_strand" in group:
        regions["Strand"] = values("region_strand")
    assignments = pd.DataFrame(
        {c: values(f"piece_{c}").astype(np.int64) for c in ("region", "window", "bin_start", "bin_end")}
    )
    return WindowPlan(
        windows=windows,
        regions=regions[[c for c in REGION_COLUMNS if c in regions]],
        assignments=assignments,
        seq_length=int(meta["seq_length"]),
        bin_size=int(meta["bin_size"]),
        crop_bins=int(meta["crop_bins"]),
        n_bins=int(meta["n_bins"]),
        mode=str(meta["mode"]),
        margin=int(meta["margin"]),
        n_windows_saved=int(meta["n_windows_saved"]),
        stranded=bool(meta["stranded"]),
    )


def chunk_bounds(path_or_attrs: str | os.PathLike | dict, chunk: int) -> tuple[int, int]:
    """First and one-past-last window of window chunk ``chunk``."""
    meta = path_or_attrs if isinstance(path_or_attrs, dict) else attrs(path_or_attrs)
    size, n = int(meta["chunk_windows"]), int(meta["n_windows"])
    if not 0 <= chunk < int(meta["n_chunks"]):
        raise IndexError(f"chunk {chunk} out of range: the store has {meta['n_chunks']} chunks")
    return chunk * size, min((chunk + 1) * size, n)


def encoded_chunks(path: str | os.PathLike) -> np.ndarray:
    """Boolean array over window chunks: which are encoded."""
    return np.asarray(_group(path)["done"][...], dtype=bool)


def write_onehot_chunk(path: str | os.PathLike | zarr.Group, chunk: int, onehot: np.ndarray) -> None:
    """Write the one-hot of window chunk ``chunk``, then flag it done (so a crash in between leaves it undone)."""
    group = path if isinstance(path, zarr.Group) else _group(path, "r+")
    # zarr checks every chunk for being all fill value unless told not to: a full pass over 16 MB
    array = group[ONEHOT].with_config({"write_empty_chunks": True})
    start = chunk * array.chunks[0]
    array[start : start + len(onehot)] = onehot
    group["done"][chunk] = True


def mark_complete(path: str | os.PathLike) -> None:
    """Set the ``complete`` attribute once every chunk is encoded."""
    group = _group(path, "r+")
    if encoded_chunks(path).all():
        group.attrs["complete"] = True


def check_complete(source: str | os.PathLike | xr.Dataset) -> None:
    """Raise when a store's encoding was interrupted: its unfinished windows would read as all-N."""
    meta = source.attrs if isinstance(source, xr.Dataset) else attrs(source)
    if meta.get("complete", True):
        return
    done = np.asarray(source["done"].values if isinstance(source, xr.Dataset) else encoded_chunks(source), bool)
    missing = np.flatnonzero(~done)
    where = meta.get("path") or (source if not isinstance(source, xr.Dataset) else "the window store")
    raise ValueError(
        f"{where} is incomplete: {missing.size} of {done.size} window chunks were never encoded (chunks "
        f"{missing[:5].tolist()}{' ...' if missing.size > 5 else ''}); run bz.pp.encode again with the same "
        "arguments to finish it"
    )


def check_targets(source: str | os.PathLike | xr.Dataset) -> None:
    """Raise when a store has no training ``targets`` or their import stopped before the last window.

    Windows an interrupted import never reached would read as all-zero targets. Stores whose
    ``targets`` lack the ``complete`` attribute (written before it existed) are taken as complete.
    """
    dataset = isinstance(source, xr.Dataset)
    where = source.attrs.get("path", "the window store") if dataset else repr(_path(source))
    group = None if dataset else _group(source)
    if "targets" not in (source if dataset else group):
        raise ValueError(f"{where} has no 'targets' variable; add tracks with bz.pp.import_bigwigs first")
    meta = source["targets"].attrs if dataset else group["targets"].attrs
    if not meta.get("complete", True):
        raise ValueError(
            f"{where} has incomplete targets: their import stopped before the last window, and the windows it did "
            "not reach would train on zeros; run bz.pp.import_bigwigs on the store again to redo it"
        )


def remove(path: str | os.PathLike) -> None:
    """Delete a window store (refuses anything that is not one).

    A local store is renamed first, so an interruption never leaves a half-deleted store at ``path``. At a
    URL the store is first flagged not ``created`` and its group metadata deleted last, so a half-deleted
    store reads as a half-built one, which :func:`bazenji.pp.encode` replaces.
    """
    path = _path(path)
    if not is_store(path):
        raise ValueError(f"refusing to delete {path!r}: it is not a bazenji window store")
    if is_url(path):
        zarr.open_group(path, mode="r+", use_consolidated=False).attrs["created"] = False
        fs, root = _filesystem(path)
        marker = f"{root.rstrip('/')}/zarr.json"
        files = [f for f in fs.find(root) if f.rstrip("/") != marker]  # find() lists paths as url_to_fs gives root
        if files:
            fs.rm(files)
        fs.rm(root, recursive=True)
        return
    doomed = f"{path.rstrip('/')}.removing-{os.getpid()}"
    os.replace(path, doomed)
    shutil.rmtree(doomed)
