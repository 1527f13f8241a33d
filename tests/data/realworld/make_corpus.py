"""Write the real-world-shaped test corpus of this folder (issue 18); run from the repository root to regenerate it.

Every file is small and written here byte by byte, shaped after what public files contain: UCSC track and browser
lines, ENCODE narrowPeak files named ``.bed.gz``, dbSNP-style zero-length insertion rows, ClinVar INFO text in
latin-1, multi-allelic and symbolic VCF records, CRLF line ends and byte-order marks from Windows editors. The
genome is a fixed random sequence, so VCF REF alleles are the genome's own bases. ``tests/test_realworld_files.py``
states what a user gets from each file.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pysam

HERE = Path(__file__).parent
SIZES = {"chr1": 1800, "chr2": 1200, "chrM": 200}
GAP = (400, 800)  # an assembly gap (N) on chr2
BOM = b"\xef\xbb\xbf"


def genome() -> dict[str, str]:
    rng = np.random.default_rng(18)
    seqs = {name: "".join(rng.choice(list("ACGT"), size)) for name, size in SIZES.items()}
    chr2 = seqs["chr2"]
    seqs["chr2"] = chr2[: GAP[0]] + "N" * (GAP[1] - GAP[0]) + chr2[GAP[1] :]
    return seqs


def write(name: str, data: bytes | str) -> None:
    (HERE / name).write_bytes(data.encode() if isinstance(data, str) else data)


def fasta(seqs: dict[str, str]) -> str:
    lines = []
    for name, seq in seqs.items():
        lines.append(f">{name}")
        lines += [seq[i : i + 60] for i in range(0, len(seq), 60)]
    return "\n".join(lines) + "\n"


def bed_files() -> None:
    # a Windows-edited BED: byte-order mark before the first data line, CRLF, a second track mid-file
    write(
        "peaks_bom_crlf.bed",
        BOM + b"chr1\t100\t300\tpeak1\t500\t+\r\nchr1\t700\t900\tpeak2\t0\t-\r\n"
        b'track name="second" description="more peaks"\r\nbrowser hide all\r\nchr2\t50\t250\tpeak3\t12\t.\r\n',
    )
    write(
        "peaks_track_lines.bed",
        'browser position chr1:1-1800\ntrack name="peaks" itemRgb="On"\n# chrom start end name\n'
        "chr1\t100\t300\tpeak1\nchr1\t700\t900\tpeak2\n\nchr2\t50\t250\tpeak3\n",
    )
    write("peaks_latin1_name.bed", "chr1\t100\t300\tpeak1\t0\t+\nchr1\t400\t600\tSj\xf6gren\t0\t+\n".encode("latin-1"))
    # bed6+1: a free-text seventh column (an autoSql extra field) in latin-1, never used by bazenji
    write(
        "peaks_bed6plus_latin1.bed",
        "chr1\t100\t300\tpeak1\t0\t+\tM\xfcller lab\nchr1\t400\t600\tpeak2\t0\t-\tok\n".encode("latin-1"),
    )
    # ENCODE "bed narrowPeak": ten columns named .bed.gz (plain gzip), pValue -1 (not computed) and one summit -1
    narrow = (
        "chr1\t100\t400\t.\t1000\t.\t8.52\t-1\t3.11\t150\n"
        "chr1\t600\t700\t.\t850\t.\t5.10\t-1\t2.05\t-1\n"
        "chr2\t900\t1100\t.\t700\t.\t4.33\t-1\t1.90\t20\n"
    )
    write("ENCFF000NPK.bed.gz", gzip.compress(narrow.encode(), mtime=0))
    (HERE / "peaks.narrowPeak").write_text(narrow)
    pysam.tabix_compress(str(HERE / "peaks.narrowPeak"), str(HERE / "peaks.narrowPeak.gz"), force=True)  # bgzip
    (HERE / "peaks.narrowPeak").unlink()
    write("broadpeak_as.bed", "chr1\t100\t900\t.\t0\t.\t3.2\t5.1\t2.7\nchr2\t10\t300\t.\t0\t.\t2.0\t4.4\t1.3\n")
    write("items_bed9.bed", "chr1\t100\t500\tgeneA\t0\t+\t120\t480\t255,0,0\nchr2\t10\t90\tgeneB\t0\t-\t10\t90\t0\n")
    write(
        "genes_bed12.bed",
        "chr1\t100\t900\tgeneA\t.\t+\t150\t850\t0\t2\t100,200,\t0,600,\n"
        "chr2\t0\t300\tgeneB\t.\t-\t0\t300\t0,0,255\t1\t300,\t0,\n",
    )
    # dbSNP-style BED: 1-bp SNV rows and zero-length insertion rows (chromStart == chromEnd)
    write(
        "dbsnp_insertions.bed",
        "chr1\t499\t500\trs100\t0\t+\nchr1\t600\t600\trs101\t0\t+\nchr1\t700\t701\trs102\t0\t-\n"
        "chr2\t20\t20\trs103\t0\t+\n",
    )
    # peaks of another build: one wholly past chr1's 1,800 bp, one running past its end, one inside
    write(
        "wrong_build.narrowPeak",
        "chr1\t9000000\t9000500\tfar\t0\t.\t5\t-1\t-1\t250\n"
        "chr1\t1700\t1900\tedge\t0\t.\t5\t-1\t-1\t100\n"
        "chr1\t200\t400\tinside\t0\t.\t5\t-1\t-1\t100\n",
    )


def vcf_files(seqs: dict[str, str]) -> None:
    def ref(chrom: str, pos: int, n: int = 1) -> str:
        return seqs[chrom][pos - 1 : pos - 1 + n]

    contigs = "".join(f"##contig=<ID={c},length={n}>\n" for c, n in SIZES.items())
    header = (
        "##fileformat=VCFv4.1\n##source=ClinVar-shaped\n##reference=toy\n" + contigs
        + '##INFO=<ID=CLNDN,Number=.,Type=String,Description="preferred disease name">\n'
        + '##INFO=<ID=CLNSIG,Number=.,Type=String,Description="clinical significance">\n'
        + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    )  # fmt: skip
    alt = {"A": "G", "C": "T", "G": "A", "T": "C"}
    body = [
        f"chr1\t101\trs1001\t{ref('chr1', 101)}\t{alt[ref('chr1', 101)]}\t.\t.\tCLNDN=Sj\xf6gren_syndrome;CLNSIG=5",
        f"chr1\t250\trs1002\t{ref('chr1', 250)}\t{alt[ref('chr1', 250)]}\t.\t.\tCLNDN=not_provided",
        f"chr2\t60\trs1003\t{ref('chr2', 60)}\t{alt[ref('chr2', 60)]}\t.\t.\tCLNDN=Beh\xe7et_disease",
    ]
    text = (header + "".join(line + "\n" for line in body)).encode("latin-1")
    (HERE / "clinvar_latin1.vcf").write_bytes(text)
    pysam.tabix_compress(str(HERE / "clinvar_latin1.vcf"), str(HERE / "clinvar_latin1.vcf.gz"), force=True)
    (HERE / "clinvar_latin1.vcf").unlink()

    r = {p: ref("chr1", p) for p in (300, 400, 500, 600, 700, 800)}

    def third(base: str) -> str:
        return next(b for b in "ACGT" if b not in (base, alt[base]))

    records = [
        f"chr1\t300\trs2001\t{r[300]}\t{alt[r[300]]},{third(r[300])}\t50\tPASS\t.\tGT\t1/2",
        f"chr1\t400\tsv1\t{r[400]}\t<DEL>\t.\tPASS\tSVTYPE=DEL;END=450\tGT\t0/1",
        f"chr1\t500\tsp1\t{r[500]}\t*,{alt[r[500]]}\t.\tPASS\t.\tGT\t1/2",
        f"chr1\t600\tctg1\t{r[600]}\t{r[600]}<ctg1>\t.\tPASS\t.\tGT\t0/1",
        f"chr1\t700\tbnd1\t{r[700]}\t{r[700]}[chr2:100[\t.\tPASS\tSVTYPE=BND\tGT\t0/1",
        f"chr1\t800\trs2006\t{r[800]}\t{alt[r[800]]}\t.\tq10\t.\tGT\t0/1",
    ]
    sample_header = header.replace("\tINFO\n", "\tINFO\tFORMAT\tNA12878\n").replace(
        "##INFO=<ID=CLNDN", '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n##INFO=<ID=CLNDN'
    )
    write("multiallelic_symbolic.vcf", sample_header + "".join(line + "\n" for line in records))
    write("lowercase_contig_insertion.vcf", header + f"chr1\t600\tctg1\t{r[600]}\t{r[600].lower()}<ctg1>\t.\t.\t.\n")
    latin1 = f"chr1\t101\trs\xf61001\t{ref('chr1', 101)}\t{alt[ref('chr1', 101)]}\t.\t.\t.\n"
    write("latin1_id.vcf", (header + latin1).encode("latin-1"))
    # a hand-made variant list: byte-order mark, CRLF, only the five first columns and no ##fileformat
    write(
        "handmade_bom_crlf.vcf",
        BOM
        + f"#CHROM\tPOS\tID\tREF\tALT\r\nchr1\t101\tv1\t{ref('chr1', 101)}\t{alt[ref('chr1', 101)]}\r\n\r\n"
        f"chr2\t60\tv2\t{ref('chr2', 60)}\t{alt[ref('chr2', 60)]}\r\n".encode(),
    )
    # REF disagrees with the genome but the ALT matches it (REF and ALT swapped by a liftover)
    g = ref("chr1", 900)
    write("ref_swapped.vcf", header + f"chr1\t900\tswapped\t{alt[g]}\t{g}\t.\t.\t.\n")
    # Ensembl-style chromosome names against a UCSC-named genome
    write("ensembl_names.vcf", header + f"1\t101\trs1\t{ref('chr1', 101)}\t{alt[ref('chr1', 101)]}\t.\t.\t.\n")
    # many records across both chromosomes, for region queries (indexed by the tests with pysam.tabix_index)
    many = [f"chr1\t{p}\tm1_{p}\t{ref('chr1', p)}\t{alt[ref('chr1', p)]}\t.\t.\t." for p in range(20, 1800, 60)]
    many.insert(5, f"chr1\t310\tdel310\t{ref('chr1', 310, 4)}\t{ref('chr1', 310)}\t.\t.\t.")  # spans 310-313
    many += [
        f"chr2\t{p}\tm2_{p}\t{ref('chr2', p)}\t{alt.get(ref('chr2', p), 'A')}\t.\t.\t." for p in range(10, 390, 40)
    ]
    write("many_variants.vcf", header + "".join(line + "\n" for line in many))


def main() -> None:
    seqs = genome()
    write("genome.fa", fasta(seqs))
    bed_files()
    vcf_files(seqs)
    write("targets_empty.txt", b"")
    write("targets_header_only.txt", "index\tgenome\tidentifier\tfile\tclip\tscale\tsum_stat\tdescription\n")


if __name__ == "__main__":
    main()
