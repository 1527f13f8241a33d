"""Basenji2 in PyTorch and loaders for every real weight format."""

from ._basenji2 import Basenji2, gelu
from ._config import GELU_FORMS, Basenji2Config
from ._inference import OptimizedBasenji2, optimize
from ._load import FORMATS, detect_format, load

__all__ = [
    "FORMATS",
    "GELU_FORMS",
    "Basenji2",
    "Basenji2Config",
    "OptimizedBasenji2",
    "detect_format",
    "gelu",
    "load",
    "optimize",
]
