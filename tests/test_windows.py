from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bazenji as bz


def table(rows, strand=None):
    df = pd.DataFrame(rows, columns=["Chromosome", "Start", "End"])
    if strand is not None:
        df["Strand"] = strand
    return df


def test_centered_window_and_bins_by_hand():
    plan = bz.pp.plan_windows(table([("chr1", 1000, 1100), ("chr2", 500_000, 500_001)]))
    # mid 1050 -> window start 1050 - 65536; output bin 0 starts 8192 bp later
    assert plan.windows["start"].tolist() == [1050 - 65536, 500_000 - 65536]
    assert plan.windows["end"].tolist() == [1050 + 65536, 500_000 + 65536]
    assert plan.windows["chrom"].tolist() == ["chr1", "chr2"] and not plan.windows["rc"].any()
    first = 1050 - 65536 + 8192  # -56294: region starts 57294 bp in, bin 447 (57216..57344); ends in bin 448
    assert plan.assignments.iloc[0].tolist() == [0, 0, 447, 449]
    assert (1000 - first) // 128 == 447
    # a 1 bp region at the window's centre: 65536 - 8192 = 57344 bp = exactly bin 448
    assert plan.assignments.iloc[1].tolist() == [1, 1, 448, 449]
    assert (plan.seq_length, plan.bin_size, plan.crop_bins, plan.n_bins, plan.mode) == (
        131072,
        128,
        64,
        896,
        "centered",
    )
    assert plan.regions.index.tolist() == ["chr1:1000-1100", "chr2:500000-500001"]


def test_model_geometry_overrides():
    model = SimpleNamespace(config=SimpleNamespace(seq_length=4096, bin_size=32, crop_bins=16, n_bins=96))
    plan = bz.pp.plan_windows(table([("chr1", 0, 10)]), model=model, seq_length=999)
    assert (plan.seq_length, plan.bin_size, plan.crop_bins, plan.n_bins) == (4096, 32, 16, 96)
    assert plan.windows["start"].tolist() == [5 - 2048]
    bad = SimpleNamespace(config=SimpleNamespace(seq_length=4096, bin_size=32, crop_bins=16, n_bins=95))
    with pytest.raises(ValueError, match="n_bins=95"):
        bz.pp.plan_windows(table([("chr1", 0, 10)]), model=bad)
    with pytest.raises(ValueError, match="not a multiple of bin_size=128"):
        bz.pp.plan_windows(table([("chr1", 0, 10)]), seq_length=1000)


def test_centered_long_region_warns_and_clips():
    with pytest.warns(UserWarning, match="1 regions are longer"):
        plan = bz.pp.plan_windows(table([("chr1", 0, 200_000)]))
    assert plan.assignments[["bin_start", "bin_end"]].values.tolist() == [[0, 896]]


def test_tiled_shares_windows_for_clusters():
    rows = [("chr1", 10_000 + 4_000 * i, 10_500 + 4_000 * i) for i in range(10)]
    rows += [("chr1", 5_000_000, 5_000_500), ("chr2", 100, 600)]
    plan = bz.pp.plan_windows(table(rows), mode="tiled")
    assert plan.n_windows == 3 and plan.n_windows_saved == 9
    assert plan.windows["chrom"].tolist() == ["chr1", "chr1", "chr2"]
    assert (plan.assignments["window"].to_numpy()[:10] == 0).all()
    assert plan.assignments["window"].is_monotonic_increasing


def test_tiled_long_region_gets_abutting_pieces():
    plan = bz.pp.plan_windows(table([("chr1", 1_000_000, 1_300_000)]), mode="tiled", margin=4096)
    # (300000 + 2 * 4096) / 114688 -> 3 windows whose output spans abut
    assert plan.n_windows == 3
    first = plan.output_starts()
    assert np.array_equal(np.diff(first), [114688, 114688])
    assert plan.assignments["bin_start"].tolist()[1:] == [0, 0]
    assert plan.assignments["bin_end"].tolist()[:2] == [896, 896]
    covered = sum(hi - lo for lo, hi in plan.assignments[["bin_start", "bin_end"]].values)
    assert covered * 128 >= 300_000 and first[0] <= 1_000_000 - 4096


def test_stranded_windows():
    df = table([("chr1", 100, 200), ("chr1", 300, 400)], strand=["+", "-"])
    plan = bz.pp.plan_windows(df, stranded=True)
    assert plan.windows["rc"].tolist() == [False, True]
    tiled = bz.pp.plan_windows(df, stranded=True, mode="tiled")
    assert tiled.windows["rc"].tolist() == [False, True]  # never shared across strands
    assert bz.pp.plan_windows(df, mode="tiled").n_windows == 1
    with pytest.raises(ValueError, match="Strand column"):
        bz.pp.plan_windows(table([("chr1", 1, 2)]), stranded=True)


def test_bad_options():
    with pytest.raises(ValueError, match="mode='sliding'"):
        bz.pp.plan_windows(table([("chr1", 1, 2)]), mode="sliding")
    with pytest.raises(ValueError, match="margin=60000"):
        bz.pp.plan_windows(table([("chr1", 1, 2)]), mode="tiled", margin=60_000)


