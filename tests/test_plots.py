"""bz.pl: every plot checked for what it draws (axes, lanes, labels, coordinates, pixels), on the Agg backend."""

import matplotlib

matplotlib.use("Agg")

import json

import anndata as ad
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import xarray as xr
import zarr
from _synthetic_tracks import BIN_SIZE, CROP_BINS, N_BINS, SEQ_LENGTH, make_observed, make_predictions
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

import bazenji as bz


@pytest.fixture(scope="module")
def pred():
    return make_predictions(n_per_class=20)


@pytest.fixture(scope="module")
def observed(pred):
    return make_observed(pred)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def assert_drawn(fig, min_fraction=0.01, min_colors=4):
    """The rendered image is not blank: enough non-white pixels in enough distinct colours."""
    fig.canvas.draw()
    image = np.asarray(fig.canvas.buffer_rgba())[..., :3]
    ink = np.any(image < 250, axis=-1)
    assert ink.mean() > min_fraction, f"only {ink.mean():.4f} of the image is drawn"
    colors = np.unique(image[ink].reshape(-1, 3), axis=0)
    assert len(colors) >= min_colors, f"only {len(colors)} colours drawn"


def fills(ax):
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


def tick_labels(ax, axis="x"):
    """Texts of the tick labels inside the view (the locator also places ticks beyond it, undrawn)."""
    ax.figure.canvas.draw()
    labels = ax.get_xticklabels() if axis == "x" else ax.get_yticklabels()
    low, high = sorted(ax.get_xlim() if axis == "x" else ax.get_ylim())
    position = 0 if axis == "x" else 1
    return [t.get_text() for t in labels if t.get_text() and low <= t.get_position()[position] <= high]


def span_of(adata, name):
    row = adata.obs.loc[name]
    mid = (int(row["Start"]) + int(row["End"])) // 2
    first = mid - SEQ_LENGTH // 2 + CROP_BINS * BIN_SIZE
    return mid, first, first + N_BINS * BIN_SIZE


def peak_x(collection):
    """x of the highest vertex of a fill_between polygon."""
    vertices = collection.get_paths()[0].vertices
    return vertices[np.argmax(vertices[:, 1]), 0]


# --- tracks -------------------------------------------------------------------------------------------------------


def test_tracks_at_a_region(pred):
    lanes = bz.pl.tracks(pred, "peak3", show=False)
    names = pred.uns["bazenji"]["profile_tracks"]
    assert list(lanes) == [*names, "annotation"]  # one lane per profile track, then the annotation lane
    axes = list(lanes.values())
    labels = [ax.get_ylabel() for ax in axes[:-1]]
    for label, name in zip(labels, names, strict=True):
        assert pred.var.loc[name, "description"] in label and name in label  # repeated descriptions get the name
    mid, first, last = span_of(pred, "peak3")
    assert axes[-1].get_xlim() == (first, last)
    coordinates = [int(t.replace(",", "")) for t in tick_labels(axes[-1])]
    assert len(coordinates) >= 3 and all(first <= c <= last for c in coordinates)
    assert all("," in t for t in tick_labels(axes[-1]))
    assert axes[-1].get_xlabel() == "chr1 (bp)"
    for ax, name in zip(axes[:-1], names, strict=True):
        (area,) = fills(ax)
        # the planted peak sits in the bin holding the region's midpoint, drawn at its genomic coordinate
        assert first <= peak_x(area) <= last and abs(peak_x(area) - mid) <= BIN_SIZE
        assert ax.get_ylim()[1] >= float(np.asarray(pred.obsm["bz_profile"][3, :, names.index(name)]).max())
        assert tick_labels(ax) == []  # coordinates only on the bottom lane
    boxes = [p for p in axes[-1].patches if isinstance(p, Rectangle)]
    row = pred.obs.loc["peak3"]
    assert any(b.get_x() == row["Start"] and b.get_width() == row["End"] - row["Start"] for b in boxes)
    assert "peak3" in axes[0].get_title(loc="left") and "chr1:" in axes[0].get_title(loc="left")
    assert_drawn(axes[0].figure)


