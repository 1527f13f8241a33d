"""bz.tl.variant_effect against hand-built windows and direct model calls; VCF handling; resume; CLI; demo biology."""

import subprocess
import sys
import warnings

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import torch
from conftest import randomize_batch_norm, small_config

import bazenji as bz
from bazenji.models import Basenji2

L = 16_384
LEFT = L // 2 - 1  # index of the variant's first base in its window
COMPLEMENT = {"A": "T", "C": "G", "G": "C", "T": "A"}


@pytest.fixture(scope="module", autouse=True)
def quiet():
    bz.settings.progress = False


@pytest.fixture(scope="module")
def chrom():
    rng = np.random.default_rng(1)
    return "".join(rng.choice(list("ACGT"), 60_000))


@pytest.fixture(scope="module")
def genome(chrom):
    return bz.io.Genome({"chr1": chrom, "chr2": chrom[::-1][:30_000]})


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    model = randomize_batch_norm(Basenji2(small_config(gelu="erf"), targets=[f"t{i}" for i in range(12)]))
    with torch.no_grad():  # a sharper stem and a head with spread: one base changes the sums well above float noise
        model.stem.conv.weight.mul_(10)
        model.head.weight.mul_(20)
    return model.eval()


def encode(text, n_value=0.25):
    out = np.zeros((len(text), 4), np.float32)
    for i, base in enumerate(text):
        if base in "ACGT":
            out[i, "ACGT".index(base)] = 1
        else:
            out[i] = n_value
    return out


def direct(model, text, n_value=0.25):
    assert len(text) == L
    with torch.inference_mode():
        return model(torch.from_numpy(encode(text, n_value)[None])).numpy()[0].astype(np.float64)


def window(chrom, start, length=L):
    """Genome text [start, start + length), N outside the chromosome."""
    before = "N" * max(0, -start)
    inside = chrom[max(start, 0) : max(start + length, 0)]
    return (before + inside + "N" * length)[:length]


def edited(chrom, pos, ref, alt):
    assert chrom[pos - 1 : pos - 1 + len(ref)] == ref
    return chrom[: pos - 1] + alt + chrom[pos - 1 + len(ref) :]


def sad(model, ref_text, alt_text, n_value=0.25):
    return direct(model, alt_text, n_value).sum(0) - direct(model, ref_text, n_value).sum(0)


def table(rows):
    return pd.DataFrame(rows, columns=["chrom", "pos", "id", "ref", "alt"])


