"""``bz.datasets.demo_scatac()``: a simulated single-cell ATAC cells x peaks matrix over the demo's regions."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._demo import demo

logger = logging.getLogger("bazenji")

#: Bumped whenever the simulation changes what it writes; a cached file of another version is regenerated.
SCATAC_VERSION = 1
#: Median reads per singlet and the spread of log depth: calibrated so that a cell sees about 2-10% of the
#: 667 peaks (median about 5%), the sparsity of real scATAC matrices.
_MEDIAN_DEPTH = 35.0
_LOG_DEPTH_SD = 0.45
#: Share of each cell's reads spread uniformly over all peaks (ambient / background fragments), so every peak,
#: even one a type has no coverage at, can be seen.
_AMBIENT = 0.05
_DEFAULT_DOUBLETS = 0.05


def demo_scatac(
    *,
    n_cells: int = 3000,
    seed: int = 0,
    doublet_fraction: float = _DEFAULT_DOUBLETS,
    path: str | os.PathLike | None = None,
) -> ad.AnnData:
    """A simulated single-cell ATAC dataset: cells of the demo's three biosamples over the demo's regions.

    Each cell gets a planted type (HepG2, K562 or GM12878, in about equal numbers) or is a doublet of two types.
    Its reads fall in the peaks with probability proportional to the type's observed DNase coverage there (from
    the demo bigWigs via :func:`bazenji.pp.import_bigwigs`), plus a small uniform ambient share; a doublet uses
    the mean of its two types' profiles. The result is written once as an ``.h5ad`` file and reused.

    Parameters
    ----------
    n_cells
        Number of cells, doublets included (at least 10).
    seed
        Seed of :func:`numpy.random.default_rng`; the same seed gives the same matrix.
    doublet_fraction
        Share of cells that are doublets, in ``[0, 0.5)``.
    path
        The ``.h5ad`` file to write or reuse. By default ``demo().root / "scatac" / "cells<n_cells>_seed<seed>.h5ad"``
        (with ``_doublets<fraction>`` before the suffix when ``doublet_fraction`` is not 0.05).

    Returns
    -------
    Cells x peaks AnnData, as read back from the file:

    ``X`` and ``layers["counts"]``
        Read counts, :class:`scipy.sparse.csr_matrix` of ``int32``.
    ``var``
        The demo's 667 regions, named ``chr:start-end`` (0-based, half-open, as in the regions table, so the names
        parse back to the same intervals with :func:`bazenji.pp.regions`): ``Chromosome``, ``Start``, ``End``,
        ``region`` (the demo region name) and ``planted_class`` (its ``region_class``; ground truth for checks,
        not input to any method).
    ``obs``
        ``planted_type`` (categorical: the three biosamples and ``"doublet"``), ``planted_parents`` (the type, or
        ``"A+B"`` for a doublet) and ``planted_depth`` (reads drawn for the cell).
    ``uns["demo_scatac"]``
        The parameters, seed, simulation version and the demo dataset used (provenance).

    Raises
    ------
    ValueError
        ``n_cells`` is below 10, ``doublet_fraction`` is outside ``[0, 0.5)`` or ``seed`` is negative.

    Notes
    -----
    Depths are lognormal (median 35 reads per singlet, log-sd 0.45); a doublet carries the reads of two cells,
    the sum of two draws. The file is written under a temporary name and renamed into place, so a half-written
    file is never read; a file whose recorded parameters differ from the call is regenerated.
    """
    if isinstance(n_cells, bool) or not isinstance(n_cells, int | np.integer) or n_cells < 10:
        raise ValueError(f"n_cells={n_cells!r}; expected an integer of at least 10")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed={seed!r}; expected a non-negative integer")
    if (
        isinstance(doublet_fraction, bool)
        or not isinstance(doublet_fraction, float | int | np.floating | np.integer)
        or not 0 <= doublet_fraction < 0.5
    ):
        raise ValueError(f"doublet_fraction={doublet_fraction!r}; expected a number in [0, 0.5)")
    n_cells, seed, doublet_fraction = int(n_cells), int(seed), float(doublet_fraction)

    data = demo()
    if path is None:
        extra = "" if doublet_fraction == _DEFAULT_DOUBLETS else f"_doublets{doublet_fraction:g}"
        path = data.root / "scatac" / f"cells{n_cells}_seed{seed}{extra}.h5ad"
    path = Path(path).expanduser().absolute()
    params = {
        "version": SCATAC_VERSION,
        "n_cells": n_cells,
        "seed": seed,
        "doublet_fraction": doublet_fraction,
        "median_depth": _MEDIAN_DEPTH,
        "log_depth_sd": _LOG_DEPTH_SD,
        "ambient": _AMBIENT,
        "demo_root": str(data.root),
        "demo_seed": int(data.seed),
    }
    cached = _read_cached(path, params)
    if cached is not None:
        return cached

    adata = _simulate(data, params)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".h5ad.tmp", dir=path.parent)
    os.close(fd)
    try:
        adata.write_h5ad(tmp)
        os.replace(tmp, path)  # atomic on one file system: readers see the old file or the whole new one
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    logger.info("simulated scATAC demo (%d cells) written to %s", n_cells, path)
    # Return what the file holds (writing turns string columns into categoricals), so a first call and a
    # cached call give identical objects.
    return ad.read_h5ad(path)


def _read_cached(path: Path, params: dict) -> ad.AnnData | None:
    """The file at ``path`` when it exists and was made with ``params``; otherwise None."""
    if not path.is_file():
        return None
    try:
        adata = ad.read_h5ad(path)
    except Exception as err:  # an unreadable file (e.g. from a foreign tool) is regenerated, not fatal
        logger.warning("regenerating %s: it could not be read (%s)", path, err)
        return None
    stored = dict(adata.uns.get("demo_scatac", {}))
    same = set(stored) == set(params) and all(_same(stored[k], v) for k, v in params.items())
    if not same:
        logger.info("regenerating %s: it was made with other parameters", path)
        return None
    return adata


def _same(a, b) -> bool:
    if isinstance(b, str):
        return str(a) == b
    return bool(np.asarray(a) == b)


def _simulate(data, params: dict) -> ad.AnnData:
    """Draw the cells and their counts (deterministic from ``params["seed"]``)."""
    from bazenji.pp import import_bigwigs, regions

    table = data.regions_table()
    coverage = import_bigwigs(regions(table), targets=data.targets)
    types = list(data.biosamples)
    tracks = [f"DNASE_{b}" for b in types]
    missing = [t for t in tracks if t not in coverage.var_names]
    if missing:
        raise ValueError(f"the demo targets table has no DNase track {missing}; expected one per biosample")
    dnase = np.asarray(coverage[:, tracks].X, dtype=np.float64)
    dnase = np.clip(dnase, 0, None)  # coverage is non-negative; guard the probabilities anyway
    n_peaks = dnase.shape[0]
    profiles = (1 - params["ambient"]) * dnase / dnase.sum(axis=0) + params["ambient"] / n_peaks  # peaks x types

    rng = np.random.default_rng(params["seed"])
    n_cells = params["n_cells"]
    n_doublets = int(round(params["doublet_fraction"] * n_cells))
    n_singlets = n_cells - n_doublets
    # Equal numbers of each type (up to one), in a random order.
    first = rng.permutation(np.arange(n_singlets) % len(types))
    # Two different types per doublet: the second is the first shifted by 1 .. len(types) - 1.
    a = rng.integers(0, len(types), size=n_doublets)
    b = (a + rng.integers(1, len(types), size=n_doublets)) % len(types)
    pairs = np.sort(np.stack([a, b], axis=1), axis=1)  # one name per pair ("HepG2+K562", never "K562+HepG2")
    kind = np.concatenate([first, np.full(n_doublets, -1)])
    second = np.concatenate([first, pairs[:, 1]])
    first = np.concatenate([first, pairs[:, 0]])
    order = rng.permutation(n_cells)  # doublets interleaved with singlets, as a real capture would give them
    kind, first, second = kind[order], first[order], second[order]

    depth = rng.lognormal(np.log(params["median_depth"]), params["log_depth_sd"], size=n_cells)
    # A doublet is two cells in one droplet: it carries both cells' reads.
    extra = rng.lognormal(np.log(params["median_depth"]), params["log_depth_sd"], size=n_cells)
    depth = np.where(kind < 0, depth + extra, depth)
    depth = np.maximum(np.rint(depth), 1).astype(np.int64)

    pvals = 0.5 * (profiles[:, first] + profiles[:, second]).T  # cells x peaks; a singlet's two are the same
    pvals /= pvals.sum(axis=1, keepdims=True)
    counts = rng.multinomial(depth, pvals)
    X = sp.csr_matrix(counts.astype(np.int32))

    labels = np.array(types + ["doublet"], dtype=object)
    planted = labels[np.where(kind < 0, len(types), kind)]
    names = np.array(types, dtype=object)
    parents = np.where(kind < 0, names[first] + "+" + names[second], names[first])
    obs = pd.DataFrame(
        {
            "planted_type": pd.Categorical(planted, categories=[*types, "doublet"]),
            "planted_parents": pd.Categorical(parents),
            "planted_depth": depth,
        },
        index=pd.Index([f"cell{i:05d}" for i in range(n_cells)]),
    )
    var_names = table["Chromosome"].astype(str) + ":" + table["Start"].astype(str) + "-" + table["End"].astype(str)
    var = pd.DataFrame(
        {
            "Chromosome": pd.Categorical(table["Chromosome"].astype(str).to_numpy()),
            "Start": table["Start"].to_numpy(np.int64),
            "End": table["End"].to_numpy(np.int64),
            "region": table["Name"].astype(str).to_numpy(),
            "planted_class": pd.Categorical(table["region_class"].astype(str), categories=list(data.classes)),
        },
        index=pd.Index(var_names.to_numpy(), dtype=object),
    )
    adata = ad.AnnData(X=X, obs=obs, var=var, layers={"counts": X.copy()})
    adata.uns["demo_scatac"] = dict(params)
    return adata
