"""Gene annotations: GTF and GFF3 files (GENCODE, Ensembl, RefSeq) into a tidy table of transcripts and their TSS.

The files are parsed by pyranges (``pyranges.read_gtf`` / ``read_gff3``; ``pyranges1`` on Python 3.12 and later,
as the project's dependencies choose), which reads plain and gzip/bgzip files, turns the 1-based closed GTF
coordinates into 0-based half-open ones and splits the attribute column into one column per attribute. What is
left here is the annotation logic the formats leave to the reader: which features are transcripts, which gene
each belongs to, where gene-level attributes live, and the TSS.

The TSS of a transcript is its 5' end, 0-based: ``Start`` on the plus strand and ``End - 1`` on the minus strand.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal
from urllib.parse import unquote

import numpy as np
import pandas as pd

from ._names import show

__all__ = ["GENE_COLUMNS", "read_genes", "tss_positions"]

#: Columns of :func:`read_genes`' table, in order (requested extra attributes follow them).
GENE_COLUMNS = (
    "gene_id", "gene_name", "gene_type", "transcript_id", "transcript_type", "Chromosome", "Start", "End", "Strand",
    "TSS",
)  # fmt: skip

# Where each output attribute is found, first match wins: GENCODE, Ensembl, RefSeq (NCBI) spellings.
_GENE_NAME = ("gene_name", "Name", "gene")
_GENE_TYPE = ("gene_type", "gene_biotype", "biotype")
_TRANSCRIPT_TYPE = ("transcript_type", "transcript_biotype", "biotype")
# GFF3 features that are genes (Ensembl and RefSeq use the last two for non-coding and pseudo-genes).
_GENE_FEATURES = ("gene", "ncRNA_gene", "pseudogene")
_TRANSCRIPT_FEATURES = ("transcript", "mRNA")
_GTF_ATTRIBUTE = re.compile(r'^\s*[^\s=;"]+\s+"')  # key "value": GTF, where GFF3 writes key=value
_CORE = {"Chromosome", "Source", "Feature", "Start", "End", "Score", "Strand", "Frame"}


def read_genes(
    path: str | os.PathLike,
    *,
    format: Literal["gtf", "gff3"] | None = None,  # noqa: A002 - the name read_regions uses too
    attributes: Sequence[str] = (),
) -> pd.DataFrame:
    """Read the transcripts of a GTF or GFF3 gene annotation, with each transcript's TSS.

    Parameters
    ----------
    path
        A GTF (GENCODE, Ensembl, RefSeq/NCBI, UCSC-style exon-only) or GFF3 (GENCODE, Ensembl, RefSeq) file,
        plain or gzip/bgzip-compressed (a compressed file's name must end in ``.gz``).
    format
        ``"gtf"`` or ``"gff3"``; by default a ``##gff-version 3`` header or ``key=value`` attributes mean GFF3,
        ``key "value"`` attributes GTF.
    attributes
        Further attributes to keep as columns (e.g. ``("tag", "level")``), taken from the transcript's line or,
        where it lacks them, from its gene's line; missing values are NaN.

    Returns
    -------
    One row per transcript, in file order, with the columns

    ``gene_id``, ``transcript_id``
        GTF: the ``gene_id`` and ``transcript_id`` attributes. GFF3: the ``gene_id`` attribute of the transcript's
        ``Parent`` gene (its ``ID`` where it has none) and the transcript's ``transcript_id`` (or ``ID``).
    ``gene_name``
        ``gene_name``, ``Name`` or ``gene`` (the first present) of the transcript or its gene; the ``gene_id``
        where the file gives no name.
    ``gene_type``, ``transcript_type``
        ``gene_type`` / ``gene_biotype`` / ``biotype`` and ``transcript_type`` / ``transcript_biotype`` /
        ``biotype``; NaN where the file has none.
    ``Chromosome``, ``Start``, ``End``, ``Strand``
        The transcript, 0-based half-open (from its exons where a GTF has no ``transcript`` lines).
    ``TSS``
        0-based position of the 5' end: ``Start`` on ``+``, ``End - 1`` on ``-``.

    followed by ``attributes``. ``attrs["path"]`` and ``attrs["format"]`` record where the table came from.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        The file cannot be parsed as the format; a GTF has no ``gene_id`` (or ``transcript_id``) on its
        transcripts; a GFF3 transcript has neither a gene parent nor a ``gene_id``; a transcript's strand is not
        ``+`` or ``-``; the file holds no transcripts or exons; an asked-for attribute is in no line.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"gene annotation {str(path)!r} does not exist")
    _check_compression(path)
    format = _detect_format(path) if format is None else str(format).lower()  # noqa: A001
    if format not in ("gtf", "gff3"):
        raise ValueError(f"format={format!r}; expected 'gtf' or 'gff3'")
    features = _read_features(path, format)
    attributes = list(attributes)
    _check_attributes(features, attributes, path)
    if format == "gtf":
        table = _gtf_transcripts(features, path, attributes)
    else:
        table = _gff3_transcripts(features, path, attributes)
    table = _finish(table, path, attributes)
    table.attrs = {"path": str(path), "format": format}
    return table


