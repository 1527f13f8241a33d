"""Issue 18: what a user gets from files shaped like real public ones (tests/data/realworld, see make_corpus.py).

Each test names the case of the issue it settles. Expected values come from the files' own text, read here with
plain Python (``gzip``, ``str.split``), from pyBigWig-written coverage, or from hand computation.
"""

import gzip
import shutil
import warnings
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pysam
import pytest

import bazenji as bz
from bazenji.cli import main as cli_main
from bazenji.io._vcf_readers import parse_region, records_from_pysam, records_from_text

DATA = Path(__file__).parent / "data" / "realworld"
L = 131_072  # the demo model's window


@pytest.fixture(scope="module")
def genome():
    return bz.io.Genome(DATA / "genome.fa")


@pytest.fixture(scope="module")
def sequences() -> dict[str, str]:
    """The corpus genome read with plain Python, independently of bz.io.Genome."""
    seqs, name = {}, None
    for line in (DATA / "genome.fa").read_text().splitlines():
        if line.startswith(">"):
            name = line[1:].split()[0]
            seqs[name] = ""
        else:
            seqs[name] += line
    return seqs


@pytest.fixture(autouse=True)
def quiet():
    bz.settings.progress = False


def data_lines(raw: bytes) -> list[list[str]]:
    """Tab-separated data lines of a VCF's bytes, decoded as latin-1 (any byte is a character)."""
    return [line.split("\t") for line in raw.decode("latin-1").splitlines() if line and not line.startswith("#")]


# -- 1. text that is not UTF-8, byte-order marks --------------------------------------------------------------------
def test_latin1_info_is_tolerated_by_read_vcf_variant_effect_and_the_cli(tmp_path, genome):
    path = DATA / "clinvar_latin1.vcf.gz"
    expected = data_lines(gzip.decompress(path.read_bytes()))
    assert any("\xf6" in fields[7] for fields in expected)  # the INFO field really holds a latin-1 byte
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = bz.io.read_vcf(path)
    assert table["id"].tolist() == [f[2] for f in expected]
    assert table["pos"].tolist() == [int(f[1]) for f in expected]
    assert table["ref"].tolist() == [f[3] for f in expected] and table["alt"].tolist() == [f[4] for f in expected]
    scores = bz.tl.variant_effect(path, "demo", genome, tracks=[0])
    assert scores.obs_names.tolist() == [f[2] for f in expected] and scores.obs["ref_match"].all()
    out = tmp_path / "sad.h5ad"
    argv = ["sad", str(path), "--genome", str(DATA / "genome.fa"), "--model", "demo", "--tracks", "0", "-o", str(out)]
    assert cli_main([*argv, "--quiet"]) == 0
    assert ad.read_h5ad(out).obs_names.tolist() == [f[2] for f in expected]


def test_undecodable_used_vcf_field_names_file_line_and_column():
    # line 10: nine header lines, then the record whose ID holds the byte 0xf6
    with pytest.raises(
        ValueError, match=r"line 10 of '.*latin1_id\.vcf', column 3 \(ID\): b'rs\\xf61001' is not UTF-8"
    ):
        bz.io.read_vcf(DATA / "latin1_id.vcf")


def test_bed_bom_crlf_and_mid_file_track_lines():
    table = bz.io.read_regions(DATA / "peaks_bom_crlf.bed")
    assert table["Chromosome"].tolist() == ["chr1", "chr1", "chr2"]  # not '\ufeffchr1'
    assert table["Start"].tolist() == [100, 700, 50] and table["End"].tolist() == [300, 900, 250]
    assert table["Strand"].tolist() == ["+", "-", "."] and table.index.tolist() == ["peak1", "peak2", "peak3"]
    top = bz.io.read_regions(DATA / "peaks_track_lines.bed")  # browser, track, comment and blank lines skipped
    assert top.index.tolist() == ["peak1", "peak2", "peak3"] and top["End"].tolist() == [300, 900, 250]


