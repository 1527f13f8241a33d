"""Transcription-factor motifs of the demo genome and the grammar that turns them into activity.

Motifs are written as IUPAC consensus letters from the published literature (JASPAR / HOCOMOCO-style
consensus strings), turned into position weight matrices with a fixed rule: a specified base gets 0.85 of the
probability, a two- or three-base code shares 0.85 among its bases, ``N`` is uniform, the rest is spread
evenly. Scanning gives a relative affinity ``4 ** (score - best score)`` per position and strand (log-odds in
bits, at half the usual temperature so that near-misses hardly bind): 1 for any sequence matching the
consensus, about 0.004 for one mismatch at a specified base. Palindromic motifs count one strand.
"""

from __future__ import annotations

import numpy as np

#: IUPAC consensus per motif (forward strand as usually written).
MOTIFS: dict[str, str] = {
    # insulator
    "CTCF": "TGGCCACCAGGGGGCGCTA",  # JASPAR MA0139.1 consensus
    # ubiquitous / promoter
    "SP1": "GGGGCGGGGC",  # GC box
    "KLF": "CCACACCCT",  # CACCC box (KLF1/KLF4)
    "NFY": "RRCCAATSR",  # CCAAT box
    "ETS": "ACCGGAAGT",  # GABPA/ELK class I ETS
    "NRF1": "GCGCATGCGC",
    "YY1": "AAGATGGCGGC",
    "CREB": "TGACGTCA",  # CRE
    "TATA": "TATAWAWR",
    "EBOX": "CACGTG",  # MYC/MAX/USF E-box
    "AP1": "TGASTCA",  # TRE, FOS/JUN
    # liver (HepG2)
    "HNF4A": "RGGTCAAAGGTCA",  # DR1 nuclear receptor
    "FOXA": "TGTTTACWYW",  # forkhead
    "CEBP": "ATTGCGCAAT",
    "HNF1": "GTTAATNATTAAC",
    # erythroid (K562)
    "GATA": "WGATAAGR",  # GATA1 (core WGATAR)
    "TAL1_GATA": "CAGCTGNNNNNNNWGATAA",  # E-box (TAL1/E47), 7 bp, GATA: the erythroid composite element
    "NFE2": "TGCTGASTCAY",  # MARE
    # B lymphoid (GM12878)
    "PU1": "AAAAAGAGGAAGTG",  # SPI1
    "IRF": "GAAANNGAAACT",  # ISRE
    "RUNX": "TGTGGTTT",
    "NFKB": "GGGAATTTCC",
    "EBF": "TCCCNNGGGA",
}

#: Biosamples of the demo and the weight each motif's occupancy adds to an element's activity there.
GRAMMAR: dict[str, dict[str, float]] = {
    "HepG2": {"HNF4A": 1.2, "FOXA": 0.9, "CEBP": 0.9, "HNF1": 0.9, "AP1": 0.6},
    "K562": {"GATA": 0.9, "TAL1_GATA": 1.2, "NFE2": 1.0, "KLF": 0.5, "AP1": 0.8},
    "GM12878": {"PU1": 1.1, "IRF": 0.8, "RUNX": 0.7, "NFKB": 0.9, "EBF": 0.8, "AP1": 0.7},
}
#: Weights of promoter motifs, the same in every biosample.
PROMOTER_GRAMMAR: dict[str, float] = {
    "SP1": 0.6,
    "NFY": 0.7,
    "ETS": 0.6,
    "NRF1": 0.6,
    "YY1": 0.4,
    "CREB": 0.5,
    "TATA": 0.5,
    "KLF": 0.3,
    "EBOX": 0.3,
}
#: The lineage factor profiled by ChIP in each biosample, and the motifs it binds.
LINEAGE_TF: dict[str, tuple[str, tuple[str, ...]]] = {
    "HepG2": ("HNF4A", ("HNF4A",)),
    "K562": ("GATA1", ("GATA", "TAL1_GATA")),
    "GM12878": ("SPI1", ("PU1",)),
}
BIOSAMPLES = tuple(GRAMMAR)

