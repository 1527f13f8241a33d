"""Cells x peaks: predict into the user's AnnData, per-cell track scores, cluster annotation."""

import logging

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import bazenji as bz
import bazenji.get


@pytest.fixture(scope="module")
def demo():
    return bz.datasets.demo()


def cells_x_peaks(names, n_cells=30, seed=0):
    rng = np.random.default_rng(seed)
    counts = sp.csr_matrix(rng.poisson(0.3, (n_cells, len(names))).astype(np.float32))
    return ad.AnnData(counts, obs=pd.DataFrame(index=[f"cell{i}" for i in range(n_cells)]),
                      var=pd.DataFrame(index=names))  # fmt: skip


def test_predict_writes_into_a_cells_x_peaks_anndata(demo, tmp_path, caplog):
    table = demo.regions_table().iloc[[5, 0, 17, 3]]  # not in genome order: the user's var order is kept
    names = [f"{c}:{s}-{e}" for c, s, e in zip(table["Chromosome"], table["Start"], table["End"], strict=True)]
    names.insert(2, "chrUn_KI270302v1:100-600")  # a contig the genome lacks
    adata = cells_x_peaks(names)
    before = adata.X.copy()
    with caplog.at_level(logging.WARNING, logger="bazenji"):
        assert bz.tl.predict(adata, "demo", demo.fasta) is None  # in place, scanpy style
    assert "1 of 5 peaks lie on 1 sequence(s) absent from the genome (chrUn_KI270302v1: 1)" in caplog.text
    # the same peaks predicted as regions: the independent route gives the same numbers, row for row
    reference = bz.tl.predict(bz.pp.regions([n for n in names if not n.startswith("chrUn")]), "demo", demo.fasta)
    values = adata.varm["bz"]
    assert values.shape == (5, 18) and values.dtype == np.float32
    assert np.isnan(values[2]).all() and not np.isnan(np.delete(values, 2, axis=0)).any()
    np.testing.assert_array_equal(np.delete(values, 2, axis=0), reference.X)
    assert (adata.X != before).nnz == 0 and list(adata.var_names) == names
    pd.testing.assert_frame_equal(pd.DataFrame(adata.uns["bz"]["tracks"]), reference.var)
    assert adata.uns["bz"]["n_peaks_predicted"] == 4 and "model" in adata.uns["bz"]["provenance"]
    # GC of each peak, counted independently from the FASTA text
    genome = bz.io.Genome(demo.fasta)
    for i, name in enumerate(names):
        if not name.startswith("chrUn"):
            chrom, span = name.split(":")
            seq = genome.fetch(chrom, *map(int, span.split("-")), upper=True).replace("N", "")
            assert adata.var["bz_gc"].iloc[i] == pytest.approx((seq.count("G") + seq.count("C")) / len(seq), abs=1e-6)
    # written and read back by anndata, and handed back as peaks x tracks
    adata.write_h5ad(tmp_path / "cells.h5ad")
    peaks = bz.get.tracks(ad.read_h5ad(tmp_path / "cells.h5ad"))
    assert list(peaks.obs_names) == names and list(peaks.var_names) == list(reference.var_names)
    np.testing.assert_array_equal(peaks.X, values)


def test_predict_copy_and_bad_peaks(demo):
    table = demo.regions_table().iloc[:3]
    names = [f"{c}:{s}-{e}" for c, s, e in zip(table["Chromosome"], table["Start"], table["End"], strict=True)]
    adata = cells_x_peaks(names)
    copy = bz.tl.predict(adata, "demo", demo.fasta, copy=True, key_added="pred")
    assert "pred" in copy.varm and "pred" not in adata.varm and copy.varm["pred"].shape == (3, 18)
    with pytest.raises(ValueError, match="var names of the cells x peaks AnnData are not intervals"):
        bz.tl.predict(cells_x_peaks(["geneA", "geneB"]), "demo", demo.fasta)
    with pytest.raises(ValueError, match="none of the 2 peaks lies on a sequence of the genome"):
        bz.tl.predict(cells_x_peaks(["chr10:100-600", "chr11:100-600"]), "demo", demo.fasta)


