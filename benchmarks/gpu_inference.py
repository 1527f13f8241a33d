"""Basenji2 inference on a CUDA GPU: correctness against the CPU, speed against the bfloat16 convolution floor.

Checks, for the full human model with random weights (calibrated batch norms, as in bench_inference.py):

- float32 on the GPU (TF32 off) within 1e-4 relative error of float32 on the CPU;
- bfloat16 and float16 on the GPU: per-track Pearson R >= 0.999 against GPU float32;
- speed: seconds per window at several batch sizes, eager and replayed as a CUDA graph, with pinned
  host memory and non-blocking copies in and out, against the bfloat16 convolution floor (every
  convolution and the head alone at its real shape with torch.nn.functional, summed) on the same GPU.

Without a GPU it says so and exits 0. Run it with any environment that has torch with CUDA and bazenji::

    python benchmarks/gpu_inference.py --json gpu.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from bazenji.models import Basenji2, Basenji2Config

SEQ = 131_072


def random_onehot(batch: int, seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    onehot = np.eye(4, dtype=np.uint8)[rng.integers(0, 4, size=(batch, SEQ))]
    onehot[rng.random((batch, SEQ)) < 0.01] = 0
    return torch.as_tensor(onehot)


def signal_model(seed: int = 0, gelu: str = "sigmoid") -> Basenji2:
    """The human graph; batch norms drawn, calibrated on a random window, then perturbed (see bench_inference)."""
    torch.manual_seed(seed)
    model = Basenji2(Basenji2Config(gelu=gelu)).eval()
    generator = torch.Generator().manual_seed(seed + 1)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    with torch.no_grad():
        for bn in norms:
            bn.weight.copy_(0.5 + torch.rand(bn.num_features, generator=generator))
            bn.bias.copy_(0.2 * torch.randn(bn.num_features, generator=generator))
            bn.reset_running_stats()
            bn.momentum = None
            bn.train()
        model(random_onehot(1, seed + 100))
        for bn in norms:
            bn.eval()
            n = bn.num_features
            bn.running_mean.add_(0.2 * bn.running_var.sqrt() * torch.randn(n, generator=generator))
            bn.running_var.mul_(0.7 + 0.7 * torch.rand(n, generator=generator))
        model.head.bias.copy_(torch.randn(model.config.n_tracks, generator=generator) - 1)
    return model


def relative_error(out: torch.Tensor, ref: torch.Tensor) -> float:
    out, ref = out.double().cpu(), ref.double().cpu()
    return float((out - ref).norm() / ref.norm())


def min_track_pearson(out: torch.Tensor, ref: torch.Tensor) -> float:
    a = out.double().cpu().reshape(-1, out.shape[-1])
    b = ref.double().cpu().reshape(-1, ref.shape[-1])
    a, b = a - a.mean(0), b - b.mean(0)
    return float(((a * b).sum(0) / (a.norm(dim=0) * b.norm(dim=0))).min())


def cuda_time(fn, *, repeats: int, warmup: int = 3) -> list[float]:
    """Seconds of each of ``repeats`` calls, measured with CUDA events after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1000)
    return times


class Pipeline:
    """One batch size and dtype: pinned host buffers, non-blocking copies, optional CUDA graph replay."""

    def __init__(self, model, batch: int, dtype: torch.dtype, *, graph: bool) -> None:
        self.model, self.dtype = model, dtype
        config = model.config
        self.host_in = random_onehot(batch, seed=batch).pin_memory()
        self.host_out = torch.empty(batch, config.n_bins, config.n_tracks, pin_memory=True)
        self.device_in = torch.empty_like(self.host_in, device="cuda")
        self.graph = None
        if graph:
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream), torch.inference_mode():
                for _ in range(3):
                    self.device_out = model(self.device_in.to(dtype))
            torch.cuda.current_stream().wait_stream(stream)
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph), torch.inference_mode():
                self.device_out = model(self.device_in.to(dtype))

    def __call__(self) -> torch.Tensor:
        self.device_in.copy_(self.host_in, non_blocking=True)
        if self.graph is not None:
            self.graph.replay()
            out = self.device_out
        else:
            with torch.inference_mode():
                out = self.model(self.device_in.to(self.dtype))
        self.host_out.copy_(out, non_blocking=True)
        return self.host_out


