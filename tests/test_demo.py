"""The shipped demo model and the main job, on the embedded demo."""

import subprocess
import sys

import anndata as ad
import numpy as np
import pytest
import torch
from sklearn.metrics import adjusted_rand_score

import bazenji as bz

#: the shipped model reaches an ARI of 0.33 on the demo (README); the threshold leaves room for Leiden's
#: platform-dependent tie breaking
MIN_ARI = 0.25


@pytest.fixture(scope="module")
def demo():
    bz.settings.progress = False
    return bz.datasets.demo()


@pytest.fixture(scope="module")
def model():
    return bz.models.load("demo")


def test_demo_model_is_the_full_graph_at_the_real_window(model, demo):
    config = model.config
    assert (config.seq_length, config.n_bins, config.bin_size) == (131_072, 896, 128)
    assert config.dilations == [1, 2, 3, 4, 6, 9, 14, 21, 32, 48, 72] and config.n_tracks == 18
    assert list(model.track_names) == list(bz.io.read_targets(demo.targets).index)
    size = sum(f.stat().st_size for f in bz.datasets._model.demo_model_path().iterdir())
    assert size <= 5 * 2**20


def test_evaluate_reproduces_the_recorded_test_numbers(model, demo, tmp_path):
    """The README's held-out numbers: the training script's chr4 windows, evaluated again."""
    genome = bz.io.Genome(demo.fasta)
    plan = bz.pp.tile_genome(genome, chroms=["chr4"], stride=16_384)
    bz.pp.encode(plan, genome, tmp_path / "chr4.zarr")
    bz.pp.import_bigwigs(tmp_path / "chr4.zarr", targets=demo.targets)
    result = bz.tl.evaluate(model, tmp_path / "chr4.zarr", split=None)
    recorded = bz.datasets.demo_model_metrics()
    assert result["pearsonr"].mean() == pytest.approx(recorded["pearsonr_mean"], abs=2e-3)
    for assay, r in recorded["pearsonr_by_assay"].items():
        assert result.loc[result["assay"] == assay, "pearsonr"].mean() == pytest.approx(r, abs=2e-3)


def test_predicted_regions_cluster_into_planted_classes(model, demo):
    regions = bz.pp.regions(demo.regions_table())
    adata = bz.tl.predict(regions, model, demo.fasta, batch_size=8)
    observed = bz.pp.import_bigwigs(regions, targets=demo.targets)
    # predictions follow the planted activity: per track, R between predicted and observed region coverage
    held_out = (adata.obs["Chromosome"] == "chr4").to_numpy()
    r = [np.corrcoef(np.log1p(adata.X[held_out, t]), np.log1p(observed.X[held_out, t]))[0, 1] for t in range(18)]
    assert np.mean(r) > 0.5
    bz.tl.cluster_regions(adata, n_pcs=10, resolution=0.5)
    ari = adjusted_rand_score(adata.obs["region_class"].astype(str), adata.obs["bz_cluster"].astype(str))
    assert ari > MIN_ARI
    # marker tracks: the planted biosample's DNase marks its enhancers
    markers = bz.tl.rank_tracks(adata, "region_class")
    for biosample in ("HepG2", "K562", "GM12878"):
        top = markers[markers["group"] == f"enhancer_{biosample}"].head(3)
        assert (top["biosample"].astype(str) == biosample).any(), top


def test_main_job_from_the_command_line(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "bazenji.cli", "demo", "-o", str(tmp_path / "out"), "--quiet"],
        capture_output=True, text=True, check=False, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "adjusted Rand index" in done.stdout
    adata = ad.read_h5ad(tmp_path / "out" / "predictions.h5ad")
    assert adata.n_obs == 667 and adata.n_vars == 18 and "observed" in adata.layers
    assert (tmp_path / "out" / "heatmap.png").stat().st_size > 10_000


def test_demo_model_predicts_from_sequence(model):
    onehot = torch.zeros(1, 131_072, 4, dtype=torch.uint8)
    with torch.inference_mode():
        out = model(onehot)
    assert out.shape == (1, 896, 18) and torch.isfinite(out).all()
