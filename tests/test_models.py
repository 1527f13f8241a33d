import gc
import json
import logging
import warnings

import h5py
import numpy as np
import pandas as pd
import pytest
import torch
from conftest import random_onehot, randomize_batch_norm, small_config

import bazenji as bz
from bazenji.models import Basenji2, Basenji2Config


def relative_error(out, ref):
    return float(np.linalg.norm(np.asarray(out, np.float64) - ref) / np.linalg.norm(ref))


def run(model, onehot):
    with torch.inference_mode():
        return model(torch.as_tensor(onehot)).float().numpy()


def onehot_of(sequence: str) -> np.ndarray:
    out = np.zeros((1, len(sequence), 4), np.uint8)
    out[0, np.arange(len(sequence)), ["ACGT".index(c) for c in sequence]] = 1
    return out


# --- the real checkpoints and the predictions their implementations made -------------------------------------


@pytest.mark.parametrize("name", ["model.h5", "weights_only.h5"])
def test_keras_default_gelu_is_sigmoid_and_reproduces_reference(reference_data, name, caplog):
    folder = reference_data / "basenji2_keras_small"
    with caplog.at_level(logging.WARNING, logger="bazenji"):
        model = bz.models.load(folder / name, config=None if name == "model.h5" else folder / "params.json")
    assert model.config.gelu == "sigmoid"
    assert "gelu=" in caplog.text  # the choice and how to change it are logged
    reference = np.load(folder / "reference_gelu_sigmoid.npz")
    assert relative_error(run(model, reference["onehot"]), reference["preds"]) < 1e-5


def test_keras_tanh_reference_when_asked(reference_data):
    folder = reference_data / "basenji2_keras_small"
    model = bz.models.load(folder / "model.h5", gelu="tanh")
    reference = np.load(folder / "reference_gelu_tanh.npz")
    assert relative_error(run(model, reference["onehot"]), reference["preds"]) < 1e-5
    # the wrong form is far off, which is why the choice matters
    wrong = bz.models.load(folder / "model.h5", gelu="sigmoid")
    assert relative_error(run(wrong, reference["onehot"]), reference["preds"]) > 0.02


def test_keras_architecture_read_from_model_config(reference_data):
    folder = reference_data / "basenji2_keras_small"
    model = bz.models.load(folder / "model.h5")
    assert model.config == small_config(gelu="sigmoid")
    assert Basenji2Config.from_params(folder / "params.json") == small_config()


def test_basenji2_pytorch_reference(reference_data):
    folder = reference_data / "basenji2_pytorch_small"
    model = bz.models.load(folder / "basenji2_small.pth")
    assert model.config.gelu == "erf"
    reference = np.load(folder / "reference.npz")
    assert relative_error(run(model, reference["onehot"]), reference["preds"]) < 1e-5


def test_multimolecule_reference(reference_data):
    folder = reference_data / "multimolecule_small"
    model = bz.models.load(folder)
    assert model.config.gelu == "tanh" and model.stem.conv.weight.shape[1] == 4
    reference = np.load(folder / "reference.npz")
    assert relative_error(run(model, onehot_of(str(reference["sequence"]))), reference["preds"]) < 1e-5


def test_full_size_keras_layout_loads_every_dataset(reference_data, human_targets, tmp_path):
    layout = json.loads((reference_data / "basenji2_human_keras_layout.json").read_text())["weights"]
    rng = np.random.default_rng(0)
    path = tmp_path / "model_human.h5"
    with h5py.File(path, "w") as handle:
        for entry in layout:
            handle.create_dataset(entry["h5_path"], data=rng.standard_normal(entry["shape"]).astype(np.float32))
    model = bz.models.load(path, targets=human_targets)
    assert model.config == Basenji2Config.human()
    assert model.n_parameters() == 30_088_228 and model.n_parameters(trainable=False) == 35_356
    dense = next(e for e in layout if e["layer"] == "dense" and e["name"] == "kernel:0")
    with h5py.File(path) as handle:
        np.testing.assert_array_equal(model.head.weight.detach().numpy(), handle[dense["h5_path"]][()].T)
        np.testing.assert_array_equal(
            model.tower[5].conv.weight.detach().numpy(), handle["model_weights/conv1d_6/conv1d_6/kernel:0"][()].T
        )
    assert len(model.track_names) == 5313 and model.targets["assay"].eq("CAGE").sum() == 638

    # one extra dataset is a leftover, one altered shape names the layer
    with h5py.File(path, "a") as handle:
        handle.create_dataset("model_weights/dense_1/dense_1/kernel:0", data=np.zeros((3, 3), np.float32))
    with pytest.raises(ValueError, match="left over"):
        bz.models.load(path)


