"""Genomic regions from BED, narrowPeak, pyranges, DataFrames and AnnData into one pyranges-style table.

The table has ``Chromosome``, ``Start``, ``End`` (0-based, half-open, ``int64``), optional ``Strand``
and ``Name``, then any other input columns; its index holds unique region names (``Name`` where given,
else ``chr:start-end``).
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from ._bed import BED_COLUMNS, BROADPEAK_COLUMNS, FORMATS, NARROWPEAK_COLUMNS, read_bed

if TYPE_CHECKING:
    from anndata import AnnData

    from .genome import Genome

__all__ = ["BED_COLUMNS", "BROADPEAK_COLUMNS", "NARROWPEAK_COLUMNS", "parse_interval_names", "read_regions"]

logger = logging.getLogger("bazenji")

_ALIASES = {
    "Chromosome": ("chromosome", "chrom", "chr", "seqnames", "seqname", "contig", "#chrom", "chromosome_name"),
    "Start": ("start", "chromstart", "begin"),
    "End": ("end", "chromend", "stop"),
    "Strand": ("strand",),
    "Name": ("name",),
}
_INTERVAL_NAME = re.compile(r"^(?P<chrom>.+)[:_-](?P<start>\d+)[_-](?P<end>\d+)$")
OUTSIDE = ("raise", "drop")


def _describe_rows(positions: np.ndarray, lines: np.ndarray | None) -> str:
    shown = (lines[positions] if lines is not None else positions)[:10].tolist()
    what = "lines" if lines is not None else "rows (0-based)"
    more = f" and {len(positions) - 10} more" if len(positions) > 10 else ""
    return f"{what} {', '.join(map(str, shown))}{more}"


# -- in-memory sources ---------------------------------------------------------------------------------
def _rename_columns(df: pd.DataFrame, what: str) -> pd.DataFrame:
    lower = {str(c).lower(): c for c in df.columns}
    renames = {}
    for canonical, aliases in _ALIASES.items():
        if canonical in df.columns:
            continue
        for alias in aliases:
            if alias in lower:
                renames[lower[alias]] = canonical
                break
    df = df.rename(columns=renames)
    missing = [c for c in ("Chromosome", "Start", "End") if c not in df.columns]
    if missing:
        raise ValueError(
            f"{what} lacks interval columns {missing}: expected Chromosome/Start/End (pyranges) or "
            f"chrom/chromStart/chromEnd (BED) names, got columns {list(map(str, df.columns))[:12]}"
        )
    return df


def _has_interval_columns(df: pd.DataFrame) -> bool:
    try:
        _rename_columns(df.iloc[:0], "")
    except ValueError:
        return False
    return True


def parse_interval_names(names: Sequence[str], what: str = "names") -> pd.DataFrame:
    """Intervals from names like ``chr1:100-600``, ``chr1-100-600`` or ``chr1_100_600`` (commas allowed).

    Parameters
    ----------
    names
        The interval names.
    what
        What the names are, for the error message.

    Returns
    -------
    DataFrame with ``Chromosome``, ``Start``, ``End`` and the names as index.
    """
    names = [str(n) for n in names]
    parsed = [_INTERVAL_NAME.match(n.replace(",", "")) for n in names]
    bad = [n for n, m in zip(names, parsed, strict=True) if m is None]
    if bad:
        shown = ", ".join(repr(b) for b in bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise ValueError(f"{len(bad)} {what} are not intervals like 'chr1:100-600' or 'chr1-100-600': {shown}")
    return pd.DataFrame(
        {
            "Chromosome": [m["chrom"] for m in parsed],
            "Start": [int(m["start"]) for m in parsed],
            "End": [int(m["end"]) for m in parsed],
        },
        index=pd.Index(names),
    )


def _from_anndata(adata: AnnData, axis: str | None) -> tuple[pd.DataFrame, str]:
    tables = {"obs": (adata.obs, adata.obs_names), "var": (adata.var, adata.var_names)}
    axes = [axis] if axis is not None else ["obs", "var"]
    for ax in axes:
        table, _ = tables[ax]
        if _has_interval_columns(table):
            return _rename_columns(table.copy(), f"AnnData .{ax}"), f"AnnData .{ax}"
    order = [axis] if axis is not None else ["var", "obs"]
    errors = []
    for ax in order:
        _, names = tables[ax]
        try:
            parsed = parse_interval_names(names, f"{ax}_names")
        except ValueError as err:
            errors.append(str(err))
            continue
        table = tables[ax][0]
        extra = table.drop(columns=[c for c in parsed.columns if c in table.columns])
        return pd.concat([parsed, extra.set_axis(parsed.index)], axis=1), f"AnnData .{ax}_names"
    raise ValueError(
        f"no intervals in the AnnData: neither {' nor '.join('.' + a for a in axes)} has Chromosome/Start/End "
        f"columns, and {'; '.join(errors)}"
    )


# -- common checks -------------------------------------------------------------------------------------
def _integers(df: pd.DataFrame, column: str, lines: np.ndarray | None, what: str) -> None:
    raw = df[column]
    if pd.api.types.is_bool_dtype(raw):
        flags = np.ones(len(raw), bool)
    elif raw.dtype == object:
        flags = raw.map(lambda v: isinstance(v, bool | np.bool_)).to_numpy(bool)
    else:
        flags = np.zeros(len(raw), bool)
    if flags.any():  # True/False would pass as 1/0
        raise ValueError(
            f"{what}: {column} is a boolean on {_describe_rows(np.flatnonzero(flags), lines)} "
            f"(e.g. {bool(raw.iloc[int(np.flatnonzero(flags)[0])])}); expected integer coordinates"
        )
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna().to_numpy() | (values.to_numpy(dtype=float) % 1 != 0)
    if bad.any():
        example = raw.iloc[int(np.flatnonzero(bad)[0])]
        raise ValueError(
            f"{what}: {column} is not an integer on {_describe_rows(np.flatnonzero(bad), lines)} (e.g. {example!r})"
        )
    df[column] = values.astype(np.int64)


def _chromosomes(df: pd.DataFrame, lines: np.ndarray | None, what: str) -> None:
    names = df["Chromosome"]
    # astype(str) would turn a missing name into the chromosome 'None' or 'nan'
    missing = names.isna().to_numpy() | names.astype(str).str.strip().eq("").to_numpy()
    if missing.any():
        rows = np.flatnonzero(missing)
        raise ValueError(
            f"{what}: Chromosome is missing on {_describe_rows(rows, lines)} (e.g. {names.iloc[int(rows[0])]!r}); "
            "expected a chromosome name on every row"
        )
    df["Chromosome"] = names.astype(str)


def _finish(
    df: pd.DataFrame,
    lines: np.ndarray | None,
    what: str,
    *,
    names: pd.Index | None,
    summit: bool | int,
    genome: Genome | None,
    strict: bool,
    outside: str,
) -> pd.DataFrame:
    if len(df) == 0:
        raise ValueError(f"no regions in {what}")
    df = df.reset_index(drop=True)
    _chromosomes(df, lines, what)
    for column in ("Start", "End"):
        _integers(df, column, lines, what)
    negative = np.flatnonzero((df["Start"] < 0).to_numpy())
    if len(negative):
        raise ValueError(f"{what}: negative Start on {_describe_rows(negative, lines)}")
    skipped = {"zero_length": 0, "outside": 0}
    df, lines, names, skipped["zero_length"] = _zero_length(df, lines, names, what, strict=strict)
    if len(df) == 0:
        raise ValueError(f"no regions in {what}: every row is zero-length (Start == End)")
    if "Strand" in df.columns:
        df["Strand"] = df["Strand"].astype(object).where(df["Strand"].notna(), ".").astype(str)
        bad = np.flatnonzero(~df["Strand"].isin(["+", "-", "."]).to_numpy())
        if len(bad):
            raise ValueError(
                f"{what}: Strand must be '+', '-' or '.', got {df['Strand'].iloc[bad[0]]!r} on "
                f"{_describe_rows(bad, lines)}"
            )
    for column in df.columns.difference(["Chromosome", "Start", "End", "Strand", "Name"]):
        if df[column].dtype == object:
            present = df[column].where(df[column] != ".")  # where, not replace: no object downcasting warning
            converted = pd.to_numeric(present, errors="coerce")
            if converted.notna().sum() == present.notna().sum():
                df[column] = converted
    if summit is not False:
        df = _centre_on_summit(df, summit, lines, what)
    if genome is not None:
        df, lines, names, skipped["outside"] = _check_bounds(df, lines, names, what, genome, outside=outside)
    df = _with_names(df, names)
    df.attrs["skipped"] = skipped
    return df


def _keep(df: pd.DataFrame, lines: np.ndarray | None, names: pd.Index | None, keep: np.ndarray):
    """The rows ``keep`` of the table, of its line numbers and of its given names."""
    df = df.loc[keep].reset_index(drop=True)
    return df, None if lines is None else lines[keep], None if names is None else names[keep]


def _zero_length(df, lines, names, what: str, *, strict: bool):
    """Rows with Start == End dropped and counted (files only, unless strict); Start > End is always an error."""
    start, end = df["Start"].to_numpy(), df["End"].to_numpy()
    reversed_ = np.flatnonzero(start > end)
    if len(reversed_):
        raise ValueError(f"{what}: Start > End on {_describe_rows(reversed_, lines)}; expected Start < End")
    empty = np.flatnonzero(start == end)
    if not len(empty):
        return df, lines, names, 0
    if strict or lines is None:
        why = "strict=True" if strict else "a table's rows are kept one to one: filter them out first"
        raise ValueError(
            f"{what}: {len(empty)} zero-length region(s) (Start == End) on {_describe_rows(empty, lines)}; "
            f"expected Start < End ({why})"
        )
    logger.warning(
        "%s: skipped %d of %d regions: %d zero-length (Start == End, e.g. the insertion sites of a dbSNP BED) on %s",
        what, len(empty), len(df), len(empty), _describe_rows(empty, lines),
    )  # fmt: skip
    return (*_keep(df, lines, names, start != end), len(empty))


def _check_bounds(df, lines, names, what: str, genome: Genome, *, outside: str):
    """Regions wholly outside their chromosome refused (or dropped and counted); those running past its end warned."""
    genome.check_chroms(df["Chromosome"].unique().tolist(), what="the regions", column="regions['Chromosome']")
    sizes = df["Chromosome"].map(genome.chrom_sizes).to_numpy()
    start, end = df["Start"].to_numpy(), df["End"].to_numpy()

    def example(i: int) -> str:
        chrom = df["Chromosome"].iloc[i]
        return f"{chrom}:{start[i]}-{end[i]} on {chrom} of {sizes[i]:,} bp"

    beyond = np.flatnonzero(start >= sizes)
    n_dropped = 0
    if len(beyond):
        where = f"on {_describe_rows(beyond, lines)} (e.g. {example(beyond[0])})"
        if outside != "drop" or len(beyond) == len(df):
            hint = " (pass outside='drop' to drop them)" if len(beyond) < len(df) else ""
            raise ValueError(
                f"{what}: {len(beyond)} of {len(df)} regions lie wholly outside their chromosome {where}; expected "
                f"regions of this genome build{hint}"
            )
        logger.warning("%s: dropped %d of %d regions, wholly outside their chromosome %s (outside='drop')", what,
                       len(beyond), len(df), where)  # fmt: skip
        df, lines, names = _keep(df, lines, names, start < sizes)
        sizes, start, end = sizes[start < sizes], start[start < sizes], end[start < sizes]
        n_dropped = len(beyond)
    past = np.flatnonzero(end > sizes)
    if len(past):
        logger.warning(
            "%s: %d of %d regions run past their chromosome end on %s (e.g. %s); their windows are padded with N. "
            "Are the regions from another genome build?", what, len(past), len(df), _describe_rows(past, lines),
            example(past[0]),
        )  # fmt: skip
    return df, lines, names, n_dropped


def _centre_on_summit(df: pd.DataFrame, summit: bool | int, lines: np.ndarray | None, what: str) -> pd.DataFrame:
    if "Peak" not in df.columns:
        raise ValueError(f"summit={summit!r} needs a narrowPeak 'Peak' column (summit offset), {what} has none")
    if summit is not True and (isinstance(summit, bool) or not isinstance(summit, int | np.integer) or summit < 1):
        raise ValueError(f"summit={summit!r}: expected True, False or a positive width in bp")
    _integers(df, "Peak", lines, what)
    start, end, peak = (df[c].to_numpy() for c in ("Start", "End", "Peak"))
    bad = np.flatnonzero((peak < -1) | (peak >= end - start))
    if len(bad):
        i = bad[0]
        raise ValueError(
            f"{what}: Peak (the summit's offset from Start) is outside its region on {_describe_rows(bad, lines)} "
            f"(e.g. Peak={peak[i]} on {df['Chromosome'].iloc[i]}:{start[i]}-{end[i]}); expected 0 <= Peak < "
            "End - Start, or -1 for no summit"
        )
    at = np.where(peak >= 0, start + peak, (start + end) // 2)
    width = end - start if summit is True else np.full(len(df), int(summit))
    new_start = at - width // 2
    clipped = np.flatnonzero(new_start < 0)
    if len(clipped):
        i, chrom = clipped[0], df["Chromosome"].iloc[clipped[0]]
        warnings.warn(
            f"{what}: {len(clipped)} regions centred on their summit would start before 0 "
            f"({_describe_rows(clipped, lines)}); they are shifted to start at 0, off their summit (e.g. the summit "
            f"at {chrom}:{at[i]} with width {width[i]} gives {chrom}:0-{width[i]})",
            UserWarning,
            stacklevel=4,
        )
    df = df.copy()
    df["Summit"] = at
    df["Start"] = np.maximum(new_start, 0)
    df["End"] = df["Start"].to_numpy() + width
    return df


def _with_names(df: pd.DataFrame, names: pd.Index | None) -> pd.DataFrame:
    coords = df["Chromosome"] + ":" + df["Start"].astype(str) + "-" + df["End"].astype(str)
    if names is None and "Name" in df.columns:
        given = df["Name"].astype(object)
        usable = given.notna() & ~given.astype(str).isin([".", ""])
        names = pd.Index(np.where(usable, given.astype(str), coords), dtype=object)
    elif names is None:
        names = pd.Index(coords, dtype=object)
    names = pd.Index(names.astype(str), dtype=object)
    if not names.is_unique:
        from anndata.utils import make_index_unique

        dup = names[names.duplicated()].unique()
        warnings.warn(
            f"{len(dup)} region names occur more than once (e.g. {dup[0]!r}); made unique by appending '-1', '-2', ...",
            UserWarning,
            stacklevel=3,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            names = pd.Index(make_index_unique(names).astype(str), dtype=object)
    first = [c for c in ("Chromosome", "Start", "End", "Strand", "Name") if c in df.columns]
    df = df[first + [c for c in df.columns if c not in first]].copy()
    df.index = names
    return df


def read_regions(
    source: str | os.PathLike | pd.DataFrame | AnnData | Sequence[str] | object,
    *,
    format: Literal["bed", "narrowpeak", "broadpeak"] | None = None,
    summit: bool | int = False,
    axis: Literal["obs", "var"] | None = None,
    genome: Genome | str | os.PathLike | None = None,
    strict: bool = False,
    outside: Literal["raise", "drop"] = "raise",
) -> pd.DataFrame:
    """Read genomic regions into a pyranges-style table.

    Parameters
    ----------
    source
        A BED (3 to 12 columns), narrowPeak or broadPeak file, gzip- or bgzip-compressed or not, with
        LF or CRLF line ends and an optional UTF-8 byte-order mark (``track``, ``browser``, ``#`` and
        blank lines are skipped; fields are split on tabs, or on spaces in a file without tabs); a
        pyranges object (0.x or 1.x); a DataFrame with pyranges (``Chromosome``, ``Start``, ``End``) or
        BED (``chrom``, ``chromStart``, ``chromEnd``) column names; an AnnData with such columns in
        ``.obs`` or ``.var``, or with interval names like ``chr1:100-600`` / ``chr1-100-600`` (a cells
        x peaks matrix); or a list of such names.
    format
        File format. By default ``.narrowPeak`` and ``.broadPeak`` names decide; any other name
        (``.bed``, ``.bed.gz``, ``.txt``) is read by its columns' content: ten columns with numbers in
        7 to 10 are narrowPeak, nine with numbers in 7 to 9 that are not thick starts/ends and an
        ``itemRgb`` are broadPeak, anything else BED. The choice is logged (INFO) and kept in
        ``attrs["format"]``.
    summit
        narrowPeak only: ``True`` re-centres each region on its summit keeping its width, an integer
        makes every region that many bp wide around its summit. The summit goes in column ``Summit``.
    axis
        For AnnData, read the intervals from ``"obs"`` or ``"var"``; by default columns in ``.obs``,
        then columns in ``.var``, then ``var_names``, then ``obs_names``.
    genome
        Check the regions against this genome: a chromosome it lacks is an error; so is a region wholly
        outside its chromosome (Start at or past its length: regions of another build), unless
        ``outside="drop"``; a region running past the chromosome end is kept with a warning (its
        window is padded with N).
    strict
        Files only: refuse zero-length rows (Start == End, as dbSNP-style BEDs have for insertions)
        instead of skipping them with a warning that counts them. A table's (DataFrame, AnnData)
        zero-length rows are always an error, since its rows are kept one to one.
    outside
        ``"raise"`` (default) or ``"drop"``: what to do with regions wholly outside their chromosome
        of ``genome``; dropped regions are counted in a warning.

    Returns
    -------
    DataFrame with ``Chromosome``, ``Start``, ``End`` (``int64``, 0-based half-open), ``Strand`` and
    ``Name`` where given, then the other input columns; indexed by unique region names.
    ``attrs["skipped"]`` counts the rows left out by reason (``zero_length``, ``outside``) and, for
    files, ``attrs["format"]`` is the format read.

    Raises
    ------
    ValueError
        A malformed file or table; the message names the file, line (or 0-based row) and column,
        the bad value and what was expected. Text that is not UTF-8 in a used column (chromosome,
        name, strand) is refused; elsewhere it is kept as U+FFFD with a warning.
    """
    from anndata import AnnData

    from .genome import as_genome

    if outside not in OUTSIDE:
        raise ValueError(f"outside={outside!r}; expected one of {list(OUTSIDE)}")
    genome = as_genome(genome) if genome is not None else None
    lines = names = fmt = None
    if isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"regions file {path!r} does not exist")
        if format is not None and format.lower() not in FORMATS:
            raise ValueError(f"format={format!r}; expected one of {sorted(FORMATS)}")
        df, lines, fmt = read_bed(path, format.lower() if format is not None else None)
        what = path
    elif isinstance(source, AnnData):
        df, what = _from_anndata(source, axis)
        names = df.index
    elif isinstance(source, pd.DataFrame) or (
        type(source).__module__.startswith("pyranges") and isinstance(getattr(source, "df", None), pd.DataFrame)
    ):
        what = "the pyranges object" if type(source).__module__.startswith("pyranges") else "the DataFrame"
        df = source if isinstance(source, pd.DataFrame) else source.df
        df = _rename_columns(pd.DataFrame(df).copy(), what)
        if not isinstance(df.index, pd.RangeIndex) and df.index.dtype == object and "Name" not in df.columns:
            names = df.index
    elif isinstance(source, Sequence | np.ndarray | pd.Index) and not isinstance(source, bytes):
        df = parse_interval_names(list(source), "region names")
        names, what = df.index, "the region names"
    else:
        raise TypeError(
            f"cannot read regions from a {type(source).__name__}; expected a BED/narrowPeak path, a DataFrame, "
            "a pyranges object, an AnnData, or a list of names like 'chr1:100-600'"
        )
    table = _finish(df, lines, what, names=names, summit=summit, genome=genome, strict=strict, outside=outside)
    if fmt is not None:
        table.attrs["format"] = fmt
    return table
