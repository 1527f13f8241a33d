"""The demo's gene annotation as a GTF: each planted gene, with one transcript per main firing position of its promoter.

The demo's CAGE is simulated at a few positions around each gene's TSS (the promoter *shape*: one or two
positions within 3 bp for TATA promoters, four to eight within 40 bp for CpG islands, see
:func:`._tracks.prepare`). Positions drawing at least :data:`MIN_SHARE` of the gene's tags become transcripts,
strongest first (at most :data:`MAX_TRANSCRIPTS`), so the annotation has multi-TSS genes on both strands whose
TSSs are where the tags are, as in a real annotation refined by CAGE. Nothing here draws random numbers: the
annotation follows from the shapes already drawn, and the demo's other files stay as they were.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ._genome import CHROM_SIZES

#: A firing position becomes a transcript when it draws at least this share of its gene's tags.
MIN_SHARE = 0.2
#: Transcripts per gene at most.
MAX_TRANSCRIPTS = 3
#: Lengths of the first and the last exon of every demo transcript.
FIRST_EXON, LAST_EXON = 250, 600


def demo_transcripts(genes: pd.DataFrame, shapes: list) -> pd.DataFrame:
    """One row per transcript: ``gene_id``, ``transcript_id``, ``Chromosome``, ``Start``, ``End``, ``Strand``, ``TSS``.

    Parameters
    ----------
    genes
        The planted genes (``Chromosome``, ``Start``, ``End``, ``Name``, ``Strand``, ``tss``, ``promoter``).
    shapes
        Per gene, its promoter shape ``(offsets, weights, antisense)``: firing positions ``tss + sign * offset``.

    Returns
    -------
    0-based half-open transcripts from their TSS to the gene's end, with the gene's ``promoter`` class and the
    ``share`` of the gene's tags fired at the TSS.
    """
    rows = []
    for gene, (offsets, weights, _) in zip(genes.itertuples(), shapes, strict=True):
        sign = 1 if gene.Strand == "+" else -1
        share = pd.Series(weights).groupby(gene.tss + sign * np.asarray(offsets)).sum()
        share = share.sort_values(ascending=False, kind="stable")
        chosen = share[share >= MIN_SHARE].head(MAX_TRANSCRIPTS)
        if chosen.empty:  # an evenly spread island: its strongest position still starts a transcript
            chosen = share.head(1)
        for k, (tss, part) in enumerate(chosen.items(), start=1):
            tss = int(tss)
            start, end = (tss, int(gene.End)) if gene.Strand == "+" else (int(gene.Start), tss + 1)
            rows.append(dict(gene_id=gene.Name, transcript_id=f"{gene.Name}.{k}", Chromosome=gene.Chromosome,
                             Start=start, End=end, Strand=gene.Strand, TSS=tss, promoter=gene.promoter,
                             share=round(float(part), 4)))  # fmt: skip
    table = pd.DataFrame(rows)
    order = table["Chromosome"].map({c: i for i, c in enumerate(CHROM_SIZES)})
    return (
        table.assign(_order=order)
        .sort_values(["_order", "gene_id", "transcript_id"], kind="stable")
        .drop(columns="_order")
        .reset_index(drop=True)
    )


def _line(chrom: str, feature: str, start: int, end: int, strand: str, attributes: dict) -> str:
    text = " ".join(f'{k} "{v}";' if isinstance(v, str) else f"{k} {v};" for k, v in attributes.items())
    return f"{chrom}\tbazenji_demo\t{feature}\t{start + 1}\t{end}\t.\t{strand}\t.\t{text}\n"  # GTF is 1-based, closed


def gtf_text(transcripts: pd.DataFrame) -> str:
    """GTF 2.2 lines (gene, transcript, two exons per transcript) for :func:`demo_transcripts`' table."""
    lines = ["#!description bazenji demo genes: transcripts at the planted promoters' firing positions\n"]
    for gene_id, group in transcripts.groupby("gene_id", sort=False):
        first = group.iloc[0]
        gene = {"gene_id": gene_id, "gene_name": gene_id, "gene_type": "protein_coding", "promoter": first.promoter}
        lines.append(_line(first.Chromosome, "gene", group.Start.min(), group.End.max(), first.Strand, gene))
        for t in group.itertuples():
            tx = {**gene, "transcript_id": t.transcript_id, "transcript_type": "protein_coding"}
            lines.append(_line(t.Chromosome, "transcript", t.Start, t.End, t.Strand, tx))
            exons = [(t.Start, t.Start + FIRST_EXON), (t.End - LAST_EXON, t.End)]
            if t.Strand == "-":  # exons are numbered 5' to 3'
                exons = [(t.End - FIRST_EXON, t.End), (t.Start, t.Start + LAST_EXON)]
            for number, (lo, hi) in enumerate(exons, start=1):
                lines.append(_line(t.Chromosome, "exon", lo, hi, t.Strand, {**tx, "exon_number": number}))
    return "".join(lines)


def write_gtf(path: Path, genes: pd.DataFrame, shapes: list) -> None:
    """Write the demo's gene annotation GTF (see the module docstring)."""
    Path(path).write_text(gtf_text(demo_transcripts(genes, shapes)))
