"""``bz.tl.predict``: regions in, regions x tracks AnnData out, streamed chunk by chunk through Basenji2."""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .. import store as bz_store
from .._settings import settings
from ..io import select_tracks
from ._aggregate import check_aggregate, combine_pieces
from ._cells import peaks_target, predict_into_peaks
from ._chunks import ChunkSpec, PlanLayout, predict_here
from ._common import h5ad_safe, model_fingerprint, resolve_genome, resolve_model, track_table, versions
from ._ensemble import resolve_placement, strand_pair_permutation

logger = logging.getLogger("bazenji")

#: profiles of at most this many tracks are also put in ``obsm`` (region, bin, track)
OBSM_PROFILE_TRACKS = 32


def _is_store(data) -> bool:
    if bz_store.is_url(data):
        return bz_store.is_store(data)
    return isinstance(data, str | Path) and Path(data).is_dir() and bz_store.is_store(data)


def predict(
    data,
    model=None,
    genome=None,
    *,
    tracks=None,
    mode: str = "centered",
    margin: int | None = None,
    aggregate: str = "mean",
    rc: bool = False,
    shifts: Sequence[int] = (0,),
    keep_profiles: bool | Sequence = False,
    store: str | Path | None = None,
    keep_store: bool | None = None,
    chunk_windows: int | None = None,
    stranded: bool = False,
    device: str | None = None,
    dtype: str = "float32",
    batch_size: int | None = None,
    into: ad.AnnData | None = None,
    key_added: str | None = None,
    overwrite: bool = False,
    client=None,
    copy: bool = False,
) -> ad.AnnData | None:
    """Predict Basenji2 coverage for every region: a regions x tracks AnnData, or into a cells x peaks AnnData.

    Windows are planned (one per region, or shared in tiled mode), encoded into a zarr window store,
    streamed chunk by chunk through the model (reading the next chunk while the model works), and each
    region's bins aggregated. Results are written per chunk, so an interrupted call resumes where it
    stopped when called again with the same ``store``.

    Parameters
    ----------
    data
        A regions AnnData (intervals in ``obs``); a cells x peaks AnnData (peaks in ``var``, named like
        ``chr1:100-600`` or with ``Chromosome``/``Start``/``End`` columns) or a MuData with an ``"atac"`` modality,
        predicted in place (see Returns); anything :func:`bazenji.pp.regions` accepts (BED path, DataFrame,
        pyranges); or the path of an existing window store.
    model
        A :class:`~bazenji.models.Basenji2` or anything :func:`bazenji.models.load` accepts; the
        embedded demo model when None.
    genome
        A :class:`~bazenji.io.Genome` or a FASTA path; None means the demo genome, allowed with the demo model
        only. Not needed for a store; given with one, it must be the genome the store was encoded from.
    tracks
        Tracks to compute: positions, identifiers, a boolean mask, an assay name (``"CAGE"``) or a pandas
        query on the track table. Only those head rows are computed.
    mode
        ``"centered"``: one window per region centred on it; ``"tiled"``: nearby regions share windows.
    margin
        Tiled mode: minimum bp between a region and the edges of its window's output span (default: see
        :func:`bazenji.pp.plan_windows`).
    aggregate
        Per-region value over the bins the region overlaps: ``"mean"``, ``"sum"``, ``"max"`` or
        ``"center"`` (the bin holding the region's midpoint).
    rc
        Average with the reverse-complement prediction (bins reversed back, strand pairs swapped).
    shifts
        Average over inputs shifted by these bp (N padded), as the official ``ensemble_shift``.
    keep_profiles
        False, True (all computed tracks), or a subset of the computed tracks (same forms as ``tracks``):
        binned profiles (window, bin, track) are written to the store's ``profile`` variable (float16);
        in centered mode with at most 32 such tracks they are also put in ``obsm["bz_profile"]``.
    store
        Where the window store lives; a temporary one (removed afterwards unless ``keep_store``) if None.
    keep_store
        Keep the store after a successful call; default: keep a store you named, remove a temporary one
        unless it holds profiles that did not go to ``obsm`` (then it is kept, with a warning naming it).
    chunk_windows
        Windows per store chunk: the unit of work and of resumption.
    stranded
        Predict minus-strand regions on their reverse complement (bins are returned in genomic order).
    device, dtype, batch_size
        Where and how the model runs; defaults from :data:`bazenji.settings`, dtype ``"float32"``
        (``"bfloat16"``, and ``"float16"`` on CUDA, are faster at a small cost in precision). With a
        dask client the device is resolved on each worker (``"cuda"`` is that worker's GPU).
    into
        An existing regions x tracks AnnData (same ``obs_names`` and ``var_names``, e.g. observed
        coverage from :func:`bazenji.pp.import_bigwigs`): the predictions go to ``into.layers[key_added]``
        and None is returned.
    key_added
        Layer name when ``into`` is given (default ``"predicted"``); the ``varm``/``uns`` key for a cells x peaks
        AnnData (default ``"bz"``).
    overwrite
        Replace an existing layer ``key_added`` of ``into``, or a store built from other windows.
    client
        A ``dask.distributed.Client``: windows are encoded and every unfinished chunk is predicted as one
        named task (``bazenji-predict-<results key>-<call>-<chunk>``) on its workers, which must see the store and
        load the model once each; see :doc:`/scaling`. :attr:`bazenji.settings.client` by default;
        ``False`` runs in this process even when a default client is set.
    copy
        With a cells x peaks AnnData (or MuData): write into a copy and return it.

    Returns
    -------
    AnnData with ``obs`` the regions (input order and names) plus ``n_fraction``, ``var`` the track table,
    ``X`` float32 and ``uns["bazenji"]`` the provenance (model, genome, windows, ensembling, versions, timings);
    None with ``into`` (which gains the layer and ``obs["n_fraction"]``). ``n_fraction`` is the fraction of the
    region's window that is N (all-zero one-hot: padding past a chromosome end, assembly gaps; in tiled mode
    the largest over the region's windows); regions above 0.5 are named in a warning, since their predictions
    are not of real sequence.

    A cells x peaks AnnData is annotated in place, scanpy style (None is returned, or the annotated copy
    with ``copy=True``): ``varm[key_added]`` peaks x tracks float32 in ``var`` order (NaN rows for peaks on
    sequences the genome lacks, reported by count), ``var[key_added + "_gc"]`` each peak's GC fraction, and
    ``uns[key_added]`` with ``"tracks"`` (the track table) and ``"provenance"``. :func:`bazenji.get.tracks`
    gives the peaks x tracks AnnData back.
    """
    call = dict(locals())
    target = peaks_target(data)
    if target is not None:
        if into is not None:
            raise ValueError("into= is for regions AnnData; a cells x peaks AnnData is predicted into itself")
        model = resolve_model(model)
        genome = resolve_genome(genome, model)
        run = partial(_rerun, {**call, "model": model, "genome": genome, "key_added": None, "copy": False})
        return predict_into_peaks(data, target, genome=genome, key_added=key_added or "bz", copy=copy, run=run)
    key_added = "predicted" if key_added is None else key_added
    started = time.perf_counter()
    aggregate = check_aggregate(aggregate)
    shifts = [int(s) for s in shifts] or [0]
    given_model = model
    model = resolve_model(model)
    client, torch_device, compute_dtype = resolve_placement(client, device, dtype)
    batch_size = settings.resolve_batch_size(batch_size)
    if into is not None and key_added in into.layers and not overwrite:
        raise ValueError(f"into.layers[{key_added!r}] exists; pass overwrite=True or another key_added")

    table = track_table(model)
    track_index = select_tracks(table, tracks)
    var = table.iloc[track_index].copy()
    profile_columns = _profile_columns(var, keep_profiles)

    # --- windows: planned and encoded (or taken from an existing store) ---------------------------------------
    temporary = store is None and not _is_store(data)
    if _is_store(data):
        store_path = data if bz_store.is_url(data) else Path(data)
        plan = bz_store.read_plan(store_path)
        bz_store.check_complete(store_path)
        genome_fingerprint = bz_store.open(store_path).attrs.get("genome_fingerprint")
        if genome is not None and resolve_genome(genome, model).fingerprint != genome_fingerprint:
            raise ValueError(
                f"the store {store_path} was encoded from another genome (fingerprint {genome_fingerprint}) than "
                f"genome={genome!r}; expected the genome the store was made from, or genome=None"
            )
        encode_s = 0.0
    else:
        from .. import pp

        genome = resolve_genome(genome, model)
        regions = pp.regions(data, genome=genome)
        plan = pp.plan_windows(regions, mode=mode, model=model, margin=margin)
        store_path = (
            Path(tempfile.mkdtemp(prefix="bazenji-")) / "windows.zarr"
            if temporary
            else (store if bz_store.is_url(store) else Path(store))
        )
        tic = time.perf_counter()
        encode = partial(pp.encode, plan, genome, store_path, chunk_windows=chunk_windows, stranded=stranded,
                         client=client if client is not None else False)  # fmt: skip
        try:  # a store of these very windows is reused (and its finished chunks kept) even with overwrite=True
            encode(overwrite=False)
        except ValueError:
            if not overwrite:
                raise
            encode(overwrite=True)  # a store of other windows, replaced as asked
        encode_s = time.perf_counter() - tic
        genome_fingerprint = genome.fingerprint
    if plan.seq_length != model.config.seq_length:
        raise ValueError(
            f"the store holds {plan.seq_length} bp windows but the model takes {model.config.seq_length} bp; "
            "expected a store made for this model's window size"
        )
    dataset = bz_store.open(store_path)
    n_windows = dataset.sizes["window"]
    chunk = int(dataset["onehot"].encoding.get("chunks", (n_windows,))[0]) if chunk_windows is None else chunk_windows
    chunk = int(dataset.attrs.get("chunk_windows", chunk))
    n_chunks = -(-n_windows // chunk)

    params = {
        "model": model_fingerprint(model),
        "tracks": track_index.tolist(),
        "rc": bool(rc),
        "shifts": shifts,
        "dtype": str(compute_dtype),
        "aggregate": aggregate,
        "n_windows": n_windows,
    }
    key = bz_store.open_results(store_path, params, n_chunks)
    if profile_columns is not None:
        fresh = bz_store.create_profile(
            store_path, n_windows=n_windows, n_bins=plan.n_bins, tracks=[str(t) for t in var.index[profile_columns]],
            chunk_windows=chunk, key=key,
        )  # fmt: skip
        if fresh:  # chunks finished without these profiles must run again to write them
            bz_store.reset_chunks(store_path, key)

    # --- the model over every unfinished chunk ----------------------------------------------------------------
    spec = ChunkSpec(
        store=str(store_path), key=key, chunk_windows=chunk, n_windows=n_windows,
        head_tracks=track_index if len(track_index) < model.config.n_tracks else None, rc=bool(rc),
        shifts=tuple(shifts), dtype=str(compute_dtype).removeprefix("torch."), batch_size=batch_size,
        aggregate=aggregate, strand_pairs=strand_pair_permutation(model.targets, track_index) if rc else None,
        profile_columns=profile_columns,
    )  # fmt: skip
    layout = PlanLayout(plan, n_windows)
    done = bz_store.done_chunks(store_path, key)
    todo = [c for c in range(n_chunks) if not done[c]]
    if len(todo) < n_chunks:
        bz_store.announce_reuse(store_path, f"predictions of these parameters (results/{key})", n_chunks - len(todo),
                                n_chunks, "delete that group, or use another store, to recompute")  # fmt: skip
    n_todo = sum(hi - lo for lo, hi in map(spec.bounds, todo))
    tic = time.perf_counter()
    try:
        with tqdm(total=n_windows, initial=n_windows - n_todo, unit="window", desc="predict",
                  disable=not settings.progress) as bar:  # fmt: skip
            on_workers = None
            if client is None:
                model = model.to(torch_device).eval()
                model_s = predict_here(spec, layout, todo, model, torch_device, bar)
                devices = [str(torch_device)]
            else:
                from ._dask import predict_on_dask

                on_workers = predict_on_dask(
                    client, spec, layout, todo, model, fingerprint=params["model"], given=given_model,
                    device=settings.device if device is None else str(device), bar=bar,
                )  # fmt: skip
                model_s = on_workers["model_s"]
                devices = on_workers["devices"] or [settings.device if device is None else str(device)]
    except BaseException:
        if temporary:
            logger.error("prediction stopped; finished chunks are kept in %s: pass store=%r to resume", store_path,
                         str(store_path))  # fmt: skip
        raise
    predict_s = time.perf_counter() - tic

    # --- regions x tracks ---------------------------------------------------------------------------------------
    assignments = plan.assignments
    values = (bz_store.read_chunk(store_path, key, c, "pieces") for c in range(n_chunks))
    n_piece_bins = (assignments["bin_end"] - assignments["bin_start"]).to_numpy()
    X = combine_pieces(values, assignments["region"].to_numpy(), n_piece_bins, len(plan.regions), aggregate)
    obs = plan.regions.copy()
    obs.index = obs.index.astype(str)
    obs["n_fraction"] = _region_n_fraction(store_path, plan, n_windows, chunk)
    var.index = var.index.astype(str)
    provenance = {
        "model": {**{k: v for k, v in model.source.items() if v is not None}, "fingerprint": params["model"],
                  "config": model.config.to_dict()},
        "genome_fingerprint": genome_fingerprint,
        "windows": {"mode": plan.mode, "n_windows": int(n_windows), "seq_length": plan.seq_length,
                    "bin_size": plan.bin_size, "crop_bins": plan.crop_bins, "stranded": bool(stranded),
                    "n_windows_saved": int(getattr(plan, "n_windows_saved", 0) or 0)},
        "ensemble": {"rc": bool(rc), "shifts": shifts},
        "aggregate": aggregate,
        "device": ",".join(devices),
        "dtype": str(compute_dtype).removeprefix("torch."),
        "store": str(store_path) if not temporary or keep_store else None,
        "results_key": key,
        "versions": versions(),
        "timings": {"encode_s": encode_s, "predict_s": predict_s, "model_s": model_s,
                    "total_s": time.perf_counter() - started,
                    "windows_per_s": n_todo / predict_s if todo and predict_s > 0 else None},
        "dask": None if on_workers is None else {k: on_workers[k] for k in ("task_s", "tasks", "skipped")},
    }  # fmt: skip
    result = ad.AnnData(X=X, obs=obs, var=var)
    result.uns["bazenji"] = h5ad_safe(provenance)
    if profile_columns is not None and plan.mode == "centered" and len(profile_columns) <= OBSM_PROFILE_TRACKS:
        result.obsm["bz_profile"] = np.asarray(bz_store.open(store_path)["profile"].values, dtype=np.float16)
        result.uns["bazenji"]["profile_tracks"] = list(var.index[profile_columns])
    if temporary and keep_store is None and profile_columns is not None and "bz_profile" not in result.obsm:
        keep_store = True  # the profiles exist nowhere else: removing the store would throw computed work away
        result.uns["bazenji"]["store"] = str(store_path)
        logger.warning("the profiles of %d tracks are only in the temporary store %s (too many or too tiled for "
                       "obsm); it is kept: pass store= to choose where", len(profile_columns), store_path)  # fmt: skip
    if temporary and not keep_store:
        shutil.rmtree(store_path.parent, ignore_errors=True)
    if into is not None:
        _write_into(into, result, key_added)
        return None
    return result


def _region_n_fraction(store_path, plan, n_windows: int, chunk: int) -> np.ndarray:
    """Per region, the fraction of its window's positions that are N (all-zero one-hot); the largest of its windows.

    Read back from the store chunk by chunk, so it holds for a store made elsewhere too. A region more than half N
    is named in a warning: its window runs past a chromosome end or over an assembly gap, and what the model
    predicts there is not of real sequence.
    """
    onehot = bz_store.open(store_path)["onehot"]
    window_n = np.empty(n_windows, dtype=np.float32)
    for lo in range(0, n_windows, chunk):
        block = np.ascontiguousarray(onehot[lo : lo + chunk].values)
        window_n[lo : lo + len(block)] = (block.view(np.uint32)[..., 0] == 0).mean(axis=1)  # 4 channels at once
    assignments = plan.assignments
    region_n = np.zeros(len(plan.regions), dtype=np.float32)
    np.maximum.at(region_n, assignments["region"].to_numpy(), window_n[assignments["window"].to_numpy()])
    mostly_n = np.flatnonzero(region_n > 0.5)
    if len(mostly_n):
        shown = ", ".join(f"{plan.regions.index[i]} ({region_n[i]:.0%})" for i in mostly_n[:5])
        logger.warning("%d of %d regions were predicted from windows more than half N (obs['n_fraction']: %s%s); "
                       "they run past a chromosome end or over a gap, and their predictions are not of real sequence",
                       len(mostly_n), len(region_n), shown, ", ..." if len(mostly_n) > 5 else "")  # fmt: skip
    return region_n


def _rerun(call: dict, regions: pd.DataFrame) -> ad.AnnData:
    return predict(**{**call, "data": regions})


def _profile_columns(var: pd.DataFrame, keep_profiles) -> np.ndarray | None:
    if keep_profiles is False or keep_profiles is None:
        return None
    if keep_profiles is True:
        return np.arange(len(var))
    return select_tracks(var, keep_profiles)


def _write_into(into: ad.AnnData, result: ad.AnnData, key: str) -> None:
    if list(into.obs_names) != list(result.obs_names):
        raise ValueError(
            "into.obs_names differ from the predicted regions; expected the same regions in the same order"
        )
    missing = [t for t in into.var_names if t not in result.var_names]
    if missing:
        raise ValueError(f"into has tracks the model did not predict: {missing[:5]}; pass tracks= to compute them")
    into.layers[key] = result[:, into.var_names].X.copy()
    into.obs["n_fraction"] = result.obs["n_fraction"].to_numpy()
    into.uns.setdefault("bazenji", {})[key] = result.uns["bazenji"]
