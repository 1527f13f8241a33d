import numpy as np
import pandas as pd
import pyBigWig
import pytest
import torch
from conftest import small_config

import bazenji as bz
from bazenji.models import Basenji2
from bazenji.tl._train import pearson_per_track, poisson_loss, poisson_multinomial_loss


@pytest.fixture(scope="module")
def demo():
    return bz.datasets.demo()


@pytest.fixture(scope="module")
def store(demo, tmp_path_factory):
    """16,384 bp windows over demo chr4 (train), chr3 start (valid), with the 18 demo bigWigs as targets."""
    bz.settings.progress = False
    genome = bz.io.Genome(demo.fasta)
    plan = bz.pp.tile_genome(genome, chroms=["chr4", "chr3"], stride=14_336, seq_length=16_384, crop_bins=8)
    path = tmp_path_factory.mktemp("train") / "train.zarr"
    bz.pp.encode(plan, genome, path, chunk_windows=8)
    table = bz.pp.import_bigwigs(path, targets=demo.targets)
    assert len(table) == 18
    labels = bz.pp.split_by_chrom(path, valid=["chr3"])
    assert set(labels) == {"train", "valid"}
    return path


def tiny_model(demo, seed=0):
    torch.manual_seed(seed)
    return Basenji2(small_config(n_tracks=18, gelu="erf"), targets=bz.io.read_targets(demo.targets))


def test_store_targets_match_hand_binning(demo, store):
    ds = bz.store.open(store)
    table = bz.io.read_targets(demo.targets)
    w = 3
    start = int(ds["start"][w]) + 8 * 128
    chrom = str(ds["chrom"].values[w])
    for t in (0, 12):  # a mean DNASE track (clip 32, scale 2) and a sum CAGE track
        row = table.iloc[t]
        with pyBigWig.open(str(demo.bigwigs[row.name])) as handle:
            base = np.nan_to_num(np.asarray(handle.values(chrom, start, start + 112 * 128), dtype=np.float64))
        binned = base.reshape(112, 128)
        binned = binned.mean(1) if row["sum_stat"] == "mean" else binned.sum(1)
        expected = np.clip(binned, 0, row["clip"]) * row["scale"]
        np.testing.assert_allclose(ds["targets"][w, :, t].values.astype(np.float64), expected, rtol=2e-3, atol=2e-3)


def test_losses_by_hand():
    pred = torch.tensor([[[1.0, 2.0], [3.0, 0.5]]])
    target = torch.tensor([[[0.0, 1.0], [2.0, 1.0]]])
    expected = np.mean([1 - 0, 2 - np.log(2), 3 - 2 * np.log(3), 0.5 - np.log(0.5)])
    assert float(poisson_loss(pred, target, eps=0)) == pytest.approx(expected, rel=1e-6)
    # Poisson-multinomial: Poisson of the per-track totals over bins + multinomial of the shape, both / n_bins
    totals_p, totals_t = np.array([4.0, 2.5]), np.array([2.0, 2.0])
    poisson = (totals_p - totals_t * np.log(totals_p)) / 2
    multinomial = -(np.array([[0, 1], [2, 1]]) * np.log(np.array([[1, 2], [3, 0.5]]) / totals_p)).sum(0) / 2
    got = float(poisson_multinomial_loss(pred, target, eps=0))
    assert got == pytest.approx(float(np.mean(multinomial + poisson)), rel=1e-6)


def test_pearson_per_track_against_numpy():
    rng = np.random.default_rng(0)
    pred, target = rng.random((3, 5, 4)), rng.random((3, 5, 4))
    expected = [np.corrcoef(pred[..., t].ravel(), target[..., t].ravel())[0, 1] for t in range(4)]
    np.testing.assert_allclose(pearson_per_track(pred, target), expected, rtol=1e-10)


