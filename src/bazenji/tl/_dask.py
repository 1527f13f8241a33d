"""Window chunks as dask.distributed tasks: the model shipped once, loaded once per worker, results in the store.

A task gets a chunk number and small per-chunk tables; it reads the chunk's one-hot from the shared
store, runs the worker's cached model, writes the chunk's results at chunk-aligned positions and marks
it done. Nothing large travels through the scheduler: the driver reads the results from the store.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch

from .._settings import settings

logger = logging.getLogger("bazenji")

#: models kept per worker process (each a different fingerprint or device); the oldest is dropped first
CACHED_MODELS = 2

_models: OrderedDict[tuple[str, str], torch.nn.Module] = OrderedDict()
_models_lock = threading.Lock()


@dataclass(frozen=True)
class ModelRef:
    """How a worker gets the model: ``load(path)`` on the worker, or its weights shared through the task graph.

    ``fingerprint`` names the model in the worker cache and is checked after loading from a path, so a
    file changed since the driver read it is an error, not a silent mix of two models.
    """

    fingerprint: str
    path: str | None = None


@dataclass(frozen=True)
class ModelWeights:
    """A model as plain data (config, numpy weights, track table): what the workers get through the task graph."""

    config: dict
    state: dict[str, np.ndarray]
    targets: object
    source: dict

    @classmethod
    def of(cls, model) -> ModelWeights:
        """The weights of ``model`` as numpy arrays (shared with the model's CPU tensors, not copied)."""
        state = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
        return cls(config=model.config.to_dict(), state=state, targets=model.targets, source=dict(model.source))

    def build(self):
        """The :class:`~bazenji.models.Basenji2` these weights describe, in eval mode."""
        from ..models import Basenji2, Basenji2Config

        model = Basenji2(Basenji2Config.from_dict(self.config), targets=self.targets)
        model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in self.state.items()})
        model.source = dict(self.source)
        return model.eval()


def share(client, value, *, name: str, token: str):
    """A future holding ``value`` for the tasks of one call, that dask rebuilds if every worker holding it dies.

    ``value`` travels inside the task graph (one copy to the scheduler; workers fetch it from each other
    when a task needs it) instead of being scattered: scattered data is gone for good once the workers
    holding it are lost, and a prediction must survive losing any worker.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Ll]arge (object|graph)", category=UserWarning)
        return client.submit(_identity, value, key=f"bazenji-{name}-{token}-{call_id()}", pure=False)


def _identity(value):
    return value


def ship_model(client, model, *, fingerprint: str, given) -> tuple[ModelRef, object]:
    """Make ``model`` reachable from every worker of ``client``: ``(reference, future of its weights or None)``.

    A model given by path (or ``"demo"``) is loaded by each worker from that path, which then must be
    visible to the workers; a model given as an object has its weights shared through the task graph
    (:func:`share`). Either way a worker builds the model once and keeps it (see :func:`worker_model`).
    """
    if isinstance(given, str | os.PathLike):
        return ModelRef(fingerprint, path=os.fspath(given)), None
    return ModelRef(fingerprint), share(client, ModelWeights.of(model), name="model", token=fingerprint)


def worker_model(ref: ModelRef, weights: ModelWeights | None, device: torch.device):
    """The model of ``ref`` on ``device`` in this process, built on first use and cached by fingerprint."""
    from ._common import model_fingerprint

    key = (ref.fingerprint, str(device))
    with _models_lock:
        if key in _models:
            _models.move_to_end(key)
            return _models[key]
        if weights is not None:
            model = weights.build()
        else:
            from ..models import load

            model = load(ref.path)
            found = model_fingerprint(model)
            if found != ref.fingerprint:
                raise ValueError(
                    f"the model at {ref.path!r} on this worker has fingerprint {found}, the driver's has "
                    f"{ref.fingerprint}; expected the same file on every machine"
                )
        _models[key] = model.to(device).eval()
        while len(_models) > CACHED_MODELS:
            _models.popitem(last=False)
        return _models[key]


def clear_worker_models() -> None:
    """Forget the models cached in this process (frees their memory)."""
    with _models_lock:
        _models.clear()


def _chunk_done(store: str, key: str, chunk: int) -> bool:
    import zarr

    group = zarr.open_group(store, mode="r", use_consolidated=False)
    return bool(group[f"results/{key}/done"][chunk])


def pin_worker_threads() -> None:
    """Give torch (and numba) on this worker its thread budget before a task computes.

    ``settings.n_threads`` of the worker process if set, else its ``OMP_NUM_THREADS`` (which the dask nanny
    sets, to 1 by default), made the worker's ``settings.n_threads`` so that numba's OpenMP kernels (one-hot
    encoding inside tasks) keep to it too: a numba kernel run with its own default count would leave that
    count to torch on the same thread, and the float sums of the CPU convolutions depend on how many
    threads share them, so results would depend on which tasks ran before.
    """
    if settings.n_threads is None:
        value = os.environ.get("OMP_NUM_THREADS", "")
        if value.isdigit() and int(value) > 0:
            settings.n_threads = int(value)
        return
    if torch.get_num_threads() != settings.n_threads:
        torch.set_num_threads(settings.n_threads)


def predict_task(spec, chunk: int, layout, ref: ModelRef, weights: ModelWeights | None, device: str) -> dict:
    """One dask task: predict window chunk ``chunk`` unless a previous attempt already finished it."""
    from ._chunks import predict_chunk

    tic = time.perf_counter()
    lo, hi = spec.bounds(chunk)
    if _chunk_done(spec.store, spec.key, chunk):  # a retry after the result was written, or a rerun
        return {"chunk": chunk, "windows": hi - lo, "model_s": 0.0, "task_s": 0.0, "device": None, "skipped": True}
    pin_worker_threads()
    torch_device = settings.resolve_device(device)
    model = worker_model(ref, weights, torch_device)
    model_s = predict_chunk(spec, chunk, layout, model, torch_device)
    return {"chunk": chunk, "windows": hi - lo, "model_s": model_s, "task_s": time.perf_counter() - tic,
            "device": str(torch_device), "skipped": False}  # fmt: skip


def call_id() -> str:
    """A fresh suffix for the keys of one call.

    Keys are never reused between calls: a key cancelled by an interrupted call can still be on its way
    out of the scheduler when the next call submits it, and the new future would be cancelled with it.
    """
    return uuid.uuid4().hex[:8]


def task_key(name: str, token: str, call: str, chunk: int) -> str:
    """The dask key of one chunk's task, ``bazenji-<name>-<token>-<call>-<chunk>``; the dashboard groups by name."""
    return f"bazenji-{name}-{token}-{call}-{chunk}"


