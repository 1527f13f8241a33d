"""bigWig reading against numbers worked out by hand from the entries written in each test."""

import math
import warnings

import anndata as ad
import numpy as np
import pandas as pd
import pyBigWig
import pytest

import bazenji as bz

# chr1 (1,000 bp) entries, bedGraph style; [200, 256) has no entry, [256, 300) stores NaN.
CHR1 = [
    (0, 100, 1.0),
    (100, 128, 3.0),
    (128, 200, 0.5),
    (256, 300, float("nan")),
    (300, 384, 2.0),
    (384, 512, 10.0),
    (512, 1000, 0.25),
]
# Per 128 bp bin of chr1, by hand:
#   bin 0 [0,128):    100 x 1 + 28 x 3 = 184          mean 1.4375   max 3   median 1
#   bin 1 [128,256):  72 x 0.5 (56 bases no entry) = 36  mean 0.28125
#   bin 2 [256,384):  44 NaN -> 0, 84 x 2 = 168        mean 1.3125
#   bin 3 [384,512):  128 x 10 = 1280                  mean 10
#   bins 4-6:         128 x 0.25 = 32                  mean 0.25
#   bin 7 [896,1024): 104 x 0.25 = 26 (24 bases past the end count 0)
SUMS = [184.0, 36.0, 168.0, 1280.0, 32.0, 32.0, 32.0, 26.0]


def write_bigwig(path, chroms=(("chr1", 1000), ("chr2", 300)), entries=None):
    entries = {"chr1": CHR1, "chr2": [(0, 300, 4.0)]} if entries is None else entries
    bw = pyBigWig.open(str(path), "w")
    bw.addHeader(list(chroms), maxZooms=0)
    for chrom, _ in chroms:
        rows = entries.get(chrom, [])
        if rows:
            bw.addEntries(
                [chrom] * len(rows), [r[0] for r in rows], ends=[r[1] for r in rows], values=[r[2] for r in rows]
            )
    bw.close()
    return str(path)


@pytest.fixture
def bw(tmp_path):
    return write_bigwig(tmp_path / "track.bw")


