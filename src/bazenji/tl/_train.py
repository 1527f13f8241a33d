"""Training and fine-tuning Basenji2 on a window store with ``targets``, and per-track evaluation."""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from .. import store as bz_store
from .._settings import settings
from ..io.targets import strand_partners
from ..models import Basenji2, load
from ..store._batches import prefetched
from ._embeddings import EMBEDDING, check_embeddings, head_forward

logger = logging.getLogger("bazenji")

LOSSES = ("poisson", "poisson_multinomial")


def poisson_loss(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Keras' Poisson loss, the official Basenji2 loss: ``mean(pred - target * log(pred + eps))``."""
    return (pred - target * torch.log(pred + eps)).mean()


def poisson_multinomial_loss(
    pred: torch.Tensor, target: torch.Tensor, *, total_weight: float = 1.0, eps: float = 1e-6
) -> torch.Tensor:
    """The official Poisson-multinomial loss: Poisson on each track's total plus multinomial on its shape."""
    pred, target = pred + eps, target + eps
    n_bins = pred.shape[1]
    pred_total, target_total = pred.sum(1), target.sum(1)
    poisson_term = (pred_total - target_total * torch.log(pred_total)) / n_bins
    multinomial_term = -(target * torch.log(pred / pred_total[:, None])).sum(1) / n_bins
    return (multinomial_term + total_weight * poisson_term).mean()


def pearson_per_track(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Pearson R per track over all windows and bins (``(..., tracks)`` arrays), as basenji_test reports."""
    pred = pred.reshape(-1, pred.shape[-1]).astype(np.float64)
    target = target.reshape(-1, target.shape[-1]).astype(np.float64)
    pred = pred - pred.mean(0)
    target = target - target.mean(0)
    denominator = np.sqrt((pred**2).sum(0) * (target**2).sum(0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (pred * target).sum(0) / denominator, np.nan)


@dataclass
class History:
    """What :func:`train` did: one row of metrics per epoch and where the best model is."""

    metrics: pd.DataFrame = field(default_factory=pd.DataFrame)
    best_epoch: int | None = None
    checkpoint_dir: str | None = None

    def to_dict(self) -> dict:
        """JSON-ready form (stored next to the checkpoints)."""
        return {"metrics": self.metrics.to_dict(orient="list"), "best_epoch": self.best_epoch,
                "checkpoint_dir": self.checkpoint_dir}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict) -> History:
        """Inverse of :meth:`to_dict`."""
        return cls(pd.DataFrame(data["metrics"]), data.get("best_epoch"), data.get("checkpoint_dir"))

    def _repr_html_(self) -> str:
        return self.metrics._repr_html_()


def _split_windows(dataset, split: str) -> np.ndarray:
    if "split" not in dataset:
        return np.arange(dataset.sizes["window"]) if split == "train" else np.array([], dtype=np.int64)
    return np.flatnonzero(np.asarray(dataset["split"].values, dtype=object) == split)


def _batches(dataset, windows: np.ndarray, batch_size: int, *, inputs: str = "onehot"):
    """(inputs, targets) numpy batches in the order of ``windows``; reads sorted runs so zarr chunks are reused."""
    source, targets = dataset[inputs], dataset["targets"]
    for start in range(0, len(windows), batch_size):
        index = windows[start : start + batch_size]
        order = np.argsort(index)
        x = np.asarray(source[np.sort(index)].values)
        y = np.asarray(targets[np.sort(index)].values, dtype=np.float32)
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        yield x[inverse], y[inverse]


def _augment(x: torch.Tensor, y: torch.Tensor, rng: np.random.Generator, *, rc: bool, shift: int, pairs):
    if shift:
        s = int(rng.integers(-shift, shift + 1))
        if s:
            shifted = torch.zeros_like(x)
            if s > 0:
                shifted[:, s:] = x[:, :-s]
            else:
                shifted[:, :s] = x[:, -s:]
            x = shifted
    if rc and rng.random() < 0.5:
        x = x.flip(1, 2)
        y = y.flip(1)
        if pairs is not None:
            y = y[..., torch.as_tensor(pairs)]
    return x, y


def evaluate(model, store, *, split: str | None = "test", windows=None, batch_size: int | None = None,
             device: str | None = None) -> pd.DataFrame:  # fmt: skip
    """Per-track Pearson R of ``model`` on the ``targets`` of a window store, joined to the track table.

    Parameters
    ----------
    model
        A :class:`~bazenji.models.Basenji2` or anything :func:`bazenji.models.load` accepts.
    store
        A window store (path or opened dataset) with a ``targets`` variable.
    split
        Windows whose ``split`` variable has this value (all windows when the store has no split, or None).
    windows
        Explicit window positions (instead of ``split``).
    batch_size, device
        Defaults from :data:`bazenji.settings`.

    Returns
    -------
    One row per track: ``pearsonr`` (over all windows and bins, as basenji_test computes it), ``r2``
    (squared), ``mean_observed``, ``mean_predicted`` and the track table's columns.
    """
    model = model if isinstance(model, Basenji2) else load(model)
    dataset = bz_store.open(store) if not hasattr(store, "sizes") else store
    bz_store.check_complete(dataset)
    if "targets" not in dataset:
        raise ValueError(f"{store} has no 'targets' variable; add tracks with bz.pp.import_bigwigs first")
    bz_store.check_targets(dataset)
    if windows is None:
        windows = np.arange(dataset.sizes["window"]) if split is None or "split" not in dataset else (
            _split_windows(dataset, split)
        )  # fmt: skip
    windows = np.asarray(windows, dtype=np.int64)
    if windows.size == 0:
        raise ValueError(f"no windows to evaluate (split={split!r}); expected a non-empty selection")
    torch_device = settings.resolve_device(device)
    model = model.to(torch_device).eval()
    preds, targets = [], []
    with torch.inference_mode():
        for x, y in _batches(dataset, windows, batch_size or settings.batch_size):
            preds.append(model(torch.from_numpy(x).to(torch_device)).cpu().numpy())
            targets.append(y)
    pred, target = np.concatenate(preds), np.concatenate(targets)
    r = pearson_per_track(pred, target)
    table = model.targets if model.targets is not None else pd.DataFrame(index=model.track_names)
    result = pd.DataFrame(
        {"pearsonr": r, "r2": r**2, "mean_observed": target.mean((0, 1)), "mean_predicted": pred.mean((0, 1))},
        index=table.index.astype(str),
    )
    return result.join(table.drop(columns=[c for c in result.columns if c in table.columns]))


def _lr_at(step: int, lr: float, warmup_steps: int) -> float:
    return lr * min(1.0, (step + 1) / warmup_steps) if warmup_steps else lr


def _save_checkpoint(directory: Path, model: Basenji2, optimizer, history: History, state: dict) -> None:
    model.save(directory / "last", overwrite=True)
    torch.save({"optimizer": optimizer.state_dict(), **state}, directory / "last" / "trainer.pt")
    (directory / "history.json").write_text(json.dumps(history.to_dict(), default=float))


def train(
    model,
    store,
    *,
    valid=None,
    epochs: int = 10,
    batch_size: int | None = None,
    optimizer: str = "adam",
    lr: float = 1e-3,
    momentum: float = 0.99,
    warmup_steps: int = 0,
    clip_norm: float | None = 2.0,
    loss: str = "poisson",
    augment_rc: bool | None = None,
    augment_shift: int | None = None,
    patience: int | None = 5,
    freeze_trunk: bool = False,
    from_embeddings: bool = False,
    steps_per_epoch: int | None = None,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    seed: int = 0,
    device: str | None = None,
) -> History:
    """Train ``model`` (in place) on the ``targets`` of a window store.

    The official recipe by default: Poisson loss on the softplus output, Adam, gradient-norm clipping,
    reverse-complement and +-3 bp shift augmentation, early stopping on the validation Pearson R.

    Parameters
    ----------
    model
        The :class:`~bazenji.models.Basenji2` to train (modified in place; its best weights are restored).
    store
        Window store (path or dataset) with ``onehot`` (or ``embedding``) and ``targets``; ``split == "train"``
        windows are used when it has a ``split`` variable (see :func:`bazenji.pp.split_by_chrom`).
    valid
        Validation windows: a store, or None for the store's ``split == "valid"`` windows (none: no early stop).
    epochs, batch_size, steps_per_epoch
        Passes over the training windows, windows per step, and an optional cap on steps per epoch.
    optimizer, lr, momentum, warmup_steps, clip_norm
        ``"adam"`` or ``"sgd"`` (with ``momentum``), the learning rate reached after a linear warm-up,
        and the gradient-norm clip (None: off).
    loss
        ``"poisson"`` or ``"poisson_multinomial"``.
    augment_rc, augment_shift
        Random reverse complement (targets reversed, strand pairs swapped) and shift of up to this many bp;
        by default on and 3 bp, off with ``from_embeddings`` (where asking for them is an error).
    patience
        Epochs without a better validation R before stopping (None: never stop early).
    freeze_trunk
        Train only the head (fine-tuning a new track set on a pretrained trunk, see
        :meth:`~bazenji.models.Basenji2.replace_head`); the trunk's batch-norm statistics stay fixed too.
    from_embeddings
        Train only the head from the trunk embeddings cached in the store by :func:`cache_embeddings`
        (and in ``valid``, which then needs its own cache): no trunk forward pass, so an epoch costs a read
        of the cache and one linear layer. Implies ``freeze_trunk``. There is no augmentation (the cache
        holds the stored one-hot's embeddings only), so ``augment_rc``/``augment_shift`` are refused.
        Loss, optimizer, checkpoints, history and early stopping are those of the one-hot path, and the
        validation Pearson R comes from the cached validation embeddings. Embeddings made by a different
        trunk (by trunk-weight fingerprint; the head may differ) or an unfinished cache are refused.
    checkpoint_dir, resume
        A checkpoint (bazenji format + optimizer state + history) is written after every epoch; with
        ``resume`` training continues from the last one. A checkpoint of another architecture is refused.
    seed
        Makes runs repeatable on CPU (window order, augmentation, dropout).
    device
        Default from :data:`bazenji.settings`.

    Returns
    -------
    :class:`History` with a metrics table per epoch (loss, validation loss, mean and per-assay Pearson R,
    learning rate, seconds, windows/s, and ``data_wait_share``: the fraction of the epoch the model waited
    for the next batch; batches are read and decompressed in a background thread while the model trains).
    """
    if loss not in LOSSES:
        raise ValueError(f"loss={loss!r}; expected one of {LOSSES}")
    if optimizer not in ("adam", "sgd"):
        raise ValueError(f"optimizer={optimizer!r}; expected 'adam' or 'sgd'")
    if from_embeddings:
        asked = {k: v for k, v in {"augment_rc": augment_rc, "augment_shift": augment_shift}.items() if v}
        if asked:
            raise ValueError(
                f"{', '.join(f'{k}={v!r}' for k, v in asked.items())} with from_embeddings=True: cached embeddings "
                "are of the stored one-hot only; expected no augmentation (or train from one-hot)"
            )
        augment_rc, augment_shift, freeze_trunk = False, 0, True
    else:
        augment_rc = True if augment_rc is None else augment_rc
        augment_shift = 3 if augment_shift is None else augment_shift
    dataset = bz_store.open(store) if not hasattr(store, "sizes") else store
    bz_store.check_complete(dataset)
    if "targets" not in dataset:
        raise ValueError(f"{store} has no 'targets' variable; add tracks with bz.pp.import_bigwigs first")
    bz_store.check_targets(dataset)
    n_tracks = dataset.sizes[dataset["targets"].dims[-1]]
    if n_tracks != model.config.n_tracks:
        raise ValueError(f"the store has {n_tracks} target tracks but the model has {model.config.n_tracks} outputs")
    n_bins = dataset.sizes[dataset["targets"].dims[1]]
    if n_bins != model.config.n_bins:
        raise ValueError(f"store targets have {n_bins} bins; the model outputs {model.config.n_bins}")
    train_windows = _split_windows(dataset, "train")
    valid_dataset = dataset if valid is None else (bz_store.open(valid) if not hasattr(valid, "sizes") else valid)
    if valid is not None:
        bz_store.check_targets(valid_dataset)
    valid_windows = (
        _split_windows(valid_dataset, "valid") if valid is None else np.arange(valid_dataset.sizes["window"])
    )
    if train_windows.size == 0:
        raise ValueError("no training windows: the store's split variable has no 'train' windows")
    inputs = EMBEDDING if from_embeddings else "onehot"
    if from_embeddings:
        check_embeddings(dataset, model, where=str(store) if not hasattr(store, "sizes") else "the store")
        if valid is not None and valid_windows.size:
            check_embeddings(valid_dataset, model, where=str(valid) if not hasattr(valid, "sizes") else "valid")
    batch_size = settings.resolve_batch_size(batch_size)
    torch_device = settings.resolve_device(device)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model.to(torch_device)
    for parameter in [p for m in (model.stem, model.tower, model.residual, model.final) for p in m.parameters()]:
        parameter.requires_grad_(not freeze_trunk)
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = (torch.optim.Adam(trainable, lr=lr) if optimizer == "adam"
           else torch.optim.SGD(trainable, lr=lr, momentum=momentum))  # fmt: skip
    loss_fn = poisson_loss if loss == "poisson" else poisson_multinomial_loss
    forward = (lambda x: head_forward(model, x)) if from_embeddings else model
    pairs = strand_partners(model.targets)
    assays = model.targets["assay"].astype(str).to_numpy() if (
        model.targets is not None and "assay" in model.targets.columns) else None  # fmt: skip

    history, start_epoch, step, best_r, best_state, stale = History(), 0, 0, -np.inf, None, 0
    checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if checkpoint_dir is not None:
        history.checkpoint_dir = str(checkpoint_dir)
        last = checkpoint_dir / "last"
        if resume and (last / "trainer.pt").exists():
            saved = load(last)
            if saved.config.to_dict() | {"gelu": None} != model.config.to_dict() | {"gelu": None}:
                raise ValueError(
                    f"checkpoint {last} is a different architecture ({saved.config}) from the model ({model.config})"
                )
            model.load_state_dict(saved.state_dict())
            state = torch.load(last / "trainer.pt", weights_only=False)
            opt.load_state_dict(state["optimizer"])
            start_epoch, step, best_r, stale = state["epoch"] + 1, state["step"], state["best_r"], state["stale"]
            rng.bit_generator.state = state["rng"]
            torch.set_rng_state(state["torch_rng"])
            history = History.from_dict(json.loads((checkpoint_dir / "history.json").read_text()))
            if (checkpoint_dir / "best").exists():
                best_state = load(checkpoint_dir / "best").state_dict()
            logger.info("resuming from epoch %d of %s", start_epoch, checkpoint_dir)

    for epoch in range(start_epoch, epochs):
        model.train()
        if freeze_trunk:  # a frozen trunk keeps its batch-norm statistics too, not only its weights
            for part in (model.stem, model.tower, model.residual, model.final):
                part.eval()
        order = rng.permutation(train_windows)
        if steps_per_epoch is not None:
            order = order[: steps_per_epoch * batch_size]
        tic, losses, waited = time.perf_counter(), [], 0.0
        with tqdm(total=len(order), unit="window", desc=f"epoch {epoch + 1}/{epochs}",
                  disable=not settings.progress) as bar:  # fmt: skip
            batches = prefetched(_batches(dataset, order, batch_size, inputs=inputs), depth=2)
            while True:
                asked = time.perf_counter()
                batch = next(batches, None)
                waited += time.perf_counter() - asked  # the model idles while this is > 0
                if batch is None:
                    break
                x, y = (torch.from_numpy(a).to(torch_device, non_blocking=True) for a in batch)
                # a no-op from embeddings (augmentation off), which keeps both paths' random streams identical
                x, y = _augment(x, y, rng, rc=augment_rc, shift=augment_shift, pairs=pairs)
                for group in opt.param_groups:
                    group["lr"] = _lr_at(step, lr, warmup_steps)
                value = loss_fn(forward(x), y)
                opt.zero_grad(set_to_none=True)
                value.backward()
                if clip_norm is not None:
                    torch.nn.utils.clip_grad_norm_(trainable, clip_norm)
                opt.step()
                step += 1
                losses.append(float(value.detach()))
                bar.update(len(x))
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
        seconds = time.perf_counter() - tic
        row = {"epoch": epoch + 1, "loss": float(np.mean(losses)), "lr": opt.param_groups[0]["lr"],
               "seconds": seconds, "windows_per_s": len(order) / seconds,
               "data_wait_share": waited / seconds}  # fmt: skip
        if valid_windows.size:
            model.eval()
            preds, targets, valid_losses = [], [], []
            with torch.no_grad():
                for x, y in prefetched(_batches(valid_dataset, valid_windows, batch_size, inputs=inputs), depth=2):
                    pred = forward(torch.from_numpy(x).to(torch_device))
                    valid_losses.append(float(loss_fn(pred, torch.from_numpy(y).to(torch_device))))
                    preds.append(pred.cpu().numpy())
                    targets.append(y)
            r = pearson_per_track(np.concatenate(preds), np.concatenate(targets))
            row.update(valid_loss=float(np.mean(valid_losses)), valid_r=float(np.nanmean(r)))
            if assays is not None:
                for assay in sorted(set(assays)):
                    row[f"valid_r_{assay}"] = float(np.nanmean(r[assays == assay]))
            if row["valid_r"] > best_r:
                best_r, stale, history.best_epoch = row["valid_r"], 0, epoch + 1
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                if checkpoint_dir is not None:
                    model.save(checkpoint_dir / "best", overwrite=True)
            else:
                stale += 1
        history.metrics = pd.concat([history.metrics, pd.DataFrame([row])], ignore_index=True)
        logger.info("epoch %d: %s", epoch + 1, {k: round(v, 4) for k, v in row.items() if isinstance(v, float)})
        if checkpoint_dir is not None:
            state = {"epoch": epoch, "step": step, "best_r": best_r, "stale": stale,
                     "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state()}  # fmt: skip
            _save_checkpoint(checkpoint_dir, model, opt, history, state)
        if patience is not None and valid_windows.size and stale >= patience:
            logger.info("early stop after epoch %d: no better validation R for %d epochs", epoch + 1, patience)
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    model.eval()
    if len(history.metrics) and not math.isfinite(history.metrics["loss"].iloc[-1]):
        raise FloatingPointError("training diverged (non-finite loss); lower lr or enable clip_norm")
    return history