def test_undecodable_bed_name_names_line_and_column():
    with pytest.raises(ValueError, match=r"peaks_latin1_name\.bed, line 2, column 4 \(Name\): b'Sj\\xf6gren' is not"):
        bz.io.read_regions(DATA / "peaks_latin1_name.bed")


def test_undecodable_extra_bed_column_is_kept_replaced_with_a_warning(caplog):
    with caplog.at_level("WARNING", logger="bazenji"):
        table = bz.io.read_regions(DATA / "peaks_bed6plus_latin1.bed")
    assert "replaced by U+FFFD in 1 line(s) of column 7" in caplog.text
    # a free-text seventh column is not BED's thickStart: it keeps its position as its name
    assert table["column_7"].tolist() == ["M\ufffdller lab", "ok"] and "ThickStart" not in table.columns


# -- 2. regions of another build, windows mostly N -----------------------------------------------------------------
def test_region_wholly_outside_its_chromosome_is_an_error(genome):
    with pytest.raises(ValueError, match=r"1 of 3 regions lie wholly outside .*lines 1 \(e.g. chr1:9000000-9000500 on "
                       r"chr1 of 1,800 bp\).*outside='drop'"):  # fmt: skip
        bz.io.read_regions(DATA / "wrong_build.narrowPeak", genome=genome)
    with pytest.raises(ValueError, match="wholly outside"):
        bz.tl.predict(DATA / "wrong_build.narrowPeak", "demo", genome)


def test_outside_drop_drops_and_counts_and_past_end_is_warned(genome, caplog):
    with caplog.at_level("WARNING", logger="bazenji"):
        adata = bz.pp.regions(DATA / "wrong_build.narrowPeak", genome, outside="drop")
    assert adata.obs_names.tolist() == ["edge", "inside"]
    assert adata.uns["bazenji"]["skipped"] == {"outside": 1}
    assert "dropped 1 of 3 regions, wholly outside their chromosome on lines 1" in caplog.text
    assert "1 of 2 regions run past their chromosome end on lines 2 (e.g. chr1:1700-1900 on chr1 of 1,800 bp)" in (
        caplog.text
    )
    assert len([r for r in caplog.records if "run past" in r.message]) == 1  # one line, with the count


def test_predictions_flag_windows_that_are_mostly_n(genome, sequences, caplog):
    regions = ["chr1:1700-1800", "chr1:200-400", "chr2:500-700"]
    with caplog.at_level("WARNING", logger="bazenji"):
        adata = bz.tl.predict(regions, "demo", genome, tracks=[0])
    # Hand computation: each 131,072 bp window holds its whole (short) chromosome; every other position is padding,
    # and chr2's gap is N too: n_fraction = 1 - (A/C/G/T bases of the chromosome) / L.
    called = {c: sum(b in "ACGT" for b in s.upper()) for c, s in sequences.items()}
    assert called == {"chr1": 1800, "chr2": 800, "chrM": 200}
    expected = [1 - called["chr1"] / L, 1 - called["chr1"] / L, 1 - called["chr2"] / L]
    np.testing.assert_allclose(adata.obs["n_fraction"].to_numpy(), expected, rtol=1e-6)
    assert "3 of 3 regions were predicted from windows more than half N (obs['n_fraction']" in caplog.text


# -- 3. formats from content where the name is ambiguous -----------------------------------------------------------
def test_narrowpeak_saved_as_bed_gz_is_read_as_narrowpeak(caplog):
    with caplog.at_level("INFO", logger="bazenji"):
        table = bz.io.read_regions(DATA / "ENCFF000NPK.bed.gz")
    assert "ENCFF000NPK.bed.gz: read as narrowpeak (10 columns; columns 7-10 are numbers" in caplog.text
    assert table.attrs["format"] == "narrowpeak"
    assert table["SignalValue"].tolist() == [8.52, 5.10, 4.33] and table["PValue"].tolist() == [-1, -1, -1]
    assert table["Peak"].tolist() == [150, -1, 20] and "ThickStart" not in table.columns
    summits = bz.io.read_regions(DATA / "ENCFF000NPK.bed.gz", summit=True)
    # summit = Start + Peak; Peak -1 (none) falls back to the midpoint; the width is kept
    assert summits["Summit"].tolist() == [250, 650, 920]
    assert summits["Start"].tolist() == [100, 600, 820] and summits["End"].tolist() == [400, 700, 1020]


