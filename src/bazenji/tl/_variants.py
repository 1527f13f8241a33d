"""``bz.tl.variant_effect``: variants x tracks AnnData of SAD and related scores, streamed and resumable.

Window placement, the statistics and the per-chunk unit of work are in :mod:`bazenji.tl._alleles`; where the
scores go (memory, or an AnnData zarr store written chunk by chunk) in :mod:`bazenji.tl._variant_output`.
"""

from __future__ import annotations

import hashlib
import logging
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .._settings import settings
from ..io import read_vcf, select_tracks
from ..io.vcf import COLUMNS as VCF_COLUMNS
from ..io.vcf import integral_positions
from ..store._results import results_key
from ._alleles import OUT_DTYPES, STATS, ChunkSites, ScoreSpec, check_sites, score_chunk, stat_dtype
from ._common import h5ad_safe, model_fingerprint, resolve_genome, resolve_model, track_table, versions
from ._ensemble import resolve_placement, strand_pair_permutation
from ._variant_output import MemoryScores, StoreScores

logger = logging.getLogger("bazenji")

MISMATCH = ("score", "nan", "raise")
#: default number of variants per chunk: the unit of work written to the store and of resumption
CHUNK_VARIANTS = 256


def _check_stats(stats) -> list[str]:
    if isinstance(stats, str):
        stats = list(STATS) if stats == "all" else [stats]
    stats = list(dict.fromkeys(stats))
    unknown = [s for s in stats if s not in STATS]
    if unknown:
        raise ValueError(f"stats={unknown!r}; expected names from {list(STATS)} or 'all'")
    return ["SAD", *[s for s in stats if s != "SAD"]]


def _variant_table(variants, max_indel: int) -> pd.DataFrame:
    if isinstance(variants, pd.DataFrame) and set(VCF_COLUMNS) <= set(variants.columns):
        table = variants.copy()  # already one row per allele, as read_vcf returns it
        table.attrs = dict(variants.attrs)
        if not pd.api.types.is_integer_dtype(table["pos"]):  # edited tables: whole floats are fine, fractions not
            table["pos"] = integral_positions(table["pos"].tolist())
    else:
        table = read_vcf(variants, max_indel=max_indel)
    table["chrom"] = table["chrom"].astype(str)
    table["pos"] = table["pos"].astype(np.int64)
    table["ref"] = table["ref"].astype(str).str.upper()
    table["alt"] = table["alt"].astype(str).str.upper()
    return table


