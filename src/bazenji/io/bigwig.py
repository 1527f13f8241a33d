"""bigWig coverage read into 128 bp bins with the official Basenji data semantics.

What ``basenji_data_read.py`` (calico/basenji, the Basenji2-era script; the same order is kept as
``transform_old`` in calico/baskerville ``hound_data_read.py``) does to one coverage track, per bin, in order:

1. ``sum_stat`` over the base-level coverage of the bin: ``sum``, ``mean`` (``avg``), ``median``, ``max``,
   ``sum_sqrt`` (the bin sum to the power 0.75, as that script computes it) or ``peak``
   (``clip(sqrt(4 * mean), 0, 1)``);
2. soft clip, when the table has ``clip_soft`` = *c*: values above *c* become ``c + sqrt(x - c)``;
3. hard clip, when the table has ``clip``: ``np.clip(x, -clip, clip)`` (symmetric, as ``basenji_data_read.py``);
4. ``scale``: multiply by ``scale`` (default 1).

Clip comes *before* scale: a DNase track with ``clip=32, scale=2`` tops out at 64. (The newer Borzoi
transform in baskerville scales base-level coverage before pooling instead; bazenji follows Basenji2.)

Two documented departures from that script: a base with no coverage entry (a gap between bedGraph-style
entries, typical of sparse files such as CAGE) is 0, and a base whose stored value is NaN is also 0 with one
warning per file (the script sets NaN to the window's 10th-percentile coverage). Bases before the chromosome
start or past its end, where a model window overhangs, are 0.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "SUM_STATS",
    "BigWigTracks",
    "TrackTransform",
    "apply_transform",
    "check_chromosomes",
    "open_bigwig",
    "read_binned",
    "read_coverage",
    "read_window_targets",
    "track_table",
]

#: Summary statistics ``sum_stat`` may name.
SUM_STATS = ("sum", "mean", "avg", "median", "max", "sum_sqrt", "peak")

# Files already warned about storing NaN by the one-off readers (read_coverage, read_binned): once per process.
# A BigWigTracks reader (one import_bigwigs call) keeps its own set, so every import warns again.
_NAN_WARNED: set[str] = set()


@dataclass(frozen=True)
class TrackTransform:
    """How one track's base-level coverage becomes binned targets (one row of a Basenji targets table).

    Attributes
    ----------
    sum_stat
        Summary statistic per bin, one of :data:`SUM_STATS`.
    clip
        Hard clip: values are clipped to ``[-clip, clip]``; ``None`` for no clipping.
    clip_soft
        Soft clip threshold: values ``x > clip_soft`` become ``clip_soft + sqrt(x - clip_soft)``; ``None`` for none.
    scale
        Factor applied last, after clipping.
    """

    sum_stat: str = "sum"
    clip: float | None = None
    clip_soft: float | None = None
    scale: float = 1.0

    def __post_init__(self) -> None:
        if self.sum_stat not in SUM_STATS:
            raise ValueError(f"sum_stat={self.sum_stat!r}; expected one of {list(SUM_STATS)}")
        for name in ("clip", "clip_soft"):
            value = getattr(self, name)
            if value is not None and not (np.isfinite(value) and value >= 0):
                raise ValueError(f"{name}={value!r}; expected a non-negative number or None")
        if not np.isfinite(self.scale):
            raise ValueError(f"scale={self.scale!r}; expected a finite number")

    @classmethod
    def from_row(cls, row: Mapping | pd.Series) -> TrackTransform:
        """The transform of a targets-table row; absent or empty fields take the defaults."""

        def get(name):
            value = row.get(name) if hasattr(row, "get") else None
            return None if value is None or (isinstance(value, float) and np.isnan(value)) or value == "" else value

        sum_stat = get("sum_stat")
        clip, clip_soft, scale = get("clip"), get("clip_soft"), get("scale")
        return cls(
            sum_stat="sum" if sum_stat is None else str(sum_stat),
            clip=None if clip is None else float(clip),
            clip_soft=None if clip_soft is None else float(clip_soft),
            scale=1.0 if scale is None else float(scale),
        )


def apply_transform(coverage: np.ndarray, transform: TrackTransform, *, bin_size: int = 128) -> np.ndarray:
    """Bin base-level coverage and apply ``sum_stat``, soft clip, clip and scale, in Basenji's order.

    Parameters
    ----------
    coverage
        Base-level coverage along the last axis, whose length is a multiple of ``bin_size``; NaN-free.
    transform
        The track's transform.
    bin_size
        Bases per bin.

    Returns
    -------
    float32 array with the last axis shortened to ``length // bin_size`` bins.
    """
    length = coverage.shape[-1]
    if length % bin_size:
        raise ValueError(f"coverage length {length} is not a multiple of bin_size={bin_size}")
    blocks = coverage.reshape(*coverage.shape[:-1], length // bin_size, bin_size)
    stat = transform.sum_stat
    if stat == "sum":
        binned = blocks.sum(axis=-1, dtype=np.float64)
    elif stat in ("mean", "avg"):
        binned = blocks.mean(axis=-1, dtype=np.float64)
    elif stat == "median":
        binned = np.median(blocks, axis=-1).astype(np.float64)
    elif stat == "max":
        binned = blocks.max(axis=-1).astype(np.float64)
    elif stat == "sum_sqrt":
        binned = np.power(np.maximum(blocks.sum(axis=-1, dtype=np.float64), 0.0), 0.75)
    else:  # peak
        binned = np.clip(np.sqrt(np.maximum(blocks.mean(axis=-1, dtype=np.float64), 0.0) * 4), 0, 1)
    if transform.clip_soft is not None:
        over = binned > transform.clip_soft
        binned[over] = transform.clip_soft + np.sqrt(binned[over] - transform.clip_soft)
    if transform.clip is not None:
        binned = np.clip(binned, -transform.clip, transform.clip)  # symmetric as basenji_data_read: signs survive
    return (binned * transform.scale).astype(np.float32)


def open_bigwig(path: str | os.PathLike):
    """Open a bigWig file for reading with pyBigWig.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        ``path`` exists but is not a bigWig file.
    """
    import pyBigWig

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"bigWig file {str(path)!r} does not exist")
    try:
        handle = pyBigWig.open(str(path))
    except RuntimeError as err:
        raise ValueError(f"{str(path)!r} cannot be opened as a bigWig file: {err}") from err
    if handle is None or not handle.isBigWig():
        if handle is not None:
            handle.close()
        raise ValueError(f"{str(path)!r} is not a bigWig file (a bigBed or another format?)")
    return handle


def check_chromosomes(
    bigwig_chroms: Mapping[str, int] | Iterable[str],
    genome_chroms: Mapping[str, int] | Iterable[str],
    *,
    required: Iterable[str] | None = None,
    name: str | None = None,
    against: str = "the genome",
) -> None:
    """Check that a bigWig names (and sizes) chromosomes as the genome does.

    Parameters
    ----------
    bigwig_chroms
        The bigWig's chromosomes: ``{name: length}`` (``pyBigWig``'s ``chroms()``), an open handle, a path, or
        names only.
    genome_chroms
        The genome's chromosomes, ``{name: length}`` or names (an object with a ``chrom_sizes`` mapping or a
        ``chroms`` attribute is read too).
    required
        The chromosomes that must be present in the bigWig (the ones regions or windows use); by default every
        genome chromosome.
    name
        How the bigWig is named in messages; its path when ``bigwig_chroms`` is a path.
    against
        How ``genome_chroms`` is named in messages.

    Raises
    ------
    ValueError
        A required chromosome is missing from the bigWig (the message names them and says when adding or
        removing a ``chr`` prefix would match), or a shared chromosome has a different length (another
        assembly).
    """
    if name is None:
        name = f"bigWig {str(bigwig_chroms)!r}" if isinstance(bigwig_chroms, str | os.PathLike) else "bigWig"
    bw = _as_sizes(bigwig_chroms)
    genome = _as_sizes(genome_chroms)
    needed = list(dict.fromkeys(genome if required is None else required))
    missing = [c for c in needed if c not in bw]
    if missing:
        shown = _first(missing)
        present = _first(list(bw))
        toggled = [_toggle_chr(c) for c in missing]
        hint = ""
        if all(t in bw for t in toggled):
            hint = (
                f"; this is a 'chr' prefix mismatch: {against} names {missing[0]!r} what the bigWig names "
                f"{toggled[0]!r}"
            )
        raise ValueError(f"{name} lacks chromosome(s) {shown} of {against}; it has {present}{hint}")
    wrong = [(c, bw[c], genome[c]) for c in needed if genome.get(c) is not None and bw[c] not in (None, genome[c])]
    if wrong:
        shown = ", ".join(f"{c}: {b} in the bigWig vs {g} in {against}" for c, b, g in wrong[:5])
        raise ValueError(f"{name} has chromosome lengths that differ from {against} ({shown}); another assembly?")


def read_coverage(bigwig, chrom: str, start: int, end: int) -> np.ndarray:
    """Base-level coverage of ``chrom:start-end`` as float32.

    Bases outside the chromosome, bases without an entry and bases whose stored value is NaN are 0 (stored NaN
    with one warning per file).

    Parameters
    ----------
    bigwig
        A path to a bigWig file or an open ``pyBigWig`` handle.
    chrom, start, end
        The interval, 0-based half-open; ``start`` may be negative and ``end`` past the chromosome end.
    """
    handle, label, owned = _handle(bigwig)
    try:
        return _coverage(handle, label, chrom, int(start), int(end), warned=_NAN_WARNED)
    finally:
        if owned:
            handle.close()


def read_binned(
    bigwig,
    chrom: str,
    start: int,
    end: int,
    *,
    bin_size: int = 128,
    sum_stat: str = "sum",
    clip: float | None = None,
    clip_soft: float | None = None,
    scale: float = 1.0,
    transform: TrackTransform | Mapping | pd.Series | None = None,
) -> np.ndarray:
    """Binned coverage of one bigWig over ``chrom:start-end``, as Basenji's data pipeline computes targets.

    Parameters
    ----------
    bigwig
        A path to a bigWig file or an open ``pyBigWig`` handle.
    chrom, start, end
        The interval, 0-based half-open; ``end - start`` must be a multiple of ``bin_size``. The interval may
        run past either chromosome end; bases outside count as 0.
    bin_size
        Bases per bin.
    sum_stat
        Summary statistic per bin, one of :data:`SUM_STATS`.
    clip
        Clip binned values to ``[-clip, clip]`` after ``sum_stat`` and soft clipping, before ``scale``.
    clip_soft
        Soft clip threshold applied before ``clip``.
    scale
        Factor applied last.
    transform
        A :class:`TrackTransform` or a targets-table row (``sum_stat``, ``clip``, ``clip_soft``, ``scale``;
        missing fields take the defaults) used instead of the four options above, which must then be left at
        their defaults.

    Returns
    -------
    float32 array of ``(end - start) // bin_size`` values.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        The chromosome is not in the bigWig (with a ``chr`` prefix hint when that is the cause), the interval
        is empty or not a whole number of bins, or an option is invalid.
    """
    explicit = TrackTransform(sum_stat=sum_stat, clip=clip, clip_soft=clip_soft, scale=scale)
    if transform is None:
        transform = explicit
    else:
        if explicit != TrackTransform():
            raise ValueError(
                f"transform={transform!r} was given together with sum_stat/clip/clip_soft/scale; "
                "expected one or the other"
            )
        if not isinstance(transform, TrackTransform):
            transform = TrackTransform.from_row(transform)
    _check_interval(start, end, bin_size)
    coverage = read_coverage(bigwig, chrom, start, end)
    return apply_transform(coverage, transform, bin_size=bin_size)


def track_table(
    bigwigs: Mapping[str, str | os.PathLike] | Sequence[str | os.PathLike] | None = None,
    *,
    targets: str | os.PathLike | pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The track set to read: one row per track with ``identifier``, ``description``, ``file`` and the transform.

    Parameters
    ----------
    bigwigs
        ``{identifier: path}``, a list of paths (identifiers are the file names without extension), or ``None``
        to take the files from the ``file`` column of ``targets``.
    targets
        A Basenji targets table (path or DataFrame) giving ``sum_stat``, ``clip``, ``clip_soft``, ``scale`` and
        the description of each track. With ``bigwigs`` as a dict, rows are matched by ``identifier``; with a
        list of the table's length, by position. Relative ``file`` entries are resolved against the working
        directory, then against the table's folder.

    Returns
    -------
    DataFrame in track order with at least ``identifier``, ``description``, ``file``, ``sum_stat``, ``clip``,
    ``clip_soft`` and ``scale`` (tracks without a table: ``sum_stat="sum"``, no clip, ``scale=1``,
    ``description`` = identifier).
    """
    table = None
    base = None
    if targets is not None:
        if isinstance(targets, pd.DataFrame):
            table = targets.reset_index(drop=True).copy()
        else:
            path = Path(targets)
            if not path.is_file():
                raise FileNotFoundError(f"targets table {str(path)!r} does not exist")
            table = pd.read_csv(path, sep="\t", dtype={"identifier": str, "description": str, "file": str})
            first = table.columns[0]
            if first == "" or str(first).startswith("Unnamed: 0"):
                table = table.rename(columns={first: "index"})
            base = path.parent
        if "identifier" not in table.columns:
            raise ValueError(f"targets table lacks an 'identifier' column; it has {list(table.columns)}")

    if bigwigs is None:
        if table is None or "file" not in table.columns:
            raise ValueError("bigwigs=None needs a targets table with a 'file' column to find the bigWig files")
        files = [_resolve(f, base) for f in table["file"]]
        out = table.copy()
        out["file"] = files
    elif isinstance(bigwigs, Mapping):
        ids = [str(k) for k in bigwigs]
        files = [str(v) for v in bigwigs.values()]
        if table is not None:
            by_id = {str(v): i for i, v in enumerate(table["identifier"])}
            unknown = [i for i in ids if i not in by_id]
            if unknown:
                raise ValueError(
                    f"bigwigs has identifier(s) {_first(unknown)} not in the targets table "
                    f"(its identifiers: {_first(list(by_id))})"
                )
            out = table.iloc[[by_id[i] for i in ids]].reset_index(drop=True).copy()
        else:
            out = pd.DataFrame({"identifier": ids})
        out["file"] = files
    else:
        if isinstance(bigwigs, str | os.PathLike):
            bigwigs = [bigwigs]
        files = [str(f) for f in bigwigs]
        if table is not None:
            if len(table) != len(files):
                raise ValueError(
                    f"bigwigs lists {len(files)} files but the targets table has {len(table)} rows; pass a dict "
                    "{identifier: path} to match them by identifier"
                )
            out = table.copy()
        else:
            out = pd.DataFrame({"identifier": _unique_stems(files)})
        out["file"] = files
    if not len(out):
        raise ValueError("no bigWig tracks given; expected at least one file")
    if "description" not in out.columns:
        out["description"] = out["identifier"]
    for column, default in (("sum_stat", "sum"), ("clip", np.nan), ("clip_soft", np.nan), ("scale", 1.0)):
        if column not in out.columns:
            out[column] = default
    for row in out.itertuples():  # validate every transform now, not halfway through a long read
        TrackTransform.from_row(row._asdict())
    return out.reset_index(drop=True)