def test_gzip_and_bgzip_read_the_same():
    gz, bgz = DATA / "ENCFF000NPK.bed.gz", DATA / "peaks.narrowPeak.gz"
    assert gz.read_bytes()[:4] == b"\x1f\x8b\x08\x00" and bgz.read_bytes()[:4] == b"\x1f\x8b\x08\x04"  # FEXTRA: BGZF
    pd.testing.assert_frame_equal(bz.io.read_regions(gz), bz.io.read_regions(bgz))


def test_broadpeak_bed9_and_bed12_told_apart_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # '.' fields used to give a pandas FutureWarning
        broad = bz.io.read_regions(DATA / "broadpeak_as.bed")
        bed9 = bz.io.read_regions(DATA / "items_bed9.bed")
        bed12 = bz.io.read_regions(DATA / "genes_bed12.bed")
    assert broad.attrs["format"] == "broadpeak" and broad["QValue"].tolist() == [2.7, 1.3]
    assert bed9.attrs["format"] == "bed" and bed9["ItemRGB"].astype(str).tolist() == ["255,0,0", "0"]
    assert bed9["ThickStart"].tolist() == [120, 10]
    assert bed12["BlockSizes"].tolist() == ["100,200,", "300,"] and bed12["Score"].isna().all()


# -- 4. one odd row does not refuse a file -------------------------------------------------------------------------
def test_zero_length_bed_rows_are_skipped_and_counted(caplog):
    with caplog.at_level("WARNING", logger="bazenji"):
        table = bz.io.read_regions(DATA / "dbsnp_insertions.bed")
    assert table.index.tolist() == ["rs100", "rs102"] and table.attrs["skipped"]["zero_length"] == 2
    assert "skipped 2 of 4 regions: 2 zero-length (Start == End" in caplog.text and "on lines 2, 4" in caplog.text
    with pytest.raises(ValueError, match=r"2 zero-length region\(s\) \(Start == End\) on lines 2, 4.*strict=True"):
        bz.io.read_regions(DATA / "dbsnp_insertions.bed", strict=True)


def test_contig_insertions_multiallelic_and_symbolic_alleles_are_skipped_and_counted():
    path = DATA / "multiallelic_symbolic.vcf"
    with pytest.warns(UserWarning, match=r"skipped 4 of 8 .*3 symbolic \(<...>, \* or a contig insertion.*1 breakend"):
        table = bz.io.read_vcf(path)
    records = data_lines(path.read_bytes())
    alts = records[0][4].split(",")
    assert table["id"].tolist() == [f"rs2001_{alts[0]}", f"rs2001_{alts[1]}", f"sp1_{records[2][4][2:]}", "rs2006"]
    assert table["allele"].tolist() == [1, 2, 2, 1] and table["filter"].tolist() == ["PASS", "PASS", "PASS", "q10"]
    assert table.attrs["skipped"] == {"symbolic": 3, "breakend": 1, "too_long": 0, "no_alt": 0, "ref_equals_alt": 0,
                                      "ambiguous_alt": 0}  # fmt: skip
    # asked to be strict, the first allele that cannot be scored is an error naming its line (12: 11 header lines)
    with pytest.raises(ValueError, match=r"line 12 of .*column 5 \(ALT\): ALT allele '<DEL>' is symbolic"):
        bz.io.read_vcf(path, strict=True)


def test_bad_alt_is_shown_as_written(tmp_path):
    with pytest.raises(ValueError, match=r"ALT allele 'a<ctg1>' is symbolic"):  # not 'A<CTG1>'
        bz.io.read_vcf(DATA / "lowercase_contig_insertion.vcf", strict=True)
    path = tmp_path / "bad.vcf"
    path.write_text("#CHROM\tPOS\tID\tREF\tALT\nchr1\t5\tx\tA\tacgx\n")
    with pytest.raises(ValueError, match=r"line 2 of .*column 5 \(ALT\): ALT allele 'acgx'; expected bases"):
        bz.io.read_vcf(path)


