import numpy as np
import pandas as pd
import pytest
import torch
from conftest import random_onehot, randomize_batch_norm, small_config

from bazenji.models import Basenji2
from bazenji.tl._aggregate import combine_pieces, piece_values
from bazenji.tl._ensemble import predict_onehot, resolve_dtype, shift_onehot, strand_pair_permutation


def test_piece_values_and_combination_by_hand():
    profile = np.arange(20, dtype=np.float32).reshape(10, 2)  # bins x tracks: bin b has (2b, 2b+1)
    values = piece_values(profile, np.array([2, 0]), np.array([5, 1]), np.array([3, 7]), "sum")
    np.testing.assert_allclose(values, [[4 + 6 + 8, 5 + 7 + 9], [0, 1]])
    np.testing.assert_allclose(piece_values(profile, np.array([2]), np.array([5]), np.array([3]), "max"), [[8, 9]])
    center = piece_values(profile, np.array([2, 0]), np.array([5, 1]), np.array([3, 7]), "center")
    np.testing.assert_allclose(center[0], [6, 7])
    assert np.isnan(center[1]).all()
    # region 0 spans two windows: 3 bins summing (18, 21) and 2 bins summing (10, 12) -> mean over 5 bins
    pieces = np.array([[18, 21], [10, 12], [4, 4]], np.float32)
    region, n_bins = np.array([0, 0, 1]), np.array([3, 2, 1])
    for blocks in ([pieces], [pieces[:1], pieces[1:]], [pieces[:2], pieces[2:]]):  # one chunk, or the pieces split
        np.testing.assert_allclose(combine_pieces(blocks, region, n_bins, 2, "mean"), [[28 / 5, 33 / 5], [4, 4]])
        np.testing.assert_allclose(combine_pieces(blocks, region, n_bins, 2, "sum"), [[28, 33], [4, 4]])
        np.testing.assert_allclose(combine_pieces(blocks, region, n_bins, 2, "max"), [[18, 21], [4, 4]])
    center = np.array([[np.nan, np.nan], [10, 12], [4, 4]], np.float32)
    np.testing.assert_allclose(
        combine_pieces([center[:1], center[1:]], region, n_bins, 2, "center"), [[10, 12], [4, 4]]
    )
    assert combine_pieces([pieces], region, n_bins, 2, "sum").dtype == np.float32
    with pytest.raises(ValueError, match="2 piece values for 3 pieces"):
        combine_pieces([pieces[:2]], region, n_bins, 2, "sum")


def test_shift_pads_with_n():
    x = torch.as_tensor(random_onehot(1, 8, seed=1, n_fraction=0))
    right = shift_onehot(x, 2)
    assert right[0, :2].sum() == 0 and torch.equal(right[0, 2:], x[0, :-2])
    left = shift_onehot(x, -3)
    assert left[0, -3:].sum() == 0 and torch.equal(left[0, :-3], x[0, 3:])


def test_rc_and_shift_ensemble_equals_hand_made():
    torch.manual_seed(0)
    model = randomize_batch_norm(Basenji2(small_config())).eval()
    onehot = random_onehot(2, 16_384, seed=2)
    x = torch.as_tensor(onehot)
    with torch.inference_mode():
        members = []
        for shift in (-1, 0, 1):
            shifted = np.zeros_like(onehot)
            if shift > 0:
                shifted[:, shift:] = onehot[:, :-shift]
            elif shift < 0:
                shifted[:, :shift] = onehot[:, -shift:]
            else:
                shifted = onehot
            members.append(model(torch.as_tensor(shifted)).numpy())
            reverse_complement = np.ascontiguousarray(shifted[:, ::-1, ::-1])  # ACGT -> TGCA is a channel reversal
            members.append(model(torch.as_tensor(reverse_complement)).numpy()[:, ::-1])
    expected = np.mean(members, axis=0)
    got = predict_onehot(model, x, rc=True, shifts=(-1, 0, 1)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)


def test_strand_pairs_swap_after_reverse_complement():
    table = pd.DataFrame({"strand_pair": [1, 0, 2]}, index=["plus", "minus", "unstranded"])
    np.testing.assert_array_equal(strand_pair_permutation(table, None), [1, 0, 2])
    np.testing.assert_array_equal(strand_pair_permutation(table, np.array([1, 0])), [1, 0])
    assert strand_pair_permutation(pd.DataFrame(index=["a"]), None) is None


def test_dtype_checks():
    assert resolve_dtype("bfloat16", torch.device("cpu")) == torch.bfloat16
    with pytest.raises(ValueError, match="float16.*not supported on the cpu"):
        resolve_dtype("float16", torch.device("cpu"))
    with pytest.raises(ValueError, match="dtype='int4'"):
        resolve_dtype("int4", torch.device("cpu"))
