import gzip

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import bazenji as bz
from bazenji.io import Genome, read_regions

BED3 = "track name=peaks\nbrowser position chr1:1-100\n# a comment\nchr1\t10\t20\n\nchr2\t0\t5\nchr1\t100\t250\n"


@pytest.fixture
def genome():
    return Genome({"chr1": "ACGT" * 100, "chr2": "A" * 50, "chrX": "C" * 30})


def test_bed3_skips_headers_and_names_by_coordinates(tmp_path):
    path = tmp_path / "peaks.bed"
    path.write_text(BED3)
    df = read_regions(path)
    assert df.columns.tolist() == ["Chromosome", "Start", "End"]
    assert df.index.tolist() == ["chr1:10-20", "chr2:0-5", "chr1:100-250"]
    assert df["Start"].tolist() == [10, 0, 100] and df["End"].tolist() == [20, 5, 250]
    assert df["Start"].dtype == np.int64


def test_gzip_bed_reads_the_same(tmp_path):
    path = tmp_path / "peaks.bed.gz"
    path.write_bytes(gzip.compress(BED3.encode()))
    plain = tmp_path / "peaks.bed"
    plain.write_text(BED3)
    pd.testing.assert_frame_equal(read_regions(path), read_regions(plain))


def test_bed6_names_strand_and_duplicates_warn(tmp_path):
    path = tmp_path / "r.bed"
    path.write_text("chr1\t1\t5\tp1\t0\t+\nchr1\t7\t9\tp1\t3\t-\nchr2\t1\t4\t.\t.\t.\nchr2\t5\t6\tp2\t1\t+\n")
    with pytest.warns(UserWarning, match="1 region names occur more than once.*'p1'"):
        df = read_regions(path)
    assert df.index.tolist() == ["p1", "p1-1", "chr2:1-4", "p2"]
    assert df["Strand"].tolist() == ["+", "-", ".", "+"]
    assert df["Name"].tolist() == ["p1", "p1", ".", "p2"]
    assert df["Score"].isna().tolist() == [False, False, True, False]


def test_bed12_keeps_all_columns(tmp_path):
    path = tmp_path / "genes.bed"
    path.write_text("chr1\t100\t500\tg1\t0\t-\t120\t480\t0,0,0\t2\t50,60,\t0,340,\n")
    df = read_regions(path)
    cols = bz.io.regions.BED_COLUMNS
    assert df.columns.tolist() == [*cols[:3], "Strand", "Name", "Score", *cols[6:]]
    assert df.loc["g1", "ThickEnd"] == 480 and df.loc["g1", "BlockSizes"] == "50,60,"


