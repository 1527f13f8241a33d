"""The fast inference paths against the plain module: float32 plan, bfloat16, int8, track subsets."""

import numpy as np
import pytest
import torch
from conftest import random_onehot, randomize_batch_norm, small_config

import bazenji as bz
from bazenji.models import Basenji2
from bazenji.models._inference import InferencePlan, QuantizedConv, scaled_gelu

INT8 = pytest.mark.skipif(
    not hasattr(torch.ops.onednn, "qconv_pointwise"), reason="this PyTorch build has no oneDNN int8 convolutions"
)


def relative_error(out, ref) -> float:
    out, ref = torch.as_tensor(out).double(), torch.as_tensor(ref).double()
    return float((out - ref).norm() / ref.norm())


def min_track_pearson(out, ref) -> float:
    a = torch.as_tensor(out).double().reshape(-1, out.shape[-1])
    b = torch.as_tensor(ref).double().reshape(-1, ref.shape[-1])
    a, b = a - a.mean(0), b - b.mean(0)
    return float(((a * b).sum(0) / (a.norm(dim=0) * b.norm(dim=0))).min())


def unfused(model, x):
    """The plain module path: eval mode outside inference mode, batch norm not folded, no plan."""
    with torch.no_grad():
        return model(torch.as_tensor(x))


def fast(model, x, **kw):
    with torch.inference_mode():
        return model(torch.as_tensor(x), **kw)


def signal_model(seed: int = 0, **changes) -> Basenji2:
    """A small model whose outputs vary across bins as a trained model's do.

    Batch-norm scales and shifts are drawn first, then every batch norm takes the statistics of its own
    input on a random sequence (so activations stay of order one through the whole network) and those
    are perturbed; outputs then vary by tens of percent across bins instead of the ~1% of plain random
    weights.
    """
    torch.manual_seed(seed)
    model = Basenji2(small_config(**changes)).eval()
    generator = torch.Generator().manual_seed(seed)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    with torch.no_grad():
        for bn in norms:
            bn.weight.copy_(0.5 + torch.rand(bn.num_features, generator=generator))
            bn.bias.copy_(0.2 * torch.randn(bn.num_features, generator=generator))
            bn.reset_running_stats()
            bn.momentum = None  # cumulative: after one batch the running statistics are that batch's
            bn.train()
        model(torch.as_tensor(random_onehot(2, model.config.seq_length, seed=seed + 50)))
        for bn in norms:
            bn.eval()
            n = bn.num_features
            bn.running_mean.add_(0.2 * bn.running_var.sqrt() * torch.randn(n, generator=generator))
            bn.running_var.mul_(0.7 + 0.7 * torch.rand(n, generator=generator))
        model.head.bias.copy_(torch.randn(model.config.n_tracks, generator=generator) - 1)
    return model


@pytest.mark.parametrize("form", ["sigmoid", "tanh", "erf"])
@pytest.mark.parametrize("batch", [1, 3])
def test_float32_plan_equals_unfused_model(form, batch):
    model = randomize_batch_norm(Basenji2(small_config(gelu=form)), seed=4).eval()
    x = random_onehot(batch, 16_384, seed=batch)
    assert relative_error(fast(model, x), unfused(model, x)) < 1e-5
    with torch.inference_mode():
        embedding = model.trunk(torch.as_tensor(x))
        head = torch.nn.functional.softplus(embedding @ model.head.weight.T + model.head.bias)
    assert relative_error(head, unfused(model, x)) < 1e-5


def test_float_input_with_quarter_n_encoding_equals_unfused():
    model = randomize_batch_norm(Basenji2(small_config()), seed=5).eval()
    x = random_onehot(2, 16_384, seed=7).astype(np.float32)
    x[:, 100:400] = 0.25  # the variant scorer's N convention: not one-hot, so no exact stem shortcut applies
    assert relative_error(fast(model, x), unfused(model, x)) < 1e-5


