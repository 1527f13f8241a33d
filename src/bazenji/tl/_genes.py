"""``bz.tl.predict_genes`` and ``bz.tl.observe_genes``: coverage at every gene's TSSs, genes x tracks.

The definitions (also in ``docs/genes.md``):

- **TSS bins.** Distinct TSS positions are planned as 1 bp regions in tiled mode (:func:`bazenji.pp.plan_windows`),
  so TSSs that fit one window's output span share that window, each at least ``margin`` bp inside it. A TSS's
  value is ``aggregate`` (default the sum) over the bin holding it and ``tss_bins`` bins each side, on the grid of
  its window. A *site* is one (window, bin); transcripts whose TSSs fall in the same bin of a window share a site.
- **Strand rule.** With ``strand="gene"`` each strand pair of the track table (``strand_pair``) becomes one
  column holding, per gene, the member on the gene's strand; the other tracks stay as they are.
- **Combination.** A gene's value is ``combine`` (default the sum) over its distinct sites, so isoforms that
  start in the same bin count once.

Inference is :func:`bazenji.tl.predict` over a window store whose plan holds one region per site; observed values
are :func:`bazenji.pp.import_bigwigs` over regions whose bins are exactly the same genomic bins.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from ..io._names import make_unique, show
from ..io.genes import read_genes, tss_positions
from ..io.targets import select_tracks, strand_partners
from ..store._plan import WindowPlan, default_margin, geometry
from ._common import h5ad_safe, resolve_genome, resolve_model, track_table

logger = logging.getLogger("bazenji")

AGGREGATES = ("sum", "mean", "max")
COMBINES = ("sum", "max")
STRAND_RULES = ("gene", "separate")
_TRANSCRIPT_ONLY = ("transcript_id", "transcript_type", "Start", "End", "TSS")


def predict_genes(
    genes: pd.DataFrame | str | os.PathLike,
    model=None,
    genome=None,
    *,
    tracks=None,
    tss_bins: int = 1,
    aggregate: str = "sum",
    combine: str | None = "sum",
    strand: str = "gene",
    margin: int | None = None,
    rc: bool = False,
    shifts: Sequence[int] = (0,),
    store: str | os.PathLike | None = None,
    chunk_windows: int | None = None,
    overwrite: bool = False,
    device: str | None = None,
    dtype: str = "float32",
    batch_size: int | None = None,
) -> ad.AnnData:
    """Predict coverage at every gene's TSSs: a genes x tracks AnnData.

    Parameters
    ----------
    genes
        A GTF/GFF3 path (read by :func:`bazenji.io.read_genes`) or its table: one row per transcript with
        ``gene_id``, ``transcript_id``, ``Chromosome``, ``Strand`` and ``TSS`` (or ``Start``/``End`` to take it from).
    model
        A :class:`~bazenji.models.Basenji2` or anything :func:`bazenji.models.load` accepts; the demo model if None.
    genome
        A :class:`~bazenji.io.Genome` or FASTA path; None means the demo genome, with the demo model only.
    tracks
        Tracks to compute, as for :func:`bazenji.tl.predict`; with ``strand="gene"`` the strand partners of the
        chosen tracks are computed too.
    tss_bins
        ``k``: a TSS's value is taken over the bin holding it and ``k`` bins each side (2k + 1 bins, 384 bp by
        default, as the Basenji2/Enformer CAGE-at-TSS evaluations do).
    aggregate
        Over a TSS's bins: ``"sum"``, ``"mean"`` or ``"max"``.
    combine
        Over a gene's distinct TSS sites: ``"sum"`` or ``"max"``; None returns transcripts x tracks instead.
    strand
        ``"gene"``: each strand pair of tracks is one column taking the member on the gene's strand (named after
        the pair, ``CAGE_HepG2`` for ``CAGE_HepG2+``/``CAGE_HepG2-``); ``"separate"``: every track its own column.
    margin
        Least bp between a TSS and the edges of its window's output span: the default 4,096 of tiled mode (at
        least ``tss_bins`` bins), so every TSS is predicted with context on both sides.
    rc, shifts, device, dtype, batch_size
        As for :func:`bazenji.tl.predict`.
    store, chunk_windows, overwrite
        The window store (kept when named; a temporary one otherwise), its chunking, and whether to replace a
        store made from other windows.

    Returns
    -------
    AnnData with ``obs`` one row per gene (``gene_id`` as name; ``gene_name``, ``gene_type``, ``Chromosome``,
    ``Start``, ``End``, ``Strand``, ``TSS`` the 5'-most TSS, ``n_transcripts``, ``n_tss`` the distinct sites
    used, ``n_fraction`` the largest N fraction of its windows, and any other gene-level column of ``genes``),
    ``var`` the track table (``strand`` ``"gene"`` for merged pairs, with ``plus_track``/``minus_track``), ``X``
    float32, NaN for genes with no TSS on the genome, and ``uns["bazenji"]`` the provenance of
    :func:`bazenji.tl.predict` plus ``"genes"`` (the parameters and counts, the ``tss`` table of every transcript's
    site, window and bin, and the ``windows``). With ``combine=None`` ``obs`` is the transcripts table instead.

    Warns
    -----
    UserWarning
        Transcripts on sequences the genome lacks or with a TSS outside its chromosome (NaN, counted and named),
        TSSs closer than half a window to a chromosome end (predicted from N-padded windows, counted).
    """
    transcripts = _transcript_table(genes)
    k, aggregate, combine, strand = _check_options(tss_bins, aggregate, combine, strand)
    model = resolve_model(model)
    genome = resolve_genome(genome, model)
    seq_length, bin_size, _, n_bins = geometry(model=model)
    placed = _placeable(transcripts, genome, seq_length)
    if not placed.any():
        raise ValueError(
            f"none of the {len(transcripts)} transcripts has a TSS on the genome's sequences "
            f"({show(genome.chroms, 5)}); expected genes of this genome's build and naming"
        )
    margin = max(default_margin(n_bins * bin_size), k * bin_size) if margin is None else int(margin)
    plan, site_of = _site_plan(transcripts[placed], model, k, margin)

    table = track_table(model)
    positions = _with_partners(table, select_tracks(table, tracks)) if strand == "gene" else None
    positions = select_tracks(table, tracks) if positions is None else positions
    temporary = store is None
    store_path = Path(tempfile.mkdtemp(prefix="bazenji-genes-")) / "windows.zarr" if temporary else store
    from .. import pp
    from ._predict import predict

    try:
        pp.encode(plan, genome, store_path, chunk_windows=chunk_windows, overwrite=overwrite)
        sites = predict(str(store_path), model, tracks=positions, aggregate=aggregate, rc=rc, shifts=shifts,
                        device=device, dtype=dtype, batch_size=batch_size)  # fmt: skip
    finally:
        if temporary:
            shutil.rmtree(Path(store_path).parent, ignore_errors=True)

    tss = _tss_table(transcripts, placed, site_of, plan)
    provenance = dict(sites.uns["bazenji"])
    provenance["store"] = None if temporary else str(store_path)
    params = {"source": transcripts.attrs.get("path"), "tss_bins": k, "aggregate": aggregate, "combine": combine,
              "strand": strand, "margin": margin, "bin_size": bin_size, "n_sites": len(plan.regions),
              "n_windows": plan.n_windows, "n_windows_saved": int(plan.n_windows_saved)}  # fmt: skip
    adata = _assemble(transcripts, tss, sites.X, sites.var, sites.obs["n_fraction"].to_numpy(), combine, strand)
    adata.uns["bazenji"] = h5ad_safe(provenance)
    windows = plan.windows[["chrom", "start", "end"]].astype({"chrom": str})
    adata.uns["bazenji"]["genes"] = {**h5ad_safe(params), "tss": adata.uns.pop("_tss"), "windows": windows}
    return adata


def observe_genes(
    adata: ad.AnnData,
    bigwigs=None,
    *,
    targets=None,
) -> ad.AnnData:
    """Observed coverage at the same TSS bins as a :func:`predict_genes` result: genes x tracks from bigWigs.

    Each site's bins are the very genomic bins its prediction was taken over (the grid of its window), read by
    :func:`bazenji.pp.import_bigwigs` with each track's ``sum_stat``, clip and scale, aggregated the same way, put
    through the same strand rule and combined to genes the same way.

    Parameters
    ----------
    adata
        The result of :func:`predict_genes` (genes or transcripts; its ``uns["bazenji"]["genes"]`` is used).
    bigwigs, targets
        As for :func:`bazenji.pp.import_bigwigs`: ``{identifier: path}``, a list of paths, or the ``file`` column
        of the targets table (strand pairs are read from its ``strand_pair`` column).

    Returns
    -------
    AnnData with the same ``obs`` as ``adata``, ``var`` the bigWig tracks under the same strand rule (the same
    names as ``adata.var_names`` for the model's own targets table, so :func:`bazenji.pl.predicted_vs_observed`
    pairs them), ``X`` float32 (NaN where ``adata`` is NaN) and ``uns["bazenji"]`` the import's provenance plus
    ``"genes"``.
    """
    from ..pp import import_bigwigs

    params = adata.uns.get("bazenji", {}).get("genes")
    if params is None or "tss" not in params:
        raise ValueError("adata has no uns['bazenji']['genes']['tss']; expected the result of bz.tl.predict_genes")
    tss = pd.DataFrame(params["tss"])
    k, bin_size = int(params["tss_bins"]), int(params["bin_size"])
    sites = tss[tss["site"] >= 0].drop_duplicates("site").sort_values("site")
    if not np.array_equal(sites["site"].to_numpy(), np.arange(len(sites))):
        raise ValueError("uns['bazenji']['genes']['tss'] has gaps in its site numbers; expected predict_genes' table")
    # the region's midpoint is the TSS bin's start, so import_bigwigs' grid (midpoint + j * bin_size) is its window's
    centre = sites["bin_start"].to_numpy(np.int64)
    regions = pd.DataFrame(
        {"Chromosome": sites["Chromosome"].astype(str).to_numpy(), "Start": centre - k * bin_size,
         "End": centre + k * bin_size + 1},
        index=pd.Index([f"site{i}" for i in range(len(sites))], dtype=object),
    )  # fmt: skip
    observed = import_bigwigs(regions, bigwigs, targets=targets, bin_size=bin_size, aggregate=params["aggregate"])
    combine = params["combine"] if params["combine"] in COMBINES else None
    out = _assemble_like(adata, tss, observed.X, observed.var, combine, params["strand"])
    out.uns["bazenji"] = {**observed.uns["bazenji"], "genes": {k: v for k, v in params.items() if k != "tss"}}
    return out


# --- inputs -----------------------------------------------------------------------------------------------------


def _transcript_table(genes) -> pd.DataFrame:
    if isinstance(genes, str | os.PathLike):
        return read_genes(genes)
    if not isinstance(genes, pd.DataFrame):
        raise TypeError(f"genes is a {type(genes).__name__}; expected a GTF/GFF3 path or a bz.io.read_genes table")
    table = genes.reset_index(drop=True).copy()
    table.attrs = dict(genes.attrs)
    if "TSS" not in table.columns and {"Start", "End", "Strand"} <= set(table.columns):
        table["TSS"] = tss_positions(table["Start"], table["End"], table["Strand"])
    missing = [c for c in ("gene_id", "transcript_id", "Chromosome", "Strand", "TSS") if c not in table.columns]
    if missing:
        raise ValueError(
            f"genes lacks column(s) {missing}; expected a bz.io.read_genes table (gene_id, transcript_id, "
            f"Chromosome, Strand, TSS), got {list(table.columns)}"
        )
    bad = ~table["Strand"].astype(str).isin(["+", "-"])
    if bad.any():
        raise ValueError(
            f"{int(bad.sum())} transcripts have Strand {show(sorted(table.loc[bad, 'Strand'].astype(str).unique()))};"
            " expected '+' or '-'"
        )
    table["Chromosome"] = table["Chromosome"].astype(str)
    table["TSS"] = pd.to_numeric(table["TSS"], errors="raise").astype(np.int64)
    return table


def _check_options(tss_bins, aggregate, combine, strand):
    if isinstance(tss_bins, bool) or not isinstance(tss_bins, int | np.integer) or tss_bins < 0:
        raise ValueError(f"tss_bins={tss_bins!r}; expected a non-negative integer number of bins each side")
    if aggregate not in AGGREGATES:
        raise ValueError(f"aggregate={aggregate!r}; expected one of {AGGREGATES}")
    if combine is not None and combine not in COMBINES:
        raise ValueError(f"combine={combine!r}; expected one of {COMBINES} or None (transcripts x tracks)")
    if strand not in STRAND_RULES:
        raise ValueError(f"strand={strand!r}; expected one of {STRAND_RULES}")
    return int(tss_bins), aggregate, combine, strand


def _placeable(transcripts: pd.DataFrame, genome, seq_length: int) -> np.ndarray:
    """Transcripts whose TSS lies on a genome sequence; the others and those near a chromosome end are warned of."""
    sizes = genome.chrom_sizes
    chrom, tss = transcripts["Chromosome"].to_numpy(), transcripts["TSS"].to_numpy()
    known = np.array([c in sizes for c in chrom], dtype=bool)
    length = np.array([sizes.get(c, 0) for c in chrom], dtype=np.int64)
    inside = known & (tss >= 0) & (tss < length)
    genes = transcripts["gene_id"].astype(str).to_numpy()
    if (~known).any():
        absent = list(dict.fromkeys(chrom[~known].tolist()))
        try:
            genome.check_chroms(absent, what="the genes", column="genes['Chromosome']")
        except ValueError as err:  # its message names them and hints at a chr prefix mismatch
            hint = str(err)
        warnings.warn(
            f"{int((~known).sum())} transcripts of {len(set(genes[~known]))} genes are on sequences the genome "
            f"lacks; their rows are NaN. {hint}",
            UserWarning,
            stacklevel=3,
        )
    outside = known & ~inside
    if outside.any():
        where = [f"{c}:{t}" for c, t in zip(chrom[outside], tss[outside], strict=True)]
        warnings.warn(
            f"{int(outside.sum())} transcripts of {len(set(genes[outside]))} genes have a TSS outside their "
            f"chromosome (e.g. {show(where, 3)}): another genome build? Their rows are NaN",
            UserWarning,
            stacklevel=3,
        )
    half = seq_length // 2
    near = inside & ((tss < half) | (length - tss <= half))
    if near.any():
        warnings.warn(
            f"{int(near.sum())} TSSs of {len(set(genes[near]))} genes lie closer than half a window ({half:,} bp) "
            f"to a chromosome end (e.g. {show(transcripts.loc[near, 'transcript_id'].astype(str).tolist(), 3)}): "
            "their windows are padded with N past the end, as the official code does; obs['n_fraction'] tells how "
            "much",
            UserWarning,
            stacklevel=3,
        )
    return inside


def _with_partners(table: pd.DataFrame, positions: np.ndarray) -> np.ndarray:
    """``positions`` with each one's strand partner after it, where the table pairs tracks."""
    partners = strand_partners(table)
    if partners is None:
        return positions
    out = list(dict.fromkeys(p for position in positions.tolist() for p in (position, int(partners[position]))))
    return np.asarray(out, dtype=np.int64)


