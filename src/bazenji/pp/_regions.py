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
    strict: bool = False,
    outside: Literal["raise", "drop"] = "raise",
) -> AnnData:
    """Read genomic regions into a regions AnnData (one observation per region, no variables yet).

    Parameters
    ----------
    source
        BED / narrowPeak / broadPeak file (gzip or not), pyranges object, DataFrame, AnnData with
        intervals in ``.obs`` or ``.var``, or a list of names like ``chr1:100-600``; see
        :func:`bazenji.io.read_regions`.
    genome
        A :class:`~bazenji.io.Genome` or FASTA path: chromosome names and region bounds are checked
        against it (regions wholly outside their chromosome are an error unless ``outside="drop"``)
        and its path and fingerprint go in ``uns["bazenji"]["genome"]``.
    format, summit, axis, strict, outside
        As in :func:`bazenji.io.read_regions`.

    Returns
    -------
    AnnData of shape ``(n_regions, 0)`` whose ``obs`` holds ``Chromosome``, ``Start``, ``End``
    (``Strand``, ``Name`` and other input columns where given), indexed by unique region names.
    Rows left out (zero-length file rows, regions dropped with ``outside="drop"``) are counted by
    reason in ``uns["bazenji"]["skipped"]`` when there are any.
    """
    genome = as_genome(genome) if genome is not None else None
    obs = read_regions(source, format=format, summit=summit, axis=axis, genome=genome, strict=strict,
                       outside=outside)  # fmt: skip
    skipped = {k: int(v) for k, v in obs.attrs.get("skipped", {}).items() if v}
    obs.attrs = {}  # AnnData keeps obs, not its attrs: what matters goes to uns
    adata = AnnData(obs=obs)
    if genome is not None:
        adata.uns["bazenji"] = {"genome": {"path": genome.path or "", "fingerprint": genome.fingerprint}}
    if skipped:
        adata.uns.setdefault("bazenji", {})["skipped"] = skipped
    return adata
