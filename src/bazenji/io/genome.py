"""Reference genomes: plain FASTA through its ``.fai`` index, bgzip FASTA (``.gzi``), or an in-memory dict.

A ``.fai`` row is ``name, length, offset, line_bases, line_width``: base ``i`` of a sequence sits at
byte ``offset + (i // line_bases) * line_width + i % line_bases`` of the (uncompressed) file. For
bgzip files the offsets are uncompressed positions, and a ``.gzi`` index maps them to compressed
blocks: ``uint64 n`` then ``n`` pairs ``(compressed, uncompressed)`` of block starts, little-endian,
the first block ``(0, 0)`` left out. Both are the formats of ``samtools faidx`` and ``bgzip -i``.

Why hand-written and not pysam's ``FastaFile`` (``benchmarks/RESULTS.md``, readers section): plain FASTA is
memory-mapped and gathered straight into codes or one-hot by numba kernels, 2.6x faster than htslib's fetch plus
encoding; the BGZF block reader below equals htslib on scattered windows and is 2x faster on tiled ones (its
block cache serves neighbouring windows), and it reads with ``os.pread``, so threads need no lock. The ``.fai``
builder refuses two sequences of one name and keeps empty ones, which htslib's accepts and drops silently.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import mmap
import os
import struct
import threading
import zlib
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..encode._gather import IDENTITY_TABLE, gather_kernel, gather_many, gather_onehot_many
from ..encode._kernels import BYTE_WORDS, BYTE_WORDS_COMPLEMENT, CODE_TABLE, N_CODE

logger = logging.getLogger("bazenji")

_BGZF_MAGIC = b"\x1f\x8b\x08\x04"


@dataclass
class FaiIndex:
    """The rows of a ``.fai`` file as parallel arrays, in file order."""

    names: list[str]
    lengths: np.ndarray
    offsets: np.ndarray
    line_bases: np.ndarray
    line_widths: np.ndarray

    @classmethod
    def from_rows(cls, rows: list[tuple[str, int, int, int, int]]) -> FaiIndex:
        """The index of ``(name, length, offset, line_bases, line_width)`` rows."""
        cols = list(zip(*rows, strict=True)) if rows else [[], [], [], [], []]
        return cls(
            names=list(cols[0]),
            lengths=np.asarray(cols[1], dtype=np.int64),
            offsets=np.asarray(cols[2], dtype=np.int64),
            line_bases=np.asarray(cols[3], dtype=np.int64),
            line_widths=np.asarray(cols[4], dtype=np.int64),
        )

    def to_text(self) -> str:
        """The index in ``.fai`` text format."""
        rows = zip(self.names, self.lengths, self.offsets, self.line_bases, self.line_widths, strict=True)
        return "".join(f"{n}\t{a}\t{b}\t{c}\t{d}\n" for n, a, b, c, d in rows)

    @classmethod
    def read(cls, path: str) -> FaiIndex:
        """Read a ``.fai`` file."""
        rows = []
        with open(path) as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                fields = line.rstrip("\n").split("\t")
                try:
                    name, *numbers = fields[:5]
                    rows.append((name, *map(int, numbers)))
                    if len(numbers) != 4:
                        raise ValueError
                except ValueError as err:
                    raise ValueError(
                        f"{path}, line {lineno}: expected 'name length offset line_bases line_width', got {line!r}"
                    ) from err
        return cls.from_rows(rows)


def build_fai(lines: Iterable[bytes], source: str) -> FaiIndex:
    """Index a FASTA stream given as raw binary lines, line endings (LF or CRLF) kept.

    Parameters
    ----------
    lines
        The binary lines of the (uncompressed) FASTA, e.g. an open binary file.
    source
        Name of the file for error messages.
    """
    rows: list[tuple[str, int, int, int, int]] = []
    seen: set[str] = set()
    name = None
    pos = length = offset = 0
    line_bases = line_width = 0
    ended_at = 0  # line number of a short or blank line that must be the record's last

    def finish() -> None:
        if name is not None:
            rows.append((name, length, offset, line_bases or 0, line_width or 0))

    for lineno, line in enumerate(lines, 1):
        width = len(line)
        if line[:1] == b">":
            finish()
            fields = line[1:].split(None, 1)
            if not fields:
                raise ValueError(f"{source}, line {lineno}: a '>' header line without a sequence name")
            name = fields[0].decode("utf-8", "replace")
            if name in seen:
                raise ValueError(f"{source}, line {lineno}: sequence name {name!r} appears twice")
            seen.add(name)
            length = line_bases = line_width = ended_at = 0
            offset = pos + width
        else:
            bases = len(line.rstrip(b"\r\n"))
            if name is None:
                if bases:
                    raise ValueError(f"{source}, line {lineno}: sequence before the first '>' header")
            elif bases == 0:
                ended_at = ended_at or lineno
            elif ended_at:
                raise ValueError(
                    f"{source}, line {lineno}: sequence {name!r} continues after a shorter or blank line "
                    f"(line {ended_at}); FASTA lines of one sequence must all have the same length"
                )
            elif line_bases == 0:
                line_bases, line_width = bases, width
            elif bases > line_bases or (bases == line_bases and width != line_width):
                raise ValueError(
                    f"{source}, line {lineno}: sequence {name!r} has a line of {bases} bases after lines of "
                    f"{line_bases}; FASTA lines of one sequence must all have the same length"
                )
            elif bases < line_bases:
                ended_at = lineno
            length += bases
        pos += width
    finish()
    if not rows:
        raise ValueError(f"{source}: no '>' sequence header found; is it a FASTA file?")
    return FaiIndex.from_rows(rows)


def is_bgzf(path: str) -> bool:
    """Whether ``path`` starts like a BGZF (bgzip) file."""
    with open(path, "rb") as fh:
        head = fh.read(16)
    return head[:4] == _BGZF_MAGIC and head[12:14] == b"BC"


def is_gzip(path: str) -> bool:
    """Whether ``path`` starts with the gzip magic bytes."""
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _block_size(header: bytes, where: int, source: str) -> int:
    if header[:4] != _BGZF_MAGIC or header[12:14] != b"BC":
        raise ValueError(f"{source}: no BGZF block at byte {where}; the file is not bgzip-compressed")
    return struct.unpack_from("<H", header, 16)[0] + 1


def scan_gzi(path: str) -> tuple[np.ndarray, np.ndarray]:
    """Block starts ``(compressed, uncompressed)`` of a BGZF file, read from block headers only."""
    comp, uncomp = [], []
    c = u = 0
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        while c < size:
            fh.seek(c)
            bsize = _block_size(fh.read(18), c, path)
            fh.seek(c + bsize - 4)
            isize = struct.unpack("<I", fh.read(4))[0]
            if isize:
                comp.append(c)
                uncomp.append(u)
            c += bsize
            u += isize
    return np.asarray(comp or [0], dtype=np.int64), np.asarray(uncomp or [0], dtype=np.int64)


def read_gzi(path: str) -> tuple[np.ndarray, np.ndarray]:
    """Block starts ``(compressed, uncompressed)`` from a ``.gzi`` file, with the implicit first block."""
    raw = np.fromfile(path, dtype="<u8")
    if raw.size == 0 or raw.size != 1 + 2 * int(raw[0]):
        raise ValueError(f"{path}: not a .gzi index ({raw.size * 8} bytes)")
    pairs = raw[1:].reshape(-1, 2).astype(np.int64)
    comp = np.concatenate([[0], pairs[:, 0]])
    uncomp = np.concatenate([[0], pairs[:, 1]])
    return comp, uncomp


def gzi_bytes(comp: np.ndarray, uncomp: np.ndarray) -> bytes:
    """Block starts in the ``.gzi`` layout of ``bgzip -i``."""
    pairs = np.stack([comp[1:], uncomp[1:]], axis=1).astype("<u8")
    return np.asarray([len(pairs)], dtype="<u8").tobytes() + pairs.tobytes()


class BgzfReader:
    """Random access to the uncompressed bytes of a BGZF file, with a small cache of blocks.

    Thread-safe: reads use ``os.pread`` and the cache is guarded by a lock.
    """

    def __init__(self, path: str, comp: np.ndarray, uncomp: np.ndarray, *, cache_blocks: int = 64) -> None:
        self.path = path
        self.comp = comp
        self.uncomp = uncomp
        self.size = os.path.getsize(path)
        self._cache: OrderedDict[int, bytes] = OrderedDict()
        self._cache_blocks = cache_blocks
        self._lock = threading.Lock()
        self._fd: int | None = None

    def _file(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY)
        return self._fd

    def close(self) -> None:
        """Close the file; the next read reopens it."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        self.close()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.update(_fd=None, _cache=OrderedDict(), _lock=None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _blocks(self, first: int, last: int) -> list[bytes]:
        """Decompressed blocks ``first..last`` (inclusive), from the cache where possible."""
        with self._lock:
            cached = {i: self._cache.get(i) for i in range(first, last + 1)}
        missing = [i for i, b in cached.items() if b is None]
        if missing:
            lo, hi = missing[0], missing[-1]
            c0 = int(self.comp[lo])
            c1 = int(self.comp[hi + 1]) if hi + 1 < len(self.comp) else self.size
            raw = os.pread(self._file(), c1 - c0, c0)
            for i in missing:
                at = int(self.comp[i]) - c0
                bsize = _block_size(raw[at : at + 18], c0 + at, self.path)
                cached[i] = zlib.decompress(raw[at + 18 : at + bsize - 8], -15)
            with self._lock:
                for i in missing:
                    self._cache[i] = cached[i]
                while len(self._cache) > self._cache_blocks:
                    self._cache.popitem(last=False)
        return [cached[i] for i in range(first, last + 1)]

    def read(self, start: int, end: int) -> np.ndarray:
        """Uncompressed bytes ``[start, end)`` as a ``uint8`` array (shorter at the end of the file)."""
        if end <= start:
            return np.empty(0, dtype=np.uint8)
        first = int(np.searchsorted(self.uncomp, start, side="right")) - 1
        last = int(np.searchsorted(self.uncomp, end - 1, side="right")) - 1
        data = b"".join(self._blocks(first, last))
        skip = start - int(self.uncomp[first])
        return np.frombuffer(data, dtype=np.uint8)[skip : skip + end - start]


