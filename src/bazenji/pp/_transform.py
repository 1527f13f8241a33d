"""Transforms of regions x tracks coverage: log1p, asinh, and undoing the targets table's squashing."""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

__all__ = ["TRANSFORM_METHODS", "transform_tracks"]

#: What ``method=`` (and each value of ``per_assay=``) accepts; ``None`` in ``per_assay`` leaves an assay as it is.
TRANSFORM_METHODS = ("log1p", "asinh", "untransform")

#: ``uns`` key under which :func:`transform_tracks` records what it did, one entry per written matrix.
UNS_KEY = "bz_transform"


def transform_tracks(
    adata: AnnData,
    *,
    method: str = "log1p",
    per_assay: Mapping[str, str | None] | None = None,
    layer: str | None = None,
    key_added: str | None = None,
    copy: bool = False,
) -> AnnData | None:
    """Transform coverage tracks: ``log1p``, ``asinh``, or undo the track table's scale and clip.

    Parameters
    ----------
    adata
        Regions x tracks, as :func:`bazenji.tl.predict` or :func:`bazenji.pp.import_bigwigs` return it.
    method
        Applied to every track (``per_assay`` overrides it for the assays it names):

        - ``"log1p"``: natural ``log(1 + x)``, as :func:`scanpy.pp.log1p`;
        - ``"asinh"``: ``arcsinh(x)``, log-like for large values and linear near zero;
        - ``"untransform"``: back from the model's training scale to coverage, the inverse of what the
          Basenji data pipeline applied to each track, read from ``var`` (see Notes).
    per_assay
        Method per assay (``var["assay"]``, case-insensitive), e.g. ``{"CAGE": "log1p", "DNASE": "asinh"}``;
        ``None`` as a value leaves that assay untouched. Assays not named get ``method``.
    layer
        Transform this layer instead of ``X``.
    key_added
        Write the result to ``layers[key_added]`` and keep the input; by default the input is overwritten.
    copy
        Work on a copy of ``adata`` and return it.

    Returns
    -------
    The transformed copy when ``copy=True``, else None. The result is float32 (sparse input stays sparse) and
    ``uns["bz_transform"][<output>]["params"]`` records the call, where ``<output>`` is ``key_added``, ``layer``
    or ``"X"``. Log1p on all of ``X`` also sets ``uns["log1p"]`` as :func:`scanpy.pp.log1p` does, so scanpy's
    fold changes know the data are logged.

    Raises
    ------
    ValueError
        An unknown method, ``per_assay`` without an ``assay`` column or naming an absent assay, negative values
        under ``log1p``, or ``"untransform"`` on a track table without ``scale``, ``clip_soft`` or ``sum_stat``.

    Notes
    -----
    The Basenji data pipeline (``basenji_data_read.py`` in calico/basenji) turns binned coverage into training
    targets by, in this order: ``sum_stat`` pooling (``sum_sqrt``: the bin sum to the power 3/4), soft clip
    (values above ``clip_soft`` become ``clip_soft + sqrt(x - clip_soft)``), hard clip to ``[-clip, clip]``, and
    multiplication by ``scale``. ``"untransform"`` inverts it exactly as the official ``untransform_preds1`` of
    calico/basenji's ``bin/basenji_sad.py`` does with ``unscale=True``:

    1. ``x = x / scale``;
    2. where ``x > clip_soft``: ``x = clip_soft + (x - clip_soft) ** 2``;
    3. tracks whose ``sum_stat`` contains ``_sqrt``: ``x = x ** (4 / 3)``.

    A missing ``scale`` counts as 1, a missing or NaN ``clip_soft`` or ``sum_stat`` as no such step. The hard
    ``clip`` cannot be undone: values at the ceiling ``clip`` stay there; how many there were is recorded as
    ``n_at_clip``. For the released human table (``clip_soft`` absent, ``sum_stat`` ``sum``/``mean``) this is
    division by ``scale``, exact for region means and sums too; the other two steps are non-linear, so on region
    aggregates (``X``) they invert the aggregate rather than aggregate the inverted bins.
    """
    if method not in TRANSFORM_METHODS:
        raise ValueError(f"method={method!r}; expected one of {TRANSFORM_METHODS}")
    if key_added is not None and (not isinstance(key_added, str) or not key_added):
        raise ValueError(f"key_added={key_added!r}; expected a non-empty layer name or None")
    adata = adata.copy() if copy else adata
    source = _matrix(adata, layer)
    methods = _methods_per_track(adata.var, method, per_assay)
    output = key_added or layer or "X"
    previous = adata.uns.get(UNS_KEY, {})
    if (layer or "X") in previous:
        warnings.warn(
            f"{layer or 'X'} was already transformed by bz.pp.transform_tracks "
            f"({dict(previous[layer or 'X'].get('params', {}))}); transforming it again",
            UserWarning,
            stacklevel=2,
        )

    result = source.astype(np.float32, copy=True)
    values, columns = _values_and_columns(result)
    n_at_clip = 0
    for name in ("log1p", "asinh", "untransform"):
        selected = np.flatnonzero(methods == name)
        if selected.size == 0:
            continue
        hit = np.isin(columns, selected) if columns is not None else None
        if name == "untransform":
            n_at_clip = _untransform(values, columns, hit, adata.var, selected)
            continue
        block = values if hit is None else values[hit]
        if hit is None:
            block = block[:, selected]
        if name == "log1p":
            if np.nanmin(block, initial=0.0) < 0:
                raise ValueError(
                    "log1p of negative coverage; expected values >= 0 (use method='asinh' for signed data)"
                )
            block = np.log1p(block)
        else:
            block = np.arcsinh(block)
        if hit is None:
            values[:, selected] = block
        else:
            values[hit] = block

    if key_added is not None:
        adata.layers[key_added] = result
    elif layer is not None:
        adata.layers[layer] = result
    else:
        adata.X = result
    params = {
        "method": method,
        "per_assay": None if per_assay is None else {str(k): (v or "none") for k, v in per_assay.items()},
        "layer": layer,
        "key_added": key_added,
    }
    record = {"params": params, "source": layer or "X", "n_tracks": {m: int((methods == m).sum()) for m in
              TRANSFORM_METHODS}}  # fmt: skip
    if "untransform" in methods:
        record["n_at_clip"] = int(n_at_clip)
    adata.uns[UNS_KEY] = {**previous, output: record}
    if output == "X" and (methods == "log1p").all():
        adata.uns["log1p"] = {"base": None}
    return adata if copy else None


