"""BED-like text files (BED3 to BED12, narrowPeak, broadPeak) into a DataFrame, with the line of every row.

The fields are tokenised by pandas' C reader (``pandas.read_csv``), about four times faster than splitting lines in
Python and faster than pysam's tabix iterators (``benchmarks/RESULTS.md``, readers section). What pandas does not do
is done here, before and after it: gzip/bgzip, a UTF-8 byte-order mark, ``track``/``browser``/``#`` lines anywhere,
the same number of fields on every line, the source line of every row for error messages, and UTF-8 checked only
in the fields bazenji uses.
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
import re

import numpy as np
import pandas as pd

logger = logging.getLogger("bazenji")

BED_COLUMNS = [
    "Chromosome",
    "Start",
    "End",
    "Name",
    "Score",
    "Strand",
    "ThickStart",
    "ThickEnd",
    "ItemRGB",
    "BlockCount",
    "BlockSizes",
    "BlockStarts",
]
NARROWPEAK_COLUMNS = [*BED_COLUMNS[:6], "SignalValue", "PValue", "QValue", "Peak"]
BROADPEAK_COLUMNS = NARROWPEAK_COLUMNS[:9]
FORMATS = {"bed": BED_COLUMNS, "narrowpeak": NARROWPEAK_COLUMNS, "broadpeak": BROADPEAK_COLUMNS}
#: fewest fields of each format
MIN_FIELDS = {"bed": 3, "narrowpeak": 10, "broadpeak": 9}

_BOM = b"\xef\xbb\xbf"
_HEADER_PREFIXES = (b"#", b"track ", b"track\t", b"browser ", b"browser\t")
# Columns whose text becomes part of the regions (chromosome, row names, strand): undecodable bytes there are an
# error; in any other text column they are kept as U+FFFD with a warning.
_USED_TEXT = (0, 3, 5)
_TEXT_COLUMNS = _USED_TEXT
_SURROGATE = re.compile("[\udc80-\udcff]")


def format_from_name(path: str) -> str | None:
    """``"narrowpeak"`` or ``"broadpeak"`` from the file name; None for ``.bed`` and anything else (ambiguous)."""
    name = path.lower()
    for suffix in (".gz", ".bgz"):
        name = name.removesuffix(suffix)
    if name.endswith(".narrowpeak"):
        return "narrowpeak"
    if name.endswith(".broadpeak"):
        return "broadpeak"
    return None


def read_bed(path: str, fmt: str | None) -> tuple[pd.DataFrame, np.ndarray, str]:
    """The rows of a BED-like file, their 1-based line numbers and the format they were read as.

    ``fmt`` None decides from the name, then (for ``.bed`` and other names) from the columns' content; the choice
    is logged at INFO.
    """
    rows, numbers, sep = _data_lines(_raw_bytes(path), path)
    text_columns = {i: str for i in _TEXT_COLUMNS}
    frame = pd.read_csv(
        io.BytesIO(b"\n".join(rows)), sep="\t" if sep else r"\s+", header=None, dtype=text_columns,
        encoding="utf-8", encoding_errors="surrogateescape", keep_default_na=False, na_values=[""],
        quoting=csv.QUOTE_NONE, low_memory=False,
    )  # fmt: skip
    lines = np.asarray(numbers)
    _check_text(frame, lines, path)
    if fmt is None:
        fmt, reason = format_from_name(path), "from the file name"
        if fmt is None:
            fmt, reason = detect_format(frame)
        logger.info("%s: read as %s (%d columns; %s)", path, fmt, frame.shape[1], reason)
    columns, n = FORMATS[fmt], frame.shape[1]
    low, high = MIN_FIELDS[fmt], None if fmt == "bed" else len(columns)
    if n < low or (high is not None and n > high):
        expected = f"at least {low}" if high is None else f"{low}" if low == high else f"{low} to {high}"
        raise ValueError(f"{path}, line {numbers[0]}: {n} fields, expected {expected} for {fmt}: {_show(rows[0])}")
    frame.columns = bed_column_names(frame, path) if fmt == "bed" else columns[:n]
    return frame, lines, fmt


def _raw_bytes(path: str) -> bytes:
    with open(path, "rb") as fh:
        raw = fh.read()
    if raw[:2] == b"\x1f\x8b":  # gzip and bgzip alike: bgzip is a series of gzip members
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise ValueError(f"{path}: gzip-compressed but cannot be decompressed ({err}); is it truncated?") from None
    return raw.removeprefix(_BOM)


def _data_lines(raw: bytes, path: str) -> tuple[list[bytes], list[int], bool]:
    """Data lines (header, comment and blank lines left out), their line numbers, and whether tabs separate fields.

    Every data line must have the number of fields of the first one: pandas would fill a short line with NaN.
    """
    rows: list[bytes] = []
    numbers: list[int] = []
    tabs = None
    first = 0
    for lineno, line in enumerate(raw.splitlines(), 1):  # \n, \r\n and \r alike
        line = line.rstrip()
        if not line or line.startswith(_HEADER_PREFIXES) or line in (b"track", b"browser"):
            continue
        if tabs is None:
            tabs = b"\t" in line  # a file without tabs is split on runs of spaces, as bedtools does
        n = line.count(b"\t") + 1 if tabs else len(line.split())
        if not rows:
            first = n
        elif n != first:
            raise ValueError(
                f"{path}, line {lineno}: {n} fields where line {numbers[0]} has {first}: {_show(line)}; "
                "expected the same number of fields on every line"
            )
        rows.append(line)
        numbers.append(lineno)
    if not rows:
        raise ValueError(f"no regions in {path}: the file has no data lines")
    return rows, numbers, bool(tabs)


def _check_text(frame: pd.DataFrame, lines: np.ndarray, path: str) -> None:
    """Undecodable bytes: an error in a used column (naming line and column), U+FFFD with a warning elsewhere."""
    replaced: dict[int, int] = {}
    for column in frame.columns:
        values = frame[column]
        if values.dtype != object:
            continue
        bad = values.map(lambda v: isinstance(v, str) and _SURROGATE.search(v) is not None).to_numpy(bool)
        if not bad.any():
            continue
        if column in _USED_TEXT:
            i = int(np.flatnonzero(bad)[0])
            raw = values.iloc[i].encode("utf-8", "surrogateescape")
            raise ValueError(
                f"{path}, line {lines[i]}, column {column + 1} ({BED_COLUMNS[column]}): {raw!r} is not UTF-8 text "
                f"({int(bad.sum())} line(s) in all); expected UTF-8, e.g. convert with `iconv -f latin1 -t utf-8`"
            )
        frame[column] = values.map(lambda v: _SURROGATE.sub("\ufffd", v) if isinstance(v, str) else v)
        replaced[column + 1] = int(bad.sum())
    if replaced:
        logger.warning(
            "%s: bytes that are not UTF-8 replaced by U+FFFD in %s", path,
            ", ".join(f"{n} line(s) of column {c}" for c, n in replaced.items()),
        )  # fmt: skip


def _numeric(values: pd.Series) -> pd.Series | None:
    numbers = pd.to_numeric(values, errors="coerce")
    return numbers if numbers.notna().all() else None


def detect_format(frame: pd.DataFrame) -> tuple[str, str]:
    """``bed``, ``narrowpeak`` or ``broadpeak`` for a file whose name does not say, from its columns' content.

    Ten columns with numbers in 7 to 10 and a whole-number 10th (the summit offset, -1 for none) are narrowPeak:
    BED10 is not a UCSC format (block counts need block sizes and starts) while narrowPeak files are often named
    ``.bed``. Nine columns are BED9 when column 9 is an ``itemRgb`` (``r,g,b`` or ``0``) and columns 7 and 8 are
    thick starts and ends inside the region; broadPeak when 7 to 9 are numbers otherwise.
    """
    n = frame.shape[1]
    if n == 10:
        numbers = [_numeric(frame[c]) for c in (6, 7, 8, 9)]
        if all(v is not None for v in numbers) and (numbers[3] % 1 == 0).all() and (numbers[3] >= -1).all():
            return "narrowpeak", "columns 7-10 are numbers and column 10 a summit offset"
        return "bed", "columns 7-10 are not narrowPeak's numbers"
    if n == 9:
        numbers = [_numeric(frame[c]) for c in (6, 7, 8)]
        if any(v is None for v in numbers):
            return "bed", "columns 7-9 are not broadPeak's numbers"
        start, end = (pd.to_numeric(frame[c], errors="coerce") for c in (1, 2))
        thick = (numbers[0] % 1 == 0) & (numbers[1] % 1 == 0) & (numbers[0] >= start) & (numbers[1] <= end)
        rgb = frame[8].astype(str).str.fullmatch(r"0|\d{1,3},\d{1,3},\d{1,3}")
        if (thick & rgb).all():
            return "bed", "columns 7-8 are thick starts and ends, column 9 an itemRgb"
        return "broadpeak", "columns 7-9 are numbers, not thick starts, ends and an itemRgb"
    return "bed", f"{n} columns"


# What each BED column from the seventh holds, to tell BED's own columns from a "BED6+n" file's extra ones
_RGB = r"\.|\d{1,3}(,\d{1,3},\d{1,3},?)?"
_LIST = r"(-?\d+,)*-?\d+,?"
_BED_CONTENT = {6: "int", 7: "int", 8: _RGB, 9: "int", 10: _LIST, 11: _LIST}


def bed_column_names(frame: pd.DataFrame, path: str) -> list[str]:
    """BED names for the columns that hold what BED puts there; ``column_<k>`` from the first that does not.

    A BED6+1 file's free-text seventh column is not a thickStart: naming it so would mislabel it. Columns past
    the twelfth are extras too.
    """
    n = frame.shape[1]
    first_extra = min(n, len(BED_COLUMNS))
    for k in range(6, first_extra):
        if not _holds(frame[k], _BED_CONTENT[k]):
            first_extra = k
            break
    if first_extra < n:
        logger.info("%s: columns %d to %d are not BED's own: named column_%d ...", path, first_extra + 1, n,
                    first_extra + 1)  # fmt: skip
    return BED_COLUMNS[:first_extra] + [f"column_{k + 1}" for k in range(first_extra, n)]


def _holds(values: pd.Series, content: str) -> bool:
    if pd.api.types.is_integer_dtype(values):
        return True
    if content == "int":
        numbers = pd.to_numeric(values, errors="coerce")
        return bool(numbers.notna().all() and (numbers % 1 == 0).all())
    return bool(values.astype(str).str.fullmatch(content).all())


def _show(line: bytes) -> str:
    text = line.decode("utf-8", "replace")
    return repr(text) if len(text) <= 80 else repr(text[:77] + "...")