def test_training_lowers_the_loss_repeatably_and_resumes(demo, store, tmp_path):
    model = tiny_model(demo)
    history = bz.tl.train(model, store, epochs=3, batch_size=4, lr=3e-3, seed=1, checkpoint_dir=tmp_path / "ck")
    losses = history.metrics["loss"].to_numpy()
    assert losses[-1] < losses[0]
    assert {"valid_loss", "valid_r", "valid_r_DNASE", "valid_r_CAGE", "windows_per_s"} <= set(history.metrics)
    assert history.metrics["data_wait_share"].between(0, 1).all()

    again = tiny_model(demo)
    repeat = bz.tl.train(again, store, epochs=3, batch_size=4, lr=3e-3, seed=1)
    np.testing.assert_array_equal(repeat.metrics["loss"].to_numpy(), losses)

    # two epochs, then a resumed third: the first two are the checkpointed ones, the third continues from them
    # (within 1%: the restored optimizer state reproduces the uninterrupted run closely, not bitwise)
    resumed_model = tiny_model(demo)
    bz.tl.train(resumed_model, store, epochs=2, batch_size=4, lr=3e-3, seed=1, checkpoint_dir=tmp_path / "r")
    resumed = bz.tl.train(tiny_model(demo), store, epochs=3, batch_size=4, lr=3e-3, seed=1,
                          checkpoint_dir=tmp_path / "r", resume=True)  # fmt: skip
    np.testing.assert_array_equal(resumed.metrics["loss"].to_numpy()[:2], losses[:2])
    assert len(resumed.metrics) == 3
    np.testing.assert_allclose(resumed.metrics["loss"].to_numpy()[2], losses[2], rtol=1e-2)

    other = Basenji2(small_config(n_tracks=18, bottleneck=7))
    with pytest.raises(ValueError, match="different architecture"):
        bz.tl.train(other, store, epochs=4, checkpoint_dir=tmp_path / "ck", resume=True)


def test_evaluate_is_per_track_pearson_over_windows_and_bins(demo, store):
    model = tiny_model(demo).eval()
    result = bz.tl.evaluate(model, store, split="valid")
    ds = bz.store.open(store)
    windows = np.flatnonzero(np.asarray(ds["split"].values, dtype=object) == "valid")
    with torch.inference_mode():
        pred = model(torch.as_tensor(ds["onehot"][windows].values)).numpy()
    target = ds["targets"][windows].values.astype(np.float64)
    expected = [np.corrcoef(pred[..., t].ravel(), target[..., t].ravel())[0, 1] for t in range(18)]
    np.testing.assert_allclose(result["pearsonr"].to_numpy(), expected, rtol=1e-4, atol=1e-6)
    assert list(result.index) == model.track_names and result["assay"].iloc[0] == "DNASE"


def test_fine_tuning_a_new_head_with_a_frozen_trunk(demo, store, tmp_path):
    pretrained = tiny_model(demo)
    with torch.no_grad():  # a "pretrained" head for other tracks: 3 of them
        pretrained = pretrained.select_tracks([0, 1, 2])
    original = {k: v.clone() for k, v in pretrained.state_dict().items()}
    model = pretrained.replace_head(demo.targets)  # the store's 18 tracks
    assert model.config.n_tracks == 18 and model.track_names == list(bz.io.read_targets(demo.targets).index)
    trunk_before = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("head")}
    for key, value in trunk_before.items():  # the trunk is the pretrained one
        assert torch.equal(value, original[key]), key
    head_before = model.head.weight.detach().clone()
    bz.tl.train(model, store, epochs=1, batch_size=4, freeze_trunk=True, seed=0, steps_per_epoch=3)
    for key, value in trunk_before.items():  # weights and batch-norm statistics alike
        if "num_batches" not in key:
            assert torch.equal(model.state_dict()[key], value), key
    assert not torch.equal(model.head.weight, head_before)
    for key, value in original.items():  # the pretrained model itself is untouched
        assert torch.equal(pretrained.state_dict()[key], value), key
    assert pretrained.replace_head(5).config.n_tracks == 5 and pretrained.replace_head(["a", "b"]).track_names == [
        "a",
        "b",
    ]
    with pytest.raises(ValueError, match="at least one track"):
        pretrained.replace_head(0)


def test_bad_training_input(demo, store):
    with pytest.raises(ValueError, match="12 outputs"):
        bz.tl.train(Basenji2(small_config()), store, epochs=1)
    with pytest.raises(ValueError, match="loss='mse'"):
        bz.tl.train(tiny_model(demo), store, loss="mse")


