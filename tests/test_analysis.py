"""Region-level analysis: scanpy on predictions as they are, transform_tracks, cluster_regions, rank_tracks."""

import matplotlib

matplotlib.use("Agg")

import math
import warnings

import anndata as ad
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import scanpy as sc
from _synthetic_tracks import HUMAN_TARGETS, make_predictions, marker_tracks
from scipy import sparse
from sklearn.metrics import adjusted_rand_score

import bazenji as bz
from bazenji.io.bigwig import TrackTransform, apply_transform


@pytest.fixture(scope="module")
def predictions():
    return make_predictions()


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# --- scanpy as it is ----------------------------------------------------------------------------------------------


def test_scanpy_chain_on_predictions_without_conversion(predictions):
    adata = predictions.copy()
    markers = marker_tracks(adata.var)
    sc.pp.log1p(adata)
    adata.layers["log"] = adata.X.copy()
    sc.pp.scale(adata)
    sc.pp.pca(adata, n_comps=10, random_state=0)
    sc.pp.neighbors(adata, n_neighbors=10, random_state=0)
    sc.tl.leiden(adata, resolution=0.5, flavor="igraph", n_iterations=2, directed=False, random_state=0)
    sc.tl.umap(adata, random_state=0)
    assert adata.obsm["X_pca"].shape == (adata.n_obs, 10)
    assert adata.obsm["X_umap"].shape == (adata.n_obs, 2)
    assert adata.obs["leiden"].nunique() >= 2

    sc.tl.rank_genes_groups(adata, "region_class", layer="log", method="wilcoxon")
    top = sc.get.rank_genes_groups_df(adata, group="K562").head(len(markers["K562"]))
    assert set(top["names"]) == set(markers["K562"])  # track names come through as var_names

    umap_ax = sc.pl.umap(adata, color="leiden", show=False)
    assert len(umap_ax.collections) >= 1 and umap_ax.get_title() == "leiden"
    var_names = {cls: tracks for cls, tracks in markers.items()}
    heat = sc.pl.heatmap(adata, var_names, groupby="region_class", layer="log", show=False)
    assert heat["heatmap_ax"].images
    matrix = sc.pl.matrixplot(adata, var_names, groupby="region_class", layer="log", show=False)
    assert matrix["mainplot_ax"].collections
    dots = sc.pl.dotplot(adata, var_names, groupby="region_class", layer="log", show=False)
    labels = [t.get_text() for t in dots["mainplot_ax"].get_xticklabels()]
    assert set(labels) == {t for tracks in markers.values() for t in tracks}


# --- transform_tracks ---------------------------------------------------------------------------------------------


def _table_with_squashing() -> pd.DataFrame:
    return bz.io.read_targets(
        pd.DataFrame({
            "identifier": ["dnase", "chip", "cage", "plain"],
            "description": ["DNASE:K562", "CHIP:CTCF:K562", "CAGE:K562", "DNASE:HepG2"],
            "clip": [32.0, 32.0, 384.0, np.nan],
            "clip_soft": [16.0, np.nan, 8.0, np.nan],
            "scale": [2.0, 0.5, 1.0, np.nan],
            "sum_stat": ["mean", "sum_sqrt", "sum_sqrt", "sum"],
        })
    )  # fmt: skip


def _official_untransform(value: float, row: pd.Series) -> float:
    """calico/basenji bin/basenji_sad.py untransform_preds1 with unscale=True, one value at a time."""
    scale = 1.0 if pd.isna(row["scale"]) else float(row["scale"])
    x = value / scale
    clip_soft = row["clip_soft"]
    if not pd.isna(clip_soft) and x > clip_soft:
        x = clip_soft + (x - clip_soft) ** 2
    if "_sqrt" in str(row["sum_stat"]):
        x = x ** (4 / 3)
    return x


