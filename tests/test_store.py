import gzip
import pickle
import shutil
import warnings
from pathlib import Path
from types import SimpleNamespace

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import xarray as xr
import zarr
from hypothesis import given, settings
from hypothesis import strategies as st
from test_genome import write_bgzf

import bazenji as bz
from bazenji.pp import _encode

# r2 is longer than the output span on purpose: centered mode warns about it
pytestmark = pytest.mark.filterwarnings("ignore:1 regions are longer")

GEOMETRY = {"seq_length": 512, "bin_size": 16, "crop_bins": 4}  # 24 bins of 16 bp: a 384 bp output span


def ref_window(seq: str, start: int, length: int, rc: bool = False) -> np.ndarray:
    """Plain-numpy one-hot of ``seq[start:start+length]`` with N outside, from the definition."""
    text = "".join(seq[i] if 0 <= i < len(seq) else "N" for i in range(start, start + length)).upper()
    if rc:
        text = text[::-1].translate(str.maketrans("ACGT", "TGCA"))
    out = np.zeros((length, 4), np.uint8)
    for i, ch in enumerate(text):
        if ch in "ACGT":
            out[i, "ACGT".index(ch)] = 1
    return out


@pytest.fixture(scope="module")
def seqs():
    rng = np.random.default_rng(7)
    chr1 = "".join(rng.choice(list("ACGTacgt"), 3000))
    chr1 = chr1[:700] + "N" * 300 + chr1[1000:1500] + "RYKMnnSW-" + chr1[1509:]
    return {"chr1": chr1, "chr2": "".join(rng.choice(list("ACGT"), 900)), "chr3": "acgtn" * 40}


@pytest.fixture
def fasta(tmp_path, seqs):
    path = tmp_path / "g.fa"
    path.write_text(
        "".join(f">{k}\n" + "\n".join(v[i : i + 70] for i in range(0, len(v), 70)) + "\n" for k, v in seqs.items())
    )
    return path


BED_ROWS = ["chr1 10 60 r1 0 +", "chr1 650 1100 r2 0 -", "chr1 2950 3000 r3 0 -", "chr2 700 720 r4 0 +",
            "chr3 100 180 r5 0 -", "chr2 800 900 r6 0 ."]  # fmt: skip
BED = "".join(row.replace(" ", "\t") + "\n" for row in BED_ROWS)


@pytest.fixture
def bed(tmp_path):
    path = tmp_path / "r.bed"
    path.write_text(BED)
    return path


def expected_onehot(plan, seqs):
    return np.stack(
        [ref_window(seqs[c], s, plan.seq_length, rc) for c, s, rc in plan.windows[["chrom", "start", "rc"]].values]
    )


@pytest.fixture(autouse=True)
def quiet():
    old = bz.settings.progress
    bz.settings.progress = False
    yield
    bz.settings.progress = old


