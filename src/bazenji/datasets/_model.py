"""The demo model: a narrow Basenji2 at the real 131,072 bp window (trained by scripts/train_demo_model.py)."""

from __future__ import annotations

import json
from importlib.resources import files

from ..models._config import Basenji2Config

#: the demo model's architecture: the full Basenji2 graph (stem, 6 pooling convolutions, 11 dilated residual
#: units, crop, 1x1 block, head) at the human window, narrow enough to predict a window in tens of ms on a CPU
DEMO_CONFIG = dict(
    stem_channels=32,
    tower_channels=(32, 40, 48, 56, 64, 72),
    bottleneck=32,
    final_channels=96,
    n_tracks=18,
    gelu="erf",
)


def demo_config() -> Basenji2Config:
    """The architecture of the demo model."""
    return Basenji2Config(**DEMO_CONFIG)


def demo_model_path():
    """The folder of the shipped demo model (bazenji format)."""
    return files("bazenji.datasets") / "demo_model"


def demo_model():
    """The shipped demo model, trained on :func:`bazenji.datasets.demo` (seed 0), in eval mode."""
    from ..models._load import load

    path = demo_model_path()
    if not (path / "model.safetensors").is_file():
        raise FileNotFoundError(
            f"the demo model is missing from {path}; build it with `python scripts/train_demo_model.py`"
        )
    model = load(path)
    model.source = {"format": "bazenji", "path": "demo"}
    return model


def human_targets():
    """The track table of the released Basenji2 human model (``targets_human.txt``, 5,313 tracks).

    Shipped with bazenji because the released ``model_human.h5`` carries no track names: pass it as
    ``bz.models.load("model_human.h5", targets=bz.datasets.human_targets())``. It is the table of the cross2020
    manuscript folder of calico/basenji (Apache-2.0), unchanged; its ``file`` column holds paths on the authors'
    machines and is metadata only.

    Returns
    -------
    The path of the tab-separated table (read it with :func:`bazenji.io.read_targets`).
    """
    return files("bazenji.datasets") / "targets_human.txt"


def demo_model_metrics() -> dict:
    """Held-out (test chromosome) Pearson R of the shipped demo model on the demo as generated now.

    ``"at_training"`` holds the numbers measured when the model was trained.
    """
    return json.loads((demo_model_path() / "metrics.json").read_text())
