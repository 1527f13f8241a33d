"""Readers benchmark (issue 17, part 4): bazenji's BED, VCF and bgzip-FASTA readers beside the alternatives.

For each format the hand-written way (a Python line loop, Python ``zlib`` over BGZF blocks) is timed against the
maintained libraries that could replace it (pandas' C reader, pysam/htslib), on synthetic files of realistic shape
written to a temporary folder. The decision each row supports is in ``docs/formats.md``.

Run from the repository root::

    python benchmarks/bench_readers.py            # 300,000 narrowPeak lines, 200,000 VCF records, 48 Mbp genome
    python benchmarks/bench_readers.py --quick    # a tenth of each: a smoke run

Prints a markdown table for benchmarks/RESULTS.md (median of ``--rounds`` runs, after one warm-up).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pysam

import bazenji as bz
from bazenji.encode._gather import gather_kernel
from bazenji.encode._kernels import BYTE_WORDS
from bazenji.io._bed import read_bed
from bazenji.io._vcf_readers import parse_region, records_from_pysam, records_from_text
from bazenji.io.genome import build_fai

SEQ_LENGTH = 131_072


# -- files -------------------------------------------------------------------------------------------------------
def write_narrowpeak(path: Path, n: int, rng) -> None:
    chroms = rng.choice([f"chr{i}" for i in range(1, 23)], n)
    starts = rng.integers(0, 200_000_000, n)
    widths = rng.integers(150, 2000, n)
    lines = [
        f"{c}\t{s}\t{s + w}\tpeak{i}\t{i % 1000}\t.\t{rng.random() * 10:.5f}\t-1\t{rng.random() * 5:.5f}\t{w // 2}\n"
        for i, (c, s, w) in enumerate(zip(chroms, starts, widths, strict=True))
    ]
    path.write_text("".join(lines))


def write_vcf(path: Path, n: int, rng) -> None:
    header = "##fileformat=VCFv4.2\n" + "".join(f"##contig=<ID=chr{i},length=250000000>\n" for i in (1, 2))
    header += '##INFO=<ID=AF,Number=A,Type=Float,Description="allele frequency">\n'
    header += '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
    header += "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\n"
    positions = np.sort(rng.choice(240_000_000, n, replace=False)) + 1
    bases = np.array(list("ACGT"))
    refs, alts = bases[rng.integers(0, 4, n)], bases[rng.integers(0, 4, n)]
    lines = []
    for i, (pos, ref, alt) in enumerate(zip(positions, refs, alts, strict=True)):
        chrom = "chr1" if i < n // 2 else "chr2"
        alt = alt if alt != ref else "T" if ref != "T" else "A"
        lines.append(f"{chrom}\t{pos}\trs{i}\t{ref}\t{alt}\t50\tPASS\tAF=0.{i % 97:02d}\tGT\t0/1\t1/1\n")
    path.write_text(header + "".join(lines))


def write_fasta(path: Path, total_bp: int, rng) -> dict[str, int]:
    sizes = {f"chr{i + 1}": total_bp // 4 for i in range(4)}
    with open(path, "w") as fh:
        for name, size in sizes.items():
            seq = np.frombuffer(b"ACGTacgt", np.uint8)[rng.integers(0, 8, size)].tobytes().decode()
            fh.write(f">{name}\n")
            fh.writelines(seq[i : i + 60] + "\n" for i in range(0, size, 60))
    return sizes


# -- the hand-written ways, as the former readers did them -------------------------------------------------------
def bed_by_line_split(path: Path) -> pd.DataFrame:
    rows = [line.split("\t") for line in path.read_text().splitlines() if line and not line.startswith("#")]
    frame = pd.DataFrame(rows)
    for column in (1, 2, 4, 6, 7, 8, 9):  # what the former reader's checks then converted
        frame[column] = pd.to_numeric(frame[column])
    return frame


def bed_by_pysam(path: Path) -> pd.DataFrame:
    with open(path) as fh:
        rows = [tuple(row) for row in pysam.tabix_iterator(fh, pysam.asTuple())]
    frame = pd.DataFrame(rows)
    for column in (1, 2, 4, 6, 7, 8, 9):
        frame[column] = pd.to_numeric(frame[column])
    return frame


def onehot_by_genome(genome: bz.io.Genome, chroms, starts, out: np.ndarray) -> None:
    if genome._bgzf is not None:
        genome._bgzf._cache.clear()  # every round starts with an empty block cache, as a fresh htslib handle does
    genome.fetch_onehot_many(chroms, starts, SEQ_LENGTH, out=out)


def onehot_by_pysam(path: Path, chroms, starts, out: np.ndarray) -> None:
    """A fresh pysam ``FastaFile``'s fetch, then the text encoded by the same word-table kernel bazenji uses."""
    words = out.view(np.uint32).reshape(len(starts), -1)
    with pysam.FastaFile(str(path)) as fasta:
        for w, (chrom, start) in enumerate(zip(chroms, starts, strict=True)):
            raw = np.frombuffer(fasta.fetch(chrom, start, start + SEQ_LENGTH).encode(), np.uint8)
            gather_kernel(raw, -start, 1 << 40, 1 << 40, 1 << 40, start, BYTE_WORDS, np.uint32(0), words[w])


