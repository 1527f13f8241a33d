"""``bz.tl.cache_embeddings``: the trunk run once over a window store, so a new head trains from the cache.

Fine-tuning a new track set on a frozen trunk spends nearly all of its time in the trunk's forward pass,
which gives the same embeddings every epoch. Caching them in the store (``embedding``, window x bin x
channel) turns each epoch into reading float16 arrays and one linear layer.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import zarr
from tqdm.auto import tqdm

from .. import store as bz_store
from .._settings import settings
from ..models import Basenji2, load
from ._common import model_fingerprint

logger = logging.getLogger("bazenji")

EMBEDDING = "embedding"
EMBEDDING_DONE = "embedding_done"
STORAGE_DTYPES = ("float16", "float32")


def trunk_fingerprint(model: Basenji2) -> str:
    """A hash of the architecture and every trunk weight, the head excluded.

    Embeddings depend on the trunk only, so a model whose head was replaced (:meth:`Basenji2.replace_head`)
    or subset (:meth:`Basenji2.select_tracks`) still matches the embeddings its trunk made.
    """
    return model_fingerprint(model, trunk_only=True)


def head_forward(model: Basenji2, embedding: torch.Tensor) -> torch.Tensor:
    """Coverage ``(batch, bins, tracks)`` from embeddings: the head and softplus of :meth:`Basenji2.forward`."""
    weight = model.head.weight
    return F.softplus(F.linear(embedding.to(weight.dtype), weight, model.head.bias))


def _store_path(store) -> str:
    if hasattr(store, "sizes"):  # an opened Dataset: write into the store it was read from
        source = store.encoding.get("source")
        if source is None:
            raise ValueError("the dataset has no source store; expected a window store path or bz.store.open(path)")
        return os.fspath(source)
    if not isinstance(store, str | os.PathLike):
        raise TypeError(f"store={store!r}; expected a window store path or a dataset from bz.store.open")
    return os.fspath(store)


def _describe(attrs) -> str:
    return f"trunk fingerprint {attrs.get('trunk_fingerprint')}, {attrs.get('dtype')}, model {attrs.get('model')}"


def check_embeddings(dataset, model: Basenji2, *, where: str = "the window store") -> None:
    """Raise unless ``dataset`` holds a complete embedding cache made by ``model``'s trunk.

    Parameters
    ----------
    dataset
        A window store opened with :func:`bazenji.store.open`.
    model
        The model whose head will read the embeddings.
    where
        How the store is named in the error messages.
    """
    if EMBEDDING not in dataset:
        raise ValueError(
            f"{where} has no {EMBEDDING!r} variable; run bz.tl.cache_embeddings(model, store) first, or train "
            "with from_embeddings=False"
        )
    attrs = dataset[EMBEDDING].attrs
    done = np.asarray(dataset[EMBEDDING_DONE].values, bool) if EMBEDDING_DONE in dataset else np.zeros(1, bool)
    # the attribute is set only after the last chunk; the flags also catch a cache being replaced mid-way
    if not attrs.get("complete", False) or not done.all():
        missing = np.flatnonzero(~done)
        raise ValueError(
            f"{where}: the embedding cache is incomplete ({missing.size} of {done.size} window chunks never "
            f"computed, chunks {missing[:5].tolist()}{' ...' if missing.size > 5 else ''}); run "
            "bz.tl.cache_embeddings again with the same model to finish it"
        )
    expected = trunk_fingerprint(model)
    if attrs.get("trunk_fingerprint") != expected:
        raise ValueError(
            f"{where}: the cached embeddings were made by another trunk ({_describe(attrs)}); this model's trunk "
            f"has fingerprint {expected}. Expected embeddings of this trunk: run "
            "bz.tl.cache_embeddings(model, store, overwrite=True), or train with from_embeddings=False"
        )
    channels = dataset.sizes[dataset[EMBEDDING].dims[-1]]
    if channels != model.config.final_channels:  # the fingerprint covers this; kept for a hand-edited store
        raise ValueError(f"{where}: embeddings have {channels} channels; the model's head takes "
                         f"{model.config.final_channels}")  # fmt: skip


def _prepare(group: zarr.Group, path: str, model: Basenji2, meta: dict, dtype: str, overwrite: bool) -> zarr.Array:
    """The ``embedding`` array to fill: the existing one when it is this trunk's (resume), else a new one."""
    from .. import __version__

    fingerprint = trunk_fingerprint(model)
    shape = (int(meta["n_windows"]), int(meta["n_bins"]), model.config.final_channels)
    if EMBEDDING in group:
        existing = group[EMBEDDING]
        attrs = dict(existing.attrs)
        same = (attrs.get("trunk_fingerprint") == fingerprint and tuple(existing.shape) == shape
                and str(existing.dtype) == dtype and EMBEDDING_DONE in group)  # fmt: skip
        if same:
            return existing
        if not overwrite:
            raise ValueError(
                f"{path} already holds embeddings of another trunk or dtype ({_describe(attrs)}); this model's "
                f"trunk has fingerprint {fingerprint} and {dtype} was asked for. Pass overwrite=True to replace them"
            )
        existing.attrs["complete"] = False  # never readable as finished while it is being replaced
    # flags first: a crash between the two writes leaves all-False flags, never old flags on new data
    group.create_array(
        EMBEDDING_DONE, shape=(int(meta["n_chunks"]),), chunks=(1,), dtype=bool, fill_value=False,
        dimension_names=["chunk"], overwrite=True,
    )  # fmt: skip
    array = group.create_array(
        EMBEDDING, shape=shape, chunks=(int(meta["chunk_windows"]), shape[1], shape[2]), dtype=dtype,
        fill_value=np.nan, dimension_names=["window", "bin", "channel"], overwrite=True,
    )  # fmt: skip
    array.attrs.update(
        {
            "description": "trunk embeddings: the head's input, after the crop and the last GELU",
            "trunk_fingerprint": fingerprint,
            "model_fingerprint": model_fingerprint(model),
            "model": json.loads(json.dumps({k: v for k, v in model.source.items() if v is not None}, default=str)),
            "config": model.config.to_dict(),
            "dtype": dtype,
            "bazenji_version": __version__,
            "complete": False,
        }
    )
    return array


