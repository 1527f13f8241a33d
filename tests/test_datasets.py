"""The demo dataset: deterministic, structured like a genome, and with tracks that follow the planted classes.

Every check reads the written files directly (FASTA text, pyBigWig, BED text) and compares them with expectations
computed here, not with the generator's own tables.
"""

import hashlib
import json
import re
import time

import numpy as np
import pandas as pd
import pyBigWig
import pytest

import bazenji as bz

BIOSAMPLES = ("HepG2", "K562", "GM12878")
SIZES = {"chr1": 1_200_000, "chr2": 1_000_000, "chr3": 800_000, "chr4": 700_000}
IUPAC = {"R": "[AG]", "Y": "[CT]", "S": "[CG]", "W": "[AT]", "K": "[GT]", "M": "[AC]", "N": "[ACGT]"}
COMPLEMENT = str.maketrans("ACGTRYSWKMN", "TGCAYRSWMKN")
# Lineage motifs, written from the literature consensus (not imported from the generator).
LINEAGE = {
    "HepG2": ["RGGTCAAAGGTCA", "TGTTTACWYW", "ATTGCGCAAT", "GTTAATNATTAAC"],  # HNF4A, FOXA, C/EBP, HNF1
    "K562": ["WGATAAGR", "TGCTGASTCAY"],  # GATA1, NF-E2 MARE
    "GM12878": ["AAAAAGAGGAAGTG", "GAAANNGAAACT", "TGTGGTTT", "GGGAATTTCC", "TCCCNNGGGA"],  # PU.1 IRF RUNX NFkB EBF
}
CTCF = "TGGCCACCAGGGGGCGCTA"


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def generated(cache):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BAZENJI_CACHE", str(cache))
        start = time.perf_counter()
        demo = bz.datasets.demo(seed=0)
        seconds = time.perf_counter() - start
    return demo, seconds


@pytest.fixture(scope="module")
def demo(generated):
    return generated[0]


@pytest.fixture(scope="module")
def genome(demo):
    """The FASTA parsed by hand: name -> sequence (case kept)."""
    seqs, name, chunks = {}, None, []
    for line in demo.fasta.read_text().splitlines():
        if line.startswith(">"):
            if name:
                seqs[name] = "".join(chunks)
            name, chunks = line[1:].split()[0], []
        else:
            chunks.append(line)
    seqs[name] = "".join(chunks)
    return seqs


@pytest.fixture(scope="module")
def regions(demo):
    return pd.read_csv(demo.regions, sep="\t", dtype={"gene": str})


def motif_regex(consensus):
    forward = "".join(IUPAC.get(c, c) for c in consensus)
    reverse = "".join(IUPAC.get(c, c) for c in consensus.translate(COMPLEMENT)[::-1])
    return re.compile(f"(?=({forward}|{reverse}))")


def count_sites(seq, motifs):
    upper = seq.upper()
    return sum(len(motif_regex(m).findall(upper)) for m in motifs)


def bw_mean(path, chrom, start, end):
    with pyBigWig.open(str(path)) as bw:
        values = bw.values(chrom, int(start), int(end), numpy=True)
    return float(np.nan_to_num(values).mean())


# --- location, caching, determinism --------------------------------------------------------------------------


def test_cache_folder_and_generation_time(demo, generated, cache):
    assert demo.root == (cache / "demo-v1-seed0").absolute()
    assert generated[1] < 60  # a few seconds on a laptop; generous for a loaded CI machine
    sizes = [p.stat().st_size for p in demo.root.rglob("*") if p.is_file()]
    assert sum(sizes) < 40e6
    for p in [demo.fasta, demo.fai, demo.targets, demo.peaks, demo.regions, *demo.bigwigs.values()]:
        assert p.is_file(), p


def test_reused_when_complete(demo, cache, monkeypatch):
    monkeypatch.setenv("BAZENJI_CACHE", str(cache))
    before = demo.fasta.stat().st_mtime_ns
    again = bz.datasets.demo(seed=0)
    assert again == demo and demo.fasta.stat().st_mtime_ns == before


