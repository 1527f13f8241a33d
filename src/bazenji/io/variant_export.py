"""``variant_effect`` results out in the files variant pipelines read: a VCF with INFO fields, a tidy table.

Both take the variants x tracks AnnData :func:`bazenji.tl.variant_effect` returns (scores in memory, or read
lazily from its zarr store block by block) and write only the statistics and tracks asked for. The VCF is
written by pysam (htslib); the parquet table by pyarrow when it is installed. Rules in :doc:`/export`.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from .export import unique_names
from .genome import Genome
from .targets import select_tracks

__all__ = ["STAT_MEANINGS", "vcf_fields", "vcf_records", "write_variant_table", "write_vcf"]

#: what each statistic is, for the VCF header and the docs
STAT_MEANINGS = {
    "SAD": "sum over bins of ALT minus REF predicted coverage",
    "SAR": "log2((ALT sum + 1) / (REF sum + 1)) of predicted coverage over bins",
    "logSAD": "log2((ALT sum + 1) / (REF sum + 1)) of predicted coverage over bins (SAR)",
    "SAX": "per-bin ALT minus REF difference of largest magnitude, signed",
    "maxabs": "largest absolute per-bin ALT minus REF difference",
    "D1": "L1 norm of the per-bin ALT minus REF differences",
    "D2": "squared L2 norm of the per-bin ALT minus REF differences",
    "REF": "sum over bins of REF predicted coverage",
    "ALT": "sum over bins of ALT predicted coverage",
}
VCF_MODES = {".vcf": "w", ".gz": "wz", ".bgz": "wz", ".bcf": "wb"}
TABLE_SUFFIXES = (".tsv", ".tsv.gz", ".parquet")


def _stats_of(adata, stats) -> list[str]:
    """The statistics ``stats`` asks for, checked against those the result holds (``X`` is SAD)."""
    held = ["SAD", *[s for s in adata.layers.keys() if s in STAT_MEANINGS]]
    wanted = held if stats is None else [stats] if isinstance(stats, str) else list(dict.fromkeys(stats))
    missing = [s for s in wanted if s not in held]
    if missing:
        raise ValueError(
            f"stats={missing!r} are not in the variant_effect result, which holds {held}; expected some of those, or "
            f"variant_effect(..., stats={[*held[1:], *missing]!r}) to compute them"
        )
    return wanted


def _tracks_of(adata, tracks) -> np.ndarray:
    try:
        return select_tracks(adata.var, tracks)
    except ValueError as err:
        raise ValueError(f"{err} (the variant_effect result holds {adata.n_vars} tracks)") from None


def _values(adata, stat: str, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Rows ``rows`` (sorted) and ``columns`` of one statistic, read from memory or lazily from a store."""
    array = adata.X if stat == "SAD" else adata.layers[stat]
    return np.asarray(array[rows][:, columns], dtype=np.float32)


def vcf_records(obs: pd.DataFrame, chroms: list[str] | None = None) -> np.ndarray:
    """Per row of a ``variant_effect`` result, the VCF record it is written in (numbered in written order).

    Consecutive rows of one input record (same chrom, pos, REF and VCF ID, with increasing ``allele``) form one
    record, their ALTs in row order; rows of different input records at one position (a split multi-allelic site)
    stay separate records. Records are numbered by chromosome (in ``chroms`` order, the genome's; by first
    appearance without it) then position, stably.
    """
    keys = obs["chrom"].astype(str) + "\t" + obs["pos"].astype(str) + "\t" + obs["ref"].astype(str)
    if "vcf_id" in obs:
        keys = keys + "\t" + obs["vcf_id"].astype(str)
    allele = obs["allele"].to_numpy() if "allele" in obs else np.arange(len(obs))
    new = np.ones(len(obs), bool)
    new[1:] = (keys.to_numpy()[1:] != keys.to_numpy()[:-1]) | (allele[1:] <= allele[:-1])
    record = np.cumsum(new) - 1
    names = obs["chrom"].astype(str)
    chrom_rank = pd.factorize(names)[0] if chroms is None else pd.Index(chroms).get_indexer(names)
    first = np.flatnonzero(new)
    order = np.lexsort((np.arange(len(first)), obs["pos"].to_numpy()[first], chrom_rank[first]))
    rank = np.empty(len(first), np.int64)
    rank[order] = np.arange(len(first))
    return rank[record]


