"""bz.tl.predict end to end against the bare model, tiled-mode window savings, and peak memory.

    python benchmarks/bench_predict.py [--windows 12] [--rounds 2]

1. Speed: the full human model (random weights) on a random 4 Mb genome. In one run, alternating:
   the bare model on pre-encoded windows (batch 4, float32, inference mode) and `bz.tl.predict` end to end
   (plan, encode into a zarr store, read, model, aggregate, write) on the same number of regions.
2. Tiled mode on a realistic peak set: 30,000 peaks clustered like regulatory elements (clusters of 1-12
   peaks within tens of kb, cluster starts Poisson along a 3 Gb genome); windows needed centred vs tiled.
3. Peak memory of predicting 2,000 regions x 5,313 tracks, in a fresh process each (VmHWM: on Linux
   ru_maxrss carries the parent's peak over the exec):
   - the full human model, the 2,000 regions packed into 1.2 Mb so tiled mode needs a dozen windows (what a
     dense peak set costs: the model's activations for one batch plus X and the per-chunk results);
   - the human 5,313-track head on a narrow trunk (final width 64), centred mode, one window per region:
     2,000 windows in a few minutes, with the same X and per-chunk results.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd
import torch

import bazenji as bz


def random_genome(size: int, seed: int = 0) -> dict[str, str]:
    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    return {c: letters[rng.integers(0, 4, size // 2)].tobytes().decode() for c in ("chr1", "chr2")}


def random_regions(genome: dict[str, str], n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    chroms = rng.choice(list(genome), n)
    starts = np.array([rng.integers(70_000, len(genome[c]) - 70_000) for c in chroms])
    return pd.DataFrame(
        {"Chromosome": chroms, "Start": starts, "End": starts + 500, "Name": [f"r{i}" for i in range(n)]}
    )


def speed(windows: int, rounds: int) -> dict:
    torch.manual_seed(0)
    model = bz.models.Basenji2().eval()
    sequences = random_genome(4_000_000)
    genome = bz.io.Genome(sequences)
    regions = random_regions(sequences, windows)
    plan = bz.pp.plan_windows(bz.pp.regions(regions), model=model)
    onehot = genome.fetch_onehot_many(plan.windows["chrom"].to_numpy(), plan.windows["start"].to_numpy(), 131_072)
    bare, end_to_end = [], []
    with torch.inference_mode():
        model(torch.from_numpy(onehot[:4]))  # warm-up: fused weights, allocator
    for _ in range(rounds):
        tic = time.perf_counter()
        with torch.inference_mode():
            for b in range(0, windows, 4):
                model(torch.from_numpy(onehot[b : b + 4]))
        bare.append(windows / (time.perf_counter() - tic))
        with tempfile.TemporaryDirectory() as folder:
            tic = time.perf_counter()
            bz.tl.predict(regions, model, genome, store=f"{folder}/s.zarr", batch_size=4)
            end_to_end.append(windows / (time.perf_counter() - tic))
    return {
        "bare_windows_per_s": float(np.median(bare)),
        "predict_windows_per_s": float(np.median(end_to_end)),
        "ratio_of_medians": float(np.median(end_to_end) / np.median(bare)),
        "median_of_round_ratios": float(np.median(np.array(end_to_end) / np.array(bare))),
        "windows": windows,
        "rounds": rounds,
    }


def clustered_peaks(n: int = 30_000, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    chrom_sizes = {f"chr{i}": int(s) for i, s in enumerate(np.linspace(250e6, 50e6, 22), 1)}
    rows = []
    while len(rows) < n:
        chrom = rng.choice(list(chrom_sizes), p=np.array(list(chrom_sizes.values())) / sum(chrom_sizes.values()))
        centre = int(rng.integers(100_000, chrom_sizes[chrom] - 100_000))
        for _ in range(int(rng.integers(1, 13))):
            start = centre + int(rng.normal(0, 15_000))
            rows.append((chrom, start, start + int(rng.integers(200, 2_000))))
    peaks = pd.DataFrame(rows[:n], columns=["Chromosome", "Start", "End"])
    return peaks.sort_values(["Chromosome", "Start"], ignore_index=True)


def tiled_savings() -> dict:
    peaks = clustered_peaks()
    regions = bz.pp.regions(peaks)
    out = {"peaks": len(peaks)}
    for margin in (2_048, 4_096, 8_192):
        plan = bz.pp.plan_windows(regions, mode="tiled", margin=margin)
        out[f"tiled_windows_margin_{margin}"] = plan.n_windows
    out["centered_windows"] = len(peaks)
    out["saved_fraction_margin_4096"] = 1 - out["tiled_windows_margin_4096"] / len(peaks)
    return out


MEMORY_CHILD = """
import sys, tempfile, json
import numpy as np, pandas as pd, torch
import bazenji as bz
sys.path.insert(0, "benchmarks")
from bench_predict import random_genome, random_regions
bz.settings.progress = False
torch.manual_seed(0)
sequences = random_genome(4_000_000)
if sys.argv[1] == "human":
    config, mode = bz.models.Basenji2Config.human(), "tiled"
    starts = np.linspace(1_000_000, 2_200_000, 2000).astype(int)
    regions = pd.DataFrame({"Chromosome": "chr1", "Start": starts, "End": starts + 500})
else:
    config, mode = bz.models.Basenji2Config(stem_channels=16, tower_channels=(16,) * 6, bottleneck=8,
                                            final_channels=64, n_tracks=5313), "centered"
    regions = random_regions(sequences, 2000)
model = bz.models.Basenji2(config).eval()
def high_water_mb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024
before = high_water_mb()
with tempfile.TemporaryDirectory() as folder:
    adata = bz.tl.predict(regions, model, bz.io.Genome(sequences), store=f"{folder}/s.zarr", batch_size=4, mode=mode)
print(json.dumps({"model": sys.argv[1], "mode": mode, "windows": adata.uns["bazenji"]["windows"]["n_windows"],
                  "peak_rss_mb": high_water_mb(), "rss_before_predict_mb": before, "X_mb": adata.X.nbytes / 2**20,
                  "shape": list(adata.shape)}))
"""


def memory(which: str) -> dict:
    done = subprocess.run([sys.executable, "-c", MEMORY_CHILD, which], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--windows", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", choices=["speed", "tiled", "memory"], help="run one part")
    args = parser.parse_args()
    bz.settings.progress = False
    report = {
        "machine": platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads(),
        "date": time.strftime("%Y-%m-%d"),
    }
    if args.only in (None, "speed"):
        report["speed"] = speed(args.windows, args.rounds)
    if args.only in (None, "tiled"):
        report["tiled"] = tiled_savings()
    if args.only in (None, "memory"):
        report["memory"] = [memory("human"), memory("narrow")]
    print(json.dumps(report, indent=1))
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "MB peak in the parent")


if __name__ == "__main__":
    main()