# --- windows ----------------------------------------------------------------------------------------------------


def _site_plan(placed: pd.DataFrame, model, k: int, margin: int) -> tuple[WindowPlan, np.ndarray]:
    """The store's plan (one region per site: its 2k + 1 bins in one window) and each placed transcript's site.

    Distinct TSS positions are tiled as 1 bp regions, then every (window, TSS bin) becomes one region whose piece
    is exactly the bins around the TSS, so :func:`bazenji.tl.predict` aggregates those bins and nothing else.
    """
    from ..pp import plan_windows

    keys = pd.MultiIndex.from_arrays([placed["Chromosome"].to_numpy(), placed["TSS"].to_numpy()])
    point_of = pd.Index(keys.unique()).get_indexer(keys)
    unique = keys.unique()
    chroms = unique.get_level_values(0).to_numpy(dtype=object)
    tss = unique.get_level_values(1).to_numpy(np.int64)
    names = pd.Index([f"{c}:{t}" for c, t in zip(chroms, tss, strict=True)], dtype=object)
    points = pd.DataFrame({"Chromosome": chroms, "Start": tss, "End": tss + 1}, index=names)
    plan = plan_windows(points, mode="tiled", model=model, margin=margin)
    pieces = plan.assignments.sort_values("region", kind="stable")
    window, tss_bin = pieces["window"].to_numpy(), pieces["bin_start"].to_numpy()
    if len(pieces) != len(points) or (tss_bin - k < 0).any() or (tss_bin + k >= plan.n_bins).any():
        raise ValueError(
            f"margin={margin} leaves TSS bins within tss_bins={k} of a window's edge; expected a margin of at least "
            f"{k * plan.bin_size} bp"
        )
    site_keys = pd.MultiIndex.from_arrays([window, tss_bin])
    site_of_point = pd.Index(site_keys.unique()).get_indexer(site_keys)
    site_window = site_keys.unique().get_level_values(0).to_numpy(np.int64)
    site_bin = site_keys.unique().get_level_values(1).to_numpy(np.int64)
    order = np.argsort(site_window, kind="stable")  # predict reads pieces in window order
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    site_window, site_bin, site_of_point = site_window[order], site_bin[order], rank[site_of_point]
    bin_start = plan.output_starts()[site_window] + site_bin * plan.bin_size
    names, _ = make_unique([f"{c}:{s}-{s + plan.bin_size}" for c, s in
                            zip(plan.windows["chrom"].to_numpy()[site_window], bin_start, strict=True)])  # fmt: skip
    regions = pd.DataFrame(
        {"Chromosome": plan.windows["chrom"].to_numpy()[site_window].astype(object),
         "Start": bin_start - k * plan.bin_size, "End": bin_start + (k + 1) * plan.bin_size},
        index=pd.Index(names, dtype=object),
    )  # fmt: skip
    assignments = pd.DataFrame({"region": np.arange(len(regions)), "window": site_window,
                                "bin_start": site_bin - k, "bin_end": site_bin + k + 1}).astype(np.int64)  # fmt: skip
    sites = dataclasses.replace(plan, regions=regions, assignments=assignments)
    return sites, site_of_point[point_of]