def _contig_sizes(genome, chroms: list[str]) -> dict[str, int | None]:
    """``##contig`` lines: the genome's chromosomes with lengths, else the variants' own without."""
    if genome is None:
        return dict.fromkeys(chroms)
    sizes = dict(genome) if isinstance(genome, Mapping) else Genome(genome).chrom_sizes
    missing = [c for c in chroms if c not in sizes]
    if missing:
        raise ValueError(f"variants on {missing[:5]}, which the genome lacks; expected the genome they were scored on")
    return sizes


def _vcf_header(adata, fields: pd.DataFrame, contigs: dict[str, int | None], has_allele: bool):
    import pysam

    from .. import __version__

    header = pysam.VariantHeader()
    info = adata.uns.get("bazenji", {})
    header.add_meta("source", f"bazenji {__version__} variant_effect")
    if info.get("model", {}).get("fingerprint"):
        header.add_meta("bazenji_model", str(info["model"]["fingerprint"]))
    skipped = {k: int(v) for k, v in info.get("skipped", {}).items() if int(v)}
    if skipped:  # alleles read_vcf could not score are not in the result, so not in this file either
        header.add_meta("bazenji_skipped_alleles", ",".join(f"{k}:{v}" for k, v in skipped.items()))
    for chrom, size in contigs.items():
        header.contigs.add(chrom, length=size)
    if "filter" in adata.obs:
        for name in sorted({f for v in adata.obs["filter"].dropna().astype(str) for f in v.split(";")} - {"PASS", "."}):
            header.filters.add(name, None, None, "FILTER of the input VCF")
    for row in fields.itertuples():
        header.info.add(row.id, "A", "Float", row.description)
    header.info.add("BZ_REF", 1, "String", "bazenji reference check: match (the genome holds REF), swapped (the genome "
                    "holds an ALT; REF swapped in as the official scorer does) or mismatch (neither)")  # fmt: skip
    if has_allele:
        header.info.add("BZ_ALLELE", "A", "Integer", "position of each ALT in the input record's ALT list (1-based; "
                        "alleles bazenji skipped are not written)")  # fmt: skip
    return header


def vcf_fields(adata, *, stats=None, tracks=None) -> pd.DataFrame:
    """The INFO fields :func:`write_vcf` writes: ``id``, ``stat``, ``track``, ``identifier``, ``description``.

    IDs are ``<stat>_<track identifier>`` with characters VCF does not allow in IDs made ``_`` (made unique with
    ``_<position>`` when two coincide).
    """
    stats = _stats_of(adata, stats)
    columns = _tracks_of(adata, tracks)
    var = adata.var.iloc[columns]
    identifiers = var["identifier"].astype(str) if "identifier" in var else pd.Series(var.index.astype(str))
    described = var["description"].fillna("").astype(str) if "description" in var else identifiers
    rows = []
    for stat in stats:
        for name, identifier, description, column in zip(var.index, identifiers, described, columns, strict=True):
            text = f"{stat} of track {identifier}" + (f" ({description})" if description != identifier else "")
            rows.append({"stat": stat, "track": str(name), "identifier": identifier, "column": int(column),
                         "description": f"{text}: {STAT_MEANINGS[stat]}".replace('"', "'")})  # fmt: skip
    fields = pd.DataFrame(rows, columns=["stat", "track", "identifier", "column", "description"])
    fields.insert(0, "id", unique_names([f"{r.stat}_{r.identifier}" for r in fields.itertuples()], "A-Za-z0-9_."))
    return fields


