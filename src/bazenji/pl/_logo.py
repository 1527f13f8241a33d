"""Sequence logos of in-silico mutagenesis scores and attributions, on genomic or sequence coordinates."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from anndata import AnnData
from matplotlib.axes import Axes
from matplotlib.font_manager import FontProperties
from matplotlib.patches import PathPatch
from matplotlib.text import TextPath
from matplotlib.transforms import Affine2D

from ._utils import finish, genomic_xaxis

__all__ = ["logo"]

#: the usual logo colours: A green, C blue, G amber, T red
BASE_COLORS = {"A": "#109648", "C": "#255c99", "G": "#f7b32b", "T": "#d62839"}
KINDS = ("auto", "reference", "all")
_LETTER_WIDTH = 0.9
_FONT = FontProperties(family="DejaVu Sans", weight="bold")


def _letter(base: str, x: float, bottom: float, height: float) -> PathPatch:
    """``base`` as a filled path covering ``[x - w/2, x + w/2] x [bottom, bottom + height]`` in data units."""
    glyph = TextPath((0, 0), base, size=1, prop=_FONT)
    box = glyph.get_extents()
    transform = (
        Affine2D()
        .translate(-box.x0, -box.y0)
        .scale(_LETTER_WIDTH / box.width, height / box.height)
        .translate(x - _LETTER_WIDTH / 2, bottom)
    )
    return PathPatch(transform.transform_path(glyph), facecolor=BASE_COLORS[base], edgecolor="none", gid=base)


def _values(adata: AnnData, key: str | None, track) -> tuple[str, np.ndarray, str | None]:
    """The obsm key, the scores ``(n, span, 4)`` of one track, and that track's name."""
    if key is None:
        key = next((k for k in ("bz_ism", "bz_attributions") if k in adata.obsm), None)
        if key is None:
            raise ValueError(
                f"no 'bz_ism' or 'bz_attributions' in obsm (keys: {list(adata.obsm)}); pass key= or run "
                "bz.tl.ism / bz.tl.attributions first"
            )
    if key not in adata.obsm or f"{key}_onehot" not in adata.obsm:
        raise ValueError(f"key={key!r}: expected obsm[{key!r}] and obsm['{key}_onehot'] (from bz.tl.ism/attributions)")
    scores = np.asarray(adata.obsm[key])
    if scores.ndim == 3:
        return key, scores, None
    names = list(adata.var_names)
    if track is None:
        if scores.shape[-1] != 1:
            raise ValueError(f"obsm[{key!r}] holds {scores.shape[-1]} tracks; pass track= one of {names[:8]}")
        column = 0
    elif isinstance(track, int | np.integer) and not isinstance(track, bool):
        if not -len(names) <= track < len(names):
            raise ValueError(f"track={track!r}; expected a position in 0..{len(names) - 1} or a name in {names[:8]}")
        column = int(track) % len(names)
    elif str(track) in names:
        column = names.index(str(track))
    else:
        raise ValueError(f"track={track!r}; expected a name in {names[:8]} or a position")
    return key, scores[..., column], names[column]