def test_same_seed_same_bytes(demo, tmp_path):
    other = bz.datasets.demo(path=tmp_path / "copy", seed=0)
    mine = json.loads((demo.root / "manifest.json").read_text())["files"]
    theirs = json.loads((other.root / "manifest.json").read_text())["files"]
    assert sorted(mine) == sorted(theirs)
    for rel in mine:
        a = hashlib.sha256((demo.root / rel).read_bytes()).hexdigest()
        b = hashlib.sha256((other.root / rel).read_bytes()).hexdigest()
        if rel == "targets.txt":  # holds absolute paths; everything else must match byte for byte
            continue
        assert a == b, rel
    t1, t2 = demo.targets_table(), other.targets_table()
    pd.testing.assert_frame_equal(t1.drop(columns="file"), t2.drop(columns="file"))
    assert all(str(other.root) in f for f in t2["file"])


def test_other_seed_other_genome(demo, tmp_path):
    from bazenji.datasets._genome import make_genome

    seq0 = demo.fasta.read_bytes()
    genome1 = make_genome(np.random.default_rng(np.random.SeedSequence(1).spawn(4)[0]))
    assert genome1.sequences["chr1"][20_000:40_000].tobytes() not in seq0


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="seed=-1"):
        bz.datasets.demo(seed=-1, path=tmp_path / "x")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="mine"):
        bz.datasets.demo(path=tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


# --- the genome ------------------------------------------------------------------------------------------------


def test_fasta_and_fai(demo, genome):
    assert {c: len(s) for c, s in genome.items()} == SIZES
    raw = demo.fasta.read_bytes()
    rows = [line.split("\t") for line in demo.fai.read_text().splitlines()]
    assert [r[0] for r in rows] == list(SIZES)
    for name, length, offset, line_bases, line_width in rows:
        length, offset, line_bases, line_width = map(int, (length, offset, line_bases, line_width))
        assert (length, line_bases, line_width) == (SIZES[name], 60, 61)
        assert raw[offset - len(name) - 2 : offset] == f">{name}\n".encode()
        # base i sits at offset + (i // 60) * 61 + i % 60
        for i in (0, 59, 60, 12_345, length - 1):
            assert chr(raw[offset + (i // 60) * 61 + i % 60]) == genome[name][i]


def test_gc_isochores_vary(genome):
    fractions = []
    for seq in genome.values():
        for start in range(0, len(seq) - 100_000 + 1, 100_000):
            window = seq[start : start + 100_000].upper().replace("N", "")
            if len(window) > 50_000:
                fractions.append((window.count("G") + window.count("C")) / len(window))
    fractions = np.array(fractions)
    assert 0.35 < fractions.mean() < 0.55
    assert fractions.max() - fractions.min() > 0.08


def test_n_gaps_at_start_and_inside(demo, genome):
    gaps = pd.read_csv(demo.gaps, sep="\t", header=None, names=["chrom", "start", "end", "kind"])
    for chrom, seq in genome.items():
        assert seq[:10_000] == "N" * 10_000 and seq[10_000] != "N"
        runs = [(m.start(), m.end()) for m in re.finditer("N+", seq)]
        inner = [(s, e) for s, e in runs if 0 < s and e < len(seq)]
        assert inner and max(e - s for s, e in inner) >= 5_000
        listed = gaps[gaps.chrom == chrom]
        assert sorted(runs) == sorted(zip(listed.start.tolist(), listed.end.tolist(), strict=True))


def test_soft_masked_repeats(demo, genome):
    lower = sum(sum(c.islower() for c in s) for s in genome.values()) / sum(SIZES.values())
    assert 0.1 < lower < 0.5
    reps = pd.read_csv(
        demo.repeats, sep="\t", header=None, names=["chrom", "start", "end", "name", "score", "strand", "cls"]
    )
    assert {"SINE/Alu", "LINE/L1", "Simple_repeat", "Satellite/centr"} <= set(reps.cls)
    for r in reps.sample(200, random_state=0).itertuples():
        assert genome[r.chrom][r.start : r.end].islower()
    # copies of one family share far more 8-mers than unrelated sequence does
    alu = reps[(reps.name == "AluS_like") & (reps.strand == "+")].head(6)

    def kmers(s, k=8):
        return {s[i : i + k] for i in range(len(s) - k + 1)}

    copies = [kmers(genome[r.chrom][r.start : r.end].upper()) for r in alu.itertuples()]
    shared = np.mean([len(a & b) / len(a | b) for i, a in enumerate(copies) for b in copies[i + 1 :]])
    rng = np.random.default_rng(0)
    chr2 = genome["chr2"].upper()
    unrelated = [kmers(chr2[s : s + 280]) for s in rng.integers(20_000, 400_000, 6)]
    baseline = np.mean([len(a & b) / len(a | b) for i, a in enumerate(unrelated) for b in unrelated[i + 1 :]])
    assert shared > 0.08 and shared > 20 * baseline


def cpg_ratio(seq):
    seq = seq.upper()
    c, g = seq.count("C"), seq.count("G")
    return seq.count("CG") * len(seq) / max(c * g, 1), (c + g) / len(seq)


def test_cpg_islands_at_housekeeping_promoters(demo, genome):
    genes = pd.read_csv(
        demo.genes, sep="\t", header=None, names=["chrom", "start", "end", "name", "score", "strand", "tss", "promoter"]
    )
    assert set(genes.strand) == {"+", "-"}
    islands = [
        cpg_ratio(genome[g.chrom][g.tss - 400 : g.tss + 400])
        for g in genes[genes.promoter == "housekeeping"].itertuples()
    ]
    oe, gc = np.array(islands).T
    bulk_oe, _ = cpg_ratio(genome["chr1"][100_000:500_000].replace("N", ""))
    assert np.median(oe) > 0.6 and np.median(gc) > 0.6
    assert bulk_oe < 0.4


def test_motifs_planted_in_enhancers(regions, genome):
    def per_region(cls, motifs):
        rows = regions[regions.region_class == cls]
        return np.mean([count_sites(genome[r.Chromosome][r.Start : r.End], motifs) for r in rows.itertuples()])

    for b in BIOSAMPLES:
        planted = per_region(f"enhancer_{b}", LINEAGE[b])
        assert planted >= 1.5, b
        assert per_region("background", LINEAGE[b]) < 0.3 * planted, b
    assert per_region("ctcf", [CTCF]) >= 0.9
    assert per_region("background", [CTCF]) < 0.05
    assert per_region("enhancer_shared", ["TGASTCA"]) >= 2


def test_every_class_on_every_chromosome(regions):
    counts = regions.groupby(["Chromosome", "region_class"]).size().unstack(fill_value=0)
    assert set(counts.columns) == set(bz.datasets.REGION_CLASSES)
    assert (counts.drop(columns=[c for c in counts.columns if c.startswith("promoter_")]) >= 3).all().all()
    assert (regions.End > regions.Start).all() and regions.Name.is_unique


# --- tracks, targets, peaks -------------------------------------------------------------------------------------


def test_targets_table_format(demo):
    lines = demo.targets.read_text().splitlines()
    header = lines[0].split("\t")
    assert header == [
        "index",
        "genome",
        "identifier",
        "file",
        "clip",
        "scale",
        "sum_stat",
        "strand_pair",
        "description",
    ]
    table = demo.targets_table()
    assert table["index"].tolist() == list(range(len(table))) == list(range(18))
    assert set(table.description) >= {
        "DNASE:HepG2",
        "CHIP:CTCF:HepG2",
        "CHIP:H3K27ac:K562",
        "CAGE:K562",
        "CHIP:SPI1:GM12878",
    }
    cage = table[table.description.str.startswith("CAGE")]
    assert (cage.sum_stat == "sum").all() and (cage["clip"] == 384).all()
    dnase = table[table.description.str.startswith("DNASE")]
    assert (dnase.sum_stat == "mean").all() and (dnase["clip"] == 32).all() and (dnase.scale == 2).all()
    for row in table.itertuples():  # strand pairs point at each other; unstranded tracks at themselves
        partner = table.iloc[row.strand_pair]
        assert partner.strand_pair == row.index
        assert (partner.identifier == row.identifier) == (not row.identifier.endswith(("+", "-")))
    var = bz.io.read_targets(demo.targets)
    assert set(var.assay) == {"DNASE", "CHIP", "CAGE"}


def test_bigwigs_are_real_and_match_the_genome(demo):
    gaps = pd.read_csv(demo.gaps, sep="\t", header=None, names=["chrom", "start", "end", "kind"])
    for identifier, path in demo.bigwigs.items():
        with pyBigWig.open(str(path)) as bw:
            assert bw.isBigWig() and bw.chroms() == SIZES, identifier
            for g in gaps.itertuples():
                assert bw.intervals(g.chrom, g.start, g.end) is None
            values = bw.values("chr2", 100_000, 200_000, numpy=True)
            assert np.nanmax(values) > 0
            if identifier.startswith("CAGE"):  # sparse counts: integers at single bases
                ivs = bw.intervals("chr2", 100_000, 300_000)
                assert all(float(v).is_integer() and v > 0 for _, _, v in ivs)


def class_means(demo, regions, identifier):
    path = demo.bigwigs[identifier]
    with pyBigWig.open(str(path)) as bw:
        values = [
            np.nan_to_num(bw.values(r.Chromosome, r.Start, r.End, numpy=True)).mean() for r in regions.itertuples()
        ]
    return pd.Series(values, index=regions.index).groupby(regions.region_class).mean()


def test_dnase_follows_planted_enhancers(demo, regions):
    means = {b: class_means(demo, regions, f"DNASE_{b}") for b in BIOSAMPLES}
    for b in BIOSAMPLES:
        own = means[b][f"enhancer_{b}"]
        assert own > 4 * means[b]["background"], b
        for other in BIOSAMPLES:
            if other != b:
                assert own > 2.5 * means[other][f"enhancer_{b}"], (b, other)
        assert means[b]["promoter"] > 3 * means[b]["background"]


def test_chip_follows_motifs(demo, regions):
    for b, tf in (("HepG2", "HNF4A"), ("K562", "GATA1"), ("GM12878", "SPI1")):
        lineage = class_means(demo, regions, f"{tf}_{b}")
        assert lineage[f"enhancer_{b}"] > 4 * lineage["background"], tf
        ctcf = class_means(demo, regions, f"CTCF_{b}")
        assert ctcf["ctcf"] > 8 * ctcf["background"] and ctcf["ctcf"] > 5 * ctcf[f"enhancer_{b}"]
        ac = class_means(demo, regions.assign(Start=regions.Start - 800, End=regions.End + 800), f"H3K27ac_{b}")
        assert ac[f"enhancer_{b}"] > 3 * ac["background"] and ac[f"enhancer_{b}"] > 3 * ac["ctcf"]


def test_cage_at_gene_starts_on_the_gene_strand(demo):
    genes = pd.read_csv(
        demo.genes, sep="\t", header=None, names=["chrom", "start", "end", "name", "score", "strand", "tss", "promoter"]
    )
    rng = np.random.default_rng(0)
    for b in BIOSAMPLES:
        plus, minus = (pyBigWig.open(str(demo.bigwigs[f"CAGE_{b}{s}"])) for s in "+-")
        same, other, random = [], [], []
        for g in genes[genes.promoter.isin(["housekeeping", f"specific_{b}"])].itertuples():
            on, off = (plus, minus) if g.strand == "+" else (minus, plus)
            same.append(np.nansum(on.values(g.chrom, g.tss - 50, g.tss + 51, numpy=True)))
            other.append(np.nansum(off.values(g.chrom, g.tss - 50, g.tss + 51, numpy=True)))
            pos = int(rng.integers(20_000, SIZES[g.chrom] - 20_000))
            random.append(np.nansum(on.values(g.chrom, pos - 50, pos + 51, numpy=True)))
        plus.close()
        minus.close()
        assert np.mean(same) > 20 * max(np.mean(random), 0.05), b
        assert np.median(same) > 5 * max(np.median(other), 0.5), b


def test_narrowpeaks_find_active_elements(demo, regions):
    columns = ["chrom", "start", "end", "name", "score", "strand", "signal", "p", "q", "peak"]
    for b in BIOSAMPLES:
        peaks = pd.read_csv(demo.narrowpeaks[f"DNASE_{b}"], sep="\t", header=None, names=columns)
        assert ((peaks.peak >= 0) & (peaks.peak < peaks.end - peaks.start)).all()

        def hit_rate(cls, peaks=peaks):
            rows = regions[regions.region_class == cls]
            hits = [
                ((peaks.chrom == r.Chromosome) & (peaks.start < r.End) & (peaks.end > r.Start)).any()
                for r in rows.itertuples()
            ]
            return np.mean(hits)

        assert hit_rate(f"enhancer_{b}") > 0.6 and hit_rate("background") < 0.15, b


def test_import_bigwigs_on_the_demo(demo):
    table = bz.datasets.demo_regions(path=demo.root)
    assert {"Chromosome", "Start", "End", "Name", "region_class"} <= set(table.columns)
    bz.settings.progress = False
    adata = bz.pp.import_bigwigs(table, targets=demo.targets)
    assert adata.shape == (len(table), 18) and list(adata.obs_names) == list(table.Name)
    X = pd.DataFrame(adata.X, columns=adata.var_names).groupby(table.region_class.to_numpy(), observed=True).mean()
    assert X.loc["enhancer_K562", "DNASE_K562"] > 3 * X.loc["enhancer_K562", "DNASE_HepG2"]
    assert X.loc["promoter", "CAGE_GM12878+"] > 20 * X.loc["background", "CAGE_GM12878+"]