def test_early_crop_with_short_dilations_equals_unfused():
    # Three residual units reach 1 + 2 + 3 bins, less than the 8-bin crop: bins are dropped before every unit.
    model = randomize_batch_norm(Basenji2(small_config(n_res_blocks=3)), seed=6).eval()
    plan = model.inference_plan()
    assert plan.drop_before_dilated == [2, 3, 5] and plan.drop_before_project == [3, 5, 8]
    x = random_onehot(2, 16_384, seed=8)
    assert relative_error(fast(model, x), unfused(model, x)) < 1e-5


def test_plan_is_cached_and_rebuilt_after_a_change():
    model = randomize_batch_norm(Basenji2(small_config()), seed=7).eval()
    with torch.inference_mode():
        first = model.inference_plan(torch.float32)
        assert model.inference_plan(torch.float32) is first
        assert model.inference_plan(torch.bfloat16) is not first
    with torch.no_grad():
        model.tower[2].conv.weight.mul_(1.5)
    x = random_onehot(1, 16_384, seed=9)
    assert model.inference_plan(torch.float32) is not first
    assert relative_error(fast(model, x), unfused(model, x)) < 1e-5


def test_training_mode_and_autograd_are_untouched():
    model = randomize_batch_norm(Basenji2(small_config()), seed=8).train()
    x = torch.as_tensor(random_onehot(2, 16_384, seed=10))
    out = model(x)
    out.mean().backward()
    assert model.stem.conv.weight.grad is not None
    assert not model.__dict__.get("_inference_plans")  # training never builds a plan


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_requested_tracks_equal_columns_of_the_full_output(dtype):
    model = signal_model(seed=1)
    x = torch.as_tensor(random_onehot(2, 16_384, seed=11)).to(dtype)
    full = fast(model, x)
    tracks = [9, 0, 4]
    # bfloat16: the head's product may accumulate in another order for fewer rows
    rtol = 1e-6 if dtype == torch.float32 else 1e-4
    np.testing.assert_allclose(fast(model, x, tracks=tracks).numpy(), full[..., tracks].numpy(), rtol=rtol)
    np.testing.assert_allclose(fast(model.select_tracks(tracks), x).numpy(), full[..., tracks].numpy(), rtol=rtol)


def test_bfloat16_keeps_float32_correlation_on_a_model_with_signal():
    model = signal_model(seed=2)
    x = random_onehot(2, 16_384, seed=12)
    full = fast(model, x)
    half = fast(model, torch.as_tensor(x).bfloat16())
    assert half.dtype == torch.float32
    assert full[0].std(0).div(full[0].mean(0)).median() > 0.1  # real variation across bins
    assert min_track_pearson(half, full) > 0.995


def test_bfloat16_stem_reads_one_hot_exactly():
    model = signal_model(seed=3)
    x = torch.as_tensor(random_onehot(1, 16_384, seed=13))
    with torch.inference_mode():
        exact = InferencePlan(model, torch.float32, torch.device("cpu")).stem_forward(x)
        low = InferencePlan(model, torch.bfloat16, torch.device("cpu")).stem_forward(x)
    # only the output is rounded: one bfloat16 rounding, about 2**-9 relative
    assert relative_error(low.float(), exact) < 2**-8


def test_optimize_float_dtypes_match_the_model():
    model = signal_model(seed=4)
    x = torch.as_tensor(random_onehot(1, 16_384, seed=14))
    for dtype in ("float32", torch.bfloat16):
        optimized = bz.models.optimize(model, dtype=dtype)
        reference = fast(model, x.to(optimized.dtype))
        np.testing.assert_array_equal(optimized(x).numpy(), reference.numpy())
    assert optimized.config is model.config and optimized.track_names == model.track_names
    assert optimized.source["optimized"] == "bfloat16"
    with pytest.raises(ValueError, match=r"expected one-hot \(batch, length, 4\)"):
        optimized(torch.zeros(1, 16_384, 5))
    with pytest.raises(ValueError, match="quantize='int4'; expected None or 'int8'"):
        bz.models.optimize(model, quantize="int4")
    with pytest.raises(ValueError, match="dtype='float64'"):
        bz.models.optimize(model, dtype="float64")


