"""Time and peak memory of ``bz.tl.score_cells`` on synthetic scATAC-sized inputs, each size in a fresh process.

    python benchmarks/bench_score_cells.py [--sizes 10000x50000x512 100000x200000x64] [--density 0.02]
                                           [--kernel 20000x200000]

For each ``cells x peaks x tracks`` size a subprocess builds a sparse CSR count matrix of the given density
(float32 data, int32 indices, as scanpy keeps scATAC counts), peaks x tracks float32 predictions in ``varm``
and peak GC in ``var``, then runs ``score_cells`` and reports its wall time and the process's peak resident
memory (``ru_maxrss``), with the inputs' own size beside it so the method's overhead is visible. Prints a
markdown table for benchmarks/RESULTS.md.

``--kernel CELLSxPEAKS`` first times the product ``X @ w`` alone, side by side in one process: the row loop
(one column block as wide as all peaks) against the default cache-sized column blocks, at 64 and 512 tracks.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

CHILD = """
import json, resource, sys, time
import numpy as np, scipy.sparse as sp, anndata as ad, pandas as pd
import bazenji as bz
cells, peaks, tracks, density = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
rng = np.random.default_rng(0)
nnz_per_cell = max(1, int(peaks * density))
indptr = np.arange(cells + 1, dtype=np.int64) * nnz_per_cell
indices = np.sort(rng.integers(0, peaks, (cells, nnz_per_cell), dtype=np.int32), axis=1).ravel()
counts = sp.csr_matrix((np.ones(len(indices), np.float32), indices, indptr), shape=(cells, peaks))
counts.sum_duplicates()
adata = ad.AnnData(counts)
adata.varm["bz"] = rng.gamma(2.0, 1.0, (peaks, tracks)).astype(np.float32)
adata.var["bz_gc"] = rng.uniform(0.3, 0.7, peaks).astype(np.float32)
adata.uns["bz"] = {"tracks": pd.DataFrame(index=[f"t{i}" for i in range(tracks)]), "provenance": {}}
inputs = counts.data.nbytes + counts.indices.nbytes + counts.indptr.nbytes + adata.varm["bz"].nbytes
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
bz.settings.progress = False
tic = time.perf_counter()
bz.tl.score_cells(adata)
seconds = time.perf_counter() - tic
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "nnz": int(counts.nnz), "inputs_gib": inputs / 2**30,
                  "result_gib": adata.obsm["bz_scores"].nbytes / 2**30,
                  "peak_before_gib": before / 2**20, "peak_gib": peak / 2**20}))
"""

KERNEL = """
import json, sys, time
import numpy as np, scipy.sparse as sp
from bazenji.tl._score_cells import sparse_times_dense
cells, peaks, density = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
rng = np.random.default_rng(0)
k = max(1, int(peaks * density))
indices = np.sort(rng.integers(0, peaks, (cells, k), dtype=np.int32), axis=1).ravel()
counts = sp.csr_matrix((np.ones(len(indices), np.float32), indices, np.arange(cells + 1) * k), shape=(cells, peaks))
counts.sum_duplicates()
for tracks in (64, 512):
    w = rng.standard_normal((peaks, tracks)).astype(np.float32)
    sparse_times_dense(counts[:10], w)  # compile outside the timing
    times = {}
    for name, block in (("rows", peaks), ("blocked", None)):
        tic = time.perf_counter()
        out = sparse_times_dense(counts, w, block=block)
        times[name] = time.perf_counter() - tic
        times[name + "_sum"] = float(out.sum(dtype=np.float64))
    print(json.dumps({"tracks": tracks, "nnz": int(counts.nnz), **times}), flush=True)
"""


def kernel_table(size: str, density: float) -> None:
    cells, peaks = (int(v) for v in size.split("x"))
    out = subprocess.run([sys.executable, "-c", KERNEL, str(cells), str(peaks), str(density)],
                         capture_output=True, text=True, check=True)  # fmt: skip
    print(f"| X @ w, {cells:,} x {peaks:,} | tracks | row loop (s) | column blocks (s) | speed-up | same sums |")
    print("|---|---|---|---|---|---|")
    for line in out.stdout.strip().splitlines():
        r = json.loads(line)
        same = abs(r["rows_sum"] - r["blocked_sum"]) <= 1e-6 * abs(r["rows_sum"])
        print(f"| {r['nnz']:,} non-zeros | {r['tracks']} | {r['rows']:.2f} | {r['blocked']:.2f} | "
              f"{r['rows'] / r['blocked']:.1f}x | {same} |", flush=True)  # fmt: skip
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["10000x50000x512", "100000x200000x64"])
    parser.add_argument("--density", type=float, default=0.02)
    parser.add_argument("--kernel", default=None, help="CELLSxPEAKS: time X @ w by row loop and by column blocks")
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"# score_cells, {time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, load {load[0]:.2f}, density {args.density}")  # fmt: skip
    if args.kernel:
        kernel_table(args.kernel, args.density)
    print("| cells x peaks x tracks | non-zeros | time (s) | ns per non-zero x track | inputs (GiB) | "
          "scores (GiB) | peak RSS (GiB) | peak RSS before the call |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        cells, peaks, tracks = (int(v) for v in size.split("x"))
        out = subprocess.run([sys.executable, "-c", CHILD, str(cells), str(peaks), str(tracks), str(args.density)],
                             capture_output=True, text=True, check=True)  # fmt: skip
        r = json.loads(out.stdout.strip().splitlines()[-1])
        per = r["seconds"] / (r["nnz"] * tracks) * 1e9
        print(f"| {cells:,} x {peaks:,} x {tracks:,} | {r['nnz']:,} | {r['seconds']:.1f} | {per:.2f} | "
              f"{r['inputs_gib']:.2f} | {r['result_gib']:.2f} | {r['peak_gib']:.2f} | {r['peak_before_gib']:.2f} |",
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