def test_shape_mismatch_names_layer(reference_data, tmp_path):
    source = reference_data / "basenji2_keras_small" / "weights_only.h5"
    path = tmp_path / "w.h5"
    path.write_bytes(source.read_bytes())
    with h5py.File(path, "a") as handle:
        del handle["batch_normalization_3/batch_normalization_3/gamma:0"]
        handle.create_dataset("batch_normalization_3/batch_normalization_3/gamma:0", data=np.ones(7, np.float32))
    with pytest.raises(ValueError, match=r"tower\.2\.bn.*expected shape \(14,\), found \(7,\)"):
        bz.models.load(path, config=small_config())


# --- bad input --------------------------------------------------------------------------------------------------


def test_missing_and_unknown_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.h5"):
        bz.models.load(tmp_path / "nope.h5")
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a model at all")
    with pytest.raises(ValueError, match="formats understood.*keras.*basenji2-pytorch.*multimolecule.*bazenji"):
        bz.models.load(junk)
    corrupt = tmp_path / "corrupt.h5"
    corrupt.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    with pytest.raises(ValueError, match="HDF5"):
        bz.models.load(corrupt)


@pytest.mark.parametrize(
    ("fixture", "remove"),
    [
        ("basenji2_keras_small/weights_only.h5", "batch_normalization_3/batch_normalization_3/gamma:0"),
        ("basenji2_keras_small/weights_only.h5", "dense/dense/bias:0"),
    ],
)
def test_missing_keras_weights_are_listed(reference_data, tmp_path, fixture, remove):
    path = tmp_path / "w.h5"
    path.write_bytes((reference_data / fixture).read_bytes())
    with h5py.File(path, "a") as handle:
        del handle[remove]
    expected = r"tower\.2\.bn\.weight" if "batch_normalization" in remove else r"head\.bias"
    with pytest.raises(ValueError, match=rf"weights missing after mapping: \[.*{expected}"):
        bz.models.load(path, config=small_config())


def test_missing_state_dict_weights_are_listed(reference_data, tmp_path):
    source = reference_data / "basenji2_pytorch_small"
    state = torch.load(source / "basenji2_small.pth", weights_only=True)
    key = next(k for k in state if k.endswith(".2.running_var"))
    del state[key]
    torch.save(state, tmp_path / "basenji2_small.pth")
    (tmp_path / "params.json").write_text((source / "params.json").read_text())
    with pytest.raises(ValueError, match=r"weights missing after mapping: \['stem\.bn\.running_var'\]"):
        bz.models.load(tmp_path / "basenji2_small.pth")


def test_corrupt_directories_list_the_formats(reference_data, tmp_path):
    bad_json = tmp_path / "bad_json"
    bad_json.mkdir()
    (bad_json / "config.json").write_text("{not json")
    (bad_json / "model.safetensors").write_bytes(b"")
    with pytest.raises(ValueError, match="not valid JSON.*formats understood"):
        bz.models.load(bad_json)
    truncated = tmp_path / "truncated"
    truncated.mkdir()
    source = reference_data / "multimolecule_small"
    (truncated / "config.json").write_text((source / "config.json").read_text())
    (truncated / "model.safetensors").write_bytes((source / "model.safetensors").read_bytes()[:1000])
    with pytest.raises(ValueError, match="not a readable safetensors file.*formats understood"):
        bz.models.load(truncated)
    not_an_object = tmp_path / "list_json"
    not_an_object.mkdir()
    (not_an_object / "config.json").write_text("[1, 2]")
    (not_an_object / "model.safetensors").write_bytes(b"")
    with pytest.raises(ValueError, match="JSON list, expected an object; formats understood"):
        bz.models.load(not_an_object)


def test_keras_model_config_wins_and_a_disagreeing_config_is_an_error(reference_data, caplog):
    path = reference_data / "basenji2_keras_small" / "model.h5"
    with pytest.raises(ValueError, match="disagrees with the model_config.*crop_bins"):
        bz.models.load(path, config=small_config(crop_bins=3))


def test_architecture_inferred_from_shapes_is_announced(reference_data, tmp_path, caplog):
    path = tmp_path / "weights_only.h5"  # no params.json beside it
    path.write_bytes((reference_data / "basenji2_keras_small" / "weights_only.h5").read_bytes())
    with caplog.at_level(logging.WARNING, logger="bazenji"):
        model = bz.models.load(path)
    assert model.config.seq_length == 131_072 and model.config.crop_bins == 64
    assert "carries no architecture" in caplog.text and "seq_length=131072" in caplog.text