def tss_positions(start: np.ndarray, end: np.ndarray, strand: np.ndarray) -> np.ndarray:
    """0-based TSS of intervals ``[start, end)``: ``start`` on the plus strand, ``end - 1`` on the minus strand."""
    start, end = np.asarray(start, np.int64), np.asarray(end, np.int64)
    return np.where(np.asarray(strand).astype(str) == "-", end - 1, start)


# --- reading ----------------------------------------------------------------------------------------------------


def _check_compression(path: Path) -> None:
    with open(path, "rb") as fh:
        gzipped = fh.read(2) == b"\x1f\x8b"
    # the parser picks its decompression from the name, so a gzip file named .gtf would be read as text
    if gzipped and not path.name.lower().endswith(".gz"):
        raise ValueError(f"{str(path)!r} is gzip-compressed but its name does not end in .gz; rename it to *.gz")


def _open_text(path: Path):
    import gzip

    opener = gzip.open if path.name.lower().endswith(".gz") else open
    return opener(path, "rt", encoding="utf-8", errors="replace")


def _head(path: Path, n: int = 200) -> list[str]:
    with _open_text(path) as fh:
        return [line for _, line in zip(range(n), fh, strict=False)]


def _has_features(path: Path) -> bool:
    """Whether any line is a feature: pyranges reads a file of comments alone as one row of its first comment."""
    with _open_text(path) as fh:
        return any(line.strip() and not line.startswith("#") for line in fh)


def _detect_format(path: Path) -> str:
    lines = _head(path)
    if any(line.startswith("##gff-version 3") for line in lines):
        return "gff3"
    for line in lines:
        fields = line.rstrip("\r\n").split("\t")
        if line.startswith("#") or len(fields) < 9:
            continue
        return "gtf" if _GTF_ATTRIBUTE.match(fields[8]) else "gff3" if "=" in fields[8] else "gtf"
    name = path.name.lower().removesuffix(".gz")
    return "gff3" if name.endswith((".gff3", ".gff")) else "gtf"


def _pyranges_reader(format: str):  # noqa: A002
    """``path -> DataFrame`` with the installed pyranges: ``pyranges1`` (1.x) or ``pyranges`` (0.x)."""
    try:
        import pyranges1 as pr

        read = pr.read_gtf if format == "gtf" else pr.read_gff3
        return lambda path: pd.DataFrame(read(path))
    except ImportError:
        import pyranges as pr

        read = pr.read_gtf if format == "gtf" else pr.read_gff3
        return lambda path: read(path, as_df=True)


