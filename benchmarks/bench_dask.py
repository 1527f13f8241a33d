"""bz.tl.predict in one process against a dask LocalCluster of 2 workers x 1 thread, on the demo model.

Prints, as markdown rows:

- wall time of predicting the same encoded store in one process (2 and 1 torch threads) and on the
  cluster (first call, which ships and builds the model on each worker, and later calls);
- the scheduler's overhead per chunk, from dask's task stream: the mean gap between one chunk's task
  ending on a worker and the next one starting there, and the delay from submitting to the first task
  starting (once per call); the worker time left idle at the end while the other worker finishes its
  last chunk (load imbalance, which shrinks with more chunks per worker); and the round trip of an
  empty named task on the same cluster;
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
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from distributed import Client, LocalCluster, get_task_stream

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
    wall = time.perf_counter() - tic
    return wall, {**adata.uns["bazenji"]["timings"], "dask": adata.uns["bazenji"].get("dask")}


def stream_overheads(stream: list[dict], submitted: float) -> dict:
    """Gaps between consecutive predict tasks per worker, the first start's delay and the idle tail."""
    spans: dict[str, list[tuple[float, float]]] = {}
    for task in stream:
        if not str(task["key"]).startswith("bazenji-predict-"):
            continue
        compute = [s for s in task["startstops"] if s["action"] == "compute"]
        spans.setdefault(task["worker"], []).append((compute[0]["start"], compute[-1]["stop"]))
    gaps = [b[0] - a[1] for runs in spans.values() for a, b in zip(sorted(runs), sorted(runs)[1:], strict=False)]
    ends = [max(stop for _, stop in runs) for runs in spans.values()]
    return {
        "tasks": sum(map(len, spans.values())),
        "gap_s": float(np.mean(gaps)) if gaps else 0.0,
        "first_start_s": min(start for runs in spans.values() for start, _ in runs) - submitted,
        "idle_tail_s": max(ends) - min(ends),
    }


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


def local_runs(store, model, threads: int, repeats: int) -> float:
    saved = torch.get_num_threads()
    bz.settings.n_threads = threads
    try:
        return min(timed_predict(store, model, client=False)[0] for _ in range(repeats))
    finally:
        bz.settings._n_threads = None
        torch.set_num_threads(saved)


def cluster_runs(store, model, n_workers: int, repeats: int, tmp: Path, human: bool) -> dict:
    with (
        LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        cold, _ = timed_predict(store, model, client=client)
        warm = []
        for _ in range(repeats):
            with get_task_stream(client) as stream:
                submitted = time.time()
                run = timed_predict(store, model, client=client)
            warm.append((*run, stream_overheads(stream.data, submitted)))
        wall, timings, gaps = min(warm, key=lambda run: run[0])
        tasks = timings["dask"]
        out = {
            "first_call_s": cold,
            "wall_s": wall,
            "model_s": timings["model_s"],
            "task_s": tasks["task_s"],
            "scheduler_gap_per_chunk_s": gaps["gap_s"],
            "first_task_delay_s": gaps["first_start_s"],
            "idle_tail_s": gaps["idle_tail_s"],
            "in_task_io_per_chunk_s": (tasks["task_s"] - timings["model_s"]) / tasks["tasks"],
            "model_per_chunk_s": timings["model_s"] / tasks["tasks"],
            "empty_task_s": empty_task_cost(client),
        }
        if human:
            out["transport"] = transport_times(client, tmp)
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
    r = {"model": model_note, "windows": len(regions), "chunk_windows": args.chunk, "chunks": n_chunks,
         "load_before": os.getloadavg()}  # fmt: skip
    cores = os.cpu_count()
    # local runs before and after the clusters, the best of each kept: the machine's load drifts
    local = {n: [local_runs(store, model, n, args.repeats)] for n in (cores, 1)}
    r["cluster_1"] = cluster_runs(store, model, 1, args.repeats, tmp, human=False)
    r["cluster_2"] = cluster_runs(store, model, 2, args.repeats, tmp, human=not args.skip_human)
    for n in (cores, 1):
        local[n].append(local_runs(store, model, n, args.repeats))
        r[f"local_{n}_threads_s"] = min(local[n])
    if not args.skip_human:
        r["human_window_s"] = human_window_seconds()
        r["human_chunk_s"] = r["human_window_s"] * DEFAULT_CHUNK_WINDOWS
        r["overhead_share_of_human_chunk"] = r["cluster_2"]["scheduler_gap_per_chunk_s"] / r["human_chunk_s"]
    r["load_after"] = os.getloadavg()
    shutil.rmtree(tmp, ignore_errors=True)

    print(f"demo: {r['model']}; {r['windows']} windows in {r['chunks']} chunks of {r['chunk_windows']}; "
          f"load average {r['load_before'][0]:.1f} -> {r['load_after'][0]:.1f}")  # fmt: skip
    print("| run | wall s | windows/s |\n|---|---|---|")
    rows = [(f"1 process, {cores} torch threads", r[f"local_{cores}_threads_s"]),
            ("1 process, 1 torch thread", r["local_1_threads_s"])]  # fmt: skip
    for n in (1, 2):
        c = r[f"cluster_{n}"]
        rows += [
            (f"{n} worker(s) x 1 thread, first call", c["first_call_s"]),
            (f"{n} worker(s) x 1 thread", c["wall_s"]),
        ]
    for name, wall in rows:
        print(f"| {name} | {wall:.2f} | {r['windows'] / wall:.1f} |")
    two = r["cluster_2"]
    print(f"2 workers vs 1 process: {r[f'local_{cores}_threads_s'] / two['wall_s']:.2f}x ({cores} threads), "
          f"{r['local_1_threads_s'] / two['wall_s']:.2f}x (1 thread); 2 workers vs 1 worker: "
          f"{r['cluster_1']['wall_s'] / two['wall_s']:.2f}x")  # fmt: skip
    for n in (1, 2):
        c = r[f"cluster_{n}"]
        ms = {k: v * 1e3 for k, v in c.items() if isinstance(v, float)}
        print(f"{n} worker(s), per chunk: model {ms['model_per_chunk_s']:.0f} ms, in-task read/aggregate/write "
              f"{ms['in_task_io_per_chunk_s']:.1f} ms, scheduler gap {ms['scheduler_gap_per_chunk_s']:.1f} ms; "
              f"first task {ms['first_task_delay_s']:.0f} ms after submission; idle tail {c['idle_tail_s']:.2f} s; "
              f"empty named task {ms['empty_task_s']:.2f} ms")  # fmt: skip
    if "human_window_s" in r:
        share = 100 * r["overhead_share_of_human_chunk"]
        print(f"human model: {r['human_window_s']:.2f} s per window, {r['human_chunk_s']:.1f} s per chunk of "
              f"{DEFAULT_CHUNK_WINDOWS}; scheduler gap = {share:.4f}% of it")  # fmt: skip
        for way, t in two["transport"].items():
            print(f"ship a human-size model to 2 workers by {way}: {t['total_s']:.2f} s")
    if args.json:
        args.json.write_text(json.dumps(r, indent=1))


if __name__ == "__main__":
    main()