def test_tiled_short_regions_reuse_a_long_regions_windows():
    small = {"seq_length": 512, "bin_size": 16, "crop_bins": 4}  # 24 bins of 16 bp: a 384 bp output span
    plan = bz.pp.plan_windows(["chr1:0-2000", "chr1:100-120", "chr1:130-140"], mode="tiled", margin=32, **small)
    # chr1:0-2000 needs ceil((2000 + 64) / 384) = 6 abutting spans centred on 1000: the first is -152..232, which
    # holds 100-120 and 130-140 at least 32 bp from its edges, so they need no window of their own
    assert plan.n_windows == 6 and plan.n_windows_saved == -3
    assert plan.output_starts().tolist() == [-152 + 384 * k for k in range(6)]
    a = plan.assignments
    assert a[a["region"] > 0].values.tolist() == [[1, 0, 15, 17], [2, 0, 17, 19]]  # (100 + 152) // 16 = 15, ...
    # a region overlapping the long one continues its windows (same phase), a nested long one takes two of them
    plan = bz.pp.plan_windows(["chr1:0-2000", "chr1:100-2100", "chr1:500-900"], mode="tiled", margin=32, **small)
    assert plan.n_windows == 6  # 6 + 6 + 2 windows without sharing
    a = plan.assignments
    assert a[a["region"] == 2].values.tolist() == [[2, 1, 16, 24], [2, 2, 0, 18]]  # 232 + 16 * 16 = 488 <= 500
    assert a[a["region"] == 1]["window"].tolist() == list(range(6))
    # ... but one 400 bp after the first one's last window ends (2152) gets windows of its own
    far = bz.pp.plan_windows(["chr1:0-2000", "chr1:2552-3552"], mode="tiled", margin=32, **small)
    assert far.n_windows == 6 + 3
    stranded = bz.pp.plan_windows(table([("chr1", 0, 2000), ("chr1", 100, 120)], strand=["+", "-"]), mode="tiled",
                                  margin=32, stranded=True, **small)  # fmt: skip
    assert stranded.n_windows == 7 and stranded.windows["rc"].sum() == 1  # never shared across strands


region_lists = st.lists(
    st.tuples(
        st.sampled_from(["chr1", "chr2"]),
        st.integers(0, 6_000),
        st.one_of(st.integers(1, 1_500), st.integers(1_500, 5_000)),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=80, deadline=None)
@given(region_lists, st.integers(0, 300), st.booleans())
def test_tiled_plan_covers_every_region_within_margin(rows, margin, stranded):
    # small geometry: 2048 bp windows, 16 bp bins, 16 cropped each side -> 96 bins, 1536 bp span
    df = table([(c, s, s + w) for c, s, w in rows], strand=["+-"[i % 2] for i in range(len(rows))])
    plan = bz.store.plan_tiled(df, seq_length=2048, bin_size=16, crop_bins=16, margin=margin, stranded=stranded)
    span, first = plan.span, plan.output_starts()
    assert plan.n_windows <= sum((e - s + 2 * margin) // span + 1 for s, e in df[["Start", "End"]].values)
    a = plan.assignments
    is_long = (df["End"] - df["Start"] + 2 * margin > span).to_numpy()
    long_windows = np.unique(a["window"][is_long[a["region"]]])
    w_chrom, w_rc = plan.windows["chrom"].to_numpy(), plan.windows["rc"].to_numpy()
    for region, pieces in a.groupby("region"):
        chrom, start, end, strand = df.iloc[region]
        minus = stranded and strand == "-"
        w = pieces["window"].to_numpy()
        assert (w_chrom[w] == chrom).all() and (w_rc[w] == minus).all()
        lo = first[w] + pieces["bin_start"].to_numpy() * 16
        hi = first[w] + pieces["bin_end"].to_numpy() * 16
        order = np.argsort(lo)
        lo, hi, w = lo[order], hi[order], w[order]
        assert lo[0] <= start < lo[0] + 16 and hi[-1] - 16 < end <= hi[-1]  # tightest bins at both ends
        assert np.array_equal(lo[1:], hi[:-1])  # pieces abut, no gap and no overlap
        assert np.array_equal(first[w[1:]], first[w[:-1]] + span)  # a long region's spans abut too
        # the margin at the region's outer ends, for short and long regions alike
        assert first[w[0]] + margin <= start and end <= first[w[-1]] + span - margin
        assert (len(w) > 1) == is_long[region]
        if not is_long[region] and w[0] not in long_windows:
            # a short region gets a window of its own only when no long region's window holds it
            same = long_windows[(w_chrom[long_windows] == chrom) & (w_rc[long_windows] == minus)]
            assert not ((first[same] + margin <= start) & (end <= first[same] + span - margin)).any()
    assert a["window"].is_monotonic_increasing
    assert plan.n_windows_saved == len(df) - plan.n_windows


@settings(max_examples=40, deadline=None)
@given(region_lists)
def test_tiled_never_uses_more_windows_than_centered_for_short_regions(rows):
    df = table([(c, s, s + min(w, 500)) for c, s, w in rows])
    tiled = bz.store.plan_tiled(df, seq_length=2048, bin_size=16, crop_bins=16, margin=100)
    centered = bz.store.plan_centered(df, seq_length=2048, bin_size=16, crop_bins=16)
    assert tiled.n_windows <= centered.n_windows
    # regions within one span minus margins on one chromosome need exactly one window
    if df["Chromosome"].nunique() == 1 and df["End"].max() - df["Start"].min() + 200 <= 1536:
        assert tiled.n_windows == 1
