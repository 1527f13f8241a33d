"""bz.tl.ism against a brute-force loop, bz.tl.attributions (completeness of integrated gradients), bz.pl.logo."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch
from conftest import randomize_batch_norm, small_config

import bazenji as bz
from bazenji.models import Basenji2

L = 4_096  # a short window: 32 bins, 16 after cropping


@pytest.fixture(scope="module", autouse=True)
def quiet():
    bz.settings.progress = False


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    model = randomize_batch_norm(Basenji2(small_config(seq_length=L), targets=[f"t{i}" for i in range(12)]))
    with torch.no_grad():
        model.stem.conv.weight.mul_(10)
        model.head.weight.mul_(20)
    return model.eval()


@pytest.fixture(scope="module")
def sequence():
    rng = np.random.default_rng(3)
    text = list(rng.choice(list("ACGT"), L))
    text[L // 2] = "N"  # an N inside the mutated span: all four bases are edits there
    return "".join(text)


def onehot(text, n_value=0.0):
    out = np.zeros((len(text), 4), np.float32)
    for i, base in enumerate(text):
        out[i] = np.eye(4)["ACGT".index(base)] if base in "ACGT" else n_value
    return out


def predict(model, x):
    with torch.inference_mode():
        return model(torch.from_numpy(np.asarray(x, np.float32)[None])).numpy()[0].astype(np.float64)


def test_ism_equals_brute_force_loop(model, sequence):
    center = 6
    adata = bz.tl.ism(sequence, model, center=center, tracks=[2, 5, 9], batch_size=5)
    first = L // 2 - center // 2
    x = onehot(sequence)
    raw = np.empty((center, 4, 3))
    reference = predict(model, x).sum(0)[[2, 5, 9]]
    n_predictions = 1
    for p in range(center):
        for b in range(4):
            if x[first + p, b] == 1:
                raw[p, b] = reference  # the identity edit is not predicted
                continue
            mutated = x.copy()
            mutated[first + p] = np.eye(4)[b]
            raw[p, b] = predict(model, mutated).sum(0)[[2, 5, 9]]
            n_predictions += 1
    expected = raw - raw.mean(axis=1, keepdims=True)
    scores = adata.obsm["bz_ism"]
    assert scores.shape == (1, center, 4, 3) and scores.dtype == np.float32
    np.testing.assert_allclose(scores[0], expected, rtol=1e-3, atol=2e-4)
    np.testing.assert_allclose(scores.sum(axis=2), 0, atol=1e-4)  # mean-centred at every position
    np.testing.assert_allclose(adata.X[0], reference, rtol=1e-5)
    assert adata.uns["bz_ism"]["windows"] == n_predictions == 1 + 3 * center + 1  # the N position has 4 edits
    assert np.abs(expected).max() > 1e-2
    np.testing.assert_array_equal(adata.obsm["bz_ism_onehot"][0], x[first : first + center].astype(np.uint8))
    assert adata.obs[["span_start", "span_end"]].iloc[0].tolist() == [first, first + center]
    assert list(adata.var_names) == ["t2", "t5", "t9"]


def test_ism_center_bin_regions_and_coordinates(model, tmp_path):
    rng = np.random.default_rng(4)
    chrom = "".join(rng.choice(list("ACGT"), 12_000))
    genome = bz.io.Genome({"chr1": chrom})
    regions = pd.DataFrame({"Chromosome": ["chr1"], "Start": [5_000], "End": [5_301], "Name": ["r"]})
    adata = bz.tl.ism(regions, model, genome, center=3, stat="center", tracks="t4")
    window_start = (5_000 + 5_301) // 2 - L // 2
    first = window_start + L // 2 - 1
    assert adata.obs.loc["r", "span_start"] == first and adata.obs.loc["r", "span_end"] == first + 3
    x = onehot(chrom[window_start : window_start + L])
    center_bin = L // 2 // 128 - 8
    raw = np.empty((3, 4))
    for p in range(3):
        for b in range(4):
            mutated = x.copy()
            mutated[L // 2 - 1 + p] = np.eye(4)[b]
            raw[p, b] = predict(model, mutated)[center_bin, 4]
    np.testing.assert_allclose(adata.obsm["bz_ism"][0, :, :, 0], raw - raw.mean(1, keepdims=True), atol=1e-5)


def test_grad_x_input_is_gradient_times_onehot(model, sequence):
    adata = bz.tl.attributions([sequence], model, tracks=[1, 3], bins=slice(4, 9), center=50)
    x = torch.from_numpy(onehot(sequence)[None]).requires_grad_()
    target = model(x, tracks=[1, 3])[:, 4:9].sum()
    (grad,) = torch.autograd.grad(target, x)
    expected = (grad * x).detach().numpy()[0]
    first = L // 2 - 25
    attr = adata.obsm["bz_attributions"]
    assert attr.shape == (1, 50, 4)
    np.testing.assert_allclose(attr[0], expected[first : first + 50], rtol=1e-4, atol=1e-6)
    assert np.all(attr[0][onehot(sequence)[first : first + 50] == 0] == 0)  # only the present base carries it
    np.testing.assert_allclose(adata.obs["target"].iloc[0], target.item(), rtol=1e-5)
    np.testing.assert_allclose(adata.X[0].sum(), target.item(), rtol=1e-5)


def test_integrated_gradients_completeness(model, sequence):
    adata = bz.tl.attributions(sequence, model, method="integrated_gradients", tracks=[0, 9], bins="center",
                               center=None, n_steps=64, batch_size=16)  # fmt: skip
    obs = adata.obs.iloc[0]
    change = obs["target"] - obs["baseline_target"]
    assert abs(change) > 0.05
    # the attributions over the whole window add up to the change from the all-N baseline
    np.testing.assert_allclose(obs["attribution_total"], change, rtol=0.03)
    np.testing.assert_allclose(adata.obsm["bz_attributions"][0].sum(), change, rtol=0.03)
    assert adata.obsm["bz_attributions"].shape == (1, L, 4)
    uniform = bz.tl.attributions(sequence, model, method="integrated_gradients", tracks=[0, 9], bins="center",
                                 center=20, n_steps=64, batch_size=16, baseline="uniform")  # fmt: skip
    u = uniform.obs.iloc[0]
    np.testing.assert_allclose(u["attribution_total"], u["target"] - u["baseline_target"], rtol=0.03)


def test_bad_arguments(model, sequence):
    with pytest.raises(ValueError, match="stat='mean'"):
        bz.tl.ism(sequence, model, stat="mean")
    with pytest.raises(ValueError, match="center=0"):
        bz.tl.ism(sequence, model, center=0)
    with pytest.raises(ValueError, match="method='saliency'"):
        bz.tl.attributions(sequence, model, method="saliency")
    with pytest.raises(ValueError, match="bins=99"):
        bz.tl.attributions(sequence, model, bins=99)
    with pytest.raises(ValueError, match="baseline='shuffle'"):
        bz.tl.attributions(sequence, model, method="integrated_gradients", baseline="shuffle")
    with pytest.raises(ValueError, match=r"shape \(5, 3\)"):
        bz.tl.ism(np.zeros((5, 3)), model)


LETTER_COLORS = {"A": "#109648", "C": "#255c99", "G": "#f7b32b", "T": "#d62839"}


def drawn_letters(ax):
    """(letter, colour, x centre, bottom, top) of every letter patch on ``ax``."""
    out = []
    for patch in ax.patches:
        letter = patch.get_gid()
        if letter in LETTER_COLORS:
            box = patch.get_path().get_extents()
            out.append((letter, matplotlib.colors.to_hex(patch.get_facecolor()), (box.x0 + box.x1) / 2, box.y0,
                        box.y1))  # fmt: skip
    return out


def test_logo_draws_the_present_bases_at_their_coordinates(model, sequence):
    adata = bz.tl.attributions(sequence, model, tracks=[1], center=12)
    ax = bz.pl.logo(adata, 0, show=False)
    letters = drawn_letters(ax)
    values = adata.obsm["bz_attributions"][0]
    present = adata.obsm["bz_attributions_onehot"][0]
    start = int(adata.obs["span_start"].iloc[0])
    expected = [("ACGT"[b], start + p, values[p, b]) for p, b in zip(*np.nonzero(present), strict=True)]
    assert len(letters) == len(expected) == 11  # twelve positions, one of them N: nothing drawn there
    for (letter, color, x, bottom, top), (want, position, value) in zip(letters, expected, strict=True):
        assert letter == want and color == LETTER_COLORS[letter]
        assert abs(x - position) < 0.05
        height = top - bottom
        assert height == pytest.approx(abs(value), rel=0.02, abs=1e-6)
        assert (bottom >= -1e-9) if value > 0 else (top <= 1e-9)
    assert ax.get_xlabel() == "position in sequence"
    plt.close("all")


def test_logo_of_ism_all_bases_stacked_with_genomic_axis(model):
    rng = np.random.default_rng(6)
    genome = bz.io.Genome({"chr2": "".join(rng.choice(list("ACGT"), 9_000))})
    regions = pd.DataFrame({"Chromosome": ["chr2"], "Start": [4_000], "End": [4_100]})
    adata = bz.tl.ism(regions, model, genome, center=5, tracks=["t0", "t7"])
    fig = bz.pl.logo(adata, adata.obs_names[0], track="t7", kind="all", show=False, return_fig=True)
    ax = fig.axes[0]
    letters = drawn_letters(ax)
    scores = adata.obsm["bz_ism"][0, :, :, 1]
    start = int(adata.obs["span_start"].iloc[0])
    assert len(letters) == 20
    for p in range(5):
        at = [item for item in letters if abs(item[2] - (start + p)) < 0.05]
        assert sorted(item[0] for item in at) == list("ACGT")
        for letter, _, _, bottom, top in at:
            assert top - bottom == pytest.approx(abs(scores[p, "ACGT".index(letter)]), rel=0.02, abs=1e-6)
        up = sorted((item for item in at if item[3] >= -1e-9), key=lambda item: item[3])
        # positive letters stack upwards without gaps, the largest on top
        assert all(abs(a[4] - b[3]) < 1e-6 for a, b in zip(up, up[1:], strict=False))
        assert [item[4] - item[3] for item in up] == sorted(item[4] - item[3] for item in up)
    assert ax.get_xlabel() == "chr2 (bp)" and "t7" in ax.get_title()
    with pytest.raises(ValueError, match="track"):
        bz.pl.logo(adata, 0, show=False)
    with pytest.raises(ValueError, match="'bz_nothing'"):
        bz.pl.logo(adata, 0, key="bz_nothing", track="t7", show=False)
    plt.close("all")
