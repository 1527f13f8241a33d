"""bz.tl.predict in one process against a dask LocalCluster of 2 workers x 1 thread, on the demo model.

Prints, as markdown rows:

- wall time of predicting the same encoded store in one process (2 and 1 torch threads) and on the
  cluster (first call, which ships and builds the model on each worker, and later calls);
- the scheduler's overhead per chunk: worker time the cluster had (2 x wall) minus the time the tasks
  ran, per task; and the round trip of an empty named task on the same cluster;
- the full human Basenji2's model time per window on this CPU (random weights, float32), from which the
  overhead is expressed as a share of a default chunk (32 windows) of the human model;
- how long each way of shipping a human-size model (30M parameters) takes until every worker has built
  it: a saved bazenji directory loaded by each worker, the weights in the task graph (what
  ``bz.tl.predict`` does for a model object), and ``client.scatter(broadcast=True)``.

    python benchmarks/bench_dask.py [--windows 256] [--repeats 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from distributed import Client, LocalCluster

import bazenji as bz
from bazenji.models import Basenji2, Basenji2Config
from bazenji.pp._encode import DEFAULT_CHUNK_WINDOWS
from bazenji.tl import _dask


def demo_model():
    try:
        return bz.models.load("demo"), "the shipped demo model"
    except FileNotFoundError:
        torch.manual_seed(0)
        return Basenji2(bz.datasets.demo_config()).eval(), "demo architecture, random weights (no shipped model yet)"


def reset(store: Path) -> None:
    shutil.rmtree(store / "results", ignore_errors=True)


def timed_predict(store: Path, model, **kw) -> tuple[float, dict]:
    reset(store)
    tic = time.perf_counter()
    adata = bz.tl.predict(store, model, **kw)
    return time.perf_counter() - tic, adata.uns["bazenji"]["timings"]


def _noop(i):
    return i


def empty_task_cost(client, n: int = 400) -> float:
    """Seconds of worker time per empty named task (2 workers busy for the wall time)."""
    client.gather([client.submit(_noop, i, key=f"bazenji-noop-warm-{i}", pure=False) for i in range(20)])
    tic = time.perf_counter()
    futures = [client.submit(_noop, i, key=f"bazenji-noop-{i}", pure=False) for i in range(n)]
    client.gather(futures)
    wall = time.perf_counter() - tic
    return wall * len(client.scheduler_info()["workers"]) / n


def human_window_seconds(rounds: int = 2) -> float:
    torch.manual_seed(0)
    model = Basenji2(Basenji2Config.human()).eval()
    rng = np.random.default_rng(0)
    x = torch.from_numpy(np.eye(4, dtype=np.uint8)[rng.integers(0, 4, (1, model.config.seq_length))])
    with torch.inference_mode():
        model(x)  # builds the inference plan
        times = []
        for _ in range(rounds):
            tic = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - tic)
    return min(times)


def _ready(ref, weights):
    _dask.worker_model(ref, weights, torch.device("cpu"))
    return ref.fingerprint


def transport_times(client, tmp: Path) -> dict:
    """Seconds until every worker holds a built human-size model, per way of shipping it."""
    from bazenji.tl._predict import model_fingerprint

    torch.manual_seed(1)
    model = Basenji2(Basenji2Config.human()).eval()
    fingerprint = model_fingerprint(model)
    workers = list(client.scheduler_info()["workers"])
    out = {}

    def everywhere(ref, weights):
        futures = [
            client.submit(_ready, ref, weights, workers=[w], allow_other_workers=False, pure=False) for w in workers
        ]
        client.gather(futures)

    client.run(_dask.clear_worker_models)
    tic = time.perf_counter()
    path = model.save(tmp / "human")
    save_s = time.perf_counter() - tic
    everywhere(_dask.ModelRef(fingerprint, path=str(path)), None)
    out["path"] = {"total_s": time.perf_counter() - tic, "driver_save_s": save_s}

    client.run(_dask.clear_worker_models)
    tic = time.perf_counter()
    shared = _dask.share(client, _dask.ModelWeights.of(model), name="model", token=fingerprint)
    everywhere(_dask.ModelRef(fingerprint), shared)
    out["graph"] = {"total_s": time.perf_counter() - tic}
    shared.release()

    client.run(_dask.clear_worker_models)
    tic = time.perf_counter()
    scattered = client.scatter(_dask.ModelWeights.of(model), broadcast=True, hash=False)
    everywhere(_dask.ModelRef(fingerprint), scattered)
    out["scatter"] = {"total_s": time.perf_counter() - tic}
    scattered.release()
    client.run(_dask.clear_worker_models)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--windows", type=int, default=256)
    parser.add_argument("--chunk", type=int, default=DEFAULT_CHUNK_WINDOWS)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--skip-human", action="store_true")
    args = parser.parse_args()
    bz.settings.progress = False

    model, model_note = demo_model()
    demo = bz.datasets.demo()
    regions = demo.regions_table().iloc[: args.windows]
    tmp = Path(tempfile.mkdtemp(prefix="bench-dask-"))
    store = tmp / "w.zarr"
    bz.pp.encode(regions, demo.fasta, store, chunk_windows=args.chunk, model=model)
    n_chunks = -(-len(regions) // args.chunk)
    results = {"model": model_note, "windows": len(regions), "chunk_windows": args.chunk, "chunks": n_chunks}

    threads = torch.get_num_threads()
    for n in (threads, 1):
        bz.settings.n_threads = n
        runs = [timed_predict(store, model, client=False) for _ in range(args.repeats)]
        results[f"local_{n}_threads_s"] = min(wall for wall, _ in runs)
    bz.settings.n_threads = threads

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        cold, cold_timings = timed_predict(store, model, client=client)
        warm = [timed_predict(store, model, client=client) for _ in range(args.repeats)]
        wall, timings = min(warm, key=lambda run: run[0])
        tasks = timings["dask"]
        results.update(
            dask_first_call_s=cold,
            dask_s=wall,
            dask_model_s=timings["model_s"],
            dask_task_s=tasks["task_s"],
            scheduler_overhead_per_chunk_s=(2 * wall - tasks["task_s"]) / tasks["tasks"],
            in_task_io_per_chunk_s=(tasks["task_s"] - timings["model_s"]) / tasks["tasks"],
            model_per_chunk_s=timings["model_s"] / tasks["tasks"],
            empty_task_s=empty_task_cost(client),
        )
        if not args.skip_human:
            results["transport"] = transport_times(client, tmp)
    if not args.skip_human:
        results["human_window_s"] = human_window_seconds()
        results["human_chunk_s"] = results["human_window_s"] * DEFAULT_CHUNK_WINDOWS
        results["overhead_share_of_human_chunk"] = results["scheduler_overhead_per_chunk_s"] / results["human_chunk_s"]
    shutil.rmtree(tmp, ignore_errors=True)

    r = results
    print(f"demo: {r['model']}; {r['windows']} windows in {r['chunks']} chunks of {r['chunk_windows']}")
    print("| run | wall s | windows/s |\n|---|---|---|")
    for name, key in ((f"1 process, {threads} torch threads", f"local_{threads}_threads_s"),
                      ("1 process, 1 torch thread", "local_1_threads_s"),
                      ("2 workers x 1 thread, first call", "dask_first_call_s"),
                      ("2 workers x 1 thread", "dask_s")):  # fmt: skip
        print(f"| {name} | {r[key]:.2f} | {r['windows'] / r[key]:.1f} |")
    speedup = r[f"local_{threads}_threads_s"] / r["dask_s"]
    print(f"speed-up of the cluster over 1 process ({threads} threads): {speedup:.2f}x")
    print(f"per chunk: model {r['model_per_chunk_s'] * 1e3:.0f} ms, in-task read/aggregate/write "
          f"{r['in_task_io_per_chunk_s'] * 1e3:.1f} ms, scheduler {r['scheduler_overhead_per_chunk_s'] * 1e3:.1f} ms; "
          f"empty named task {r['empty_task_s'] * 1e3:.2f} ms")  # fmt: skip
    if "human_window_s" in r:
        share = 100 * r["overhead_share_of_human_chunk"]
        print(f"human model: {r['human_window_s']:.2f} s per window, {r['human_chunk_s']:.1f} s per chunk of "
              f"{DEFAULT_CHUNK_WINDOWS}; scheduler overhead = {share:.3f}% of it")  # fmt: skip
        for way, t in r["transport"].items():
            print(f"ship a human-size model to 2 workers by {way}: {t['total_s']:.2f} s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
