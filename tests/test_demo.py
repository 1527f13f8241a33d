"""The shipped demo model and the main job, on the embedded demo."""

import subprocess
import sys
from pathlib import Path

import anndata as ad
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import scanpy as sc
import torch
from sklearn.metrics import adjusted_rand_score

import bazenji as bz

#: the shipped model reaches an ARI of 0.36 on the demo (README); the threshold leaves room for Leiden's
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


@pytest.fixture(scope="module")
def predicted_and_observed(model, demo):
    regions = bz.pp.regions(demo.regions_table())
    predicted = bz.tl.predict(regions, model, demo.fasta, batch_size=8)
    return predicted, bz.pp.import_bigwigs(regions, targets=demo.targets)


def test_predicted_regions_cluster_into_planted_classes(predicted_and_observed):
    adata, observed = (a.copy() for a in predicted_and_observed)
    # predictions follow the planted activity: per track, R between predicted and observed region coverage
    held_out = (adata.obs["Chromosome"] == "chr4").to_numpy()
    r = [np.corrcoef(np.log1p(adata.X[held_out, t]), np.log1p(observed.X[held_out, t]))[0, 1] for t in range(18)]
    assert np.mean(r) > 0.5
    bz.tl.cluster_regions(adata, n_pcs=10, resolution=0.5)
    ari = adjusted_rand_score(adata.obs["region_class"].astype(str), adata.obs["bz_cluster"].astype(str))
    assert ari > MIN_ARI
    # the top marker track of each class with a planted biosample is that biosample's (README, tutorial 01)
    top = bz.tl.rank_tracks(adata, "region_class").groupby("group", observed=True).head(1).set_index("group")
    for group in ("enhancer_HepG2", "enhancer_K562", "enhancer_GM12878", "promoter_HepG2", "promoter_K562",
                  "promoter_GM12878"):  # fmt: skip
        assert top.loc[group, "biosample"] == group.split("_")[1], top
    assert top.loc["ctcf", "target"] == "CTCF" and top.loc["promoter", "assay"] == "CAGE"
    assert top.loc["background", "logfoldchange"] < 0  # nothing is predicted enriched in background sequence
    lineage = {"enhancer_HepG2": "HNF4A", "enhancer_K562": "GATA1", "enhancer_GM12878": "SPI1"}
    for group, factor in lineage.items():
        assert top.loc[group, "target"] == factor


def test_observed_tracks_mark_every_planted_class(predicted_and_observed):
    """The planted grammar as the bigWigs record it: every class's top marker is what was planted."""
    top = bz.tl.rank_tracks(predicted_and_observed[1], "region_class").groupby("group", observed=True).head(1)
    top = top.set_index("group")
    for group in ("enhancer_HepG2", "enhancer_K562", "enhancer_GM12878"):
        assert top.loc[group, "biosample"] == group.split("_")[1] and top.loc[group, "assay"] == "DNASE"
    for group in ("promoter_HepG2", "promoter_K562", "promoter_GM12878"):
        assert top.loc[group, "biosample"] == group.split("_")[1]
    assert top.loc["ctcf", "target"] == "CTCF" and top.loc["promoter", "assay"] == "CAGE"
    assert top.loc["background", "logfoldchange"] < 0  # nothing is enriched in background sequence


