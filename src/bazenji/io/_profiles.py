"""Where predicted profiles come from for export: a window store, a Dataset in its layout, or an AnnData's obsm.

Each source is read into a :class:`Profiles`: per window its chromosome and start, the track names, the window
geometry and a reader that streams the profiles window by window in the order asked for.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

KEEP_PROFILES = (
    "keep them with bz.tl.predict(regions, model, genome, store='windows.zarr', keep_profiles=True) (or a subset: "
    "keep_profiles='CAGE'), or `bazenji predict REGIONS --store windows.zarr --keep-profiles`"
)


@dataclass
class Profiles:
    """Binned profiles of windows and what places them on the genome, whatever holds them.

    Attributes
    ----------
    chrom, start
        Per window its chromosome and (unclipped) start.
    tracks
        Track names of the profiles' last axis.
    bin_size, crop_bins, n_bins
        Window geometry: bin ``j`` covers ``start + (crop_bins + j) * bin_size`` to ``+ bin_size``.
    read
        ``read(windows)`` yields ``(window indices, values (b, n_bins, tracks))`` for ``windows`` in order.
    table
        Track table rows of ``tracks`` when the source has one (an AnnData's ``var``), else None.
    genome_path, genome_fingerprint
        The genome the windows were cut from, when the source records it.
    where
        The source, for messages.
    """

    chrom: np.ndarray
    start: np.ndarray
    tracks: list[str]
    bin_size: int
    crop_bins: int
    n_bins: int
    read: Callable[[np.ndarray], Iterator[tuple[np.ndarray, np.ndarray]]]
    table: pd.DataFrame | None = None
    genome_path: str | None = None
    genome_fingerprint: str | None = None
    where: str = "the profiles"


def profiles(source) -> Profiles:
    """The profiles of a window store path, a Dataset in the store layout, or an AnnData with ``obsm["bz_profile"]``.

    Raises
    ------
    ValueError
        The source holds no profiles (the message says how to keep them), or a store whose prediction did not
        finish every chunk of profiles.
    """
    if isinstance(source, str | os.PathLike):
        return _store_profiles(source)
    if hasattr(source, "obsm") and hasattr(source, "uns"):
        return _anndata_profiles(source)
    if hasattr(source, "data_vars"):
        return _dataset_profiles(source, str(source.attrs.get("path", "the Dataset")))
    raise TypeError(f"source={type(source).__name__}; expected a window store path, an xarray Dataset or an AnnData")


def _store_profiles(path) -> Profiles:
    from .. import store as bz_store

    path = os.fspath(path)
    dataset = bz_store.open(path)
    if "profile" not in dataset:
        raise ValueError(
            f"{path!r} holds no profiles (no 'profile' variable, only what regions aggregate); {KEEP_PROFILES}"
        )
    key = dataset["profile"].attrs.get("results_key")
    try:
        done = bz_store.done_chunks(path, key)
    except KeyError:
        raise ValueError(
            f"{path!r}: its profiles belong to results/{key}, which the store no longer holds; expected "
            "a store written by bz.tl.predict(..., keep_profiles=...); predict into it again"
        ) from None
    if not done.all():
        missing = np.flatnonzero(~done)
        raise ValueError(
            f"{path!r}: {missing.size} of {done.size} window chunks have no profiles yet (prediction stopped before "
            f"chunks {missing[:5].tolist()}{' ...' if missing.size > 5 else ''}); run bz.tl.predict again with the "
            "same store and arguments to finish them"
        )
    chunk = int(dataset.attrs["chunk_windows"])
    windows = bz_store.read_plan(path).windows

    def read(order: np.ndarray):
        yield from bz_store.iter_batches(path, chunk, windows=order, variable="profile")

    return Profiles(
        chrom=windows["chrom"].to_numpy(object),
        start=windows["start"].to_numpy(np.int64),
        tracks=_strings(dataset["profile_track"].values),
        bin_size=int(dataset.attrs["bin_size"]),
        crop_bins=int(dataset.attrs["crop_bins"]),
        n_bins=int(dataset.sizes["bin"]),
        read=read,
        genome_path=dataset.attrs.get("genome_path") or None,
        genome_fingerprint=dataset.attrs.get("genome_fingerprint"),
        where=repr(path),
    )


def _strings(values) -> list[str]:
    # zarr 3 gives numpy's variable-width StringDType, which does not cast to fixed-width str
    return [str(v) for v in np.asarray(values).tolist()]


def _in_memory(values, batch: int = 64):
    def read(windows: np.ndarray):
        for lo in range(0, len(windows), batch):
            idx = windows[lo : lo + batch]
            yield idx, np.asarray(values[idx])

    return read


def _dataset_profiles(dataset, where: str) -> Profiles:
    if "profile" not in dataset:
        raise ValueError(f"{where} has no 'profile' variable (window, bin, track); {KEEP_PROFILES}")
    profile = dataset["profile"]
    names = profile.dims[-1]
    tracks = (
        _strings(dataset[names].values) if names in dataset.variables else [str(t) for t in range(profile.shape[-1])]
    )
    missing = [k for k in ("bin_size", "crop_bins") if k not in dataset.attrs]
    if missing:
        raise ValueError(
            f"{where} lacks the attributes {missing}; expected the window store layout (bin_size, crop_bins)"
        )
    # variables along the track axis (identifier, description) are the track table
    columns = {k: _strings(v.values) for k, v in dataset.data_vars.items() if v.dims == (names,)}
    table = pd.DataFrame(columns, index=tracks) if "description" in columns else None
    return Profiles(
        chrom=np.asarray(_strings(dataset["chrom"].values), object),
        start=np.asarray(dataset["start"].values, np.int64),
        tracks=tracks,
        table=table,
        bin_size=int(dataset.attrs["bin_size"]),
        crop_bins=int(dataset.attrs["crop_bins"]),
        n_bins=int(profile.shape[1]),
        read=_in_memory(np.asarray(profile.values)),
        genome_path=dataset.attrs.get("genome_path") or None,
        genome_fingerprint=dataset.attrs.get("genome_fingerprint"),
        where=where,
    )


def _anndata_profiles(adata) -> Profiles:
    info = adata.uns.get("bazenji", {})
    if "bz_profile" not in adata.obsm:
        kept = info.get("store")
        if kept and Path(kept).exists():  # tiled or many-track profiles stay in the store predict named
            found = _store_profiles(kept)
            found.table = adata.var
            return found
        raise ValueError(f"the AnnData has no obsm['bz_profile'] and names no store with profiles; {KEEP_PROFILES}")
    windows = info["windows"]
    obs = adata.obs
    # obsm profiles exist for centred plans only: one window per region, centred on (Start + End) // 2
    mid = (obs["Start"].to_numpy(np.int64) + obs["End"].to_numpy(np.int64)) // 2
    tracks = [str(t) for t in info.get("profile_tracks", adata.var_names)]
    return Profiles(
        chrom=obs["Chromosome"].astype(str).to_numpy(),
        start=mid - int(windows["seq_length"]) // 2,
        tracks=tracks,
        bin_size=int(windows["bin_size"]),
        crop_bins=int(windows["crop_bins"]),
        n_bins=adata.obsm["bz_profile"].shape[1],
        read=_in_memory(adata.obsm["bz_profile"]),
        table=adata.var,
        genome_fingerprint=info.get("genome_fingerprint"),
        where="the AnnData's obsm['bz_profile']",
    )
