"""Numba kernels that read windows straight out of a FASTA byte buffer laid out as a ``.fai`` describes.

Base ``g`` of a sequence sits at byte ``offset + (g // line_bases) * line_width + g % line_bases``.
Positions outside ``[0, length)`` get ``fill``; every byte goes through ``table`` (the code table
for encoding, the identity for raw text).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

from ._kernels import BYTE_WORDS, BYTE_WORDS_COMPLEMENT, parallel_threads

IDENTITY_TABLE = np.arange(256, dtype=np.uint8)
IDENTITY_TABLE.setflags(write=False)


@numba.njit(cache=True, nogil=True, inline="always")
def _gather_one(buf, offset, line_bases, line_width, length, start, table, fill, out):
    size = out.shape[0]
    g0 = max(start, 0)
    g1 = min(start + size, length)
    if g1 <= g0:
        for i in range(size):
            out[i] = fill
        return
    for i in range(g0 - start):
        out[i] = fill
    i = g0 - start
    g = g0
    while g < g1:
        line = g // line_bases
        col = g - line * line_bases
        p = offset + line * line_width + col
        take = min(line_bases - col, g1 - g)
        for k in range(take):
            out[i + k] = table[buf[p + k]]
        i += take
        g += take
    for k in range(i, size):
        out[k] = fill


@numba.njit(cache=True, nogil=True)
def gather_kernel(buf, offset, line_bases, line_width, length, start, table, fill, out):
    """Fill ``out`` with sequence positions ``start .. start + len(out)`` of one sequence."""
    _gather_one(buf, offset, line_bases, line_width, length, start, table, fill, out)


@numba.njit(parallel=True, cache=True, nogil=True)
def _gather_many_kernel(buf, offsets, line_bases, line_widths, lengths, starts, table, fill, out):
    for w in prange(out.shape[0]):
        _gather_one(buf, offsets[w], line_bases[w], line_widths[w], lengths[w], starts[w], table, fill, out[w])


def gather_many(
    buf: np.ndarray,
    offsets: np.ndarray,
    line_bases: np.ndarray,
    line_widths: np.ndarray,
    lengths: np.ndarray,
    starts: np.ndarray,
    out: np.ndarray,
    *,
    table: np.ndarray,
    fill: int,
) -> np.ndarray:
    """Fill row ``w`` of ``out`` (``(n, size)`` uint8) from the sequence described by entry ``w`` of each array.

    Parallel over rows with :attr:`bazenji.settings.n_threads` threads.
    """
    as_i64 = [np.ascontiguousarray(a, dtype=np.int64) for a in (offsets, line_bases, line_widths, lengths, starts)]
    with parallel_threads():
        _gather_many_kernel(buf, *as_i64, table, np.uint8(fill), out)
    return out


@numba.njit(parallel=True, cache=True, nogil=True)
def _gather_onehot_kernel(buf, offsets, line_bases, line_widths, lengths, starts, rc, words, words_rc, out):
    zero = np.uint32(0)
    size = out.shape[1]
    for w in prange(out.shape[0]):
        row = out[w]
        if rc[w]:
            _gather_one(buf, offsets[w], line_bases[w], line_widths[w], lengths[w], starts[w], words_rc, zero, row)
            for i in range(size // 2):
                row[i], row[size - 1 - i] = row[size - 1 - i], row[i]
        else:
            _gather_one(buf, offsets[w], line_bases[w], line_widths[w], lengths[w], starts[w], words, zero, row)


def gather_onehot_many(
    buf: np.ndarray,
    offsets: np.ndarray,
    line_bases: np.ndarray,
    line_widths: np.ndarray,
    lengths: np.ndarray,
    starts: np.ndarray,
    rc: np.ndarray,
    out: np.ndarray,
) -> np.ndarray:
    """Fill ``out`` (``(n, size, 4)`` uint8) with the one-hot of each window, reverse-complemented where ``rc``.

    Fused read + encode: one 4-byte store per base, parallel over windows.
    """
    n, size = out.shape[:2]
    words = out.view(np.uint32).reshape(n, size)
    as_i64 = [np.ascontiguousarray(a, dtype=np.int64) for a in (offsets, line_bases, line_widths, lengths, starts)]
    with parallel_threads():
        _gather_onehot_kernel(
            buf, *as_i64, np.ascontiguousarray(rc, dtype=np.bool_), BYTE_WORDS, BYTE_WORDS_COMPLEMENT, words
        )
    return out
