"""Coverage tracks of the demo, simulated from the motif content of each region.

The generative rule, the same for every region: scan the region's sequence for every motif, weigh each
motif's occupancy by the biosample's grammar (:data:`~._motifs.GRAMMAR` plus the promoter grammar), and pass
the sum through a cooperative (Hill) response. That activity sets the height of a DNase peak, flanking
H3K27ac, lineage-factor ChIP at its sites, and CAGE at gene starts (plus a boost from active enhancers within
~50 kb); CTCF ChIP follows CTCF occupancy alone. Read starts are then drawn from the intensity (background
modulated by GC content, mappability and a gamma-distributed field, so counts are overdispersed like real
libraries) and piled up into base-level coverage.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._genome import CHROM_SIZES, Genome
from ._motifs import BIOSAMPLES, CODES, GRAMMAR, LINEAGE_TF, MOTIFS, PROMOTER_GRAMMAR, affinity, hill

HILL_K, HILL_N = 2.2, 4.0  # one site alone does almost nothing, three together nearly saturate
SITE_MIN = 0.3  # a scanned position counts as a binding site for ChIP peaks above this affinity


@dataclass(frozen=True)
class TrackSpec:
    """One simulated track and its row of the targets table."""

    identifier: str
    assay: str  # DNASE, CHIP, CAGE
    target: str | None
    biosample: str
    strand: str = "."
    reads: int = 60_000
    fragment: int = 50

    @property
    def description(self) -> str:
        if self.assay == "CHIP":
            return f"CHIP:{self.target}:{self.biosample}"
        return f"{self.assay}:{self.biosample}"

    @property
    def filename(self) -> str:
        return self.identifier.replace("+", ".plus").replace("-", ".minus") + ".bw"


def track_specs() -> list[TrackSpec]:
    """The demo's tracks in targets-table order: DNase, then ChIP, then stranded CAGE pairs."""
    dnase = [TrackSpec(f"DNASE_{b}", "DNASE", None, b, reads=60_000, fragment=50) for b in BIOSAMPLES]
    chip = []
    for b in BIOSAMPLES:
        chip.append(TrackSpec(f"H3K27ac_{b}", "CHIP", "H3K27ac", b, reads=40_000, fragment=200))
        chip.append(TrackSpec(f"CTCF_{b}", "CHIP", "CTCF", b, reads=20_000, fragment=170))
        tf = LINEAGE_TF[b][0]
        chip.append(TrackSpec(f"{tf}_{b}", "CHIP", tf, b, reads=25_000, fragment=170))
    cage = [
        TrackSpec(f"CAGE_{b}{s}", "CAGE", None, b, strand=s, reads=30_000, fragment=1) for b in BIOSAMPLES for s in "+-"
    ]
    return dnase + chip + cage