# --- score_cells ---------------------------------------------------------------------------------------------------


def scored_anndata(counts, predictions, gc):
    adata = ad.AnnData(sp.csr_matrix(counts, dtype=np.float32))
    adata.varm["bz"] = predictions.astype(np.float32)
    adata.var["bz_gc"] = gc.astype(np.float32)
    tracks = pd.DataFrame({"biosample": [f"B{t % 3}" for t in range(predictions.shape[1])]},
                          index=[f"t{t}" for t in range(predictions.shape[1])])  # fmt: skip
    adata.uns["bz"] = {"tracks": tracks, "provenance": {}}
    return adata


def reference_scores(counts, predictions, gc, bins=2):
    """The documented formula, written out in plain numpy loops."""
    n_cells, n_peaks = counts.shape
    share = counts.sum(0) / counts.sum()
    rank = lambda x: np.argsort(np.argsort(x, kind="stable"), kind="stable")  # ties in input order  # noqa: E731
    acc_bin = np.minimum((rank(share) * bins) // n_peaks, bins - 1)
    gc_bin = np.minimum((rank(gc) * bins) // n_peaks, bins - 1)
    stratum = acc_bin * bins + gc_bin
    out = np.zeros((n_cells, predictions.shape[1]))
    for t in range(predictions.shape[1]):
        w = np.log1p(predictions[:, t])
        w = (w - w.mean()) / w.std()
        for c in range(n_cells):
            observed = expected = variance = 0.0
            for s in np.unique(stratum):
                members = stratum == s
                p = share[members] / share[members].sum()
                mean, second = (p * w[members]).sum(), (p * w[members] ** 2).sum()
                reads = counts[c, members].sum()
                observed += (counts[c, members] * w[members]).sum()
                expected += reads * mean
                variance += reads * (second - mean**2)
            out[c, t] = (observed - expected) / np.sqrt(variance)
    return out


def test_score_cells_matches_a_numpy_reference():
    rng = np.random.default_rng(1)
    counts = rng.poisson(0.5, (12, 40))
    predictions, gc = rng.gamma(2.0, 1.0, (40, 7)), rng.uniform(0.3, 0.7, 40)
    adata = scored_anndata(counts, predictions, gc)
    bz.tl.score_cells(adata, gc_bins=2, accessibility_bins=2, chunk_tracks=3)  # chunks of 3, 3 and 1 tracks
    np.testing.assert_allclose(adata.obsm["bz_scores"], reference_scores(counts, predictions, gc), rtol=1e-4, atol=1e-5)
    assert list(pd.DataFrame(adata.uns["bz_scores"]["tracks"]).index) == [f"t{t}" for t in range(7)]
    assert adata.uns["bz_scores"]["params"]["n_strata"] == 4


def test_scores_are_standard_normal_under_the_null():
    """Reads drawn by the null model itself give z-scores of mean 0 and variance 1, at any depth."""
    rng = np.random.default_rng(2)
    n_peaks = 300
    share = rng.gamma(1.0, 1.0, n_peaks)
    share /= share.sum()
    depth = rng.integers(50, 2000, 4000)
    counts = np.stack([rng.multinomial(d, share) for d in depth])
    adata = scored_anndata(counts, rng.gamma(2.0, 1.0, (n_peaks, 6)), rng.uniform(0.3, 0.7, n_peaks))
    bz.tl.score_cells(adata)
    z = adata.obsm["bz_scores"]
    assert np.abs(z.mean(0)).max() < 0.08 and np.abs(z.std(0) - 1).max() < 0.08
    assert abs(np.corrcoef(depth, z[:, 0])[0, 1]) < 0.05  # depth alone does not score


def test_score_cells_finds_cells_enriched_for_a_track():
    rng = np.random.default_rng(3)
    n_peaks = 1000
    predictions = rng.gamma(2.0, 1.0, (n_peaks, 4))
    active = np.argsort(predictions[:, 2])[-100:]  # track 2's most active peaks
    rates = np.full((150, n_peaks), 0.3)
    rates[:50, active] *= 3  # a third of the cells open them
    adata = scored_anndata(rng.poisson(rates), predictions, rng.uniform(0.3, 0.7, n_peaks))
    bz.tl.score_cells(adata)
    z = adata.obsm["bz_scores"]
    assert z[:50, 2].mean() > z[50:, 2].mean() + 3  # the opening cells score high on the track...
    assert abs(z[:50, [0, 1, 3]].mean() - z[50:, [0, 1, 3]].mean()) < 1  # ...and not on the unrelated ones


def test_score_cells_bad_input_and_empty_cells(caplog):
    rng = np.random.default_rng(4)
    counts = rng.poisson(0.5, (6, 30))
    counts[4] = 0
    adata = scored_anndata(counts, rng.gamma(2.0, 1.0, (30, 3)), rng.uniform(0.3, 0.7, 30))
    with caplog.at_level(logging.WARNING, logger="bazenji"):
        bz.tl.score_cells(adata)
    assert "1 of 6 cells have no reads" in caplog.text and np.isnan(adata.obsm["bz_scores"][4]).all()
    assert not np.isnan(np.delete(adata.obsm["bz_scores"], 4, axis=0)).any()
    with pytest.raises(KeyError, match="run bz.tl.predict"):
        bz.tl.score_cells(adata, key="nope")
    with pytest.raises(ValueError, match="gc_bins=0; expected a positive integer"):
        bz.tl.score_cells(adata, gc_bins=0)
    negative = adata.copy()
    negative.X = sp.csr_matrix(-np.asarray(negative.X.todense()))
    with pytest.raises(ValueError, match="negative values"):
        bz.tl.score_cells(negative)


# --- annotate_cells ------------------------------------------------------------------------------------------------


def two_scored_groups():
    """60 cells: group x scores high on the HepG2 tracks, group y on the K562 track."""
    rng = np.random.default_rng(5)
    tracks = pd.DataFrame({"biosample": ["HepG2", "HepG2", "K562", "GM12878"]}, index=list("abcd"))
    scores = rng.normal(0, 1, (60, 4))
    scores[:30, :2] += 2  # group x: HepG2 tracks
    scores[30:, 2] += 2  # group y: K562
    adata = ad.AnnData(
        np.zeros((60, 1), np.float32),
        obs=pd.DataFrame({"leiden": ["x"] * 30 + ["y"] * 30}, index=[f"c{i}" for i in range(60)]),
    )
    adata.obsm["bz_scores"] = scores.astype(np.float32)
    adata.uns["bz_scores"] = {"tracks": tracks, "params": {}}
    return adata, scores


def test_annotate_cells_ranks_biosamples_per_group():
    adata, scores = two_scored_groups()
    table = bz.tl.annotate_cells(adata, "leiden")
    top = table[table["rank"] == 1].set_index("group")
    assert top.loc["x", "biosample"] == "HepG2" and top.loc["y", "biosample"] == "K562"
    hepg2 = scores[:, :2].mean(1)  # the biosample score: mean over its tracks
    row = table[(table["group"] == "x") & (table["biosample"] == "HepG2")].iloc[0]
    assert row["n_tracks"] == 2 and row["mean_score"] == pytest.approx(hepg2[:30].mean(), rel=1e-5)
    assert row["effect"] == pytest.approx(hepg2[:30].mean() - hepg2[30:].mean(), rel=1e-5)
    assert row["pval_adj"] < 1e-6 and len(table) == 6
    assert adata.uns["bz_annotation"]["params"]["groupby"] == "leiden"
    with pytest.raises(ValueError, match="by='tissue' is not a column of the track table"):
        bz.tl.annotate_cells(adata, "leiden", by="tissue")
    with pytest.raises(ValueError, match="groupby='cluster' is not a column"):
        bz.tl.annotate_cells(adata, "cluster")
    adata.uns["bz_scores"]["tracks"] = pd.DataFrame(index=list("abcd"))  # a table without biosample
    with pytest.raises(ValueError, match=r"by='biosample' is not a column.*read_targets derives it"):
        bz.tl.annotate_cells(adata, "leiden")


def test_cell_annotation_dotplot_shows_each_groups_top_biosamples():
    import matplotlib

    matplotlib.use("Agg")
    adata, _ = two_scored_groups()
    adata.obs["leiden"] = pd.Categorical(adata.obs["leiden"], categories=["y", "x"])  # y first, as obs orders it
    table = bz.tl.annotate_cells(adata, "leiden")
    axes = bz.pl.cell_annotation(adata, n_top=1)
    dot = axes["dotplot"]
    assert [t.get_text() for t in dot.get_yticklabels()] == ["y", "x"]
    assert [t.get_text() for t in dot.get_xticklabels()] == ["K562", "HepG2"]  # y's top first: a diagonal
    assert dot.get_xlabel() == "biosample" and dot.get_ylabel() == "leiden"
    filled = dot.collections[0]  # the significant dots, coloured by mean score
    expected = table.set_index(["group", "biosample"])
    cells = [("y", "K562"), ("y", "HepG2"), ("x", "K562"), ("x", "HepG2")]
    significant = [c for c in cells if expected.loc[c, "pval_adj"] < 0.05]
    np.testing.assert_allclose(filled.get_array(), [expected.loc[c, "mean_score"] for c in significant], rtol=1e-6)
    assert len(filled.get_offsets()) + len(dot.collections[1].get_offsets()) == 4
    assert len(dot.collections[2].get_offsets()) == 2  # one top-hit outline per group
    assert axes["colorbar"].get_ylabel() == "mean score (z)"
    chosen = bz.pl.cell_annotation(table, values=["GM12878"])["dotplot"]  # the table alone works too
    assert [t.get_text() for t in chosen.get_xticklabels()] == ["GM12878"]
    with pytest.raises(ValueError, match=r"values \['liver'\] are not in the annotation's 'biosample' column"):
        bz.pl.cell_annotation(adata, values=["liver"])
    with pytest.raises(KeyError, match="run bz.tl.annotate_cells"):
        bz.pl.cell_annotation(adata, key="other")
    matplotlib.pyplot.close("all")


def test_scores_plot_on_the_umap():
    import matplotlib

    matplotlib.use("Agg")
    import scanpy as sc

    rng = np.random.default_rng(6)
    adata = scored_anndata(rng.poisson(0.5, (40, 30)), rng.gamma(2.0, 1.0, (30, 3)), rng.uniform(0.3, 0.7, 30))
    bz.tl.score_cells(adata)
    adata.obsm["X_umap"] = rng.normal(size=(40, 2))
    view = bz.get.scores(adata)
    np.testing.assert_array_equal(view.X, adata.obsm["bz_scores"])
    ax = sc.pl.umap(view, color="t1", show=False)
    assert ax.get_title() == "t1"


@pytest.mark.parametrize("shape", [(7, 13, 5), (50, 200, 33), (3, 4, 0)])
@pytest.mark.parametrize("block", [None, 1, 7, 200])
def test_sparse_times_dense_kernel_matches_scipy(shape, block):
    from bazenji.tl._score_cells import sparse_times_dense

    rng = np.random.default_rng(7)
    cells, peaks, tracks = shape
    matrix = sp.random(cells, peaks, density=0.2, format="csr", random_state=7, dtype=np.float32)
    dense = rng.normal(size=(peaks, tracks)).astype(np.float32)
    expected = matrix @ dense
    np.testing.assert_allclose(sparse_times_dense(matrix, dense, block=block), expected, rtol=1e-5, atol=1e-5)


def test_sparse_times_dense_sorts_a_copy_of_unsorted_rows():
    from bazenji.tl._score_cells import sparse_times_dense

    # row 0 holds columns 5 then 1, unsorted as a matrix built from raw arrays can be
    matrix = sp.csr_matrix((np.array([2.0, 3.0], np.float32), np.array([5, 1]), np.array([0, 2, 2])), shape=(2, 6))
    matrix.has_sorted_indices = False
    dense = np.arange(12, dtype=np.float32).reshape(6, 2)
    np.testing.assert_allclose(sparse_times_dense(matrix, dense, block=2), [[2 * 10 + 3 * 2, 2 * 11 + 3 * 3], [0, 0]])
    assert list(matrix.indices) == [5, 1]


def test_cli_predicts_a_cells_x_peaks_h5ad_into_itself(demo, tmp_path):
    from bazenji.cli import main

    table = demo.regions_table().iloc[:3]
    names = [f"{c}:{s}-{e}" for c, s, e in zip(table["Chromosome"], table["Start"], table["End"], strict=True)]
    cells = cells_x_peaks(names)
    cells.write_h5ad(tmp_path / "cells.h5ad")
    out = tmp_path / "annotated.h5ad"
    assert main(["predict", str(tmp_path / "cells.h5ad"), "--model", "demo", "--genome", str(demo.fasta),
                 "-o", str(out)]) == 0  # fmt: skip
    annotated = ad.read_h5ad(out)
    assert annotated.shape == cells.shape and (annotated.X != cells.X).nnz == 0  # the user's counts, kept
    reference = bz.tl.predict(bz.pp.regions(names), "demo", demo.fasta)
    np.testing.assert_array_equal(annotated.varm["bz"], reference.X)


def test_demo_cell_types_are_annotated_with_their_own_biosample(demo):
    """The simulated scATAC demo, labels hidden: clusters of each planted type get that type's biosample on top."""
    import scanpy as sc

    adata = bz.datasets.demo_scatac()
    bz.tl.predict(adata, "demo", demo.fasta)
    bz.tl.score_cells(adata, layer="counts")
    sc.pp.normalize_total(adata)
    sc.pp.log1p(adata)
    sc.pp.pca(adata, n_comps=20, random_state=0)
    sc.pp.neighbors(adata, random_state=0)
    sc.tl.leiden(adata, resolution=0.3, flavor="igraph", n_iterations=2, directed=False, random_state=0)
    table = bz.tl.annotate_cells(adata, "leiden")
    top = table[table["rank"] == 1].set_index("group")
    planted = adata.obs["planted_type"].astype(str)
    singlets = (planted != "doublet").to_numpy()
    for group in top.index:  # each cluster's majority planted type is its top biosample, significantly
        members = (adata.obs["leiden"].astype(str) == group).to_numpy() & singlets
        majority = planted[members].value_counts().idxmax()
        assert top.loc[group, "biosample"] == majority and top.loc[group, "pval_adj"] < 1e-10, table
    assert set(top["biosample"]) == {"HepG2", "K562", "GM12878"}
    # per cell, the biosample with the highest mean score is the planted type (measured: 0.93 overall;
    # 0.84 under 25 reads, 0.98 from 40)
    tracks = pd.DataFrame(adata.uns["bz_scores"]["tracks"])
    names = np.array(["HepG2", "K562", "GM12878"])
    per = np.column_stack([np.nanmean(adata.obsm["bz_scores"][:, (tracks["biosample"] == b).to_numpy()], 1)
                           for b in names])  # fmt: skip
    correct = names[per.argmax(1)][singlets] == planted[singlets].to_numpy()
    depth = adata.obs["planted_depth"].to_numpy()[singlets]
    assert correct.mean() > 0.9 and correct[depth >= 40].mean() > correct[depth < 25].mean()