def conv_floor(config, batch: int, dtype: torch.dtype, *, channels_last: bool) -> callable:
    """Every convolution and the head at its real shape, alone, with torch.nn.functional."""
    shapes, length, width = [(4, config.stem_channels, config.stem_kernel, 1, config.seq_length)], config.seq_length, 4
    length, width = length // config.pool_size, config.stem_channels
    for out in config.tower_channels:
        shapes.append((width, out, config.tower_kernel, 1, length))
        length, width = length // config.pool_size, out
    for dilation in config.dilations:
        shapes += [
            (width, config.bottleneck, config.res_kernel, dilation, length),
            (config.bottleneck, width, 1, 1, length),
        ]
    shapes.append((width, config.final_channels, 1, 1, config.n_bins))
    ops = []
    for c_in, c_out, k, d, n in shapes:
        x = torch.randn(batch, c_in, 1, n, device="cuda", dtype=dtype)
        w = torch.randn(c_out, c_in, 1, k, device="cuda", dtype=dtype) / (c_in * k) ** 0.5
        if channels_last:
            x, w = x.contiguous(memory_format=torch.channels_last), w.contiguous(memory_format=torch.channels_last)
            ops.append(lambda x=x, w=w, d=d, k=k: F.conv2d(x, w, padding=(0, d * (k - 1) // 2), dilation=(1, d)))
        else:
            x, w = x.squeeze(2), w.squeeze(2)
            ops.append(lambda x=x, w=w, d=d, k=k: F.conv1d(x, w, padding=d * (k - 1) // 2, dilation=d))
    emb = torch.randn(batch, config.n_bins, config.final_channels, device="cuda", dtype=dtype)
    head = torch.randn(config.n_tracks, config.final_channels, device="cuda", dtype=dtype) * 0.02
    ops.append(lambda: F.linear(emb, head))

    def run() -> None:
        with torch.inference_mode():
            for op in ops:
                op()

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", default="1,4,16", help="batch sizes to time")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile(model) (slow to build)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device: nothing to measure (this script needs a GPU; see benchmarks/RESULTS.md)")
        return
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = False  # float32 must stay float32 for the 1e-4 check
    torch.backends.cudnn.allow_tf32 = False
    device = torch.cuda.get_device_name()
    print(f"device: {device}; torch {torch.__version__}; {datetime.datetime.now().isoformat(timespec='seconds')}")
    results: dict = {"device": device, "torch": torch.__version__}

    model = signal_model()
    x = random_onehot(2, seed=5)
    with torch.inference_mode():
        cpu32 = model(x)
    model = model.cuda()
    with torch.inference_mode():
        gpu32 = model(x.cuda()).cpu()
        low = {name: model(x.cuda().to(dt)).cpu() for name, dt in (("bf16", torch.bfloat16), ("fp16", torch.float16))}
    checks = {
        "fp32 GPU vs CPU relative error": relative_error(gpu32, cpu32),
        "bf16 vs fp32 min per-track R": min_track_pearson(low["bf16"], gpu32),
        "fp16 vs fp32 min per-track R": min_track_pearson(low["fp16"], gpu32),
    }
    for name, value in checks.items():
        print(f"  {name}: {value:.3g}" if value < 0.01 else f"  {name}: {value:.6f}")
    results["checks"] = checks
    ok = (
        checks["fp32 GPU vs CPU relative error"] < 1e-4
        and min(checks["bf16 vs fp32 min per-track R"], checks["fp16 vs fp32 min per-track R"]) >= 0.999
    )
    print("correctness:", "PASS" if ok else "FAIL")

    timings = {}
    for batch in (int(b) for b in args.batches.split(",")):
        row = {}
        for dtype_name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16), ("fp16", torch.float16)):
            for graph in (False, True):
                pipe = Pipeline(model, batch, dtype, graph=graph)
                row[f"{dtype_name}{' graph' if graph else ''}"] = (
                    np.median(cuda_time(pipe, repeats=args.repeats)) / batch
                )
                del pipe
        for layout in (False, True):
            floor = conv_floor(model.config, batch, torch.bfloat16, channels_last=layout)
            row[f"floor bf16{' NHWC' if layout else ''}"] = np.median(cuda_time(floor, repeats=args.repeats)) / batch
        if args.compile:
            compiled = torch.compile(model, mode="max-autotune-no-cudagraphs")
            device_x = random_onehot(batch, seed=1).cuda().to(torch.bfloat16)

            def run_compiled(compiled=compiled, device_x=device_x):
                with torch.inference_mode():
                    compiled(device_x)

            start = time.perf_counter()
            run_compiled()
            row["compile seconds"] = time.perf_counter() - start
            row["bf16 compiled"] = np.median(cuda_time(run_compiled, repeats=args.repeats)) / batch
        timings[batch] = row
        best = min(v for k, v in row.items() if k.startswith("bf16"))
        print(
            f"batch {batch}: " + ", ".join(f"{k} {v * 1000:.2f} ms" for k, v in row.items() if k != "compile seconds")
        )
        print(f"  bf16 floor / best bf16 = {row['floor bf16'] / best:.2f} (fraction of the floor's speed reached)")
    results["seconds_per_window"] = timings
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=float))
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