def scan_regions(genome: Genome) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Occupancy of every motif in every region, and the binding sites (affinity >= ``SITE_MIN``) found.

    Returns
    -------
    ``occupancy``: regions x motifs (sum of affinities over the region), and ``sites``: one row per site with
    ``region`` (row position), ``motif``, ``position`` (genomic start) and ``affinity``.
    """
    regions = genome.regions
    pad = 32  # N between regions so no motif spans two of them
    pieces, offsets, pos = [], [], 0
    for r in regions.itertuples():
        pieces.append(CODES[genome.sequences[r.Chromosome][r.Start : r.End]])
        pieces.append(np.full(pad, 4, dtype=np.uint8))
        offsets.append(pos)
        pos += r.End - r.Start + pad
    codes = np.concatenate(pieces)
    offsets = np.asarray(offsets)
    owner = np.repeat(np.arange(len(regions)), (regions["End"] - regions["Start"] + pad).to_numpy())
    occupancy = {}
    sites = []
    for motif in MOTIFS:
        values = affinity(codes, motif)
        occupancy[motif] = np.bincount(owner, weights=values, minlength=len(regions))
        hits = np.flatnonzero(values >= SITE_MIN)
        for h in hits:
            i = owner[h]
            sites.append((i, motif, int(regions.Start.iat[i] + h - offsets[i]), float(values[h])))
    occupancy = pd.DataFrame(occupancy, index=regions.index)
    sites = pd.DataFrame(sites, columns=["region", "motif", "position", "affinity"])
    return occupancy, sites


def activities(genome: Genome, occupancy: pd.DataFrame, rng) -> pd.DataFrame:
    """Per region and biosample: ``activity_<b>`` (the rule's output) and ``observed_<b>`` (with biological noise).

    ``activity`` is the Hill response to the weighted motif occupancy; CTCF occupancy adds accessibility (not
    activity) and CpG islands are somewhat open even when silent.
    """
    out = pd.DataFrame(index=occupancy.index)
    cgi = (genome.regions["region_class"] == "promoter").to_numpy()
    ctcf = np.minimum(occupancy["CTCF"].to_numpy(), 1.0)
    for b in BIOSAMPLES:
        weights = {m: GRAMMAR[b].get(m, 0.0) + PROMOTER_GRAMMAR.get(m, 0.0) for m in MOTIFS}
        score = sum(w * occupancy[m].to_numpy() for m, w in weights.items() if w)
        act = hill(score, HILL_K, HILL_N)
        access = 1 - (1 - act) * (1 - 0.45 * ctcf) * (1 - 0.25 * cgi)
        noise = rng.lognormal(0.0, 0.15, len(out))
        out[f"activity_{b}"] = act
        out[f"accessibility_{b}"] = access
        out[f"observed_{b}"] = act * noise
        out[f"observed_access_{b}"] = access * noise
    return out


@dataclass
class Simulation:
    """What every track is simulated from: the genome, region activities, binding sites and gene starts."""

    genome: Genome
    acts: pd.DataFrame
    sites: pd.DataFrame  # scanned sites: region, motif, position, affinity
    centers: np.ndarray  # peak centre per region
    shapes: list[tuple[np.ndarray, np.ndarray, np.ndarray]]  # per gene: TSS offsets, their weights, antisense
    gene_levels: dict[str, np.ndarray]  # per biosample: expected CAGE level per gene
    gc_and_mappability: dict[str, tuple[np.ndarray, np.ndarray]]  # per chromosome


def prepare(genome: Genome, rng) -> Simulation:
    """Scan the regions, compute activities, and fix promoter shapes and gene expression per biosample."""
    occupancy, sites = scan_regions(genome)
    acts = activities(genome, occupancy, rng)
    regions, genes = genome.regions, genome.genes
    shapes = []
    for gene in genes.itertuples():
        sharp = gene.promoter != "housekeeping"  # TATA promoters fire at one or two bases, CpG islands spread
        n_pos = int(rng.integers(1, 3)) if sharp else int(rng.integers(4, 9))
        spread = 3 if sharp else 40
        shapes.append(
            (rng.integers(-spread, spread + 1, n_pos), rng.dirichlet(np.full(n_pos, 0.7)), rng.integers(150, 300, 3))
        )
    row_of_gene = {r.gene: i for i, r in enumerate(regions.itertuples()) if r.gene}
    enhancers = regions[regions["region_class"].str.startswith("enhancer")]
    mids = ((enhancers.Start + enhancers.End) // 2).to_numpy()
    levels = {}
    for b in BIOSAMPLES:
        act = acts[f"observed_{b}"]
        enhancer_act = act[enhancers.index].to_numpy()
        level = np.empty(len(genes))
        for g, gene in enumerate(genes.itertuples()):
            same = (enhancers.Chromosome == gene.Chromosome).to_numpy()
            distance = np.abs(mids - gene.tss)
            near = same & (distance < 50_000)
            boost = 1 + 0.6 * float((enhancer_act[near] * np.exp(-distance[near] / 20_000)).sum())
            level[g] = act.iat[row_of_gene[gene.Name]] * min(boost, 2.5)
        levels[b] = level * rng.lognormal(0.0, 0.3, len(genes))
    background = {chrom: _smooth_gc_and_mappability(genome, chrom) for chrom in CHROM_SIZES}
    return Simulation(genome, acts, sites, _centers(genome), shapes, levels, background)


def _gauss(sd: float) -> tuple[np.ndarray, int]:
    half = int(4 * sd)
    x = np.arange(-half, half + 1)
    return np.exp(-0.5 * (x / sd) ** 2), half


def _add(arr: np.ndarray, center: int, amp: float, kernel: tuple[np.ndarray, int]) -> None:
    values, half = kernel
    lo, hi = center - half, center + half + 1
    a, b = max(lo, 0), min(hi, len(arr))
    if b > a:
        arr[a:b] += amp * values[a - lo : b - lo]


def _smooth_gc_and_mappability(genome: Genome, chrom: str) -> tuple[np.ndarray, np.ndarray]:
    """GC fraction over 1 kb around each base, and mappability (0.4 in repeats, 0 in gaps)."""
    seq = genome.sequences[chrom]
    strong = np.isin(seq, np.frombuffer(b"GCgc", dtype=np.uint8))
    window = 1000
    cum = np.concatenate([[0], np.cumsum(strong, dtype=np.int64)])
    lo = np.clip(np.arange(len(seq)) - window // 2, 0, len(seq))
    hi = np.clip(lo + window, 0, len(seq))
    mapp = np.where(genome.masked[chrom], 0.4, 1.0) * (seq != ord("N"))
    return (cum[hi] - cum[lo]) / window, mapp


def _background(sim: Simulation, chrom: str, level: float, rng, *, gc_weight: float) -> np.ndarray:
    smooth, mapp = sim.gc_and_mappability[chrom]
    n = len(smooth)
    field = np.repeat(rng.gamma(6.0, 1 / 6.0, n // 1000 + 1), 1000)[:n]  # overdispersion: a gamma-Poisson mix
    return level * (1 + gc_weight * (smooth - 0.45)).clip(0.2) * mapp * field


def intensity(spec: TrackSpec, sim: Simulation, rng) -> dict[str, np.ndarray]:
    """Expected read starts per base for one track, per chromosome (before sequencing noise)."""
    genome, acts, sites = sim.genome, sim.acts, sim.sites
    regions, b = genome.regions, spec.biosample
    lam = {}
    for chrom in CHROM_SIZES:
        if spec.assay == "DNASE":
            lam[chrom] = _background(sim, chrom, 0.02, rng, gc_weight=2.0)
        elif spec.assay == "CHIP":
            lam[chrom] = _background(sim, chrom, 0.012 if spec.target == "H3K27ac" else 0.006, rng, gc_weight=0.6)
        else:
            lam[chrom] = _background(sim, chrom, 3e-6, rng, gc_weight=0.0)
    centers = sim.centers
    strands = regions["Strand"].to_numpy()
    is_promoter = regions["region_class"].str.startswith("promoter").to_numpy()
    access = acts[f"observed_access_{b}"].to_numpy()
    act = acts[f"observed_{b}"].to_numpy()
    narrow, nucleosome, body, tf = _gauss(70), _gauss(170), _gauss(400), _gauss(40)
    for i, r in enumerate(regions.itertuples()):
        arr, sign = lam[r.Chromosome], (-1 if strands[i] == "-" else 1)
        c = centers[i]
        if spec.assay == "DNASE":
            _add(arr, c - 80 * sign if is_promoter[i] else c, access[i], narrow)
        elif spec.target == "H3K27ac":
            for side in (-1, 1):
                _add(arr, c + side * 320, 0.45 * act[i], nucleosome)
            if is_promoter[i]:
                _add(arr, c + 900 * sign, 0.4 * act[i], body)
        elif spec.assay == "CHIP" and is_promoter[i]:  # highly active promoters show up in every ChIP
            _add(arr, c, 0.08 * act[i], tf)
    if spec.assay == "CHIP" and spec.target != "H3K27ac":
        motifs = ("CTCF",) if spec.target == "CTCF" else LINEAGE_TF[b][1]
        chosen = sites[sites["motif"].isin(motifs)]
        noise = rng.lognormal(0.0, 0.2, len(chosen))
        for (i, motif, pos, aff), n in zip(chosen.itertuples(index=False), noise, strict=True):
            chrom = regions.Chromosome.iat[i]
            open_ = 1.0 if motif == "CTCF" else 0.25 + 0.75 * min(access[i], 1.0)
            _add(lam[chrom], pos + len(MOTIFS[motif]) // 2, 1.2 * aff * open_ * n, tf)
    if spec.assay == "DNASE":
        _footprints(lam, genome, sites, access, b)
    if spec.assay == "CAGE":
        _cage(lam, spec, sim)
    return lam


def _centers(genome: Genome) -> np.ndarray:
    """Peak centre per region: the TSS of a promoter, the mean planted-site position otherwise."""
    regions = genome.regions
    centers = ((regions["Start"] + regions["End"]) // 2).to_numpy().copy()
    planted = genome.sites.assign(mid=(genome.sites["Start"] + genome.sites["End"]) // 2).groupby("element")["mid"]
    means = planted.mean()
    tss = genome.genes.set_index("Name")["tss"]
    for i, r in enumerate(regions.itertuples()):
        if r.gene:
            centers[i] = tss[r.gene]
        elif r.Name in means.index:
            centers[i] = int(means[r.Name])
    return centers


def _footprints(lam, genome: Genome, sites: pd.DataFrame, access: np.ndarray, b: str) -> None:
    """Bound factors protect their sites from DNase: a dip inside open peaks."""
    bound = set(GRAMMAR[b]) | set(PROMOTER_GRAMMAR) | {"CTCF"}
    for i, motif, pos, _ in sites.itertuples(index=False):
        if motif in bound and access[i] > 0.2:
            lam[genome.regions.Chromosome.iat[i]][pos : pos + len(MOTIFS[motif])] *= 0.4


def _cage(lam, spec: TrackSpec, sim: Simulation) -> None:
    """Transcription start sites: each gene's promoter shape at its expression level; divergent and enhancer RNA."""
    regions, genes, b = sim.genome.regions, sim.genome.genes, spec.biosample
    for g, gene in enumerate(genes.itertuples()):
        offsets, weights, anti = sim.shapes[g]
        level, sign, arr = sim.gene_levels[b][g], (1 if gene.Strand == "+" else -1), lam[gene.Chromosome]
        if gene.Strand == spec.strand:
            np.add.at(arr, gene.tss + sign * offsets, level * weights)
        elif gene.promoter == "housekeeping":  # divergent antisense transcription upstream of CpG islands
            np.add.at(arr, gene.tss - sign * anti, level * 0.12 / len(anti))
    act = sim.acts[f"observed_{b}"].to_numpy()
    shift = 60 if spec.strand == "+" else -60
    for i in np.flatnonzero(regions["region_class"].str.startswith("enhancer").to_numpy()):
        mid = (regions.Start.iat[i] + regions.End.iat[i]) // 2 + shift
        lam[regions.Chromosome.iat[i]][mid] += 0.04 * act[i]  # enhancer RNA, both strands


def sample_coverage(spec: TrackSpec, lam: dict[str, np.ndarray], gaps: pd.DataFrame, rng) -> dict[str, np.ndarray]:
    """Draw ``spec.reads`` fragments from the intensity and pile them up into base-level coverage (float32).

    CAGE tags are counted at their 5' end only. Coverage inside N gaps is 0.
    """
    chroms = list(lam)
    totals = np.array([lam[c].sum() for c in chroms])
    counts = rng.multinomial(spec.reads, totals / totals.sum())
    out = {}
    for chrom, n in zip(chroms, counts, strict=True):
        size = len(lam[chrom])
        cdf = np.cumsum(lam[chrom])
        centers = np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right")
        if spec.fragment <= 1:
            cov = np.bincount(centers, minlength=size).astype(np.float32)
        else:
            lengths = np.maximum(rng.normal(spec.fragment, 0.1 * spec.fragment, n).astype(np.int64), 10)
            starts = np.clip(centers - lengths // 2, 0, size)
            ends = np.clip(starts + lengths, 0, size)
            diff = np.bincount(starts, minlength=size + 1) - np.bincount(ends, minlength=size + 1)
            cov = np.cumsum(diff[:size]).astype(np.float32)
        for g in gaps[gaps.Chromosome == chrom].itertuples():
            cov[g.Start : g.End] = 0
        out[chrom] = cov
    return out