def test_pysam_and_the_line_reader_give_the_same_fields():
    # htslib and the line reader are independent parsers of the same eight-column file
    path = DATA / "multiallelic_symbolic.vcf"
    by_htslib = [fields for _, fields in records_from_pysam(path, None)]
    by_lines = [fields[:5] + [fields[5] if fields[5] == "." else repr(float(fields[5])), fields[6]]
                for _, fields in records_from_text(path, None)]  # fmt: skip
    assert by_htslib == by_lines and len(by_htslib) == 6


def test_headerless_bom_crlf_variant_list_is_read():
    table = bz.io.read_vcf(DATA / "handmade_bom_crlf.vcf")
    expected = data_lines((DATA / "handmade_bom_crlf.vcf").read_bytes()[3:])
    assert table["chrom"].tolist() == ["chr1", "chr2"] and table["id"].tolist() == ["v1", "v2"]
    assert table["alt"].tolist() == [f[4].strip() for f in expected]


# -- region queries on an indexed VCF (issue 17, part 4) -----------------------------------------------------------
@pytest.fixture
def indexed(tmp_path) -> Path:
    plain = tmp_path / "many.vcf"
    shutil.copy(DATA / "many_variants.vcf", plain)
    return Path(pysam.tabix_index(str(plain), preset="vcf"))  # bgzips it, writes many.vcf.gz.tbi


def overlapping(chrom: str, start: int, end: int) -> list[str]:
    """IDs of many_variants.vcf whose REF span [POS, POS + len(REF) - 1] overlaps [start, end] (1-based)."""
    rows = data_lines((DATA / "many_variants.vcf").read_bytes())
    return [f[2] for f in rows if f[0] == chrom and int(f[1]) <= end and int(f[1]) + len(f[3]) - 1 >= start]


@pytest.mark.parametrize(("region", "chrom", "start", "end"),
                         [("chr1:300-400", "chr1", 300, 400), ("chr1:312-315", "chr1", 312, 315),
                          ("chr1:1,000-1,100", "chr1", 1000, 1100), ("chr2", "chr2", 1, 10**9)])  # fmt: skip
def test_region_query_on_an_indexed_vcf(indexed, region, chrom, start, end):
    table = bz.io.read_vcf(indexed, region=region)
    assert table["id"].tolist() == overlapping(chrom, start, end) and len(table) > 0
    # answered by htslib through the index, not by the line reader
    assert [fields[2] for _, fields in records_from_pysam(indexed, parse_region(region))] == table["id"].tolist()
    assert table.attrs["region"] == region and table.attrs["n_records"] == len(table)


def test_region_query_reaches_a_deletion_by_its_ref_span(indexed):
    # del310 has REF of 4 bases, 310-313: a query of 312-315 finds it although its POS is before the region
    assert bz.io.read_vcf(indexed, region="chr1:312-315")["id"].tolist() == ["del310"]


def test_region_query_errors(indexed, tmp_path):
    with pytest.raises(ValueError, match=r"region 'chr9' is not in the index of .*; it has 'chr1', 'chr2'"):
        bz.io.read_vcf(indexed, region="chr9:1-10")
    with pytest.raises(ValueError, match=r"region='chr1:ten'; expected 'chrom'"):
        bz.io.read_vcf(indexed, region="chr1:ten")
    unindexed = tmp_path / "plain.vcf.gz"
    pysam.tabix_compress(str(DATA / "many_variants.vcf"), str(unindexed))
    with pytest.raises(ValueError, match="region queries need a bgzip-compressed VCF with a tabix or CSI index"):
        bz.io.read_vcf(unindexed, region="chr1")
    with pytest.raises(ValueError, match="needs an indexed VCF file"):
        bz.io.read_vcf(pd.DataFrame({"chrom": ["chr1"], "pos": [1], "ref": ["A"], "alt": ["C"]}), region="chr1")


