"""Model calls on one-hot batches with the official reverse-complement and shift ensembling."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import torch

from .._settings import settings
from ..io.targets import strand_partners

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_dtype(dtype: str | torch.dtype, device: torch.device) -> torch.dtype:
    """The torch dtype for ``dtype``, refusing one the device cannot run."""
    if isinstance(dtype, torch.dtype):
        dtype = str(dtype).removeprefix("torch.")
    if dtype not in DTYPES:
        raise ValueError(f"dtype={dtype!r}; expected one of {list(DTYPES)}")
    if dtype == "float16" and device.type == "cpu":
        raise ValueError("dtype='float16' is not supported on the cpu device; expected 'float32' or 'bfloat16'")
    return DTYPES[dtype]


def resolve_placement(client, device, dtype) -> tuple[object | None, torch.device | None, torch.dtype]:
    """The dask client (``settings.client`` when None, none when False), the local torch device, the dtype.

    With a client the device is each worker's, so only the dtype's name is checked here and the local
    device is None.
    """
    client = settings.client if client is None else (client or None)
    if client is not None:
        return client, None, resolve_dtype(dtype, torch.device("cuda"))
    torch_device = settings.resolve_device(device)
    return None, torch_device, resolve_dtype(dtype, torch_device)


def shift_onehot(onehot: torch.Tensor, shift: int) -> torch.Tensor:
    """Move the sequence ``shift`` bp to the right (left if negative), filling with N (all-zero)."""
    if shift == 0:
        return onehot
    out = torch.zeros_like(onehot)
    if shift > 0:
        out[:, shift:] = onehot[:, :-shift]
    else:
        out[:, :shift] = onehot[:, -shift:]
    return out


def strand_pair_permutation(targets, tracks: np.ndarray | None) -> np.ndarray | None:
    """Column permutation that swaps strand-paired tracks, within the computed ``tracks``; None without pairs.

    A track whose partner is not computed keeps its own column (the best available approximation), with a
    warning naming it.
    """
    partners = strand_partners(targets)
    if partners is None:
        return None
    positions = np.arange(len(targets)) if tracks is None else np.asarray(tracks)
    column_of = {int(track): column for column, track in enumerate(positions)}
    alone = [int(t) for t in positions if partners[t] != t and int(partners[t]) not in column_of]
    if alone:
        warnings.warn(
            f"rc: {len(alone)} strand-paired tracks are computed without their partner (e.g. "
            f"{targets.index[alone[0]]!r}, partner {targets.index[partners[alone[0]]]!r}); their reverse-complement "
            "prediction is averaged unswapped. Add the partners to tracks= to swap them as the official code does.",
            UserWarning,
            stacklevel=3,
        )
    return np.array([column_of.get(int(partners[track]), column) for column, track in enumerate(positions)])


def predict_onehot(
    model,
    onehot: torch.Tensor,
    *,
    tracks: np.ndarray | None = None,
    rc: bool = False,
    shifts: Sequence[int] = (0,),
    dtype: torch.dtype = torch.float32,
    strand_pairs: np.ndarray | None = None,
) -> torch.Tensor:
    """Ensembled coverage ``(batch, bins, tracks)`` in float32 for a one-hot batch already on the model's device.

    Every shift is predicted on the forward strand and, with ``rc``, on the reverse complement whose
    output bins are reversed back (and strand-paired tracks swapped); the members are averaged, as the
    official ``ensemble_rc``/``ensemble_shift`` do.
    """
    total, members = None, 0
    with torch.inference_mode():
        for shift in shifts:
            shifted = shift_onehot(onehot, int(shift)).to(dtype)
            for reverse in (False, True) if rc else (False,):
                x = shifted.flip(1, 2) if reverse else shifted
                out = model(x, tracks=tracks).float()
                if reverse:
                    out = out.flip(1)
                    if strand_pairs is not None:
                        out = out[..., torch.as_tensor(strand_pairs, device=out.device)]
                # in place: a batch of full-size profiles is tens of MB, so no ensemble member is copied twice
                total = out if total is None else total.add_(out)
                members += 1
        return total if members == 1 else total.div_(members)