def test_untransform_matches_the_official_formula_by_hand():
    var = _table_with_squashing()
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 40, size=(30, 4)).astype(np.float32)
    adata = ad.AnnData(X=X.copy(), var=var)
    bz.pp.transform_tracks(adata, method="untransform")
    expected = np.array([[_official_untransform(float(X[i, j]), var.iloc[j]) for j in range(4)] for i in range(30)])
    np.testing.assert_allclose(adata.X, expected, rtol=1e-5)
    assert adata.X.dtype == np.float32
    record = adata.uns["bz_transform"]["X"]
    assert record["params"]["method"] == "untransform" and record["n_tracks"]["untransform"] == 4
    # values at or above the hard clip ceiling (clip * scale) are counted
    ceiling = (var["clip"] * var["scale"].fillna(1)).to_numpy()
    assert record["n_at_clip"] == int(np.sum(np.isfinite(ceiling) & (X >= ceiling * (1 - 1e-3))))


def test_untransform_inverts_the_forward_pipeline():
    """Binned targets made by bz.io.bigwig.apply_transform come back to the raw bin statistic."""
    var = _table_with_squashing()
    rng = np.random.default_rng(1)
    depth = rng.uniform(0, 150, size=(1, 20, 1))  # regions from background to well above the soft clip
    coverage = rng.gamma(0.6, 0.4, size=(4, 20, 128)) * depth  # track, region, bases of one bin
    raw = np.empty((20, 4))
    targets = np.empty((20, 4), dtype=np.float32)
    for t, (_, row) in enumerate(var.iterrows()):
        transform = TrackTransform.from_row({**row.to_dict(), "clip": None})  # no hard clip: exactly invertible
        targets[:, t] = apply_transform(coverage[t], transform)[:, 0]
        stat = coverage[t].mean(-1) if row["sum_stat"] == "mean" else coverage[t].sum(-1)
        raw[:, t] = stat
    assert (targets[:, 0] > 2 * 16).any()  # the soft clip is exercised
    adata = ad.AnnData(X=targets, var=var)
    bz.pp.transform_tracks(adata, method="untransform")
    np.testing.assert_allclose(adata.X, raw, rtol=2e-4)


def test_untransform_of_the_human_table_is_division_by_scale():
    var = bz.io.read_targets(HUMAN_TARGETS.resolve())
    var = var.iloc[[0, 1000, 5000, 5300]]
    X = np.array([[10.0, 4.0, 3.0, 64.0]], dtype=np.float32)
    adata = ad.AnnData(X=X, var=var)
    out = bz.pp.transform_tracks(adata, method="untransform", copy=True)
    np.testing.assert_allclose(out.X, X / var["scale"].to_numpy(dtype=float)[None, :])
    np.testing.assert_array_equal(adata.X, X)  # copy=True leaves the input alone


def test_log1p_asinh_per_assay_and_layers(predictions):
    adata = predictions.copy()
    X = np.asarray(adata.X).copy()
    bz.pp.transform_tracks(adata, method="log1p", key_added="log")
    np.testing.assert_allclose(adata.layers["log"], np.log1p(X), rtol=1e-6)
    np.testing.assert_array_equal(adata.X, X)  # key_added keeps the input
    assert adata.uns["bz_transform"]["log"]["params"]["key_added"] == "log"
    assert "log1p" not in adata.uns  # only a transform of X in full tells scanpy X is logged

    bz.pp.transform_tracks(adata, method="log1p", per_assay={"dnase": "asinh", "CAGE": None}, key_added="mixed")
    assays = adata.var["assay"].astype(str).to_numpy()
    mixed = adata.layers["mixed"]
    np.testing.assert_allclose(mixed[:, assays == "DNASE"], np.arcsinh(X[:, assays == "DNASE"]), rtol=1e-6)
    np.testing.assert_array_equal(mixed[:, assays == "CAGE"], X[:, assays == "CAGE"])
    np.testing.assert_allclose(mixed[:, assays == "CHIP"], np.log1p(X[:, assays == "CHIP"]), rtol=1e-6)
    assert adata.uns["bz_transform"]["mixed"]["params"]["per_assay"] == {"dnase": "asinh", "CAGE": "none"}

    bz.pp.transform_tracks(adata)  # X in place: scanpy learns it is logged
    np.testing.assert_allclose(adata.X, np.log1p(X), rtol=1e-6)
    assert adata.uns["log1p"] == {"base": None}
    with pytest.warns(UserWarning, match="already transformed"):
        bz.pp.transform_tracks(adata, method="asinh", key_added="twice")


