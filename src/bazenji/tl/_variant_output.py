"""Where ``variant_effect`` puts its scores: arrays in memory, or an AnnData zarr store written chunk by chunk.

The store is anndata's own on-disk format (zarr format 3): ``anndata.read_zarr`` reads it and
``anndata.experimental.read_lazy`` opens it lazily, without bazenji::

    X                   (variant, track) SAD: chunks of ``chunk_variants`` rows x all tracks, NaN until written
    layers/<stat>       the other statistics asked for, same shape and chunks
    obs, var            the variant and track tables, written when the store is created
    uns/bazenji         provenance, written by the call that finishes the last chunk
    uns/bazenji_chunks  the resume record as :func:`bazenji.store.open_results` lays it out: ``results/<key>``
                        (attributes: the parameters) and ``results/<key>/done``, one flag per variant chunk
    attrs["bazenji"]    ``{"kind": "variant_effect", "results_key": <key>}``

Variant chunk ``c`` is rows ``[c * chunk_variants, (c + 1) * chunk_variants)``, exactly one zarr chunk of ``X``
and of every layer: whoever scores a chunk (this process or a dask worker) writes its rows in one piece, and no
two tasks ever write the same zarr chunk. Rows are written before the chunk's ``done`` flag, so a killed run
leaves at worst an unflagged chunk, which the next run writes again.
"""

from __future__ import annotations

import importlib.util
import json
import os
import warnings
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import zarr
from anndata.io import read_elem, write_elem

from .. import store as bz_store
from ..store._results import results_key

KIND = "variant_effect"
PROGRESS = "uns/bazenji_chunks"
# anndata's element encodings (its on-disk format spec), so its readers take every node for what it is
ANNDATA = {"encoding-type": "anndata", "encoding-version": "0.1.0"}
DICT = {"encoding-type": "dict", "encoding-version": "0.1.0"}
ARRAY = {"encoding-type": "array", "encoding-version": "0.2.0"}


class MemoryScores:
    """Every statistic as one in-memory ``(variants, tracks)`` array, filled chunk by chunk."""

    def __init__(self, n_variants: int, n_tracks: int, dtypes: dict[str, type]):
        self.arrays = {s: np.full((n_variants, n_tracks), np.nan, dtype) for s, dtype in dtypes.items()}

    def write(self, chunk: int, start: int, values: dict[str, np.ndarray]) -> None:
        """Put the scores of the chunk whose first row is ``start`` in place."""
        for s, value in values.items():
            self.arrays[s][start : start + len(value)] = value

    def result(self, obs: pd.DataFrame, var: pd.DataFrame, provenance: dict, *, computed: bool) -> ad.AnnData:
        """The variants x tracks AnnData: ``X`` is SAD, ``layers`` the other statistics."""
        stats = list(self.arrays)
        adata = ad.AnnData(X=self.arrays["SAD"], obs=obs, var=var, layers={s: self.arrays[s] for s in stats[1:]})
        adata.uns["bazenji"] = provenance
        return adata