def cache_embeddings(
    model,
    store,
    *,
    batch_size: int | None = None,
    device: str | None = None,
    dtype: str = "float16",
    overwrite: bool = False,
) -> None:
    """Run the model's trunk over every window of a store and keep the embeddings there, for head-only training.

    Writes the variable ``embedding`` (window, bin, channel) into the same zarr store, chunked along
    ``window`` like ``onehot``, with the trunk's fingerprint in its attributes. Then
    ``bz.tl.train(model, store, from_embeddings=True)`` fits a new head (:meth:`Basenji2.replace_head`)
    without running the trunk: an epoch reads the cache and evaluates one linear layer.

    The trunk runs in evaluation mode (batch-norm running statistics, no dropout) on the stored one-hot as
    it is: no reverse-complement or shift augmentation is possible from the cache. Chunks are written one at
    a time and each is flagged done after it is written, so calling again after an interruption computes
    only the missing chunks, and a cache is marked complete only once every chunk is in.

    Parameters
    ----------
    model
        A :class:`~bazenji.models.Basenji2` or anything :func:`bazenji.models.load` accepts. Only its trunk
        is used: any head (the pretrained one or a replaced one) gives the same embeddings.
    store
        A window store (path, or a dataset from :func:`bazenji.store.open`) whose windows match the model's
        sequence length and output bins.
    batch_size, device
        Windows per trunk call and where it runs; defaults from :data:`bazenji.settings`.
    dtype
        Storage dtype, ``"float16"`` (half the disk and read time; about 3 significant digits) or
        ``"float32"``. The trunk itself computes in the model's parameter dtype.
    overwrite
        Replace embeddings made by another trunk or stored in another dtype (otherwise an error). Embeddings
        of this very trunk and dtype are kept and only unfinished chunks are computed, either way.
    """
    model = model if isinstance(model, Basenji2) else load(model)
    if dtype not in STORAGE_DTYPES:
        raise ValueError(f"dtype={dtype!r}; expected one of {STORAGE_DTYPES}")
    path = _store_path(store)
    bz_store.check_complete(path)
    meta = bz_store.attrs(path)
    if int(meta["seq_length"]) != model.config.seq_length or int(meta["n_bins"]) != model.config.n_bins:
        raise ValueError(
            f"{path} holds {meta['seq_length']} bp windows with {meta['n_bins']} output bins; the model takes "
            f"{model.config.seq_length} bp and outputs {model.config.n_bins} bins"
        )
    batch_size = settings.resolve_batch_size(batch_size)
    torch_device = settings.resolve_device(device)
    group = zarr.open_group(path, mode="r+", use_consolidated=False)
    array = _prepare(group, path, model, meta, dtype, overwrite)
    chunk = int(meta["chunk_windows"])
    todo = np.flatnonzero(~np.asarray(group[EMBEDDING_DONE][...], bool))
    windows = np.concatenate([np.arange(*bz_store.chunk_bounds(meta, int(c))) for c in todo] or [np.zeros(0, int)])
    n_windows = int(meta["n_windows"])
    if todo.size < int(meta["n_chunks"]):
        bz_store.announce_reuse(path, "cached trunk embeddings of this model", int(meta["n_chunks"]) - todo.size,
                                int(meta["n_chunks"]), "pass overwrite=True to recompute")  # fmt: skip
    model = model.to(torch_device).eval()
    # zarr would otherwise scan every written chunk for being all fill value
    writer = array.with_config({"write_empty_chunks": True})
    bar = tqdm(total=n_windows, initial=n_windows - len(windows), unit="window", desc="embeddings",
               disable=not settings.progress)  # fmt: skip
    with bar, torch.inference_mode():
        # batches of a whole chunk: with whole chunks asked for, each batch is exactly one chunk (read in a
        # background thread while the previous one runs), the unit that is flagged done
        for index, onehot in bz_store.iter_batches(path, chunk, windows=windows):
            first = int(index[0])
            block = np.empty((len(index), *array.shape[1:]), dtype=dtype)
            for b in range(0, len(index), batch_size):
                x = torch.from_numpy(onehot[b : b + batch_size]).to(torch_device, non_blocking=True)
                values = model.trunk(x).float().cpu().numpy()
                if dtype == "float16" and np.abs(values).max(initial=0) > np.finfo(np.float16).max:
                    raise ValueError(
                        f"embeddings of windows {first + b}-{first + b + len(x) - 1} reach "
                        f"{np.abs(values).max():.3g}, beyond float16; expected dtype='float32' for this model"
                    )
                block[b : b + len(x)] = values
                bar.update(len(x))
            writer[first : first + len(index)] = block
            group[EMBEDDING_DONE][first // chunk] = True
    array.attrs["complete"] = True
    logger.info("cache_embeddings: %d windows x %d bins x %d channels (%s) in %s", *array.shape, dtype,
                Path(path).name)  # fmt: skip
