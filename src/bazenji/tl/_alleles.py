"""Allele windows as the official variant scorer cuts them, their predictions, and allele statistics.

Placement follows ``basenji/vcf.py`` ``snp_seq1`` with ``dna_length_1hot`` (calico/basenji): for a site at
1-based ``pos`` with REF ``r`` and ALT alleles ``a_i``, the genome text ``[pos - 1 - (L//2 - 1), ... + L + extra)``
with ``extra = max(0, len(r) - max len(a_i))`` is read (N past the chromosome ends). REF is expected at offset
``L//2 - 1``; when it differs but an ALT matches the genome there, that ALT is replaced by REF in the text (the
official swap). Each allele's text is the site text with REF replaced by the allele, then fitted to ``L``:
centre-trimmed when longer, N-padded on both sides (the odd N at the back) when shorter. So a deletion-only
site reads ``extra`` more bases and its reference window is shifted right by ``extra // 2``; an insertion's
window loses ``len(insert) // 2`` bases at the front.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ..encode import one_hot, to_codes
from ._ensemble import DTYPES, predict_onehot

#: statistics ``variant_effect`` computes per variant and track (``X`` is always SAD)
STATS = ("SAD", "SAR", "logSAD", "SAX", "maxabs", "D1", "D2", "REF", "ALT")
OUT_DTYPES = {"float32": np.float32, "float16": np.float16}
#: sums of coverage and of squared differences run past float16's largest value (65,504): always float32
WIDE_STATS = ("REF", "ALT", "D2")


def stat_dtype(stat: str, out_dtype: str):
    """The dtype statistic ``stat`` is kept in when scores are asked for as ``out_dtype``."""
    return np.float32 if stat in WIDE_STATS else OUT_DTYPES[out_dtype]


def fit_length(text: str, length: int) -> str:
    """``text`` centre-trimmed or N-padded to ``length``, as the official ``dna_length_1hot`` does it."""
    if len(text) > length:
        trim = (len(text) - length) // 2
        return text[trim : trim + length]
    if len(text) < length:
        front = (length - len(text)) // 2
        return "N" * front + text + "N" * (length - len(text) - front)
    return text


def site_texts(
    genome, chrom: str, pos: int, ref: str, alts: Sequence[str], seq_length: int, *, replace: str | None = None,
    extra: int | None = None,
) -> tuple[str, list[str]]:  # fmt: skip
    """The reference and alternative window texts of one site, each of length ``seq_length``.

    Parameters
    ----------
    genome
        A :class:`~bazenji.io.Genome`.
    chrom, pos, ref, alts
        The site: chromosome, 1-based position, REF and every ALT scored at it.
    seq_length
        Window length ``L``; the variant's first base sits at index ``L//2 - 1``.
    replace
        Genome bases at the variant to replace by REF before the alleles are cut in: the matching ALT of the
        official swap, or the genome's bases when REF does not match and is forced in; None when REF matches.
    extra
        Bases past ``L`` the site reads, ``max(0, len(ref) - longest ALT of the record)``; computed from ``alts``
        when None. Given when ``alts`` are only some of the record's alleles (a chunk holding part of a site),
        so the windows keep the whole record's geometry.
    """
    left = seq_length // 2 - 1
    if extra is None:
        extra = max(0, len(ref) - max(len(a) for a in alts))
    start = pos - 1 - left
    # Windows past a chromosome end are N-padded to their full length (the official code pads the right end
    # one base short and lets dna_length_1hot add it, which only differs for deletions at the very end).
    text = genome.fetch(chrom, start, start + seq_length + extra, upper=True)
    if replace is not None:
        text = text[:left] + ref + text[left + len(replace) :]
    ref_text = fit_length(text, seq_length)
    alt_texts = [fit_length(text[:left] + alt + text[left + len(ref) :], seq_length) for alt in alts]
    return ref_text, alt_texts


def check_sites(genome, sites) -> tuple[np.ndarray, list[str], list[str | None]]:
    """Per site: status (0 REF matches, 1 an ALT matches: swap, 2 none), the genome's bases, the bases to replace."""
    sizes = genome.chrom_sizes
    status = np.zeros(len(sites), np.int8)
    genome_ref, replace = [], []
    for s, (chrom, pos, ref, alts) in enumerate(sites[["chrom", "pos", "ref", "alts"]].itertuples(index=False)):
        if pos > sizes[chrom]:
            raise ValueError(
                f"variant at {chrom}:{pos} ({ref}>{','.join(alts)}) lies past the end of {chrom} "
                f"({sizes[chrom]:,} bp); expected positions inside the genome's chromosomes"
            )
        text = genome.fetch(chrom, pos - 1, pos - 1 + max(len(ref), *map(len, alts)), upper=True)
        genome_ref.append(text[: len(ref)])
        if text[: len(ref)] == ref:
            replace.append(None)
            continue
        matched = next((alt for alt in alts if text[: len(alt)] == alt), None)
        status[s] = 1 if matched is not None else 2
        replace.append(matched if matched is not None else text[: len(ref)])
    return status, genome_ref, replace