def _read_features(path: Path, format: str) -> pd.DataFrame:  # noqa: A002
    if not _has_features(path):
        raise ValueError(f"{str(path)!r} holds no feature lines; expected a {format.upper()} gene annotation")
    read = _pyranges_reader(format)
    printed = io.StringIO()  # pyranges prints the offending line before raising: keep it for our message
    try:
        with contextlib.redirect_stdout(printed):
            features = read(str(path))
    except pd.errors.EmptyDataError:
        features = pd.DataFrame()
    except Exception as err:  # the parser's errors are of many types; all mean the file is not this format
        detail = printed.getvalue().strip() or f"{type(err).__name__}: {err}"
        other = "gff3" if format == "gtf" else "gtf"
        syntax = 'key "value";' if format == "gtf" else "key=value;"
        raise ValueError(
            f"{str(path)!r} could not be parsed as {format.upper()} ({detail[:300]}); expected tab-separated "
            f"lines of 9 fields with {syntax} attributes (pass format={other!r} if it is {other.upper()})"
        ) from err
    if not len(features):
        raise ValueError(f"{str(path)!r} holds no feature lines; expected a {format.upper()} gene annotation")
    features = features.reset_index(drop=True)
    for column in ("Chromosome", "Feature", "Strand"):
        features[column] = features[column].astype(str)
    return features


def _check_attributes(features: pd.DataFrame, attributes: list[str], path: Path) -> None:
    missing = [a for a in attributes if a not in features.columns or features[a].isna().all()]
    if missing:
        present = [c for c in features.columns if c not in _CORE]
        raise ValueError(f"attributes {missing} are in no line of {str(path)!r}; it has {show(present, 12)}")


def _strings(column: pd.Series) -> pd.Series:
    """An attribute column as object strings with NaN for missing values (pyranges 1 uses pandas' string dtype)."""
    return column.astype(object).where(column.notna(), np.nan)


def _first_present(frame: pd.DataFrame, names: Sequence[str]) -> pd.Series:
    out = pd.Series(np.nan, index=frame.index, dtype=object)
    for name in names:
        if name in frame.columns:
            out = out.where(out.notna(), _strings(frame[name]))
    return out


# --- GTF --------------------------------------------------------------------------------------------------------


def _gtf_transcripts(features: pd.DataFrame, path: Path, attributes: list[str]) -> pd.DataFrame:
    if "gene_id" not in features.columns or features["gene_id"].isna().all():
        raise ValueError(
            f"{str(path)!r} has no gene_id attribute on any line; expected a GTF whose feature lines carry "
            'gene_id "..."; transcript_id "..."; (GTF 2.2). If it is a GFF3 file (ID=...;Parent=...), pass '
            "format='gff3'"
        )
    is_transcript = features["Feature"] == "transcript"
    rows = features[is_transcript] if is_transcript.any() else _transcripts_from_exons(features, path)
    for needed in ("gene_id", "transcript_id"):
        missing = rows[needed].isna() if needed in rows.columns else pd.Series(True, index=rows.index)
        if missing.any():
            where = [f"{c}:{s + 1}-{e}" for c, s, e in rows.loc[missing, ["Chromosome", "Start", "End"]].values]
            raise ValueError(
                f"{int(missing.sum())} transcripts of {str(path)!r} have no {needed} attribute (e.g. at "
                f"{show(where, 3)}, 1-based); expected gene_id and transcript_id on every transcript line (GTF 2.2)"
            )
    genes = features[features["Feature"] == "gene"].drop_duplicates("gene_id").set_index("gene_id")
    table = pd.DataFrame(
        {
            "gene_id": _strings(rows["gene_id"]).to_numpy(),
            "transcript_id": _strings(rows["transcript_id"]).to_numpy(),
            "Chromosome": rows["Chromosome"].to_numpy(),
            "Start": rows["Start"].to_numpy(np.int64),
            "End": rows["End"].to_numpy(np.int64),
            "Strand": rows["Strand"].to_numpy(),
        }
    )
    # gene-level attributes are on transcript lines in GENCODE/Ensembl but only on gene lines in some files (NCBI)
    for column, names in (("gene_name", _GENE_NAME), ("gene_type", _GENE_TYPE)):
        table[column] = _with_fallback(_first_present(rows, names), _first_present(genes, names), table["gene_id"])
    table["transcript_type"] = _first_present(rows, _TRANSCRIPT_TYPE[:2]).to_numpy()
    for name in attributes:
        table[name] = _with_fallback(_first_present(rows, [name]), _first_present(genes, [name]), table["gene_id"])
    return table


