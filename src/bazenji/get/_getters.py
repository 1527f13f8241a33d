"""``bz.get``: views of what :func:`bazenji.tl.predict` and :func:`bazenji.tl.score_cells` wrote into an AnnData."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd


def _stored(adata: ad.AnnData, key: str, slot: str, producer: str) -> tuple[np.ndarray, pd.DataFrame, dict]:
    """The matrix in ``adata.<slot>[key]``, its track table and its ``uns`` record."""
    mapping = adata.varm if slot == "varm" else adata.obsm
    if key not in mapping or key not in adata.uns:
        raise KeyError(f"adata.{slot}[{key!r}] and adata.uns[{key!r}] not found; run {producer} first (or pass key=)")
    info = adata.uns[key]
    return np.asarray(mapping[key], dtype=np.float32), pd.DataFrame(info["tracks"]).copy(), info


def tracks(adata: ad.AnnData, *, key: str = "bz") -> ad.AnnData:
    """The peaks x tracks predictions of a cells x peaks AnnData as their own AnnData.

    Parameters
    ----------
    adata
        A cells x peaks AnnData predicted by :func:`bazenji.tl.predict`.
    key
        The ``key_added`` of that call.

    Returns
    -------
    AnnData with ``obs`` the peaks (``adata.var``), ``var`` the track table and ``X`` the predictions, as
    :func:`bazenji.tl.predict` returns for regions; ``uns["bazenji"]`` holds the provenance.
    """
    values, var, info = _stored(adata, key, "varm", "bz.tl.predict(adata, ...)")
    result = ad.AnnData(X=values, obs=adata.var.copy(), var=var)
    result.uns["bazenji"] = info["provenance"]
    return result


def scores(adata: ad.AnnData, *, key: str = "bz_scores") -> ad.AnnData:
    """Per-cell track scores as a cells x tracks AnnData sharing ``adata``'s ``obs``, embeddings and colours.

    ``sc.pl.umap(bz.get.scores(adata), color="DNASE_K562")`` plots a track's scores on the cells' UMAP.

    Parameters
    ----------
    adata
        A cells x peaks AnnData scored by :func:`bazenji.tl.score_cells`.
    key
        The ``key_added`` of that call.

    Returns
    -------
    AnnData with ``X`` the scores, ``obs``, ``obsm`` (``X_umap`` ...) and ``uns`` colours from ``adata`` and
    ``var`` the scored tracks' table.
    """
    values, var, info = _stored(adata, key, "obsm", "bz.tl.score_cells(adata)")
    result = ad.AnnData(
        X=values,
        obs=adata.obs.copy(),
        var=var,
        obsm={k: v for k, v in adata.obsm.items() if k != key},
        uns={k: v for k, v in adata.uns.items() if k.endswith("_colors")},
    )
    result.uns[key] = {"params": info["params"]}
    return result
