"""Binned profiles at a region or locus, read from ``obsm`` of a predictions AnnData or from a window store."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from anndata import AnnData

PROFILE_KEY = "bz_profile"
_LOCUS = re.compile(r"^\s*([^:\s]+)\s*:\s*([\d,_]+)\s*-\s*([\d,_]+)\s*$")


@dataclass
class Profile:
    """Profiles of some tracks over consecutive bins of one chromosome."""

    chrom: str
    start: int  # first bin's start
    bin_size: int
    values: np.ndarray  # (bins, tracks) float32
    tracks: list[str]
    var: pd.DataFrame | None = None  # track table rows of ``tracks`` where known

    @property
    def end(self) -> int:
        return self.start + self.values.shape[0] * self.bin_size

    @property
    def edges(self) -> np.ndarray:
        return self.start + np.arange(self.values.shape[0] + 1) * self.bin_size


def parse_locus(locus) -> tuple[str, int, int]:
    """``"chr1:1,000-2,000"`` or ``("chr1", 1000, 2000)`` as ``(chrom, start, end)``."""
    if isinstance(locus, str):
        match = _LOCUS.match(locus)
        if match is None:
            raise ValueError(f"locus={locus!r}; expected 'chrom:start-end', e.g. 'chr1:1,000,000-1,100,000'")
        chrom, start, end = match.group(1), *(int(re.sub(r"[,_]", "", g)) for g in match.group(2, 3))
    elif isinstance(locus, tuple | list) and len(locus) == 3:
        chrom, start, end = str(locus[0]), int(locus[1]), int(locus[2])
    else:
        raise ValueError(f"locus={locus!r}; expected 'chrom:start-end' or a (chrom, start, end) tuple")
    if end <= start:
        raise ValueError(f"locus {chrom}:{start}-{end} is empty; expected start < end")
    return chrom, start, end


def strings(values) -> np.ndarray:
    """A str array from any string array (numpy ``StringDType``, which zarr 3 returns, included)."""
    return np.array([str(v) for v in np.asarray(values, dtype=object).ravel()], dtype=str)


def is_store(data) -> bool:
    """A window store given as a path or an opened xarray Dataset."""
    return isinstance(data, str | os.PathLike) or (hasattr(data, "data_vars") and hasattr(data, "sizes"))


def open_store(data):
    if hasattr(data, "data_vars"):
        return data
    import xarray as xr

    path = os.fspath(data)
    if not os.path.exists(path):
        raise FileNotFoundError(f"window store {path!r} does not exist")
    return xr.open_zarr(path, consolidated=False)


# --- AnnData with obsm profiles --------------------------------------------------------------------------------


def _geometry(adata: AnnData) -> dict:
    windows = adata.uns.get("bazenji", {}).get("windows")
    if not windows or not {"seq_length", "bin_size", "crop_bins"} <= set(windows):
        raise ValueError(
            "adata.uns['bazenji']['windows'] with seq_length, bin_size and crop_bins is needed to place the "
            "profiles on the genome; this AnnData has none"
        )
    return {k: int(windows[k]) for k in ("seq_length", "bin_size", "crop_bins")}


def _profile_tracks(adata: AnnData, key: str) -> list[str]:
    n = adata.obsm[key].shape[-1]
    names = adata.uns.get("bazenji", {}).get("profile_tracks")
    if names is None:
        if n != adata.n_vars:
            raise ValueError(f"obsm[{key!r}] has {n} tracks but uns['bazenji'] has no 'profile_tracks' naming them")
        names = adata.var_names
    names = [str(t) for t in names]
    if len(names) != n:
        raise ValueError(f"uns['bazenji']['profile_tracks'] names {len(names)} tracks, obsm[{key!r}] has {n}")
    return names


def region_span(adata: AnnData, position: int) -> tuple[str, int, int]:
    """Output span (chrom, first bin start, last bin end) of region ``position``'s centred window."""
    geometry = _geometry(adata)
    obs = adata.obs
    start, end = int(obs["Start"].iloc[position]), int(obs["End"].iloc[position])
    mid = (start + end) // 2
    first = mid - geometry["seq_length"] // 2 + geometry["crop_bins"] * geometry["bin_size"]
    n_bins = geometry["seq_length"] // geometry["bin_size"] - 2 * geometry["crop_bins"]
    return str(obs["Chromosome"].iloc[position]), first, first + n_bins * geometry["bin_size"]