def test_narrowpeak_summit(tmp_path):
    path = tmp_path / "x.narrowPeak"
    path.write_text("chr1\t100\t200\tpk1\t10\t.\t5.5\t3.1\t2.0\t30\nchr1\t300\t311\tpk2\t10\t.\t5.5\t3.1\t2.0\t-1\n")
    df = read_regions(path)
    assert df["Peak"].tolist() == [30, -1] and df["SignalValue"].dtype == float
    same_width = read_regions(path, summit=True)
    # summit of pk1 at 130: width 100 kept, start = 130 - 50; pk2 has no summit: its midpoint 305
    assert same_width["Start"].tolist() == [80, 300] and same_width["End"].tolist() == [180, 311]
    assert same_width["Summit"].tolist() == [130, 305]
    assert ((same_width["Start"] + same_width["End"]) // 2).tolist() == [130, 305]
    # 500 bp around pk1's summit 130 would start at -120: shifted to 0, off the summit, with a warning
    with pytest.warns(
        UserWarning, match=r"1 regions centred on their summit would start before 0 \(lines 1\).*chr1:130 .*chr1:0-500"
    ):
        fixed = read_regions(path, summit=500)
    assert fixed["Start"].tolist() == [0, 55] and fixed["End"].tolist() == [500, 555]
    with pytest.raises(ValueError, match="'Peak' column"):
        read_regions(tmp_path / "x.narrowPeak", format="bed", summit=True)


@pytest.mark.parametrize("peak", ["500", "100", "-2"])
def test_narrowpeak_summit_outside_its_region_is_refused(tmp_path, peak):
    path = tmp_path / "x.narrowPeak"
    rows = ["chr1\t100\t200\tpk1\t10\t.\t5.5\t3.1\t2.0\t99", f"chr1\t100\t200\tpk2\t10\t.\t5.5\t3.1\t2.0\t{peak}"]
    path.write_text("track x\n" + "\n".join(rows) + "\n")
    # Peak 99 is the last base of a 100 bp region; 100 is one past it (and 500 became 550-650 unchecked)
    with pytest.raises(
        ValueError, match=rf"outside its region on lines 3 \(e.g. Peak={peak} on chr1:100-200\).*0 <= Peak"
    ):
        read_regions(path, summit=True)
    assert read_regions(path)["Peak"].tolist() == [99, int(peak)]  # without summit= the column is only data


def test_missing_chromosomes_and_boolean_coordinates_are_refused():
    frame = pd.DataFrame({"Chromosome": ["chr1", None, np.nan, ""], "Start": [1, 2, 3, 4], "End": [5, 6, 7, 8]})
    with pytest.raises(ValueError, match=r"Chromosome is missing on rows \(0-based\) 1, 2, 3 \(e.g. None\)"):
        read_regions(frame)
    flags = pd.DataFrame({"Chromosome": ["chr1", "chr1"], "Start": [True, False], "End": [5, 6]})
    with pytest.raises(ValueError, match=r"Start is a boolean on rows \(0-based\) 0, 1 \(e.g. True\)"):
        read_regions(flags)
    mixed = pd.DataFrame({"Chromosome": ["chr1", "chr1"], "Start": [0, 1], "End": [5, True]}, dtype=object)
    with pytest.raises(ValueError, match=r"End is a boolean on rows \(0-based\) 1 "):
        read_regions(mixed)
    cells = ad.AnnData(obs=pd.DataFrame({"chrom": ["chr1", None], "start": [0, 1], "end": [2, 3]}, index=["a", "b"]))
    with pytest.raises(ValueError, match=r"AnnData .obs: Chromosome is missing on rows \(0-based\) 1"):
        read_regions(cells)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("chr1\t1\t5\nchr1\t7\t9\t+\n", "line 2: 4 fields where line 1 has 3"),
        ("chr1\t1\t5\nchr1\tabc\t9\n", r"Start is not an integer on lines 2 \(e.g. 'abc'\)"),
        ("#h\nchr1\t1\t5\nchr1\t9\t9\nchr1\t20\t10\n", "Start > End on lines 4; expected Start < End"),
        ("chr1\t-5\t5\n", "negative Start on lines 1"),
        ("chr1\t1\n", "line 1: 2 fields, expected at least 3 for bed"),
        ("chr1\t1\t5\tn\t0\tx\n", r"Strand must be '\+', '-' or '.', got 'x' on lines 1"),
        ("track x\n# nothing\n", "no regions in"),
    ],
)
def test_bad_bed_names_the_line(tmp_path, text, match):
    path = tmp_path / "bad.bed"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        read_regions(path)


def test_dataframe_with_bed_or_pyranges_names():
    bed = pd.DataFrame({"chrom": ["chr1", "chr2"], "chromStart": [5, 6], "chromEnd": [10, 9], "score": [1.0, 2.0]})
    df = read_regions(bed)
    assert df.columns.tolist() == ["Chromosome", "Start", "End", "score"]
    assert df.index.tolist() == ["chr1:5-10", "chr2:6-9"]
    named = pd.DataFrame({"Chromosome": ["chr1"], "Start": [1], "End": [2]}, index=["enh"])
    assert read_regions(named).index.tolist() == ["enh"]
    # a table's zero-length rows are refused (its rows are kept one to one); a file's are skipped (test_realworld)
    with pytest.raises(ValueError, match=r"1 zero-length region\(s\) \(Start == End\) on rows \(0-based\) 1"):
        read_regions(pd.DataFrame({"Chromosome": ["chr1", "chr1"], "Start": [1, 5], "End": [2, 5]}))
    with pytest.raises(ValueError, match="lacks interval columns"):
        read_regions(pd.DataFrame({"a": [1]}))
    with pytest.raises(ValueError, match="no regions"):
        read_regions(bed.iloc[:0])


