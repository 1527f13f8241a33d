"""Writers for the demo files: FASTA + .fai, bigWig, narrowPeak and BED, in the formats tools expect."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import poisson

LINE_BASES = 60


def write_fasta(path: Path, sequences: dict[str, np.ndarray]) -> None:
    """FASTA with 60 bases per line and its samtools-style ``.fai`` (name, length, offset, line bases, line width)."""
    fai = []
    offset = 0
    with open(path, "wb") as fh:
        for name, seq in sequences.items():
            header = f">{name}\n".encode()
            fh.write(header)
            offset += len(header)
            n = len(seq)
            full = n // LINE_BASES * LINE_BASES
            body = np.empty(full + full // LINE_BASES, dtype=np.uint8)
            lines = body.reshape(-1, LINE_BASES + 1) if full else body.reshape(0, LINE_BASES + 1)
            lines[:, :LINE_BASES] = seq[:full].reshape(-1, LINE_BASES)
            lines[:, LINE_BASES] = ord("\n")
            tail = seq[full:].tobytes() + (b"\n" if n > full else b"")
            fh.write(body.tobytes())
            fh.write(tail)
            fai.append(f"{name}\t{n}\t{offset}\t{LINE_BASES}\t{LINE_BASES + 1}\n")
            offset += len(body) + len(tail)
    Path(str(path) + ".fai").write_text("".join(fai))


def write_bigwig(path: Path, coverage: dict[str, np.ndarray], gaps: pd.DataFrame, *, sparse: bool) -> None:
    """Coverage as a bigWig of runs of equal value (bedGraph style).

    Dense tracks get an entry for every run, zeros included, except inside N gaps (no entries there, as
    pipelines leave unmappable sequence); ``sparse`` tracks (CAGE) get entries only where the count is nonzero.
    """
    import pyBigWig

    bw = pyBigWig.open(str(path), "w")
    bw.addHeader([(c, len(v)) for c, v in coverage.items()])
    for chrom, values in coverage.items():
        marked = values.astype(np.float64)
        for g in gaps[gaps.Chromosome == chrom].itertuples():
            marked[g.Start : g.End] = np.nan
        change = np.flatnonzero(np.diff(marked) != 0) + 1  # NaN != NaN splits gap bases; dropped below
        starts = np.concatenate([[0], change])
        ends = np.concatenate([change, [len(marked)]])
        vals = marked[starts]
        keep = ~np.isnan(vals)
        if sparse:
            keep &= vals != 0
        if keep.any():
            n = int(keep.sum())
            bw.addEntries([chrom] * n, starts[keep], ends=ends[keep], values=vals[keep])
    bw.close()


def call_peaks(coverage: dict[str, np.ndarray], gaps: pd.DataFrame, *, fragment: int, name: str) -> pd.DataFrame:
    """A small MACS-like caller: 50 bp bins, Poisson test against max(genome-wide, 5 kb local) background.

    Returns a narrowPeak table (chrom, start, end, name, score, strand, signalValue, pValue, qValue, peak).
    """
    bin_bp, rows = 50, []
    reads = {c: v[: len(v) // bin_bp * bin_bp].reshape(-1, bin_bp).sum(axis=1) / fragment for c, v in coverage.items()}
    usable = {c: np.ones(len(v), dtype=bool) for c, v in reads.items()}
    for g in gaps.itertuples():
        usable[g.Chromosome][g.Start // bin_bp : -(-g.End // bin_bp)] = False
    total = sum(r[usable[c]].sum() for c, r in reads.items())
    lam0 = total / sum(u.sum() for u in usable.values())
    for chrom, counts in reads.items():
        local = np.convolve(counts, np.ones(100) / 100, mode="same")
        lam = np.maximum(lam0, local)
        logp = -poisson.logsf(np.ceil(counts) - 1, lam) / np.log(10)
        hit = (logp >= 5) & usable[chrom]
        if not hit.any():
            continue
        idx = np.flatnonzero(hit)
        breaks = np.flatnonzero(np.diff(idx) > 2) + 1
        for run in np.split(idx, breaks):
            lo, hi = run[0] * bin_bp, (run[-1] + 1) * bin_bp
            cov = coverage[chrom][lo:hi]
            summit = int(np.argmax(cov))
            p = float(logp[run].max())
            signal = float(counts[run].mean() / lam0)
            rows.append((chrom, lo, hi, "", min(1000, int(10 * p)), ".", round(signal, 3), round(p, 3), -1, summit))
    peaks = pd.DataFrame(
        rows, columns=["chrom", "start", "end", "name", "score", "strand", "signalValue", "pValue", "qValue", "peak"]
    )
    peaks["name"] = [f"{name}_peak{i + 1}" for i in range(len(peaks))]
    return peaks


def write_table(path: Path, table: pd.DataFrame, *, header: bool) -> None:
    """Tab-separated, no index, plain float formatting (byte-identical for identical tables)."""
    table.to_csv(path, sep="\t", index=False, header=header, float_format="%.6g", lineterminator="\n")
