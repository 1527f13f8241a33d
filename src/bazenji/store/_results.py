"""Per-chunk results written into a window store, for resumable prediction and scoring.

Layout inside the store (plain zarr, readable without bazenji)::

    results/<key>/            attrs: the parameters that produced the results (JSON)
    results/<key>/done        (n_chunks,) bool, one zarr chunk per element: a chunk is finished once True
    results/<key>/<name>_<i>  arrays written by chunk i (e.g. the per-region pieces of window chunk i)
    profile                   (window, bin, track) float16, chunked like ``onehot``, written on request

Each window chunk writes only its own arrays and its own element of ``done``, so chunks can be
computed in any order, by any process, and an interrupted run resumes from the chunks not yet done.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import zarr

logger = logging.getLogger("bazenji")


def announce_reuse(path: str | Path, what: str, done: int, total: int, redo: str) -> None:
    """Say in one line (at the default verbosity) that finished work found in a store is reused, not recomputed.

    Reuse is what makes interrupted runs resumable, but a user who expected a fresh computation must see it.
    """
    logger.warning("%s: reusing %s, %d of %d chunks already done (%s)", path, what, done, total, redo)


def results_key(params: dict) -> str:
    """A short, stable name for a parameter set."""
    return hashlib.sha1(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _group(path: str | Path) -> zarr.Group:
    return zarr.open_group(str(path), mode="a")


def open_results(path: str | Path, params: dict, n_chunks: int) -> str:
    """Create (or find, when resuming) the results group for ``params``; returns its key."""
    key = results_key(params)
    root = _group(path)
    name = f"results/{key}"
    if name in root:
        group = root[name]
        if dict(group.attrs).get("params") != json.loads(json.dumps(params, default=str)):
            raise ValueError(f"{path}: results/{key} holds results of other parameters; remove it to recompute")
        return key
    group = root.require_group(name)
    group.attrs["params"] = json.loads(json.dumps(params, default=str))
    group.create_array("done", shape=(n_chunks,), chunks=(1,), dtype=bool, fill_value=False)
    return key


def results_keys(path: str | Path) -> list[str]:
    """Keys of the result sets in a store."""
    root = _group(path)
    return sorted(root["results"].group_keys()) if "results" in root else []


def done_chunks(path: str | Path, key: str) -> np.ndarray:
    """Boolean array: which chunks of results ``key`` are finished."""
    return np.asarray(_group(path)[f"results/{key}/done"][:], dtype=bool)


def write_chunk(path: str | Path, key: str, chunk: int, arrays: dict[str, np.ndarray]) -> None:
    """Write the arrays of one finished chunk, then mark it done (in that order, so a crash leaves it undone)."""
    group = _group(path)[f"results/{key}"]
    for name, value in arrays.items():
        group.create_array(
            f"{name}_{chunk}", shape=value.shape, dtype=value.dtype, chunks=value.shape or None, overwrite=True
        )[...] = value
    group["done"][chunk] = True


def read_chunk(path: str | Path, key: str, chunk: int, name: str) -> np.ndarray:
    """An array written by :func:`write_chunk`."""
    return np.asarray(_group(path)[f"results/{key}/{name}_{chunk}"][...])


def create_profile(
    path: str | Path, *, n_windows: int, n_bins: int, tracks: list[str], chunk_windows: int, key: str
) -> bool:
    """Create (or keep, when resuming the same results) the ``profile`` variable of the store.

    Returns True when the variable was (re)created: results already finished under ``key`` lack these
    profiles, and their chunks must run again (:func:`reset_chunks`).
    """
    root = _group(path)
    shape = (n_windows, n_bins, len(tracks))
    if "profile" in root:
        existing = root["profile"]
        same_tracks = "profile_track" in root and list(root["profile_track"][...]) == list(tracks)
        if existing.shape == shape and existing.attrs.get("results_key") == key and same_tracks:
            return False
        del root["profile"]
        if "profile_track" in root:
            del root["profile_track"]
    array = root.create_array(
        "profile",
        shape=shape,
        chunks=(chunk_windows, n_bins, len(tracks)),
        dtype="float16",
        fill_value=np.nan,
        dimension_names=["window", "bin", "profile_track"],
    )
    array.attrs["results_key"] = key
    names = root.create_array(
        "profile_track", shape=(len(tracks),), dtype=str, dimension_names=["profile_track"], overwrite=True
    )
    names[...] = np.asarray(tracks, dtype=str)
    return True


def reset_chunks(path: str | Path, key: str) -> None:
    """Mark every chunk of results ``key`` unfinished, so the next run computes them all again."""
    _group(path)[f"results/{key}/done"][...] = False


def write_profile(path: str | Path, start: int, values: np.ndarray) -> None:
    """Write profiles of windows ``start, start + 1, ...`` (a whole chunk, so writers never share a zarr chunk)."""
    _group(path)["profile"][start : start + len(values)] = values.astype(np.float16)