def write_vcf(
    adata, path: str | os.PathLike, *, stats=None, tracks=None, genome=None, index: bool = True,
    records_per_block: int = 4096,
) -> pd.DataFrame:  # fmt: skip
    """Write ``variant_effect`` scores as a VCF with one INFO field per statistic and track (``Number=A``).

    Parameters
    ----------
    adata
        The variants x tracks AnnData of :func:`bazenji.tl.variant_effect` (in memory or read lazily from its store).
    path
        ``.vcf``, ``.vcf.gz`` (bgzip, with a tabix index when ``index``) or ``.bcf``. VCF text carries 6
        significant digits (htslib's float format); BCF keeps every float32 bit.
    stats
        Statistics to write, of those the result holds (``"SAD"`` is ``X``, the others its layers); all by default.
    tracks
        Tracks to write, in any form :func:`bazenji.io.select_tracks` accepts; all by default.
    genome
        A :class:`~bazenji.io.Genome`, FASTA path or ``{chrom: size}`` for the ``##contig`` lines with lengths;
        without it the contigs are the variants' chromosomes, without lengths.
    index
        Write a tabix index next to a ``.vcf.gz``.
    records_per_block
        Records whose scores are read at a time (scores read lazily from a store never load at once).

    Returns
    -------
    The INFO fields written (:func:`vcf_fields`).

    Notes
    -----
    Records are grouped and ordered by :func:`vcf_records`: the rows of one input record become one record with
    its ALTs in order and one value per ALT in every field. ``BZ_ALLELE`` gives each ALT's position in the input
    record (alleles bazenji skipped, such as symbolic ones, are left out and counted in a
    ``##bazenji_skipped_alleles`` header line) and ``BZ_REF`` the reference check. NaN scores (``on_mismatch='nan'``)
    are written as missing (``.``). ID, QUAL and FILTER are the input's.
    """
    import pysam

    path = Path(path)
    mode = VCF_MODES.get(path.suffix)
    if mode is None or (path.suffix in (".gz", ".bgz") and not path.name.endswith((".vcf.gz", ".vcf.bgz"))):
        raise ValueError(f"VCF output {str(path)!r}: expected a .vcf, .vcf.gz or .bcf path")
    fields = vcf_fields(adata, stats=stats, tracks=tracks)
    obs = adata.obs
    contigs = _contig_sizes(genome, list(dict.fromkeys(obs["chrom"].astype(str))))
    record = vcf_records(obs, list(contigs))
    columns = _record_columns(obs)
    header = _vcf_header(adata, fields, contigs, "allele" in columns)
    order = np.argsort(record, kind="stable")  # rows in written order, a record's ALTs together
    bounds = np.r_[np.flatnonzero(np.r_[True, record[order][1:] != record[order][:-1]]), len(order)]
    n_records = len(bounds) - 1
    by_stat = {s: fields.index[fields["stat"] == s].to_numpy() for s in fields["stat"].unique()}
    ids = fields["id"].to_numpy()
    # written beside the output and renamed, so a failed write leaves no partial VCF that looks whole
    partial = path.with_name(f".{path.name}.partial")
    try:
        with pysam.VariantFile(str(partial), mode, header=header) as out:
            for lo in range(0, n_records, records_per_block):
                hi = min(lo + records_per_block, n_records)
                rows = order[bounds[lo] : bounds[hi]]
                sorted_rows = np.sort(rows)
                place = np.searchsorted(sorted_rows, rows)
                values = {s: _values(adata, s, sorted_rows, fields["column"].to_numpy()[i])[place]
                          for s, i in by_stat.items()}  # fmt: skip
                for r in range(lo, hi):
                    at = slice(bounds[r] - bounds[lo], bounds[r + 1] - bounds[lo])
                    scores = {ids[f]: v[at, k] for s, v in values.items() for k, f in enumerate(by_stat[s])}
                    out.write(_record(out, columns, rows[at], scores))
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    if index and mode == "wz":
        pysam.tabix_index(str(path), preset="vcf", force=True)
    return fields


def _record_columns(obs: pd.DataFrame) -> dict[str, np.ndarray]:
    """The obs columns a VCF record is made of, as numpy arrays (read per record, so no pandas lookups)."""
    columns = {c: obs[c].astype(str).to_numpy() for c in ("chrom", "ref", "alt")}
    columns["pos"] = obs["pos"].to_numpy(np.int64)
    if "vcf_id" in obs:
        columns["vcf_id"] = obs["vcf_id"].astype(str).to_numpy()
    else:
        columns["name"] = np.asarray(obs.index, dtype=str)
    for name in ("qual", "filter", "allele"):
        if name in obs:
            columns[name] = obs[name].to_numpy(object)
    if "ref_match" in obs:
        columns["ref_state"] = np.where(obs["ref_match"].to_numpy(bool), "match",
                                        np.where(obs["ref_swapped"].to_numpy(bool), "swapped", "mismatch"))  # fmt: skip
    return columns