def test_transform_sparse_stays_sparse():
    var = _table_with_squashing()
    dense = np.array([[0, 3, 0, 1], [40, 0, 9, 0]], dtype=np.float32)
    for fmt in ("csr", "csc"):
        adata = ad.AnnData(X=sparse.csr_matrix(dense).asformat(fmt), var=var)
        bz.pp.transform_tracks(adata, method="untransform")
        assert sparse.issparse(adata.X)
        expected = np.array([[_official_untransform(float(v), var.iloc[j]) for j, v in enumerate(r)] for r in dense])
        np.testing.assert_allclose(adata.X.toarray(), expected, rtol=1e-5)


def test_transform_errors_name_the_problem(predictions):
    adata = predictions.copy()
    with pytest.raises(ValueError, match="method='sqrt'"):
        bz.pp.transform_tracks(adata, method="sqrt")
    with pytest.raises(ValueError, match="ATAC"):
        bz.pp.transform_tracks(adata, per_assay={"ATAC": "log1p"})
    with pytest.raises(ValueError, match="layer='nope'"):
        bz.pp.transform_tracks(adata, layer="nope")
    plain = ad.AnnData(X=np.ones((2, 3), dtype=np.float32), var=bz.io.default_targets(3))
    with pytest.raises(ValueError, match="'scale', 'clip_soft' or 'sum_stat'"):
        bz.pp.transform_tracks(plain, method="untransform")
    with pytest.raises(ValueError, match="assay"):
        bz.pp.transform_tracks(plain, per_assay={"DNASE": "log1p"})
    negative = ad.AnnData(X=-np.ones((2, 3), dtype=np.float32), var=bz.io.default_targets(3))
    with pytest.raises(ValueError, match="negative"):
        bz.pp.transform_tracks(negative)


# --- cluster_regions ----------------------------------------------------------------------------------------------


def test_cluster_regions_recovers_planted_classes(predictions):
    adata = predictions.copy()
    before = np.asarray(adata.X).copy()
    bz.tl.cluster_regions(adata, resolution=0.5)
    ari = adjusted_rand_score(adata.obs["region_class"], adata.obs["bz_cluster"])
    assert ari > 0.75, ari
    np.testing.assert_array_equal(adata.X, before)  # X is never changed
    assert isinstance(adata.obs["bz_cluster"].dtype, pd.CategoricalDtype)
    assert adata.obsm["X_pca"].shape[0] == adata.obsm["X_umap"].shape[0] == adata.n_obs
    assert adata.obsp["connectivities"].shape == (adata.n_obs, adata.n_obs)
    assert adata.uns["neighbors"]["params"]["use_rep"] == "X_pca"
    params = adata.uns["bz_cluster"]["params"]
    assert params["resolution"] == 0.5 and params["transform"] == "log1p" and params["n_pcs"] == 24
    assert params["tracks"] == list(adata.var_names)
    ax = sc.pl.umap(adata, color="bz_cluster", show=False)  # the standard slots are what scanpy reads
    assert ax.get_title() == "bz_cluster"