def test_pyranges_objects():
    pr = pytest.importorskip("pyranges")
    gr = pr.PyRanges(
        pd.DataFrame({"Chromosome": ["chr1", "chr1"], "Start": [10, 50], "End": [20, 80], "Strand": ["+", "-"]})
    )
    df = read_regions(gr)
    assert sorted(zip(df["Start"], df["End"], df["Strand"], strict=True)) == [(10, 20, "+"), (50, 80, "-")]
    assert df["Chromosome"].tolist() == ["chr1", "chr1"]


def test_anndata_obs_var_columns_and_var_names():
    peaks = ["chr1:100-600", "chr2-5-10", "chr1_7_9"]
    cells = ad.AnnData(X=np.ones((2, 3), np.float32), var=pd.DataFrame(index=peaks))
    df = read_regions(cells)
    assert df.index.tolist() == peaks
    assert df[["Chromosome", "Start", "End"]].values.tolist() == [["chr1", 100, 600], ["chr2", 5, 10], ["chr1", 7, 9]]
    obs = pd.DataFrame({"chrom": ["chrX"], "start": [3], "end": [9], "cell_type": ["a"]}, index=["r1"])
    adata = ad.AnnData(obs=obs)
    df = read_regions(adata)
    assert df.index.tolist() == ["r1"] and df["cell_type"].tolist() == ["a"]
    var_cols = ad.AnnData(
        X=np.ones((1, 1)), var=pd.DataFrame({"Chromosome": ["chr3"], "Start": [1], "End": [2]}, index=["v"])
    )
    assert read_regions(var_cols, axis="var")["Chromosome"].tolist() == ["chr3"]
    bad = ad.AnnData(X=np.ones((1, 2)), var=pd.DataFrame(index=["geneA", "chr1:1-2"]))
    with pytest.raises(ValueError, match="'geneA'"):
        read_regions(bad)


def test_list_of_interval_names():
    df = read_regions(["chr1:1,000-2,000", "chr2:5-9"])
    assert df["Start"].tolist() == [1000, 5] and df["End"].tolist() == [2000, 9]


def test_genome_checks_names_and_ends(genome, caplog):
    with pytest.raises(ValueError, match=r"2 chromosome names of the regions not in the genome.*'1', '2'.*'chr' pre"):
        read_regions(
            pd.DataFrame({"Chromosome": ["1", "2", "chr1"], "Start": [0, 0, 0], "End": [5, 5, 5]}), genome=genome
        )
    with caplog.at_level("WARNING", logger="bazenji"):
        df = read_regions(["chr1:1-2", "chr2:40-60"], genome=genome)
    assert "1 of 2 regions run past their chromosome end on rows (0-based) 1 (e.g. chr2:40-60 on chr2 of 50 bp)" in (
        caplog.text
    )
    assert df["End"].tolist() == [2, 60]  # kept, not clipped or dropped


def test_pp_regions_gives_anndata(tmp_path, genome):
    path = tmp_path / "peaks.bed"
    path.write_text(BED3)
    adata = bz.pp.regions(path, genome)
    assert adata.shape == (3, 0)
    assert adata.obs_names.tolist() == ["chr1:10-20", "chr2:0-5", "chr1:100-250"]
    assert adata.obs["End"].tolist() == [20, 5, 250]
    assert adata.uns["bazenji"]["genome"]["fingerprint"] == genome.fingerprint
    again = bz.pp.regions(adata)
    pd.testing.assert_frame_equal(again.obs, adata.obs)