def _with_fallback(own: pd.Series, by_gene: pd.Series, gene_ids: pd.Series) -> np.ndarray:
    """``own`` where present, else the value of the row's gene in ``by_gene`` (indexed by gene id)."""
    own = own.to_numpy(dtype=object)
    from_gene = by_gene.reindex(gene_ids.to_numpy()).to_numpy(dtype=object)
    return np.where(pd.isna(own), from_gene, own)


def _transcripts_from_exons(features: pd.DataFrame, path: Path) -> pd.DataFrame:
    """One row per transcript spanning its exons, for GTFs without ``transcript`` lines (UCSC genePredToGtf)."""
    exons = features[features["Feature"] == "exon"]
    if not len(exons) or "transcript_id" not in exons.columns:
        kinds = show(sorted(features["Feature"].unique()), 8)
        raise ValueError(
            f"{str(path)!r} has no transcript lines and no exon lines with a transcript_id (features: {kinds}); "
            "expected 'transcript' or 'exon' features to find each transcript's TSS"
        )
    keys = ["transcript_id", "Chromosome", "Strand"]
    exons = exons.assign(transcript_id=_strings(exons["transcript_id"]).fillna(""))  # missing ids: reported later
    grouped = exons.groupby(keys, sort=False, dropna=False)
    spans = grouped.agg(Start=("Start", "min"), End=("End", "max")).reset_index()
    first = grouped.first().reset_index().drop(columns=["Start", "End"])
    rows = spans.merge(first, on=keys, how="left", sort=False)
    rows["transcript_id"] = rows["transcript_id"].replace("", np.nan)
    return rows


# --- GFF3 -------------------------------------------------------------------------------------------------------