@INT8
def test_quantized_convolution_matches_float_including_the_padded_ends():
    torch.manual_seed(0)
    model = signal_model(seed=5)
    plan = InferencePlan(model, torch.float32, torch.device("cpu"))
    with torch.inference_mode():
        h = plan.stem_forward(torch.as_tensor(random_onehot(1, 16_384, seed=15)))
        a = scaled_gelu(h, plan.form)
        flat = a.reshape(-1, a.shape[-1])
        conv = plan.tower[0]
        quantized = QuantizedConv(conv, flat.amin(0), flat.amax(0), flat.double().mean(0))
        quantized.out_dtype = torch.float32
        exact, approx = conv(a), quantized(a)
    middle = relative_error(approx[:, 2:-2], exact[:, 2:-2])
    assert middle < 0.02
    # the two outputs at each end read zero padding: the offset correction makes them as good as the rest
    assert relative_error(approx[:, :2], exact[:, :2]) < 3 * middle
    assert relative_error(approx[:, -2:], exact[:, -2:]) < 3 * middle


@INT8
def test_int8_correlates_with_float32_and_computes_requested_tracks():
    model = signal_model(seed=6)
    x = torch.as_tensor(random_onehot(2, 16_384, seed=16))
    calibration = torch.as_tensor(random_onehot(2, 16_384, seed=17))
    int8 = bz.models.optimize(model, quantize="int8", calibration=calibration)
    assert int8.dtype == torch.bfloat16 and int8.source["optimized"] == "int8"
    full, quantized = fast(model, x), int8(x)
    assert quantized.shape == full.shape and quantized.dtype == torch.float32
    assert min_track_pearson(quantized, full) > 0.99
    np.testing.assert_allclose(int8(x, tracks=[3, 1]).numpy(), quantized[..., [3, 1]].numpy(), rtol=1e-6)


@INT8
def test_int8_refuses_other_devices():
    model = signal_model(seed=7)
    with pytest.raises(ValueError, match="cpu device only"):
        bz.models.optimize(model, quantize="int8", device="meta")


def test_compiled_float32_plan_equals_the_model():
    # torch.compile takes tens of seconds here: one compiled model, one check
    model = signal_model(seed=8)
    x = torch.as_tensor(random_onehot(1, 16_384, seed=18))
    compiled = bz.models.optimize(model, compile=True)
    assert compiled.source["optimized"] == "float32 compiled"
    assert relative_error(compiled(x), fast(model, x)) < 1e-5
    with pytest.raises(ValueError, match="int8 path runs eagerly"):
        bz.models.optimize(model, quantize="int8", compile=True)


def test_models_pickle_and_copy_after_inference():
    import copy
    import pickle

    model = signal_model(seed=9)
    x = torch.as_tensor(random_onehot(1, 16_384, seed=19))
    expected = fast(model, x)  # builds and caches a plan
    for clone in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        assert not clone.__dict__.get("_inference_plans")
        np.testing.assert_array_equal(fast(clone, x).numpy(), expected.numpy())
    optimized = bz.models.optimize(model, dtype="bfloat16")
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(optimized))(x).numpy(), optimized(x).numpy())


@INT8
def test_int8_model_pickles():
    import pickle

    model = signal_model(seed=10)
    x = torch.as_tensor(random_onehot(1, 16_384, seed=20))
    int8 = bz.models.optimize(model, quantize="int8", calibration=torch.as_tensor(random_onehot(1, 16_384, seed=21)))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(int8))(x).numpy(), int8(x).numpy())