def chunk_windows(
    chunk_sites, sites, status, replace, rows_of_site, on_mismatch, genome, seq_length
) -> Iterator[tuple[bool, int, int, str]]:
    """``(is_ref, site, row, text)`` for every window of a chunk: each site's reference, then its alleles.

    ``sites`` holds the chunk's sites with ``alts`` (and ``rows_of_site`` the rows) of the chunk's alleles only,
    and ``extra`` of the whole record.
    """
    for s in chunk_sites.tolist():
        if status[s] == 2 and on_mismatch == "nan":
            continue
        chrom, pos, ref, alts, extra = sites.loc[s, ["chrom", "pos", "ref", "alts", "extra"]]
        ref_text, alt_texts = site_texts(genome, chrom, int(pos), ref, alts, seq_length, replace=replace[s],
                                         extra=int(extra))  # fmt: skip
        yield True, s, -1, ref_text
        for row, text in zip(rows_of_site[s], alt_texts, strict=True):
            yield False, s, row, text


def encode_texts(texts: Sequence[str], n_value: float) -> np.ndarray:
    """One-hot ``(n, L, 4)`` of equal-length texts: uint8 with N all-zero, float32 with N = ``n_value``."""
    codes = to_codes(np.frombuffer("".join(texts).encode("ascii"), dtype=np.uint8)).reshape(len(texts), -1)
    if n_value == 0:
        return one_hot(codes)
    return one_hot(codes, dtype=np.float32, n_value=n_value)


def _shift_fill(x: torch.Tensor, shift: int, value: float) -> torch.Tensor:
    out = torch.full_like(x, value)
    if shift > 0:
        out[:, shift:] = x[:, :-shift]
    else:
        out[:, :shift] = x[:, -shift:]
    return out


def predict_windows(
    model,
    x: torch.Tensor,
    *,
    tracks=None,
    rc: bool = False,
    shifts: Sequence[int] = (0,),
    dtype: torch.dtype = torch.float32,
    strand_pairs=None,
    n_value: float = 0.0,
) -> torch.Tensor:
    """Ensembled coverage ``(batch, bins, tracks)`` of a one-hot batch, shifted inputs padded with ``n_value``.

    With ``n_value == 0`` this is :func:`~bazenji.tl._ensemble.predict_onehot`; otherwise each shift is padded
    with ``n_value`` (as the official ``shift_sequence`` pads with 0.25) and the shift members are averaged.
    """
    shifts = [int(s) for s in shifts]
    kwargs = dict(tracks=tracks, rc=rc, dtype=dtype, strand_pairs=strand_pairs)
    if n_value == 0 or shifts == [0]:
        return predict_onehot(model, x, shifts=shifts, **kwargs)
    total = None
    for shift in shifts:
        shifted = x if shift == 0 else _shift_fill(x, shift, n_value)
        out = predict_onehot(model, shifted, shifts=(0,), **kwargs)
        total = out if total is None else total + out
    return total / len(shifts)


def allele_stats(ref: torch.Tensor, alt: torch.Tensor, stats: Sequence[str]) -> dict[str, torch.Tensor]:
    """Per-variant statistics ``(n, tracks)`` from reference and alternative profiles ``(n, bins, tracks)``.

    SAD is summed from the per-bin differences (exactly ``alt_sum - ref_sum``, without the cancellation of
    subtracting two large sums); sums accumulate in float64 as the official scorer's do.
    """
    diff = alt - ref
    out: dict[str, torch.Tensor] = {}
    sums = {}

    def total(name, profile):
        if name not in sums:
            sums[name] = profile.sum(1, dtype=torch.float64)
        return sums[name]

    for stat in stats:
        if stat == "SAD":
            out[stat] = diff.sum(1, dtype=torch.float64)
        elif stat in ("SAR", "logSAD"):
            out[stat] = torch.log2(total("alt", alt) + 1) - torch.log2(total("ref", ref) + 1)
        elif stat == "SAX":
            index = diff.abs().argmax(1, keepdim=True)
            out[stat] = diff.gather(1, index)[:, 0]
        elif stat == "maxabs":
            out[stat] = diff.abs().amax(1)
        elif stat == "D1":
            out[stat] = diff.abs().sum(1, dtype=torch.float64)
        elif stat == "D2":
            out[stat] = diff.square().sum(1, dtype=torch.float64)
        elif stat == "REF":
            out[stat] = total("ref", ref)
        elif stat == "ALT":
            out[stat] = total("alt", alt)
    return out


