"""Training throughput (forward + backward + Adam step) of the demo and full human models, and data-loading share.

    python benchmarks/bench_train.py [--steps 3]

Times `bz.tl.train` on a window store of demo windows with targets (batch 2), and the same steps with the
store read replaced by batches already in memory; `data_wait_share` is the part of the epoch the model spent
waiting for its next batch, as `bz.tl.train` measures it (batches are read in a background thread).
The human model (5,313 tracks) gets random targets of its shape in memory.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import numpy as np
import torch

import bazenji as bz
from bazenji.tl._train import poisson_loss


def step_time(model, x, y, steps):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    model.train()
    times = []
    for _ in range(steps + 1):
        tic = time.perf_counter()
        loss = poisson_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - tic)
    return float(np.median(times[1:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    bz.settings.progress = False
    demo = bz.datasets.demo()
    genome = bz.io.Genome(demo.fasta)
    report = {"date": time.strftime("%Y-%m-%d %H:%M"), "torch_threads": torch.get_num_threads(), "batch": 2}
    with tempfile.TemporaryDirectory() as folder:
        store = f"{folder}/t.zarr"
        plan = bz.pp.tile_genome(genome, chroms=["chr3", "chr4"], stride=57_344)
        bz.pp.encode(plan, genome, store)
        bz.pp.import_bigwigs(store, targets=demo.targets)
        torch.manual_seed(0)
        model = bz.models.Basenji2(bz.datasets.demo_config())
        # The first call of a fresh process pays oneDNN's primitive creation and the allocator's first
        # touches (about 2 s here); timed apart so the steady rate compares like with like.
        tic = time.perf_counter()
        bz.tl.train(model, store, epochs=1, batch_size=2, steps_per_epoch=1, patience=None)
        first_call = time.perf_counter() - tic
        windows = 2 * min(args.steps, bz.store.open(store).sizes["window"] // 2)
        tic = time.perf_counter()
        history = bz.tl.train(model, store, epochs=1, batch_size=2, steps_per_epoch=args.steps, patience=None)
        with_loading = (time.perf_counter() - tic) / windows
        ds = bz.store.open(store)
        x = torch.as_tensor(ds["onehot"][:2].values)
        y = torch.as_tensor(ds["targets"][:2].values.astype(np.float32))
        in_memory = step_time(model, x, y, args.steps) / 2
    report["demo"] = {
        "first_call_s": first_call,
        "windows_per_s_train_call": 1 / with_loading,
        "windows_per_s_in_memory": 1 / in_memory,
        "data_and_overhead_share": max(0.0, 1 - in_memory / with_loading),
        "data_wait_share": float(history.metrics["data_wait_share"].iloc[0]),
    }
    human = bz.models.Basenji2()
    x = torch.as_tensor(np.eye(4, dtype=np.uint8)[np.random.default_rng(0).integers(0, 4, (2, 131_072))])
    y = torch.rand(2, 896, 5313)
    report["human"] = {"windows_per_s_in_memory": 2 / step_time(human, x, y, max(1, args.steps - 1))}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
