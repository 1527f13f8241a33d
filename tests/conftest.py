from pathlib import Path

import numpy as np
import pytest
import torch

#: Reference checkpoints with their own implementations' predictions (see tests/data/README.md).
REFERENCE_DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def reference_data() -> Path:
    """The reference fixtures folder; its absence is a failure, never a skip."""
    if not (REFERENCE_DATA / "basenji2_keras_small").is_dir():
        raise FileNotFoundError(f"reference fixtures not found at {REFERENCE_DATA}: they are part of the repository")
    return REFERENCE_DATA


@pytest.fixture(scope="session")
def human_targets() -> Path:
    """The real 5,313-track table of the released human model, as shipped in the package."""
    import bazenji as bz

    return Path(bz.datasets.human_targets())


def randomize_batch_norm(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give every batch norm non-trivial statistics, as the reference fixtures have."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm1d):
                n = module.num_features
                module.weight.copy_(0.5 + torch.rand(n, generator=generator))
                module.bias.copy_(0.2 * torch.randn(n, generator=generator))
                module.running_mean.copy_(0.3 * torch.randn(n, generator=generator))
                module.running_var.copy_(0.5 + 1.5 * torch.rand(n, generator=generator))
    return model


def random_onehot(batch: int, length: int, seed: int = 0, n_fraction: float = 0.01) -> np.ndarray:
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, size=(batch, length))
    onehot = np.eye(4, dtype=np.uint8)[codes]
    onehot[rng.random((batch, length)) < n_fraction] = 0
    return onehot


def small_config(**changes):
    """The narrow Basenji2 graph of the reference fixtures (16,384 bp in, 112 bins x 12 tracks out)."""
    from bazenji.models import Basenji2Config

    fields = dict(
        seq_length=16_384, stem_channels=8, tower_channels=(10, 12, 14, 16, 19, 23), bottleneck=6,
        crop_bins=8, final_channels=16, n_tracks=12,
    )  # fmt: skip
    return Basenji2Config(**{**fields, **changes})
