"""Time of ``bz.io.write_bigwig`` / ``write_bedgraph`` at the human model's track count, on synthetic profiles.

    python benchmarks/bench_export.py [--windows 20] [--tracks 5313] [--bedgraph-tracks 500]

Builds an in-memory Dataset in the window-store layout (float16 profiles, windows overlapping by 8 kb so the
merge rule cuts every one), writes one bigWig per track (and bedGraphs for a subset), and reports wall time,
track-windows per second and the size written. What it times is the writing: the profiles are in memory, so
reading a store adds its zarr decompression on top. Prints a markdown row for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time

import numpy as np
import xarray as xr

import bazenji as bz


def synthetic(n_windows: int, n_tracks: int) -> xr.Dataset:
    rng = np.random.default_rng(0)
    span = 896 * 128
    starts = 200_000 + np.arange(n_windows) * (span - 8_192) - 8_192
    profile = rng.gamma(1.0, 1.0, (n_windows, 896, n_tracks)).astype(np.float16)
    return xr.Dataset(
        {"profile": (("window", "bin", "profile_track"), profile),
         "chrom": ("window", np.array(["chr1"] * n_windows, object)), "start": ("window", starts)},
        coords={"profile_track": [f"t{i}" for i in range(n_tracks)]},
        attrs={"bin_size": 128, "crop_bins": 64},
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=20)
    parser.add_argument("--tracks", type=int, default=5313)
    parser.add_argument("--bedgraph-tracks", type=int, default=500)
    args = parser.parse_args()
    bz.settings.progress = False
    dataset = synthetic(args.windows, args.tracks)
    sizes = {"chr1": 200_000 + args.windows * 896 * 128 + 1_000_000}
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    print("| format | tracks | windows | s | track-windows/s | MB written |\n|---|---|---|---|---|---|")
    for fmt, n in (("bigwig", args.tracks), ("bedgraph", args.bedgraph_tracks)):
        out = tempfile.mkdtemp(prefix="bazenji-export-")
        try:
            tic = time.perf_counter()
            manifest = bz.io.write_bigwig(dataset, out, genome=sizes, format=fmt, tracks=slice(0, n))
            seconds = time.perf_counter() - tic
            size = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
        finally:
            shutil.rmtree(out)
        rate = len(manifest) * args.windows / seconds
        print(f"| {fmt} | {len(manifest):,} | {args.windows} | {seconds:.1f} | {rate:,.0f} | {size / 1e6:,.0f} |")


if __name__ == "__main__":
    main()