def test_tracks_at_a_locus_with_observed_overlay_and_genes(pred, observed):
    tail = pred.obs.iloc[-3:]  # three regions within one window on chr2
    s0 = int(tail["Start"].iloc[0])
    genes = pd.DataFrame({
        "Chromosome": ["chr2", "chr2"], "Start": [s0 - 10_000, s0 + 70_000], "End": [s0 + 4_000, s0 + 300_000],
        "Name": ["GENEA", "GENEB"], "Strand": ["+", "-"],
    })  # fmt: skip
    locus = f"chr2:{s0 - 20_000:,}-{s0 + 30_000:,}"
    fig = bz.pl.tracks(pred, locus=locus, observed=observed, tracks=[0, 2], genes=genes, return_fig=True)
    lanes = fig.axes
    assert len(lanes) == 3
    assert lanes[-1].get_xlim() == (s0 - 20_000, s0 + 30_000)
    for ax in lanes[:2]:
        assert len(fills(ax)) == 2  # observed behind predicted, one lane
    legend = lanes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["observed", "predicted"]
    texts = [t.get_text() for t in lanes[-1].texts]
    assert "GENEA" in texts and "GENEB" not in texts  # only genes in view
    # the regions in view are marked, the one whose profile covers the locus best highlighted
    in_view = pred.obs[(pred.obs["Chromosome"] == "chr2") & (pred.obs["End"] > s0 - 20_000)
                       & (pred.obs["Start"] < s0 + 30_000)]  # fmt: skip
    assert len(in_view) == 3
    assert sum(isinstance(p, Rectangle) for p in lanes[-1].patches) == 3
    assert_drawn(fig)


def test_tracks_stacked_and_selected_by_assay(pred, observed):
    lanes = bz.pl.tracks(pred, "peak0", observed=observed, layout="stack", tracks="DNASE", show=False)
    names = pred.uns["bazenji"]["profile_tracks"]  # the profile tracks are all DNase
    assert list(lanes) == [*(k for t in names for k in (t, f"{t} (observed)")), "annotation"]
    axes = list(lanes.values())
    n = len(names)
    observed_lanes = [ax for ax in axes[:-1] if ax.get_ylabel().endswith("(observed)")]
    assert len(observed_lanes) == n
    assert all(len(fills(ax)) == 1 for ax in axes[:-1])


def test_tracks_into_given_axes(pred):
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
    right.plot([0, 1], [0, 1])
    axes = bz.pl.tracks(pred, 5, tracks=["ENCFF413AHU"], ax=left, sharey=True)
    assert list(axes) == ["ENCFF413AHU", "annotation"]  # not shown by default when ax is given
    assert all(ax.figure is fig for ax in axes.values()) and right in fig.axes and left not in fig.axes
    fig2, given = plt.subplots(2, 1)
    axes = bz.pl.tracks(pred, 5, tracks=[0], ax=list(given))
    assert list(axes.values()) == list(given)
    with pytest.raises(ValueError, match="ax holds 2 axes; this plot needs 3"):
        bz.pl.tracks(pred, 5, tracks=[0, 1], ax=list(given))


