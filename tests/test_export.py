"""bz.io.write_bigwig / write_bedgraph / IGV session and `bazenji export`, read back with pyBigWig against the store.

The expectation is computed here base by base from the store's own arrays (opened with xarray, not bazenji) by
the rule stated in bazenji.io.export: each base from the covering window whose span centre is nearest, ties to
the lower start, identical windows to the lower index.
"""

import shutil
import subprocess
import sys
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pyBigWig
import pytest
import torch
import xarray as xr

import bazenji as bz

BIN, CROP, N_BINS, L = 128, 64, 896, 131_072
SPAN = N_BINS * BIN


@pytest.fixture(scope="module", autouse=True)
def quiet():
    bz.settings.progress = False


@pytest.fixture(scope="module")
def demo():
    return bz.datasets.demo()


@pytest.fixture(scope="module")
def regions():
    # windows centred on the midpoints: overlapping at unaligned phases (bins of different windows never line up),
    # an odd distance between centres (a base exactly halfway), two identical windows, one running past the start
    # of chr1 and one past the end of chr2 (1,000,000 bp), out of genome order
    mids = {"past_end": ("chr2", 990_000), "left": ("chr1", 100_000), "right": ("chr1", 140_001),
            "right_again": ("chr1", 140_001), "near_start": ("chr1", 30_017), "alone": ("chr3", 400_000),
            "far": ("chr1", 230_300)}  # fmt: skip
    rows = [(c, m - 150, m + 150, name) for name, (c, m) in mids.items()]
    return pd.DataFrame(rows, columns=["Chromosome", "Start", "End", "Name"])


@pytest.fixture(scope="module")
def store(demo, regions, tmp_path_factory):
    path = tmp_path_factory.mktemp("export") / "windows.zarr"
    bz.tl.predict(regions, "demo", demo.fasta, store=path, keep_profiles=True, chunk_windows=3)
    return path


def store_arrays(path):
    """Window coordinates and float32 profiles read with xarray alone."""
    ds = xr.open_zarr(path, consolidated=False)
    return (np.array(ds["chrom"].values.tolist(), dtype=object), ds["start"].values.astype(np.int64),
            ds["profile"].values.astype(np.float32), [str(t) for t in ds["profile_track"].values.tolist()])  # fmt: skip


