"""The demo genome, drawn from one random generator.

Isochores, CpG depletion, genes with CpG-island or TATA promoters, enhancers, CTCF sites, interspersed repeats
(soft-masked), satellites and N gaps.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ._motifs import BIOSAMPLES, GRAMMAR, sample_site

#: Chromosomes of the demo genome: each several 131,072 bp model windows long.
CHROM_SIZES: dict[str, int] = {"chr1": 1_200_000, "chr2": 1_000_000, "chr3": 800_000, "chr4": 700_000}

# Elements per Mb of each chromosome.
_GENES_PER_MB = 32
_ENHANCERS_PER_MB = 28  # per biosample
_SHARED_PER_MB = 8
_CTCF_PER_MB = 26
_BACKGROUND_PER_MB = 30
_EDGE = 12_000  # no elements this close to a chromosome end or gap

# Repeat families: name, RepeatMasker-style class, consensus length, GC, copies per Mb, divergence range.
_FAMILIES = (
    ("AluS_like", "SINE/Alu", 282, 0.58, 260, (0.04, 0.16)),
    ("MIR_like", "SINE/MIR", 262, 0.47, 120, (0.18, 0.30)),
    ("L1_like", "LINE/L1", 6_100, 0.39, 60, (0.04, 0.20)),
    ("L2_like", "LINE/L2", 3_300, 0.44, 40, (0.22, 0.32)),
    ("THE1_like", "LTR/ERVL-MaLR", 365, 0.44, 40, (0.10, 0.20)),
    ("MER_like", "DNA/hAT-Charlie", 210, 0.41, 40, (0.15, 0.28)),
)
_SIMPLE = ("CA", "TG", "A", "GGAA", "TTTA", "CAG")
_SATELLITE_MONOMER = 171  # alpha-satellite-like tandem unit


@dataclass
class Genome:
    """Everything the genome generator decided: sequences (ASCII uint8) and annotation tables."""

    sequences: dict[str, np.ndarray]
    isochores: pd.DataFrame
    gaps: pd.DataFrame
    genes: pd.DataFrame
    regions: pd.DataFrame
    sites: pd.DataFrame
    repeats: pd.DataFrame
    masked: dict[str, np.ndarray] = field(default_factory=dict)  # bool, soft-masked (lowercase) positions


def make_genome(rng: np.random.Generator) -> Genome:
    """Draw the demo genome."""
    sequences, isochores, gaps = {}, [], []
    for chrom, size in CHROM_SIZES.items():
        iso = _isochores(size, rng)
        isochores += [(chrom, s, e, gc) for s, e, gc in iso]
        gc = np.zeros(size, dtype=np.float32)
        for s, e, g in iso:
            gc[s:e] = g + 0.78 * (g / 2) ** 2  # CpG depletion below turns that many C/G into T/A
        sequences[chrom] = _deplete_cpg(_random_bases(gc, rng), rng)
        gaps += [(chrom, s, e, kind) for s, e, kind in _gap_layout(chrom, size, rng)]
    gaps = pd.DataFrame(gaps, columns=["Chromosome", "Start", "End", "kind"])
    builder = _Builder(sequences, gaps, rng)
    builder.genes_and_promoters()
    builder.enhancers()
    builder.ctcf_sites()
    builder.background()
    masked = _repeats(builder, rng)
    for row in gaps.itertuples():
        sequences[row.Chromosome][row.Start : row.End] = ord("N")
        masked[row.Chromosome][row.Start : row.End] = False
    return Genome(
        sequences=sequences,
        isochores=pd.DataFrame(isochores, columns=["Chromosome", "Start", "End", "gc"]),
        gaps=gaps,
        genes=pd.DataFrame(builder.genes),
        regions=pd.DataFrame(builder.regions)
        .sort_values(["Chromosome", "Start"], kind="stable")
        .reset_index(drop=True),
        sites=pd.DataFrame(builder.sites),
        repeats=pd.DataFrame(builder.repeats)
        .sort_values(["Chromosome", "Start"], kind="stable")
        .reset_index(drop=True),
        masked=masked,
    )


#: Isochore families (Bernardi) and their GC fraction after CpG depletion.
_ISOCHORES = {"L1": 0.37, "L2": 0.41, "H1": 0.46, "H2": 0.50, "H3": 0.55}


def _isochores(size: int, rng) -> list[tuple[int, int, float]]:
    """Segments of 40-400 kb, each from an isochore family other than its neighbour's."""
    out, pos, last = [], 0, None
    families = list(_ISOCHORES)
    while pos < size:
        length = int(np.clip(rng.exponential(150_000), 40_000, 400_000))
        end = size if size - (pos + length) < 40_000 else pos + length
        family = str(rng.choice([f for f in families if f != last]))
        out.append((pos, end, round(_ISOCHORES[family] + float(rng.uniform(-0.015, 0.015)), 3)))
        pos, last = end, family
    return out


