"""Encoding benchmark: genome -> one-hot windows -> zarr store -> batches, beside the common baselines.

Run from the repository root::

    python benchmarks/bench_encode.py                 # 100 Mbp genome, 10,000 windows of 131,072 bp
    python benchmarks/bench_encode.py --quick         # 20 Mbp, 500 windows: a smoke run

Prints a markdown table for benchmarks/RESULTS.md. The baseline "pyfaidx + numpy lookup table" needs
``pip install pyfaidx`` (a benchmark-only tool, not a bazenji dependency); it is skipped without it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

SEQ_LENGTH = 131_072
CHUNK = 32


# -- a genome-like sequence -------------------------------------------------------------------------------
def make_genome(total_bp: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Four chromosomes of ASCII bytes: 41% GC background, ~45% soft-masked repeat copies diverged 2-20%
    from 60 families, microsatellites, and N gaps at the ends and a 'centromere'."""
    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"ACGT", np.uint8)
    families = [rng.choice(letters, int(n), p=[0.3, 0.2, 0.2, 0.3]) for n in rng.integers(300, 6000, 60)]
    sizes = (total_bp * np.array([0.4, 0.3, 0.2, 0.1])).astype(int)
    genome = {}
    for k, size in enumerate(sizes):
        seq = rng.choice(letters, size, p=[0.295, 0.205, 0.205, 0.295])
        at, filled = 0, 0
        while filled < 0.45 * size:
            family = families[rng.integers(len(families))]
            at += int(rng.exponential(1500))
            piece = family[rng.integers(0, len(family) // 3) :].copy()
            if at + len(piece) >= size:
                break
            mutate = rng.random(len(piece)) < rng.uniform(0.02, 0.2)
            piece[mutate] = rng.choice(letters, int(mutate.sum()))
            seq[at : at + len(piece)] = piece + 32  # repeats are soft-masked (lowercase)
            at += len(piece)
            filled += len(piece)
        for _ in range(size // 200_000):  # (CA)n microsatellites
            s = int(rng.integers(0, size - 100))
            seq[s : s + 60] = np.frombuffer(b"CA" * 30, np.uint8)
        seq[:10_000] = ord("N")
        seq[-10_000:] = ord("N")
        mid = size // 2
        seq[mid : mid + size // 100] = ord("N")
        genome[f"chr{k + 1}"] = seq
    return genome


def write_fasta(genome: dict[str, np.ndarray], path: Path, width: int = 60) -> None:
    with open(path, "wb") as fh:
        for name, seq in genome.items():
            fh.write(f">{name}\n".encode())
            full = len(seq) // width
            lines = np.full((full, width + 1), ord("\n"), np.uint8)
            lines[:, :width] = seq[: full * width].reshape(full, width)
            fh.write(lines.tobytes())
            if len(seq) % width:
                fh.write(seq[full * width :].tobytes() + b"\n")


def random_windows(genome: dict[str, np.ndarray], n: int, seed: int = 1) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    names = list(genome)
    sizes = np.array([len(genome[c]) for c in names])
    which = rng.choice(len(names), n, p=sizes / sizes.sum())
    starts = np.array([rng.integers(-SEQ_LENGTH // 4, sizes[w] - SEQ_LENGTH // 2) for w in which])
    return [names[w] for w in which], starts


# -- baselines -------------------------------------------------------------------------------------------
def baseline_pyfaidx(path: Path, chroms, starts) -> float | None:
    """The common recipe: pyfaidx fetch, pad with N, numpy lookup-table one-hot. Returns Mbp/s."""
    try:
        import pyfaidx
    except ImportError:
        return None
    lut = np.zeros((256, 4), np.uint8)
    for i, b in enumerate(b"ACGT"):
        lut[b, i] = lut[b + 32, i] = 1
    fasta = pyfaidx.Fasta(str(path))
    t = time.perf_counter()
    for c, s in zip(chroms, starts, strict=True):
        size = len(fasta[c])
        seq = fasta[c][max(int(s), 0) : min(int(s) + SEQ_LENGTH, size)].seq
        text = "N" * max(-int(s), 0) + seq
        text += "N" * (SEQ_LENGTH - len(text))
        lut[np.frombuffer(text.encode(), np.uint8)]
    return len(chroms) * SEQ_LENGTH / (time.perf_counter() - t) / 1e6


@numba.njit(cache=True)
def _plain_kernel(seq, starts, table, out):
    for w in range(starts.shape[0]):
        for i in range(out.shape[1]):
            p = starts[w] + i
            if 0 <= p < seq.shape[0]:
                c = table[seq[p]]
                if c < 4:
                    out[w, i, c] = 1


def baseline_numba(genome: dict[str, np.ndarray], chroms, starts) -> float:
    """A plain 10-line numba kernel over the in-memory genome (serial, zeroed output). Returns Mbp/s."""
    from bazenji.encode import CODE_TABLE

    _plain_kernel(genome[chroms[0]], starts[:1], CODE_TABLE, np.zeros((1, SEQ_LENGTH, 4), np.uint8))
    t = time.perf_counter()
    for lo in range(0, len(chroms), CHUNK):
        for c in dict.fromkeys(chroms[lo : lo + CHUNK]):
            sel = [i for i in range(lo, min(lo + CHUNK, len(chroms))) if chroms[i] == c]
            _plain_kernel(genome[c], starts[sel], CODE_TABLE, np.zeros((len(sel), SEQ_LENGTH, 4), np.uint8))
    return len(chroms) * SEQ_LENGTH / (time.perf_counter() - t) / 1e6


# -- bazenji ---------------------------------------------------------------------------------------------
def ours_windows(genome, chroms, starts, *, reuse: bool) -> float:
    """bz Genome.fetch_onehot_many over chunks of 32 windows. Returns Mbp/s."""
    genome.fetch_onehot_many(chroms[:2], starts[:2], SEQ_LENGTH)
    buffer = np.empty((CHUNK, SEQ_LENGTH, 4), np.uint8)
    t = time.perf_counter()
    for lo in range(0, len(chroms), CHUNK):
        hi = min(lo + CHUNK, len(chroms))
        out = buffer[: hi - lo] if reuse else None
        genome.fetch_onehot_many(chroms[lo:hi], starts[lo:hi], SEQ_LENGTH, out=out)
    return len(chroms) * SEQ_LENGTH / (time.perf_counter() - t) / 1e6


def compression(genome, chroms, starts) -> dict[str, dict[str, float]]:
    """Bytes/bp and single-thread compress/decompress speed of one-hot chunks, blosc settings compared."""
    from numcodecs import Blosc, blosc

    blosc.set_nthreads(1)
    chunks = [
        genome.fetch_onehot_many(chroms[lo : lo + CHUNK], starts[lo : lo + CHUNK], SEQ_LENGTH)
        for lo in range(0, min(len(chroms), 8 * CHUNK), CHUNK)
    ]
    bp = sum(c.shape[0] for c in chunks) * SEQ_LENGTH
    settings = {
        "zstd-3 bitshuffle, default blocks (issue baseline)": Blosc("zstd", 3, Blosc.BITSHUFFLE),
        "zstd-1 bitshuffle, 256 KiB blocks (bazenji store)": Blosc("zstd", 1, Blosc.BITSHUFFLE, blocksize=1 << 18),
    }
    result = {}
    for name, codec in settings.items():
        t = time.perf_counter()
        packed = [codec.encode(c) for c in chunks]
        t_comp = time.perf_counter() - t
        t = time.perf_counter()
        for p in packed:
            codec.decode(p)
        t_dec = time.perf_counter() - t
        result[name] = {
            "bytes_per_bp": sum(len(p) for p in packed) / bp,
            "compress_mbps": bp / t_comp / 1e6,
            "decompress_mbps": bp / t_dec / 1e6,
        }
    return result


def child_encode(fasta: str, windows_json: str, store: str) -> None:
    """Run in a subprocess: FASTA -> store end to end, then read it back; prints JSON with peak memory."""
    import tracemalloc

    import pandas as pd

    import bazenji as bz

    bz.settings.progress = False
    spec = json.loads(Path(windows_json).read_text())
    genome = bz.io.Genome(fasta)
    n = len(spec["starts"])
    windows = pd.DataFrame(
        {"chrom": spec["chroms"], "start": spec["starts"], "end": np.add(spec["starts"], SEQ_LENGTH), "rc": False}
    )
    regions = pd.DataFrame(
        {"Chromosome": spec["chroms"], "Start": windows["start"] + 65_536, "End": windows["start"] + 65_537},
        index=[f"r{i}" for i in range(n)],
    )
    assignments = pd.DataFrame({"region": np.arange(n), "window": np.arange(n), "bin_start": 448, "bin_end": 449})
    plan = bz.store.WindowPlan(windows, regions, assignments)
    genome.fingerprint  # noqa: B018 - computed before timing, as a real run has it from regions
    rss_before = _rss("VmRSS")
    tracemalloc.start()
    t = time.perf_counter()
    bz.pp.encode(plan, genome, store)
    encode_s = time.perf_counter() - t
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    peak_rss = _rss("VmHWM")
    on_disk = sum(f.stat().st_size for f in Path(store, "onehot").rglob("*") if f.is_file())
    t = time.perf_counter()
    count = 0
    for idx, _batch in bz.store.iter_batches(store, 32):
        count += len(idx)
    read_s = time.perf_counter() - t
    print(
        json.dumps(
            {
                "windows": n,
                "encode_s": encode_s,
                "encode_mbps": n * SEQ_LENGTH / encode_s / 1e6,
                "bytes_per_bp": on_disk / (n * SEQ_LENGTH),
                "peak_rss_mb": peak_rss / 2**20,
                "rss_before_mb": rss_before / 2**20,
                "traced_peak_mb": traced_peak / 2**20,
                "read_windows_per_s": count / read_s,
            }
        )
    )


def _rss(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genome-mbp", type=float, default=100)
    parser.add_argument("--windows", type=int, default=10_000, help="windows for the end-to-end store run")
    parser.add_argument("--sample", type=int, default=640, help="windows for the per-stage speed runs")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_encode(*args.child)
        return
    if args.quick:
        args.genome_mbp, args.windows, args.sample = 20, 500, 160
    import bazenji as bz

    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench_encode_") as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        genome_dict = make_genome(int(args.genome_mbp * 1e6))
        fasta = tmp / "genome.fa"
        write_fasta(genome_dict, fasta)
        print(f"# genome: {args.genome_mbp:g} Mbp in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        chroms, starts = random_windows(genome_dict, args.sample)
        memory = bz.io.Genome({k: v for k, v in genome_dict.items()})
        on_disk = bz.io.Genome(fasta)
        ours = {
            "bazenji, in-memory genome, reused chunk buffer": (memory, True),
            "bazenji, in-memory genome, new array per chunk": (memory, False),
            "bazenji, FASTA (.fai, mmap), reused chunk buffer": (on_disk, True),
            "bazenji, FASTA (.fai, mmap), new array per chunk": (on_disk, False),
        }
        rows = {
            "pyfaidx fetch + numpy LUT one-hot (baseline)": baseline_pyfaidx(fasta, chroms[:200], starts[:200]),
            "plain numba kernel, in-memory genome (baseline)": baseline_numba(genome_dict, chroms, starts),
        }
        all_threads = numba.get_num_threads()
        for name, (genome, reuse) in ours.items():
            bz.settings.n_threads = 1
            one = ours_windows(genome, chroms, starts, reuse=reuse)
            bz.settings.n_threads = all_threads
            rows[name] = (one, ours_windows(genome, chroms, starts, reuse=reuse))
        comp = compression(memory, chroms, starts)
        all_chroms, all_starts = random_windows(genome_dict, args.windows, seed=2)
        spec = tmp / "windows.json"
        spec.write_text(json.dumps({"chroms": all_chroms, "starts": [int(s) for s in all_starts]}))
        child = subprocess.run(
            [sys.executable, __file__, "--child", str(fasta), str(spec), str(tmp / "store.zarr")],
            capture_output=True,
            text=True,
            check=True,
        )
        store = json.loads(child.stdout.strip().splitlines()[-1])
    threads = bz.settings.n_threads or numba.get_num_threads()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, numba threads {threads}")
    print(f"python {platform.python_version()}, numba {numba.__version__}, numpy {np.__version__}")
    print(f"load average at start {load[0]:.1f}, at end {os.getloadavg()[0]:.1f} (other work on the machine)\n")
    print(f"| stage | Mbp/s, 1 thread | Mbp/s, {threads} threads |\n|---|---|---|")
    for name, value in rows.items():
        one, many = value if isinstance(value, tuple) else (value, None)
        cells = ["not installed" if one is None else f"{one:,.0f}", "" if many is None else f"{many:,.0f}"]
        print(f"| {name} | {cells[0]} | {cells[1]} |")
    base = rows["pyfaidx fetch + numpy LUT one-hot (baseline)"]
    if base:
        best = max(rows["bazenji, FASTA (.fai, mmap), reused chunk buffer"])
        print(f"\nFASTA -> one-hot vs pyfaidx baseline: {best / base:.1f}x")
    print("\n| blosc setting (1 thread) | bytes/bp | compress Mbp/s | decompress Mbp/s |\n|---|---|---|---|")
    for name, r in comp.items():
        print(f"| {name} | {r['bytes_per_bp']:.3f} | {r['compress_mbps']:,.0f} | {r['decompress_mbps']:,.0f} |")
    print(
        f"\nEnd to end, {store['windows']:,} windows ({store['windows'] * SEQ_LENGTH / 1e9:.2f} Gbp), FASTA -> store:"
        f" {store['encode_s']:.1f} s = {store['encode_mbps']:,.0f} Mbp/s, {store['bytes_per_bp']:.3f} bytes/bp on disk,"
        f" peak RSS {store['peak_rss_mb']:,.0f} MB (of which {store['rss_before_mb']:,.0f} MB before encoding:"
        f" interpreter, torch, numba), peak Python/numpy allocations {store['traced_peak_mb']:,.0f} MB;"
        f" read back with iter_batches(batch_size=32): {store['read_windows_per_s']:,.0f} windows/s"
    )


if __name__ == "__main__":
    main()