def expected_bases(chroms, starts, profile, track, chrom, size):
    """Per base of ``chrom``: the value the merge rule gives (NaN where no window covers), and the window chosen."""
    values = np.full(size, np.nan, np.float32)
    chosen = np.full(size, -1)
    best = np.full(size, np.inf)
    best_start = np.full(size, np.iinfo(np.int64).max)
    for w in range(len(chroms)):  # in window order: a later identical window never wins a tie
        if chroms[w] != chrom:
            continue
        first = starts[w] + CROP * BIN
        x = np.arange(max(first, 0), min(first + SPAN, size))
        distance = np.abs(x + 0.5 - (first + SPAN / 2))
        better = (distance < best[x]) | ((distance == best[x]) & (first < best_start[x]))
        x = x[better]
        values[x] = profile[w, (x - first) // BIN, track]
        chosen[x], best[x], best_start[x] = w, distance[better], first
    return values, chosen


def test_bigwig_equals_the_store_base_by_base_under_the_merge_rule(store, demo, tmp_path):
    out = tmp_path / "bw"
    manifest = bz.io.write_bigwig(store, out, targets=demo.targets)
    chroms, starts, profile, tracks = store_arrays(store)
    sizes = bz.io.Genome(demo.fasta).chrom_sizes
    assert list(manifest.index) == tracks and len(tracks) == 18
    assert sorted(p.name for p in out.glob("*.bw")) == sorted(manifest["file"])
    for t, track in enumerate(tracks):
        with pyBigWig.open(str(out / manifest.loc[track, "file"])) as bw:
            assert bw.chroms() == sizes
            for chrom, size in sizes.items():
                expected, _ = expected_bases(chroms, starts, profile, t, chrom, size)
                got = bw.values(chrom, 0, size, numpy=True)
                np.testing.assert_array_equal(got, expected, err_msg=f"{track} {chrom}")
                intervals = np.array(bw.intervals(chrom) or [], dtype=float).reshape(-1, 3)
                if len(intervals):  # sorted, abutting or apart, never overlapping, inside the chromosome
                    assert (intervals[1:, 0] >= intervals[:-1, 1]).all() and intervals[-1, 1] <= size
                    assert (intervals[:, 1] - intervals[:, 0]).max() == BIN
    # the rule at its edges, by hand: centres 100,000 and 140,001 put base 120,000 exactly halfway -> the left one
    windows = {name: i for i, name in enumerate(["past_end", "left", "right", "right_again", "near_start", "alone",
                                                 "far"])}  # fmt: skip
    _, chosen = expected_bases(chroms, starts, profile, 0, "chr1", sizes["chr1"])
    assert chosen[120_000] == windows["left"] and chosen[120_001] == windows["right"]
    assert windows["right_again"] not in chosen  # identical windows: the lower index supplies everything
    with pyBigWig.open(str(out / manifest["file"].iloc[0])) as bw:
        first_left = starts[windows["left"]] + CROP * BIN
        first_right = starts[windows["right"]] + CROP * BIN
        assert bw.values("chr1", 120_000, 120_001)[0] == profile[windows["left"], (120_000 - first_left) // BIN, 0]
        assert bw.values("chr1", 120_001, 120_002)[0] == profile[windows["right"], (120_001 - first_right) // BIN, 0]
        # bins past the chromosome end are not written; the last interval stops at the end
        assert bw.intervals("chr2")[-1][1] == sizes["chr2"] and bw.intervals("chr1")[0][0] == 0
        assert bw.intervals("chr4") in (None, ())


def test_full_bins_equal_the_store_bins(store, demo, tmp_path):
    """Every written 128 bp interval is one bin of one window, value for value (float16 profiles are exact)."""
    manifest = bz.io.write_bigwig(store, tmp_path, tracks=["CAGE_K562+", "DNASE_HepG2"], targets=demo.targets)
    chroms, starts, profile, tracks = store_arrays(store)
    assert list(manifest.index) == ["CAGE_K562+", "DNASE_HepG2"]
    for track in manifest.index:
        t = tracks.index(track)
        with pyBigWig.open(str(tmp_path / manifest.loc[track, "file"])) as bw:
            n_full = 0
            for chrom in ("chr1", "chr2", "chr3"):
                for start, end, value in bw.intervals(chrom):
                    if end - start < BIN:
                        continue
                    offset = start - (starts + CROP * BIN)  # from each window's first output bin
                    owners = np.flatnonzero((chroms == chrom) & (offset % BIN == 0) & (offset >= 0) & (offset < SPAN))
                    values = [profile[w, offset[w] // BIN, t] for w in owners]
                    assert np.float32(value) in values, (track, chrom, start)
                    n_full += 1
            assert n_full > 5 * N_BINS // 2  # most of the six distinct windows' bins


def test_bedgraph_has_the_bigwig_intervals_and_values(store, demo, tmp_path):
    bw_manifest = bz.io.write_bigwig(store, tmp_path / "bw", tracks="DNASE", targets=demo.targets)
    bg_manifest = bz.io.write_bedgraph(store, tmp_path / "bg", tracks="DNASE", targets=demo.targets)
    assert list(bg_manifest["file"]) == [f.replace(".bw", ".bedGraph") for f in bw_manifest["file"]]
    for track in bg_manifest.index:
        path = tmp_path / "bg" / bg_manifest.loc[track, "file"]
        header = path.read_text().splitlines()[0]
        assert header == f'track type=bedGraph name="{track}" description="{bg_manifest.loc[track, "description"]}"'
        table = pd.read_csv(path, sep="\t", skiprows=1, header=None, names=["chrom", "start", "end", "value"])
        with pyBigWig.open(str(tmp_path / "bw" / bw_manifest.loc[track, "file"])) as bw:
            expected = [(c, *iv) for c in bw.chroms() for iv in (bw.intervals(c) or [])]
        assert len(table) == len(expected)
        assert list(zip(table["chrom"], table["start"], table["end"], strict=True)) == [e[:3] for e in expected]
        np.testing.assert_array_equal(table["value"].to_numpy(np.float32), np.float32([e[3] for e in expected]))


def test_igv_session_and_manifest_list_the_tracks_with_descriptions(store, demo, tmp_path):
    manifest = bz.io.write_bigwig(store, tmp_path, targets=demo.targets)
    targets = demo.targets_table().set_index("identifier")
    root = ElementTree.parse(tmp_path / "igv_session.xml").getroot()
    assert root.tag == "Session" and root.get("genome") == str(demo.fasta.resolve())
    resources = root.findall("./Resources/Resource")
    assert [r.get("path") for r in resources] == list(manifest["file"])
    assert all((tmp_path / r.get("path")).is_file() for r in resources)
    assert [r.get("name") for r in resources] == [f"{i} {targets.loc[i, 'description']}" for i in manifest.index]
    assert [t.get("id") for t in root.findall("./Panel/Track")] == list(manifest["file"])
    chrom, span = root.get("locus").split(":")
    assert chrom == "chr1" and int(span.split("-")[0]) == 1  # the first window written: chr1 from its start
    on_disk = pd.read_csv(tmp_path / "tracks.tsv", sep="\t", index_col=0)
    assert list(on_disk["description"]) == list(targets.loc[manifest.index, "description"])
    assert not (tmp_path / "hub.txt").exists()
    bz.io.write_bigwig(store, tmp_path, targets=demo.targets, ucsc_genome="demo1", overwrite=True)
    assert ElementTree.parse(tmp_path / "igv_session.xml").getroot().get("genome") == "demo1"  # an IGV genome id
    hub = (tmp_path / "hub.txt").read_text()
    assert "useOneFile on" in hub and "genome demo1" in hub
    assert hub.count("type bigWig") == 18 and "longLabel CAGE_K562- CAGE:K562" in hub and "track CAGE_K562_minus" in hub


def test_anndata_profiles_export_like_the_store(store, demo, regions, tmp_path):
    adata = bz.tl.predict(regions, "demo", demo.fasta, keep_profiles="DNASE")
    manifest = bz.io.write_bigwig(adata, tmp_path / "a", genome=demo.fasta)
    assert list(manifest["description"]) == ["DNASE:HepG2", "DNASE:K562", "DNASE:GM12878"]  # the AnnData's var
    bz.io.write_bigwig(store, tmp_path / "s", tracks="DNASE", targets=demo.targets)
    for f in manifest["file"]:
        with pyBigWig.open(str(tmp_path / "a" / f)) as a, pyBigWig.open(str(tmp_path / "s" / f)) as s:
            for chrom in a.chroms():
                assert a.intervals(chrom) == s.intervals(chrom)


def test_bad_input(store, demo, regions, tmp_path):
    plain = tmp_path / "plain.zarr"
    bz.tl.predict(regions.iloc[:2], "demo", demo.fasta, store=plain)
    with pytest.raises(ValueError, match=r"holds no profiles .*keep_profiles=True"):
        bz.io.write_bigwig(plain, tmp_path / "x")
    with pytest.raises(ValueError, match="no obsm\\['bz_profile'\\].*keep_profiles"):
        bz.io.write_bigwig(bz.tl.predict(regions.iloc[:2], "demo", demo.fasta), tmp_path / "x")
    # a store whose prediction stopped half-way
    half = tmp_path / "half.zarr"
    shutil.copytree(store, half)
    key = xr.open_zarr(half, consolidated=False)["profile"].attrs["results_key"]
    bz.store.reset_chunks(half, key)
    with pytest.raises(ValueError, match=r"3 of 3 window chunks have no profiles yet"):
        bz.io.write_bigwig(half, tmp_path / "x")
    with pytest.raises(ValueError, match=r"windows on \['chr1', 'chr2', 'chr3'\] which the genome lacks"):
        bz.io.write_bigwig(store, tmp_path / "x", genome={"chrX": 10})
    other = bz.io.Genome({"chr1": "A" * 1_200_000, "chr2": "C" * 1_000_000, "chr3": "G" * 800_000})
    with pytest.raises(ValueError, match="cut from another genome"):
        bz.io.write_bigwig(store, tmp_path / "x", genome=other)
    with pytest.raises(ValueError, match="unknown|not found|no track"):
        bz.io.write_bigwig(store, tmp_path / "x", tracks=["NOPE"])
    with pytest.raises(ValueError, match="format='tdf'; expected one of"):
        bz.io.write_bigwig(store, tmp_path / "x", format="tdf")
    bz.io.write_bigwig(store, tmp_path / "y", tracks=0)
    with pytest.raises(FileExistsError, match="pass overwrite=True"):
        bz.io.write_bigwig(store, tmp_path / "y", tracks=0)
    assert bz.io.write_bigwig(store, tmp_path / "y", tracks=0, overwrite=True).shape[0] == 1


def test_cli_export(store, demo, tmp_path):
    command = [sys.executable, "-m", "bazenji.cli", "export", str(store), "-o", str(tmp_path / "cli"), "--tracks",
               "CAGE", "--targets", str(demo.targets), "--format", "bedgraph", "--quiet"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    files = sorted(p.name for p in (tmp_path / "cli").glob("*.bedGraph"))
    assert files == sorted(f"CAGE_{b}{s}.bedGraph" for b in ("HepG2", "K562", "GM12878") for s in "+-")
    assert "6 bedgraph files" in done.stdout and (tmp_path / "cli" / "igv_session.xml").is_file()
    bz.io.write_bedgraph(store, tmp_path / "api", tracks="CAGE", targets=demo.targets)
    for f in files:
        assert (tmp_path / "cli" / f).read_text() == (tmp_path / "api" / f).read_text()
    again = subprocess.run(command, capture_output=True, text=True, check=False)
    assert again.returncode == 2 and "--overwrite" in again.stderr
    plain = subprocess.run([sys.executable, "-m", "bazenji.cli", "export", str(tmp_path / "nothing.zarr"), "-o",
                            str(tmp_path / "z")], capture_output=True, text=True, check=False)  # fmt: skip
    assert plain.returncode == 2 and "not a bazenji window store" in plain.stderr


def direct(model, text):
    onehot = np.zeros((len(text), 4), np.float32)
    for i, base in enumerate(text):
        if base in "ACGT":
            onehot[i, "ACGT".index(base)] = 1
        else:
            onehot[i] = 0.25
    with torch.inference_mode():
        return model(torch.from_numpy(onehot[None])).numpy()[0]


def test_variant_effect_profile_at_a_locus(demo, tmp_path):
    from bazenji.tl._variant_output import variant_profiles

    genome = bz.io.Genome(demo.fasta)
    model = bz.models.load("demo")
    pos = 250_000
    ref = genome.fetch("chr1", pos - 1, pos, upper=True)
    alt = "A" if ref != "A" else "C"
    variants = pd.DataFrame({"chrom": ["chr1"], "pos": [pos], "id": ["v1"], "ref": [ref], "alt": [alt]})
    ds = variant_profiles(variants, model, genome)
    start = pos - 1 - (L // 2 - 1)  # the official window: the variant's base at index L // 2 - 1
    ref_text = genome.fetch("chr1", start, start + L, upper=True)
    alt_text = ref_text[: L // 2 - 1] + alt + ref_text[L // 2 :]
    expected = direct(model, alt_text) - direct(model, ref_text)
    np.testing.assert_allclose(ds["profile"].values[0], expected, atol=2e-5 * np.abs(expected).max())
    assert int(ds["start"].values[0]) == start
    sad = bz.tl.variant_effect(variants, model, genome)
    np.testing.assert_allclose(ds["profile"].values[0].sum(0), sad.X[0], rtol=1e-4, atol=1e-5)

    manifest = bz.io.write_bigwig(ds, tmp_path, genome=genome)
    assert manifest.loc["CAGE_K562+", "file"] == "CAGE_K562+.bw"
    first = start + CROP * BIN
    for t, track in enumerate(ds["profile_track"].values):
        with pyBigWig.open(str(tmp_path / manifest.loc[str(track), "file"])) as bw:
            got = np.array([v for _, _, v in bw.intervals("chr1")], np.float32)
            assert bw.intervals("chr1")[0][:2] == (first, first + BIN) and len(got) == N_BINS
            np.testing.assert_array_equal(got, ds["profile"].values[0, :, t].astype(np.float32))


def test_tiled_store_follows_the_same_rule(demo, regions, tmp_path):
    """Tiled windows (shared by nearby regions, placed at their own offsets) merge by the same rule."""
    store = tmp_path / "tiled.zarr"
    bz.tl.predict(regions, "demo", demo.fasta, store=store, mode="tiled", keep_profiles=["DNASE_K562"])
    manifest = bz.io.write_bigwig(store, tmp_path / "bw")
    chroms, starts, profile, tracks = store_arrays(store)
    assert tracks == ["DNASE_K562"] and len(chroms) < len(regions)  # windows were shared
    sizes = bz.io.Genome(demo.fasta).chrom_sizes
    with pyBigWig.open(str(tmp_path / "bw" / manifest["file"].iloc[0])) as bw:
        for chrom in ("chr1", "chr2", "chr3"):
            expected, _ = expected_bases(chroms, starts, profile, 0, chrom, sizes[chrom])
            np.testing.assert_array_equal(bw.values(chrom, 0, sizes[chrom], numpy=True), expected)