def test_track_table_length_mismatch(reference_data):
    model = bz.models.load(reference_data / "basenji2_pytorch_small" / "basenji2_small.pth")
    with pytest.raises(ValueError, match="3 tracks but the model has 12"):
        model.targets = ["a", "b", "c"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"seq_length": 1000}, "not divisible by the pooling factor 128"),
        ({"crop_bins": 64}, "removes every bin"),
        ({"tower_channels": ()}, "tower_channels"),
        ({"stem_channels": 0}, "stem_channels=0"),
        ({"gelu": "relu"}, "gelu='relu'"),
        ({"res_kernel": 4}, "res_kernel=4; expected an odd kernel"),
        ({"dilation_rate": 0}, "dilation_rate=0; expected both >= 1"),
        ({"bn_momentum": 2}, "bn_momentum=2; expected"),
        ({"tower_channels": (8, 9.5)}, "expected integer widths"),
        ({"tower_channels": 5}, "expected a sequence of widths"),
        ({"n_res_blocks": 2.5}, "n_res_blocks=2.5; expected an integer >= 0"),
        ({"crop_bins": 1.5}, "crop_bins=1.5; expected an integer >= 0"),
    ],
)
def test_invalid_configs(changes, message):
    with pytest.raises(ValueError, match=message):
        small_config(**changes)


# --- the architecture -------------------------------------------------------------------------------------------


def test_human_config_geometry():
    config = Basenji2Config.human()
    assert (config.seq_length, config.bin_size, config.n_bins, config.n_tracks) == (131_072, 128, 896, 5313)
    # the official schedule: running rate x1.5, rounded half to even after each step (4.5 -> 4, 13.5 -> 14)
    assert config.dilations == [1, 2, 3, 4, 6, 9, 14, 21, 32, 48, 72]
    assert Basenji2(config).n_parameters() == 30_088_228


def test_human_model_runs_a_window():
    torch.manual_seed(0)
    model = Basenji2().eval()
    with torch.inference_mode():
        out = model(torch.as_tensor(random_onehot(1, 131_072)))
    assert out.shape == (1, 896, 5313) and out.dtype == torch.float32 and bool((out >= 0).all())


@pytest.mark.parametrize("form", ["sigmoid", "tanh", "erf"])
def test_gelu_forms_against_formulas(form):
    from math import erf, sqrt, tanh

    x = np.linspace(-4, 4, 41)
    expected = {
        "sigmoid": x / (1 + np.exp(-1.702 * x)),
        "tanh": 0.5 * x * (1 + np.tanh(sqrt(2 / np.pi) * (x + 0.044715 * x**3))),
        "erf": np.array([0.5 * v * (1 + erf(v / sqrt(2))) for v in x]),
    }[form]
    del tanh
    np.testing.assert_allclose(bz.models.gelu(torch.as_tensor(x), form).numpy(), expected, rtol=1e-10, atol=1e-12)


def test_fused_inference_matches_unfused_and_follows_parameter_changes():
    torch.manual_seed(1)
    model = randomize_batch_norm(Basenji2(small_config())).eval()
    x = torch.as_tensor(random_onehot(2, 16_384, seed=3))
    with torch.no_grad():
        unfused = model(x).numpy()
    fused = run(model, x)
    assert relative_error(fused, unfused) < 1e-5
    with torch.no_grad():
        model.final.bn.weight.mul_(3.0)
        changed = model(x).numpy()
    assert relative_error(run(model, x), changed) < 1e-5 and relative_error(changed, unfused) > 1e-3


def test_bfloat16_inference_correlates_with_float32():
    torch.manual_seed(2)
    model = randomize_batch_norm(Basenji2(small_config())).eval()
    x = torch.as_tensor(random_onehot(2, 16_384, seed=4))
    full = run(model, x).reshape(-1, 12)
    half = run(model, x.to(torch.bfloat16)).reshape(-1, 12)
    # random weights give outputs that vary by only ~1% across bins, so this is a strict test of bfloat16 noise
    r = [np.corrcoef(full[:, t], half[:, t])[0, 1] for t in range(12)]
    assert min(r) > 0.98 and relative_error(half, full) < 5e-3


