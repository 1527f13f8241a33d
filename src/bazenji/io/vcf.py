"""Variants in: VCF and BCF files (read by pysam) and variant tables, one row per alternative allele.

pysam (htslib) reads every file that is a VCF by the specification: plain, gzip, bgzip or BCF, and with a tabix
or CSI index it answers ``region=`` queries without reading the rest. What htslib refuses, a record-by-record
reader here reads instead, so files bazenji always read keep working and every error names its line: files
without the ``##fileformat`` header or with fewer than the eight fixed columns (``CHROM POS ID REF ALT`` is
enough), blank lines, a UTF-8 byte-order mark, and used fields that are not UTF-8 (htslib decodes them and
fails without a line number; the reader here decodes only CHROM to FILTER, so bytes of any encoding in INFO
and the sample columns are tolerated, as they are by htslib itself). Both readers feed the same checks of each
record's fields, so both give the same rows.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from ._names import make_unique, show
from ._vcf_readers import RegionError, Where, parse_region, records_from_pysam, records_from_text

__all__ = ["read_vcf"]

COLUMNS = ("chrom", "pos", "id", "ref", "alt", "vcf_id", "allele", "kind", "qual", "filter")

# REF and ALT letters: the four bases, N, and the IUPAC ambiguity codes some VCFs carry in REF.
_BASES = frozenset("ACGTNRYKMSWBDHV")
# Why an alternative allele is skipped, in the order the warning lists them.
_SKIP_REASONS = {
    # contig insertions (C<ctg1>) count as symbolic: the VCF specification names the inserted contig by a symbolic
    # <ID>, and like <INS> there is no sequence to score
    "symbolic": "symbolic (<...>, * or a contig insertion such as C<ctg1>)",
    "breakend": "breakend",
    "too_long": "longer than max_indel",
    "no_alt": "no alternative allele (ALT '.')",
    "ref_equals_alt": "ALT equal to REF",
    "ambiguous_alt": "ALT with IUPAC ambiguity codes (no single sequence to score)",
}
_ACGTN = frozenset("ACGTN")
# VCF 4.1's insertion of an assembled contig: bases joined to a <contig ID> on either side
_CONTIG_INSERTION = re.compile(r"^[ACGTN]*<[^<>]+>[ACGTN]*$")


def read_vcf(
    path_or_df: str | os.PathLike | pd.DataFrame,
    *,
    max_indel: int = 50,
    region: str | None = None,
    strict: bool = False,
) -> pd.DataFrame:
    """Read variants from a VCF file or a table, one row per alternative allele.

    Parameters
    ----------
    path_or_df
        A VCF or BCF file, plain or gzip/bgzip-compressed (recognised by its content, not its name), or a
        DataFrame with columns ``chrom``, ``pos`` (1-based; integers, or floats with whole values such as
        ``100.0``), ``ref``, ``alt`` and optionally ``id`` (any case; ``alt`` may hold several comma-separated
        alleles). Only CHROM, POS, ID, REF, ALT, QUAL and FILTER are read (and decoded: INFO and sample columns
        may hold bytes of any encoding); a file without the VCF header, or with only the first five columns, is
        read too.
    max_indel
        Longest allele kept, in bases: an alternative allele is skipped when it or the REF is longer. The
        default, 50, is the usual line between short indels and structural variants.
    region
        Only the records overlapping ``"chrom"``, ``"chrom:start"`` or ``"chrom:start-end"`` (1-based,
        inclusive, commas allowed: ``"chr1:1-1,000,000"``), read through the file's tabix (``.tbi``) or CSI
        index; the file must be bgzip-compressed and indexed (``tabix -p vcf``, ``bcftools index`` or
        ``pysam.tabix_index``). A record overlaps when its REF span does, as in ``bcftools view -r``.
    strict
        Raise on the first alternative allele that cannot be scored (naming its line) instead of skipping and
        counting it.

    Returns
    -------
    One row per kept alternative allele in file order, indexed by ``id``, with the columns listed under Notes.

    Raises
    ------
    FileNotFoundError
        ``path_or_df`` is a path that does not exist.
    ValueError
        A malformed record (fewer than five tab-separated fields, a position that is not a positive integer, an
        empty chromosome, REF or ALT with letters other than bases, a QUAL that is not a number, a used field
        that is not UTF-8); the message names the file, line and column (file) or row and column (DataFrame),
        the value and what was expected; a table's fractional float positions are named all at once. Also a
        ``max_indel`` that is not a positive integer, a DataFrame without the required columns, and a
        ``region`` that is malformed, names a sequence the index lacks, or is asked of a file without an index.

    Warns
    -----
    UserWarning
        When alleles are skipped (how many, and why) or repeated IDs are made unique.

    Notes
    -----
    ``chrom`` (categorical), ``pos`` (int64, 1-based), ``ref``, ``alt``
        The variant as in the file, with the alleles upper-cased but not trimmed or normalised.
    ``id``
        Unique name: the VCF ID for a record with one ALT allele; ``<ID>_<ALT>`` for each allele of a
        multi-allelic record (``rs1_T``, ``rs1_G``); ``<chrom>:<pos>:<ref>:<alt>`` when the ID is ``.``.
        Names that still repeat (the same ID on several records) get ``-1``, ``-2`` ... appended.
    ``vcf_id``
        The ID field as written in the file (``.`` when missing).
    ``allele``
        1-based position of this allele in the record's ALT list, so genotypes can be matched back.
    ``kind``
        Categorical, from the allele lengths: ``SNV``, ``MNV`` (equal lengths above one), ``insertion``
        (ALT longer) or ``deletion`` (ALT shorter).
    ``qual``, ``filter``
        QUAL as float and FILTER as categorical, NaN for ``.`` or when the input lacks them. htslib reads a QUAL
        that is not a number as 0, as ``bcftools`` shows it.

    Alternative alleles that cannot be scored are skipped and counted, never silently. They are symbolic
    alleles (``<DEL>``, ``<INS>``, the spanning deletion ``*``), contig insertions (``C<ctg1>``), breakends
    (``A[chr2:10[``, ``.A``), alleles longer than ``max_indel``, ALT ``.``, ALT equal to REF and ALT with
    IUPAC codes (``R``: no single sequence to score). ``df.attrs["skipped"]`` holds the count per reason
    (``symbolic``, contig insertions included, ``breakend``, ``too_long``, ``no_alt``, ``ref_equals_alt``,
    ``ambiguous_alt``), ``df.attrs["n_records"]`` the number of records read and ``df.attrs["region"]`` the
    region asked for.
    """
    if isinstance(max_indel, bool) or not isinstance(max_indel, int | np.integer) or max_indel < 1:
        raise ValueError(f"max_indel={max_indel!r}; expected a positive integer (bases)")
    parse = _Parser(int(max_indel), bool(strict))
    if isinstance(path_or_df, pd.DataFrame):
        if region is not None:
            raise ValueError(f"region={region!r} needs an indexed VCF file; select a table's rows with pandas")
        parse.all(_records_from_frame(path_or_df))
        source = "table"
    elif isinstance(path_or_df, str | os.PathLike):
        path = Path(path_or_df)
        if not path.is_file():
            raise FileNotFoundError(f"VCF file {str(path)!r} does not exist")
        bounds = parse_region(region) if region is not None else None
        try:
            parse.all(records_from_pysam(path, bounds))
        except RegionError as err:
            raise ValueError(str(err)) from None
        except (OSError, ValueError, NotImplementedError):  # NotImplementedError: htslib on a plain-gzip VCF
            # htslib refused the file or a record, or a field failed the checks: the line reader reads what
            # htslib does not and, for a real problem, raises the error naming line and column.
            parse = _Parser(int(max_indel), bool(strict))
            try:
                parse.all(records_from_text(path, bounds))
            except RegionError as err:
                raise ValueError(str(err)) from None
        source = str(path) + (f" ({region})" if region is not None else "")
    else:
        raise TypeError(f"path_or_df={path_or_df!r}; expected a path to a VCF file or a DataFrame")

    table = _to_frame(parse.rows)
    parse.warn(source, len(table))
    table.attrs["skipped"] = parse.skipped
    table.attrs["n_records"] = parse.n_records
    table.attrs["region"] = region
    return table


class _Parser:
    """The rows of kept alleles and the counts of skipped ones, record by record."""

    def __init__(self, max_indel: int, strict: bool) -> None:
        self.max_indel, self.strict = max_indel, strict
        self.rows: list[tuple] = []
        self.skipped = dict.fromkeys(_SKIP_REASONS, 0)
        self.n_records = 0

    def all(self, records: Iterable[tuple[Where, list[str]]]) -> None:
        for where, fields in records:
            self.n_records += 1
            _parse_record(where, fields, self)

    def warn(self, source: str, n_kept: int) -> None:
        n_skipped = sum(self.skipped.values())
        if not n_skipped:
            return
        reasons = ", ".join(
            f"{count} {_SKIP_REASONS[reason]}" + (f"={self.max_indel} bp" if reason == "too_long" else "")
            for reason, count in self.skipped.items()
            if count
        )
        warnings.warn(
            f"read_vcf skipped {n_skipped} of {n_skipped + n_kept} alternative allele(s) in {source}: {reasons}",
            UserWarning,
            stacklevel=3,
        )


def _records_from_frame(frame: pd.DataFrame) -> Iterable[tuple[Where, list[str]]]:
    columns = {str(c).lower(): c for c in frame.columns}
    missing = [c for c in ("chrom", "pos", "ref", "alt") if c not in columns]
    if missing:
        raise ValueError(
            f"variant table lacks column(s) {missing}; expected chrom, pos, ref, alt (and optionally id, qual, "
            f"filter), got {list(frame.columns)}"
        )
    names = ("chrom", "pos", "id", "ref", "alt", "qual", "filter")
    values = [frame[columns[n]].tolist() if n in columns else [None] * len(frame) for n in names]
    values[1] = integral_positions(values[1])
    for row, record in enumerate(zip(*values, strict=True)):
        yield Where(f"row {row} of the variant table", table=True), [_field(v) for v in record]


def integral_positions(positions: list) -> list:
    """``positions`` with whole floats (``100.0``, as a column with a missing value becomes) made ``int``.

    Raises ValueError naming every row whose position is a float with a fraction (or infinite): a position is a
    base, and rounding it would silently score another one. NaN is left for the caller to report as missing.
    """
    out, fractional = list(positions), []
    for row, value in enumerate(out):
        if isinstance(value, float | np.floating) and not np.isnan(value):
            if float(value).is_integer():
                out[row] = int(value)
            else:
                fractional.append(row)
    if fractional:
        raise ValueError(
            f"variant table: non-integral pos {show(out[r] for r in fractional)} at row(s) {show(fractional)}; "
            "expected whole 1-based positions (floats such as 100.0 are accepted)"
        )
    return out


def _field(value) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "."
    return str(value)


def _parse_record(where: Where, fields: list[str], parser: _Parser) -> None:
    if len(fields) < 5:
        line = "\t".join(fields)
        raise ValueError(
            f"{where}: {len(fields)} tab-separated field(s); expected at least 5 (CHROM POS ID REF ALT): {_short(line)}"
        )
    chrom, pos_text, vcf_id, ref, alts = (f.strip() for f in fields[:5])
    if not chrom or chrom == ".":
        raise ValueError(f"{where}, {where.column(0)}: empty CHROM; expected a chromosome name")
    try:
        pos = int(pos_text)
    except ValueError:
        pos = -1
    if pos < 1:
        raise ValueError(f"{where}, {where.column(1)}: POS={pos_text!r}; expected a positive integer (1-based)")
    if not ref or not set(ref.upper()) <= _BASES:
        raise ValueError(f"{where}, {where.column(3)}: REF={ref!r}; expected letters A, C, G, T, N (or IUPAC codes)")
    ref = ref.upper()
    qual = _qual(where, fields[5].strip()) if len(fields) > 5 else np.nan
    filt = fields[6].strip() if len(fields) > 6 and fields[6].strip() not in ("", ".") else None
    alt_list = alts.split(",")
    vcf_id = vcf_id or "."
    for allele, written in enumerate(alt_list, start=1):
        written = written.strip()
        alt = written.upper()
        reason = _skip_reason(alt, ref, parser.max_indel)
        if reason == "malformed":
            raise ValueError(
                f"{where}, {where.column(4)}: ALT allele {written!r}; expected bases, a symbolic <...>, *, a contig "
                "insertion (C<ctg1>) or a breakend"
            )
        if reason and parser.strict:
            raise ValueError(
                f"{where}, {where.column(4)}: ALT allele {written!r} is {_SKIP_REASONS[reason]}; expected an allele "
                "that can be scored (strict=True; without it, such alleles are skipped and counted)"
            )
        if reason:
            parser.skipped[reason] += 1
            continue
        if vcf_id == ".":
            name = f"{chrom}:{pos}:{ref}:{alt}"
        else:
            name = f"{vcf_id}_{alt}" if len(alt_list) > 1 else vcf_id
        parser.rows.append((chrom, pos, name, ref, alt, vcf_id, allele, _kind(ref, alt), qual, filt))


def _skip_reason(alt: str, ref: str, max_indel: int) -> str | None:
    if alt == "." or alt == "":
        return "no_alt"
    if alt == "*" or (alt.startswith("<") and alt.endswith(">")):
        return "symbolic"
    if _CONTIG_INSERTION.match(alt):
        return "symbolic"
    if "[" in alt or "]" in alt or (len(alt) > 1 and (alt.startswith(".") or alt.endswith("."))):
        return "breakend"
    if not set(alt) <= _BASES:
        return "malformed"
    if not set(alt) <= _ACGTN:
        return "ambiguous_alt"
    if alt == ref:
        return "ref_equals_alt"
    if len(alt) > max_indel or len(ref) > max_indel:
        return "too_long"
    return None


def _kind(ref: str, alt: str) -> str:
    if len(ref) == len(alt):
        return "SNV" if len(ref) == 1 else "MNV"
    return "insertion" if len(alt) > len(ref) else "deletion"


def _qual(where: Where, text: str) -> float:
    if text in ("", "."):
        return np.nan
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{where}, {where.column(5)}: QUAL={text!r}; expected a number or '.'") from None


def _to_frame(rows: list[tuple]) -> pd.DataFrame:
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(COLUMNS)
    data = dict(zip(COLUMNS, columns, strict=True))
    table = pd.DataFrame(
        {
            "chrom": pd.Categorical(data["chrom"]),
            "pos": np.asarray(data["pos"], dtype=np.int64),
            "id": pd.array(data["id"], dtype=object),
            "ref": pd.array(data["ref"], dtype=object),
            "alt": pd.array(data["alt"], dtype=object),
            "vcf_id": pd.array(data["vcf_id"], dtype=object),
            "allele": np.asarray(data["allele"], dtype=np.int32),
            "kind": pd.Categorical(data["kind"], categories=["SNV", "MNV", "insertion", "deletion"]),
            "qual": np.asarray(data["qual"], dtype=np.float64),
            "filter": pd.Categorical(data["filter"]),
        }
    )
    names, repeated = make_unique(table["id"].tolist())
    if repeated:
        warnings.warn(
            f"{len(repeated)} repeated variant id(s) ({show(list(dict.fromkeys(repeated)))}) made unique by appending "
            "-1, -2, ...; the file's ID stays in 'vcf_id'",
            UserWarning,
            stacklevel=3,
        )
    table["id"] = names
    table.index = pd.Index(table["id"].to_numpy(), dtype=object)
    return table


def _short(text: str) -> str:
    return repr(text) if len(text) <= 80 else repr(text[:77] + "...")