def _random_bases(gc: np.ndarray, rng) -> np.ndarray:
    strong = rng.random(len(gc)) < gc
    first = rng.random(len(gc)) < 0.5
    return np.where(strong, np.where(first, ord("G"), ord("C")), np.where(first, ord("A"), ord("T"))).astype(np.uint8)


def _deplete_cpg(seq: np.ndarray, rng, keep: float = 0.22) -> np.ndarray:
    """Mutate most CpGs to TpG or CpA, as methylation-driven deamination left the bulk genome."""
    cg = np.flatnonzero((seq[:-1] == ord("C")) & (seq[1:] == ord("G")))
    cg = cg[rng.random(len(cg)) > keep]
    top = rng.random(len(cg)) < 0.5
    seq[cg[top]] = ord("T")
    seq[cg[~top] + 1] = ord("A")
    return seq


def _gap_layout(chrom: str, size: int, rng) -> list[tuple[int, int, str]]:
    """N gaps: telomeric runs, a centromere-like gap (chr1, chr2) or an assembly gap (chr3, chr4) in the middle.

    Every chromosome starts with a telomeric run; chr1 and chr3 also end with one.
    """
    gaps = [(0, 10_000, "telomere")]
    mid = int(size * rng.uniform(0.4, 0.6)) // 1000 * 1000
    if chrom in ("chr1", "chr2"):
        gaps.append((mid, mid + 40_000, "centromere"))
    else:
        gaps.append((mid, mid + int(rng.integers(5, 20)) * 1000, "contig"))
    if chrom in ("chr1", "chr3"):
        gaps.append((size - 10_000, size, "telomere"))
    return gaps