def test_track_subset_equals_full_columns_and_trunk_feeds_head():
    torch.manual_seed(3)
    model = randomize_batch_norm(Basenji2(small_config(), targets=[f"t{i}" for i in range(12)])).eval()
    x = torch.as_tensor(random_onehot(1, 16_384, seed=5))
    full = run(model, x)
    np.testing.assert_allclose(run(model.select_tracks([7, 2]), x), full[..., [7, 2]], rtol=1e-6)
    assert model.select_tracks([7, 2]).track_names == ["t7", "t2"]
    with torch.inference_mode():
        np.testing.assert_allclose(model(x, tracks=[5]).numpy(), full[..., [5]], rtol=1e-6)
        embedding = model.trunk(x)
        head = torch.nn.functional.softplus(embedding @ model.head.weight.T + model.head.bias)
    assert embedding.shape == (1, 112, 16)
    np.testing.assert_allclose(head.numpy(), full, rtol=1e-5, atol=1e-7)


def test_input_validation():
    model = Basenji2(small_config()).eval()
    with pytest.raises(ValueError, match=r"\(1, 16384, 5\)"):
        model(torch.zeros(1, 16384, 5))
    with pytest.raises(ValueError, match="not a multiple of the bin size 128"):
        model(torch.zeros(1, 1000, 4))
    with pytest.raises(ValueError, match="crop leaves no bins; expected at least 2176 bp"):
        model(torch.zeros(1, 2048, 4))
    with torch.inference_mode():
        for bad in ([12], [-1], [0.5], []):
            with pytest.raises(ValueError, match=r"tracks=.*expected"):
                model(torch.zeros(1, 16384, 4), tracks=bad)
    with pytest.raises(ValueError, match=r"tracks=\[-1\]; expected positions in \[0, 12\)"):
        model.select_tracks([-1])


def test_loading_a_saved_model_with_its_track_table_leaves_no_file_open(tmp_path):
    table = pd.DataFrame({"description": [f"DNASE:cell{i}" for i in range(12)]}, index=[f"t{i}" for i in range(12)])
    Basenji2(small_config(), targets=table).save(tmp_path / "m")
    assert (tmp_path / "m" / "targets.tsv").is_file()
    with warnings.catch_warnings(record=True) as caught:
        # an unclosed file warns when it is collected (in a destructor, so recorded rather than raised)
        warnings.simplefilter("always", ResourceWarning)
        loaded = [bz.models.load(tmp_path / "m"), bz.models.load("demo")]
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
    assert loaded[0].track_names == list(table.index) and loaded[1].targets is not None


def test_save_and_load_roundtrip(tmp_path):
    torch.manual_seed(4)
    table = pd.DataFrame({"description": [f"DNASE:cell{i}" for i in range(12)]}, index=[f"t{i}" for i in range(12)])
    model = randomize_batch_norm(Basenji2(small_config(gelu="tanh"), targets=table)).eval()
    model.stem.bn.num_batches_tracked.fill_(5)  # training state a resumed run continues from
    model.save(tmp_path / "m")
    with pytest.raises(FileExistsError):
        model.save(tmp_path / "m")
    loaded = bz.models.load(tmp_path / "m")
    assert loaded.config == model.config and loaded.track_names == model.track_names
    pd.testing.assert_frame_equal(loaded.targets[["description"]], model.targets[["description"]])
    # names that look like numbers or missing values stay text
    model.targets = pd.DataFrame({"description": ["DNASE:x"] * 12}, index=["001", "NA", *map(str, range(10))])
    model.save(tmp_path / "named")
    assert bz.models.load(tmp_path / "named").track_names == ["001", "NA", *map(str, range(10))]
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key
    assert int(loaded.stem.bn.num_batches_tracked) == 5
    x = random_onehot(1, 16_384, seed=6)
    np.testing.assert_array_equal(run(model, x), run(loaded, x))
    # config= as a dict is compared field by field with the saved one; gelu= changes the form of a loaded model
    assert bz.models.load(tmp_path / "m", config=model.config.to_dict()).config == model.config
    with pytest.raises(ValueError, match="crop_bins: config= 1 vs file"):
        bz.models.load(tmp_path / "m", config={**model.config.to_dict(), "crop_bins": 1})
    erf = bz.models.load(loaded, gelu="erf")
    assert erf.config.gelu == "erf" and loaded.config.gelu == "tanh" and erf.track_names == loaded.track_names
    reference = Basenji2(small_config(gelu="erf")).eval()
    reference.load_state_dict(model.state_dict())
    np.testing.assert_array_equal(run(erf, x), run(reference, x))
    assert np.abs(run(erf, x) - run(loaded, x)).max() > 1e-5
    assert bz.models.load("demo", gelu="erf").config.gelu == "erf"