class StoreScores:
    """Scores written into an AnnData zarr store chunk by chunk; the result reads them back lazily (dask)."""

    def __init__(self, store, key: str, done: np.ndarray, stats: list[str]):
        self.store, self.key, self.done, self.stats = store, key, done, stats

    @classmethod
    def open(
        cls, store, params: dict, *, obs: pd.DataFrame, var: pd.DataFrame, dtypes: dict[str, type],
        chunk_variants: int, n_chunks: int, overwrite: bool,
    ) -> StoreScores:  # fmt: skip
        """Find the store of these parameters to resume it, or create it (replacing one when ``overwrite``)."""
        if importlib.util.find_spec("dask") is None:
            raise ImportError(
                "variant_effect(store=...) returns the scores as dask arrays read from the store, and dask is not "
                "installed; expected pip install 'bazenji[dask]' (or leave store=None to keep the scores in memory)"
            )
        key = results_key(params)
        root = _existing(store)
        if root is not None:
            marker = root.attrs.get("bazenji", {})
            found = marker.get("results_key") if isinstance(marker, dict) and marker.get("kind") == KIND else None
            if found == key and not overwrite:
                bz_store.open_results(progress_path(store), params, n_chunks)
                done = bz_store.done_chunks(progress_path(store), key)
                if done.any():  # with nothing finished (perhaps its creation was cut short) it is made afresh
                    bz_store.announce_reuse(store, "variant scores of these parameters", int(done.sum()), n_chunks,
                                            "pass overwrite=True to recompute")  # fmt: skip
                    return cls(store, key, done, list(dtypes))
            elif not overwrite:
                raise ValueError(_refusal(store, root, found, params))
            elif root.attrs.get("encoding-type") != "anndata":
                raise ValueError(
                    f"store {str(store)!r} is a zarr group not written by variant_effect (nor any AnnData); expected "
                    "a new path or a variant_effect store: overwrite=True replaces only those"
                )
        _create(store, key, params, obs=obs, var=var, dtypes=dtypes, chunk_variants=chunk_variants, n_chunks=n_chunks)
        return cls(store, key, np.zeros(n_chunks, bool), list(dtypes))

    def write(self, chunk: int, start: int, values: dict[str, np.ndarray]) -> None:
        """Write the scores of one finished chunk (see :func:`write_scores`)."""
        write_scores(self.store, self.key, chunk, start, values)

    def result(self, obs: pd.DataFrame, var: pd.DataFrame, provenance: dict, *, computed: bool) -> ad.AnnData:
        """The AnnData with ``X`` and ``layers`` as dask arrays over the store, ``obs``/``var``/``uns`` in memory.

        A call that computed chunks writes its provenance into ``uns/bazenji`` and consolidates the store's
        metadata (so ``anndata.experimental.read_lazy`` opens it without a warning); a call that found every
        chunk done keeps and returns the provenance of the call that finished it.
        """
        from anndata.experimental import read_elem_lazy

        path = str(self.store)
        root = zarr.open_group(path, mode="r", use_consolidated=False)
        if computed or "bazenji" not in root["uns"]:
            root = zarr.open_group(path, mode="r+", use_consolidated=False)
            with ad.settings.override(auto_shard_zarr_v3=False):
                write_elem(root["uns"], "bazenji", provenance)
            with warnings.catch_warnings():
                # read_lazy wants consolidated metadata, which zarr warns is an extension of its v3 spec
                warnings.filterwarnings("ignore", "Consolidated metadata", category=UserWarning)
                zarr.consolidate_metadata(path)
        else:
            provenance = read_elem(root["uns/bazenji"])
        arrays = {s: read_elem_lazy(root["X" if s == "SAD" else f"layers/{s}"]) for s in self.stats}
        adata = ad.AnnData(X=arrays["SAD"], obs=obs, var=var, layers={s: arrays[s] for s in self.stats[1:]})
        adata.uns["bazenji"] = provenance
        return adata


def progress_path(store) -> str:
    """Where the resume record of ``store`` lives (a zarr group inside it)."""
    return f"{os.fspath(store).rstrip('/')}/{PROGRESS}"


def write_scores(store, key: str, chunk: int, start: int, values: dict[str, np.ndarray]) -> None:
    """Write chunk ``chunk``'s rows (from ``start``) of every statistic, then flag it done: here or on a worker."""
    root = zarr.open_group(str(store), mode="r+", use_consolidated=False)
    for s, value in values.items():
        root["X" if s == "SAD" else f"layers/{s}"][start : start + len(value)] = value
    bz_store.write_chunk(progress_path(store), key, chunk, {})


def _existing(store) -> zarr.Group | None:
    """The zarr group at ``store``, or None where there is nothing (or an empty folder) to resume or replace."""
    try:
        return zarr.open_group(str(store), mode="r", use_consolidated=False)
    except zarr.errors.ContainsArrayError:
        raise ValueError(
            f"store {str(store)!r} is a zarr array; expected a new path or a variant_effect store"
        ) from None
    except FileNotFoundError:  # zarr's "no group here" is one too
        pass
    # creating the store empties its folder: never one holding files that are not a zarr store
    local = None if isinstance(store, str) and "://" in store else Path(store)
    if local is not None and local.exists() and (not local.is_dir() or any(local.iterdir())):
        raise ValueError(
            f"store {str(store)!r} exists and is not a zarr group; expected a new path or a store written by "
            "variant_effect"
        )
    return None