class _Builder:
    """Places elements without overlaps and writes their sequence."""

    def __init__(self, sequences, gaps: pd.DataFrame, rng) -> None:
        self.seq, self.rng, self.gaps = sequences, rng, gaps
        self.allowed: dict[str, list[tuple[int, int]]] = {}
        for chrom, size in CHROM_SIZES.items():
            cuts = sorted((r.Start, r.End) for r in gaps[gaps.Chromosome == chrom].itertuples())
            spans, pos = [], 0
            for s, e in [*cuts, (size, size)]:
                if s - _EDGE > pos + _EDGE:
                    spans.append((pos + _EDGE, s - _EDGE))
                pos = max(pos, e)
            self.allowed[chrom] = spans
        self.taken: dict[str, list[tuple[int, int]]] = {c: [] for c in CHROM_SIZES}
        self.genes, self.regions, self.sites, self.repeats = [], [], [], []
        self.tss: dict[str, list[int]] = {c: [] for c in CHROM_SIZES}

    # --- placement -------------------------------------------------------------------------------------------
    def _free(self, chrom: str, start: int, end: int, spacing: int) -> bool:
        if not any(s <= start and end <= e for s, e in self.allowed[chrom]):
            return False
        spans = self.taken[chrom]
        i = bisect.bisect_left(spans, (start, end))
        return all(not (s - spacing < end and start < e + spacing) for s, e in spans[max(i - 1, 0) : i + 1])

    def _claim(self, chrom: str, start: int, end: int) -> None:
        bisect.insort(self.taken[chrom], (start, end))

    def _place(self, chrom: str, width: int, spacing: int, near: int | None = None) -> int | None:
        for _ in range(200):
            if near is None:
                spans = self.allowed[chrom]
                lengths = np.array([e - s - width for s, e in spans], dtype=float)
                k = self.rng.choice(len(spans), p=lengths / lengths.sum())
                start = int(self.rng.integers(spans[k][0], spans[k][1] - width))
            else:
                start = int(near + self.rng.choice([-1, 1]) * self.rng.uniform(3_000, 60_000))
            if self._free(chrom, start, start + width, spacing):
                self._claim(chrom, start, start + width)
                return start
        return None

    def _plant(self, chrom, element, motif, lo, hi, used) -> None:
        """Write one site of ``motif`` starting somewhere in ``[lo, hi)`` without touching earlier sites."""
        site = sample_site(motif, self.rng)
        for _ in range(50):
            pos = int(self.rng.integers(lo, max(hi - len(site), lo + 1)))
            if all(pos + len(site) + 2 <= s or e + 2 <= pos for s, e in used):
                break
        else:
            return
        used.append((pos, pos + len(site)))
        self.seq[chrom][pos : pos + len(site)] = np.frombuffer(site, dtype=np.uint8)
        self.sites.append(dict(Chromosome=chrom, Start=pos, End=pos + len(site), motif=motif, element=element))

    def _region(self, chrom, start, end, name, region_class, **extra) -> None:
        row = dict(Chromosome=chrom, Start=start, End=end, Name=name, region_class=region_class, Strand=".", gene="")
        row.update(extra)
        self.regions.append(row)

    # --- elements --------------------------------------------------------------------------------------------
    def genes_and_promoters(self) -> None:
        rng, k = self.rng, 0
        for chrom, size in CHROM_SIZES.items():
            for _ in range(round(_GENES_PER_MB * size / 1e6)):
                start = self._place(chrom, 1_000, 14_000)
                if start is None:
                    continue
                k += 1
                strand = "+" if rng.random() < 0.5 else "-"
                tss = start + (600 if strand == "+" else 400)
                self.tss[chrom].append(tss)
                kind = "housekeeping" if rng.random() < 0.6 else str(rng.choice(BIOSAMPLES))
                name = f"G{k:04d}"
                length = int(np.clip(rng.lognormal(np.log(18_000), 0.7), 3_000, 90_000))
                body = (tss, min(tss + length, size - 1)) if strand == "+" else (max(tss - length, 1), tss + 1)
                self.genes.append(
                    dict(Chromosome=chrom, Start=body[0], End=body[1], Name=name, Strand=strand, tss=tss,
                         promoter=kind if kind == "housekeeping" else f"specific_{kind}")
                )  # fmt: skip
                self._promoter(chrom, start, tss, strand, name, kind)

    def _promoter(self, chrom, start, tss, strand, gene, kind) -> None:
        rng, seq = self.rng, self.seq[chrom]
        sign = 1 if strand == "+" else -1

        def span(a, b):  # positions a..b relative to the TSS, upstream negative, as a genomic [lo, hi)
            lo, hi = sorted((tss + sign * a, tss + sign * b))
            return lo, hi

        used: list[tuple[int, int]] = []
        inr = b"TCAGTCT" if strand == "+" else b"AGACTGA"  # YYANWYY with the A at the TSS
        at = tss - 2 if strand == "+" else tss - 4
        seq[at : at + 7] = np.frombuffer(inr, dtype=np.uint8)
        used.append((at, at + 7))
        if kind == "housekeeping":
            lo, hi = span(-600, 400)
            island = _random_bases(np.full(hi - lo, 0.68, dtype=np.float32), rng)
            keep = np.ones(hi - lo, dtype=bool)
            keep[at - lo : at - lo + 7] = False
            seq[lo:hi][keep] = island[keep]
            layout = (  # motif, fewest and most copies, window relative to the TSS
                ("SP1", 1, 4, (-260, -30)),
                ("NFY", 0, 2, (-130, -50)),
                ("ETS", 0, 2, (-200, -10)),
                ("NRF1", 0, 1, (-150, -20)),
                ("YY1", 0, 1, (10, 60)),
                ("CREB", 0, 1, (-120, -30)),
            )
            plan = [(m, int(rng.integers(lo_n, hi_n + 1)), window) for m, lo_n, hi_n, window in layout]
            region = span(-600, 400)
            region_class = "promoter"
        else:
            grammar = [m for m in GRAMMAR[kind] if m != "AP1"]
            plan = [("TATA", 1, (-33, -24))] + [(m, 1, (-320, -45)) for m in rng.choice(grammar, rng.integers(2, 5))]
            plan += [("SP1", int(rng.integers(0, 2)), (-200, -40))]
            region = span(-400, 200)
            region_class = f"promoter_{kind}"
        for motif, count, (a, b) in plan:
            for _ in range(count):
                lo, hi = span(a, b)
                self._plant(chrom, gene, motif, lo, hi, used)
        self._region(chrom, *region, name=f"{gene}_promoter", region_class=region_class, Strand=strand, gene=gene)

    def enhancers(self) -> None:
        rng = self.rng
        counter = {b: 0 for b in (*BIOSAMPLES, "shared")}
        for chrom, size in CHROM_SIZES.items():
            plan = [b for b in BIOSAMPLES for _ in range(round(_ENHANCERS_PER_MB * size / 1e6))]
            plan += ["shared"] * round(_SHARED_PER_MB * size / 1e6)
            for biosample in rng.permutation(plan):
                near = int(rng.choice(self.tss[chrom])) if self.tss[chrom] and rng.random() < 0.7 else None
                flank = int(rng.integers(50, 150)), int(rng.integers(50, 150))
                width = 300 + sum(flank)
                start = self._place(chrom, width, 1_500, near=near) or self._place(chrom, width, 1_500)
                if start is None:
                    continue
                counter[biosample] += 1
                name = f"enhancer_{biosample}_{counter[biosample]:03d}"
                core = (start + flank[0], start + flank[0] + 300)
                used: list[tuple[int, int]] = []
                if biosample == "shared":
                    motifs = ["AP1"] * int(rng.integers(2, 5)) + ["CREB"] * int(rng.integers(0, 2))
                else:
                    weights = np.array(list(GRAMMAR[biosample].values()))
                    n = int(np.clip(1 + rng.poisson(2.5), 1, 6))
                    motifs = rng.choice(list(GRAMMAR[biosample]), n, p=weights / weights.sum())
                for motif in motifs:
                    self._plant(chrom, name, str(motif), *core, used)
                self._region(chrom, start, start + width, name=name, region_class=f"enhancer_{biosample}")

    def ctcf_sites(self) -> None:
        k = 0
        for chrom, size in CHROM_SIZES.items():
            for _ in range(round(_CTCF_PER_MB * size / 1e6)):
                start = self._place(chrom, 300, 1_500)
                if start is None:
                    continue
                k += 1
                name = f"ctcf_{k:03d}"
                used: list[tuple[int, int]] = []
                self._plant(chrom, name, "CTCF", start + 130, start + 150, used)
                if self.rng.random() < 0.25:
                    self._plant(chrom, name, "CTCF", start + 40, start + 260, used)
                self._region(chrom, start, start + 300, name=name, region_class="ctcf")

    def background(self) -> None:
        k = 0
        for chrom, size in CHROM_SIZES.items():
            for _ in range(round(_BACKGROUND_PER_MB * size / 1e6)):
                width = int(self.rng.integers(300, 601))
                start = self._place(chrom, width, 3_000)
                if start is None:
                    continue
                k += 1
                self._region(chrom, start, start + width, name=f"background_{k:03d}", region_class="background")


