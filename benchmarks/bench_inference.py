"""Basenji2 inference on the CPU: bazenji against multimolecule, basenji2-pytorch and the convolution floor.

One full human model (131,072 bp in, 896 bins x 5,313 tracks out) gets random weights with non-trivial
batch-norm statistics in basenji2-pytorch's layout; the same weights are loaded into bazenji (through
``bz.models.load``) and converted into multimolecule's layout. Every implementation then predicts the
same batch-1 window in float32 and bfloat16, in alternating rounds after warm-up, and the medians are
compared with each other and with the convolution floor: every convolution and the dense head of the
model timed alone at its real shape with ``torch.nn.functional``, summed.

Run it in the benchmark environment (benchmarks/README.md)::

    benchmarks/.venv-bench/bin/python benchmarks/bench_inference.py

The peers are imported only here; without them installed the script times bazenji and the floor alone.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import bazenji as bz

warnings.filterwarnings("ignore", message=".*quantize_per_tensor.*")

SEQ_LENGTH = 131_072


# --- the reference weights -------------------------------------------------------------------------------------


def build_reference(seed: int = 0) -> torch.nn.Module:
    """basenji2-pytorch's human Basenji2 with random weights and calibrated, then perturbed, batch norms.

    Batch-norm scales and shifts are drawn first (gamma in [0.5, 1.5], beta ~ N(0, 0.2)); every batch norm
    then takes the statistics of its own input on a random sequence, so activations stay of order one
    through all 30 blocks as in a trained model, and those are perturbed (mean shifted by N(0, 0.2)
    standard deviations, variance scaled by [0.7, 1.4]). Convolution kernels keep torch's default
    initialisation; head biases are N(-1, 1).
    """
    from basenji2_pytorch import Basenji2, basenji2_params

    torch.manual_seed(seed)
    with contextlib.redirect_stdout(None):
        model = Basenji2(copy.deepcopy(basenji2_params["model"]))
    model.eval()
    generator = torch.Generator().manual_seed(seed + 1)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    with torch.no_grad():
        for bn in norms:
            bn.weight.copy_(0.5 + torch.rand(bn.num_features, generator=generator))
            bn.bias.copy_(0.2 * torch.randn(bn.num_features, generator=generator))
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average: after one batch the running statistics are that batch's
            bn.train()
        model(torch.as_tensor(random_onehot(1, seed=seed + 100)).float().transpose(1, 2))
        for bn in norms:
            bn.eval()
            n = bn.num_features
            bn.running_mean.add_(0.2 * bn.running_var.sqrt() * torch.randn(n, generator=generator))
            bn.running_var.mul_(0.7 + 0.7 * torch.rand(n, generator=generator))
        head = model.model.head.final.block[1]
        head.bias.copy_(torch.randn(head.bias.shape, generator=generator) - 1.0)
    return model


def calibrated_bazenji(seed: int = 0):
    """The same construction as :func:`build_reference` on bazenji's own model (when the peers are absent)."""
    from bazenji.models import Basenji2, Basenji2Config

    torch.manual_seed(seed)
    model = Basenji2(Basenji2Config(gelu="erf")).eval()
    generator = torch.Generator().manual_seed(seed + 1)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    with torch.no_grad():
        for bn in norms:
            bn.weight.copy_(0.5 + torch.rand(bn.num_features, generator=generator))
            bn.bias.copy_(0.2 * torch.randn(bn.num_features, generator=generator))
            bn.reset_running_stats()
            bn.momentum = None
            bn.train()
        model(torch.as_tensor(random_onehot(1, seed=seed + 100)))
        for bn in norms:
            bn.eval()
            n = bn.num_features
            bn.running_mean.add_(0.2 * bn.running_var.sqrt() * torch.randn(n, generator=generator))
            bn.running_var.mul_(0.7 + 0.7 * torch.rand(n, generator=generator))
        model.head.bias.copy_(torch.randn(model.config.n_tracks, generator=generator) - 1.0)
    return model