@pytest.fixture
def small_store(tmp_path):
    """11 windows (chunks of 2) over a 6,000 bp chromosome: 1,024 bp windows, 4 bins of 128 bp from 256 bp in."""
    from test_bigwig import write_bigwig

    bz.settings.progress = False
    rng = np.random.default_rng(3)
    genome = bz.io.Genome({"chr1": "".join(rng.choice(list("ACGT"), 6000))})
    plan = bz.pp.tile_genome(genome, seq_length=1024, bin_size=128, crop_bins=2)
    path = bz.pp.encode(plan, genome, tmp_path / "s.zarr", chunk_windows=2)
    # "step": 1 on [0, 3000), 3 after; "flat": 1000 everywhere
    step = write_bigwig(tmp_path / "step.bw", [("chr1", 6000)], {"chr1": [(0, 3000, 1.0), (3000, 6000, 3.0)]})
    flat = write_bigwig(tmp_path / "flat.bw", [("chr1", 6000)], {"chr1": [(0, 6000, 1000.0)]})
    return path, {"step": step, "flat": flat}


def test_store_targets_beyond_float16_are_refused(small_store):
    path, files = small_store
    # no targets table: sum over 128 bp bins, no clip, scale 1: 1000 x 128 = 128,000 > 65,504 would be stored as inf
    with pytest.raises(ValueError, match=r"float16.*65504.*'flat' \(max 128000\).*clip"):
        bz.pp.import_bigwigs(path, files)
    table = pd.DataFrame({"identifier": ["step", "flat"], "sum_stat": ["sum", "sum"], "clip": [np.nan, np.nan],
                          "scale": [1.0, 0.25]})  # fmt: skip
    bz.pp.import_bigwigs(path, files, targets=table)  # the refused import left no complete targets to protect
    targets = bz.store.open(path)["targets"].values
    assert np.isfinite(targets).all() and (targets[:, :, 1] == 32_000).all()  # 128,000 x 0.25
    # window 5's span is 2560..3072: three bins of 128 x 1, then 56 x 1 + 72 x 3 = 272
    assert targets[5, :, 0].tolist() == [128, 128, 128, 272]


def test_interrupted_target_import_is_refused_then_redone(small_store, demo, tmp_path, monkeypatch):
    import shutil

    from bazenji.io.bigwig import BigWigTracks

    path, files = small_store
    table = pd.DataFrame({"identifier": ["step", "flat"], "clip": [np.nan, 500.0]})
    reference = shutil.copytree(path, tmp_path / "reference.zarr")
    bz.pp.import_bigwigs(reference, files, targets=table)
    real, calls = BigWigTracks.read, {"n": 0}

    def crash_on_fifth_window(self, *args):  # window 4: the first of chunk 2, after chunks 0 and 1 were written
        calls["n"] += 1
        if calls["n"] == 5:
            raise OSError("bigWig server went away")
        return real(self, *args)

    monkeypatch.setattr(BigWigTracks, "read", crash_on_fifth_window)
    with pytest.raises(OSError, match="went away"):
        bz.pp.import_bigwigs(path, files, targets=table)
    monkeypatch.setattr(BigWigTracks, "read", real)
    ds = bz.store.open(path)
    assert not ds["targets"].attrs["complete"] and not ds["targets"].values[4:].any()  # the rest reads as zeros
    model = tiny_model(demo)
    for run in (lambda: bz.tl.train(model, path, epochs=1), lambda: bz.tl.evaluate(model, path),
                lambda: bz.store.check_targets(path), lambda: bz.store.check_targets(ds)):  # fmt: skip
        with pytest.raises(ValueError, match="incomplete targets.*import_bigwigs on the store again"):
            run()
    bz.pp.import_bigwigs(path, files, targets=table)  # no overwrite needed: an incomplete import is redone
    done, expected = bz.store.open(path), bz.store.open(reference)
    assert done["targets"].attrs["complete"] and np.array_equal(done["targets"].values, expected["targets"].values)
    assert (done["targets"].values[:, :, 1] == 500).all()  # 128,000 clipped to 500
    bz.store.check_targets(path)
    with pytest.raises(FileExistsError, match="already has targets"):
        bz.pp.import_bigwigs(path, files, targets=table)