def _refusal(store, root: zarr.Group, found: str | None, params: dict) -> str:
    """Why an existing ``store`` is not resumed: not a variant_effect store, or scores of other parameters."""
    if found is None:
        if root.attrs.get("encoding-type") == "anndata":
            return (
                f"store {str(store)!r} is an AnnData not written by variant_effect; expected a new path or a "
                "variant_effect store; pass overwrite=True to replace it"
            )
        return f"store {str(store)!r} is a zarr group not written by variant_effect; expected a new path or one that is"
    wanted = json.loads(json.dumps(params, default=str))  # as the resume record stores them
    try:
        stored = dict(zarr.open_group(progress_path(store), mode="r")[f"results/{found}"].attrs)["params"]
        differ = [k for k in wanted if stored.get(k) != wanted[k]] or ["the parameters"]
    except (KeyError, FileNotFoundError, zarr.errors.BaseZarrError):
        differ = ["the parameters"]
    return (
        f"store {str(store)!r} holds variant scores of other parameters ({', '.join(differ)} differ); pass "
        "overwrite=True to replace them, or another store"
    )


def _create(
    store, key: str, params: dict, *, obs: pd.DataFrame, var: pd.DataFrame, dtypes: dict[str, type],
    chunk_variants: int, n_chunks: int,
) -> None:  # fmt: skip
    path = str(store)
    root = zarr.open_group(path, mode="w", zarr_format=3)
    # the marker goes first: a creation cut short is then recognised (and redone) by the next call
    root.attrs.update({**ANNDATA, "bazenji": {"kind": KIND, "results_key": key}})
    # no anndata auto-sharding: one zarr chunk per variant chunk is what lets writers never share a chunk
    with ad.settings.override(auto_shard_zarr_v3=False):
        for name, value in (("obs", obs), ("var", var), ("uns", {}), ("layers", {})):
            write_elem(root, name, value)
    for s, dtype in dtypes.items():
        parent, name = (root, "X") if s == "SAD" else (root["layers"], s)
        array = parent.create_array(
            name, shape=(len(obs), len(var)), chunks=(chunk_variants, max(len(var), 1)), dtype=dtype, fill_value=np.nan
        )
        array.attrs.update(ARRAY)
    progress = progress_path(store)
    bz_store.open_results(progress, params, n_chunks)
    group = zarr.open_group(progress, mode="r+")
    for node in (group, group["results"], group[f"results/{key}"]):
        node.attrs.update(DICT)
    group[f"results/{key}/done"].attrs.update(ARRAY)