def test_cluster_regions_on_selected_tracks_copy(predictions):
    out = bz.tl.cluster_regions(predictions, tracks="DNASE", n_pcs=3, resolution=0.3, key_added="dnase", copy=True)
    assert "dnase" not in predictions.obs and "X_pca" not in predictions.obsm
    dnase = (out.var["assay"] == "DNASE").to_numpy()
    assert out.uns["dnase"]["params"]["tracks"] == list(out.var_names[dnase])
    assert out.obsm["X_pca"].shape == (out.n_obs, 3)
    assert np.all(out.varm["PCs"][~dnase] == 0) and np.any(out.varm["PCs"][dnase] != 0)
    assert adjusted_rand_score(out.obs["region_class"], out.obs["dnase"]) > 0.75


def test_cluster_regions_with_two_tracks_skips_pca(predictions):
    adata = predictions[:, :2].copy()
    bz.tl.cluster_regions(adata, resolution=0.3)
    assert "X_pca" not in adata.obsm and adata.uns["bz_cluster"]["params"]["n_pcs"] == 0
    assert adata.uns["neighbors"]["params"]["use_rep"] == "X"
    assert adata.obs["bz_cluster"].nunique() >= 1


def test_cluster_regions_warns_on_transformed_input(predictions):
    adata = predictions.copy()
    sc.pp.log1p(adata)
    with pytest.warns(UserWarning, match="transform=None"):
        bz.tl.cluster_regions(adata, n_pcs=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        bz.tl.cluster_regions(adata, n_pcs=5, transform=None)


# --- rank_tracks --------------------------------------------------------------------------------------------------


def test_rank_tracks_finds_planted_markers(predictions):
    adata = predictions.copy()
    markers = marker_tracks(adata.var)
    table = bz.tl.rank_tracks(adata, "region_class", n_tracks=5)
    assert list(table.columns[:9]) == ["group", "rank", "track", "score", "logfoldchange", "pval", "pval_adj",
                                       "mean_in_group", "mean_reference"]  # fmt: skip
    assert {"assay", "target", "biosample", "description"} <= set(table.columns)
    for cls, tracks in markers.items():
        top = table[table["group"] == cls].head(len(tracks))
        assert set(top["track"]) == set(tracks), (cls, list(top["track"]))
        assert (top["biosample"] == cls).all()
        assert (top["mean_in_group"] > 3 * top["mean_reference"]).all()
        assert list(table.loc[table["group"] == cls, "rank"]) == [1, 2, 3, 4, 5]
    # the scanpy result stays readable by scanpy under key_added
    scanpy_table = sc.get.rank_genes_groups_df(adata, group="K562", key="bz_rank_tracks")
    assert scanpy_table["names"].iloc[0] == table[table["group"] == "K562"]["track"].iloc[0]
    assert adata.uns["bz_rank_tracks"]["params"]["transform"] == "log1p"
    # scanpy's fold change on log1p data: log2 of the ratio of expm1(mean log1p) in and out of the group
    first = table.iloc[0]
    logged = np.log1p(np.asarray(adata[:, first["track"]].X).ravel().astype(np.float64))
    inside = (adata.obs["region_class"] == first["group"]).to_numpy()
    expected = math.log2((np.expm1(logged[inside].mean()) + 1e-9) / (np.expm1(logged[~inside].mean()) + 1e-9))
    assert first["logfoldchange"] == pytest.approx(expected, rel=1e-3)


def test_rank_tracks_reference_and_errors(predictions):
    adata = predictions.copy()
    table = bz.tl.rank_tracks(adata, "region_class", groups=["K562"], reference="HepG2", n_tracks=None,
                              method="t-test", tracks="DNASE")  # fmt: skip
    assert set(table["group"]) == {"K562"} and len(table) == int((adata.var["assay"] == "DNASE").sum())
    assert table["assay"].eq("DNASE").all()
    with pytest.raises(ValueError, match="groupby='nope'"):
        bz.tl.rank_tracks(adata, "nope")
    adata.obs["single"] = ["a"] + ["b"] * (adata.n_obs - 1)
    with pytest.raises(ValueError, match="fewer than 2"):
        bz.tl.rank_tracks(adata, "single")