def region_position(adata: AnnData, region) -> int:
    """Row of ``region`` (an obs name or an integer position)."""
    if isinstance(region, int | np.integer) and not isinstance(region, bool):
        if not -adata.n_obs <= region < adata.n_obs:
            raise ValueError(f"region={region} out of range for {adata.n_obs} regions")
        return int(region) % adata.n_obs
    if isinstance(region, str) and region in adata.obs_names:
        return int(adata.obs_names.get_loc(region))
    raise ValueError(f"region={region!r} is not a region name (obs_names) or position of this AnnData")


def covering_region(adata: AnnData, chrom: str, start: int, end: int) -> int:
    """The region whose profile span overlaps the locus most (ties: midpoint nearest the locus centre)."""
    geometry = _geometry(adata)
    obs = adata.obs
    mids = ((obs["Start"].to_numpy(np.int64) + obs["End"].to_numpy(np.int64)) // 2).astype(np.int64)
    first = mids - geometry["seq_length"] // 2 + geometry["crop_bins"] * geometry["bin_size"]
    last = first + (geometry["seq_length"] // geometry["bin_size"] - 2 * geometry["crop_bins"]) * geometry["bin_size"]
    overlap = np.minimum(last, end) - np.maximum(first, start)
    overlap = np.where(obs["Chromosome"].astype(str).to_numpy() == chrom, overlap, -1)
    if overlap.max(initial=-1) <= 0:
        raise ValueError(f"no region's profile covers {chrom}:{start}-{end}")
    best = np.flatnonzero(overlap == overlap.max())
    return int(best[np.argmin(np.abs(mids[best] - (start + end) // 2))])


def from_adata(adata: AnnData, position: int, key: str = PROFILE_KEY) -> Profile:
    """Profiles of region ``position`` from ``obsm[key]`` (region, bin, track)."""
    if key not in adata.obsm:
        raise ValueError(
            f"adata.obsm has no {key!r} profiles; predict with keep_profiles= (centred mode, at most 32 tracks) "
            "or pass the window store instead"
        )
    names = _profile_tracks(adata, key)
    chrom, first, _ = region_span(adata, position)
    values = np.asarray(adata.obsm[key][position], dtype=np.float32)
    var = adata.var.reindex(names) if set(names) <= set(adata.var_names) else None
    return Profile(chrom, first, _geometry(adata)["bin_size"], values, names, var)


# --- window store -------------------------------------------------------------------------------------------------


def store_region_locus(dataset, region) -> tuple[str, int, int]:
    """Coordinates of a region named in the store's ``region`` variable."""
    if "region" not in dataset:
        raise ValueError(f"region={region!r}: this store has no 'region' variable; pass locus= instead")
    names = strings(dataset["region"].values)
    hits = np.flatnonzero(names == str(region))
    if hits.size == 0:
        raise ValueError(f"region={region!r} is not among the store's {len(names)} regions")
    i = int(hits[0])
    return (str(dataset["region_chrom"].values[i]), int(dataset["region_start"].values[i]),
            int(dataset["region_end"].values[i]))  # fmt: skip


def from_store(dataset, chrom: str, start: int, end: int, variable: str = "profile") -> Profile:
    """Profiles of the window whose output span overlaps ``chrom:start-end`` most."""
    if variable not in dataset:
        raise ValueError(f"the window store has no {variable!r} variable (has {sorted(dataset.data_vars)})")
    attrs = dataset.attrs
    bin_size, crop_bins = int(attrs["bin_size"]), int(attrs["crop_bins"])
    array = dataset[variable]
    n_bins = int(array.shape[1])
    chroms = strings(dataset["chrom"].values)
    first = np.asarray(dataset["start"].values, dtype=np.int64) + crop_bins * bin_size
    last = first + n_bins * bin_size
    overlap = np.where(chroms == chrom, np.minimum(last, end) - np.maximum(first, start), -1)
    if overlap.max(initial=-1) <= 0:
        raise ValueError(f"no window of the store covers {chrom}:{start}-{end}")
    best = np.flatnonzero(overlap == overlap.max())
    window = int(best[np.argmin(np.abs((first[best] + last[best]) // 2 - (start + end) // 2))])
    track_dim = array.dims[-1]
    if track_dim in dataset.variables:
        names = list(strings(dataset[track_dim].values))
    else:
        names = [f"track_{i}" for i in range(array.shape[-1])]
    values = np.asarray(array[window].values, dtype=np.float32)
    return Profile(chrom, int(first[window]), bin_size, values, names)
