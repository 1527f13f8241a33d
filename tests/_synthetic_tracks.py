"""Predictions-shaped AnnData with planted region classes, for the analysis and plotting tests.

The layout is what ``bz.tl.predict`` returns: obs = regions (Chromosome, Start, End, Name, region_class), var = a
slice of the real human track table, X float32 coverage, ``uns["bazenji"]["windows"]`` geometry and, for a few
tracks, ``obsm["bz_profile"]`` (region, bin, track) float16 with ``uns["bazenji"]["profile_tracks"]``.
"""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

import bazenji as bz

HUMAN_TARGETS = Path(bz.datasets.human_targets())
SEQ_LENGTH, BIN_SIZE, CROP_BINS = 131_072, 128, 64
N_BINS = SEQ_LENGTH // BIN_SIZE - 2 * CROP_BINS
CLASSES = {"K562": "K562", "HepG2": "HepG2", "GM12878": "GM12878"}  # region class -> biosample it is planted in


def human_table() -> pd.DataFrame:
    return bz.io.read_targets(HUMAN_TARGETS)


def marker_tracks(var: pd.DataFrame) -> dict[str, list[str]]:
    """The planted marker tracks of each class: DNase, H3K27ac ChIP and CAGE of its biosample."""
    return {cls: list(var.index[var["biosample"].astype(str) == biosample]) for cls, biosample in CLASSES.items()}


def _pick(table: pd.DataFrame, biosample: str, assay: str, target: str | None = None, n: int = 1) -> list[str]:
    mask = (table["biosample"].astype(str) == biosample) & (table["assay"].astype(str) == assay)
    if target is not None:
        mask &= table["target"].astype(str) == target
    return list(table.index[mask][:n])


def track_table(n_background: int = 18, seed: int = 0) -> pd.DataFrame:
    table = human_table()
    names = []
    for biosample in CLASSES.values():
        names += _pick(table, biosample, "DNASE", n=2)
        names += _pick(table, biosample, "CHIP", "H3K27ac")
        names += _pick(table, biosample, "CAGE")
    rng = np.random.default_rng(seed)
    others = table.index[~table["biosample"].astype(str).isin(list(CLASSES.values()))]
    names += list(rng.choice(others, size=n_background, replace=False))
    return table.loc[names].copy()


def make_predictions(n_per_class: int = 40, *, seed: int = 0, n_profile_tracks: int = 4, effect: float = 8.0):
    """Regions x tracks with three planted classes; the first ``n_profile_tracks`` tracks also as profiles."""
    rng = np.random.default_rng(seed)
    var = track_table(seed=seed)
    classes = np.repeat(list(CLASSES), n_per_class)
    n = len(classes)
    # regions 300 kb apart on two chromosomes, except a cluster of three within one window on chr2
    chrom = np.where(np.arange(n) < n // 2, "chr1", "chr2")
    start = 1_000_000 + (np.arange(n) % (n // 2)) * 300_000 + rng.integers(0, 1000, n)
    start[-3:] = start[-3] + np.array([0, 4_000, 9_000])
    width = rng.integers(300, 900, n)
    names = [f"peak{i}" for i in range(n)]
    obs = pd.DataFrame(
        {"Chromosome": chrom, "Start": start, "End": start + width, "Name": names,
         "region_class": pd.Categorical(classes)},
        index=pd.Index(names),
    )  # fmt: skip
    base = rng.gamma(2.0, 0.5, size=(n, len(var)))
    markers = marker_tracks(var)
    for cls, tracks in markers.items():
        rows = classes == cls
        cols = var.index.get_indexer(tracks)
        base[np.ix_(rows, cols)] *= effect * rng.uniform(0.8, 1.2, size=(rows.sum(), len(cols)))
    X = base.astype(np.float32)
    adata = ad.AnnData(X=X, obs=obs, var=var)
    profile_names = list(var.index[:n_profile_tracks])
    adata.uns["bazenji"] = {
        "windows": {"mode": "centered", "seq_length": SEQ_LENGTH, "bin_size": BIN_SIZE, "crop_bins": CROP_BINS},
        "profile_tracks": profile_names,
    }
    adata.obsm["bz_profile"] = profiles(adata, profile_names, rng).astype(np.float16)
    return adata


def profiles(adata, names, rng) -> np.ndarray:
    """A peak at each region's own bins (height = its X value) over a low noisy background."""
    centre = (SEQ_LENGTH // 2 - CROP_BINS * BIN_SIZE) // BIN_SIZE  # bin holding the region's midpoint
    bins = np.arange(N_BINS)
    shape = np.exp(-0.5 * ((bins - centre) / 2.0) ** 2)
    cols = adata.var_names.get_indexer(names)
    heights = np.asarray(adata.X)[:, cols]
    background = rng.gamma(1.0, 0.05, size=(adata.n_obs, N_BINS, len(names)))
    return background + shape[None, :, None] * heights[:, None, :]


def make_observed(pred, *, seed: int = 1, noise: float = 0.3):
    """Observed coverage: the predictions times log-normal noise (same regions, tracks and profiles)."""
    rng = np.random.default_rng(seed)
    observed = pred.copy()
    observed.X = (np.asarray(pred.X) * rng.lognormal(0, noise, size=pred.shape)).astype(np.float32)
    profile = np.asarray(pred.obsm["bz_profile"], dtype=np.float32)
    observed.obsm["bz_profile"] = (profile * rng.lognormal(0, noise, size=profile.shape)).astype(np.float16)
    return observed