_IUPAC = {
    "A": "A", "C": "C", "G": "G", "T": "T", "R": "AG", "Y": "CT", "S": "CG", "W": "AT", "K": "GT", "M": "AC",
    "B": "CGT", "D": "AGT", "H": "ACT", "V": "ACG", "N": "ACGT",
}  # fmt: skip
_BASES = "ACGT"
#: ASCII byte -> 0..3 for A, C, G, T (either case), 4 for anything else.
CODES = np.full(256, 4, dtype=np.uint8)
for _i, _b in enumerate(_BASES):
    CODES[ord(_b)] = CODES[ord(_b.lower())] = _i


def hill(s: np.ndarray, k: float, n: float) -> np.ndarray:
    """Cooperative response ``s**n / (s**n + k**n)``: one site does little, several together a lot."""
    s = np.maximum(np.asarray(s, dtype=np.float64), 0.0)
    return s**n / (s**n + k**n)


def pwm(consensus: str) -> np.ndarray:
    """Probability matrix ``(length, 4)`` of an IUPAC consensus."""
    out = np.empty((len(consensus), 4))
    for i, letter in enumerate(consensus):
        allowed = _IUPAC[letter]
        if len(allowed) == 4:
            out[i] = 0.25
            continue
        out[i] = 0.15 / (4 - len(allowed))
        for base in allowed:
            out[i, _BASES.index(base)] = 0.85 / len(allowed)
    return out


def log_odds(consensus: str) -> np.ndarray:
    """Log2 odds against a uniform background, ``(length, 5)``; the fifth column (N) scores the worst base."""
    lo = np.log2(pwm(consensus) / 0.25)
    return np.concatenate([lo, lo.min(axis=1, keepdims=True)], axis=1)


_LOG_ODDS = {name: log_odds(seq) for name, seq in MOTIFS.items()}


def sample_site(name: str, rng: np.random.Generator, *, p_consensus: float = 0.9) -> bytes:
    """One site of a motif: the consensus with IUPAC codes resolved, or (a near-miss that barely binds) one mismatch."""
    letters = [rng.choice(list(_IUPAC[c])) for c in MOTIFS[name]]
    if rng.random() > p_consensus:
        specified = [i for i, c in enumerate(MOTIFS[name]) if len(_IUPAC[c]) == 1]
        i = int(rng.choice(specified))
        letters[i] = rng.choice([b for b in _BASES if b != letters[i]])
    site = "".join(letters)
    return (site if rng.random() < 0.5 else reverse_complement(site)).encode()


def reverse_complement(seq: str) -> str:
    """Reverse complement of an ACGTN string."""
    return seq[::-1].translate(str.maketrans("ACGTNacgtn", "TGCANtgcan"))


def affinity(codes: np.ndarray, name: str) -> np.ndarray:
    """Relative affinity of motif ``name`` at each start position of ``codes``, both strands summed.

    Parameters
    ----------
    codes
        0..3 base codes, 4 for N, as :data:`CODES` maps bytes.
    name
        A motif of :data:`MOTIFS`.

    Returns
    -------
    float64 array of ``len(codes)`` values; positions where the motif does not fit are 0.
    """
    lo = _LOG_ODDS[name]
    length = lo.shape[0]
    out = np.zeros(len(codes))
    n = len(codes) - length + 1
    if n < 1:
        return out
    # the reverse strand reads the matrix backwards with complemented bases (A<->T, C<->G, N stays)
    lo_rc = lo[::-1][:, [3, 2, 1, 0, 4]]
    best = lo[:, :4].max(axis=1).sum()
    forward = np.zeros(n)
    reverse = np.zeros(n)
    for j in range(length):
        window = codes[j : j + n]
        forward += lo[j][window]
        reverse += lo_rc[j][window]
    forward, reverse = np.exp2(2 * (forward - best)), np.exp2(2 * (reverse - best))
    out[: len(forward)] = np.maximum(forward, reverse) if _PALINDROMES[name] else forward + reverse
    return out


def _iupac_reverse_complement(consensus: str) -> str:
    return consensus[::-1].translate(str.maketrans("ACGTRYSWKMBDHVN", "TGCAYRSWMKVHDBN"))


_PALINDROMES = {name: seq == _iupac_reverse_complement(seq) for name, seq in MOTIFS.items()}