def run_chunks(
    client, function: Callable, chunks: Iterable[int], arguments: Callable[[int], tuple], *, name: str, token: str,
    on_result: Callable[[dict | object], object],
) -> None:  # fmt: skip
    """Submit ``function(*arguments(chunk))`` for every chunk as a named task and hand each result over as it lands.

    Results are released as soon as they are read, so a worker lost later takes nothing finished with it;
    on any error (or an interrupt) the remaining tasks are cancelled and the error is raised here.
    """
    from dask.distributed import as_completed

    call = call_id()
    futures = [
        client.submit(function, *arguments(c), key=task_key(name, token, call, c), pure=False) for c in chunks
    ]  # fmt: skip
    try:
        for future in as_completed(futures):
            result = future.result()
            future.release()
            on_result(result)
    except BaseException:
        client.cancel(futures)
        raise
    finally:
        del futures


def predict_on_dask(client, spec, layout, todo: list[int], model, *, fingerprint: str, given, device: str, bar) -> dict:
    """The unfinished chunks of a prediction as dask tasks.

    Returns
    -------
    Totals over the tasks: ``model_s`` and ``task_s`` (seconds on the workers, in the model and in the whole
    task), ``tasks`` (how many ran), ``skipped`` (found done by an earlier attempt) and ``devices``.
    """
    totals = {"model_s": 0.0, "task_s": 0.0, "tasks": 0, "skipped": 0, "devices": set()}
    if not todo:
        return {**totals, "devices": []}
    ref, weights = ship_model(client, model, fingerprint=fingerprint, given=given)

    def collect(result: dict) -> None:
        for name in ("model_s", "task_s"):
            totals[name] += result[name]
        totals["tasks"] += 1
        totals["skipped"] += result["skipped"]
        if result["device"]:
            totals["devices"].add(result["device"])
        bar.update(result["windows"])

    try:
        run_chunks(
            client, predict_task, todo,
            lambda c: (spec, c, layout.chunk(spec, c), ref, weights, device),
            name="predict", token=spec.key, on_result=collect,
        )  # fmt: skip
    finally:
        if weights is not None:
            weights.release()
    return {**totals, "devices": sorted(totals["devices"])}


def variant_task(spec, c: int, chunk, genome, ref: ModelRef, weights, device: str, store: str | None, key: str):
    """One dask task of ``variant_effect``: score chunk ``c``, write its rows into ``store`` (or return the scores)."""
    from ._alleles import score_chunk
    from ._variant_output import progress_path, write_scores

    start = int(chunk.rows[0])
    if store is not None and _chunk_done(progress_path(store), key, c):
        return {"chunk": c, "start": start, "values": None, "model_s": 0.0, "windows": 0, "variants": len(chunk.rows),
                "device": None}  # fmt: skip
    pin_worker_threads()
    torch_device = settings.resolve_device(device)
    model = worker_model(ref, weights, torch_device)
    timing = {"model_s": 0.0, "windows": 0, "variants": 0}
    values = score_chunk(spec, chunk, genome, model, torch_device, timing=timing)
    if store is not None:
        write_scores(store, key, c, start, values)
        values = None
    return {"chunk": c, "start": start, "values": values, **timing, "device": str(torch_device)}


def score_on_dask(
    client, spec, todo: list[int], chunk_sites: Callable, model, genome, *, fingerprint: str, given, device: str,
    store, key: str, on_scores: Callable, bar,
) -> dict:  # fmt: skip
    """The unfinished chunks of ``variant_effect`` as dask tasks.

    Workers write their chunk's rows into ``store`` when given; otherwise each chunk's scores come back and go
    to ``on_scores(chunk, first_row, values)`` as they land (nothing is collected here).

    Returns
    -------
    The workers' ``model_s``, ``windows`` and ``variants``, and their ``devices``.
    """
    totals = {"model_s": 0.0, "windows": 0, "variants": 0, "devices": set()}
    if not todo:
        return {**totals, "devices": []}
    ref, weights = ship_model(client, model, fingerprint=fingerprint, given=given)
    shared_genome = share(client, genome, name="genome", token=genome.fingerprint)
    store = None if store is None else os.fspath(store)

    def collect(result: dict) -> None:
        if result["values"] is not None:
            on_scores(result["chunk"], result["start"], result["values"])
        for name in ("model_s", "windows"):
            totals[name] += result[name]
        totals["variants"] += result["variants"]
        if result["device"]:
            totals["devices"].add(result["device"])
        bar.update(result["variants"])

    try:
        run_chunks(
            client, variant_task, todo,
            lambda c: (spec, c, chunk_sites(c), shared_genome, ref, weights, device, store, key),
            name="variants", token=key, on_result=collect,
        )  # fmt: skip
    finally:
        shared_genome.release()
        if weights is not None:
            weights.release()
    return {**totals, "devices": sorted(totals["devices"])}
