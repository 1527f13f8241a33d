"""The two VCF readers behind :func:`bazenji.io.read_vcf`: pysam (htslib) first, a line reader where htslib refuses.

Each yields, per record, where it comes from (for error messages) and its CHROM to FILTER fields as text.
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ._names import show

FIELDS = ("CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER")
_REGION = re.compile(r"^(?P<chrom>[^:\s]+)(?::(?P<start>[\d,]+)(?:-(?P<end>[\d,]+))?)?$")
_NO_INDEX = (
    "region queries need a bgzip-compressed VCF with a tabix or CSI index; {path!r} has none: build one with "
    "`tabix -p vcf`, `bcftools index` or pysam.tabix_index"
)


@dataclass(frozen=True)
class Where:
    """Where a record comes from, for error messages: a file line or a table row."""

    text: str
    table: bool = False

    def column(self, index: int) -> str:
        """``column 2 (POS)`` for a file, ``column 'pos'`` for a table."""
        name = FIELDS[index]
        return f"column {name.lower()!r}" if self.table else f"column {index + 1} ({name})"

    def __str__(self) -> str:
        return self.text


# -- regions -------------------------------------------------------------------------------------------------------
def parse_region(region: str) -> tuple[str, int, int | None]:
    """``(chrom, start, end)`` of a samtools-style region: 0-based start, end exclusive (None: to the end)."""
    match = _REGION.match(str(region).strip()) if isinstance(region, str) else None
    if match is None:
        raise ValueError(f"region={region!r}; expected 'chrom', 'chrom:start' or 'chrom:start-end' (1-based)")
    start = int(match["start"].replace(",", "")) if match["start"] else 1
    end = int(match["end"].replace(",", "")) if match["end"] else None
    if start < 1 or (end is not None and end < start):
        raise ValueError(f"region={region!r}; expected 1 <= start <= end (1-based, inclusive)")
    return match["chrom"], start - 1, end


def _overlaps(bounds, chrom: str, pos_text: str, ref: str) -> bool:
    """Whether a record overlaps the region by its REF span (a record whose POS is not a number: kept, to fail)."""
    if bounds is None:
        return True
    try:
        pos = int(pos_text)
    except ValueError:
        return chrom == bounds[0]
    first, last = pos - 1, pos - 1 + max(len(ref), 1)
    return chrom == bounds[0] and last > bounds[1] and (bounds[2] is None or first < bounds[2])


# -- readers -------------------------------------------------------------------------------------------------------
def records_from_pysam(path: Path, bounds) -> list[tuple[Where, list[str]]]:
    """CHROM to FILTER of every record as htslib reads them (all at once: a failure falls back before any row)."""
    import pysam

    verbosity = pysam.set_verbosity(0)  # htslib's own warnings (contigs missing from the header) would go to stderr
    try:
        with pysam.VariantFile(str(path)) as vcf:
            if bounds is None:
                records = vcf.fetch()
            else:
                records = _fetch_region(vcf, path, bounds)
            return [(Where(f"record {k} of {str(path)!r}"), _pysam_fields(r)) for k, r in enumerate(records, 1)]
    finally:
        pysam.set_verbosity(verbosity)


def _fetch_region(vcf, path: Path, bounds):
    chrom, start, end = bounds
    if vcf.index is None:
        raise RegionError(_NO_INDEX.format(path=str(path)))
    if chrom not in vcf.index:
        raise RegionError(f"region {chrom!r} is not in the index of {str(path)!r}; it has {show(list(vcf.index))}")
    return vcf.fetch(chrom, start, end)


class RegionError(Exception):
    """A region query that cannot be answered: raised as ValueError, never retried by the line reader."""


def _pysam_fields(record) -> list[str]:
    alts = record.alts
    return [
        record.chrom,
        str(record.pos),
        record.id or ".",
        record.ref,
        ",".join(alts) if alts else ".",
        "." if record.qual is None else repr(float(record.qual)),
        ";".join(record.filter.keys()) or ".",
    ]


def records_from_text(path: Path, bounds) -> Iterator[tuple[Where, list[str]]]:
    """CHROM to FILTER of every data line, decoded as UTF-8 field by field; INFO and samples are never decoded.

    With ``bounds`` (a region) only the overlapping records, and only for an indexed file, as htslib asks.
    """
    if bounds is not None and not any(os.path.exists(f"{path}{ext}") for ext in (".tbi", ".csi")):
        raise RegionError(_NO_INDEX.format(path=str(path)))
    with open(path, "rb") as handle:
        compressed = handle.read(2) == b"\x1f\x8b"
    opener = gzip.open if compressed else open
    with opener(path, "rb") as handle:
        try:
            for number, line in enumerate(handle, start=1):
                if number == 1:
                    line = line.removeprefix(b"\xef\xbb\xbf")
                if line.startswith(b"#") or not line.strip():
                    continue
                where = Where(f"line {number} of {str(path)!r}")
                fields = [_decode(where, i, f) for i, f in enumerate(line.rstrip(b"\r\n").split(b"\t", 7)[:7])]
                if len(fields) < 5 or _overlaps(bounds, fields[0].strip(), fields[1].strip(), fields[3].strip()):
                    yield where, fields
        except (EOFError, gzip.BadGzipFile, zlib.error) as err:
            raise ValueError(f"cannot read {str(path)!r} as a {'compressed ' if compressed else ''}VCF: {err}") from err


def _decode(where: Where, index: int, field: bytes) -> str:
    try:
        return field.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(
            f"{where}, {where.column(index)}: {field!r} is not UTF-8 text; expected UTF-8 (only INFO and the "
            "sample columns may hold other bytes)"
        ) from None