# -- timing ------------------------------------------------------------------------------------------------------
def timed(fn, rounds: int) -> float:
    fn()  # warm-up: imports, numba compilation, page cache
    times = []
    for _ in range(rounds):
        tic = time.perf_counter()
        fn()
        times.append(time.perf_counter() - tic)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    n_bed, n_vcf, genome_bp, n_windows = 300_000 // scale, 200_000 // scale, 48_000_000 // scale, 200 // scale
    bz.settings.progress = False
    rng = np.random.default_rng(0)
    rows: list[tuple[str, str, float, str]] = []

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        bed = tmp / "peaks.narrowPeak"
        write_narrowpeak(bed, n_bed, rng)
        per = f"{n_bed:,} narrowPeak lines"
        bed_readers = {
            "Python line split (former reader)": lambda: bed_by_line_split(bed),
            "pysam.tabix_iterator(asTuple)": lambda: bed_by_pysam(bed),
            "pandas C reader (bazenji _bed)": lambda: read_bed(str(bed), None),
            "bz.io.read_regions end to end": lambda: bz.io.read_regions(bed),
        }
        rows += [("BED", name, timed(fn, args.rounds), per) for name, fn in bed_readers.items()]

        vcf = tmp / "variants.vcf"
        write_vcf(vcf, n_vcf, rng)
        per = f"{n_vcf:,} records"
        vcf_readers = {
            "line reader (bazenji fallback)": lambda: list(records_from_text(vcf, None)),
            "pysam VariantFile (bazenji)": lambda: records_from_pysam(vcf, None),
            "bz.io.read_vcf end to end": lambda: bz.io.read_vcf(vcf),
        }
        rows += [("VCF", name, timed(fn, args.rounds), per) for name, fn in vcf_readers.items()]
        indexed = Path(pysam.tabix_index(str(vcf), preset="vcf", keep_original=True))
        region = "chr1:1-1000000"
        n_in = len(records_from_pysam(indexed, parse_region(region)))
        query = timed(lambda: bz.io.read_vcf(indexed, region=region), args.rounds)
        rows.append(("VCF", f"read_vcf(region='{region}'), .vcf.gz + .tbi", query, f"{n_in:,} of {n_vcf:,} records"))

        fasta = tmp / "genome.fa"
        sizes = write_fasta(fasta, genome_bp, rng)
        gz = tmp / "genome.fa.gz"
        pysam.tabix_compress(str(fasta), str(gz))
        per = f"{genome_bp / 1e6:.0f} Mbp"
        rows.append(("FASTA index", ".fai by bazenji build_fai (plain)",
                     timed(lambda: build_fai(open(fasta, "rb"), str(fasta)), args.rounds), per))  # fmt: skip
        rows.append(("FASTA index", ".fai by pysam.faidx / htslib (plain)",
                     timed(lambda: pysam.faidx(str(fasta)), args.rounds), per))  # fmt: skip
        pysam.faidx(str(gz))  # .fai and .gzi for pysam; bazenji reads the same files
        genome_gz, genome_plain = bz.io.Genome(gz), bz.io.Genome(fasta)
        chroms = [f"chr{c}" for c in rng.integers(1, 5, n_windows)]
        starts = [int(s) for s in rng.integers(0, min(sizes.values()) - SEQ_LENGTH, n_windows)]
        tiled = [int(s) for s in starts[0] + np.arange(n_windows) * (SEQ_LENGTH // 2)]  # neighbours share blocks
        out = np.zeros((n_windows, SEQ_LENGTH, 4), np.uint8)
        for what, cs, ss in (("random", chroms, starts), ("tiled", [chroms[0]] * n_windows, tiled)):
            unit = f"ms per {SEQ_LENGTH:,} bp window ({what}, {n_windows} windows)"
            windows = {
                ("bgzip", "Python zlib over BGZF blocks (bazenji Genome)"):
                    lambda cs=cs, ss=ss: onehot_by_genome(genome_gz, cs, ss, out),
                ("bgzip", "pysam FastaFile fetch + encode"): lambda cs=cs, ss=ss: onehot_by_pysam(gz, cs, ss, out),
                ("plain", "mmap + numba gather (bazenji Genome)"):
                    lambda cs=cs, ss=ss: onehot_by_genome(genome_plain, cs, ss, out),
                ("plain", "pysam FastaFile fetch + encode"): lambda cs=cs, ss=ss: onehot_by_pysam(fasta, cs, ss, out),
            }  # fmt: skip
            for (kind, name), fn in windows.items():
                rows.append((f"{kind} FASTA -> one-hot, {what}", name, timed(fn, args.rounds) * 1e3 / n_windows, unit))

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"<!-- {platform.machine()} {platform.system()}, {os.cpu_count()} cores, python {sys.version.split()[0]}, "
          f"pysam {pysam.__version__}, pandas {pd.__version__}, load average {load:.2f}, "
          f"{time.strftime('%Y-%m-%d')} -->")  # fmt: skip
    print("| format | reader | median | unit |")
    print("|---|---|---|---|")
    for fmt, reader, value, unit in rows:
        shown = f"{value:.3f} ms" if unit.startswith("ms") else f"{value:.3f} s"
        print(f"| {fmt} | {reader} | {shown} | {unit.removeprefix('ms per ')} |")


if __name__ == "__main__":
    main()
