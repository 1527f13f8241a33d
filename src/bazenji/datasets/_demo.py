"""``bz.datasets.demo()``: generate (once) and locate the demo genome, tracks, peaks and regions."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ._genome import CHROM_SIZES, make_genome
from ._gtf import write_gtf
from ._motifs import BIOSAMPLES
from ._tracks import intensity, prepare, sample_coverage, track_specs
from ._write import call_peaks, write_bigwig, write_fasta, write_table

logger = logging.getLogger("bazenji")

#: Bumped whenever the generator changes what it writes; part of the cache folder name.
DEMO_VERSION = 1
REGION_CLASSES = (
    "promoter",
    *(f"promoter_{b}" for b in BIOSAMPLES),
    *(f"enhancer_{b}" for b in BIOSAMPLES),
    "enhancer_shared",
    "ctcf",
    "background",
)


@dataclass(frozen=True)
class Demo:
    """Paths of a generated demo dataset (see :func:`demo`).

    Attributes
    ----------
    root
        The folder holding everything.
    fasta
        Genome FASTA (soft-masked repeats, N gaps) with a samtools ``.fai`` next to it.
    bigwigs
        Track identifier -> bigWig file, in targets-table order.
    targets
        Basenji targets table (tab-separated; ``index, genome, identifier, file, clip, scale, sum_stat,
        strand_pair, description``).
    peaks
        BED6 of the analysis region set (promoters, enhancers, CTCF sites, background).
    regions
        Tab-separated table of the same regions with ``region_class`` and the planted ``activity_<biosample>``.
    narrowpeaks
        Track identifier -> narrowPeak file called from the simulated DNase and ChIP coverage.
    genes, repeats, gaps, sites, isochores
        BED annotations: genes (BED6 + ``tss``, ``promoter``), RepeatMasker-like repeats, N gaps, planted motif
        sites, GC isochores.
    seed
        The seed everything was drawn from.
    """

    root: Path
    fasta: Path
    bigwigs: dict[str, Path]
    targets: Path
    peaks: Path
    regions: Path
    narrowpeaks: dict[str, Path]
    genes: Path
    repeats: Path
    gaps: Path
    sites: Path
    isochores: Path
    seed: int
    chrom_sizes: dict[str, int] = field(default_factory=lambda: dict(CHROM_SIZES))
    biosamples: tuple[str, ...] = BIOSAMPLES
    classes: tuple[str, ...] = REGION_CLASSES

    @property
    def fai(self) -> Path:
        """The ``.fai`` index of :attr:`fasta`."""
        return Path(str(self.fasta) + ".fai")

    @property
    def gtf(self) -> Path:
        """GTF of the genes' transcripts, one per main CAGE firing position of each promoter (``bz.io.read_genes``)."""
        return self.root / "annotation" / "genes.gtf"

    def regions_table(self) -> pd.DataFrame:
        """The region set: ``Chromosome, Start, End, Name, region_class, Strand, gene`` and planted activities."""
        table = pd.read_csv(self.regions, sep="\t", dtype={"Chromosome": str, "Name": str, "gene": str})
        table["gene"] = table["gene"].fillna("")
        table["region_class"] = pd.Categorical(table["region_class"], categories=list(self.classes))
        return table.set_index("Name", drop=False).rename_axis(None)

    def targets_table(self) -> pd.DataFrame:
        """The targets table as written (one row per track)."""
        return pd.read_csv(self.targets, sep="\t", dtype={"identifier": str, "file": str, "description": str})

    def summary(self) -> str:
        """A few lines describing the dataset: genome, tracks per assay, regions per class."""
        targets = self.targets_table()
        assays = targets["description"].str.split(":").str[0].value_counts().sort_index()
        classes = self.regions_table()["region_class"].value_counts(sort=False)
        size = sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())
        lines = [
            f"bazenji demo (seed {self.seed}) at {self.root} ({size / 1e6:.1f} MB)",
            f"  genome: {len(self.chrom_sizes)} chromosomes, {sum(self.chrom_sizes.values()) / 1e6:.1f} Mb",
            f"  tracks: {len(targets)} ("
            + ", ".join(f"{n} {a}" for a, n in assays.items())
            + f") for {', '.join(self.biosamples)}",
            f"  regions: {int(classes.sum())} (" + ", ".join(f"{n} {c}" for c, n in classes.items()) + ")",
        ]
        return "\n".join(lines)


