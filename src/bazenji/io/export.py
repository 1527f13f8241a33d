"""Predicted profiles out to genome browsers: one bigWig (or bedGraph) per track, an IGV session, a UCSC hub.

A source of profiles is a window store holding ``profile`` (:func:`bazenji.tl.predict` with ``keep_profiles``),
an :class:`xarray.Dataset` laid out like one (:func:`bazenji.store.open`, or ALT - REF profiles of variants), or
a predictions AnnData with ``obsm["bz_profile"]``. Bin ``j`` of a window starting at ``start`` covers
``start + (crop_bins + j) * bin_size`` to ``+ bin_size``, in genomic coordinates (0-based, half-open).

Overlapping windows are merged base by base: every base takes its value from the window whose output span
covers it and whose span centre is nearest to the base (the base's own centre, ``x + 0.5``); at equal distance
the window with the lower start wins, and of identical windows the one with the lower window index. All spans
of a source have one length, so each window supplies one contiguous stretch (the middle of its span, cut
halfway to its neighbours' centres) and the written intervals never overlap: 128 bp bins, shorter where a
stretch ends inside a bin, at a chromosome end, or at the chromosome start. Bins past a chromosome end (or
before its start) are padding and are not written. Layout and rules in :doc:`/export`.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pandas as pd

from ._profiles import Profiles, profiles
from .genome import Genome
from .targets import default_targets, read_targets, select_tracks

logger = logging.getLogger("bazenji")

__all__ = [
    "FORMATS",
    "Profiles",
    "profiles",
    "territories",
    "unique_names",
    "write_bedgraph",
    "write_bigwig",
    "write_igv_session",
    "write_trackhub",
]

#: file suffix of each export format
FORMATS = {"bigwig": ".bw", "bedgraph": ".bedGraph"}
#: output files open at once (one per track): tracks beyond it are written in further passes over the profiles
TRACKS_PER_PASS = 256


def territories(
    chrom: np.ndarray, start: np.ndarray, *, bin_size: int, crop_bins: int, n_bins: int, chrom_sizes: Mapping[str, int]
) -> pd.DataFrame:
    """The stretch ``[lo, hi)`` of the genome each window supplies under the nearest-centre rule (module notes).

    Returns
    -------
    One row per window (window order), with ``lo``, ``hi`` (``lo == hi`` for a window that supplies nothing: one
    identical to a lower-index window, or wholly past a chromosome end) and ``rank``, its place in the written
    order (chromosomes in ``chrom_sizes`` order, then by centre, then by window index).
    """
    chrom = np.asarray([str(c) for c in chrom], dtype=object)
    unknown = sorted(set(chrom) - set(chrom_sizes))
    if unknown:
        raise ValueError(
            f"windows on {unknown[:5]} which the genome lacks (it has {list(chrom_sizes)[:5]}...); "
            "expected the genome the windows were cut from"
        )
    span = n_bins * bin_size
    first = np.asarray(start, np.int64) + crop_bins * bin_size
    centre2 = 2 * first + span  # twice the span centre: an integer for any span length
    chrom_rank = pd.Series(range(len(chrom_sizes)), index=list(chrom_sizes))[chrom].to_numpy()
    order = np.lexsort((np.arange(len(chrom)), centre2, chrom_rank))
    lo, hi = first.copy(), first + span
    same_chrom = chrom_rank[order][1:] == chrom_rank[order][:-1]
    left, right = order[:-1], order[1:]
    duplicate = same_chrom & (centre2[right] == centre2[left])
    # a base x (centre x + 0.5) goes left while |2x + 1 - A| <= |2x + 1 - B|: the first base going right is
    # (A + B + 2) // 4 for doubled centres A < B
    cut = (centre2[left] + centre2[right] + 2) // 4
    boundary = same_chrom & ~duplicate
    hi[left[boundary]] = np.minimum(hi[left[boundary]], cut[boundary])
    lo[right[boundary]] = np.maximum(lo[right[boundary]], cut[boundary])
    # a duplicate takes nothing; the window it duplicates keeps its cut towards the next distinct window
    for i in np.flatnonzero(duplicate)[::-1]:
        hi[left[i]] = hi[right[i]]
        lo[right[i]] = hi[right[i]]
    size = np.asarray([chrom_sizes[c] for c in chrom], np.int64)
    lo, hi = np.clip(lo, 0, size), np.clip(hi, 0, size)
    rank = np.empty(len(chrom), np.int64)
    rank[order] = np.arange(len(chrom))
    return pd.DataFrame({"chrom": chrom, "lo": lo, "hi": np.maximum(hi, lo), "rank": rank})


def _intervals(lo: int, hi: int, first: int, bin_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The bins of a window (output bin 0 at ``first``) over ``[lo, hi)``: bin numbers, starts and ends, clipped."""
    bins = np.arange((lo - first) // bin_size, -(-(hi - first) // bin_size), dtype=np.int64)
    starts = np.maximum(first + bins * bin_size, lo)
    ends = np.minimum(first + (bins + 1) * bin_size, hi)
    return bins, starts, ends


def _chrom_sizes(genome, source: Profiles) -> dict[str, int]:
    if isinstance(genome, Mapping):
        return {str(k): int(v) for k, v in genome.items()}
    if genome is None:
        if source.genome_path is None:
            raise ValueError(
                f"{source.where} records no genome; pass genome= (a bz.io.Genome, FASTA path or "
                "{chrom: size}) for the chromosome sizes"
            )
        genome = source.genome_path
    genome = genome if isinstance(genome, Genome) else Genome(genome)
    if source.genome_fingerprint and genome.fingerprint != source.genome_fingerprint:
        raise ValueError(
            f"{source.where} was cut from another genome (fingerprint {source.genome_fingerprint}) "
            f"than {genome!r} ({genome.fingerprint}); expected the same genome"
        )
    return genome.chrom_sizes


def _fasta_path(genome, source: Profiles) -> str | None:
    """The genome's FASTA as an absolute path, for IGV; None for a genome in memory or given as sizes."""
    if isinstance(genome, Mapping):
        return None
    path = genome.path if isinstance(genome, Genome) else genome if genome is not None else source.genome_path
    return str(Path(path).resolve()) if path else None


def _track_table(source: Profiles, targets) -> pd.DataFrame:
    """The track table rows of the source's tracks (identifier and description), from ``targets`` if given."""
    if targets is None:
        table = source.table
    elif isinstance(targets, pd.DataFrame):
        table = targets
    elif hasattr(targets, "var"):  # an AnnData
        table = targets.var
    elif hasattr(targets, "targets") and hasattr(targets, "config"):  # a Basenji2 model
        table = targets.targets if targets.targets is not None else default_targets(targets.config.n_tracks)
    else:
        table = read_targets(targets)
    if table is None:
        logger.info("%s: no track table given (targets=); tracks are described by their names", source.where)
        return pd.DataFrame({"identifier": source.tracks, "description": source.tracks}, index=source.tracks)
    table = table.copy()
    table.index = table.index.astype(str)
    missing = [t for t in source.tracks if t not in table.index]
    if missing:
        raise ValueError(
            f"the track table lacks {len(missing)} of the profile tracks ({missing[:5]}); expected the "
            "table of the model that predicted them"
        )
    table = table.loc[source.tracks]
    if "identifier" not in table:
        table["identifier"] = table.index
    table["description"] = table["description"].fillna("").astype(str) if "description" in table else ""
    return table


def unique_names(names: list[str], allowed: str = "A-Za-z0-9._+-") -> list[str]:
    """``names`` with every character outside ``allowed`` (a regex class body) made ``_``, then made unique.

    Where ``+`` or ``-`` is not allowed, a trailing one (a strand, as in ``CAGE_K562+``) is spelled ``_plus`` or
    ``_minus``, so the two strands of a track keep distinct names. A name that still repeats gets ``_<position>``
    appended, so the same names always give the same result.
    """
    cleaned = []
    for name in map(str, names):
        for mark, word in (("+", "_plus"), ("-", "_minus")):
            if name.endswith(mark) and not re.fullmatch(f"[{allowed}]", mark):
                name = name[:-1] + word
        cleaned.append(re.sub(f"[^{allowed}]", "_", name) or "_")
    counts = pd.Series(cleaned, dtype=object).value_counts()
    return [f"{c}_{k}" if counts[c] > 1 else c for k, c in enumerate(cleaned)]


class _BigWig:
    def __init__(self, path: Path, chrom_sizes: dict[str, int], name: str, description: str, bin_size: int) -> None:
        import pyBigWig

        self.file = pyBigWig.open(str(path), "w")
        self.file.addHeader(list(chrom_sizes.items()))
        self.bin_size = bin_size

    def add(self, chrom: str, starts: np.ndarray, ends: np.ndarray, values: np.ndarray) -> None:
        # runs of abutting whole bins go in as fixed-step sections, which pyBigWig adds in half the time of one
        # interval per bin; the partial bins at the ends of a stretch as intervals
        whole = ends - starts == self.bin_size
        joined = np.zeros(len(starts), bool)
        joined[1:] = whole[1:] & whole[:-1] & (starts[1:] == ends[:-1])
        cuts = np.flatnonzero(~joined).tolist() + [len(starts)]
        for lo, hi in zip(cuts[:-1], cuts[1:], strict=True):
            if hi - lo > 1:
                self.file.addEntries(chrom, int(starts[lo]), values=values[lo:hi], span=self.bin_size,
                                     step=self.bin_size)  # fmt: skip
            else:
                self.file.addEntries([chrom], starts[lo:hi], ends=ends[lo:hi], values=values[lo:hi])

    def close(self) -> None:
        self.file.close()


class _BedGraph:
    def __init__(self, path: Path, chrom_sizes: dict[str, int], name: str, description: str, bin_size: int) -> None:
        self.file = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed by close(), like the bigWig writer
        clean = description.replace('"', "'")
        self.file.write(f'track type=bedGraph name="{name}" description="{clean}"\n')

    def add(self, chrom: str, starts: np.ndarray, ends: np.ndarray, values: np.ndarray) -> None:
        # 9 significant digits give back every float32 exactly
        self.file.writelines(
            f"{chrom}\t{s}\t{e}\t{v:.9g}\n"
            for s, e, v in zip(starts.tolist(), ends.tolist(), values.tolist(), strict=True)
        )

    def close(self) -> None:
        self.file.close()


def _write_pass(source: Profiles, layout: pd.DataFrame, columns: np.ndarray, writers: list, bar) -> np.ndarray:
    """Stream every window with a stretch through the writers of ``columns``; returns per column the bins left out."""
    order = layout.index[layout["hi"] > layout["lo"]].to_numpy()
    order = order[np.argsort(layout["rank"].to_numpy()[order], kind="stable")]
    first = source.start + source.crop_bins * source.bin_size
    left_out = np.zeros(len(columns), np.int64)
    for idx, values in source.read(order):
        for w, value in zip(idx.tolist(), values, strict=True):
            bins, starts, ends = _intervals(
                int(layout.at[w, "lo"]), int(layout.at[w, "hi"]), int(first[w]), source.bin_size
            )
            block = np.asarray(value[bins][:, columns], dtype=np.float64)
            finite = np.isfinite(block)
            left_out += (~finite).sum(0)
            for k, writer in enumerate(writers):
                keep = finite[:, k]
                if keep.any():
                    writer.add(layout.at[w, "chrom"], starts[keep], ends[keep], block[keep, k])
        bar.update(len(idx))
    return left_out


def write_bigwig(
    source,
    out_dir: str | os.PathLike,
    *,
    tracks=None,
    genome=None,
    targets=None,
    format: str = "bigwig",  # noqa: A002 - the CLI's --format
    session: bool = True,
    ucsc_genome: str | None = None,
    overwrite: bool = False,
) -> pd.DataFrame:
    """Write predicted profiles as one bigWig (or bedGraph) per track, with an IGV session listing them.

    Parameters
    ----------
    source
        A window store path whose ``profile`` variable :func:`bazenji.tl.predict` wrote (``keep_profiles``); an
        :class:`xarray.Dataset` in the store layout (:func:`bazenji.store.open`, or the ALT - REF profiles of
        variants); or a predictions AnnData with ``obsm["bz_profile"]`` (or naming its store in ``uns``).
    out_dir
        Folder for the files (created when missing).
    tracks
        Which of the profile tracks, in any form :func:`bazenji.io.select_tracks` accepts; all by default.
    genome
        Chromosome sizes: a :class:`~bazenji.io.Genome`, a FASTA path (its ``.fai``) or ``{chrom: size}``; by
        default the genome the store records. A genome other than the one the windows were cut from is refused.
    targets
        The track table giving each track's description (a DataFrame, an AnnData's ``var``, a model, or a
        targets file); an AnnData source brings its own. Without one, tracks are described by their names.
    format
        ``"bigwig"`` (``<track>.bw``) or ``"bedgraph"`` (``<track>.bedGraph``, text, with a ``track`` line).
    session
        Also write ``igv_session.xml`` listing the files with their descriptions (:func:`write_igv_session`).
    ucsc_genome
        A UCSC assembly name (``"hg38"``): also write a single-file UCSC track hub ``hub.txt``
        (:func:`write_trackhub`); bigWig only.
    overwrite
        Replace files that exist; otherwise an existing output file is refused before anything is written.

    Returns
    -------
    The manifest, also written as ``tracks.tsv``: one row per track (profile track name as index) with
    ``identifier``, ``description``, ``file`` (relative to ``out_dir``) and ``bins_left_out`` (non-finite values
    in the profiles, which get no interval; a warning names them when any).
    """
    if format not in FORMATS:
        raise ValueError(f"format={format!r}; expected one of {list(FORMATS)}")
    if ucsc_genome is not None and format != "bigwig":
        raise ValueError("ucsc_genome= writes a UCSC hub, which needs bigWig files; expected format='bigwig'")
    source = profiles(source)
    table = _track_table(source, targets)
    columns = select_tracks(table, tracks)
    chrom_sizes = _chrom_sizes(genome, source)
    layout = territories(
        source.chrom,
        source.start,
        bin_size=source.bin_size,
        crop_bins=source.crop_bins,
        n_bins=source.n_bins,
        chrom_sizes=chrom_sizes,
    )
    chosen = table.iloc[columns]
    manifest = pd.DataFrame(
        {
            "identifier": chosen["identifier"].astype(str).to_numpy(),
            "description": chosen["description"].to_numpy(),
            "file": [f + FORMATS[format] for f in unique_names(chosen["identifier"].astype(str).tolist())],
        },
        index=pd.Index(chosen.index, name="track"),
    )
    out_dir = Path(out_dir)
    extra = ["tracks.tsv"] + (["igv_session.xml"] if session else []) + (["hub.txt"] if ucsc_genome else [])
    existing = [f for f in [*manifest["file"], *extra] if (out_dir / f).exists()]
    if existing and not overwrite:
        raise FileExistsError(f"{out_dir}: {len(existing)} output files exist ({existing[:3]}); pass overwrite=True")
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest["bins_left_out"] = _write_all(source, layout, columns, manifest, out_dir, chrom_sizes, format)
    if manifest["bins_left_out"].any():
        bad = manifest.index[manifest["bins_left_out"] > 0].tolist()
        warnings.warn(
            f"{int(manifest['bins_left_out'].sum())} bins of {len(bad)} tracks ({bad[:5]}) are NaN or "
            "infinite in the profiles and have no interval in the files",
            UserWarning,
            stacklevel=2,
        )
    manifest.to_csv(out_dir / "tracks.tsv", sep="\t")
    written = layout[layout["hi"] > layout["lo"]].sort_values("rank")
    locus = f"{written['chrom'].iloc[0]}:{written['lo'].iloc[0] + 1}-{written['hi'].iloc[0]}" if len(written) else None
    if session:
        igv_genome = ucsc_genome or _fasta_path(genome, source)
        write_igv_session(manifest, out_dir / "igv_session.xml", genome=igv_genome, locus=locus)
    if ucsc_genome:
        write_trackhub(manifest, out_dir / "hub.txt", genome=ucsc_genome)
    logger.info("wrote %d %s files to %s", len(manifest), format, out_dir)
    return manifest


def _write_all(source, layout, columns, manifest, out_dir, chrom_sizes, format) -> np.ndarray:
    from tqdm.auto import tqdm

    from .._settings import settings

    writer = _BigWig if format == "bigwig" else _BedGraph
    passes = [np.arange(lo, min(lo + TRACKS_PER_PASS, len(columns))) for lo in range(0, len(columns), TRACKS_PER_PASS)]
    n_windows = int((layout["hi"] > layout["lo"]).sum())
    left_out = np.zeros(len(columns), np.int64)
    with tqdm(
        total=n_windows * len(passes), unit="window", desc=f"export {format}", disable=not settings.progress
    ) as bar:
        for part in passes:
            rows = manifest.iloc[part]
            writers = [
                writer(out_dir / f, chrom_sizes, str(i), d, source.bin_size)
                for f, i, d in zip(rows["file"], rows["identifier"], rows["description"], strict=True)
            ]
            try:
                left_out[part] = _write_pass(source, layout, columns[part], writers, bar)
            finally:
                for w in writers:
                    w.close()
    return left_out


def write_bedgraph(source, out_dir: str | os.PathLike, **kwargs) -> pd.DataFrame:
    """:func:`write_bigwig` with ``format="bedgraph"``: one text bedGraph per track (same intervals and values).

    Parameters
    ----------
    source, out_dir
        As for :func:`write_bigwig`.
    **kwargs
        The keyword options of :func:`write_bigwig` (``tracks``, ``genome``, ``targets``, ``session``, ``overwrite``).

    Returns
    -------
    The manifest, as :func:`write_bigwig` returns it.
    """
    return write_bigwig(source, out_dir, format="bedgraph", **kwargs)


def _label(identifier: str, description: str) -> str:
    return identifier if description in ("", identifier) else f"{identifier} {description}"


def write_igv_session(
    manifest: pd.DataFrame, path: str | os.PathLike, *, genome: str | None, locus: str | None
) -> Path:
    """An IGV desktop session (``<Session>`` XML, version 8) loading every file of ``manifest``.

    Parameters
    ----------
    manifest
        ``identifier``, ``description`` and ``file`` (relative to the session's folder, as IGV resolves it).
    path
        The session file.
    genome
        What IGV loads as the genome: a FASTA path or an IGV genome id (``"hg38"``); omitted when None.
    locus
        The locus shown on opening (``chr1:1001-2000``).
    """
    session = ElementTree.Element(
        "Session", {"version": "8", **({"genome": genome} if genome else {}), **({"locus": locus} if locus else {})}
    )
    resources = ElementTree.SubElement(session, "Resources")
    panel = ElementTree.SubElement(session, "Panel", {"name": "DataPanel"})
    for row in manifest.itertuples():
        label = _label(str(row.identifier), str(row.description))
        kind = "bigwig" if row.file.endswith(".bw") else "bedgraph"
        ElementTree.SubElement(resources, "Resource", {"name": label, "path": row.file, "type": kind})
        ElementTree.SubElement(
            panel,
            "Track",
            {"id": row.file, "name": label, "autoScale": "true", "clazz": "org.broad.igv.track.DataSourceTrack"},
        )
    tree = ElementTree.ElementTree(session)
    ElementTree.indent(tree)
    tree.write(path, encoding="UTF-8", xml_declaration=True)
    return Path(path)


def write_trackhub(
    manifest: pd.DataFrame, path: str | os.PathLike, *, genome: str, name: str = "bazenji", email: str = ""
) -> Path:
    """A single-file UCSC track hub (``useOneFile on``) listing the bigWigs of ``manifest`` on assembly ``genome``.

    Each track's ``shortLabel`` is its identifier (UCSC shows 17 characters) and ``longLabel`` its description.
    Host the folder over HTTP(S) and give the browser the URL of ``hub.txt``.

    Parameters
    ----------
    manifest
        ``identifier``, ``description`` and ``file`` (relative to the hub's folder) per track, as
        :func:`write_bigwig` returns it.
    path
        The hub file, conventionally ``hub.txt`` beside the bigWigs.
    genome
        The UCSC assembly name (``"hg38"``).
    name
        The hub's name and short label.
    email
        The contact UCSC asks hubs for; ``none`` when empty.
    """
    lines = [
        f"hub {name}",
        f"shortLabel {name}",
        f"longLabel {name} predicted coverage",
        "useOneFile on",
        f"email {email or 'none'}",
        "",
        f"genome {genome}",
        "",
    ]
    names = unique_names([Path(f).stem for f in manifest["file"]], "A-Za-z0-9_")
    for track, row in zip(names, manifest.itertuples(), strict=True):
        lines += [
            f"track {track}",
            f"bigDataUrl {row.file}",
            f"shortLabel {str(row.identifier)[:17]}",
            f"longLabel {_label(str(row.identifier), str(row.description))[:80]}",
            "type bigWig",
            "visibility full",
            "autoScale on",
            "",
        ]
    Path(path).write_text("\n".join(lines), encoding="utf-8")
    return Path(path)
