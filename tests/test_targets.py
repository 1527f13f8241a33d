"""Track tables: bz.io.read_targets, default_targets, select_tracks."""

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import bazenji as bz

HUMAN = Path(bz.datasets.human_targets())
HEADER = "index\tgenome\tidentifier\tfile\tclip\tscale\tsum_stat\tdescription\n"


@pytest.fixture(scope="module")
def human() -> pd.DataFrame:
    if not HUMAN.is_file():
        pytest.fail(f"the real human track table is missing: {HUMAN}")
    return bz.io.read_targets(HUMAN)


def write(tmp_path, rows, header=HEADER, name="targets.txt"):
    path = tmp_path / name
    path.write_text(header + "".join("\t".join(map(str, r)) + "\n" for r in rows))
    return path


# ---------------------------------------------------------------- the real human table


def test_human_counts(human):
    assert len(human) == 5313
    counts = human["assay"].value_counts()
    assert counts["DNASE"] == 674
    assert counts["ATAC"] == 10
    assert counts["CHIP"] == 3991
    assert counts["CAGE"] == 638
    assert set(counts.index) == {"DNASE", "ATAC", "CHIP", "CAGE"}


def test_human_layout(human):
    assert human.index.is_unique
    assert list(human.index[:2]) == ["ENCFF833POA", "ENCFF110QGM"]
    assert human.index[-1] == "CNhs14245"
    assert isinstance(human["assay"].dtype, pd.CategoricalDtype)
    assert isinstance(human["target"].dtype, pd.CategoricalDtype)
    for column in ("identifier", "description", "assay", "target", "biosample", "clip", "scale", "sum_stat"):
        assert column in human.columns
    assert list(human.columns[:3]) == ["identifier", "description", "assay"]
    assert "strand_pair" not in human.columns  # the human table has none
    assert (human["index"].to_numpy() == np.arange(5313)).all()
    # only ChIP tracks have a target
    assert human["target"].notna().sum() == 3991
    assert human.loc[human["assay"] != "CHIP", "target"].isna().all()


# rows read off targets_human.txt by hand: (row, identifier, assay, target, biosample, clip, scale, sum_stat)
HAND_ROWS = [
    (0, "ENCFF833POA", "DNASE", None, "cerebellum male adult (27 years) and male adult (35 years)", 32, 2, "mean"),
    (684, "ENCFF991NDB", "CHIP", "CTCF", "MCF-7", 32, 2, "mean"),
    (686, "ENCFF776DPQ", "CHIP", "H3K4me3", "GM12878", 32, 2, "mean"),
    (674, "GSM2543089", "ATAC", None, "BM0106-Day0-MCP-A / Bone Marrow CD34+ / pDC", 64, 1, "sum"),
    (
        4659,
        "GSM1920690",
        "CHIP",
        "BMAL1",
        "BMAL1_DMSO_ChIPSeq / U2OS cells stably expressing Bmal1:Luc / osteosarcoma cell line U2OS stably "
        "expressing Bmal1:Luc",
        64,
        1,
        "sum",
    ),
    (4716, "CNhs10722", "CAGE", None, "acute myeloid leukemia (FAB M5) cell line:THP-1 (fresh)", 384, 1, "sum"),
    (5312, "CNhs14245", "CAGE", None, "lung adenocarcinoma, papillary cell line:NCI-H441", 384, 1, "sum"),
]


@pytest.mark.parametrize(("row", "identifier", "assay", "target", "biosample", "clip", "scale", "stat"), HAND_ROWS)
def test_human_hand_rows(human, row, identifier, assay, target, biosample, clip, scale, stat):
    track = human.iloc[row]
    assert track.name == identifier
    assert track["identifier"] == identifier
    assert track["index"] == row
    assert track["assay"] == assay
    if target is None:
        assert pd.isna(track["target"])
    else:
        assert track["target"] == target
    assert track["biosample"] == biosample
    assert (track["clip"], track["scale"], track["sum_stat"]) == (clip, scale, stat)


def test_human_target_counts(human):
    # grep -c $'\tCHIP:CTCF:' targets_human.txt -> 205; CHIP:H3K4me3: -> 338
    assert (human["target"] == "CTCF").sum() == 205
    assert (human["target"] == "H3K4me3").sum() == 338