def random_onehot(batch: int, seed: int = 0, n_fraction: float = 0.01) -> np.ndarray:
    """Random ACGT one-hot ``(batch, 131072, 4)`` uint8 with about 1% N (all-zero) positions."""
    rng = np.random.default_rng(seed)
    onehot = np.eye(4, dtype=np.uint8)[rng.integers(0, 4, size=(batch, SEQ_LENGTH))]
    onehot[rng.random((batch, SEQ_LENGTH)) < n_fraction] = 0
    return onehot


def basenji2_pytorch_blocks(state: dict) -> list[str]:
    """basenji2-pytorch's convolution-block prefixes in execution order (stem, tower, residual pairs, final)."""
    tower = sorted({int(k.split(".")[4]) for k in state if k.startswith("model.trunk.1.tower.")})
    res = sorted({int(k.split(".")[4]) for k in state if k.startswith("model.trunk.2.block.")})
    blocks = ["model.trunk.0.block", *(f"model.trunk.1.tower.{i}.block" for i in tower)]
    for i in res:
        blocks += [f"model.trunk.2.block.{i}.module.0.block", f"model.trunk.2.block.{i}.module.1.block"]
    return [*blocks, "model.trunk.4.block"]


def to_multimolecule(reference: torch.nn.Module) -> torch.nn.Module:
    """The same weights in multimolecule's ``BasenjiForTokenPrediction`` (its N input column set to zero)."""
    from multimolecule import BasenjiConfig, BasenjiForTokenPrediction

    state = reference.state_dict()
    model = BasenjiForTokenPrediction(BasenjiConfig()).eval()
    theirs = ["model.encoder.stem", *(f"model.encoder.conv_tower.{i}" for i in range(6))]
    for i in range(11):
        theirs += [f"model.encoder.blocks.{i}.conv1", f"model.encoder.blocks.{i}.conv2"]
    theirs.append("model.encoder.head")
    mapped = {
        "token_head.decoder.weight": state["model.head.final.block.1.weight"],
        "token_head.decoder.bias": state["model.head.final.block.1.bias"],
    }
    for ours, prefix in zip(basenji2_pytorch_blocks(state), theirs, strict=True):
        weight = state[f"{ours}.1.weight"]
        if prefix == "model.encoder.stem":
            weight = torch.cat([weight, torch.zeros_like(weight[:, :1])], dim=1)
        mapped[f"{prefix}.conv1.weight"] = weight
        for field in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
            mapped[f"{prefix}.batch_norm1.{field}"] = state[f"{ours}.2.{field}"]
    missing, unexpected = model.load_state_dict(mapped, strict=False)
    if missing or unexpected:
        raise RuntimeError(f"multimolecule conversion: missing {missing[:5]}, unexpected {unexpected[:5]}")
    return model


# --- the implementations as callables on a one-hot batch ---------------------------------------------------------