def _sites(table: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """Site of each row, numbered in order of first appearance, and the site table.

    A site is (chrom, pos, REF, extra): ``extra``, the bases a deletion pulls into the window, is computed per
    VCF record from that record's alleles, as ``snp_seq1`` does, so the records of a split multi-allelic
    site (``bcftools norm -m-``) get the official windows and still share one reference window when they agree.
    """
    place = table["chrom"].astype(str) + ":" + table["pos"].astype(str) + ":" + table["ref"]
    allele = table["allele"].to_numpy() if "allele" in table.columns else np.ones(len(table), int)
    new_record = place.ne(place.shift()).to_numpy() | (allele <= np.roll(allele, 1))
    record = np.cumsum(new_record)
    longest_alt = table["alt"].str.len().groupby(record).transform("max").to_numpy()
    extra = np.maximum(0, table["ref"].str.len().to_numpy() - longest_alt)
    keys = table[["chrom", "pos", "ref"]].assign(extra=extra)
    site_of_row = keys.groupby(["chrom", "pos", "ref", "extra"], sort=False, observed=True).ngroup().to_numpy(np.int64)
    grouped = keys.assign(alt=table["alt"].to_numpy()).groupby(site_of_row, sort=True)
    sites = pd.DataFrame(
        {name: grouped[name].first() for name in ("chrom", "pos", "ref", "extra")} | {"alts": grouped["alt"].agg(list)}
    ).reset_index(drop=True)
    return np.asarray(site_of_row, dtype=np.int64), sites


def _fingerprint(table: pd.DataFrame) -> str:
    digest = hashlib.blake2b(digest_size=12)
    for column in ("chrom", "pos", "ref", "alt"):
        digest.update("\t".join(map(str, table[column].tolist())).encode())
    return digest.hexdigest()


def _chunk_sites(
    rows: range, site_of_row: np.ndarray, sites: pd.DataFrame, alts: np.ndarray, status: np.ndarray, replace: list
) -> ChunkSites:
    """The sites of variant rows ``rows`` (a chunk), each with only the chunk's alleles.

    A chunk is a fixed run of rows, so a multi-allelic site can straddle two chunks: each then predicts the
    site's reference window for its own alleles (at most one extra window per chunk boundary).
    """
    rows = np.arange(rows.start, rows.stop)
    rows_of_site = pd.Series(rows).groupby(site_of_row[rows], sort=False).agg(list).to_dict()
    ids = np.fromiter(rows_of_site, dtype=np.int64, count=len(rows_of_site))
    table = sites.loc[ids].assign(alts=[alts[rows_of_site[s]].tolist() for s in ids])
    return ChunkSites(
        sites=ids, table=table, status={int(i): int(status[i]) for i in ids}, replace={int(i): replace[i] for i in ids},
        rows_of_site={int(i): rows_of_site[i] for i in ids}, rows=rows,
    )  # fmt: skip


def variant_effect(
    variants,
    model=None,
    genome=None,
    *,
    tracks=None,
    rc: bool = False,
    shifts: Sequence[int] = (0,),
    stats: str | Sequence[str] = ("SAD",),
    n_value: float = 0.25,
    on_mismatch: str = "score",
    out_dtype: str = "float32",
    store: str | Path | None = None,
    overwrite: bool = False,
    chunk_variants: int = CHUNK_VARIANTS,
    max_indel: int = 50,
    device: str | None = None,
    dtype: str = "float32",
    batch_size: int | None = None,
    client=None,
) -> ad.AnnData:
    """Score variants with Basenji2: a variants x tracks AnnData of SAD and related statistics.

    Each site gets the official window (as ``basenji_sad.py``): ``L`` bp starting at 0-based
    ``pos - 1 - (L//2 - 1)``, so the variant's first base sits at index ``L//2 - 1``; indel alleles are
    centre-trimmed or N-padded back to ``L`` as ``basenji/vcf.py`` ``snp_seq1`` does (module notes), each VCF
    record by its own alleles. The reference window is predicted once per site (chrom, pos, REF and the bases a
    deletion pulls in) however many alternative alleles, on one record or several, it has, within a chunk.
    Variants are scored in chunks of ``chunk_variants`` rows; with ``store`` every chunk's scores go straight to
    disk (an AnnData zarr store), so memory holds one chunk at a time and a killed run resumes where it stopped.

    Parameters
    ----------
    variants
        A VCF file (plain or bgzipped), a DataFrame with ``chrom``, ``pos``, ``ref``, ``alt`` (and ``id``), or
        the table :func:`bazenji.io.read_vcf` returns. Multi-allelic records become one row per allele;
        symbolic and long alleles are skipped with a warning and counted in ``uns``.
    model
        A :class:`~bazenji.models.Basenji2` or anything :func:`bazenji.models.load` accepts; the demo model
        when None.
    genome
        A :class:`~bazenji.io.Genome` or FASTA path; None means the demo genome, allowed with the demo model only.
    tracks
        Tracks to score, in any form :func:`bazenji.io.select_tracks` accepts; only their head rows run.
    rc, shifts
        Reverse-complement and shift ensembling, as in :func:`bazenji.tl.predict` (shifted inputs are padded
        with ``n_value``, as the official ``shift_sequence`` pads with 0.25).
    stats
        Statistics per variant and track, or ``"all"``: ``"SAD"`` (sum over bins of alt minus ref; always
        computed, it is ``X``), ``"SAR"`` and its alias ``"logSAD"`` (``log2((alt_sum + 1) / (ref_sum + 1))``),
        ``"SAX"`` (the per-bin difference of largest magnitude, signed), ``"maxabs"`` (the largest absolute
        per-bin difference), ``"D1"``/``"D2"`` (L1 / squared L2 norm of the per-bin differences), ``"REF"`` and
        ``"ALT"`` (the sums over bins of each allele). All but SAD go to ``layers`` under their names.
    n_value
        One-hot value of N (padding past chromosome ends, indel padding, N in the genome): 0.25 in every
        channel as the official scorer encodes it, or 0 for all-zero (the training convention).
    on_mismatch
        A REF that matches neither the genome nor (by the official swap) an ALT: ``"score"`` forces REF into
        the reference window in place of the genome's bases and scores it, ``"nan"`` keeps the row with NaN
        scores (the official scorer drops it), ``"raise"`` fails. Either way ``ref_match`` is False.
        ``"raise"`` also fails on a REF the genome does not hold where it holds an ALT (which ``"score"`` and
        ``"nan"`` swap in, as the official scorer does): with it, every REF must match the genome.
    out_dtype
        ``"float32"``, or ``"float16"`` to halve memory and disk for millions of variants; ``REF``, ``ALT`` and
        ``D2`` stay float32 (their sums outgrow float16's range of 65,504).
    store
        A path (or zarr URL), conventionally ``*.zarr``, of an AnnData zarr store the scores are written into
        chunk by chunk: ``X`` and each layer chunked along variants at exactly the variant chunks, ``obs`` and
        ``var`` written when it is created, ``uns`` when the last chunk is done (layout in :doc:`/formats`).
        ``anndata.read_zarr`` reads it, ``anndata.experimental.read_lazy`` opens it lazily. Calling again with
        the same arguments and store computes only the chunks not yet done (none once it is complete); a store of
        other parameters is refused. Needs dask. None keeps every score in memory.
    overwrite
        Replace what ``store`` holds (scores of these or other parameters, or any AnnData zarr) instead of
        resuming or refusing it.
    chunk_variants
        Variants (rows) per chunk: the unit of work, of writing (one zarr chunk) and of resumption.
    max_indel
        Longest allele read from a VCF, as in :func:`bazenji.io.read_vcf`.
    device, dtype, batch_size
        Where and how the model runs (defaults from :data:`bazenji.settings`); ``batch_size`` counts windows.
    client
        A ``dask.distributed.Client``: every unfinished chunk is scored as one named task
        (``bazenji-variants-<key>-<call>-<chunk>``) on its workers, which load the model once each (the device is
        resolved there) and write their chunk's rows into ``store`` when given (they must see it) or return their
        scores; see :doc:`/scaling`. :attr:`bazenji.settings.client` by default; ``False`` runs in this process.

    Returns
    -------
    AnnData with ``obs`` one row per variant (``id``, ``chrom``, ``pos``, ``ref``, ``alt``, ``kind``,
    ``ref_match``: the genome holds REF; ``ref_swapped``: the genome holds this site's matching ALT and the
    official swap put REF in the reference window; ``genome_ref``: the genome's bases under REF; and the other
    columns of :func:`bazenji.io.read_vcf`), ``var`` the track table, ``X`` the SAD, ``layers`` the other
    statistics asked for, and ``uns["bazenji"]`` the provenance (model, genome, placement, ensembling,
    skipped alleles, mismatch counts, versions, timings). With ``store``, ``X`` and ``layers`` are dask arrays
    read lazily from the store (chunks of ``chunk_variants`` rows; ``.compute()`` or ``np.asarray`` loads them)
    and ``obs``, ``var`` and ``uns`` are in memory; a call that found every chunk done returns the provenance of
    the call that finished it.
    """
    started = time.perf_counter()
    stats = _check_stats(stats)
    requested_model = model
    if on_mismatch not in MISMATCH:
        raise ValueError(f"on_mismatch={on_mismatch!r}; expected one of {list(MISMATCH)}")
    if out_dtype not in OUT_DTYPES:
        raise ValueError(f"out_dtype={out_dtype!r}; expected one of {list(OUT_DTYPES)}")
    if not 0 <= float(n_value) <= 1:
        raise ValueError(f"n_value={n_value!r}; expected 0.25 (the official N) or 0 (all-zero N)")
    if isinstance(chunk_variants, bool) or not isinstance(chunk_variants, int | np.integer) or chunk_variants < 1:
        raise ValueError(f"chunk_variants={chunk_variants!r}; expected a positive integer")
    n_value = float(n_value)
    chunk_variants = int(chunk_variants)
    shifts = [int(s) for s in shifts] or [0]
    model = resolve_model(model)
    genome = resolve_genome(genome, model)
    client, torch_device, compute_dtype = resolve_placement(client, device, dtype)
    batch_size = settings.resolve_batch_size(batch_size)
    seq_length = model.config.seq_length

    table = _variant_table(variants, max_indel)
    genome.check_chroms(sorted(set(table["chrom"])), what="the variants", column="variants['chrom']")
    site_of_row, sites = _sites(table)
    status, genome_ref, replace = check_sites(genome, sites)
    if on_mismatch == "raise" and (status > 0).any():
        _raise_mismatch(table, site_of_row, status, genome_ref)
    mismatched = status == 2
    if mismatched.any():
        names = table["id"].to_numpy()[mismatched[site_of_row]].tolist()
        message = (
            f"{len(names)} variant(s) whose REF matches neither the genome nor an ALT ({', '.join(names[:5])}"
            f"{', ...' if len(names) > 5 else ''})"
        )
        warnings.warn(
            f"{message}: {'scored with REF forced into the reference window' if on_mismatch == 'score' else 'NaN'}"
            "; ref_match is False for them",
            UserWarning,
            stacklevel=2,
        )
    if (status == 1).any():
        logger.warning("%d site(s) hold an ALT in the genome: swapped to REF as the official scorer does",
                       int((status == 1).sum()))  # fmt: skip

    var = track_table(model)
    track_index = select_tracks(var, tracks)
    var = var.iloc[track_index].copy()
    var.index = var.index.astype(str)
    obs = _obs(table, site_of_row, status, genome_ref)
    head_tracks = track_index if len(track_index) < model.config.n_tracks else None
    strand_pairs = strand_pair_permutation(model.targets, track_index) if rc else None
    bounds = [range(lo, min(lo + chunk_variants, len(table))) for lo in range(0, len(table), chunk_variants)]
    params = {
        "kind": "variant_effect",
        "model": model_fingerprint(model),
        "genome": genome.fingerprint,
        "variants": _fingerprint(table),
        "tracks": track_index.tolist(),
        "rc": bool(rc),
        "shifts": shifts,
        "dtype": str(compute_dtype),
        "stats": stats,
        "n_value": n_value,
        "on_mismatch": on_mismatch,
        "out_dtype": out_dtype,
        "chunk_variants": chunk_variants,
    }
    n_tracks = len(track_index)
    dtypes = {s: stat_dtype(s, out_dtype) for s in stats}
    if store is None:
        scores, key, done = MemoryScores(len(table), n_tracks, dtypes), results_key(params), np.zeros(len(bounds), bool)
    else:
        scores = StoreScores.open(store, params, obs=obs, var=var, dtypes=dtypes, chunk_variants=chunk_variants,
                                  n_chunks=len(bounds), overwrite=overwrite)  # fmt: skip
        key, done = scores.key, scores.done

    spec = ScoreSpec(
        stats=tuple(stats), n_tracks=n_tracks, out_dtype=out_dtype, on_mismatch=on_mismatch, seq_length=seq_length,
        batch_size=batch_size, n_value=n_value, head_tracks=head_tracks, rc=bool(rc), shifts=tuple(shifts),
        dtype=str(compute_dtype).removeprefix("torch."), strand_pairs=strand_pairs,
    )  # fmt: skip
    alts = table["alt"].to_numpy()

    def chunk_sites(c: int) -> ChunkSites:
        return _chunk_sites(bounds[c], site_of_row, sites, alts, status, replace)

    timing = {"model_s": 0.0, "windows": 0, "variants": 0}
    devices = []
    tic = time.perf_counter()
    todo = [c for c in range(len(bounds)) if not done[c]]
    with tqdm(total=len(table), initial=len(table) - sum(len(bounds[c]) for c in todo), unit="variant",
              desc="variant_effect", disable=not settings.progress) as bar:  # fmt: skip
        if client is None:
            model = model.to(torch_device).eval()
            devices = [str(torch_device)]
            for c in todo:
                values = score_chunk(spec, chunk_sites(c), genome, model, torch_device, timing=timing,
                                     on_variants=bar.update)  # fmt: skip
                scores.write(c, bounds[c].start, values)
        else:
            from ._dask import score_on_dask

            on_workers = score_on_dask(
                client, spec, todo, chunk_sites, model, genome, fingerprint=params["model"], given=requested_model,
                device=settings.device if device is None else str(device), store=store, key=key,
                on_scores=scores.write, bar=bar,
            )  # fmt: skip
            for name in timing:
                timing[name] += on_workers[name]
            devices = on_workers["devices"] or [settings.device if device is None else str(device)]
    predict_s = time.perf_counter() - tic

    provenance = {
        "model": {**{k: v for k, v in model.source.items() if v is not None}, "fingerprint": params["model"],
                  "config": model.config.to_dict()},
        "genome_fingerprint": genome.fingerprint,
        "placement": {"seq_length": seq_length, "variant_index": seq_length // 2 - 1, "n_value": n_value,
                      "rule": "basenji vcf.snp_seq1"},
        "ensemble": {"rc": bool(rc), "shifts": shifts},
        "stats": stats,
        "skipped": {k: int(v) for k, v in table.attrs.get("skipped", {}).items()},
        "n_sites": len(sites),
        "n_ref_swapped": int((status == 1)[site_of_row].sum()),
        "n_ref_mismatch": int(mismatched[site_of_row].sum()),
        "on_mismatch": on_mismatch,
        "device": ",".join(devices),
        "dtype": str(compute_dtype).removeprefix("torch."),
        "out_dtype": out_dtype,
        "store": str(store) if store is not None else None,
        "results_key": key,
        "versions": versions(),
        "timings": {"predict_s": predict_s, "model_s": timing["model_s"], "total_s": time.perf_counter() - started,
                    "windows": timing["windows"],
                    "variants_per_s": timing["variants"] / predict_s if timing["variants"] and predict_s else None,
                    "windows_per_s": timing["windows"] / predict_s if timing["windows"] and predict_s else None},
    }  # fmt: skip
    return scores.result(obs, var, h5ad_safe(provenance), computed=bool(todo))


def _raise_mismatch(table: pd.DataFrame, site_of_row: np.ndarray, status: np.ndarray, genome_ref: list[str]) -> None:
    """on_mismatch='raise': every REF the genome does not hold is refused, also where the genome holds an ALT."""
    parts = []
    for code, what in ((2, "match neither the genome nor an ALT"), (1, "differ from the genome, which holds an ALT")):
        rows = np.flatnonzero(status[site_of_row] == code)
        if len(rows):
            shown = ", ".join(f"{table['id'].iloc[r]} (REF {table['ref'].iloc[r]!r}, genome "
                              f"{genome_ref[site_of_row[r]]!r})" for r in rows[:5])  # fmt: skip
            parts.append(f"{len(rows)} {what}: {shown}{', ...' if len(rows) > 5 else ''}")
    raise ValueError(
        f"variant(s) whose REF disagrees with the genome ({'; '.join(parts)}); expected every REF to match the genome "
        "(on_mismatch='raise'). Pass on_mismatch='score' (the official swap where the genome holds an ALT) or 'nan'"
    )


def _obs(table: pd.DataFrame, site_of_row: np.ndarray, status: np.ndarray, genome_ref: list[str]) -> pd.DataFrame:
    first = ["id", "chrom", "pos", "ref", "alt", "kind"]
    obs = table[[c for c in first if c in table.columns]].copy()
    obs["chrom"] = pd.Categorical(obs["chrom"])
    obs["ref_match"] = status[site_of_row] == 0
    obs["ref_swapped"] = status[site_of_row] == 1
    obs["genome_ref"] = np.asarray(genome_ref, dtype=object)[site_of_row]
    for column in table.columns:
        if column not in obs.columns:
            obs[column] = table[column].to_numpy()
    obs.index = pd.Index(table["id"].astype(str).to_numpy(), dtype=object)
    return obs
