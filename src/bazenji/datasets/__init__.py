"""The embedded demo: a small synthetic genome with tracks, peaks and a labelled region set."""

from ._demo import DEMO_VERSION, REGION_CLASSES, Demo, demo, demo_regions
from ._model import demo_config, demo_model, demo_model_metrics, human_targets
from ._motifs import BIOSAMPLES, GRAMMAR, MOTIFS
from ._scatac import demo_scatac

__all__ = [
    "BIOSAMPLES",
    "DEMO_VERSION",
    "GRAMMAR",
    "MOTIFS",
    "REGION_CLASSES",
    "Demo",
    "demo",
    "demo_config",
    "demo_model",
    "demo_model_metrics",
    "demo_regions",
    "demo_scatac",
    "human_targets",
]