def _mutate(seq: bytes, divergence: float, rng) -> np.ndarray:
    arr = np.frombuffer(seq, dtype=np.uint8).copy()
    hit = rng.random(len(arr)) < divergence
    arr[hit] = np.frombuffer(b"ACGT", dtype=np.uint8)[rng.integers(0, 4, hit.sum())]
    return arr


def _repeats(builder: _Builder, rng) -> dict[str, np.ndarray]:
    """Insert soft-masked repeat copies into sequence not used by elements, gaps or earlier repeats."""
    consensus = {}
    for name, _, length, gc, _, _ in _FAMILIES:
        body = _random_bases(np.full(length, gc, dtype=np.float32), rng).tobytes()
        if name.startswith(("AluS", "L1")):
            body = body[: length - 20] + b"A" * 20  # poly-A tail of retrotransposed copies
        if name.startswith("AluS"):
            half = length // 2
            body = body[: half - 13] + b"AAAAATACAAAAA" + body[half:]  # A-rich linker between the two monomers
        consensus[name] = body[:length]
    satellite = _random_bases(np.full(_SATELLITE_MONOMER, 0.38, dtype=np.float32), rng).tobytes()

    blocked = {c: np.zeros(n, dtype=bool) for c, n in CHROM_SIZES.items()}
    masked = {c: np.zeros(n, dtype=bool) for c, n in CHROM_SIZES.items()}
    for chrom, spans in builder.taken.items():
        for s, e in spans:
            blocked[chrom][max(s - 100, 0) : e + 100] = True
    for gap in builder.gaps.itertuples():
        blocked[gap.Chromosome][gap.Start : gap.End] = True

    def insert(chrom, start, unit: np.ndarray, name, rclass, divergence, strand) -> bool:
        end = start + len(unit)
        if start < 0 or end > CHROM_SIZES[chrom] or blocked[chrom][start:end].any():
            return False
        builder.seq[chrom][start:end] = unit | 0x20  # ASCII lowercase: soft-masked
        blocked[chrom][start:end] = True
        masked[chrom][start:end] = True
        builder.repeats.append(
            dict(Chromosome=chrom, Start=start, End=end, Name=name, divergence=round(divergence, 3),
                 Strand=strand, repeat_class=rclass)
        )  # fmt: skip
        return True

    for chrom, size in CHROM_SIZES.items():
        # satellite arrays flank the centromere-like gaps
        for s, e in _centromeres(builder, chrom):
            for lo, hi in ((s - int(rng.integers(8_000, 12_000)), s), (e, e + int(rng.integers(8_000, 12_000)))):
                copies = (hi - lo) // _SATELLITE_MONOMER
                array = np.concatenate([_mutate(satellite, rng.uniform(0.02, 0.08), rng) for _ in range(copies)])
                insert(chrom, lo, array, "ALR_like", "Satellite/centr", 0.05, "+")
        for name, rclass, length, _, per_mb, (dmin, dmax) in _FAMILIES:
            for _ in range(round(per_mb * size / 1e6)):
                divergence = float(rng.uniform(dmin, dmax))
                body = consensus[name]
                if rclass.startswith("LINE"):
                    keep = int(np.clip(rng.exponential(1_200), 250, length))
                    offset = length - keep if name.startswith("L1") else int(rng.integers(0, length - keep + 1))
                    body = body[offset : offset + keep]  # L1 copies are 5'-truncated
                elif name == "MIR_like":
                    keep = int(rng.integers(100, length + 1))
                    body = body[:keep]
                unit = _deplete_cpg(_mutate(body, divergence, rng), rng, keep=0.3)
                strand = "+"
                if rng.random() < 0.5:
                    unit, strand = np.frombuffer(_revcomp(unit.tobytes()), dtype=np.uint8).copy(), "-"
                for _ in range(20):
                    if insert(chrom, int(rng.integers(0, size - len(unit))), unit, name, rclass, divergence, strand):
                        break
        for _ in range(round(60 * size / 1e6)):
            motif = _SIMPLE[int(rng.integers(len(_SIMPLE)))]
            unit = np.frombuffer((motif * 100)[: int(rng.integers(20, 90))].encode(), dtype=np.uint8).copy()
            for _ in range(20):
                if insert(
                    chrom, int(rng.integers(0, size - len(unit))), unit, f"({motif})n", "Simple_repeat", 0.0, "+"
                ):
                    break
    return masked


def _centromeres(builder: _Builder, chrom: str) -> list[tuple[int, int]]:
    spans = builder.allowed[chrom]
    out = []
    for (_, e1), (s2, _) in zip(spans[:-1], spans[1:], strict=True):
        if s2 - e1 - 2 * _EDGE >= 40_000:
            out.append((e1 + _EDGE, s2 - _EDGE))
    return out


def _revcomp(seq: bytes) -> bytes:
    return seq[::-1].translate(bytes.maketrans(b"ACGTNacgtn", b"TGCANtgcan"))
