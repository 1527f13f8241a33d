"""What the tools share: resolving models and genomes, fingerprints, track tables, provenance helpers."""

from __future__ import annotations

import hashlib
import logging

import pandas as pd

from ..io import default_targets
from ..models import Basenji2, load

logger = logging.getLogger("bazenji")


def resolve_model(model) -> Basenji2:
    """A :class:`Basenji2` from a model, anything :func:`bazenji.models.load` accepts, or None (the demo model)."""
    if model is None:
        logger.warning("no model given: using the embedded demo model (bz.models.load('demo'))")
        model = "demo"
    return model if isinstance(model, Basenji2) else load(model)


def resolve_genome(genome, model: Basenji2):
    """A :class:`bazenji.io.Genome` from a genome or a path; None means the demo genome, for the demo model only."""
    from ..io import Genome

    if genome is None:
        if model.source.get("path") != "demo":
            raise ValueError(
                f"genome=None with the model from {model.source.get('path')!r}: expected a bz.io.Genome or a FASTA "
                "path (the embedded demo genome is the default for the demo model only)"
            )
        from ..datasets import demo

        logger.warning("no genome given: using the embedded demo genome, the demo model's")
        genome = demo().fasta
    return genome if isinstance(genome, Genome) else Genome(genome)


def model_fingerprint(model: Basenji2, *, trunk_only: bool = False) -> str:
    """A hash of the configuration and every weight: results are only reused for the identical model.

    With ``trunk_only`` the head and the track count are left out: what embeddings depend on.
    """
    config = model.config.to_dict()
    if trunk_only:
        config.pop("n_tracks")
    digest = hashlib.blake2b(repr(config).encode(), digest_size=12)
    for name, tensor in model.state_dict().items():
        if name.endswith("num_batches_tracked"):  # a training counter, not a weight: no file format keeps it
            continue
        if not (trunk_only and name.startswith("head.")):
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def track_table(model: Basenji2) -> pd.DataFrame:
    """The model's track table, or ``track_0 ...`` without one."""
    return model.targets if model.targets is not None else default_targets(model.config.n_tracks)


def versions() -> dict:
    from importlib.metadata import version

    return {name: version(name) for name in ("bazenji", "torch", "numpy", "anndata", "zarr", "xarray")}


def h5ad_safe(value):
    """Provenance that h5ad and zarr can store: no None, no tuples."""
    if isinstance(value, dict):
        return {k: h5ad_safe(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [h5ad_safe(v) for v in value]
    return value