def _record(out, columns: dict[str, np.ndarray], rows: np.ndarray, scores: dict[str, np.ndarray]):
    """The VCF record of ``rows`` (one input record's scored ALTs), with its score per ALT in every field."""
    first = rows[0]
    if "vcf_id" in columns:
        vcf_id = columns["vcf_id"][first]
    else:  # the row names of a multi-allelic record carry their ALT: only a single ALT's is the record's ID
        vcf_id = columns["name"][first] if len(rows) == 1 else "."
    record = out.new_record(contig=columns["chrom"][first], start=int(columns["pos"][first]) - 1,
                            alleles=(columns["ref"][first], *columns["alt"][rows]),
                            id=None if vcf_id in (".", "nan", "") else vcf_id)  # fmt: skip
    if "qual" in columns and not pd.isna(columns["qual"][first]):
        record.qual = float(columns["qual"][first])
    if "filter" in columns and not pd.isna(columns["filter"][first]):
        for name in str(columns["filter"][first]).split(";"):
            if name != ".":
                record.filter.add(name)
    for field, values in scores.items():
        record.info[field] = tuple(None if np.isnan(v) else float(v) for v in values)
    if "ref_state" in columns:
        record.info["BZ_REF"] = str(columns["ref_state"][first])
    if "allele" in columns:
        record.info["BZ_ALLELE"] = tuple(int(a) for a in columns["allele"][rows])
    return record


def _labels(obs: pd.DataFrame, rows: np.ndarray) -> dict[str, np.ndarray]:
    """The columns naming variants ``rows`` in the tidy table."""
    ids = obs["id"] if "id" in obs else pd.Series(obs.index, index=obs.index)
    labels = {"id": ids.iloc[rows].astype(str).to_numpy()}
    labels |= {c: obs[c].iloc[rows].astype(str).to_numpy() for c in ("chrom", "ref", "alt")}
    labels["pos"] = obs["pos"].iloc[rows].to_numpy(np.int64)
    return {c: labels[c] for c in ("id", "chrom", "pos", "ref", "alt")}


def write_variant_table(adata, path: str | os.PathLike, *, stats=None, tracks=None, rows_per_block: int = 4096) -> Path:
    """Write ``variant_effect`` scores as a tidy table: one row per variant and track, one column per statistic.

    Parameters
    ----------
    adata
        The variants x tracks AnnData of :func:`bazenji.tl.variant_effect`.
    path
        ``.tsv`` (``.tsv.gz`` gzipped) or ``.parquet`` (needs pyarrow). Floats are written with every float32 digit.
    stats, tracks
        As for :func:`write_vcf`.
    rows_per_block
        Variants read and written at a time.

    Returns
    -------
    ``path``. Columns: ``id``, ``chrom``, ``pos``, ``ref``, ``alt``, ``track`` (the track name; its identifier and
    description are in ``adata.var``), then the statistics; variants in the result's order, tracks in the order
    selected.
    """
    path = Path(path)
    if not path.name.endswith(TABLE_SUFFIXES):
        raise ValueError(f"table output {str(path)!r}: expected a path ending in one of {list(TABLE_SUFFIXES)}")
    parquet = path.suffix == ".parquet"
    if parquet and importlib.util.find_spec("pyarrow") is None:
        raise ImportError(f"{str(path)!r}: writing parquet needs pyarrow (pip install pyarrow); a .tsv or .tsv.gz "
                          "path writes the same table as text")  # fmt: skip
    stats = _stats_of(adata, stats)
    columns = _tracks_of(adata, tracks)
    names = adata.var.index[columns].astype(str).to_numpy()
    obs = adata.obs
    writer = None
    try:
        for lo in range(0, max(len(obs), 1), rows_per_block):
            rows = np.arange(lo, min(lo + rows_per_block, len(obs)))
            block = pd.DataFrame({c: np.repeat(v, len(columns)) for c, v in _labels(obs, rows).items()})
            block["track"] = np.tile(names, len(rows))
            for stat in stats:
                block[stat] = _values(adata, stat, rows, columns).reshape(-1)
            if parquet:
                import pyarrow as pa
                import pyarrow.parquet as pq

                data = pa.Table.from_pandas(block, preserve_index=False)
                writer = writer or pq.ParquetWriter(path, data.schema)
                writer.write_table(data)
            else:
                block.to_csv(path, sep="\t", index=False, mode="w" if lo == 0 else "a", header=lo == 0)
    finally:
        if writer is not None:
            writer.close()
    return path