def logo(
    adata: AnnData,
    region: int | str = 0,
    *,
    key: str | None = None,
    track: int | str | None = None,
    kind: str = "auto",
    start: int | None = None,
    end: int | None = None,
    figsize: tuple[float, float] | None = None,
    title: str | None = None,
    ax: Axes | None = None,
    show: bool | None = None,
    return_fig: bool = False,
):
    """Sequence logo of ISM scores or attributions of one region, on its coordinates.

    Parameters
    ----------
    adata
        The result of :func:`bazenji.tl.ism` or :func:`bazenji.tl.attributions`.
    region
        The region (or sequence): a position or an ``obs`` name.
    key
        The ``obsm`` key of the scores; ``"bz_ism"``, else ``"bz_attributions"``, when None.
    track
        For ISM scores of several tracks: the track (name or position) to draw.
    kind
        ``"reference"``: the base present at each position, its height the score of that base (attributions
        sit on the present base; an ISM score there is how much better the present base does than the average
        base); ``"all"``: the four bases at each position stacked by score, positive ones upwards and negative
        ones downwards, the largest farthest from zero; ``"auto"``: ``"all"`` for ISM, ``"reference"`` for
        attributions.
    start, end
        The part of the span to draw, in the x-axis coordinates (genomic 0-based for regions, positions in the
        sequence otherwise); the whole span by default.
    figsize, title
        Figure size and title (default: the region, track and score kind).
    ax
        Draw into this axes instead of a new figure.
    show
        Show the figure (:func:`matplotlib.pyplot.show`). None: show it unless ``ax`` or ``return_fig`` is given
        or matplotlib cannot show figures (a file-only backend such as Agg: scripts, tests, CI).
    return_fig
        Return the figure.

    Returns
    -------
    The figure with ``return_fig``; else, when not shown, the axes; else (shown) None.
    """
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r}; expected one of {list(KINDS)}")
    key, scores, track_name = _values(adata, key, track)
    names = list(adata.obs_names)
    if isinstance(region, str):
        if region not in names:
            raise ValueError(f"region={region!r} is not an obs name; expected one of {names[:5]} or a position")
        index = names.index(region)
    else:
        if not -len(names) <= int(region) < len(names):
            raise ValueError(f"region={region!r}; expected a position in 0..{len(names) - 1} or an obs name")
        index = int(region) % len(names)
    obs = adata.obs.iloc[index]
    values = scores[index]
    present = np.asarray(adata.obsm[f"{key}_onehot"][index]).astype(bool)
    first = int(obs["span_start"]) if "span_start" in adata.obs else 0
    coords = first + np.arange(len(values))
    lo = coords[0] if start is None else int(start)
    hi = coords[-1] + 1 if end is None else int(end)
    keep = (coords >= lo) & (coords < hi)
    if not keep.any():
        raise ValueError(f"start={start!r}, end={end!r} leave nothing of the span {coords[0]}..{coords[-1] + 1}")
    is_ism = np.asarray(adata.obsm[key]).ndim == 4 or key in adata.uns and adata.uns[key].get("method") == "ism"
    if kind == "auto":
        kind = "all" if is_ism else "reference"

    if ax is None:
        fig, axes = plt.subplots(figsize=figsize or (max(4.0, 0.25 * keep.sum() + 1.5), 2.4), layout="constrained")
    else:
        fig, axes = ax.figure, ax
    for x, row, hot in zip(coords[keep], values[keep], present[keep], strict=True):
        if kind == "reference":
            for b in np.flatnonzero(hot):
                value = float(row[b])
                axes.add_patch(_letter("ACGT"[b], x, min(value, 0.0), abs(value)))
            continue
        up = down = 0.0
        for b in np.argsort(np.abs(row)):  # smallest nearest the axis
            value = float(row[b])
            if value >= 0:
                axes.add_patch(_letter("ACGT"[b], x, up, value))
                up += value
            else:
                down += value
                axes.add_patch(_letter("ACGT"[b], x, down, -value))
    axes.axhline(0, color="#999999", linewidth=0.6, zorder=0)
    axes.autoscale_view()
    if "Chromosome" in adata.obs:
        genomic_xaxis(axes, str(obs["Chromosome"]), lo, hi)
    else:
        axes.set_xlabel("position in sequence")
    axes.set_xlim(lo - 0.5, hi - 0.5)
    axes.set_ylabel("ISM score" if is_ism else "attribution")
    method = adata.uns.get(key, {}).get("method", key)
    axes.set_title(title if title is not None else " · ".join(str(p) for p in (names[index], track_name, method) if p))
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    return finish(fig, axes, show=show, return_fig=return_fig, given_ax=ax is not None)