def _matrix(adata: AnnData, layer: str | None):
    if layer is None:
        if adata.X is None:
            raise ValueError("adata.X is None; pass layer= to transform a layer")
        return adata.X
    if layer not in adata.layers:
        raise ValueError(f"layer={layer!r} not in adata.layers (present: {list(adata.layers)})")
    return adata.layers[layer]


def _methods_per_track(var: pd.DataFrame, method: str, per_assay) -> np.ndarray:
    """The method of each track as an object array (``None``: left as it is)."""
    methods = np.full(len(var), method, dtype=object)
    if per_assay is None:
        return methods
    if not isinstance(per_assay, Mapping):
        raise ValueError(f"per_assay={per_assay!r}; expected a dict of assay -> method")
    if "assay" not in var.columns:
        raise ValueError("per_assay needs an 'assay' column in var; this track table has none")
    assays = var["assay"].astype(str).str.upper().to_numpy()
    present = sorted(set(assays))
    for assay, assay_method in per_assay.items():
        if assay_method is not None and assay_method not in TRANSFORM_METHODS:
            raise ValueError(f"per_assay[{assay!r}]={assay_method!r}; expected one of {TRANSFORM_METHODS} or None")
        mask = assays == str(assay).upper()
        if not mask.any():
            raise ValueError(f"per_assay names assay {assay!r}, which no track has (present: {present})")
        methods[mask] = assay_method
    return methods


def _values_and_columns(matrix) -> tuple[np.ndarray, np.ndarray | None]:
    """A writable view of the stored values and, for sparse matrices, the column of each stored value."""
    if sparse.issparse(matrix):
        matrix.sum_duplicates()
        if matrix.format == "csr":
            return matrix.data, matrix.indices
        if matrix.format == "csc":
            return matrix.data, np.repeat(np.arange(matrix.shape[1]), np.diff(matrix.indptr))
        raise ValueError(f"sparse format {matrix.format!r}; expected csr or csc")
    return np.asarray(matrix), None


def _track_column(var: pd.DataFrame, name: str, default: float) -> np.ndarray:
    if name not in var.columns:
        return np.full(len(var), default, dtype=np.float64)
    return pd.to_numeric(var[name], errors="coerce").to_numpy(dtype=np.float64)


def _untransform(values, columns, hit, var: pd.DataFrame, selected: np.ndarray) -> int:
    """Invert sum_stat/soft clip/clip/scale in place for tracks ``selected``; returns the count at the hard clip."""
    if not {"scale", "clip_soft", "sum_stat"} & set(var.columns):
        raise ValueError(
            "method='untransform' needs a track table with 'scale', 'clip_soft' or 'sum_stat' columns; "
            f"var has {list(var.columns)}"
        )
    scale = _track_column(var, "scale", 1.0)
    scale = np.where(np.isfinite(scale), scale, 1.0)
    if (scale[selected] == 0).any():
        raise ValueError(f"scale is 0 for track(s) {list(var.index[selected][scale[selected] == 0][:5])}")
    clip = _track_column(var, "clip", np.nan)
    clip_soft = _track_column(var, "clip_soft", np.nan)
    sum_stat = var["sum_stat"].astype(str).to_numpy() if "sum_stat" in var.columns else np.full(len(var), "")
    sqrt = np.array(["_sqrt" in s for s in sum_stat])

    if columns is None:
        block = values[:, selected].astype(np.float64)
        col = np.broadcast_to(selected, block.shape)
    else:
        block = values[hit].astype(np.float64)
        col = columns[hit]
    ceiling = clip[col] * scale[col]
    n_at_clip = int(np.count_nonzero(np.isfinite(ceiling) & (block >= ceiling * (1 - 1e-3))))
    block = block / scale[col]
    soft = clip_soft[col]
    over = np.isfinite(soft) & (block > soft)
    block[over] = soft[over] + (block[over] - soft[over]) ** 2
    root = sqrt[col]
    block[root] = np.sign(block[root]) * np.abs(block[root]) ** (4 / 3)
    if columns is None:
        values[:, selected] = block
    else:
        values[hit] = block
    return n_at_clip