def bazenji_runner(model, dtype: torch.dtype) -> Callable[[torch.Tensor], torch.Tensor]:
    def run(onehot: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return model(onehot.to(dtype))

    return run


def module_path_runner(model, dtype: torch.dtype) -> Callable[[torch.Tensor], torch.Tensor]:
    """bazenji before this benchmark's work: per-block batch-norm folding, ``(batch, channels, length)``
    convolutions through the modules, head in float32 (the model's own code path as of commit a4b00c3)."""
    from bazenji.models import gelu

    def run(onehot: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            x = onehot.to(dtype).transpose(1, 2)
            stream = model.tower(model.stem(x)).float()
            for unit in model.residual:
                stream = stream + unit.project(unit.dilated(stream.to(dtype))).float()
            crop = model.config.crop_bins
            embedding = gelu(model.final(stream[:, :, crop:-crop].to(dtype)), model.config.gelu).transpose(1, 2)
            return F.softplus(F.linear(embedding.float(), model.head.weight, model.head.bias))

    return run


def optimized_runner(model) -> Callable[[torch.Tensor], torch.Tensor]:
    def run(onehot: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return model(onehot)

    return run


def basenji2_pytorch_runner(model, dtype: torch.dtype) -> Callable[[torch.Tensor], torch.Tensor]:
    model = copy.deepcopy(model).to(dtype)

    def run(onehot: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return model(onehot.to(dtype).transpose(1, 2)).float()

    return run


def multimolecule_runner(model, dtype: torch.dtype) -> Callable[[torch.Tensor], torch.Tensor]:
    model = copy.deepcopy(model).to(dtype)

    def run(onehot: torch.Tensor) -> torch.Tensor:
        embeds = F.pad(onehot.to(dtype), (0, 1))  # the N column, zero under the all-zero N convention
        with torch.inference_mode():
            return F.softplus(model(inputs_embeds=embeds).logits.float())

    return run


def conv_floor(config, dtype: torch.dtype, batch: int = 1, *, channels_last: bool = False) -> Callable[[], float]:
    """Every convolution and the head at its real shape with torch.nn.functional; returns the summed seconds.

    The floor of the issue is ``F.conv1d`` on ``(batch, channels, length)`` tensors, whose time includes
    oneDNN's reorders into and out of its own layout. ``channels_last`` times ``F.conv2d`` on
    channels-last tensors instead, the layout bazenji computes in: the convolutions' own cost, so the
    ratio to it is what everything else (activations, pooling, casts, Python) adds.
    """
    shapes, length, width = [], config.seq_length, 4
    shapes.append((width, config.stem_channels, config.stem_kernel, 1, length))
    length, width = length // config.pool_size, config.stem_channels
    for out in config.tower_channels:
        shapes.append((width, out, config.tower_kernel, 1, length))
        length, width = length // config.pool_size, out
    for dilation in config.dilations:
        shapes.append((width, config.bottleneck, config.res_kernel, dilation, length))
        shapes.append((config.bottleneck, width, 1, 1, length))
    shapes.append((width, config.final_channels, 1, 1, config.n_bins))
    generator = torch.Generator().manual_seed(0)
    ops = []
    for c_in, c_out, kernel, dilation, n in shapes:
        x = torch.randn(batch, c_in, n, generator=generator).to(dtype)
        w = (torch.randn(c_out, c_in, kernel, generator=generator) / (c_in * kernel) ** 0.5).to(dtype)
        if channels_last:
            x = x.unsqueeze(2).contiguous(memory_format=torch.channels_last)
            w = w.unsqueeze(2).contiguous(memory_format=torch.channels_last)
            ops.append(
                lambda x=x, w=w, d=dilation, k=kernel: F.conv2d(x, w, padding=(0, d * (k - 1) // 2), dilation=(1, d))
            )
        else:
            ops.append(lambda x=x, w=w, d=dilation, k=kernel: F.conv1d(x, w, padding=d * (k - 1) // 2, dilation=d))
    embedding = torch.randn(batch, config.n_bins, config.final_channels, generator=generator).to(dtype)
    head_w = (torch.randn(config.n_tracks, config.final_channels, generator=generator) * 0.02).to(dtype)
    head_b = torch.zeros(config.n_tracks).to(dtype)
    ops.append(lambda: F.linear(embedding, head_w, head_b))

    def run() -> float:
        total = 0.0
        with torch.inference_mode():
            for op in ops:
                start = time.perf_counter()
                op()
                total += time.perf_counter() - start
        return total

    return run


# --- measurements --------------------------------------------------------------------------------------------------


def alternate(runners: dict[str, Callable], onehot: torch.Tensor, *, rounds: int, warmup: int) -> dict[str, list]:
    """Seconds per call of every runner, in alternating rounds (the order rotates each round) after warm-up."""
    names = list(runners)
    for name in names:
        for _ in range(warmup):
            call(runners[name], onehot)
    times: dict[str, list] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            times[name].append(call(runners[name], onehot))
        print(f"  round {r + 1}/{rounds}: " + ", ".join(f"{n} {times[n][-1]:.3f}" for n in names), flush=True)
    return times


def call(runner: Callable, onehot: torch.Tensor) -> float:
    if getattr(runner, "is_floor", False):
        return runner()
    start = time.perf_counter()
    runner(onehot)
    return time.perf_counter() - start


def relative_error(out: torch.Tensor, ref: torch.Tensor) -> float:
    """Norm-wise relative error ``||out - ref|| / ||ref||`` in float64."""
    out, ref = out.double(), ref.double()
    return float((out - ref).norm() / ref.norm())


def max_relative_error(out: torch.Tensor, ref: torch.Tensor) -> float:
    """Largest elementwise error relative to the reference's largest magnitude."""
    out, ref = out.double(), ref.double()
    return float((out - ref).abs().max() / ref.abs().max())


def min_track_pearson(out: torch.Tensor, ref: torch.Tensor) -> float:
    """Smallest Pearson R over tracks, correlating bins (and windows) of ``out`` and ``ref``."""
    a = out.double().reshape(-1, out.shape[-1])
    b = ref.double().reshape(-1, ref.shape[-1])
    a, b = a - a.mean(0), b - b.mean(0)
    r = (a * b).sum(0) / (a.norm(dim=0) * b.norm(dim=0))
    return float(r.min())


def high_water_kib() -> int:
    """Peak resident memory of this process (VmHWM; unlike ru_maxrss it does not inherit the parent's peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def memory_child(args) -> None:
    """Run in a fresh process: load, predict one batch, print the peak resident memory as JSON."""
    base = high_water_kib()
    model = bz.models.load(args.memory_child_model)
    dtype = getattr(torch, args.memory_child_dtype)
    if args.memory_child_quantize:
        model = bz.models.optimize(model, dtype=dtype, quantize=args.memory_child_quantize)
    loaded = high_water_kib()
    onehot = torch.as_tensor(random_onehot(args.memory_batch, seed=7))
    with torch.inference_mode():
        out = model(onehot if args.memory_child_quantize else onehot.to(dtype))
    peak = high_water_kib()
    print(json.dumps({"import_kib": base, "loaded_kib": loaded, "peak_kib": peak, "shape": list(out.shape)}))


def peak_memory(model_path: Path, dtype: str, batch: int, quantize: str | None = None) -> dict:
    command = [sys.executable, __file__, "--memory-child-model", str(model_path), "--memory-child-dtype", dtype,
               "--memory-batch", str(batch), "--threads", str(torch.get_num_threads())]  # fmt: skip
    if quantize:
        command += ["--memory-child-quantize", quantize]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def machine() -> str:
    name = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    return f"{name}, {os.cpu_count()} logical CPUs, torch {torch.__version__}, {torch.get_num_threads()} threads"


# --- main ----------------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="alternating timed rounds (medians reported)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls of each implementation first")
    parser.add_argument("--memory-batch", type=int, default=4, help="batch size of the peak-memory runs")
    parser.add_argument("--no-peers", action="store_true", help="time bazenji and the floor only")
    parser.add_argument("--no-int8", action="store_true", help="leave out bazenji's optional int8 path")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    parser.add_argument("--no-before", action="store_true", help="leave out bazenji's pre-optimisation path")
    parser.add_argument("--compile", action="store_true", help="also time bz.models.optimize(compile=True), bf16")
    parser.add_argument("--threads", type=int, help="torch threads for every implementation (default: torch's)")
    parser.add_argument("--json", type=Path, help="also write every number to this JSON file")
    parser.add_argument("--memory-child-model", help=argparse.SUPPRESS)
    parser.add_argument("--memory-child-dtype", help=argparse.SUPPRESS)
    parser.add_argument("--memory-child-quantize", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory_child_model:
        memory_child(args)
        return

    peers = not args.no_peers
    if peers:
        try:
            import basenji2_pytorch  # noqa: F401
            import multimolecule  # noqa: F401
        except ImportError as err:
            print(f"peers not installed ({err}); timing bazenji and the floor only (see benchmarks/README.md)")
            peers = False
    print(f"machine: {machine()}")
    print(f"date: {datetime.datetime.now().isoformat(timespec='seconds')}")
    workdir = Path(tempfile.mkdtemp(prefix="bazenji-bench-"))
    onehot = torch.as_tensor(random_onehot(1, seed=1))

    if peers:
        reference = build_reference()
        weights = workdir / "basenji2.pth"
        torch.save(reference.state_dict(), weights)
        model = bz.models.load(weights)  # erf GELU, as basenji2-pytorch computes
        model_tanh = bz.models.load(weights, gelu="tanh")  # as multimolecule computes
        mm = to_multimolecule(reference)
    else:
        model, model_tanh = calibrated_bazenji(), None
    saved = model.save(workdir / "bazenji")
    config = model.config

    runners: dict[str, Callable] = {
        "bazenji fp32": bazenji_runner(model, torch.float32),
        "bazenji bf16": bazenji_runner(model, torch.bfloat16),
    }
    if not args.no_before:
        runners["bazenji before fp32"] = module_path_runner(model, torch.float32)
        runners["bazenji before bf16"] = module_path_runner(model, torch.bfloat16)
    int8 = None
    if not args.no_int8 and hasattr(bz.models, "optimize"):
        int8 = bz.models.optimize(model, quantize="int8", calibration=torch.as_tensor(random_onehot(2, seed=11)))
        runners["bazenji int8"] = optimized_runner(int8)
    if args.compile:
        compiled = bz.models.optimize(model, dtype=torch.bfloat16, compile=True)
        start = time.perf_counter()
        compiled(onehot)
        print(f"torch.compile of the bfloat16 plan: first call {time.perf_counter() - start:.0f} s")
        runners["bazenji bf16 compiled"] = optimized_runner(compiled)
    if peers:
        runners["basenji2-pytorch fp32"] = basenji2_pytorch_runner(reference, torch.float32)
        runners["basenji2-pytorch bf16"] = basenji2_pytorch_runner(reference, torch.bfloat16)
        runners["multimolecule fp32"] = multimolecule_runner(mm, torch.float32)
        runners["multimolecule bf16"] = multimolecule_runner(mm, torch.bfloat16)
    floors = [(torch.float32, "floor fp32", False), (torch.bfloat16, "floor bf16", False)]
    floors += [(torch.float32, "floor fp32 NLC", True), (torch.bfloat16, "floor bf16 NLC", True)]
    for dtype, name, layout in floors:
        runners[name] = conv_floor(config, dtype, channels_last=layout)
        runners[name].is_floor = True

    print(f"timing {len(runners)} implementations, batch 1, {args.rounds} alternating rounds, {args.warmup} warm-up")
    times = alternate(runners, onehot, rounds=args.rounds, warmup=args.warmup)
    median = {name: float(np.median(t)) for name, t in times.items()}

    # agreement, each on a fresh call
    outputs = {}
    check = torch.as_tensor(random_onehot(1, seed=2))
    for name, runner in runners.items():
        if not getattr(runner, "is_floor", False):
            outputs[name] = runner(check).float()
    with torch.no_grad():
        unfused = model(check)  # eval mode outside inference mode: the plain module path, batch norm unfolded
    agreement = {
        "bazenji before fp32 vs unfused (rel. err)": relative_error(outputs["bazenji before fp32"], unfused)
        if "bazenji before fp32" in outputs
        else float("nan"),
        "bazenji fp32 vs unfused bazenji (rel. err)": relative_error(outputs["bazenji fp32"], unfused),
        "bazenji fp32 vs unfused bazenji (max rel. err)": max_relative_error(outputs["bazenji fp32"], unfused),
        "bazenji bf16 vs fp32 (min per-track R)": min_track_pearson(outputs["bazenji bf16"], outputs["bazenji fp32"]),
    }
    if "bazenji bf16 compiled" in outputs:
        agreement["bazenji bf16 compiled vs fp32 (min per-track R)"] = min_track_pearson(
            outputs["bazenji bf16 compiled"], outputs["bazenji fp32"]
        )
    if int8 is not None:
        agreement["bazenji int8 vs fp32 (min per-track R)"] = min_track_pearson(
            outputs["bazenji int8"], outputs["bazenji fp32"]
        )
    if peers:
        with torch.inference_mode():
            tanh_out = model_tanh(check)
        agreement.update({
            "bazenji fp32 (erf) vs basenji2-pytorch fp32 (rel. err)": relative_error(
                outputs["bazenji fp32"], outputs["basenji2-pytorch fp32"]),
            "bazenji fp32 (erf) vs basenji2-pytorch fp32 (max rel. err)": max_relative_error(
                outputs["bazenji fp32"], outputs["basenji2-pytorch fp32"]),
            "bazenji fp32 (tanh) vs multimolecule fp32 (rel. err)": relative_error(
                tanh_out, outputs["multimolecule fp32"]),
            "bazenji fp32 (tanh) vs multimolecule fp32 (max rel. err)": max_relative_error(
                tanh_out, outputs["multimolecule fp32"]),
            "basenji2-pytorch bf16 vs fp32 (min per-track R)": min_track_pearson(
                outputs["basenji2-pytorch bf16"], outputs["basenji2-pytorch fp32"]),
            "multimolecule bf16 vs fp32 (min per-track R)": min_track_pearson(
                outputs["multimolecule bf16"], outputs["multimolecule fp32"]),
        })  # fmt: skip
    spread = outputs["bazenji fp32"][0].std(0).div(outputs["bazenji fp32"][0].mean(0)).median()
    agreement["output spread across bins (median coefficient of variation)"] = float(spread)

    memory = {}
    if not args.no_memory:
        for dtype in ("float32", "bfloat16"):
            memory[f"bazenji {dtype}"] = peak_memory(saved, dtype, args.memory_batch)
        if int8 is not None:
            memory["bazenji int8"] = peak_memory(saved, "float32", args.memory_batch, quantize="int8")

    report(median, times, agreement, memory, args.memory_batch)
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "median_s": median, "times_s": times,
                                         "agreement": agreement, "memory": memory}, indent=1))  # fmt: skip


def report(median: dict, times: dict, agreement: dict, memory: dict, batch: int) -> None:
    peers32 = {k: v for k, v in median.items() if k.endswith("fp32") and not k.startswith(("bazenji", "floor"))}
    fastest_peer = min(peers32, key=peers32.get) if peers32 else None
    print("\nseconds per 131,072 bp window (batch 1), medians of alternating rounds, and ratios of the medians")
    columns = [c for c in ("floor fp32", "floor bf16", "floor fp32 NLC", "floor bf16 NLC", fastest_peer) if c in median]
    print(f"{'implementation':24s} {'median s':>9s} {'min s':>7s}" + "".join(f" {'/' + c:>16s}" for c in columns))
    for name, value in median.items():
        row = f"{name:24s} {value:9.3f} {min(times[name]):7.3f}"
        print(row + "".join(f" {value / median[c]:16.2f}" for c in columns))
    print(
        "\nmedian over rounds of the ratio within each round (steadier than the ratio of medians under drifting load)"
    )
    print(f"{'implementation':24s}" + "".join(f" {'/' + c:>16s}" for c in columns))
    for name in (k for k in median if k.startswith("bazenji")):
        ratios = [float(np.median(np.divide(times[name], times[c]))) for c in columns]
        print(f"{name:24s}" + "".join(f" {r:16.2f}" for r in ratios))
    if peers32:
        print("\nbazenji against each peer (median ratio)")
        for ours in (k for k in median if k.startswith("bazenji")):
            for peer in (k for k in median if not k.startswith(("bazenji", "floor"))):
                print(f"  {ours} / {peer}: {median[ours] / median[peer]:.2f}")
    print("\nagreement")
    for name, value in agreement.items():
        print(f"  {name}: {value:.3g}" if value < 1e-2 else f"  {name}: {value:.6f}")
    if memory:
        print(f"\npeak resident memory of a fresh process predicting a batch of {batch} windows")
        for name, m in memory.items():
            print(f"  {name}: peak {m['peak_kib'] / 2**20:.2f} GiB (after loading {m['loaded_kib'] / 2**20:.2f} GiB)")


if __name__ == "__main__":
    main()