def _tss_table(transcripts: pd.DataFrame, placed: np.ndarray, site_of: np.ndarray, plan: WindowPlan) -> pd.DataFrame:
    """Per transcript: its site (-1 when not placed), the site's window and TSS bin, and the bin's genomic start."""
    site = np.full(len(transcripts), -1, np.int64)
    site[placed] = site_of
    pieces = plan.assignments
    k = int((pieces["bin_end"] - pieces["bin_start"]).iloc[0] // 2) if len(pieces) else 0
    window = np.where(site >= 0, pieces["window"].to_numpy()[site], -1)
    tss_bin = np.where(site >= 0, pieces["bin_start"].to_numpy()[site] + k, -1)
    bin_start = np.where(site >= 0, plan.regions["Start"].to_numpy()[site] + k * plan.bin_size, -1)
    return pd.DataFrame({"transcript_id": transcripts["transcript_id"].astype(str).to_numpy(),
                         "Chromosome": transcripts["Chromosome"].to_numpy(), "TSS": transcripts["TSS"].to_numpy(),
                         "Strand": transcripts["Strand"].astype(str).to_numpy(), "site": site, "window": window,
                         "bin": tss_bin, "bin_start": bin_start})  # fmt: skip


# --- tracks, genes and their values -----------------------------------------------------------------------------


def _track_strands(var: pd.DataFrame, partners: np.ndarray) -> np.ndarray:
    """``+``, ``-`` or ``.`` per track: the ``strand`` column, else a paired track identifier's last character."""
    paired = partners != np.arange(len(var))
    names = var["identifier"] if "identifier" in var.columns else pd.Series(var.index, index=var.index)
    given = var["strand"] if "strand" in var.columns else names.astype(str).str[-1]
    strands = np.where(paired, given.astype(str).to_numpy(), ".")
    for i in np.flatnonzero(paired):
        if {strands[i], strands[partners[i]]} != {"+", "-"}:
            raise ValueError(
                f"tracks {var.index[i]!r} and {var.index[partners[i]]!r} are a strand pair but their strands are "
                f"{strands[i]!r} and {strands[partners[i]]!r}; expected one '+' and one '-' (a 'strand' column, or "
                "identifiers ending in + and -, the Basenji convention); strand='separate' keeps both as they are"
            )
    return strands


def _strand_columns(var: pd.DataFrame, rule: str) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The output track table, and per output column the input column for plus- and for minus-strand genes."""
    every = np.arange(len(var))
    partners = strand_partners(var)
    if rule == "separate" or partners is None or (partners == every).all():
        return var.copy(), every, every
    strands = _track_strands(var, partners)
    kept = np.flatnonzero(strands != "-")  # a pair is kept as its plus member's row, as baskerville collapses them
    plus, minus = kept, np.where(strands[kept] == "+", partners[kept], kept)
    paired = plus != minus
    names = [_pair_name(str(var.index[p]), str(var.index[m])) if p != m else str(var.index[p])
             for p, m in zip(plus, minus, strict=True)]  # fmt: skip
    out = var.iloc[kept].drop(columns=["strand_pair"]).copy()
    out.index = pd.Index(make_unique(names)[0], dtype=object)
    out["strand"] = np.where(paired, "gene", ".")
    out["plus_track"] = var.index[plus].astype(str)
    out["minus_track"] = var.index[minus].astype(str)
    return out, plus, minus


def _pair_name(plus: str, minus: str) -> str:
    """``CAGE_HepG2`` for ``CAGE_HepG2+`` and ``CAGE_HepG2-``; ``plus/minus`` when they differ otherwise."""
    if plus[:-1] == minus[:-1] and plus.endswith("+") and minus.endswith("-") and len(plus) > 1:
        return plus[:-1]
    return f"{plus}/{minus}"


def _gene_table(transcripts: pd.DataFrame, tss: pd.DataFrame, site_n: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """One row per gene (``gene_id`` on one chromosome and strand), and each transcript's gene row."""
    key = pd.MultiIndex.from_arrays(
        [transcripts["gene_id"].astype(str), transcripts["Chromosome"], transcripts["Strand"].astype(str)]
    )
    row_of = pd.factorize(key)[0]  # numbered in order of first appearance, the order of the rows
    groups = transcripts.groupby(row_of, sort=True)
    first = groups.first()
    genes = first[[c for c in first.columns if c not in _TRANSCRIPT_ONLY]].reset_index(drop=True)
    for column, reduce in (("Start", "min"), ("End", "max")):
        if column in transcripts.columns:
            genes[column] = groups[column].agg(reduce).to_numpy()
    plus = genes["Strand"].astype(str).to_numpy() == "+"
    genes["TSS"] = np.where(plus, groups["TSS"].min().to_numpy(), groups["TSS"].max().to_numpy())  # the 5'-most
    front = [
        c for c in ("gene_id", "gene_name", "gene_type", "Chromosome", "Start", "End", "Strand", "TSS") if c in genes
    ]
    genes = genes[front + [c for c in genes.columns if c not in front]]
    genes["n_transcripts"] = np.bincount(row_of, minlength=len(genes))
    used = tss["site"].to_numpy() >= 0
    pairs = pd.DataFrame({"row": row_of[used], "site": tss["site"].to_numpy()[used]}).drop_duplicates()
    genes["n_tss"] = np.bincount(pairs["row"], minlength=len(genes))
    n_fraction = np.full(len(genes), np.nan, np.float32)
    np.fmax.at(n_fraction, pairs["row"].to_numpy(), site_n[pairs["site"].to_numpy()])
    genes["n_fraction"] = n_fraction
    names, repeated = make_unique(genes["gene_id"].tolist())
    if repeated:
        warnings.warn(
            f"{len(repeated)} gene ids are on several chromosomes or strands (e.g. {show(repeated, 3)}, PAR genes?): "
            "each copy is its own row, the later ones named <gene_id>-1, -2 ...",
            UserWarning,
            stacklevel=4,
        )
    genes.index = pd.Index(names, dtype=object)
    return genes, row_of


def _transcript_obs(transcripts: pd.DataFrame, tss: pd.DataFrame, site_n: np.ndarray):
    obs = transcripts.copy()
    site = tss["site"].to_numpy()
    obs["n_fraction"] = np.where(site >= 0, site_n[np.maximum(site, 0)], np.nan).astype(np.float32)
    obs.index = pd.Index(make_unique(obs["transcript_id"].astype(str).tolist())[0], dtype=object)
    return obs, np.arange(len(obs))


def _combine(values: np.ndarray, plus: np.ndarray, minus: np.ndarray, tss: pd.DataFrame, row_of: np.ndarray,
             n_rows: int, combine: str | None) -> np.ndarray:  # fmt: skip
    """Rows x output columns: each row's distinct sites, on its strand's columns, combined (sum or max)."""
    site = tss["site"].to_numpy()
    used = site >= 0
    pairs = pd.DataFrame({"row": row_of[used], "site": site[used], "minus": tss["Strand"].to_numpy()[used] == "-"})
    pairs = pairs.drop_duplicates(["row", "site"])
    rows, sites = pairs["row"].to_numpy(), pairs["site"].to_numpy()
    picked = np.where(pairs["minus"].to_numpy()[:, None], values[sites][:, minus], values[sites][:, plus])
    out = np.full((n_rows, len(plus)), -np.inf if combine == "max" else 0.0, dtype=np.float64)
    (np.maximum if combine == "max" else np.add).at(out, rows, picked)
    out[np.bincount(rows, minlength=n_rows) == 0] = np.nan  # nothing predicted for it: NaN, never 0
    return out.astype(np.float32)


def _assemble(transcripts, tss, values, var, site_n, combine, strand) -> ad.AnnData:
    out_var, plus, minus = _strand_columns(var, strand)
    obs, row_of = _gene_table(transcripts, tss, site_n) if combine else _transcript_obs(transcripts, tss, site_n)
    tss = tss.assign(obs_name=obs.index.to_numpy()[row_of])
    adata = ad.AnnData(X=_combine(values, plus, minus, tss, row_of, len(obs), combine), obs=obs, var=out_var)
    adata.uns["_tss"] = tss
    return adata


def _assemble_like(adata: ad.AnnData, tss: pd.DataFrame, values, var, combine, strand) -> ad.AnnData:
    out_var, plus, minus = _strand_columns(var, strand)
    row_of = adata.obs_names.get_indexer(tss["obs_name"].astype(str))
    if (row_of < 0).any():
        raise ValueError("uns['bazenji']['genes']['tss'] names rows adata lacks; expected predict_genes' result whole")
    X = _combine(values, plus, minus, tss, row_of, adata.n_obs, combine)
    return ad.AnnData(X=X, obs=adata.obs.copy(), var=out_var)