def _batches(windows: Iterator, batch_size: int) -> Iterator[list]:
    batch = []
    for window in windows:
        batch.append(window)
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass
class _RefCarry:
    """The reference profile of the site whose alleles may continue into the next batch."""

    site: int = -1
    profile: torch.Tensor | None = None


def _score_batch(batch: list, out: torch.Tensor, stats: Sequence[str], carry: _RefCarry):
    """Statistics of every allele window in ``batch`` against its site's reference profile."""
    ref_at = {}
    alt_positions, ref_slots = [], []
    for i, (is_ref, site, _, _) in enumerate(batch):
        if is_ref:
            ref_at[site] = i + 1  # slot 0 is the carried profile
        else:
            ref_slots.append(ref_at.get(site, 0))
            alt_positions.append(i)
            if site not in ref_at and carry.site != site:
                raise RuntimeError(f"no reference window for site {site}; windows out of order")
    scored = []
    if alt_positions:
        refs = out if carry.profile is None else torch.cat([carry.profile[None], out])
        slots = torch.as_tensor(ref_slots, device=out.device) - (0 if carry.profile is not None else 1)
        values = allele_stats(refs[slots], out[torch.as_tensor(alt_positions, device=out.device)], stats)
        values = {s: v.float().cpu().numpy() for s, v in values.items()}
        for k, i in enumerate(alt_positions):
            scored.append((batch[i][2], {s: values[s][k] for s in stats}))
    last_refs = [i for i, w in enumerate(batch) if w[0]]
    if last_refs:
        carry.site, carry.profile = batch[last_refs[-1]][1], out[last_refs[-1]]
    return scored


@dataclass(frozen=True)
class ScoreSpec:
    """What every chunk of one ``variant_effect`` call shares (small and picklable: it travels with dask tasks)."""

    stats: tuple[str, ...]
    n_tracks: int
    out_dtype: str
    on_mismatch: str
    seq_length: int
    batch_size: int
    n_value: float
    head_tracks: np.ndarray | None
    rc: bool
    shifts: tuple[int, ...]
    dtype: str
    strand_pairs: np.ndarray | None


@dataclass(frozen=True)
class ChunkSites:
    """One chunk: its variant rows ``[start, start + n)``, their sites (global numbers) and per-site tables.

    ``table`` has the columns of the site table (``chrom``, ``pos``, ``ref``, ``extra``) with ``alts`` holding
    only the chunk's alleles, in the order of ``rows_of_site``.
    """

    sites: np.ndarray
    table: pd.DataFrame
    status: dict[int, int]
    replace: dict[int, str | None]
    rows_of_site: dict[int, list]
    rows: np.ndarray


def score_chunk(
    spec: ScoreSpec, chunk: ChunkSites, genome, model, device: torch.device, *, timing: dict | None = None,
    on_variants=None,
) -> dict[str, np.ndarray]:  # fmt: skip
    """Scores ``{stat: (variants of the chunk, tracks)}`` of one chunk: the unit of work, here or on a dask worker.

    ``timing`` (``model_s``, ``windows``, ``variants``) is added to when given; ``on_variants`` is called with
    the number of variants of every finished batch.
    """
    local = {int(row): i for i, row in enumerate(chunk.rows)}
    values = {s: np.full((len(chunk.rows), spec.n_tracks), np.nan, stat_dtype(s, spec.out_dtype)) for s in spec.stats}
    timing = {"model_s": 0.0, "windows": 0, "variants": 0} if timing is None else timing
    windows = chunk_windows(chunk.sites, chunk.table, chunk.status, chunk.replace, chunk.rows_of_site,
                             spec.on_mismatch, genome, spec.seq_length)  # fmt: skip
    carry = _RefCarry()
    dtype = DTYPES[spec.dtype]
    for batch in _batches(windows, spec.batch_size):
        tic_model = time.perf_counter()
        x = torch.from_numpy(encode_texts([w[3] for w in batch], spec.n_value)).to(device)
        out = predict_windows(
            model, x, tracks=spec.head_tracks, rc=spec.rc, shifts=list(spec.shifts), dtype=dtype,
            strand_pairs=spec.strand_pairs, n_value=spec.n_value,
        )  # fmt: skip
        scored = _score_batch(batch, out, list(spec.stats), carry)
        timing["model_s"] += time.perf_counter() - tic_model
        timing["windows"] += len(batch)
        for row, row_values in scored:
            for s in spec.stats:
                values[s][local[row]] = row_values[s]
        if on_variants is not None:
            on_variants(len(scored))
        timing["variants"] += len(scored)
    return values
