"""Train the demo model shipped in src/bazenji/datasets/demo_model (reproducible: fixed seeds, CPU).

    python scripts/train_demo_model.py [--epochs 40] [--out src/bazenji/datasets/demo_model]
    python scripts/train_demo_model.py --evaluate-only   # re-measure the shipped model's test numbers

Steps: generate the demo (seed 0), tile its genome into 131,072 bp windows (output spans every
16,384 bp), encode them into a window store, write the bigWig tracks as targets, hold out chr3
(validation, early stopping) and chr4 (test), train with the official recipe (Poisson loss,
reverse-complement and +-3 bp shift augmentation), evaluate on chr4 and save the model, its track
table, the training history and the test metrics. ``--evaluate-only`` skips training and rewrites the
test numbers of the shipped model against the demo as it is generated now (the numbers measured at
training time stay in ``metrics.json`` under ``at_training``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch

import bazenji as bz
from bazenji.datasets._model import demo_config


def test_metrics(model, store, split) -> dict:
    """Per-track, per-assay and mean Pearson R on the held-out windows, rounded as recorded."""
    result = bz.tl.evaluate(model, store, split=split)
    return {
        "split": "test (chr4)",
        "pearsonr_mean": round(float(result["pearsonr"].mean()), 3),
        "pearsonr_by_assay": result.groupby("assay", observed=True)["pearsonr"].mean().round(3).to_dict(),
        "pearsonr_by_track": result["pearsonr"].round(3).to_dict(),
    }


def evaluate_shipped(out: Path, work: Path) -> None:
    """Re-measure the shipped model on chr4 of the demo as generated now; keep the training-time numbers."""
    demo = bz.datasets.demo(seed=0)
    genome = bz.io.Genome(demo.fasta)
    store = work / "chr4.zarr"
    bz.pp.encode(bz.pp.tile_genome(genome, chroms=["chr4"], stride=16_384), genome, store, overwrite=True)
    bz.pp.import_bigwigs(store, targets=demo.targets)
    metrics = json.loads((out / "metrics.json").read_text())
    keys = ("split", "pearsonr_mean", "pearsonr_by_assay", "pearsonr_by_track")
    metrics.setdefault("at_training", {k: metrics[k] for k in keys})
    metrics.update(test_metrics(bz.models.load(out), store, split=None))
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    print(json.dumps({k: metrics[k] for k in keys[1:3]}, indent=1))


def main() -> None:
    """Build the training store, train, evaluate, save."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--stride", type=int, default=16_384)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--out", default=str(Path(__file__).parents[1] / "src" / "bazenji" / "datasets" / "demo_model"))
    parser.add_argument("--work", default=None, help="folder for the training store (temporary by default)")
    parser.add_argument("--evaluate-only", action="store_true", help="re-measure the shipped model, do not train")
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="bazenji-demo-train-"))
    if args.evaluate_only:
        evaluate_shipped(Path(args.out), work)
        return

    demo = bz.datasets.demo(seed=0)
    genome = bz.io.Genome(demo.fasta)
    store = work / "train.zarr"
    if not bz.store.is_store(store):
        plan = bz.pp.tile_genome(genome, stride=args.stride)
        bz.pp.encode(plan, genome, store)
        bz.pp.import_bigwigs(store, targets=demo.targets)
        bz.pp.split_by_chrom(store, valid=["chr3"], test=["chr4"])

    torch.manual_seed(0)
    model = bz.models.Basenji2(demo_config(), targets=bz.io.read_targets(demo.targets))
    history = bz.tl.train(
        model, store, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, warmup_steps=50,
        patience=8, checkpoint_dir=work / "checkpoints", resume=True, seed=0,
    )  # fmt: skip
    metrics = {
        **test_metrics(model, store, split="test"),
        "epochs_run": int(len(history.metrics)),
        "best_epoch": history.best_epoch,
        "train_windows_per_s": float(history.metrics["windows_per_s"].median()),
        "minutes": round(float(history.metrics["seconds"].sum()) / 60, 1),
        "command": "python scripts/train_demo_model.py " + " ".join(f"--{k} {v}" for k, v in
                                                                    {"epochs": args.epochs, "stride": args.stride,
                                                                     "lr": args.lr}.items()),
    }  # fmt: skip
    model.targets = model.targets.drop(columns=["file"], errors="ignore")
    out = Path(args.out)
    model.save(out, overwrite=True)
    history.metrics.to_csv(out / "history.tsv", sep="\t", index=False)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    print(json.dumps({k: v for k, v in metrics.items() if k != "pearsonr_by_track"}, indent=1))


if __name__ == "__main__":
    main()
