"""Numba kernels: ASCII bytes -> base codes -> one-hot, and reverse complements.

Codes are ``A=0, C=1, G=2, T=3`` and ``N=4`` for everything else (IUPAC codes, gaps, digits ...).
Lowercase (soft-masked) bases get the code of their uppercase base. One-hot rows follow the
alphabet ``ACGT``; code 4 is an all-zero row unless ``n_value`` asks otherwise.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

import numba
import numpy as np
from numba import prange

ALPHABET = "ACGT"
N_CODE = 4

#: 256-entry lookup table: ASCII byte -> base code.
CODE_TABLE = np.full(256, N_CODE, dtype=np.uint8)
for _code, _base in enumerate(ALPHABET):
    CODE_TABLE[ord(_base)] = _code
    CODE_TABLE[ord(_base.lower())] = _code
CODE_TABLE.setflags(write=False)
COMPLEMENT_CODES = np.array([3, 2, 1, 0, N_CODE], dtype=np.uint8)

# One-hot rows of codes 0..4 as native uint32 words, so a kernel writes one word per base.
_ROWS = np.zeros((5, 4), dtype=np.uint8)
_ROWS[np.arange(4), np.arange(4)] = 1
ONEHOT_WORDS = _ROWS.view(np.uint32).reshape(5)
#: ASCII byte -> one-hot word, and -> one-hot word of its complement.
BYTE_WORDS = ONEHOT_WORDS[CODE_TABLE]
BYTE_WORDS_COMPLEMENT = ONEHOT_WORDS[COMPLEMENT_CODES[CODE_TABLE]]
for _table in (ONEHOT_WORDS, BYTE_WORDS, BYTE_WORDS_COMPLEMENT):
    _table.setflags(write=False)

# Numba's default "workqueue" threading layer aborts when two threads launch parallel kernels at
# once; encoding may run beside a reader thread, so parallel kernels are serialised.
_PARALLEL_LOCK = threading.Lock()


@contextmanager
def parallel_threads():
    """Hold the kernel lock and apply :attr:`bazenji.settings.n_threads` to numba in this thread.

    Numba's thread count is per calling thread, so it is set on each call rather than once.
    """
    from .._settings import settings

    with _PARALLEL_LOCK:
        wanted = settings.n_threads
        if wanted is None:
            yield
            return
        previous = numba.get_num_threads()
        numba.set_num_threads(max(1, min(wanted, numba.config.NUMBA_NUM_THREADS)))
        try:
            yield
        finally:
            numba.set_num_threads(previous)


# Work is split into blocks of this many bytes so that one long sequence also runs in parallel.
_BLOCK = 1 << 16


@numba.njit(parallel=True, cache=True, nogil=True)
def _codes_kernel(raw, table, out):
    n = raw.shape[0]
    n_blocks = (n + _BLOCK - 1) // _BLOCK
    for b in prange(n_blocks):
        lo = b * _BLOCK
        hi = min(lo + _BLOCK, n)
        for i in range(lo, hi):
            out[i] = table[raw[i]]


@numba.njit(parallel=True, cache=True, nogil=True)
def _one_hot_words_kernel(codes, words, out):
    # codes (n, length) -> out (n, length) uint32: one store writes a base's four one-hot bytes
    n, length = codes.shape
    for w in prange(n):
        for i in range(length):
            out[w, i] = words[codes[w, i]]


@numba.njit(parallel=True, cache=True, nogil=True)
def _one_hot_fill_kernel(codes, value, out):
    n, length = codes.shape
    for w in prange(n):
        for i in range(length):
            c = codes[w, i]
            for k in range(4):
                out[w, i, k] = value if c == 4 else (1 if k == c else 0)


@numba.njit(parallel=True, cache=True, nogil=True)
def _rc_codes_kernel(codes, out):
    n, length = codes.shape
    for w in prange(n):
        for i in range(length):
            c = codes[w, length - 1 - i]
            out[w, i] = 3 - c if c < 4 else c


@numba.njit(parallel=True, cache=True, nogil=True)
def _rc_onehot_kernel(x, out):
    n, length, k = x.shape
    for w in prange(n):
        for i in range(length):
            for j in range(k):
                out[w, i, j] = x[w, length - 1 - i, k - 1 - j]


def _as_bytes_array(seq: str | bytes | bytearray | memoryview | np.ndarray) -> np.ndarray:
    if isinstance(seq, str):
        try:
            seq = seq.encode("ascii")
        except UnicodeEncodeError as err:
            raise ValueError(f"sequence has a non-ASCII character at position {err.start}: {seq[err.start]!r}") from err
    if isinstance(seq, bytes | bytearray | memoryview):
        return np.frombuffer(seq, dtype=np.uint8)
    arr = np.asarray(seq)
    if arr.dtype.kind == "S":
        if arr.dtype.itemsize != 1:
            raise ValueError(f"expected single-byte characters (dtype 'S1'), got dtype {arr.dtype}")
        return arr.view(np.uint8)
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype.kind == "U" and arr.dtype.itemsize == 4:
        return _as_bytes_array("".join(arr.ravel().tolist())).reshape(arr.shape)
    raise TypeError(f"expected str, bytes or a uint8/'S1' array of ASCII characters, got {type(seq).__name__}")


def to_codes(seq: str | bytes | np.ndarray) -> np.ndarray:
    """Translate ASCII sequence to base codes.

    Parameters
    ----------
    seq
        A string, bytes, or an array of ASCII bytes (``uint8`` or ``S1``) of any shape.

    Returns
    -------
    ``uint8`` array of the same shape with ``A=0, C=1, G=2, T=3`` (either case) and 4 for anything else.
    """
    raw = _as_bytes_array(seq)
    flat = np.ascontiguousarray(raw).reshape(-1)
    out = np.empty(flat.shape[0], dtype=np.uint8)
    with parallel_threads():
        _codes_kernel(flat, CODE_TABLE, out)
    return out.reshape(raw.shape)


def _as_2d(arr: np.ndarray, trailing: int) -> tuple[np.ndarray, tuple[int, ...]]:
    lead = arr.shape[: arr.ndim - trailing]
    return np.ascontiguousarray(arr).reshape((-1, *arr.shape[arr.ndim - trailing :])), lead


def _check_codes(codes: np.ndarray) -> np.ndarray:
    codes = np.asarray(codes)
    if codes.dtype != np.uint8:
        if codes.dtype.kind not in "iu":
            raise TypeError(f"codes must be an integer array, got dtype {codes.dtype}")
        if codes.size and (codes.min() < 0 or codes.max() > N_CODE):
            raise ValueError(f"codes must lie in 0..{N_CODE}, got values {codes.min()}..{codes.max()}")
        codes = codes.astype(np.uint8)
    elif codes.size and codes.max() > N_CODE:
        raise ValueError(f"codes must lie in 0..{N_CODE}, got a maximum of {codes.max()}")
    if codes.ndim == 0:
        raise ValueError("codes must have at least one dimension (the sequence position)")
    return codes


def one_hot(codes: np.ndarray, *, dtype: np.dtype | type = np.uint8, n_value: float = 0) -> np.ndarray:
    """One-hot encode base codes.

    Parameters
    ----------
    codes
        Codes from :func:`to_codes`, shape ``(..., length)``.
    dtype
        Output dtype.
    n_value
        Value of all four channels at N (code 4): 0 is the training convention; 0.25 is what the
        official variant scorer uses and needs a float ``dtype``.

    Returns
    -------
    Array of shape ``(..., length, 4)`` with channels ``A, C, G, T``.
    """
    codes = _check_codes(codes)
    dtype = np.dtype(dtype)
    if n_value != 0 and dtype.kind not in "fc":
        raise ValueError(f"n_value={n_value!r} needs a float dtype, got {dtype}")
    flat, lead = _as_2d(codes, 1)
    if n_value == 0:
        out = np.empty((*flat.shape, 4), dtype=dtype)
        words = out.view(np.uint32).reshape(flat.shape) if dtype == np.uint8 else None
        with parallel_threads():
            if words is not None:
                _one_hot_words_kernel(flat, ONEHOT_WORDS, words)
            else:
                _one_hot_fill_kernel(flat, dtype.type(0), out)
    else:
        out = np.empty((*flat.shape, 4), dtype=dtype)
        with parallel_threads():
            _one_hot_fill_kernel(flat, dtype.type(n_value), out)
    return out.reshape((*lead, codes.shape[-1], 4))


def reverse_complement_codes(codes: np.ndarray) -> np.ndarray:
    """Reverse complement base codes along the last axis (``A<->T, C<->G``, N stays N).

    Parameters
    ----------
    codes
        Codes from :func:`to_codes`, shape ``(..., length)``.

    Returns
    -------
    A new ``uint8`` array of the same shape.
    """
    codes = _check_codes(codes)
    flat, lead = _as_2d(codes, 1)
    out = np.empty_like(flat)
    with parallel_threads():
        _rc_codes_kernel(flat, out)
    return out.reshape(codes.shape)


def reverse_complement_onehot(x: np.ndarray) -> np.ndarray:
    """Reverse complement one-hot sequence: reverse positions and swap channels ``A<->T, C<->G``.

    Parameters
    ----------
    x
        One-hot array of shape ``(..., length, 4)``, channels ``A, C, G, T``, any dtype.

    Returns
    -------
    A new array of the same shape and dtype.
    """
    x = np.asarray(x)
    if x.ndim < 2 or x.shape[-1] != 4:
        raise ValueError(f"expected a one-hot array of shape (..., length, 4), got shape {x.shape}")
    flat, lead = _as_2d(x, 2)
    out = np.empty_like(flat)
    with parallel_threads():
        _rc_onehot_kernel(flat, out)
    return out.reshape(x.shape)


def from_one_hot(x: np.ndarray) -> np.ndarray:
    """Codes of a one-hot array: the hot channel, or 4 (N) where a row is not exactly one-hot.

    Parameters
    ----------
    x
        One-hot array of shape ``(..., length, 4)``, channels ``A, C, G, T``.

    Returns
    -------
    ``uint8`` codes of shape ``(..., length)``.
    """
    x = np.asarray(x)
    if x.ndim < 2 or x.shape[-1] != 4:
        raise ValueError(f"expected a one-hot array of shape (..., length, 4), got shape {x.shape}")
    hot = (x == 1).sum(axis=-1) == 1
    hot &= (x == 0).sum(axis=-1) == 3
    return np.where(hot, x.argmax(axis=-1), N_CODE).astype(np.uint8)


def to_sequence(codes: np.ndarray) -> str | list[str]:
    """Turn base codes back into uppercase strings, N for code 4.

    Parameters
    ----------
    codes
        Codes of shape ``(length,)`` or ``(..., length)``; use :func:`from_one_hot` first for one-hot input.

    Returns
    -------
    One string for a one-dimensional input, a list of strings (one per row) otherwise.
    """
    letters = np.frombuffer(b"ACGTN", dtype=np.uint8)[_check_codes(codes)]
    if letters.ndim == 1:
        return letters.tobytes().decode("ascii")
    return [row.tobytes().decode("ascii") for row in letters.reshape(-1, letters.shape[-1])]