def quiet_read(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bz.io.read_binned(*args, **kwargs)


def test_sum_and_mean_match_hand_computation(bw):
    sums = quiet_read(bw, "chr1", 0, 1024, sum_stat="sum")
    assert sums.dtype == np.float32
    np.testing.assert_allclose(sums, SUMS)
    means = quiet_read(bw, "chr1", 0, 1024, sum_stat="mean")
    np.testing.assert_allclose(means, [1.4375, 0.28125, 1.3125, 10.0, 0.25, 0.25, 0.25, 26 / 128])
    np.testing.assert_allclose(quiet_read(bw, "chr1", 0, 128, sum_stat="max"), [3.0])
    np.testing.assert_allclose(quiet_read(bw, "chr1", 0, 128, sum_stat="median"), [1.0])
    # a 64 bp bin size: [0,64) = 64, [64,128) = 36 x 1 + 28 x 3 = 120
    np.testing.assert_allclose(quiet_read(bw, "chr1", 0, 128, bin_size=64), [64.0, 120.0])


def test_clip_comes_before_scale(bw):
    # clip 100 then x2: bin0 184 -> 100 -> 200 (scale first would give min(368, 100) = 100)
    got = quiet_read(bw, "chr1", 0, 512, sum_stat="sum", clip=100, scale=2)
    np.testing.assert_allclose(got, [200.0, 72.0, 200.0, 200.0])
    # a DNase-style row: mean, clip 32, scale 2
    got = quiet_read(bw, "chr1", 0, 512, transform={"sum_stat": "mean", "clip": 32, "scale": 2})
    np.testing.assert_allclose(got, [2.875, 0.5625, 2.625, 20.0])


def test_soft_clip_then_hard_clip(bw):
    # values above 100 become 100 + sqrt(x - 100): 184 -> 100 + sqrt(84); 1280 -> 100 + sqrt(1180), then clip 120
    got = quiet_read(bw, "chr1", 0, 512, clip_soft=100, clip=120)
    np.testing.assert_allclose(got, [100 + math.sqrt(84), 36.0, 100 + math.sqrt(68), 120.0], rtol=1e-6)


def test_window_past_either_chromosome_end(bw):
    np.testing.assert_allclose(quiet_read(bw, "chr1", 896, 1152), [26.0, 0.0])
    np.testing.assert_allclose(quiet_read(bw, "chr1", -256, 128), [0.0, 0.0, 184.0])
    np.testing.assert_allclose(quiet_read(bw, "chr2", -128, 384), [0.0, 512.0, 512.0, 176.0])
    np.testing.assert_allclose(quiet_read(bw, "chr1", 2048, 2304), [0.0, 0.0])


def test_nan_counts_as_zero_with_one_warning_per_file(tmp_path):
    path = write_bigwig(tmp_path / "nan.bw")
    with pytest.warns(UserWarning, match="NaN") as record:
        got = bz.io.read_binned(path, "chr1", 256, 384)
    assert len(record) == 1 and "nan.bw" in str(record[0].message)
    assert got[0] == pytest.approx(168.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second read of the same file stays silent
        bz.io.read_binned(path, "chr1", 0, 512)
    other = write_bigwig(tmp_path / "other.bw")
    with pytest.warns(UserWarning, match="other.bw"):
        bz.io.read_binned(other, "chr1", 0, 512)
    # a reader (one import) warns once per file, however many windows it reads, and a new reader warns again
    for _ in range(2):
        with pytest.warns(UserWarning, match="nan.bw") as record, bz.io.BigWigTracks([path]) as tracks:
            tracks.read("chr1", 0, 512)
            tracks.read("chr1", 256, 512)
        assert len(record) == 1


def test_missing_entries_are_zero_without_warning(tmp_path):
    path = write_bigwig(tmp_path / "sparse.bw")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = bz.io.read_binned(path, "chr1", 128, 256)  # the gap [200, 256), no NaN stored here
    assert got[0] == pytest.approx(36.0)


def test_wrong_chromosome_names(tmp_path, bw):
    with pytest.raises(ValueError, match="'chrX'"):
        bz.io.read_binned(bw, "chrX", 0, 128)
    with pytest.raises(ValueError, match="prefix"):
        bz.io.read_binned(bw, "1", 0, 128)
    with pytest.raises(ValueError, match=r"'1'.*prefix"):
        bz.io.check_chromosomes(bw, {"1": 1000, "2": 300})
    nochr = write_bigwig(tmp_path / "nochr.bw", chroms=(("1", 1000), ("2", 300)), entries={})
    with pytest.raises(ValueError, match=r"'chr1'.*prefix"):
        bz.io.check_chromosomes(nochr, ["chr1", "chr2"])
    with pytest.raises(ValueError, match="1200"):
        bz.io.check_chromosomes(bw, {"chr1": 1200, "chr2": 300})
    with pytest.raises(ValueError, match="chr3") as err:
        bz.io.check_chromosomes(bw, {"chr1": 1000, "chr3": 50})
    assert "prefix" not in str(err.value)
    bz.io.check_chromosomes(bw, {"chr1": 1000, "chr2": 300, "chrM": 16569}, required=["chr1"])


def test_missing_file_is_named(tmp_path):
    missing = tmp_path / "absent.bw"
    with pytest.raises(FileNotFoundError, match="absent.bw"):
        bz.io.read_binned(missing, "chr1", 0, 128)
    with pytest.raises(FileNotFoundError, match="absent.bw"):
        bz.io.BigWigTracks({"a": missing})
    not_bw = tmp_path / "text.bw"
    not_bw.write_text("chr1\t0\t10\t1\n")
    with pytest.raises(ValueError, match="text.bw"):
        bz.io.read_binned(not_bw, "chr1", 0, 128)


def test_bad_options(bw):
    with pytest.raises(ValueError, match="multiple of bin_size"):
        bz.io.read_binned(bw, "chr1", 0, 100)
    with pytest.raises(ValueError, match="'total'"):
        bz.io.read_binned(bw, "chr1", 0, 128, sum_stat="total")
    with pytest.raises(ValueError, match="clip"):
        bz.io.read_binned(bw, "chr1", 0, 128, clip=-1)
    with pytest.raises(ValueError, match="one or the other"):
        bz.io.read_binned(bw, "chr1", 0, 128, clip=5, transform={"clip": 3})


def test_window_targets_follow_the_targets_table(tmp_path):
    a = write_bigwig(tmp_path / "a.bw")
    b = write_bigwig(tmp_path / "b.bw", entries={"chr1": [(0, 1000, 1.0)]})
    table = pd.DataFrame(
        {
            "index": [0, 1],
            "genome": [0, 0],
            "identifier": ["A", "B"],
            "file": ["a.bw", "b.bw"],  # relative: resolved against the table's folder
            "clip": [100, 384],
            "scale": [2.0, 0.5],
            "sum_stat": ["sum", "mean"],
            "description": ["DNASE:test", "CAGE:test"],
        }
    )
    table.to_csv(tmp_path / "targets.txt", sep="\t", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = bz.io.read_window_targets(None, "chr1", 0, 512, targets=tmp_path / "targets.txt")
    assert y.shape == (4, 2) and y.dtype == np.float32
    np.testing.assert_allclose(y[:, 0], [200.0, 72.0, 200.0, 200.0])
    np.testing.assert_allclose(y[:, 1], [0.5] * 4)
    # a dict picks and orders tracks by identifier
    with bz.io.BigWigTracks({"B": b, "A": a}, targets=table) as tracks:
        assert tracks.identifiers == ["B", "A"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            y2 = tracks.read("chr1", 0, 512)
    np.testing.assert_allclose(y2, y[:, ::-1])
    with pytest.raises(ValueError, match="'C'"):
        bz.io.BigWigTracks({"C": a}, targets=table)


def test_import_bigwigs_aggregates_bins_like_predictions(tmp_path):
    path = write_bigwig(tmp_path / "dnase.bw")
    regions = pd.DataFrame({"Chromosome": ["chr1", "chr1", "chr2"], "Start": [150, 384, 100], "End": [362, 512, 150]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = {
            agg: bz.pp.import_bigwigs(regions, {"dnase": path}, aggregate=agg)
            for agg in ("mean", "sum", "max", "center")
        }
    adata = out["mean"]
    assert isinstance(adata, ad.AnnData) and adata.shape == (3, 1) and adata.X.dtype == np.float32
    assert list(adata.obs_names) == ["chr1:150-362", "chr1:384-512", "chr2:100-150"]
    assert adata.var["identifier"].tolist() == ["dnase"]
    # region 0 (mid 256): bins [128,256) = 36 and [256,384) = 168
    # region 1 (mid 448): bins [320,448) = 64 x 2 + 64 x 10 = 768 and [448,576) = 64 x 10 + 64 x 0.25 = 656
    # region 2 (chr2, mid 125): bins [-3,125) = 125 x 4 = 500 and [125,253) = 512
    np.testing.assert_allclose(out["mean"].X[:, 0], [102.0, 712.0, 506.0])
    np.testing.assert_allclose(out["sum"].X[:, 0], [204.0, 1424.0, 1012.0])
    np.testing.assert_allclose(out["max"].X[:, 0], [168.0, 768.0, 512.0])
    np.testing.assert_allclose(out["center"].X[:, 0], [168.0, 656.0, 512.0])
    assert adata.uns["bazenji"]["params"]["aggregate"] == "mean"
    assert adata.uns["bazenji"]["files"] == {"dnase": path}


def test_import_bigwigs_from_anndata_with_targets(tmp_path):
    path = write_bigwig(tmp_path / "x.bw")
    obs = pd.DataFrame(
        {"Chromosome": ["chr1", "chr1"], "Start": [0, 384], "End": [128, 512], "region_class": ["a", "b"]},
        index=["r1", "r2"],
    )
    regions = ad.AnnData(obs=obs)
    targets = pd.DataFrame(
        {
            "identifier": ["X"],
            "file": [path],
            "clip": [32],
            "scale": [2],
            "sum_stat": ["mean"],
            "description": ["DNASE:K562"],
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        adata = bz.pp.import_bigwigs(regions, targets=targets)
    assert list(adata.obs_names) == ["r1", "r2"] and adata.obs["region_class"].tolist() == ["a", "b"]
    assert adata.var["assay"].tolist() == ["DNASE"] and adata.var["biosample"].tolist() == ["K562"]
    # r1: midpoint 64, bins [-64, 64) = 64 and [64, 192) = 36 + 28 x 3 + 64 x 0.5 = 152; means 0.5 and 1.1875, x 2
    # r2: midpoint 448, bins [384, 448) + ... : [320, 448) = 64 x 2 + 64 x 10 = 768 mean 6; [448, 576) mean 5.125
    np.testing.assert_allclose(adata.X[:, 0], [(1.0 + 2.375) / 2, (12.0 + 10.25) / 2])
    with pytest.raises(ValueError, match="prefix"):
        bz.pp.import_bigwigs(pd.DataFrame({"chrom": ["1"], "start": [0], "end": [10]}), [path])