class BigWigTracks:
    """A set of bigWig tracks kept open, read window by window into ``(bins, tracks)`` arrays.

    Parameters
    ----------
    bigwigs
        See :func:`track_table`.
    targets
        See :func:`track_table`.
    bin_size
        Bases per bin.

    Examples
    --------
    >>> with BigWigTracks(demo.bigwigs, targets=demo.targets) as tracks:  # doctest: +SKIP
    ...     y = tracks.read("chr1", 8192, 8192 + 114_688)  # (896, n_tracks) float32
    """

    def __init__(self, bigwigs=None, *, targets=None, bin_size: int = 128) -> None:
        if not isinstance(bin_size, int | np.integer) or bin_size < 1:
            raise ValueError(f"bin_size={bin_size!r}; expected a positive integer")
        self.bin_size = int(bin_size)
        self.table = track_table(bigwigs, targets=targets)
        self.transforms = [TrackTransform.from_row(r._asdict()) for r in self.table.itertuples()]
        self._handles = []
        try:
            for path in self.table["file"]:
                self._handles.append(open_bigwig(path))
        except BaseException:
            self.close()
            raise
        self.labels = [str(p) for p in self.table["file"]]
        self._nan_warned: set[str] = set()  # one NaN warning per file and reader (per import call)

    @property
    def identifiers(self) -> list[str]:
        """Track identifiers in track order."""
        return [str(i) for i in self.table["identifier"]]

    def __len__(self) -> int:
        return len(self._handles)

    def chroms(self, i: int = 0) -> dict[str, int]:
        """Chromosome sizes of track ``i``."""
        return dict(self._handles[i].chroms())

    def check_chromosomes(
        self, genome_chroms, *, required: Iterable[str] | None = None, against: str = "the genome"
    ) -> None:
        """:func:`check_chromosomes` for every track against the genome's chromosomes."""
        for handle, label in zip(self._handles, self.labels, strict=True):
            name = f"bigWig {label!r}"
            check_chromosomes(handle.chroms(), genome_chroms, required=required, name=name, against=against)

    def read_coverage(self, i: int, chrom: str, start: int, end: int) -> np.ndarray:
        """Base-level coverage of track ``i`` (see :func:`read_coverage`)."""
        return _coverage(self._handles[i], self.labels[i], chrom, int(start), int(end), warned=self._nan_warned)

    def read(self, chrom: str, start: int, end: int) -> np.ndarray:
        """Binned, transformed targets of every track over ``chrom:start-end``, shape ``(bins, tracks)``."""
        _check_interval(start, end, self.bin_size)
        out = np.empty(((end - start) // self.bin_size, len(self)), dtype=np.float32)
        for i in range(len(self)):
            coverage = self.read_coverage(i, chrom, start, end)
            out[:, i] = apply_transform(coverage, self.transforms[i], bin_size=self.bin_size)
        return out

    def close(self) -> None:
        """Close every file."""
        for handle in self._handles:
            handle.close()
        self._handles = []

    def __enter__(self) -> BigWigTracks:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_window_targets(
    bigwigs,
    chrom: str,
    start: int,
    end: int,
    *,
    targets: str | os.PathLike | pd.DataFrame | None = None,
    bin_size: int = 128,
) -> np.ndarray:
    """Training targets of one window: every track binned and transformed, shape ``(bins, tracks)`` float32.

    Parameters
    ----------
    bigwigs
        See :func:`track_table`.
    chrom, start, end
        The target interval (for a Basenji2 window, the cropped span ``window start + 8192`` to
        ``window end - 8192``); it may run past the chromosome ends.
    targets
        See :func:`track_table`.
    bin_size
        Bases per bin.

    Notes
    -----
    Opens and closes the files on each call; to read many windows use :class:`BigWigTracks`.
    """
    with BigWigTracks(bigwigs, targets=targets, bin_size=bin_size) as tracks:
        return tracks.read(chrom, start, end)


# --- internals ------------------------------------------------------------------------------------------------


def _handle(bigwig):
    if isinstance(bigwig, str | os.PathLike):
        return open_bigwig(bigwig), str(bigwig), True
    if hasattr(bigwig, "values") and hasattr(bigwig, "chroms"):
        return bigwig, f"<bigWig handle {id(bigwig):#x}>", False
    raise TypeError(f"bigwig={bigwig!r}; expected a path to a bigWig file or an open pyBigWig handle")


def _coverage(handle, label: str, chrom: str, start: int, end: int, *, warned: set[str]) -> np.ndarray:
    if end <= start:
        raise ValueError(f"interval {chrom}:{start}-{end} is empty; expected end > start")
    sizes = handle.chroms()
    if chrom not in sizes:
        toggled = _toggle_chr(chrom)
        hint = f"; it has {toggled!r}: a 'chr' prefix mismatch" if toggled in sizes else ""
        raise ValueError(f"chromosome {chrom!r} is not in bigWig {label!r} (it has {_first(list(sizes))}){hint}")
    out = np.zeros(end - start, dtype=np.float32)
    lo, hi = max(start, 0), min(end, int(sizes[chrom]))
    if hi <= lo:
        return out
    values = np.asarray(handle.values(chrom, lo, hi, numpy=True), dtype=np.float32)
    missing = np.isnan(values)
    if missing.any():
        if label not in warned:
            stored = _stored_nan(handle, chrom, lo, hi)
            if stored is not None:
                warned.add(label)
                warnings.warn(
                    f"bigWig {label!r} stores NaN values (first at {chrom}:{stored[0]}-{stored[1]}); they count as 0",
                    UserWarning,
                    stacklevel=3,
                )
        values[missing] = 0.0
    out[lo - start : hi - start] = values
    return out


def _stored_nan(handle, chrom: str, start: int, end: int):
    """The first stored interval with a NaN value, or None when the NaNs are only gaps without entries."""
    for lo, hi, value in handle.intervals(chrom, start, end) or ():
        if value != value:
            return lo, hi
    return None


def _check_interval(start, end, bin_size) -> None:
    if end <= start:
        raise ValueError(f"interval {start}-{end} is empty; expected end > start")
    if (end - start) % bin_size:
        raise ValueError(
            f"interval length {end - start} ({start}-{end}) is not a multiple of bin_size={bin_size}; "
            "expected a whole number of bins"
        )


def _as_sizes(chroms) -> dict[str, int | None]:
    if isinstance(chroms, str | os.PathLike):
        handle = open_bigwig(chroms)
        try:
            return dict(handle.chroms())
        finally:
            handle.close()
    if hasattr(chroms, "chroms") and callable(chroms.chroms):
        return dict(chroms.chroms())
    if hasattr(chroms, "chrom_sizes"):
        return dict(chroms.chrom_sizes)
    if hasattr(chroms, "chroms") and not callable(chroms.chroms):
        chroms = chroms.chroms
    if isinstance(chroms, Mapping):
        return {str(k): (None if v is None else int(v)) for k, v in chroms.items()}
    return {str(c): None for c in chroms}


def _toggle_chr(name: str) -> str:
    return name[3:] if name.startswith("chr") else f"chr{name}"


def _resolve(file, base: Path | None) -> str:
    path = Path(str(file))
    if path.is_absolute() or path.exists() or base is None:
        return str(path)
    return str(base / path)


def _unique_stems(files: Sequence[str]) -> list[str]:
    stems = []
    seen: dict[str, int] = {}
    for f in files:
        stem = Path(f).name
        for ext in (".bigWig", ".bigwig", ".bw", ".BigWig", ".BW"):
            if stem.endswith(ext):
                stem = stem[: -len(ext)]
                break
        if stem in seen:
            seen[stem] += 1
            stem = f"{stem}-{seen[stem]}"
        else:
            seen[stem] = 0
        stems.append(stem)
    return stems


def _first(items: list, k: int = 5) -> str:
    shown = ", ".join(repr(v) for v in items[:k])
    return "[" + shown + (f", ... ({len(items)} in all)" if len(items) > k else "") + "]"
