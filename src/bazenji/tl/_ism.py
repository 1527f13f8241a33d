"""In-silico saturation mutagenesis (``bz.tl.ism``) and gradient attributions (``bz.tl.attributions``).

Both take regions (with a genome) or sequences, look at the central ``center`` bp of each model window, and
return a regions x tracks AnnData whose ``obsm`` holds the per-position, per-base scores next to the one-hot
sequence of that span. ISM follows ``basenji_sat_bed.py`` (calico/basenji): the span starts at window index
``L//2 - center//2``; every base other than the one present is predicted, the identity edit is skipped (the
reference prediction stands in for it); each prediction is reduced to one number per track; and the four
bases at a position are mean-centred.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import anndata as ad
import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from .._settings import settings
from ..encode import one_hot, to_codes
from ..io import select_tracks
from ._alleles import fit_length, predict_windows
from ._common import h5ad_safe, model_fingerprint, resolve_model, track_table
from ._ensemble import resolve_dtype, strand_pair_permutation

ISM_STATS = ("sum", "center")
METHODS = ("grad_x_input", "integrated_gradients")
BASELINES = ("zeros", "uniform")


def _span(seq_length: int, center: int | None) -> tuple[int, int]:
    if center is None:
        return 0, seq_length
    if isinstance(center, bool) or not isinstance(center, int | np.integer) or not 1 <= center <= seq_length:
        raise ValueError(f"center={center!r}; expected a number of bp in 1..{seq_length} (the model's window)")
    start = seq_length // 2 - int(center) // 2
    return start, start + int(center)


def _fit_onehot(x: np.ndarray, length: int, n_value: float) -> tuple[np.ndarray, int]:
    """A one-hot ``(len, 4)`` centre-trimmed or padded (with ``n_value``) to ``length``; and the front offset."""
    if len(x) >= length:
        trim = (len(x) - length) // 2
        return x[trim : trim + length], -trim
    front = (length - len(x)) // 2
    out = np.full((length, 4), n_value, np.float32)
    out[front : front + len(x)] = x
    return out, front


def model_inputs(data, genome, model, n_value: float) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Windows for ISM and attributions: ``obs``, one-hot ``(n, L, 4)`` float32, and each window's coordinate.

    ``data`` is a sequence (str), a list of sequences, a one-hot array ``(L, 4)`` or ``(n, L, 4)``, or regions
    in any form :func:`bazenji.pp.regions` accepts (with ``genome``). Sequences of another length are
    centre-trimmed or N-padded to ``L`` (as the official ``dna_1hot``); a region gets the window centred on its
    midpoint. The coordinate is where window index 0 lies: a genomic position for regions, a position in the
    given sequence (``-front padding``) for sequences.
    """
    seq_length = model.config.seq_length
    if isinstance(data, str) or (isinstance(data, list | tuple) and data and all(isinstance(d, str) for d in data)):
        texts = [data] if isinstance(data, str) else list(data)
        onehots, offsets = [], []
        for text in texts:
            fitted = fit_length(text.upper(), seq_length)
            front = (seq_length - len(text)) // 2 if len(text) < seq_length else -((len(text) - seq_length) // 2)
            onehots.append(one_hot(to_codes(fitted), dtype=np.float32, n_value=n_value))
            offsets.append(-front)
        obs = pd.DataFrame({"length": [len(t) for t in texts]}, index=[f"seq_{i}" for i in range(len(texts))])
        return obs, np.stack(onehots), np.asarray(offsets, np.int64)
    if isinstance(data, np.ndarray | torch.Tensor):
        array = np.asarray(data.detach().cpu() if isinstance(data, torch.Tensor) else data, dtype=np.float32)
        if array.ndim not in (2, 3) or array.shape[-1] != 4:
            raise ValueError(f"one-hot input of shape {array.shape}; expected (length, 4) or (n, length, 4)")
        array = array[None] if array.ndim == 2 else array
        fitted = [_fit_onehot(x, seq_length, n_value) for x in array]
        obs = pd.DataFrame({"length": [array.shape[1]] * len(array)}, index=[f"seq_{i}" for i in range(len(array))])
        return obs, np.stack([f[0] for f in fitted]), np.asarray([-f[1] for f in fitted], np.int64)
    from .. import pp
    from ._common import resolve_genome

    genome = resolve_genome(genome, model)
    regions = pp.regions(data, genome=genome)
    obs = regions.obs.copy()
    starts = ((obs["Start"].to_numpy() + obs["End"].to_numpy()) // 2 - seq_length // 2).astype(np.int64)
    codes = genome.fetch_codes_many(obs["Chromosome"].astype(str).tolist(), starts, seq_length)
    return obs, one_hot(codes, dtype=np.float32, n_value=n_value), starts


def _result(obs, var, X, scores, span_onehot, offsets, span, key_added, params) -> ad.AnnData:
    obs = obs.copy()
    obs.index = obs.index.astype(str)
    obs["span_start"] = offsets + span[0]
    obs["span_end"] = offsets + span[1]
    var = var.copy()
    var.index = var.index.astype(str)
    adata = ad.AnnData(X=np.asarray(X, np.float32), obs=obs, var=var)
    adata.obsm[key_added] = scores
    adata.obsm[f"{key_added}_onehot"] = span_onehot
    adata.uns[key_added] = h5ad_safe(params)
    return adata


def _span_onehot(x: np.ndarray, span: tuple[int, int]) -> np.ndarray:
    """The span's one-hot as uint8: 1 at the base present, all-zero rows for N."""
    window = x[:, span[0] : span[1]]
    return (window == 1).astype(np.uint8)


def _setup(model, tracks, device, dtype):
    model = resolve_model(model)
    torch_device = settings.resolve_device(device)
    compute_dtype = resolve_dtype(dtype, torch_device)
    var = track_table(model)
    track_index = select_tracks(var, tracks)
    return model.to(torch_device).eval(), torch_device, compute_dtype, var.iloc[track_index], track_index


def ism(
    data,
    model=None,
    genome=None,
    *,
    center: int = 200,
    tracks=None,
    stat: str = "sum",
    rc: bool = False,
    shifts: Sequence[int] = (0,),
    n_value: float = 0.0,
    device: str | None = None,
    dtype: str = "float32",
    batch_size: int | None = None,
    key_added: str = "bz_ism",
) -> ad.AnnData:
    """In-silico saturation mutagenesis of the central ``center`` bp, as ``basenji_sat_bed.py``.

    Parameters
    ----------
    data
        Regions (BED path, DataFrame, regions AnnData, anything :func:`bazenji.pp.regions` accepts; the window
        is centred on each region's midpoint and read on the forward strand whatever ``Strand`` says), or
        sequences: a str, a list of str, or one-hot ``(L, 4)`` / ``(n, L, 4)``. Sequences of another length
        than the model's window are centre-trimmed or N-padded.
    model
        A :class:`~bazenji.models.Basenji2` or anything :func:`bazenji.models.load` accepts; the demo model
        when None.
    genome
        A :class:`~bazenji.io.Genome` or FASTA path for regions; None means the demo genome (demo model only).
    center
        Length of the mutated span, starting at window index ``L//2 - center//2``.
    tracks
        Tracks to score, in any form :func:`bazenji.io.select_tracks` accepts.
    stat
        How a prediction becomes one number per track: ``"sum"`` over all output bins (the official
        score), or ``"center"``, the output bin holding window position ``L//2``.
    rc, shifts
        Reverse-complement and shift ensembling of every prediction.
    n_value
        One-hot value of N (in the genome, past chromosome ends, padding): 0 (the training convention) or
        0.25 in every channel. A position whose base is N gets all four bases predicted.
    device, dtype, batch_size
        Where and how the model runs; defaults from :data:`bazenji.settings`.
    key_added
        ``obsm`` key of the scores (and ``{key_added}_onehot`` of the span's sequence) and ``uns`` key of the
        parameters.

    Returns
    -------
    AnnData with ``obs`` the regions (or ``seq_0 ...``) plus ``span_start``/``span_end``, the mutated span
    (genomic 0-based half-open for regions, positions in the given sequence otherwise); ``var`` the tracks;
    ``X`` the reference prediction's statistic; ``obsm[key_added]`` float32 ``(n, center, 4, tracks)``, the
    statistic with base ``b`` at position ``p`` minus its mean over the four bases at ``p`` (the raw value is
    ``scores[p, b] - scores[p, ref] + X``); ``obsm[key_added + "_onehot"]`` uint8 ``(n, center, 4)``.
    """
    if stat not in ISM_STATS:
        raise ValueError(f"stat={stat!r}; expected one of {list(ISM_STATS)}")
    started = time.perf_counter()
    model, torch_device, compute_dtype, var, track_index = _setup(model, tracks, device, dtype)
    config = model.config
    span = _span(config.seq_length, center)
    obs, onehot, offsets = model_inputs(data, genome, model, float(n_value))
    batch_size = settings.resolve_batch_size(batch_size)
    head_tracks = track_index if len(track_index) < config.n_tracks else None
    strand_pairs = strand_pair_permutation(model.targets, track_index) if rc else None
    center_bin = config.seq_length // 2 // config.bin_size - config.crop_bins
    width = span[1] - span[0]
    span_onehot = _span_onehot(onehot, span)
    scores = np.empty((len(onehot), width, 4, len(track_index)), np.float32)
    X = np.empty((len(onehot), len(track_index)), np.float32)
    n_windows = [1 + 4 * width - int(s.sum()) for s in span_onehot]
    with tqdm(total=sum(n_windows), unit="window", desc="ism", disable=not settings.progress) as bar:
        for i, x in enumerate(onehot):
            present = span_onehot[i].astype(bool)
            positions, bases = np.nonzero(~present)  # every edit but the identity, position-major
            edits = np.concatenate([[-1], positions + span[0]]), np.concatenate([[-1], bases])
            base = torch.from_numpy(x).to(torch_device)
            values = []
            for b in range(0, len(edits[0]), batch_size):
                where = torch.as_tensor(edits[0][b : b + batch_size], device=torch_device)
                what = torch.as_tensor(edits[1][b : b + batch_size], device=torch_device)
                batch = base[None].expand(len(where), -1, -1).clone()
                rows = torch.nonzero(where >= 0)[:, 0]
                batch[rows, where[rows]] = 0
                batch[rows, where[rows], what[rows]] = 1
                out = predict_windows(
                    model, batch, tracks=head_tracks, rc=rc, shifts=shifts, dtype=compute_dtype,
                    strand_pairs=strand_pairs, n_value=float(n_value),
                )  # fmt: skip
                reduced = out.sum(1, dtype=torch.float64) if stat == "sum" else out[:, center_bin].double()
                values.append(reduced.cpu().numpy())
                bar.update(len(where))
            values = np.concatenate(values)
            raw = np.repeat(values[:1], width * 4, axis=0).reshape(width, 4, -1)
            raw[positions, bases] = values[1:]
            X[i] = values[0]
            scores[i] = raw - raw.mean(axis=1, keepdims=True)
    params = {
        "method": "ism", "center": width, "span": list(span), "stat": stat, "rc": bool(rc),
        "shifts": [int(s) for s in shifts], "n_value": float(n_value), "tracks": track_index.tolist(),
        "model_fingerprint": model_fingerprint(model), "seq_length": config.seq_length,
        "windows": int(sum(n_windows)), "seconds": time.perf_counter() - started,
    }  # fmt: skip
    return _result(obs, var, X, scores, span_onehot, offsets, span, key_added, params)


def _target_bins(bins, n_bins: int, center_bin: int) -> np.ndarray:
    if bins is None:
        return np.arange(n_bins)
    if isinstance(bins, str):
        if bins != "center":
            raise ValueError(f"bins={bins!r}; expected None (all), 'center', a bin position, a slice or positions")
        return np.array([center_bin])
    index = np.arange(n_bins)[bins] if isinstance(bins, slice) else np.atleast_1d(np.asarray(bins))
    if index.dtype.kind not in "iu" or index.size == 0 or index.min() < -n_bins or index.max() >= n_bins:
        raise ValueError(f"bins={bins!r}; expected output bin positions in 0..{n_bins - 1}")
    return np.unique(index % n_bins)


def attributions(
    data,
    model=None,
    genome=None,
    *,
    method: str = "grad_x_input",
    tracks=None,
    bins=None,
    center: int | None = 200,
    baseline: str | np.ndarray = "zeros",
    n_steps: int = 50,
    n_value: float = 0.0,
    device: str | None = None,
    batch_size: int | None = None,
    key_added: str = "bz_attributions",
) -> ad.AnnData:
    """Gradient attributions of a sum over chosen tracks and bins to every base of the central span.

    Parameters
    ----------
    data, model, genome
        As in :func:`ism`.
    method
        ``"grad_x_input"``: the gradient times the one-hot input; ``"integrated_gradients"``: the input minus
        the baseline times the gradient averaged along the straight path between them (midpoint rule with
        ``n_steps`` points), so that the attributions over the whole window add up to the target's change
        from the baseline (completeness), up to the quadrature error.
    tracks
        Tracks whose coverage is summed into the target, in any form :func:`bazenji.io.select_tracks` accepts.
    bins
        Output bins summed into the target: None (all), ``"center"`` (the bin holding window position
        ``L//2``), a position, a slice or positions.
    center
        Length of the span whose attributions are kept (as in :func:`ism`); None keeps the whole window.
    baseline
        Integrated gradients' starting point: ``"zeros"`` (all N, the training convention), ``"uniform"``
        (0.25 everywhere) or an array ``(L, 4)`` / ``(n, L, 4)``.
    n_steps
        Points on the integrated-gradients path.
    n_value
        One-hot value of N in the input.
    device, batch_size
        Where the model runs and how many windows go through it at once; gradients are computed in float32.
    key_added
        ``obsm`` key of the attributions (and ``{key_added}_onehot``) and ``uns`` key of the parameters.

    Returns
    -------
    AnnData as :func:`ism` returns, with ``X`` the chosen tracks summed over the chosen bins, ``obsm[key_added]``
    float32 ``(n, span, 4)``, and in ``obs`` the ``target`` (the summed prediction), ``attribution_total`` (the
    attributions summed over the whole window) and, for integrated gradients, ``baseline_target``.
    """
    if method not in METHODS:
        raise ValueError(f"method={method!r}; expected one of {list(METHODS)}")
    if isinstance(n_steps, bool) or not isinstance(n_steps, int | np.integer) or n_steps < 1:
        raise ValueError(f"n_steps={n_steps!r}; expected a positive integer")
    started = time.perf_counter()
    model, torch_device, _, var, track_index = _setup(model, tracks, device, "float32")
    config = model.config
    span = _span(config.seq_length, center)
    obs, onehot, offsets = model_inputs(data, genome, model, float(n_value))
    bin_index = _target_bins(bins, config.n_bins, config.seq_length // 2 // config.bin_size - config.crop_bins)
    baselines = _baselines(baseline, onehot) if method == "integrated_gradients" else None
    batch_size = settings.resolve_batch_size(batch_size)
    head = torch.as_tensor(bin_index, device=torch_device)

    def forward(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = model(x, tracks=track_index)
        return out[:, head].sum((1, 2)), out[:, head].sum(1)

    def gradients(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        grads, targets, per_track = [], [], []
        for b in range(0, len(x), batch_size):
            inputs = torch.from_numpy(np.ascontiguousarray(x[b : b + batch_size])).to(torch_device).requires_grad_()
            with torch.enable_grad():
                target, tracks_sum = forward(inputs)
                (grad,) = torch.autograd.grad(target.sum(), inputs)
            grads.append(grad.cpu().numpy())
            targets.append(target.detach().cpu().numpy())
            per_track.append(tracks_sum.detach().cpu().numpy())
            bar.update(len(inputs))
        return np.concatenate(grads), np.concatenate(targets), np.concatenate(per_track)

    n_calls = len(onehot) * (1 if method == "grad_x_input" else n_steps + 2)
    attr = np.empty((len(onehot), span[1] - span[0], 4), np.float32)
    extra = {"target": np.empty(len(onehot)), "attribution_total": np.empty(len(onehot))}
    X = np.empty((len(onehot), len(track_index)), np.float32)
    with tqdm(total=n_calls, unit="window", desc=method, disable=not settings.progress) as bar:
        if method == "grad_x_input":
            grad, extra["target"], X[:] = gradients(onehot)
            full = grad * onehot
            attr[:], extra["attribution_total"] = full[:, span[0] : span[1]], full.sum((1, 2))
        else:
            extra["baseline_target"] = np.empty(len(onehot))
            alphas = (np.arange(n_steps, dtype=np.float32) + 0.5) / n_steps
            for i, (x, x0) in enumerate(zip(onehot, baselines, strict=True)):
                path = x0[None] + alphas[:, None, None] * (x - x0)[None]
                grad, _, _ = gradients(path)
                _, ends, ends_tracks = gradients(np.stack([x, x0]))
                full = (x - x0) * grad.mean(0)
                attr[i] = full[span[0] : span[1]]
                extra["target"][i], extra["baseline_target"][i] = ends
                extra["attribution_total"][i] = full.sum(dtype=np.float64)
                X[i] = ends_tracks[0]
    obs = obs.assign(**extra)
    params = {
        "method": method, "center": span[1] - span[0], "span": list(span), "tracks": track_index.tolist(),
        "bins": bin_index.tolist(), "n_steps": int(n_steps) if method == "integrated_gradients" else None,
        "baseline": baseline if isinstance(baseline, str) else "array", "n_value": float(n_value),
        "model_fingerprint": model_fingerprint(model), "seq_length": config.seq_length,
        "seconds": time.perf_counter() - started,
    }  # fmt: skip
    return _result(obs, var, X, attr, _span_onehot(onehot, span), offsets, span, key_added, params)


def _baselines(baseline, onehot: np.ndarray) -> np.ndarray:
    if isinstance(baseline, str):
        if baseline not in BASELINES:
            raise ValueError(f"baseline={baseline!r}; expected one of {list(BASELINES)} or an array")
        return np.full_like(onehot, 0.0 if baseline == "zeros" else 0.25)
    array = np.asarray(baseline, dtype=np.float32)
    if array.shape == onehot.shape[1:]:
        return np.broadcast_to(array, onehot.shape)
    if array.shape != onehot.shape:
        raise ValueError(f"baseline of shape {array.shape}; expected {onehot.shape[1:]} or {onehot.shape}")
    return array