@pytest.mark.parametrize("stranded", [False, True])
@pytest.mark.parametrize("mode", ["centered", "tiled"])
def test_store_equals_numpy_reference(tmp_path, fasta, bed, seqs, mode, stranded):
    path = bz.pp.encode(
        bed, fasta, tmp_path / "s.zarr", mode=mode, stranded=stranded, margin=32, chunk_windows=2, **GEOMETRY
    )
    plan = bz.store.read_plan(path)
    if mode == "centered":
        # window i is region i, centred: start = (Start + End) // 2 - 256
        assert plan.windows["start"].tolist() == [35 - 256, 875 - 256, 2975 - 256, 710 - 256, 140 - 256, 850 - 256]
        assert plan.windows["rc"].tolist() == ([False, True, True, False, True, False] if stranded else [False] * 6)
    else:
        # r4 and r6 share a window; r2 (450 bp) is longer than a 384 bp span and takes two
        assert plan.n_windows == 6 and (plan.assignments["region"] == 1).sum() == 2
        assert plan.windows["rc"].any() == stranded
    ds = bz.store.open(path)
    assert ds["onehot"].dtype == np.uint8 and ds["onehot"].dims == ("window", "position", "base")
    assert np.array_equal(ds["onehot"].values, expected_onehot(plan, seqs))
    assert ds["chrom"].values.tolist() == plan.windows["chrom"].tolist()
    assert ds["base"].values.tolist() == list("ACGT")
    assert ds["done"].values.all() and ds.attrs["complete"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # unconsolidated metadata
        plain = xr.open_zarr(str(path))
    assert np.array_equal(plain["onehot"].values, ds["onehot"].values)
    assert np.array_equal(plain["start"].values, plan.windows["start"].to_numpy())


def test_attrs_layout_and_chunking(tmp_path, fasta, bed):
    genome = bz.io.Genome(fasta)
    path = bz.pp.encode(bed, genome, tmp_path / "s.zarr", chunk_windows=4, **GEOMETRY)
    meta = bz.store.attrs(path)
    assert meta["bazenji_format"] == "window-store" and meta["format_version"] == 1
    assert (meta["seq_length"], meta["bin_size"], meta["crop_bins"], meta["n_bins"]) == (512, 16, 4, 24)
    assert meta["alphabet"] == "ACGT" and meta["genome_fingerprint"] == genome.fingerprint
    assert meta["genome_path"] == str(fasta) and meta["n_chunks"] == 2 and meta["chunk_windows"] == 4
    onehot = zarr.open_array(str(tmp_path / "s.zarr" / "onehot"), mode="r")
    assert onehot.chunks == (4, 512, 4) and onehot.metadata.zarr_format == 3
    ds = bz.store.open(path)
    assert ds["piece_region"].values.tolist() == list(range(6))
    assert ds["region"].values.tolist() == ["r1", "r2", "r3", "r4", "r5", "r6"]
    assert bz.store.chunk_bounds(path, 1) == (4, 6)


def test_input_kinds_round_trip(tmp_path, fasta, seqs):
    frame = pd.DataFrame({"chrom": ["chr1", "chr2"], "chromStart": [5, 100], "chromEnd": [50, 300]})
    peaks = tmp_path / "p.narrowPeak"
    peaks.write_text("chr1\t5\t50\tp\t0\t.\t1\t1\t1\t10\nchr2\t100\t300\tq\t0\t.\t1\t1\t1\t-1\n")
    gz = tmp_path / "r.bed.gz"
    gz.write_bytes(gzip.compress(b"chr1\t5\t50\nchr2\t100\t300\n"))
    cells = ad.AnnData(X=np.zeros((3, 2), np.float32), var=pd.DataFrame(index=["chr1:5-50", "chr2-100-300"]))
    sources = [frame, peaks, gz, cells, bz.pp.regions(frame), ["chr1:5-50", "chr2:100-300"]]
    pr = pytest.importorskip("pyranges")
    sources.append(pr.PyRanges(frame.rename(columns={"chrom": "Chromosome", "chromStart": "Start", "chromEnd": "End"})))
    for i, source in enumerate(sources):
        path = bz.pp.encode(source, fasta, tmp_path / f"s{i}.zarr", **GEOMETRY)
        plan = bz.store.read_plan(path)
        assert sorted(plan.windows["start"].tolist()) == sorted([27 - 256, 200 - 256])
        assert np.array_equal(bz.store.open(path)["onehot"].values, expected_onehot(plan, seqs))


# N run (chr1 700-1000), IUPAC codes (chr1 1500-1509), chromosome starts and ends (chr2 is 900 bp, chr3 200 bp)
STRANDED = [("chr1", 5, 50, "+"), ("chr1", 800, 900, "-"), ("chr1", 1480, 1530, "-"), ("chr2", 850, 890, "-"),
            ("chr3", 90, 110, "+")]  # fmt: skip


def test_stranded_input_kinds_round_trip(tmp_path, fasta, seqs):
    frame = pd.DataFrame(STRANDED, columns=["Chromosome", "Start", "End", "Strand"])
    # narrowPeak rows shifted 5 bp left, their summits at the midpoints above: summit=True gives back the regions
    peaks = tmp_path / "p.narrowPeak"
    peaks.write_text("".join(f"{c}\t{s - 5}\t{e - 5}\tp{i}\t0\t{strand}\t1\t1\t1\t{(e - s) // 2 + 5}\n"
                             for i, (c, s, e, strand) in enumerate(STRANDED)))  # fmt: skip
    obs = pd.DataFrame(STRANDED, columns=["chrom", "start", "end", "strand"], index=[f"r{i}" for i in range(5)])
    sources = {"DataFrame": frame, "narrowPeak summit=True": bz.pp.regions(peaks, summit=True),
               "AnnData .obs columns": ad.AnnData(obs=obs), "regions AnnData": bz.pp.regions(frame)}  # fmt: skip
    pr = pytest.importorskip("pyranges")
    sources["pyranges"] = pr.PyRanges(frame)
    # by hand: centred windows start at (Start + End) // 2 - 256; minus-strand ones are reverse-complemented
    expected = sorted([("chr1", 27 - 256, False), ("chr1", 850 - 256, True), ("chr1", 1505 - 256, True),
                       ("chr2", 870 - 256, True), ("chr3", 100 - 256, False)])  # fmt: skip
    for i, (kind, source) in enumerate(sources.items()):
        path = bz.pp.encode(source, fasta, tmp_path / f"s{i}.zarr", stranded=True, chunk_windows=2, **GEOMETRY)
        plan = bz.store.read_plan(path)
        assert sorted(map(tuple, plan.windows[["chrom", "start", "rc"]].values.tolist())) == expected, kind
        assert np.array_equal(bz.store.open(path)["onehot"].values, expected_onehot(plan, seqs)), kind
    tiled = bz.pp.encode(frame, fasta, tmp_path / "tiled.zarr", stranded=True, mode="tiled", margin=32, **GEOMETRY)
    plan = bz.store.read_plan(tiled)
    assert plan.windows["rc"].sum() == 3  # the three minus-strand regions are too far apart to share
    assert np.array_equal(bz.store.open(tiled)["onehot"].values, expected_onehot(plan, seqs))


def test_bgzip_genome_gives_the_same_store(tmp_path, fasta, bed):
    gz = tmp_path / "g.fa.gz"
    write_bgzf(gz, fasta.read_bytes(), block=200)
    a = bz.pp.encode(bed, fasta, tmp_path / "a.zarr", **GEOMETRY)
    b = bz.pp.encode(bed, gz, tmp_path / "b.zarr", **GEOMETRY)
    assert np.array_equal(bz.store.open(a)["onehot"].values, bz.store.open(b)["onehot"].values)
    assert bz.store.attrs(a)["genome_fingerprint"] == bz.store.attrs(b)["genome_fingerprint"]


def test_interrupted_encode_resumes_to_the_same_store(tmp_path, fasta, bed, monkeypatch):
    full = bz.pp.encode(bed, fasta, tmp_path / "full.zarr", chunk_windows=1, writers=1, **GEOMETRY)
    calls = {"n": 0}
    real = _encode.zstore.write_onehot_chunk

    def crash_on_third(*args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(_encode.zstore, "write_onehot_chunk", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        bz.pp.encode(bed, fasta, tmp_path / "part.zarr", chunk_windows=1, writers=1, **GEOMETRY)
    monkeypatch.setattr(_encode.zstore, "write_onehot_chunk", real)
    part = str(tmp_path / "part.zarr")
    assert bz.store.encoded_chunks(part).tolist() == [True, True, False, False, False, False]
    assert not bz.store.attrs(part)["complete"]
    # the unfinished windows would read as all-N: every reader refuses the store and says how to finish it
    for read in (lambda: next(bz.store.iter_batches(part, 2)), lambda: bz.store.WindowDataset(part)[0],
                 lambda: bz.store.check_complete(bz.store.open(part))):  # fmt: skip
        with pytest.raises(ValueError, match=r"incomplete: 4 of 6 window chunks .*\[2, 3, 4, 5\].*bz\.pp\.encode"):
            read()
    # a chunk written but not flagged (a crash between the two writes) must be redone too
    zarr.open_array(part + "/onehot", mode="r+")[1] = 1
    zarr.open_array(part + "/done", mode="r+")[1] = False
    bz.pp.encode(bed, fasta, part, **GEOMETRY)
    a, b = bz.store.open(full), bz.store.open(part)
    for name in a.variables:
        assert np.array_equal(a[name].values, b[name].values), name
    assert a.attrs == b.attrs


def test_leftover_partial_folder_is_ignored(tmp_path, fasta, bed):
    (tmp_path / "s.zarr.partial").mkdir()
    (tmp_path / "s.zarr.partial" / "junk").write_text("x")
    path = bz.pp.encode(bed, fasta, tmp_path / "s.zarr", **GEOMETRY)
    assert bz.store.attrs(path)["complete"] and not (tmp_path / "s.zarr.partial").exists()


def test_mismatched_store_needs_overwrite(tmp_path, fasta, bed, seqs):
    path = bz.pp.encode(bed, fasta, tmp_path / "s.zarr", **GEOMETRY)
    other = dict(seqs, chr2=seqs["chr2"][:-1])
    with pytest.raises(ValueError, match=r"made with genome .*g\.fa 3seq-.*not \(in memory\).*overwrite=True"):
        bz.pp.encode(bed, other, path, **GEOMETRY)
    with pytest.raises(ValueError, match="seq_length=512, not 1024"):
        bz.pp.encode(bed, fasta, path, **dict(GEOMETRY, seq_length=1024))
    with pytest.raises(ValueError, match="other windows or regions"):
        bz.pp.encode(["chr1:5-50"], fasta, path, **GEOMETRY)
    bz.pp.encode(bed, fasta, path, overwrite=True, **dict(GEOMETRY, seq_length=1024))
    assert bz.store.open(path)["onehot"].shape == (6, 1024, 4)
    assert sorted(p.name for p in tmp_path.iterdir() if ".removing-" in p.name) == []  # the old store is gone
    (tmp_path / "notastore").mkdir()
    with pytest.raises(FileExistsError, match="not a bazenji window store"):
        bz.pp.encode(bed, fasta, tmp_path / "notastore", overwrite=True, **GEOMETRY)


def test_plan_given_with_stranded_is_replanned(tmp_path, fasta, bed, seqs):
    plan = bz.pp.plan_windows(bed, **GEOMETRY)
    path = bz.pp.encode(plan, fasta, tmp_path / "s.zarr", stranded=True)
    stored = bz.store.read_plan(path)
    assert stored.stranded and stored.windows["rc"].tolist() == [False, True, True, False, True, False]
    assert np.array_equal(bz.store.open(path)["onehot"].values, expected_onehot(stored, seqs))


def test_iter_batches_reads_every_window_once_in_order(tmp_path, fasta, bed, seqs):
    path = bz.pp.encode(bed, fasta, tmp_path / "s.zarr", chunk_windows=4, **GEOMETRY)
    full = bz.store.open(path)["onehot"].values
    for prefetch in (True, False):
        got = list(bz.store.iter_batches(path, 3, prefetch=prefetch))
        assert [len(i) for i, _ in got] == [3, 3]
        assert np.array_equal(np.concatenate([i for i, _ in got]), np.arange(6))
        assert np.array_equal(np.concatenate([x for _, x in got]), full)
    picked = [5, 0, 1, 4]
    got = list(bz.store.iter_batches(bz.store.open(path), 5, windows=picked))
    assert len(got) == 1 and got[0][0].tolist() == picked and np.array_equal(got[0][1], full[picked])
    first = next(iter(bz.store.iter_batches(path, 1)))  # abandoning the iterator must not hang
    assert first[1].shape == (1, 512, 4)
    with pytest.raises(IndexError, match=r"0\.\.5"):
        list(bz.store.iter_batches(path, 2, windows=[6]))
    with pytest.raises(ValueError, match="batch_size=0"):
        list(bz.store.iter_batches(path, 0))


def test_window_dataset_pickles_and_serves_windows(tmp_path, fasta, bed):
    path = bz.pp.encode(bed, fasta, tmp_path / "s.zarr", chunk_windows=4, **GEOMETRY)
    full = bz.store.open(path)["onehot"].values
    data = pickle.loads(pickle.dumps(bz.store.WindowDataset(path, windows=[5, 2])))
    assert len(data) == 2 and np.array_equal(data[0], full[5]) and np.array_equal(data[1], full[2])


def test_progress_bar_follows_settings(tmp_path, fasta, bed, capsys):
    bz.pp.encode(bed, fasta, tmp_path / "a.zarr", **GEOMETRY)
    assert "encode" not in capsys.readouterr().err
    bz.settings.progress = True
    bz.pp.encode(bed, fasta, tmp_path / "b.zarr", **GEOMETRY)
    assert "encode" in capsys.readouterr().err


def test_store_module_has_no_torch_and_remove_refuses_other_folders(tmp_path):
    import ast
    import pathlib

    for file in pathlib.Path(bz.store.__file__).parent.glob("*.py"):
        tree = ast.parse(file.read_text())
        imported = {n.name for node in ast.walk(tree) if isinstance(node, ast.Import) for n in node.names}
        imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert not any(name.split(".")[0] == "torch" for name in imported), file
    (tmp_path / "x").mkdir()
    with pytest.raises(ValueError, match="refusing"):
        bz.store.remove(tmp_path / "x")
    shutil.rmtree(tmp_path / "x")


def test_iter_batches_passes_reader_errors_on(tmp_path, fasta, bed, monkeypatch):
    from bazenji.store import _batches

    path = bz.pp.encode(bed, fasta, tmp_path / "s.zarr", chunk_windows=2, **GEOMETRY)
    real = _batches._ChunkReader.read

    def fail_on_chunk_2(self, chunk, windows):
        if chunk == 2:
            raise OSError("disk gone")
        return real(self, chunk, windows)

    monkeypatch.setattr(_batches._ChunkReader, "read", fail_on_chunk_2)
    seen = []
    with pytest.raises(OSError, match="disk gone"):
        for idx, _ in bz.store.iter_batches(path, 2):
            seen += idx.tolist()
    assert seen == [0, 1, 2, 3]
    for _ in bz.store.iter_batches(path, 2, windows=[0, 1, 2, 3]):  # stop before the producer's end mark
        break


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 9), min_size=0, max_size=8), st.integers(1, 10))
def test_rebatch_regroups_chunks_into_full_batches(chunk_sizes, batch_size):
    from bazenji.store._batches import _rebatch

    total = sum(chunk_sizes)
    bounds = np.cumsum([0, *chunk_sizes])
    chunks = [(np.arange(a, b), np.arange(a, b) * 10) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    batches = list(_rebatch(iter(chunks), batch_size))
    sizes = [len(i) for i, _ in batches]
    assert sizes == [batch_size] * (total // batch_size) + ([total % batch_size] if total % batch_size else [])
    if batches:
        assert np.array_equal(np.concatenate([i for i, _ in batches]), np.arange(total))
        assert np.array_equal(np.concatenate([v for _, v in batches]), np.arange(total) * 10)


def test_encode_on_dask_workers_equals_local(tmp_path, fasta, bed):
    distributed = pytest.importorskip("dask.distributed")
    local = bz.pp.encode(bed, fasta, tmp_path / "local.zarr", chunk_windows=2, **GEOMETRY)
    with distributed.Client(processes=False, n_workers=2, threads_per_worker=1, dashboard_address=None) as client:
        remote = bz.pp.encode(bed, fasta, tmp_path / "dask.zarr", chunk_windows=2, client=client, **GEOMETRY)
    a, b = bz.store.open(local), bz.store.open(remote)
    assert b.attrs["complete"] and np.array_equal(a["onehot"].values, b["onehot"].values)


def test_prefetched_reads_ahead_in_order_and_passes_errors_on():
    import threading

    from bazenji.store._batches import prefetched

    second_started = threading.Event()

    def items():
        yield 0
        second_started.set()  # only a producer running ahead of the consumer gets here while item 0 is in use
        yield 1
        raise OSError("disk gone")

    got = prefetched(items())
    assert next(got) == 0
    assert second_started.wait(timeout=10), "the next item was not produced while the current one was in use"
    assert next(got) == 1
    with pytest.raises(OSError, match="disk gone"):
        next(got)

    before = threading.active_count()
    endless = prefetched(iter(int, 1), depth=2)  # never ends on its own
    assert next(endless) == 0
    endless.close()  # stopping early ends the producer thread
    assert threading.active_count() == before


@pytest.fixture
def memory_url():
    """A ``memory://`` store URL (fsspec's in-process filesystem), emptied afterwards."""
    fsspec = pytest.importorskip("fsspec")
    memory = fsspec.filesystem("memory")
    yield "memory://bazenji-store-test/s.zarr", memory
    if memory.exists("/bazenji-store-test"):
        memory.rm("/bazenji-store-test", recursive=True)


def test_encode_into_an_fsspec_url_equals_a_local_store(tmp_path, fasta, bed, seqs, memory_url, monkeypatch):
    url, memory = memory_url
    options = dict(stranded=True, mode="tiled", margin=32, chunk_windows=2, **GEOMETRY)
    local = bz.pp.encode(bed, fasta, tmp_path / "s.zarr", **options)
    real = _encode.zstore.write_onehot_chunk
    calls = {"n": 0}

    def crash_on_second(*args):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(_encode.zstore, "write_onehot_chunk", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        bz.pp.encode(bed, fasta, url, writers=1, **options)
    monkeypatch.setattr(_encode.zstore, "write_onehot_chunk", real)
    assert bz.store.is_store(url) and bz.store.encoded_chunks(url).tolist() == [True, False, False]
    with pytest.raises(ValueError, match="incomplete"):
        bz.store.check_complete(url)
    assert bz.pp.encode(bed, fasta, url, **options) == url  # resumed in place
    a, b = bz.store.open(local), bz.store.open(url)
    for name in a.variables:
        assert np.array_equal(a[name].values, b[name].values), name
    assert a.attrs == b.attrs and b.attrs["complete"] and b.attrs["created"]
    assert np.array_equal(b["onehot"].values, expected_onehot(bz.store.read_plan(url), seqs))
    assert np.array_equal(xr.open_zarr(url, consolidated=False)["onehot"].values, a["onehot"].values)
    with pytest.raises(ValueError, match="seq_length=512, not 1024"):
        bz.pp.encode(bed, fasta, url, **dict(options, seq_length=1024))
    bz.pp.encode(["chr2:10-20"], fasta, url, overwrite=True, **GEOMETRY)
    assert bz.store.open(url)["onehot"].shape == (1, 512, 4)
    # a store whose creation at the URL stopped half-way (created False) is built again, not resumed or refused
    zarr.open_group(url, mode="r+").attrs["created"] = False
    memory.rm("/bazenji-store-test/s.zarr/onehot", recursive=True)
    bz.pp.encode(bed, fasta, url, **options)
    assert np.array_equal(bz.store.open(url)["onehot"].values, a["onehot"].values)
    bz.store.remove(url)
    assert not memory.exists("/bazenji-store-test/s.zarr") and not bz.store.exists(url)
    memory.pipe("/bazenji-store-test/other/zarr.json", b'{"zarr_format": 3, "node_type": "group"}')
    with pytest.raises(FileExistsError, match="not a bazenji window store"):
        bz.pp.encode(bed, fasta, "memory://bazenji-store-test/other", **GEOMETRY)


def test_predict_from_a_store_encoded_at_a_url(tmp_path, fasta, bed, memory_url):
    import torch
    from conftest import small_config

    url, _ = memory_url
    torch.manual_seed(0)
    model = bz.models.Basenji2(small_config(gelu="erf"), targets=[f"t{i}" for i in range(12)]).eval()
    local = bz.pp.encode(bed, fasta, tmp_path / "s.zarr", model=model)
    bz.pp.encode(bed, fasta, url, model=model)
    expected = bz.tl.predict(local, model, keep_profiles=True)
    got = bz.tl.predict(url, model, keep_profiles=True)
    np.testing.assert_array_equal(got.X, expected.X)
    np.testing.assert_array_equal(got.obsm["bz_profile"], expected.obsm["bz_profile"])
    assert got.uns["bazenji"]["store"] == url and bz.store.results_keys(url) == bz.store.results_keys(local)
    # regions in, a store at a URL: predict encodes into it and reads it back through zarr
    direct = bz.tl.predict(bed, model, fasta, store=f"{url}-direct")
    np.testing.assert_array_equal(direct.X, expected.X)
    assert direct.uns["bazenji"]["store"] == f"{url}-direct" and bz.store.is_store(f"{url}-direct")
    # pathlib collapses a URL's '//': refused with the way round it, instead of a local folder named 'memory:'
    with pytest.raises(ValueError, match=r"'memory:/x/s.zarr' looks like an fsspec URL.*bz.tl.predict\(URL, model\)"):
        bz.pp.encode(bed, fasta, Path("memory://x/s.zarr"), model=model)
    assert not Path("memory:").exists()


def test_plan_options_must_agree_with_a_given_plan(tmp_path, fasta, bed):
    plan = bz.pp.plan_windows(bed, mode="tiled", margin=32, **GEOMETRY)
    with pytest.raises(ValueError, match=r"the plan has seq_length=512 but encode was given seq_length=1024"):
        bz.pp.encode(plan, fasta, tmp_path / "a.zarr", seq_length=1024)
    model = SimpleNamespace(config=SimpleNamespace(seq_length=4096, bin_size=32, crop_bins=16))
    with pytest.raises(ValueError, match=r"seq_length=512, bin_size=16, crop_bins=4 but .*seq_length=4096, "
                                         r"bin_size=32, crop_bins=16 \(from the model SimpleNamespace\)"):  # fmt: skip
        bz.pp.encode(plan, fasta, tmp_path / "a.zarr", model=model)
    with pytest.raises(ValueError, match=r"mode='tiled' but encode was given mode='centered'"):
        bz.pp.encode(plan, fasta, tmp_path / "a.zarr", mode="centered")
    with pytest.raises(ValueError, match=r"margin=32 but encode was given margin=64"):
        bz.pp.encode(plan, fasta, tmp_path / "a.zarr", margin=64)
    assert not (tmp_path / "a.zarr").exists()
    # options that agree with the plan are accepted (and give the plan's windows)
    path = bz.pp.encode(plan, fasta, tmp_path / "a.zarr", mode="tiled", margin=32, **GEOMETRY)
    assert bz.store.read_plan(path).equals(plan)
