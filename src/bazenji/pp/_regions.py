"""``bz.pp.regions``: any interval input -> regions AnnData."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Literal

import pandas as pd
from anndata import AnnData

from ..io.genome import Genome, as_genome
from ..io.regions import read_regions


def regions(
    source: str | os.PathLike | pd.DataFrame | AnnData | Sequence[str] | object,
    genome: Genome | str | os.PathLike | None = None,
    *,
    format: Literal["bed", "narrowpeak", "broadpeak"] | None = None,
    summit: bool | int = False,
    axis: Literal["obs", "var"] | None = None,
) -> AnnData:
    """Read genomic regions into a regions AnnData (one observation per region, no variables yet).

    Parameters
    ----------
    source
        BED / narrowPeak / broadPeak file (gzip or not), pyranges object, DataFrame, AnnData with
        intervals in ``.obs`` or ``.var``, or a list of names like ``chr1:100-600``; see
        :func:`bazenji.io.read_regions`.
    genome
        A :class:`~bazenji.io.Genome` or FASTA path: chromosome names (and region ends) are checked
        against it and its path and fingerprint go in ``uns["bazenji"]["genome"]``.
    format, summit, axis
        As in :func:`bazenji.io.read_regions`.

    Returns
    -------
    AnnData of shape ``(n_regions, 0)`` whose ``obs`` holds ``Chromosome``, ``Start``, ``End``
    (``Strand``, ``Name`` and other input columns where given), indexed by unique region names.
    """
    genome = as_genome(genome) if genome is not None else None
    obs = read_regions(source, format=format, summit=summit, axis=axis, genome=genome)
    adata = AnnData(obs=obs)
    if genome is not None:
        adata.uns["bazenji"] = {"genome": {"path": genome.path or "", "fingerprint": genome.fingerprint}}
    return adata