def test_var_roundtrips_through_h5ad(human, tmp_path):
    adata = ad.AnnData(np.zeros((3, len(human)), dtype=np.float32), var=human)
    adata.write_h5ad(tmp_path / "x.h5ad")
    back = ad.read_h5ad(tmp_path / "x.h5ad").var
    assert list(back.index) == list(human.index)
    assert list(back.columns) == list(human.columns)
    assert back["assay"].value_counts()["CAGE"] == 638
    assert back.loc["ENCFF991NDB", "target"] == "CTCF"
    assert back.loc["GSM2543089", "biosample"] == "BM0106-Day0-MCP-A / Bone Marrow CD34+ / pDC"
    assert pd.isna(back.loc["ENCFF833POA", "target"])
    assert back["clip"].sum() == human["clip"].sum()


@pytest.mark.filterwarnings("ignore:Writing zarr v2 data:UserWarning")
def test_var_roundtrips_through_zarr(human, tmp_path):
    adata = ad.AnnData(np.zeros((2, 50), dtype=np.float32), var=human.iloc[660:710])
    adata.write_zarr(tmp_path / "x.zarr")
    back = ad.read_zarr(tmp_path / "x.zarr").var
    assert back.loc["ENCFF991NDB", "biosample"] == "MCF-7"
    assert set(back["assay"]) == {"DNASE", "ATAC", "CHIP"}


# ---------------------------------------------------------------- small hand-made tables


def test_missing_file_and_columns(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        bz.io.read_targets(tmp_path / "nope.txt")
    with pytest.raises(ValueError, match="description"):
        bz.io.read_targets(pd.DataFrame({"identifier": ["a"]}))


def test_unnamed_first_column_and_strand_pair(tmp_path):
    # the layout basenji_data.py writes: empty first header field, strand_pair column
    header = "\tidentifier\tfile\tclip\tscale\tsum_stat\tstrand_pair\tdescription\n"
    rows = [
        (0, "plus", "/a.bw", 384, 1, "sum", 1, "CAGE:K562 +"),
        (1, "minus", "/b.bw", 384, 1, "sum", 0, "CAGE:K562 -"),
    ]
    table = bz.io.read_targets(write(tmp_path, rows, header))
    assert list(table.index) == ["plus", "minus"]
    assert list(table["index"]) == [0, 1]
    assert list(table["strand_pair"]) == [1, 0]
    assert list(table["biosample"]) == ["K562 +", "K562 -"]
    assert "genome" not in table.columns


def test_other_and_missing_prefixes(tmp_path):
    rows = [
        (0, 0, "t0", "/x", 32, 2, "mean", "rna:liver"),
        (1, 0, "t1", "/x", 32, 2, "mean", "no assay prefix here"),
        (2, 0, "t2", "/x", 32, 2, "mean", "ChIP:CTCF"),
        (3, 0, "t3", "/x", 32, 2, "mean", "DNASE:"),
    ]
    table = bz.io.read_targets(write(tmp_path, rows))
    assert list(table["assay"]) == ["RNA", "unknown", "CHIP", "DNASE"]
    assert table["biosample"].iloc[0] == "liver"
    assert pd.isna(table["biosample"].iloc[1])
    assert table["target"].iloc[2] == "CTCF"
    assert pd.isna(table["biosample"].iloc[2])
    assert pd.isna(table["biosample"].iloc[3])


def test_duplicate_identifiers_made_unique_with_warning(tmp_path):
    rows = [(i, 0, ident, "/x", 32, 2, "mean", "DNASE:a") for i, ident in enumerate(["A", "B", "A", "A", "A-1"])]
    with pytest.warns(UserWarning, match="'A'"):
        table = bz.io.read_targets(write(tmp_path, rows))
    assert list(table.index) == ["A", "B", "A-2", "A-3", "A-1"]
    assert list(table["identifier"]) == ["A", "B", "A", "A", "A-1"]
    # the unique track names win over identifiers
    assert bz.io.select_tracks(table, ["A-3", "A", "B"]).tolist() == [3, 0, 1]


def test_shared_identifier_is_ambiguous():
    table = pd.DataFrame({"identifier": ["A", "A", "B"]}, index=["x", "y", "z"])
    assert bz.io.select_tracks(table, ["B", "x"]).tolist() == [2, 0]
    with pytest.raises(ValueError, match="'A' is shared by tracks 'x', 'y'"):
        bz.io.select_tracks(table, ["A"])


def test_dataframe_input_and_idempotence(human):
    raw = pd.read_csv(HUMAN, sep="\t")
    from_df = bz.io.read_targets(raw)
    pd.testing.assert_frame_equal(from_df, human)
    pd.testing.assert_frame_equal(bz.io.read_targets(human), human)


def test_default_targets():
    table = bz.io.default_targets(3)
    assert list(table.index) == ["track_0", "track_1", "track_2"]
    assert "assay" not in table.columns
    assert bz.io.select_tracks(table, "track_2").tolist() == [2]
    with pytest.raises(ValueError, match="no assay column"):
        bz.io.select_tracks(table, "CAGE")
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="n_tracks"):
            bz.io.default_targets(bad)


