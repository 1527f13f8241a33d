"""``bz.pp.encode``: regions or a window plan + genome -> one-hot window store on disk, resumable."""

from __future__ import annotations

import logging
import os
import re
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import numpy as np
import pandas as pd
from anndata import AnnData
from tqdm.auto import tqdm

from .._settings import settings
from ..io.genome import Genome, as_genome
from ..store import _zarr as zstore
from ..store import announce_reuse
from ..store._plan import WindowPlan, geometry, plan_centered, plan_tiled
from ._windows import plan_windows

logger = logging.getLogger("bazenji")

DEFAULT_CHUNK_WINDOWS = 32
# what pathlib makes of a URL: Path("s3://bucket/w.zarr") is "s3:/bucket/w.zarr" (one-letter schemes are drives)
_COLLAPSED_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:/(?!/)")


def encode_windows(
    genome: Genome,
    chroms: np.ndarray,
    starts: np.ndarray,
    seq_length: int,
    rc: np.ndarray | None = None,
    *,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """One-hot ``(n, seq_length, 4)`` uint8 of windows, reverse-complemented where ``rc`` is True.

    Parameters
    ----------
    genome
        The genome to read.
    chroms, starts
        Window chromosome names and starts (windows may run past chromosome ends: N, all-zero).
    seq_length
        Window length.
    rc
        Per window, whether to reverse-complement it.
    out
        A ``uint8`` array of shape ``(n, seq_length, 4)`` to fill (reusing buffers saves page faults).
    """
    return genome.fetch_onehot_many(chroms, starts, seq_length, rc=rc, out=out)


def _restrand(plan: WindowPlan, stranded: bool) -> WindowPlan:
    geometry = {"seq_length": plan.seq_length, "bin_size": plan.bin_size, "crop_bins": plan.crop_bins}
    if plan.mode == "tiled":
        return plan_tiled(plan.regions, margin=plan.margin, stranded=stranded, **geometry)
    return plan_centered(plan.regions, stranded=stranded, **geometry)


def _check_plan_options(plan: WindowPlan, options: dict) -> None:
    """Planning options given with a ready plan must agree with it: they cannot change its windows."""
    numbers = {k: options.get(k, getattr(plan, k)) for k in ("seq_length", "bin_size", "crop_bins")}
    seq_length, bin_size, crop_bins, _ = geometry(**numbers, model=options.get("model"))
    wanted = {"seq_length": seq_length, "bin_size": bin_size, "crop_bins": crop_bins,
              "mode": options.get("mode", plan.mode)}  # fmt: skip
    if plan.mode == "tiled" and "margin" in options:
        wanted["margin"] = options["margin"]
    differ = [k for k, v in wanted.items() if v != getattr(plan, k)]
    if differ:
        source = f" (from the model {type(options['model']).__name__})" if "model" in options else ""
        raise ValueError(
            f"the plan has {', '.join(f'{k}={getattr(plan, k)!r}' for k in differ)} but encode was given "
            f"{', '.join(f'{k}={wanted[k]!r}' for k in differ)}{source}; these options only plan regions: leave "
            "them out with a plan, or make the plan with them (bz.pp.plan_windows)"
        )


def _mismatches(path: str, plan: WindowPlan, genome: Genome, chunk_windows: int | None) -> list[str]:
    meta = zstore.attrs(path)
    problems = []
    if meta.get("format_version") != zstore.FORMAT_VERSION:
        problems.append(f"format version {meta.get('format_version')}, this bazenji writes {zstore.FORMAT_VERSION}")
    if meta.get("genome_fingerprint") != genome.fingerprint:
        problems.append(
            f"genome {meta.get('genome_path') or '(in memory)'} {meta.get('genome_fingerprint')}, not "
            f"{genome.path or '(in memory)'} {genome.fingerprint}"
        )
    for key in ("seq_length", "bin_size", "crop_bins"):
        if int(meta[key]) != getattr(plan, key):
            problems.append(f"{key}={meta[key]}, not {getattr(plan, key)}")
    if chunk_windows is not None and int(meta["chunk_windows"]) != min(chunk_windows, max(plan.n_windows, 1)):
        problems.append(f"chunk_windows={meta['chunk_windows']}, not {chunk_windows}")
    if not problems and not zstore.read_plan(path).equals(plan):
        problems.append("other windows or regions")
    return problems


def encode(
    plan_or_regions: WindowPlan | AnnData | pd.DataFrame | str | os.PathLike | object,
    genome: Genome | str | os.PathLike,
    store: str | os.PathLike,
    *,
    chunk_windows: int | None = None,
    overwrite: bool = False,
    stranded: bool | None = None,
    mode: Literal["centered", "tiled"] | None = None,
    seq_length: int | None = None,
    model: object | None = None,
    margin: int | None = None,
    bin_size: int | None = None,
    crop_bins: int | None = None,
    compression_level: int = 1,
    writers: int = 2,
    client: object | None = None,
    progress: bool | None = None,
) -> str:
    """Encode the windows of a plan (or of regions) into a one-hot zarr window store, chunk by chunk.

    Running it again on an existing store resumes: chunks already flagged ``done`` are kept, the rest
    are encoded, and the result equals an uninterrupted run.

    Parameters
    ----------
    plan_or_regions
        A :class:`~bazenji.store.WindowPlan`, or regions (AnnData, DataFrame, BED path, ...) that are
        planned with :func:`bazenji.pp.plan_windows` using ``mode``, ``seq_length``, ``model``, ``margin``.
    genome
        A :class:`~bazenji.io.Genome` or a FASTA path.
    store
        Path of the zarr store (a folder, conventionally ending in ``.zarr``), or an fsspec URL that zarr
        supports (``s3://bucket/windows.zarr``, ``memory://windows.zarr``).
    chunk_windows
        Windows per zarr chunk, the unit of work and of resumption; 32 for a new store by default.
    overwrite
        Replace an existing store instead of resuming it. Without it, a store made from another
        genome, window geometry or plan is an error.
    stranded
        Reverse-complement the windows of minus-strand regions. ``None`` follows the plan (plus strand
        only for regions).
    mode, seq_length, model, margin, bin_size, crop_bins
        Planning options used when regions are given, with the defaults of :func:`bazenji.pp.plan_windows`.
        Given with a plan, they must agree with it (an error otherwise; ``margin`` is compared for tiled plans
        only, as centred planning ignores it).
    compression_level
        zstd level of the one-hot (blosc, bit-shuffled); 1 stores about 0.26 bytes per bp and is fastest.
    writers
        Threads compressing and writing chunks while the next chunks are read and encoded.
    client
        A ``dask.distributed.Client``: chunks are encoded and written by its workers, which must see
        the store's filesystem; each chunk is one task named ``bazenji-encode-<store token>-<call>-<chunk>``.
        :attr:`bazenji.settings.client` by default; local threads when neither is set or with ``False``.
    progress
        Show a progress bar; :attr:`bazenji.settings.progress` by default.

    Returns
    -------
    The store path; open it with :func:`bazenji.store.open` or ``xarray.open_zarr``.
    """
    genome = as_genome(genome)
    given = {"mode": mode, "seq_length": seq_length, "model": model, "margin": margin, "bin_size": bin_size,
             "crop_bins": crop_bins}  # fmt: skip
    options = {k: v for k, v in given.items() if v is not None}
    if isinstance(plan_or_regions, WindowPlan):
        plan = plan_or_regions
        _check_plan_options(plan, options)
        if stranded is not None and bool(stranded) != plan.stranded:
            plan = _restrand(plan, bool(stranded))
    else:
        plan = plan_windows(plan_or_regions, stranded=bool(stranded), **options)
    genome.check_chroms(plan.windows["chrom"].unique().tolist())
    path = os.fspath(store)
    if isinstance(store, os.PathLike) and _COLLAPSED_URL.match(path):
        raise ValueError(
            f"store={path!r} looks like an fsspec URL that pathlib collapsed ('memory://x' becomes 'memory:/x'); "
            "pass the URL as a str. bz.tl.predict(regions, ..., store=URL) does that to URLs: encode into the URL "
            "with bz.pp.encode(regions, genome, URL, model=model), then run bz.tl.predict(URL, model)"
        )
    if chunk_windows is not None and (not isinstance(chunk_windows, int | np.integer) or chunk_windows < 1):
        raise ValueError(f"chunk_windows={chunk_windows!r}; expected a positive integer")
    if zstore.exists(path):
        if not zstore.is_store(path):
            raise FileExistsError(f"{path!r} exists and is not a bazenji window store; choose another path")
        if overwrite or not zstore.is_created(path):  # a store whose creation stopped holds nothing encoded
            zstore.remove(path)
        else:
            problems = _mismatches(path, plan, genome, chunk_windows)
            if problems:
                raise ValueError(
                    f"the store {path!r} was made with {'; '.join(problems)}; pass overwrite=True to replace it"
                )
    if not zstore.exists(path):
        zstore.create(
            path,
            plan,
            chunk_windows=chunk_windows or DEFAULT_CHUNK_WINDOWS,
            genome_path=genome.path,
            genome_fingerprint=genome.fingerprint,
            compression_level=compression_level,
        )
    client = settings.client if client is None else (client or None)
    _encode_missing(path, plan, genome, writers=max(1, int(writers)), client=client, progress=progress)
    return path


def _encode_chunk(path: str, genome: Genome, chroms, starts, rc, seq_length: int, chunk: int) -> int:
    """Encode and write one chunk (the unit a dask worker gets) unless done already; returns its number of windows."""
    import zarr

    if zarr.open_group(path, mode="r", use_consolidated=False)["done"][chunk]:  # dask retried a finished task
        return len(starts)
    zstore.write_onehot_chunk(path, chunk, encode_windows(genome, chroms, starts, seq_length, rc))
    return len(starts)


def _encode_missing(
    path: str, plan: WindowPlan, genome: Genome, *, writers: int, client: object | None, progress: bool | None
) -> None:
    meta = zstore.attrs(path)
    todo = np.flatnonzero(~zstore.encoded_chunks(path))
    bounds = [zstore.chunk_bounds(meta, int(c)) for c in todo]
    n_todo = sum(hi - lo for lo, hi in bounds)
    if len(todo) < int(meta["n_chunks"]):
        announce_reuse(path, "the encoded windows of this plan", int(meta["n_chunks"]) - len(todo),
                       int(meta["n_chunks"]), "pass overwrite=True to bz.pp.encode to re-encode")  # fmt: skip
    chroms = plan.windows["chrom"].astype(str).to_numpy()
    starts = plan.windows["start"].to_numpy(np.int64)
    rc = plan.windows["rc"].to_numpy(bool) if "rc" in plan.windows else np.zeros(plan.n_windows, bool)
    show = settings.progress if progress is None else progress
    with tqdm(
        total=plan.n_windows, initial=plan.n_windows - n_todo, disable=not show, unit="window", desc="encode"
    ) as bar:
        if client is not None:
            _encode_on_dask(client, path, plan, genome, todo, bounds, (chroms, starts, rc), bar)
        else:
            _encode_in_threads(path, plan, genome, todo, bounds, (chroms, starts, rc), bar, writers)
    zstore.mark_complete(path)


def _encode_in_threads(path, plan, genome, todo, bounds, windows, bar, writers: int) -> None:
    import zarr

    chroms, starts, rc = windows
    group = zarr.open_group(path, mode="r+", use_consolidated=False)
    size = int(zstore.attrs(path)["chunk_windows"])
    # writers + 1 buffers in rotation: one being filled while the others are compressed and written
    buffers = [np.empty((size, plan.seq_length, 4), np.uint8) for _ in range(min(writers + 1, len(todo)))]
    pending: deque = deque()
    with ThreadPoolExecutor(max_workers=writers, thread_name_prefix="bazenji-encode") as pool:
        try:
            for k, (chunk, (lo, hi)) in enumerate(zip(todo.tolist(), bounds, strict=True)):
                out = buffers[k % len(buffers)][: hi - lo]
                onehot = encode_windows(genome, chroms[lo:hi], starts[lo:hi], plan.seq_length, rc[lo:hi], out=out)
                pending.append((pool.submit(zstore.write_onehot_chunk, group, chunk, onehot), hi - lo))
                while len(pending) > writers:
                    future, n = pending.popleft()
                    future.result()
                    bar.update(n)
            while pending:
                future, n = pending.popleft()
                future.result()
                bar.update(n)
        except BaseException:
            for future, _ in pending:
                future.cancel()
            raise


def _encode_on_dask(client, path, plan, genome, todo, bounds, windows, bar) -> None:
    import hashlib

    from ..tl._dask import run_chunks, share

    chroms, starts, rc = windows
    where = path if zstore.is_url(path) else os.path.abspath(path)
    token = hashlib.blake2b(f"{where}|{genome.fingerprint}".encode(), digest_size=6).hexdigest()
    shared = share(client, genome, name="genome", token=token)
    first = {int(c): lo for c, (lo, _) in zip(todo.tolist(), bounds, strict=True)}
    last = {int(c): hi for c, (_, hi) in zip(todo.tolist(), bounds, strict=True)}
    try:
        run_chunks(
            client, _encode_chunk, todo.tolist(),
            lambda c: (path, shared, chroms[first[c] : last[c]], starts[first[c] : last[c]], rc[first[c] : last[c]],
                       plan.seq_length, c),
            name="encode", token=token, on_result=bar.update,
        )  # fmt: skip
    finally:
        shared.release()
