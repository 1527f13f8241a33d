import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import bazenji as bz
from bazenji.encode import from_one_hot, one_hot, reverse_complement_codes, reverse_complement_onehot, to_codes

# Plain-numpy references, written from the definition and nothing else.
_ACGT = {b: i for i, b in enumerate(b"ACGT")} | {b: i for i, b in enumerate(b"acgt")}
_COMPLEMENT = np.array([3, 2, 1, 0, 4], dtype=np.uint8)


def ref_codes(raw: np.ndarray) -> np.ndarray:
    return np.vectorize(lambda b: _ACGT.get(int(b), 4), otypes=[np.uint8])(raw) if raw.size else raw.astype(np.uint8)


def ref_one_hot(codes: np.ndarray, n_value=0, dtype=np.uint8) -> np.ndarray:
    out = np.zeros((*codes.shape, 4), dtype=dtype)
    for k in range(4):
        out[..., k] = codes == k
    out[codes == 4] = n_value
    return out


def ref_rc_codes(codes: np.ndarray) -> np.ndarray:
    return _COMPLEMENT[codes[..., ::-1]]


def ref_rc_onehot(x: np.ndarray) -> np.ndarray:
    return x[..., ::-1, :][..., [3, 2, 1, 0]]


ascii_bytes = hnp.arrays(np.uint8, hnp.array_shapes(min_dims=1, max_dims=3, max_side=40), elements=st.integers(0, 255))
dna_bytes = hnp.arrays(
    np.uint8,
    hnp.array_shapes(min_dims=1, max_dims=3, max_side=40),
    elements=st.sampled_from(list(b"ACGTacgtNnRYKMSWBDHV-.*")),
)
codes_arrays = hnp.arrays(np.uint8, hnp.array_shapes(min_dims=1, max_dims=3, max_side=40), elements=st.integers(0, 4))


@settings(max_examples=60, deadline=None)
@given(st.one_of(ascii_bytes, dna_bytes))
def test_to_codes_matches_reference(raw):
    assert np.array_equal(to_codes(raw), ref_codes(raw))
    assert to_codes(raw).shape == raw.shape


@settings(max_examples=60, deadline=None)
@given(codes_arrays)
def test_one_hot_matches_reference(codes):
    assert np.array_equal(one_hot(codes), ref_one_hot(codes))
    assert np.array_equal(one_hot(codes, dtype=np.float32, n_value=0.25), ref_one_hot(codes, 0.25, np.float32))
    assert np.array_equal(from_one_hot(one_hot(codes)), codes)


@settings(max_examples=60, deadline=None)
@given(codes_arrays)
def test_reverse_complement_codes_matches_reference(codes):
    rc = reverse_complement_codes(codes)
    assert np.array_equal(rc, ref_rc_codes(codes))
    assert np.array_equal(reverse_complement_codes(rc), codes)


@settings(max_examples=60, deadline=None)
@given(codes_arrays)
def test_reverse_complement_onehot_matches_reference_and_codes(codes):
    x = ref_one_hot(codes)
    assert np.array_equal(reverse_complement_onehot(x), ref_rc_onehot(x))
    assert np.array_equal(reverse_complement_onehot(x), ref_one_hot(ref_rc_codes(codes)))
    xf = x.astype(np.float32)
    assert reverse_complement_onehot(xf).dtype == np.float32


def test_known_sequence():
    codes = to_codes("ACGTNacgtRYn-")
    assert codes.tolist() == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 4, 4, 4]
    assert bz.encode.to_sequence(reverse_complement_codes(to_codes("AACGTN"))) == "NACGTT"
    assert bz.encode.to_sequence(to_codes(np.array([b"a", b"C"], dtype="S1"))) == "AC"


def test_parallel_windows_with_thread_setting():
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 5, size=(9, 70_001), dtype=np.uint8)
    old = bz.settings.n_threads
    try:
        bz.settings.n_threads = 1
        one = one_hot(codes)
        bz.settings.n_threads = 2
        two = one_hot(codes)
    finally:
        bz.settings._n_threads = old
    assert np.array_equal(one, two)
    assert np.array_equal(one, ref_one_hot(codes))


def test_bad_inputs_name_the_problem():
    with pytest.raises(ValueError, match="0..4"):
        one_hot(np.array([0, 5]))
    with pytest.raises(ValueError, match="float dtype"):
        one_hot(np.array([4]), n_value=0.25)
    with pytest.raises(ValueError, match=r"\(\.\.\., length, 4\)"):
        reverse_complement_onehot(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="non-ASCII"):
        to_codes("ACGé")