# ---------------------------------------------------------------- selection


def test_select_all_and_positions(human):
    assert bz.io.select_tracks(human, None).tolist() == list(range(5313))
    assert bz.io.select_tracks(human, 684).tolist() == [684]
    assert bz.io.select_tracks(human, [5312, 0, -5303]).tolist() == [5312, 0, 10]
    assert bz.io.select_tracks(human, np.array([3, 1])).tolist() == [3, 1]
    assert bz.io.select_tracks(human, slice(674, 684)).tolist() == list(range(674, 684))
    with pytest.raises(ValueError, match="5313"):
        bz.io.select_tracks(human, [0, 5313])
    with pytest.raises(ValueError, match="more than once"):
        bz.io.select_tracks(human, [1, 2, 1])


def test_select_names(human):
    assert bz.io.select_tracks(human, ["ENCFF991NDB", "ENCFF833POA"]).tolist() == [684, 0]
    assert bz.io.select_tracks(human, "CNhs10722").tolist() == [4716]
    with pytest.raises(ValueError, match="'nope1'") as info:
        bz.io.select_tracks(human, ["ENCFF991NDB", "nope1", "nope2", "nope3", "nope4", "nope5", "nope6"])
    assert "6 unknown" in str(info.value)
    assert "nope6" not in str(info.value)  # at most five are listed


def test_select_mask(human):
    mask = np.zeros(5313, dtype=bool)
    mask[[7, 700]] = True
    assert bz.io.select_tracks(human, mask).tolist() == [7, 700]
    assert bz.io.select_tracks(human, list(mask)).tolist() == [7, 700]
    assert len(bz.io.select_tracks(human, human["assay"] == "ATAC")) == 10
    with pytest.raises(ValueError, match="10.*5313"):
        bz.io.select_tracks(human, np.ones(10, dtype=bool))


def test_select_assay_and_query(human):
    cage = bz.io.select_tracks(human, "cage")
    assert len(cage) == 638
    assert cage[0] == 4675 and cage[-1] == 5312
    assert len(bz.io.select_tracks(human, "DNASE")) == 674
    ctcf = bz.io.select_tracks(human, "assay == 'CHIP' and target == 'CTCF'")
    assert len(ctcf) == 205
    assert 684 in ctcf
    assert bz.io.select_tracks(human, "biosample == 'MCF-7' and target == 'TAF1'").tolist() == [685]


def test_select_errors(human):
    with pytest.raises(ValueError, match="'bogus'"):
        bz.io.select_tracks(human, "bogus")
    with pytest.raises(ValueError, match="selects no tracks"):
        bz.io.select_tracks(human, "target == 'NOT_A_TARGET'")
    with pytest.raises(ValueError, match="empty"):
        bz.io.select_tracks(human, [])
    with pytest.raises(ValueError, match="not a boolean"):
        bz.io.select_tracks(human, "clip")
    with pytest.raises(ValueError, match="mixes"):
        bz.io.select_tracks(human, [1, "ENCFF991NDB"])
    with pytest.raises(ValueError, match="set"):
        bz.io.select_tracks(human, {1, 2})