def test_region_query_of_a_bad_record_names_its_line(tmp_path):
    text = (DATA / "many_variants.vcf").read_text().splitlines(keepends=True)
    bad = next(i for i, line in enumerate(text) if line.startswith("chr2\t"))
    text[bad] = "\t".join([*text[bad].split("\t")[:3], "XZ", *text[bad].split("\t")[4:]])
    plain = tmp_path / "bad.vcf"
    plain.write_text("".join(text))
    indexed = pysam.tabix_index(str(plain), preset="vcf")
    assert len(bz.io.read_vcf(indexed, region="chr1:1-100")) == len(overlapping("chr1", 1, 100))
    with pytest.raises(ValueError, match=rf"line {bad + 1} of .*column 4 \(REF\): REF='XZ'"):
        bz.io.read_vcf(indexed, region="chr2")


def test_latin1_info_in_an_indexed_vcf(tmp_path):
    path = tmp_path / "clinvar.vcf.gz"
    shutil.copy(DATA / "clinvar_latin1.vcf.gz", path)
    pysam.tabix_index(str(path), preset="vcf")
    assert bz.io.read_vcf(path, region="chr2")["id"].tolist() == ["rs1003"]


# -- 5. smaller rough edges ----------------------------------------------------------------------------------------
def test_empty_targets_files_name_the_file():
    with pytest.raises(ValueError, match=r"track table '.*targets_empty\.txt' is empty; expected a tab-separated"):
        bz.io.read_targets(DATA / "targets_empty.txt")
    with pytest.raises(ValueError, match=r"targets_header_only\.txt' has a header .* but no tracks"):
        bz.io.read_targets(DATA / "targets_header_only.txt")


def test_import_bigwigs_takes_the_bed_path_predict_takes(tmp_path, genome):
    import pyBigWig

    path, value = tmp_path / "flat.bw", 0.5
    with pyBigWig.open(str(path), "w") as bw:
        bw.addHeader(list(genome.chrom_sizes.items()))
        for chrom, size in genome.chrom_sizes.items():
            bw.addEntries([chrom], [0], ends=[size], values=[value])
    bed = DATA / "peaks_track_lines.bed"
    observed = bz.pp.import_bigwigs(bed, {"flat": path})
    assert observed.obs_names.tolist() == bz.tl.predict(bed, "demo", genome, tracks=[0]).obs_names.tolist()
    # every 128 bp bin of these regions lies inside its chromosome: sum over a bin of a flat 0.5 track is 64
    np.testing.assert_allclose(observed.X[:, 0], 128 * value)
    same = bz.pp.import_bigwigs(bz.io.read_regions(bed), {"flat": path})
    np.testing.assert_array_equal(observed.X, same.X)


def test_chromosome_naming_error_speaks_of_the_variants(genome):
    with pytest.raises(ValueError, match=r"of the variants not in the genome.*'1'.*variants\['chrom'\]") as info:
        bz.tl.variant_effect(DATA / "ensembl_names.vcf", "demo", genome)
    assert "regions['Chromosome']" not in str(info.value)


def test_on_mismatch_raise_refuses_a_swapped_ref(genome, sequences):
    fields = data_lines((DATA / "ref_swapped.vcf").read_bytes())[0]
    assert sequences["chr1"][int(fields[1]) - 1] == fields[4] != fields[3]  # the genome holds ALT, not REF
    with pytest.raises(ValueError, match=rf"1 differ from the genome, which holds an ALT: swapped \(REF "
                       rf"'{fields[3]}', genome '{fields[4]}'\)"):  # fmt: skip
        bz.tl.variant_effect(DATA / "ref_swapped.vcf", "demo", genome, tracks=[0], on_mismatch="raise")
    scored = bz.tl.variant_effect(DATA / "ref_swapped.vcf", "demo", genome, tracks=[0], on_mismatch="score")
    assert scored.obs["ref_swapped"].tolist() == [True] and scored.obs["ref_match"].tolist() == [False]