def test_snv_insertion_deletion_equal_hand_built_windows(model, genome, chrom):
    p = 20_000
    start = p - 1 - LEFT
    snv_alt = "ACGT".replace(chrom[p - 1], "")[0]
    ins_ref, ins_alt = chrom[p + 99], chrom[p + 99] + "TTG"  # 3 bp insertion after pos p + 100
    del_ref, del_alt = chrom[p + 199 : p + 203], chrom[p + 199]  # 3 bp deletion after pos p + 200
    variants = table(
        [["chr1", p, "snv", chrom[p - 1], snv_alt], ["chr1", p + 100, "ins", ins_ref, ins_alt],
         ["chr1", p + 200, "del", del_ref, del_alt]]
    )  # fmt: skip
    adata = bz.tl.variant_effect(variants, model, genome, stats=["SAR", "maxabs", "SAX", "REF", "ALT"])
    assert list(adata.obs_names) == ["snv", "ins", "del"] and adata.X.dtype == np.float32
    assert adata.obs["ref_match"].all() and not adata.obs["ref_swapped"].any()
    assert list(adata.var_names) == [f"t{i}" for i in range(12)]

    # SNV: the window starts at 0-based pos - 1 - (L//2 - 1); the variant is at index L//2 - 1
    ref_text = window(chrom, start)
    alt_text = ref_text[:LEFT] + snv_alt + ref_text[LEFT + 1 :]
    assert alt_text == window(edited(chrom, p, chrom[p - 1], snv_alt), start)
    ref_profile, alt_profile = direct(model, ref_text), direct(model, alt_text)
    np.testing.assert_allclose(adata.X[0], alt_profile.sum(0) - ref_profile.sum(0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(adata.layers["REF"][0], ref_profile.sum(0), rtol=1e-5)
    np.testing.assert_allclose(adata.layers["ALT"][0], alt_profile.sum(0), rtol=1e-5)
    sar = np.log2(alt_profile.sum(0) + 1) - np.log2(ref_profile.sum(0) + 1)
    np.testing.assert_allclose(adata.layers["SAR"][0], sar, rtol=1e-4, atol=1e-6)
    diff = alt_profile - ref_profile  # per-bin differences carry float32 noise of about 1e-6 of the coverage
    np.testing.assert_allclose(adata.layers["maxabs"][0], np.abs(diff).max(0), rtol=1e-3, atol=2e-5)
    np.testing.assert_allclose(adata.layers["SAX"][0], diff[np.abs(diff).argmax(0), np.arange(12)], rtol=1e-3,
                               atol=2e-5)  # fmt: skip
    np.testing.assert_array_equal(np.abs(adata.layers["SAX"]), adata.layers["maxabs"])
    assert np.abs(adata.X[0]).max() > 5e-3  # a real effect, not float noise

    # insertion: the edited genome's window, trimmed by half the inserted length at the front
    s = p + 100 - 1 - LEFT
    np.testing.assert_allclose(
        adata.X[1], sad(model, window(chrom, s), window(edited(chrom, p + 100, ins_ref, ins_alt), s + 1)),
        rtol=1e-4, atol=1e-4,
    )  # fmt: skip
    # deletion: the site reads 3 more bases, so the reference window is shifted right by 3 // 2; the alt
    # window is the edited genome's window at the unshifted start
    s = p + 200 - 1 - LEFT
    np.testing.assert_allclose(
        adata.X[2], sad(model, window(chrom, s + 1), window(edited(chrom, p + 200, del_ref, del_alt), s)),
        rtol=1e-4, atol=1e-4,
    )  # fmt: skip


def test_multiallelic_record_split_reference_once_and_padding(model, genome, chrom, tmp_path):
    p = 30_000
    ref = chrom[p - 1 : p + 2]
    vcf = tmp_path / "multi.vcf"
    vcf.write_text(
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        f"chr1\t{p}\trs1\t{ref}\t{ref[0]},{ref}TT,<DEL>\t.\tPASS\t.\n"
    )
    with pytest.warns(UserWarning, match="1 symbolic"):
        adata = bz.tl.variant_effect(vcf, model, genome, batch_size=2)
    assert list(adata.obs_names) == [f"rs1_{ref[0]}", f"rs1_{ref}TT"]
    assert list(adata.obs["allele"]) == [1, 2] and list(adata.obs["vcf_id"]) == ["rs1", "rs1"]
    info = adata.uns["bazenji"]
    assert info["skipped"]["symbolic"] == 1 and info["n_sites"] == 1
    assert info["timings"]["windows"] == 3  # one reference window for the site's two alleles

    s = p - 1 - LEFT
    ref_text = window(chrom, s)  # the longest ALT is longer than REF: no extra bases
    # the 2 bp deletion leaves L - 2 bases, N-padded with one N at each end
    del_text = "N" + window(edited(chrom, p, ref, ref[0]), s, L - 2) + "N"
    ins_text = window(edited(chrom, p, ref, ref + "TT"), s + 1)
    np.testing.assert_allclose(adata.X[0], sad(model, ref_text, del_text), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(adata.X[1], sad(model, ref_text, ins_text), rtol=1e-4, atol=1e-4)

    # each allele alone: its own site geometry, the same numbers where the geometry agrees
    alone = bz.tl.variant_effect(table([["chr1", p, "i", ref, ref + "TT"]]), model, genome)
    np.testing.assert_allclose(alone.X[0], adata.X[1], rtol=1e-4, atol=1e-4)


def test_split_records_get_their_own_windows_and_share_what_agrees(model, genome, chrom, tmp_path):
    """``bcftools norm -m-`` output: one ALT per line. Each record is placed as ``snp_seq1`` places it alone."""
    p = 30_000
    ref = chrom[p - 1 : p + 2]
    snvs = ["ACGT".replace(ref[0], "")[i] for i in range(2)]
    vcf = tmp_path / "split.vcf"
    lines = [f"chr1\t{p}\td\t{ref}\t{ref[0]}", f"chr1\t{p}\ti\t{ref}\t{ref}TT"]
    lines += [f"chr1\t{p + 50}\ts{i}\t{chrom[p + 49]}\t{alt}" for i, alt in enumerate(snvs)]
    vcf.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\n" + "\n".join(lines) + "\n")
    adata = bz.tl.variant_effect(vcf, model, genome)
    # the deletion's record reads 2 extra bases (its reference window moves right by 2 // 2), the insertion's
    # none: two reference windows at p; the two SNV records agree and share one
    assert adata.uns["bazenji"]["n_sites"] == 3 and adata.uns["bazenji"]["timings"]["windows"] == 7
    s = p - 1 - LEFT
    np.testing.assert_allclose(
        adata["d"].X[0], sad(model, window(chrom, s + 1), window(edited(chrom, p, ref, ref[0]), s)), rtol=1e-4,
        atol=1e-4,
    )  # fmt: skip
    for name in ("i", "s0", "s1"):
        alone = bz.tl.variant_effect(adata.obs.loc[[name], ["chrom", "pos", "id", "ref", "alt"]], model, genome)
        np.testing.assert_allclose(alone.X[0], adata[name].X[0], rtol=1e-4, atol=1e-4)


def test_reference_mismatch_swap_and_flags(model, genome, chrom):
    p, q = 25_000, 26_000
    here, there = chrom[p - 1], chrom[q - 1]
    other, third = [b for b in "ACGT" if b != here][:2]
    other_q, third_q = [b for b in "ACGT" if b != there][:2]
    variants = table(
        [["chr1", p, "ok", here, other], ["chr1", p, "swapped", other, here],
         ["chr1", q, "neither", other_q, third_q], ["chr1", q, "to_other", there, other_q],
         ["chr1", q, "to_third", there, third_q]]
    )  # fmt: skip
    with pytest.warns(UserWarning, match=r"1 variant\(s\) whose REF matches neither .*neither"):
        adata = bz.tl.variant_effect(variants, model, genome)
    obs = adata.obs
    assert obs["ref_match"].tolist() == [True, False, False, True, True]
    assert obs["ref_swapped"].tolist() == [False, True, False, False, False]
    assert obs["genome_ref"].tolist() == [here, here, there, there, there]
    assert adata.uns["bazenji"]["n_ref_swapped"] == 1 and adata.uns["bazenji"]["n_ref_mismatch"] == 1
    # the official swap: REF goes into the reference window, the genome's ALT is the alternative
    np.testing.assert_allclose(adata.X[1], -adata.X[0], rtol=1e-4, atol=1e-4)
    # no allele matches: REF is forced into the reference window and scored, flagged
    np.testing.assert_allclose(adata.X[2], adata.X[4] - adata.X[3], rtol=1e-3, atol=1e-4)

    with pytest.warns(UserWarning, match="NaN"):
        nan = bz.tl.variant_effect(variants, model, genome, on_mismatch="nan")
    assert np.isnan(nan.X[2]).all() and not np.isnan(nan.X[[0, 1, 3, 4]]).any()
    assert nan.uns["bazenji"]["timings"]["windows"] == 7  # sites (p, here), (p, other), (q, there); none for q's
    # raise refuses both: the REF that matches nothing, and the swapped one the other modes score
    with pytest.raises(ValueError, match=r"1 match neither the genome nor an ALT: neither .*; 1 differ from the "
                       rf"genome, which holds an ALT: swapped \(REF '{other}', genome '{here}'\)"):  # fmt: skip
        bz.tl.variant_effect(variants, model, genome, on_mismatch="raise")
    with pytest.raises(ValueError, match="1 differ from the genome, which holds an ALT: swapped"):
        bz.tl.variant_effect(variants.iloc[:2], model, genome, on_mismatch="raise")


def test_symbolic_and_breakend_alleles_skipped_and_counted(model, genome, chrom, tmp_path):
    vcf = tmp_path / "sv.vcf"
    b = chrom[9_999]
    vcf.write_text(
        "#CHROM\tPOS\tID\tREF\tALT\n"
        f"chr1\t10000\tsv1\t{b}\t<DEL>\n"
        f"chr1\t10000\tbnd\t{b}\t{b}[chr2:100[\n"
        f"chr1\t10000\tspan\t{b}\t*,{COMPLEMENT[b]}\n"
    )
    with pytest.warns(UserWarning, match=r"skipped 3 of 4 .*2 symbolic.*1 breakend"):
        adata = bz.tl.variant_effect(vcf, model, genome)
    assert list(adata.obs_names) == [f"span_{COMPLEMENT[b]}"]
    assert adata.uns["bazenji"]["skipped"] == {"symbolic": 2, "breakend": 1, "too_long": 0, "no_alt": 0,
                                               "ref_equals_alt": 0, "ambiguous_alt": 0}  # fmt: skip


def test_ensembles_n_encoding_track_subset_and_float16(model, genome, chrom):
    p = 40  # near the chromosome start: the window is mostly N padding
    alt = COMPLEMENT[chrom[p - 1]]
    variants = table([["chr1", p, "v", chrom[p - 1], alt]])
    ref_text = window(chrom, p - 1 - LEFT)
    alt_text = ref_text[:LEFT] + alt + ref_text[LEFT + 1 :]

    def ensemble(text, n_value):
        x = encode(text, n_value)
        members = []
        for shift in (-1, 0, 1):
            shifted = np.full_like(x, n_value)
            if shift > 0:
                shifted[shift:] = x[:-shift]
            elif shift < 0:
                shifted[:shift] = x[-shift:]
            else:
                shifted = x
            with torch.inference_mode():
                forward = model(torch.from_numpy(shifted[None])).numpy()[0]
                reverse = model(torch.from_numpy(shifted[::-1, ::-1].copy()[None])).numpy()[0][::-1]
            members += [forward, reverse]
        return np.mean(members, axis=0).astype(np.float64)

    for n_value in (0.25, 0.0):
        adata = bz.tl.variant_effect(variants, model, genome, rc=True, shifts=[-1, 0, 1], n_value=n_value,
                                     tracks=["t3", "t7"])  # fmt: skip
        expected = (ensemble(alt_text, n_value) - ensemble(ref_text, n_value)).sum(0)[[3, 7]]
        np.testing.assert_allclose(adata.X[0], expected, rtol=1e-4, atol=1e-4)
        assert list(adata.var_names) == ["t3", "t7"]
    zero, official = (bz.tl.variant_effect(variants, model, genome, n_value=v).X for v in (0.0, 0.25))
    assert np.abs(zero - official).max() > 1e-3  # the N encoding matters this close to the end

    half = bz.tl.variant_effect(variants, model, genome, out_dtype="float16", stats="all")
    assert set(half.layers) == {"SAR", "logSAD", "SAX", "maxabs", "D1", "D2", "REF", "ALT"}
    # differences shrink to float16; sums, which outgrow its 65,504, stay float32 and exact
    wide = {"REF", "ALT", "D2"}
    assert half.X.dtype == np.float16 and all(half.layers[s].dtype == np.float16 for s in set(half.layers) - wide)
    full = bz.tl.variant_effect(variants, model, genome, stats="all")
    for s in wide:
        np.testing.assert_array_equal(half.layers[s], full.layers[s])
    np.testing.assert_allclose(half.X, full.X, rtol=1e-3, atol=1e-4)
    np.testing.assert_array_equal(half.layers["SAR"], half.layers["logSAD"])


class Interrupt(Exception):
    pass


def test_resumed_run_equals_uninterrupted(model, genome, chrom, tmp_path, monkeypatch):
    rng = np.random.default_rng(5)
    positions = np.sort(rng.choice(np.arange(9_000, 50_000), 9, replace=False))
    rows = [["chr1", int(p), f"v{i}", chrom[p - 1], COMPLEMENT[chrom[p - 1]]] for i, p in enumerate(positions)]
    variants = table(rows)
    reference = bz.tl.variant_effect(variants, model, genome, chunk_variants=2, batch_size=2, stats=["SAR"])

    from bazenji.tl import _alleles, _variants

    real, real_chunk = _alleles.predict_windows, _variants.score_chunk
    calls = {"n": 0, "limit": 5}
    scored = []  # the first row of every chunk this process starts scoring

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > calls["limit"]:
            raise Interrupt
        return real(*args, **kwargs)

    def counted(spec, chunk, *args, **kwargs):
        scored.append(int(chunk.rows[0]))
        return real_chunk(spec, chunk, *args, **kwargs)

    monkeypatch.setattr(_alleles, "predict_windows", flaky)
    monkeypatch.setattr(_variants, "score_chunk", counted)
    store = tmp_path / "sad.zarr"
    with pytest.raises(Interrupt):  # chunks of 2 SNVs = 4 windows = 2 calls: dies inside chunk 3
        bz.tl.variant_effect(variants, model, genome, chunk_variants=2, batch_size=2, stats=["SAR"], store=store)
    progress = f"{store}/uns/bazenji_chunks"  # the resume record inside the AnnData store
    (key,) = bz.store.results_keys(progress)
    assert bz.store.done_chunks(progress, key).tolist() == [True, True, False, False, False]
    assert scored == [0, 2, 4]

    calls.update(n=0, limit=10**6)
    scored.clear()
    resumed = bz.tl.variant_effect(variants, model, genome, chunk_variants=2, batch_size=2, stats=["SAR"],
                                   store=store)  # fmt: skip
    assert scored == [4, 6, 8]  # the finished chunks are not scored again
    assert calls["n"] == 5  # chunks 3 and 4 (two calls each) and chunk 5 (one SNV, one call)
    np.testing.assert_array_equal(resumed.X, reference.X)
    np.testing.assert_array_equal(resumed.layers["SAR"], reference.layers["SAR"])
    on_disk = ad.read_zarr(store)
    np.testing.assert_array_equal(on_disk.X, reference.X)
    np.testing.assert_array_equal(on_disk.layers["SAR"], reference.layers["SAR"])
    assert bz.store.done_chunks(progress, key).all()


def test_bad_input(model, genome, chrom):
    good = table([["chr1", 100, "v", chrom[99], COMPLEMENT[chrom[99]]]])
    with pytest.raises(ValueError, match="chr9"):
        bz.tl.variant_effect(table([["chr9", 100, "v", "A", "C"]]), model, genome)
    with pytest.raises(ValueError, match="past the end of chr1"):
        bz.tl.variant_effect(table([["chr1", 70_000, "v", "A", "C"]]), model, genome)
    with pytest.raises(ValueError, match="'XYZ'"):
        bz.tl.variant_effect(good, model, genome, stats=["SAD", "XYZ"])
    with pytest.raises(ValueError, match="on_mismatch='drop'"):
        bz.tl.variant_effect(good, model, genome, on_mismatch="drop")
    with pytest.raises(ValueError, match="out_dtype='int8'"):
        bz.tl.variant_effect(good, model, genome, out_dtype="int8")
    with pytest.raises(ValueError, match="chunk_variants=0"):
        bz.tl.variant_effect(good, model, genome, chunk_variants=0)
    read = bz.io.read_vcf(good)  # a read_vcf table is taken as it is: its positions are checked all the same
    floats = bz.tl.variant_effect(read.assign(pos=read["pos"].astype(float)), model, genome)
    np.testing.assert_array_equal(floats.X, bz.tl.variant_effect(read, model, genome).X)
    with pytest.raises(ValueError, match=r"non-integral pos 100.5 at row\(s\) 0"):
        bz.tl.variant_effect(read.assign(pos=read["pos"] + 0.5), model, genome)


def test_cli_sad(model, chrom, tmp_path):
    fasta = tmp_path / "g.fa"
    fasta.write_text(">chr1\n" + "\n".join(chrom[i : i + 60] for i in range(0, len(chrom), 60)) + "\n")
    model.save(tmp_path / "model")
    vcf = tmp_path / "v.vcf"
    lines = [f"chr1\t{p}\tr{p}\t{chrom[p - 1]}\t{COMPLEMENT[chrom[p - 1]]},<INS>" for p in (12_000, 12_050)]
    vcf.write_text("#CHROM\tPOS\tID\tREF\tALT\n" + "\n".join(lines) + "\n")
    out = tmp_path / "sad.h5ad"
    command = [sys.executable, "-m", "bazenji.cli", "sad", str(vcf), "--genome", str(fasta), "--model",
               str(tmp_path / "model"), "--tracks", "t0,t5", "--stats", "SAD,SAR", "--rc", "-o", str(out),
               "--quiet"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "variants  2 at 2 sites (2 alleles skipped)" in done.stdout and str(out) in done.stdout
    result = ad.read_h5ad(out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = bz.tl.variant_effect(vcf, model, fasta, tracks=["t0", "t5"], stats=["SAR"], rc=True)
    np.testing.assert_allclose(result.X, expected.X, rtol=1e-6)
    np.testing.assert_allclose(result.layers["SAR"], expected.layers["SAR"], rtol=1e-6)
    assert list(result.obs["ref_match"]) == [True, True]
    again = subprocess.run(command, capture_output=True, text=True, check=False)
    assert again.returncode == 2 and "exists" in again.stderr


IUPAC = {"A": "A", "C": "C", "G": "G", "T": "T", "R": "AG", "Y": "CT", "S": "CG", "W": "AT", "K": "GT", "M": "AC",
         "B": "CGT", "D": "AGT", "H": "ACT", "V": "ACG", "N": "ACGT"}  # fmt: skip


def motif_breaking_snv(genome, chrom, start, end, consensus):
    """The SNV that swaps the specified base nearest the middle of a planted motif for a base it does not allow."""
    text = genome.fetch(chrom, start, end, upper=True)
    reverse = consensus.translate(str.maketrans("ACGTRYKMSWBDHVN", "TGCAYRMKSWVHDBN"))[::-1]
    for oriented in (consensus, reverse):
        if len(oriented) == len(text) and all(t in IUPAC[c] for t, c in zip(text, oriented, strict=True)):
            specified = [i for i, c in enumerate(oriented) if len(IUPAC[c]) == 1]
            i = min(specified, key=lambda k: abs(k - len(text) / 2))
            return chrom, start + i + 1, text[i], next(b for b in "ACGT" if b not in IUPAC[oriented[i]])
    return None


def test_demo_motif_breaking_variants_score_far_above_background():
    demo = bz.datasets.demo()
    genome = bz.io.Genome(demo.fasta)
    model = bz.models.load("demo")
    sites = pd.read_csv(demo.sites, sep="\t", header=None, names=["chrom", "start", "end", "motif", "element"])
    rows = []
    for motif in ("CTCF", "HNF4A", "TAL1_GATA", "PU1", "NFE2", "GATA", "FOXA", "CEBP", "HNF1", "SP1", "NFY", "ETS"):
        found = 0
        for site in sites[sites["motif"] == motif].sample(frac=1, random_state=0).itertuples():
            # one planted site in ten is a near-miss that barely binds: only intact sites can be broken
            snv = motif_breaking_snv(genome, site.chrom, site.start, site.end, bz.datasets.MOTIFS[motif])
            if snv is not None:
                rows.append([snv[0], snv[1], f"motif_{motif}_{site.start}", snv[2], snv[3]])
                found += 1
            if found == 2:
                break
    # background: SNVs at least 5 kb from every planted site and analysis region
    peaks = pd.read_csv(demo.peaks, sep="\t", header=None, usecols=[0, 1, 2], names=["chrom", "start", "end"])
    avoid = pd.concat([sites[["chrom", "start", "end"]], peaks])
    rng = np.random.default_rng(0)
    n_motif = len(rows)
    while len(rows) < 2 * n_motif:
        chrom = str(rng.choice(list(demo.chrom_sizes)))
        pos = int(rng.integers(70_000, demo.chrom_sizes[chrom] - 70_000))
        near = avoid[(avoid["chrom"] == chrom) & (avoid["start"] - 5_000 < pos) & (avoid["end"] + 5_000 > pos)]
        base = genome.fetch(chrom, pos - 1, pos, upper=True)
        if near.empty and base in "ACGT":
            rows.append([chrom, pos, f"background_{chrom}_{pos}", base, COMPLEMENT[base]])
    adata = bz.tl.variant_effect(table(rows), model, genome, batch_size=8)
    assert adata.obs["ref_match"].all()
    effect = np.abs(adata.X).max(axis=1)  # the strongest effect over the 18 demo tracks
    motif = adata.obs_names.str.startswith("motif_")
    ratio = np.median(effect[motif]) / np.median(effect[~motif])
    auroc = (effect[motif][:, None] > effect[~motif][None, :]).mean()
    assert ratio > 5 and auroc > 0.8, (ratio, auroc)