def _write_store(path, adata, variable="profile", track_dim="profile_track", tracks=None, scale=1.0):
    """A window store laid out as bazenji writes it: zarr 3, dimension names, variable-length strings."""
    names = list(tracks or adata.uns["bazenji"]["profile_tracks"])
    cols = [adata.uns["bazenji"]["profile_tracks"].index(t) for t in names]
    obs = adata.obs
    mids = ((obs["Start"] + obs["End"]) // 2).to_numpy()
    group = zarr.open_group(str(path), mode="w")
    group.attrs.update({"seq_length": SEQ_LENGTH, "bin_size": BIN_SIZE, "crop_bins": CROP_BINS})
    arrays = {
        variable: (("window", "bin", track_dim), np.asarray(adata.obsm["bz_profile"])[:, :, cols] * scale),
        track_dim: ((track_dim,), np.array(names)),
        "chrom": (("window",), obs["Chromosome"].to_numpy().astype(str)),
        "start": (("window",), mids - SEQ_LENGTH // 2),
        "end": (("window",), mids + SEQ_LENGTH // 2),
        "region": (("region",), obs.index.to_numpy().astype(str)),
        "region_chrom": (("region",), obs["Chromosome"].to_numpy().astype(str)),
        "region_start": (("region",), obs["Start"].to_numpy()),
        "region_end": (("region",), obs["End"].to_numpy()),
    }
    for name, (dims, values) in arrays.items():
        dtype = str if values.dtype.kind == "U" else values.dtype
        group.create_array(name, shape=values.shape, dtype=dtype, dimension_names=list(dims))[...] = values
    return path


def test_tracks_from_a_window_store(pred, tmp_path):
    store = _write_store(tmp_path / "windows.zarr", pred)
    targets = _write_store(tmp_path / "targets.zarr", pred, "targets", "track", tracks=["ENCFF205TKQ"], scale=2.0)
    axes = list(bz.pl.tracks(store, "peak7", observed=targets, show=False).values())
    mid, first, last = span_of(pred, "peak7")
    assert axes[-1].get_xlim() == (first, last)
    assert len(axes) == 5
    assert [len(fills(ax)) for ax in axes[:-1]] == [1, 1, 1, 2]  # only ENCFF205TKQ has observed coverage
    assert [ax.get_ylabel() for ax in axes[:-1]] == pred.uns["bazenji"]["profile_tracks"]  # no track table
    assert abs(peak_x(fills(axes[0])[0]) - mid) <= BIN_SIZE
    observed_peak = fills(axes[3])[0].get_paths()[0].vertices[:, 1].max()
    predicted_peak = fills(axes[3])[1].get_paths()[0].vertices[:, 1].max()
    assert observed_peak == pytest.approx(2 * predicted_peak, rel=1e-3)
    # a locus picks the window covering it best, opened lazily by xarray
    fig = bz.pl.tracks(xr.open_zarr(store, consolidated=False), locus=("chr1", mid - 5000, mid + 5000),
                       return_fig=True)  # fmt: skip
    assert fig.axes[-1].get_xlim() == (mid - 5000, mid + 5000)
    assert_drawn(fig)


def test_tracks_errors(pred, observed):
    with pytest.raises(ValueError, match="region= .* or locus="):
        bz.pl.tracks(pred)
    with pytest.raises(ValueError, match="'nope' is not a region"):
        bz.pl.tracks(pred, "nope")
    with pytest.raises(ValueError, match="no region's profile covers"):
        bz.pl.tracks(pred, locus="chr9:1-1000")
    with pytest.raises(ValueError, match="obsm has no 'bz_profile'"):
        bz.pl.tracks(ad.AnnData(pred.X, obs=pred.obs, var=pred.var, uns=pred.uns), "peak0")
    renamed = observed.copy()
    renamed.uns["bazenji"] = {**observed.uns["bazenji"], "profile_tracks": ["a", "b", "c", "d"]}
    with pytest.raises(ValueError, match="shares no track"):
        bz.pl.tracks(pred, "peak0", observed=renamed)
    with pytest.raises(ValueError, match="layout="):
        bz.pl.tracks(pred, "peak0", layout="side")


# --- region_heatmap -----------------------------------------------------------------------------------------------


def test_region_heatmap_orders_regions_and_annotates_tracks(pred):
    adata = pred.copy()
    shuffled = adata[np.random.default_rng(0).permutation(adata.n_obs)].copy()
    axes = bz.pl.region_heatmap(shuffled, groupby="region_class", show=False)
    assert {"heatmap", "groups", "colorbar", "assay", "biosample", "legend"} <= set(axes)
    image = axes["heatmap"].images[0].get_array()
    assert image.shape == (adata.n_obs, adata.n_vars)
    groups = axes["groups"].images[0].get_array()[:, 0]
    assert np.all(np.diff(groups) >= 0)  # rows ordered by group
    assert tick_labels(axes["groups"], "y") == list(shuffled.obs["region_class"].cat.categories)
    assays = [t for t in tick_labels(axes["heatmap"])]
    order = shuffled.var.loc[assays, "assay"].astype(str).tolist()
    assert order == sorted(order)  # columns grouped by assay, so the colour bar is in blocks
    assert axes["assay"].images[0].get_array().shape == (1, adata.n_vars)
    legend_texts = [t.get_text() for legend in axes["legend"].artists for t in legend.get_texts()]
    assert set(legend_texts) == {"CAGE", "CHIP", "DNASE"}
    # values: log1p scaled per track to [0, 1], rows in group order (stable within a group)
    rows = np.argsort(shuffled.obs["region_class"].cat.codes.to_numpy(), kind="stable")
    cols = shuffled.var_names.get_indexer(assays)
    expected = np.log1p(np.asarray(shuffled.X)[np.ix_(rows, cols)])
    expected = (expected - expected.min(0)) / (expected.max(0) - expected.min(0))
    np.testing.assert_allclose(image, expected, rtol=1e-5, atol=1e-6)
    assert "scaled per track" in axes["colorbar"].get_ylabel()
    assert_drawn(axes["heatmap"].figure)


def test_region_heatmap_selected_tracks_into_axes(pred):
    fig, ax = plt.subplots(figsize=(7, 5))
    axes = bz.pl.region_heatmap(pred, groupby="region_class", tracks="DNASE", standard_scale=None,
                                transform=None, annotations=("biosample",), ax=ax)  # fmt: skip
    assert "assay" not in axes and "biosample" in axes
    assert axes["heatmap"].figure is fig
    dnase = pred.var_names[pred.var["assay"] == "DNASE"]
    assert sorted(tick_labels(axes["heatmap"])) == sorted(dnase)
    image = axes["heatmap"].images[0].get_array()
    assert image.max() == pytest.approx(float(np.asarray(pred[:, dnase].X).max()))
    legend_texts = [t.get_text() for legend in axes["legend"].artists for t in legend.get_texts()]
    assert set(legend_texts) == set(pred.var.loc[dnase, "biosample"].astype(str))
    with pytest.raises(ValueError, match="groupby='nope'"):
        bz.pl.region_heatmap(pred, groupby="nope")


def bar_colors(bar):
    """The colour of every cell of an annotation bar, in column order."""
    image = bar.images[0]
    return [matplotlib.colors.to_hex(image.cmap(image.norm(v))) for v in image.get_array()[0]]


def test_region_heatmap_assay_and_biosample_bars_have_disjoint_colours(pred):
    axes = bz.pl.region_heatmap(pred, groupby="region_class", show=False)
    order = tick_labels(axes["heatmap"])
    assay, biosample = bar_colors(axes["assay"]), bar_colors(axes["biosample"])
    assert not set(assay) & set(biosample)  # no colour means an assay in one bar and a biosample in the other
    # each bar: one colour per category, the assays in the colours every bz.pl plot gives them
    for colors, column in ((assay, "assay"), (biosample, "biosample")):
        values = pred.var.loc[order, column].astype(str).tolist()
        assert len(set(colors)) == len(set(values)) == len(set(zip(values, colors, strict=True)))
    assert assay == [bz.pl._utils.ASSAY_COLORS[a] for a in pred.var.loc[order, "assay"].astype(str)]
    # both bars say which they are; 20 biosamples are too many for a legend, 3 assays are not
    assert [t.get_text() for t in axes["assay"].get_yticklabels()] == ["assay"]
    assert [t.get_text() for t in axes["biosample"].get_yticklabels()] == ["biosample"]
    assert [legend.get_title().get_text() for legend in axes["legend"].artists] == ["assay"]

    # DNase and ChIP of K562, HepG2 and GM12878: the case where DNASE and GM12878 were both blue
    few = pred.var_names[:7]
    axes = bz.pl.region_heatmap(pred, groupby="region_class", tracks=list(few), show=False)
    order = tick_labels(axes["heatmap"])
    legends = {legend.get_title().get_text(): legend for legend in axes["legend"].artists}
    assert list(legends) == ["assay", "biosample"]
    colors = {}
    for column in ("assay", "biosample"):
        legend = legends[column]
        entries = {t.get_text(): matplotlib.colors.to_hex(h.get_facecolor())
                   for t, h in zip(legend.get_texts(), legend.legend_handles, strict=True)}  # fmt: skip
        # each legend, titled like its bar, gives that bar's colours
        assert entries == dict(zip(pred.var.loc[order, column].astype(str), bar_colors(axes[column]), strict=True))
        colors[column] = entries
    assert set(colors["biosample"]) == {"K562", "HepG2", "GM12878"}
    assert colors["assay"]["DNASE"] not in colors["biosample"].values()
    assert not set(colors["assay"].values()) & set(colors["biosample"].values())


def test_annotation_palette_never_repeats_an_assay_colour():
    palette = bz.pl._utils
    tab = {matplotlib.colors.to_hex(c) for name in ("tab10", "tab20") for c in plt.get_cmap(name).colors}
    assert not set(palette.ANNOTATION_COLORS) & tab
    assays = palette.assay_colors(["DNASE", "MPRA", "CAGE", "STARR"])  # two assays without a colour of their own
    assert len(set(assays.values())) == 4 and set(assays.values()) <= tab
    assert not set(assays.values()) & set(palette.annotation_colors([f"b{i}" for i in range(30)]).values())
    first = palette.annotation_colors(["x", "y"])
    second = palette.annotation_colors(["z"], avoid=list(first.values()))
    assert not set(first.values()) & set(second.values())


def _colorbar_label(adata, **kwargs):
    axes = bz.pl.region_heatmap(adata, groupby="region_class", show=False, **kwargs)
    return axes["colorbar"].get_ylabel()


def test_region_heatmap_says_whether_values_are_predicted_or_observed(pred, observed):
    predicted = pred.copy()  # what bz.tl.predict records: the model behind the values
    predicted.uns["bazenji"] = {**pred.uns["bazenji"], "model": {"name": "demo", "fingerprint": "abc"}}
    label = _colorbar_label(predicted)
    assert label == "log1p(predicted coverage), scaled per track"
    measured = observed.copy()  # what bz.pp.import_bigwigs records
    measured.uns["bazenji"] = {"kind": "observed", "source": "bigwig"}
    assert _colorbar_label(measured, transform=None, standard_scale=None) == "observed coverage"
    # a layer is judged on its own: observed tracks put in a layer of predictions, predictions written into
    # observations with bz.tl.predict(into=...), a transformed copy of X
    predicted.layers["observed"] = observed.X
    assert "observed coverage" in _colorbar_label(predicted, layer="observed")
    measured.layers["bz_pred"] = pred.X
    measured.uns["bazenji"]["bz_pred"] = {"model": {"name": "demo"}}
    assert "predicted coverage" in _colorbar_label(measured, layer="bz_pred")
    bz.pp.transform_tracks(predicted, key_added="log")
    assert "predicted coverage" in _colorbar_label(predicted, layer="log", transform=None)
    # nothing recorded: neither word, rather than a guess
    unknown = _colorbar_label(pred)
    assert unknown == "log1p(coverage), scaled per track"
    variant = pred.copy()
    variant.uns["bazenji"] = {"kind": "variant_effect", "model": {"name": "demo"}}
    assert "predicted" not in _colorbar_label(variant) and "observed" not in _colorbar_label(variant)


# --- predicted_vs_observed ----------------------------------------------------------------------------------------


def test_predicted_vs_observed_per_track(pred, observed):
    fig, table = bz.pl.predicted_vs_observed(pred, observed, max_panels=6, return_fig=True)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 7  # six tracks and the summary by assay
    assert list(table.index) == list(pred.var_names)
    for name in pred.var_names[:3]:
        r = np.corrcoef(
            np.log1p(np.asarray(pred[:, name].X).ravel()), np.log1p(np.asarray(observed[:, name].X).ravel())
        )
        assert table.loc[name, "pearson_r"] == pytest.approx(r[0, 1], rel=1e-5)
    first = visible[0]
    assert f"R = {table['pearson_r'].iloc[0]:.3f}" in first.get_title()
    assert first.get_xlabel() == "observed log1p" and first.get_ylabel() == "predicted log1p"
    assert len(first.collections[0].get_offsets()) == pred.n_obs
    summary = visible[-1]
    assert summary.get_title() == "R by assay"
    assert [t.split("\n")[0] for t in tick_labels(summary)] == ["DNASE", "CHIP", "CAGE"]
    assert {"assay", "biosample", "description", "n_regions"} <= set(table.columns)
    assert_drawn(fig)


def test_predicted_vs_observed_per_assay_density_and_matching(pred, observed):
    subset = observed[::2, :10].copy()  # half the regions, ten tracks: matched by name
    fig, table = bz.pl.predicted_vs_observed(pred, subset, by="assay", kind="density", summary=False,
                                             return_fig=True)  # fmt: skip
    assert len(table) == 10 and (table["n_regions"] == subset.n_obs).all()
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assays = list(dict.fromkeys(table["assay"]))
    assert [ax.get_title().split("\n")[0] for ax in visible] == assays
    assert all(ax.collections and ax.collections[0].__class__.__name__ == "PolyCollection" for ax in visible)
    assert_drawn(fig)
    table_only = bz.pl.predicted_vs_observed(pred, subset)  # not shown on Agg, and still the table alone
    assert isinstance(table_only, pd.DataFrame)
    pd.testing.assert_frame_equal(table_only, bz.pl.predicted_vs_observed(pred, subset, show=True))
    axes, table = bz.pl.predicted_vs_observed(pred, subset, by="assay", show=False)
    assert list(axes) == [*dict.fromkeys(table["assay"]), "summary"]
    assert axes["summary"].get_title() == "R by assay"
    with pytest.raises(ValueError, match="share none"):
        other = subset.copy()
        other.var_names = [f"x{i}" for i in range(other.n_vars)]
        bz.pl.predicted_vs_observed(pred, other)


# --- training_history ---------------------------------------------------------------------------------------------


def _history() -> bz.tl.History:
    metrics = pd.DataFrame({
        "epoch": [1, 2, 3, 4, 5], "loss": [1.0, 0.8, 0.7, 0.66, 0.64], "lr": [1e-4, 5e-4, 1e-3, 1e-3, 1e-3],
        "seconds": [3.0] * 5, "windows_per_s": [20.0] * 5, "valid_loss": [1.1, 0.9, 0.84, 0.86, 0.9],
        "valid_r": [0.2, 0.4, 0.5, 0.49, 0.47], "valid_r_DNASE": [0.3, 0.5, 0.6, 0.58, 0.55],
        "valid_r_CAGE": [0.1, 0.2, 0.3, 0.31, 0.3],
    })  # fmt: skip
    return bz.tl.History(metrics=metrics, best_epoch=3)


def test_training_history_panels(tmp_path):
    history = _history()
    panels = bz.pl.training_history(history, show=False)
    assert list(panels) == ["loss", "r", "lr"]
    axes = list(panels.values())
    assert [ax.get_ylabel() for ax in axes] == ["loss", "validation Pearson R", "learning rate"]
    loss, r, lr = axes
    assert [line.get_label() for line in loss.get_lines()] == ["training", "validation", "best epoch (3)"]
    np.testing.assert_allclose(loss.get_lines()[1].get_ydata(), history.metrics["valid_loss"])
    assert [line.get_label() for line in r.get_lines()][:3] == ["all tracks", "CAGE", "DNASE"]
    best = loss.get_lines()[-1]
    assert list(best.get_xdata()) == [3, 3]
    assert all(ax.get_xlabel() == "epoch" for ax in axes)
    assert_drawn(loss.figure)

    # the to_dict form and the history.json written next to checkpoints read the same
    (tmp_path / "history.json").write_text(json.dumps(history.to_dict()))
    for source in (history.to_dict(), tmp_path, tmp_path / "history.json", history.metrics):
        fig = bz.pl.training_history(source, panels=["r"], return_fig=True)
        expected = 3 if isinstance(source, pd.DataFrame) else 4  # a bare DataFrame has no best epoch to mark
        assert len(fig.axes) == 1 and len(fig.axes[0].get_lines()) == expected


def test_training_history_without_validation_and_errors():
    metrics = _history().metrics[["epoch", "loss", "lr"]]
    axes = bz.pl.training_history(metrics, show=False)
    assert [ax.get_ylabel() for ax in axes.values()] == ["loss", "learning rate"]
    with pytest.raises(ValueError, match="panel 'r'"):
        bz.pl.training_history(metrics, panels=["r"])
    with pytest.raises(ValueError, match="no metrics"):
        bz.pl.training_history(bz.tl.History())


# --- what every plot returns -----------------------------------------------------------------------------------


def _attributions() -> ad.AnnData:
    rng = np.random.default_rng(3)
    onehot = np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=(1, 8))]
    adata = ad.AnnData(np.zeros((1, 1), np.float32), obs=pd.DataFrame(index=["seq0"]))
    adata.obsm["bz_attributions"] = rng.normal(size=(1, 8, 4)).astype(np.float32) * onehot
    adata.obsm["bz_attributions_onehot"] = onehot
    return adata


PLOTS = {
    "tracks": (lambda pred, observed, **kw: bz.pl.tracks(pred, "peak3", **kw), dict),
    "region_heatmap": (lambda pred, observed, **kw: bz.pl.region_heatmap(pred, groupby="region_class", **kw), dict),
    "training_history": (lambda pred, observed, **kw: bz.pl.training_history(_history(), **kw), dict),
    "logo": (lambda pred, observed, **kw: bz.pl.logo(_attributions(), **kw), Axes),
}


@pytest.fixture
def shown(monkeypatch):
    """Records each plt.show call instead of showing."""
    calls = []
    monkeypatch.setattr(plt, "show", lambda *args, **kwargs: calls.append(plt.gcf()))
    return calls


def _is_axes_result(result, kind):
    values = list(result.values()) if kind is dict else [result]
    return isinstance(result, kind) and values and all(isinstance(v, Axes) for v in values)


@pytest.mark.parametrize("name", list(PLOTS))
def test_every_plot_follows_one_show_and_return_rule(name, pred, observed, shown, monkeypatch):
    plot, kind = PLOTS[name]
    # Agg cannot show: by default nothing is shown and the axes come back (a dict when the plot has several)
    assert not bz.pl._utils.interactive()
    result = plot(pred, observed)
    assert _is_axes_result(result, kind) and shown == []
    assert _is_axes_result(plot(pred, observed, show=False), kind)
    figure = plot(pred, observed, return_fig=True)
    assert isinstance(figure, Figure) and shown == []
    assert plot(pred, observed, show=True) is None and len(shown) == 1  # shown when asked, even on Agg
    # where figures can be shown (Jupyter, a GUI), they are by default and nothing is returned
    monkeypatch.setattr(bz.pl._utils, "interactive", lambda: True)
    assert plot(pred, observed) is None and len(shown) == 2
    assert isinstance(plot(pred, observed, return_fig=True), Figure) and len(shown) == 2
    assert _is_axes_result(plot(pred, observed, show=False), kind) and len(shown) == 2
    fig, ax = plt.subplots()
    given = plot(pred, observed, ax=ax)  # drawn into the caller's axes: the caller shows
    assert _is_axes_result(given, kind) and len(shown) == 2
    assert all(a.figure is fig for a in (given.values() if kind is dict else [given]))


def test_predicted_vs_observed_returns_its_table_wherever_it_runs(pred, observed, shown, monkeypatch):
    table = bz.pl.predicted_vs_observed(pred, observed, max_panels=2)
    assert isinstance(table, pd.DataFrame) and shown == []
    axes, again = bz.pl.predicted_vs_observed(pred, observed, max_panels=2, show=False)
    assert list(axes) == [*pred.var_names[:2], "summary"] and all(isinstance(a, Axes) for a in axes.values())
    pd.testing.assert_frame_equal(table, again)
    fig, _ = bz.pl.predicted_vs_observed(pred, observed, max_panels=2, return_fig=True)
    assert isinstance(fig, Figure) and shown == []
    monkeypatch.setattr(bz.pl._utils, "interactive", lambda: True)
    pd.testing.assert_frame_equal(bz.pl.predicted_vs_observed(pred, observed, max_panels=2), table)
    assert len(shown) == 1


def test_interactive_follows_the_backend(monkeypatch):
    monkeypatch.setattr(matplotlib, "get_backend", lambda: "agg")
    assert not bz.pl._utils.interactive()
    monkeypatch.setattr(matplotlib, "get_backend", lambda: "module://matplotlib_inline.backend_inline")
    assert bz.pl._utils.interactive()
    monkeypatch.setattr(matplotlib, "get_backend", lambda: "QtAgg")
    assert bz.pl._utils.interactive()