def _gff3_transcripts(features: pd.DataFrame, path: Path, attributes: list[str]) -> pd.DataFrame:
    if "ID" not in features.columns:
        raise ValueError(
            f"{str(path)!r} has no ID attribute on any line; expected GFF3 features linked by ID=... and Parent=... "
            "(if it is a GTF, pass format='gtf')"
        )
    features = _decode(features)
    parents = _strings(features["Parent"]) if "Parent" in features.columns else pd.Series(np.nan, features.index)
    first_parent = parents.str.split(",").str[0]
    with_id = features[features["ID"].notna()]
    by_id = with_id.drop_duplicates("ID").set_index("ID")
    feature_of = by_id["Feature"]
    exon_parents = parents[features["Feature"] == "exon"].dropna().str.split(",").explode()
    if len(exon_parents):
        is_transcript = features["ID"].isin(set(exon_parents))
    else:  # no exons: transcript-like features, or anything whose parent is a gene
        parent_feature = first_parent.map(feature_of)
        is_transcript = features["Feature"].isin(_TRANSCRIPT_FEATURES) | parent_feature.isin(_GENE_FEATURES)
    rows = features[is_transcript & features["ID"].notna()]
    if not len(rows):
        raise ValueError(
            f"{str(path)!r} has no transcripts: no feature is the Parent of an exon and none is a transcript or "
            f"mRNA (features: {show(sorted(features['Feature'].unique()), 8)})"
        )
    # a feature split over several lines (one ID) is one transcript spanning them all
    grouped = rows.groupby("ID", sort=False)
    rows = grouped.first().assign(Start=grouped["Start"].min(), End=grouped["End"].max())
    parent = first_parent.groupby(features["ID"]).first().reindex(rows.index)
    own_gene = rows["Feature"].isin(_GENE_FEATURES).to_numpy()  # a gene whose exons hang from it directly
    gene_key = np.where(own_gene, rows.index.to_numpy(dtype=object), parent.to_numpy(dtype=object))
    genes = by_id.reindex(gene_key)
    gene_id = _first_present(genes, ["gene_id"]).to_numpy(dtype=object)
    gene_id = np.where(pd.isna(gene_id), np.where(genes["Feature"].notna(), gene_key, np.nan), gene_id)
    gene_id = np.where(pd.isna(gene_id), _first_present(rows, ["gene_id"]).to_numpy(dtype=object), gene_id)
    orphans = pd.isna(gene_id)
    if orphans.any():
        raise ValueError(
            f"{int(orphans.sum())} transcripts of {str(path)!r} have neither a Parent gene in the file nor a gene_id "
            f"attribute (e.g. {show(rows.index[orphans].tolist(), 3)}); expected each transcript's Parent=... to "
            "name a gene's ID"
        )
    table = pd.DataFrame(
        {
            "gene_id": gene_id,
            "transcript_id": _first_present(rows, ["transcript_id"]).fillna(pd.Series(rows.index, rows.index)),
            "Chromosome": rows["Chromosome"].to_numpy(),
            "Start": rows["Start"].to_numpy(np.int64),
            "End": rows["End"].to_numpy(np.int64),
            "Strand": rows["Strand"].to_numpy(),
        }
    ).reset_index(drop=True)

    def from_gene_or_own(gene_names, own_names) -> np.ndarray:
        gene = _first_present(genes, gene_names).to_numpy(dtype=object)
        own = _first_present(rows, own_names).to_numpy(dtype=object)
        return np.where(pd.isna(gene), own, gene)

    # a transcript's own Name and biotype describe the transcript (RefSeq, Ensembl): only gene_* spellings count
    table["gene_name"] = from_gene_or_own(_GENE_NAME, ("gene_name", "gene"))
    table["gene_type"] = from_gene_or_own(_GENE_TYPE, ("gene_type", "gene_biotype"))
    own_type = _first_present(rows, _TRANSCRIPT_TYPE).to_numpy(dtype=object)
    table["transcript_type"] = np.where(own_gene, np.nan, own_type)
    for name in attributes:
        own, gene = _first_present(rows, [name]).to_numpy(dtype=object), _first_present(genes, [name]).to_numpy(object)
        table[name] = np.where(pd.isna(own), gene, own)
    return table


def _decode(features: pd.DataFrame) -> pd.DataFrame:
    """GFF3 attribute values with their percent-encoding (``%3B`` for ``;``, ``%2C`` for ``,``) undone."""
    out = features.copy()
    for column in out.columns:
        if column in _CORE or column in ("ID", "Parent"):  # identifiers stay as written, so Parent matches ID
            continue
        values = _strings(out[column])
        encoded = values.str.contains("%", regex=False, na=False)
        if encoded.any():
            values[encoded] = values[encoded].map(unquote)
        out[column] = values
    return out


# --- both -------------------------------------------------------------------------------------------------------


def _finish(table: pd.DataFrame, path: Path, attributes: list[str]) -> pd.DataFrame:
    bad = ~table["Strand"].isin(["+", "-"])
    if bad.any():
        examples = table.loc[bad, "transcript_id"].astype(str).tolist()
        strands = show(sorted(table.loc[bad, "Strand"].unique()))
        raise ValueError(
            f"{int(bad.sum())} transcripts of {str(path)!r} have strand {strands} (e.g. {show(examples, 3)}); "
            "expected '+' or '-': a TSS needs a strand"
        )
    table["gene_name"] = np.where(pd.isna(table["gene_name"]), table["gene_id"], table["gene_name"])
    table["TSS"] = tss_positions(table["Start"], table["End"], table["Strand"])
    columns = [*GENE_COLUMNS, *[a for a in attributes if a not in GENE_COLUMNS]]
    table = table[columns].reset_index(drop=True)
    for column in table.columns:
        if table[column].dtype == object:
            table[column] = table[column].where(table[column].notna(), np.nan)
    return table