@pytest.mark.parametrize("which", ["predicted", "observed"])
def test_scanpy_chain_on_the_demo(predicted_and_observed, which):
    """Predictions and observed bigWig coverage go through scanpy as they are, tracks as var_names."""
    adata = predicted_and_observed[which == "observed"].copy()
    sc.pp.log1p(adata)
    adata.layers["log"] = adata.X.copy()
    sc.pp.scale(adata)
    sc.pp.pca(adata, n_comps=10, random_state=0)
    sc.pp.neighbors(adata, n_neighbors=15, random_state=0)
    sc.tl.leiden(adata, resolution=0.5, flavor="igraph", n_iterations=2, directed=False, random_state=0)
    sc.tl.umap(adata, random_state=0)
    assert adata.obsm["X_pca"].shape == (667, 10) and adata.obsm["X_umap"].shape == (667, 2)
    ari = adjusted_rand_score(adata.obs["region_class"].astype(str), adata.obs["leiden"].astype(str))
    assert ari > MIN_ARI
    sc.tl.rank_genes_groups(adata, "region_class", layer="log", method="wilcoxon")
    for biosample in ("HepG2", "K562", "GM12878"):
        names = sc.get.rank_genes_groups_df(adata, group=f"enhancer_{biosample}")["names"].head(3)
        assert adata.var.loc[names, "biosample"].eq(biosample).any(), names.tolist()
    markers = {"HepG2": ["HNF4A_HepG2", "DNASE_HepG2"], "K562": ["GATA1_K562", "DNASE_K562"]}
    assert all(t in adata.var_names for tracks in markers.values() for t in tracks)
    groups = adata[adata.obs["region_class"].isin(["enhancer_HepG2", "enhancer_K562"])].copy()
    groups.obs["region_class"] = groups.obs["region_class"].astype(str).astype("category")
    umap_ax = sc.pl.umap(adata, color="leiden", show=False)
    assert umap_ax.get_title() == "leiden" and len(umap_ax.collections[0].get_offsets()) == 667
    heat = sc.pl.heatmap(groups, markers, groupby="region_class", layer="log", show=False)
    assert heat["heatmap_ax"].images[0].get_array().shape == (groups.n_obs, 4)
    matrix = sc.pl.matrixplot(groups, markers, groupby="region_class", layer="log", show=False)
    assert matrix["mainplot_ax"].collections[0].get_array().shape == (2, 4)
    dots = sc.pl.dotplot(groups, markers, groupby="region_class", layer="log", show=False)
    labels = [t.get_text() for t in dots["mainplot_ax"].get_xticklabels()]
    assert labels == [t for tracks in markers.values() for t in tracks]
    plt.close("all")


def test_main_job_from_the_command_line(tmp_path):
    """The README's main job: the installed ``bazenji demo`` command."""
    command = Path(sys.executable).with_name("bazenji")
    done = subprocess.run(
        [str(command), "demo", "-o", str(tmp_path / "out"), "--quiet"],
        capture_output=True, text=True, check=False, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "adjusted Rand index" in done.stdout
    adata = ad.read_h5ad(tmp_path / "out" / "predictions.h5ad")
    assert adata.n_obs == 667 and adata.n_vars == 18 and "observed" in adata.layers
    assert (tmp_path / "out" / "heatmap.png").stat().st_size > 10_000


def test_predict_with_no_inputs_is_the_demo_job(tmp_path, monkeypatch):
    """``bazenji predict`` with no inputs runs the same job as ``bazenji demo`` (tested above), into -o's folder."""
    from bazenji import cli
    from bazenji.datasets import _demo_job

    calls = []
    monkeypatch.setattr(_demo_job, "run_demo", lambda **kwargs: calls.append(kwargs) or 0)
    assert cli.main(["predict", "-o", str(tmp_path / "p.zarr"), "--quiet"]) == 0
    assert calls[0]["outdir"] == tmp_path and calls[0]["predictions"] == tmp_path / "p.zarr"
    # with other options, no regions means the demo regions predicted with those options
    assert cli.main(["predict", "--model", str(tmp_path / "missing"), "-o", str(tmp_path / "q.h5ad")]) == 2
    assert len(calls) == 1


def test_track_subsets_of_a_saved_model_write_to_h5ad(model, demo, tmp_path):
    """The saved track table reads back with read_targets' dtypes: an all-missing ``target`` column still writes."""
    assert isinstance(model.targets["target"].dtype, pd.CategoricalDtype)
    adata = bz.tl.predict(bz.pp.regions(demo.regions_table()).obs.iloc[:1], model, demo.fasta, tracks="DNASE")
    assert adata.var["target"].isna().all()
    adata.write_h5ad(tmp_path / "dnase.h5ad")
    assert list(ad.read_h5ad(tmp_path / "dnase.h5ad").var_names) == ["DNASE_HepG2", "DNASE_K562", "DNASE_GM12878"]


def test_demo_model_predicts_from_sequence(model):
    onehot = torch.zeros(1, 131_072, 4, dtype=torch.uint8)
    with torch.inference_mode():
        out = model(onehot)
    assert out.shape == (1, 896, 18) and torch.isfinite(out).all()