def variant_profiles(
    variants,
    model=None,
    genome=None,
    *,
    tracks=None,
    rc: bool = False,
    shifts=(0,),
    n_value: float = 0.25,
    max_indel: int = 50,
    device: str | None = None,
    dtype: str = "float32",
    batch_size: int | None = None,
):
    """ALT - REF predicted profiles of a few variants (a locus), laid out as a window store for export.

    Each variant's windows are cut exactly as :func:`bazenji.tl.variant_effect` cuts them (the official placement,
    indel fitting, reference swap), so a profile summed over bins is the variant's SAD. The profile is placed on
    the genome at the reference window: bin ``j`` covers ``start + (crop_bins + j) * bin_size``, where ``start``
    is the reference window's first base (shifted right by ``extra // 2`` for a deletion, whose site reads
    ``extra`` more bases). For an indel the ALT bins are compared with the REF bins position by position, as SAD
    does, although the ALT window's sequence is shifted by up to half the indel's length.

    Parameters
    ----------
    variants, model, genome, tracks, rc, shifts, n_value, max_indel, device, dtype, batch_size
        As for :func:`bazenji.tl.variant_effect`. A REF matching neither the genome nor an ALT is refused.

    Returns
    -------
    :class:`xarray.Dataset` with ``profile`` (window, bin, profile_track) float32, ALT - REF, one window per
    variant row; ``ref_profile`` and ``alt_profile`` the two alleles' profiles; ``chrom``, ``start``, ``end`` and
    ``variant`` (the row's ``id``) per window; ``identifier`` and ``description`` per track; and the store's
    geometry attributes (``seq_length``, ``bin_size``, ``crop_bins``, ``n_bins``, ``genome_path``,
    ``genome_fingerprint``). :func:`bazenji.io.write_bigwig` writes it like a store (nearby variants' windows
    merge by the nearest-centre rule: each base shows the effect of the variant nearest to it).
    """
    import torch
    import xarray as xr

    from .._settings import settings
    from ..io import select_tracks
    from ._alleles import check_sites, encode_texts, predict_windows, site_texts
    from ._common import resolve_genome, resolve_model, track_table
    from ._ensemble import resolve_placement, strand_pair_permutation
    from ._variants import _sites, _variant_table

    model = resolve_model(model)
    genome = resolve_genome(genome, model)
    _, device, compute_dtype = resolve_placement(False, device, dtype)
    batch_size = settings.resolve_batch_size(batch_size)
    config = model.config
    table = _variant_table(variants, max_indel)
    genome.check_chroms(sorted(set(table["chrom"])), what="the variants", column="variants['chrom']")
    site_of_row, sites = _sites(table)
    status, genome_ref, replace = check_sites(genome, sites)
    if (status == 2).any():
        bad = table["id"].to_numpy()[(status == 2)[site_of_row]].tolist()
        raise ValueError(f"{len(bad)} variant(s) whose REF matches neither the genome nor an ALT ({bad[:5]}); "
                         "expected REF as in the genome")  # fmt: skip
    var = track_table(model)
    track_index = select_tracks(var, tracks)
    var = var.iloc[track_index]
    head = track_index if len(track_index) < config.n_tracks else None
    pairs = strand_pair_permutation(model.targets, track_index) if rc else None
    left = config.seq_length // 2 - 1
    texts, starts = [], []
    for row, site in enumerate(site_of_row.tolist()):
        chrom, pos, ref, extra = sites.loc[site, ["chrom", "pos", "ref", "extra"]]
        ref_text, (alt_text,) = site_texts(genome, chrom, int(pos), ref, [table["alt"].iloc[row]], config.seq_length,
                                           replace=replace[site], extra=int(extra))  # fmt: skip
        texts += [ref_text, alt_text]
        starts.append(int(pos) - 1 - left + int(extra) // 2)  # fit_length trims extra // 2 bases at the front
    model = model.to(device).eval()
    out = []
    for lo in range(0, len(texts), 2 * max(1, batch_size // 2)):
        x = torch.from_numpy(encode_texts(texts[lo : lo + 2 * max(1, batch_size // 2)], float(n_value))).to(device)
        y = predict_windows(model, x, tracks=head, rc=rc, shifts=list(shifts), dtype=compute_dtype,
                            strand_pairs=pairs, n_value=float(n_value))  # fmt: skip
        out.append(y.float().cpu().numpy())
    both = np.concatenate(out).reshape(len(table), 2, config.n_bins, len(track_index)) if out else np.zeros(
        (0, 2, config.n_bins, len(track_index)), np.float32)  # fmt: skip
    dims = ("window", "bin", "profile_track")
    starts = np.asarray(starts, np.int64)
    return xr.Dataset(
        {"profile": (dims, both[:, 1] - both[:, 0]), "ref_profile": (dims, both[:, 0]),
         "alt_profile": (dims, both[:, 1]), "chrom": ("window", table["chrom"].astype(str).to_numpy()),
         "start": ("window", starts), "end": ("window", starts + config.seq_length),
         "variant": ("window", table["id"].astype(str).to_numpy()),
         "identifier": ("profile_track", var["identifier"].astype(str).to_numpy() if "identifier" in var
                        else var.index.astype(str).to_numpy()),
         "description": ("profile_track", var["description"].fillna("").astype(str).to_numpy() if "description" in var
                         else var.index.astype(str).to_numpy())},
        coords={"profile_track": var.index.astype(str).to_numpy()},
        attrs={"kind": "variant_profiles", "seq_length": config.seq_length, "bin_size": config.bin_size,
               "crop_bins": config.crop_bins, "n_bins": config.n_bins, "genome_path": genome.path or "",
               "genome_fingerprint": genome.fingerprint},
    )  # fmt: skip
