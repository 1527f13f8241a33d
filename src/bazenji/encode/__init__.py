"""Numba encoding kernels: ASCII bytes -> base codes (A0 C1 G2 T3 N4) -> one-hot, reverse complements."""

from ._kernels import (
    ALPHABET,
    CODE_TABLE,
    N_CODE,
    from_one_hot,
    one_hot,
    reverse_complement_codes,
    reverse_complement_onehot,
    to_codes,
    to_sequence,
)

__all__ = [
    "ALPHABET",
    "CODE_TABLE",
    "N_CODE",
    "from_one_hot",
    "one_hot",
    "reverse_complement_codes",
    "reverse_complement_onehot",
    "to_codes",
    "to_sequence",
]