def demo(*, path: str | os.PathLike | None = None, seed: int = 0, overwrite: bool = False) -> Demo:
    """The demo dataset: a small synthetic genome, tracks, peaks, a targets table and a labelled region set.

    A genome with biological structure, tracks recorded from it as bigWig files, peaks, a Basenji targets table,
    and a region set with each region's planted class. Generated deterministically from ``seed`` in a few
    seconds on first use and reused afterwards.

    Parameters
    ----------
    path
        Folder to hold the dataset. By default ``$BAZENJI_CACHE/demo-v1-seed<seed>``, with ``$BAZENJI_CACHE``
        defaulting to ``~/.cache/bazenji``.
    seed
        Seed of the random generator; the same seed gives byte-identical FASTA, bigWig and BED files.
    overwrite
        Regenerate even when a complete dataset is already there.

    Returns
    -------
    The paths of the dataset's files.

    Notes
    -----
    The genome has four chromosomes (3.7 Mb): GC isochores, CpG depletion outside CpG islands, genes on both
    strands with CpG-island (housekeeping) or TATA (biosample-specific) promoters, enhancers built from real
    motif consensus sequences with the grammar of HepG2 (HNF4A, FOXA, CEBP, HNF1), K562 (GATA1, TAL1-GATA,
    NF-E2, KLF1) and GM12878 (PU.1, IRF, RUNX, NF-kB, EBF), CTCF sites, soft-masked interspersed repeats
    (SINE, LINE, LTR, DNA, simple), satellite arrays and N gaps. Tracks: DNase, H3K27ac, CTCF and a lineage
    factor ChIP, and stranded CAGE for each biosample, simulated from the motif content of each region.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed={seed!r}; expected a non-negative integer")
    folder = Path(path) if path is not None else _cache_root() / f"demo-v{DEMO_VERSION}-seed{int(seed)}"
    folder = folder.expanduser().absolute()
    if not overwrite and _complete(folder, int(seed)):
        return _paths(folder, int(seed))
    if folder.exists() and not overwrite and any(folder.iterdir()) and not (folder / "manifest.json").exists():
        raise FileExistsError(f"{str(folder)!r} exists and is not a demo dataset; pass overwrite=True or another path")
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        start = time.perf_counter()
        generate(tmp, seed=int(seed), final=folder)
        logger.info("demo dataset generated in %.1f s at %s", time.perf_counter() - start, folder)
        if folder.exists():
            if not overwrite and _complete(folder, int(seed)):
                return _paths(folder, int(seed))  # another process finished first: keep its copy
            old = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old.", dir=folder.parent))
            os.replace(folder, old / "data")  # move aside first so the folder is never half-written
            shutil.rmtree(old, ignore_errors=True)
        try:
            os.replace(tmp, folder)
        except OSError:  # another process renamed its copy in between: use it when complete
            if not _complete(folder, int(seed)):
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return _paths(folder, int(seed))


def demo_regions(*, seed: int = 0, path: str | os.PathLike | None = None) -> pd.DataFrame:
    """The demo's region set as a DataFrame ready to be a regions AnnData's ``obs``.

    Parameters
    ----------
    seed, path
        As for :func:`demo`.

    Returns
    -------
    One row per region, named by ``Name``: ``Chromosome``, ``Start``, ``End`` (0-based, half-open), ``Name``,
    ``region_class`` (categorical), ``Strand``, ``gene`` and the planted ``activity_<biosample>``.
    """
    return demo(seed=seed, path=path).regions_table()


def generate(folder: Path, *, seed: int, final: Path | None = None) -> None:
    """Write the whole dataset into ``folder`` (paths in the targets table point into ``final``)."""
    final = folder if final is None else final
    streams = np.random.SeedSequence(seed).spawn(4)
    genome = make_genome(np.random.default_rng(streams[0]))
    sim = prepare(genome, np.random.default_rng(streams[1]))
    acts = sim.acts

    for sub in ("genome", "bigwig", "peaks", "annotation"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    write_fasta(folder / "genome" / "demo.fa", genome.sequences)

    regions = genome.regions.copy()
    for b in BIOSAMPLES:
        regions[f"activity_{b}"] = acts[f"activity_{b}"].round(4)
    write_table(folder / "regions.tsv", regions, header=True)
    bed = regions[["Chromosome", "Start", "End", "Name"]].assign(score=0, strand=regions["Strand"])
    write_table(folder / "peaks" / "regions.bed", bed, header=False)
    genes = genome.genes[["Chromosome", "Start", "End", "Name"]].assign(
        score=0, strand=genome.genes["Strand"], tss=genome.genes["tss"], promoter=genome.genes["promoter"]
    )
    write_table(folder / "annotation" / "genes.bed", genes, header=False)
    write_gtf(folder / "annotation" / "genes.gtf", genome.genes, sim.shapes)
    reps = genome.repeats
    rep = reps[["Chromosome", "Start", "End", "Name"]].assign(
        score=(reps["divergence"] * 1000).astype(int), strand=reps["Strand"], repeat_class=reps["repeat_class"]
    )
    write_table(folder / "annotation" / "repeats.bed", rep, header=False)
    write_table(folder / "annotation" / "gaps.bed", genome.gaps, header=False)
    planted = genome.sites[["Chromosome", "Start", "End", "motif", "element"]]
    write_table(folder / "annotation" / "sites.bed", planted, header=False)
    write_table(folder / "annotation" / "isochores.bed", genome.isochores, header=False)

    rng = np.random.default_rng(streams[2])
    rows = []
    specs = track_specs()
    for index, spec in enumerate(specs):
        coverage = sample_coverage(spec, intensity(spec, sim, rng), genome.gaps, rng)
        write_bigwig(folder / "bigwig" / spec.filename, coverage, genome.gaps, sparse=spec.assay == "CAGE")
        if spec.assay != "CAGE":
            peaks = call_peaks(coverage, genome.gaps, fragment=spec.fragment, name=spec.identifier)
            write_table(folder / "peaks" / f"{spec.identifier}.narrowPeak", peaks, header=False)
        pair = index
        if spec.strand != ".":
            pair = index + (1 if spec.strand == "+" else -1)
        cage = spec.assay == "CAGE"
        rows.append(
            dict(index=index, genome=0, identifier=spec.identifier, file=str(final / "bigwig" / spec.filename),
                 clip=384 if cage else 32, scale=1 if cage else 2, sum_stat="sum" if cage else "mean",
                 strand_pair=pair, description=spec.description)
        )  # fmt: skip
    write_table(folder / "targets.txt", pd.DataFrame(rows), header=True)
    (folder / "README.txt").write_text(_README.format(seed=seed, version=DEMO_VERSION))
    _write_manifest(folder, seed)


def _cache_root() -> Path:
    env = os.environ.get("BAZENJI_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "bazenji"


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "manifest.json")


def _write_manifest(folder: Path, seed: int) -> None:
    files = {}
    for p in _files(folder):
        data = p.read_bytes()
        files[p.relative_to(folder).as_posix()] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    manifest = {
        "format": "bazenji-demo",
        "version": DEMO_VERSION,
        "generator": _generator_fingerprint(),
        "seed": seed,
        "files": files,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def _generator_fingerprint() -> str:
    """SHA-256 of the generator's source, so a cached dataset from other code is not reused."""
    digest = hashlib.sha256()
    for name in ("_demo.py", "_genome.py", "_gtf.py", "_motifs.py", "_tracks.py", "_write.py"):
        digest.update((Path(__file__).parent / name).read_bytes())
    return digest.hexdigest()[:16]