def _chrom_error(
    missing: Sequence[str], known: Sequence[str], where: str, *, what: str = "", column: str = ""
) -> ValueError:
    """The error for chromosome names that ``known`` lacks: up to five names and a ``chr`` prefix hint.

    ``what`` names whose chromosomes they are (``"the regions"``, ``"the variants"``) and ``column`` the column
    to fix (``"regions['Chromosome']"``), so the hint tells the user what to change in their own data.
    """
    known_set = set(known)
    missing = list(dict.fromkeys(str(c) for c in missing))
    shown = ", ".join(repr(c) for c in missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
    whose = f" of {what}" if what else ""
    target = what or "the input"
    hint = ""
    if any(f"chr{c}" in known_set for c in missing):
        fix = f", e.g. {column} = 'chr' + {column}" if column else ""
        hint = f" The genome names them with a 'chr' prefix (e.g. 'chr1', not '1'); add the prefix to {target}{fix}."
    elif any(c.startswith("chr") and c[3:] in known_set for c in missing):
        fix = f", e.g. {column} = {column}.str.removeprefix('chr')" if column else ""
        hint = f" The genome names them without the 'chr' prefix (e.g. '1', not 'chr1'); remove it from {target}{fix}."
    examples = ", ".join(repr(c) for c in list(known)[:5])
    return ValueError(
        f"{len(missing)} chromosome name{'s' if len(missing) > 1 else ''}{whose} not in {where}: {shown}.{hint}"
        f" It has {len(known)} sequences, e.g. {examples}."
    )


def _try_write(path: str, data: bytes) -> OSError | None:
    """Write ``data`` to ``path`` atomically; the error instead of raising when the folder is not writable."""
    tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except OSError as err:
        try:
            os.remove(tmp)
        except OSError:
            pass
        return err
    return None


def _fresh(index_path: str, data_path: str) -> bool:
    return os.path.exists(index_path) and os.path.getmtime(index_path) >= os.path.getmtime(data_path)


class Genome:
    """A reference genome: plain FASTA, bgzip FASTA, or an in-memory ``{name: sequence}`` dict.

    Plain FASTA is read through its ``.fai`` index and memory-mapped; bgzip FASTA (``.fa.gz``,
    compressed with ``bgzip``) through ``.fai`` and ``.gzi``. Missing (or older than the FASTA)
    indexes are built and written next to the FASTA in the formats of ``samtools faidx``; when
    that folder is not writable the index is kept in memory and a warning says so.

    Parameters
    ----------
    source
        Path to a FASTA file, a dict mapping sequence names to sequences (``str``, ``bytes`` or
        ASCII ``uint8`` arrays), or another :class:`Genome`.

    Attributes
    ----------
    path
        The FASTA path, or ``None`` for an in-memory genome.
    kind
        ``"fasta"``, ``"bgzip"`` or ``"memory"``.
    """

    def __init__(self, source: str | os.PathLike | Mapping[str, str | bytes | np.ndarray] | Genome) -> None:
        self._buffer: np.ndarray | None = None
        self._bgzf: BgzfReader | None = None
        self._fingerprint: str | None = None
        if isinstance(source, Genome):
            self.__dict__.update(source.__getstate__())
        elif isinstance(source, Mapping):
            self._init_memory(source)
        elif isinstance(source, str | os.PathLike):
            self._init_file(os.fspath(source))
        else:
            raise TypeError(f"Genome expects a FASTA path or a dict of sequences, got {type(source).__name__}")
        self._positions = {name: i for i, name in enumerate(self._index.names)}

    def _init_memory(self, sequences: Mapping[str, str | bytes | np.ndarray]) -> None:
        from ..encode._kernels import _as_bytes_array

        if not sequences:
            raise ValueError("Genome got an empty dict; expected at least one {name: sequence}")
        parts = [np.ascontiguousarray(_as_bytes_array(seq)).reshape(-1) for seq in sequences.values()]
        lengths = np.asarray([len(p) for p in parts], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        widths = np.maximum(lengths, 1)
        self._index = FaiIndex([str(n) for n in sequences], lengths, offsets, widths, widths.copy())
        self._buffer = np.concatenate(parts) if parts else np.empty(0, np.uint8)
        self.path = None
        self.kind = "memory"

    def _init_file(self, path: str) -> None:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"genome FASTA {path!r} does not exist")
        self.path = path
        if is_gzip(path):
            if not is_bgzf(path):
                raise ValueError(
                    f"{path!r} is gzip-compressed but not with bgzip (BGZF), so it cannot be read at random; "
                    "recompress it with `bgzip` or decompress it with `gunzip`"
                )
            self.kind = "bgzip"
            gzi = path + ".gzi"
            if _fresh(gzi, path):
                comp, uncomp = read_gzi(gzi)
            else:
                comp, uncomp = scan_gzi(path)
                err = _try_write(gzi, gzi_bytes(comp, uncomp))
                if err is not None:
                    logger.warning("could not write %s (%s); the bgzip block index is kept in memory", gzi, err)
            self._bgzf = BgzfReader(path, comp, uncomp)
            self._index = self._load_fai(path, lambda: gzip.open(path, "rb"))
        else:
            self.kind = "fasta"
            self._index = self._load_fai(path, lambda: open(path, "rb"))
            size = os.path.getsize(path)
            ends = self._index.offsets + self._file_span(self._index.lengths)
            if len(ends) and ends.max() > size:
                raise ValueError(f"{path + '.fai'!r} does not match {path!r} (an index row points past the file end)")

    def _file_span(self, lengths: np.ndarray) -> np.ndarray:
        lb, lw = np.maximum(self._index.line_bases, 1), self._index.line_widths
        return (lengths // lb) * lw + lengths % lb

    @staticmethod
    def _load_fai(path: str, opener) -> FaiIndex:
        fai = path + ".fai"
        if _fresh(fai, path):
            return FaiIndex.read(fai)
        with opener() as fh:
            index = build_fai(fh, path)
        err = _try_write(fai, index.to_text().encode())
        if err is not None:
            logger.warning("could not write %s (%s); %s was indexed in memory, repeated on every open", fai, err, path)
        return index

    # -- pickling: drop open files and maps, reopen lazily --------------------------------------
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        if self.kind == "fasta":
            state["_buffer"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

    def _buf(self) -> np.ndarray:
        if self._buffer is None:
            with open(self.path, "rb") as fh:
                if os.fstat(fh.fileno()).st_size == 0:
                    self._buffer = np.empty(0, dtype=np.uint8)
                else:
                    self._buffer = np.frombuffer(mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ), dtype=np.uint8)
        return self._buffer

    # -- metadata ----------------------------------------------------------------------------------
    @property
    def chroms(self) -> list[str]:
        """Sequence names in file order."""
        return list(self._index.names)

    @property
    def chrom_sizes(self) -> dict[str, int]:
        """Sequence lengths by name, in file order."""
        return dict(zip(self._index.names, self._index.lengths.tolist(), strict=True))

    def __contains__(self, chrom: object) -> bool:
        return chrom in self._positions

    def __repr__(self) -> str:
        where = repr(self.path) if self.path else "in memory"
        return f"Genome({where}, {len(self._index.names)} sequences, {int(self._index.lengths.sum()):,} bp)"

    @property
    def fingerprint(self) -> str:
        """Names, lengths and a hash of sampled sequence: equal for the same genome in any file format.

        The hash covers every name and length and 64 stretches of 1 kb spread over the genome, read
        as base codes (so soft-masking and line width do not change it); it costs milliseconds.
        """
        if self._fingerprint is None:
            digest = hashlib.blake2b(digest_size=10)
            for name, length in zip(self._index.names, self._index.lengths.tolist(), strict=True):
                digest.update(f"{name}\t{length}\n".encode())
            lengths = self._index.lengths
            total = int(lengths.sum())
            if total:
                ends = np.cumsum(lengths)
                for k in range(64):
                    at = (2 * k + 1) * total // 128
                    i = int(np.searchsorted(ends, at, side="right"))
                    pos = at - int(ends[i] - lengths[i])
                    digest.update(self.fetch_codes(self._index.names[i], pos - 512, pos + 512).tobytes())
            self._fingerprint = f"{len(lengths)}seq-{total}bp-{digest.hexdigest()}"
        return self._fingerprint

    def check_chroms(self, chroms: Iterable[str], *, what: str = "", column: str = "") -> None:
        """Raise a ``ValueError`` naming up to five of ``chroms`` the genome lacks (with a ``chr`` prefix hint).

        Parameters
        ----------
        chroms
            Chromosome names to check.
        what
            Whose names they are, for the message (``"the variants"``).
        column
            The expression to fix in the hint (``"variants['chrom']"``); none when empty.
        """
        missing = [c for c in dict.fromkeys(chroms) if c not in self._positions]
        if missing:
            raise _chrom_error(missing, self._index.names, f"the genome {self!r}", what=what, column=column)

    def _position(self, chrom: str) -> int:
        try:
            return self._positions[chrom]
        except KeyError:
            raise _chrom_error([chrom], self._index.names, f"the genome {self!r}") from None

    # -- reading -----------------------------------------------------------------------------------
    def _layouts(self, positions: np.ndarray) -> tuple[np.ndarray, ...]:
        """File offset, bases per line, bytes per line and length of the sequences at ``positions``."""
        idx = self._index
        return (
            idx.offsets[positions],
            np.maximum(idx.line_bases[positions], 1),
            idx.line_widths[positions],
            idx.lengths[positions],
        )

    def _gather(self, i: int, start: int, out: np.ndarray, table: np.ndarray, fill: int) -> np.ndarray:
        idx = self._index
        offset, lb, lw, length = (int(a[i]) for a in (idx.offsets, idx.line_bases, idx.line_widths, idx.lengths))
        lb = max(lb, 1)
        if self.kind != "bgzip":
            gather_kernel(self._buf(), offset, lb, lw, length, start, table, out.dtype.type(fill), out)
            return out
        g0, g1 = max(start, 0), min(start + len(out), length)
        if g1 <= g0:
            out[:] = fill
            return out
        u0 = offset + (g0 // lb) * lw + g0 % lb
        u1 = offset + ((g1 - 1) // lb) * lw + (g1 - 1) % lb + 1
        raw = self._bgzf.read(u0, u1)
        gather_kernel(raw, offset - u0, lb, lw, length, start, table, out.dtype.type(fill), out)
        return out

    @staticmethod
    def _check_range(start: int, end: int) -> tuple[int, int]:
        start, end = int(start), int(end)
        if end < start:
            raise ValueError(f"end={end} is before start={start}")
        return start, end

    def fetch(self, chrom: str, start: int, end: int, *, upper: bool = False) -> str:
        """The sequence ``[start, end)`` (0-based, half-open) of ``chrom`` as text.

        Parameters
        ----------
        chrom
            Sequence name.
        start, end
            Coordinates; they may run past either end of the sequence, where the text is ``N``.
        upper
            Uppercase the text (soft-masked bases are lowercase in most genome builds).
        """
        start, end = self._check_range(start, end)
        out = self._gather(self._position(chrom), start, np.empty(end - start, np.uint8), IDENTITY_TABLE, ord("N"))
        text = out.tobytes().decode("ascii", "replace")
        return text.upper() if upper else text

    def fetch_codes(self, chrom: str, start: int, end: int) -> np.ndarray:
        """Base codes (``A0 C1 G2 T3``, 4 for N, IUPAC codes and outside the sequence) of ``[start, end)``.

        Parameters
        ----------
        chrom
            Sequence name.
        start, end
            Coordinates, 0-based half-open; they may run past either end of the sequence.

        Returns
        -------
        ``uint8`` array of length ``end - start``.
        """
        start, end = self._check_range(start, end)
        return self._gather(self._position(chrom), start, np.empty(end - start, np.uint8), CODE_TABLE, N_CODE)

    def _windows(self, chroms: Sequence[str], starts: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sequence positions and ``int64`` starts of windows, checking names."""
        import pandas as pd

        starts = np.asarray(starts, dtype=np.int64).reshape(-1)
        if len(chroms) != len(starts):
            raise ValueError(f"got {len(chroms)} chromosome names and {len(starts)} starts")
        positions = pd.Index(self._index.names).get_indexer(pd.Index(np.asarray(chroms, dtype=object)))
        if (positions < 0).any():
            self.check_chroms(np.asarray(chroms, dtype=object)[positions < 0].tolist())
        return positions, starts

    def fetch_onehot_many(
        self,
        chroms: Sequence[str],
        starts: Sequence[int] | np.ndarray,
        length: int,
        *,
        rc: Sequence[bool] | np.ndarray | None = None,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """One-hot (channels ``A, C, G, T``; N and IUPAC all-zero) of many windows of one length.

        Reads and encodes in one pass (numba, parallel over windows), without an intermediate array.

        Parameters
        ----------
        chroms, starts, length
            As in :meth:`fetch_codes_many`.
        rc
            Per window, whether to reverse-complement it.
        out
            A ``uint8`` array of shape ``(n, length, 4)`` to fill instead of a new one.

        Returns
        -------
        ``uint8`` array of shape ``(n, length, 4)``.
        """
        positions, starts = self._windows(chroms, starts)
        n, length = len(starts), int(length)
        rc = np.zeros(n, bool) if rc is None else np.asarray(rc, dtype=bool)
        if rc.shape != (n,):
            raise ValueError(f"rc must have one flag per window ({n}), got shape {rc.shape}")
        if out is None:
            out = np.empty((n, length, 4), dtype=np.uint8)
        elif out.shape != (n, length, 4) or out.dtype != np.uint8 or not out.flags.c_contiguous:
            raise ValueError(f"out must be a C-contiguous uint8 array of shape {(n, length, 4)}")
        if self.kind == "bgzip":
            words = out.view(np.uint32).reshape(n, length)
            for w, (i, s) in enumerate(zip(positions.tolist(), starts.tolist(), strict=True)):
                self._gather(i, s, words[w], BYTE_WORDS_COMPLEMENT if rc[w] else BYTE_WORDS, 0)
                if rc[w]:
                    words[w] = words[w, ::-1].copy()
            return out
        gather_onehot_many(
            self._buf(),
            *self._layouts(positions),
            starts,
            rc,
            out,
        )
        return out

    def fetch_codes_many(
        self, chroms: Sequence[str], starts: Sequence[int] | np.ndarray, length: int, *, out: np.ndarray | None = None
    ) -> np.ndarray:
        """Base codes of many windows of one length, ``[starts[w], starts[w] + length)`` on ``chroms[w]``.

        Runs in parallel over windows (numba, :attr:`bazenji.settings.n_threads`) for plain and
        in-memory genomes; bgzip genomes decompress window by window.

        Parameters
        ----------
        chroms
            Sequence name per window.
        starts
            Window starts; windows may run past either end of their sequence.
        length
            Window length.
        out
            A ``uint8`` array of shape ``(n, length)`` to fill instead of a new one.

        Returns
        -------
        ``uint8`` array of shape ``(n, length)``.
        """
        positions, starts = self._windows(chroms, starts)
        if out is None:
            out = np.empty((len(starts), int(length)), dtype=np.uint8)
        elif out.shape != (len(starts), length) or out.dtype != np.uint8:
            raise ValueError(f"out must be a uint8 array of shape {(len(starts), length)}, got {out.dtype} {out.shape}")
        if self.kind == "bgzip":
            for w, (i, s) in enumerate(zip(positions.tolist(), starts.tolist(), strict=True)):
                self._gather(i, s, out[w], CODE_TABLE, N_CODE)
            return out
        gather_many(
            self._buf(),
            *self._layouts(positions),
            starts,
            out,
            table=CODE_TABLE,
            fill=N_CODE,
        )
        return out


def as_genome(genome: str | os.PathLike | Mapping | Genome) -> Genome:
    """``genome`` itself when it is a :class:`Genome`, else ``Genome(genome)``."""
    return genome if isinstance(genome, Genome) else Genome(genome)
