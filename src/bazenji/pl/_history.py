"""Training curves: loss, validation Pearson R (overall and per assay) and learning rate per epoch."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from ._utils import ASSAY_COLORS, finish, grid_axes

__all__ = ["training_history"]

PANELS = ("loss", "r", "lr")


def training_history(
    history,
    *,
    panels: Sequence[str] | None = None,
    figsize: tuple[float, float] | None = None,
    ax: Axes | None = None,
    show: bool | None = None,
    return_fig: bool = False,
):
    """Loss, validation R and learning rate per epoch of a training run, with the best epoch marked.

    Parameters
    ----------
    history
        What :func:`bazenji.tl.train` returned (a ``History``), its ``metrics`` DataFrame, its
        ``to_dict()`` form, or the ``history.json`` it wrote (the file or its checkpoint directory).
    panels
        Which panels, in order, out of ``"loss"`` (training and validation loss), ``"r"`` (validation Pearson
        R, overall and per assay from ``valid_r_<ASSAY>`` columns) and ``"lr"``; by default those the metrics
        have columns for.
    figsize
        Figure size; default 3.6 wide per panel.
    ax
        An axes whose place the panels take (side by side).
    show
        Show the figure (:func:`matplotlib.pyplot.show`). None: show it unless ``ax`` or ``return_fig`` is given
        or matplotlib cannot show figures (a file-only backend such as Agg: scripts, tests, CI).
    return_fig
        Return the figure.

    Returns
    -------
    The figure with ``return_fig``; else, when not shown, a dict of the panel axes named by panel (``"loss"``,
    ``"r"``, ``"lr"``), in the order drawn; else (shown) None.

    Raises
    ------
    ValueError
        No metrics, no ``loss`` column, or a panel the metrics have no column for.
    """
    metrics, best_epoch = _metrics(history)
    if metrics.empty:
        raise ValueError("the training history has no metrics (no epoch finished)")
    if "epoch" not in metrics.columns:
        metrics = metrics.assign(epoch=np.arange(1, len(metrics) + 1))
    available = [p for p in PANELS if _columns(metrics, p)]
    panels = list(panels) if panels is not None else available
    for panel in panels:
        if panel not in PANELS:
            raise ValueError(f"panel {panel!r}; expected among {PANELS}")
        if not _columns(metrics, panel):
            raise ValueError(f"panel {panel!r} needs columns the metrics lack (columns: {list(metrics.columns)})")
    if not panels:
        raise ValueError(f"nothing to plot: metrics have none of loss, valid_r, lr (columns: {list(metrics.columns)})")

    fig, axes = grid_axes(ax, 1, len(panels), figsize=figsize or (3.6 * len(panels), 3.0))
    epochs = metrics["epoch"].to_numpy()
    for panel_ax, panel in zip(axes, panels, strict=True):
        for column in _columns(metrics, panel):
            style = _style(column)
            panel_ax.plot(epochs, metrics[column].to_numpy(dtype=float), marker="o", markersize=3, **style)
        if best_epoch is not None:
            panel_ax.axvline(best_epoch, color="#888888", ls="--", lw=0.9, label=f"best epoch ({best_epoch})")
        panel_ax.set_xlabel("epoch")
        panel_ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        panel_ax.set_ylabel({"loss": "loss", "r": "validation Pearson R", "lr": "learning rate"}[panel])
        if panel == "lr":
            panel_ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 3))
        panel_ax.legend(fontsize=7, frameon=False)
        panel_ax.spines[["top", "right"]].set_visible(False)
    named = dict(zip(panels, axes, strict=True))
    return finish(fig, named, show=show, return_fig=return_fig, given_ax=ax is not None)


def _metrics(history) -> tuple[pd.DataFrame, int | None]:
    if isinstance(history, pd.DataFrame):
        return history, None
    if isinstance(history, str | os.PathLike):
        path = Path(history)
        path = path / "history.json" if path.is_dir() else path
        if not path.is_file():
            raise FileNotFoundError(f"no training history at {str(path)!r}")
        history = json.loads(path.read_text())
    if isinstance(history, dict):
        if "metrics" not in history:
            raise ValueError(f"history dict has keys {list(history)}; expected 'metrics' (History.to_dict())")
        return pd.DataFrame(history["metrics"]), history.get("best_epoch")
    if hasattr(history, "metrics"):
        return pd.DataFrame(history.metrics), getattr(history, "best_epoch", None)
    raise TypeError(f"history is a {type(history).__name__}; expected a History, a DataFrame, a dict or a path")


def _columns(metrics: pd.DataFrame, panel: str) -> list[str]:
    def usable(column):
        return column in metrics.columns and metrics[column].notna().any()

    if panel == "loss":
        return [c for c in ("loss", "valid_loss") if usable(c)]
    if panel == "r":
        per_assay = sorted(c for c in metrics.columns if c.startswith("valid_r_") and usable(c))
        return [c for c in ("valid_r",) if usable(c)] + per_assay
    return ["lr"] if usable("lr") else []


def _style(column: str) -> dict:
    if column == "loss":
        return {"label": "training", "color": "#1f77b4"}
    if column == "valid_loss":
        return {"label": "validation", "color": "#ff7f0e"}
    if column == "valid_r":
        return {"label": "all tracks", "color": "black", "lw": 2}
    if column.startswith("valid_r_"):
        assay = column.removeprefix("valid_r_")
        return {"label": assay, "color": ASSAY_COLORS.get(assay.upper(), None), "lw": 1}
    return {"label": column, "color": "#2ca02c"}