def _complete(folder: Path, seed: int) -> bool:
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    if manifest.get("version") != DEMO_VERSION or manifest.get("seed") != seed:
        return False
    if manifest.get("generator") != _generator_fingerprint():  # the generating code changed: regenerate
        return False
    for rel, info in manifest.get("files", {}).items():
        p = folder / rel
        if not p.is_file() or p.stat().st_size != info["size"]:
            return False
    return True


def _paths(folder: Path, seed: int) -> Demo:
    specs = track_specs()
    return Demo(
        root=folder,
        fasta=folder / "genome" / "demo.fa",
        bigwigs={s.identifier: folder / "bigwig" / s.filename for s in specs},
        targets=folder / "targets.txt",
        peaks=folder / "peaks" / "regions.bed",
        regions=folder / "regions.tsv",
        narrowpeaks={s.identifier: folder / "peaks" / f"{s.identifier}.narrowPeak" for s in specs if s.assay != "CAGE"},
        genes=folder / "annotation" / "genes.bed",
        repeats=folder / "annotation" / "repeats.bed",
        gaps=folder / "annotation" / "gaps.bed",
        sites=folder / "annotation" / "sites.bed",
        isochores=folder / "annotation" / "isochores.bed",
        seed=seed,
    )


_README = """bazenji demo dataset, format version {version}, seed {seed}. Generated by bazenji.datasets.demo().

genome/demo.fa(.fai)       4 chromosomes, 3.7 Mb: soft-masked repeats (lowercase), N gaps
bigwig/*.bw                DNase, H3K27ac, CTCF, lineage-factor ChIP and stranded CAGE per biosample
targets.txt                Basenji targets table for those tracks
peaks/regions.bed          the analysis region set (BED6); regions.tsv adds region_class and planted activity
peaks/*.narrowPeak         peaks called from each DNase/ChIP track
annotation/genes.bed       genes (BED6 + TSS + promoter type); repeats.bed (RepeatMasker-like), gaps.bed,
                           sites.bed (planted motif sites), isochores.bed (GC isochores)
annotation/genes.gtf       the genes' transcripts (GTF 2.2), one per main CAGE firing position of each promoter
manifest.json              sizes and SHA-256 of every file
"""
