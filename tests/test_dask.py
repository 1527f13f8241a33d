"""bz.pp.encode and bz.tl.predict on a real dask.distributed LocalCluster (2 worker processes, loopback).

Worker processes get a test plugin that logs every chunk write (stage, chunk, dask key, pid) and
injects faults: a file ``exit-<stage>-<chunk>`` in the fault folder makes the first worker to write that
chunk die on the spot (``os._exit``), ``raise-<stage>-<chunk>`` makes it raise. Whoever removes the
file acts, so each fault fires once however many workers race for it.

The single-process references run with one thread (``bz.settings.n_threads = 1``), like each worker
(dask's nanny sets ``OMP_NUM_THREADS=1``): the fast CPU inference path's oneDNN dilated convolutions
split their sums by thread count, so only equal thread counts give bitwise equal floats.
"""

import os
import re
import time
from collections import Counter
from contextlib import contextmanager

import numba
import numpy as np
import pandas as pd
import pytest
import torch
from conftest import randomize_batch_norm, small_config
from distributed import Client, LocalCluster, WorkerPlugin

import bazenji as bz
from bazenji.models import Basenji2

CHUNK = 3


class InjectedFault(RuntimeError):
    pass


class Faults(WorkerPlugin):
    """Logs chunk writes on the workers and injects the faults asked for by files in ``directory``."""

    name = "bazenji-test-faults"

    def __init__(self, directory):
        self.directory = str(directory)

    def setup(self, worker):
        from distributed.worker import thread_state

        import bazenji.models
        import bazenji.store
        import bazenji.store._zarr
        import bazenji.tl._dask

        if getattr(bazenji.store, "_faults_installed", False):
            return
        bazenji.store._faults_installed = True
        directory = self.directory

        def log(line):
            with open(os.path.join(directory, "log"), "a") as handle:
                handle.write(f"{line} {getattr(thread_state, 'key', '-')} {os.getpid()}\n")

        def hooked(stage, original, chunk_position):
            def write(path, *args, **kwargs):
                chunk = int(args[chunk_position])
                log(f"{stage} {chunk}")
                for action in ("exit", "raise"):
                    try:
                        os.remove(os.path.join(directory, f"{action}-{stage}-{chunk}"))
                    except FileNotFoundError:
                        continue
                    if action == "exit":
                        os._exit(1)
                    raise InjectedFault(f"{stage} chunk {chunk}")
                return original(path, *args, **kwargs)

            return write

        bazenji.store.write_chunk = hooked("predict", bazenji.store.write_chunk, 1)
        bazenji.store._zarr.write_onehot_chunk = hooked("encode", bazenji.store._zarr.write_onehot_chunk, 0)
        build, load = bazenji.tl._dask.ModelWeights.build, bazenji.models.load

        def logged_build(self):
            log("build -1")
            return build(self)

        def logged_load(*args, **kwargs):
            log("load -1")
            return load(*args, **kwargs)

        bazenji.tl._dask.ModelWeights.build = logged_build
        bazenji.models.load = logged_load


def read_log(directory):
    path = directory / "log"
    if not path.exists():
        return []
    rows = [line.split() for line in path.read_text().splitlines()]
    return [(stage, int(chunk), key, int(pid)) for stage, chunk, key, pid in rows]


def fault(directory, action, stage, chunk):
    (directory / f"{action}-{stage}-{chunk}").touch()


def wait_idle(client, timeout=20):
    """Until no worker executes anything (cancelled tasks run to their end on the worker)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(client.run(lambda dask_worker: dask_worker.state.executing_count).values()):
            return
        time.sleep(0.05)
    raise TimeoutError("workers still busy")


@pytest.fixture(scope="module")
def genome_path(tmp_path_factory):
    rng = np.random.default_rng(3)
    chroms = {"chr1": "".join(rng.choice(list("ACGT"), 120_000)), "chr2": "".join(rng.choice(list("ACGTN"), 60_000))}
    path = tmp_path_factory.mktemp("genome") / "g.fa"
    with open(path, "w") as handle:
        for name, seq in chroms.items():
            handle.write(f">{name}\n" + "\n".join(seq[i : i + 60] for i in range(0, len(seq), 60)) + "\n")
    return path


@pytest.fixture(scope="module")
def regions():
    rng = np.random.default_rng(4)
    chrom = np.where(np.arange(20) % 4 == 0, "chr2", "chr1")
    start = np.where(chrom == "chr1", rng.integers(0, 119_000, 20), rng.integers(0, 59_000, 20))
    return pd.DataFrame(
        {"Chromosome": chrom, "Start": start, "End": start + rng.integers(100, 2_000, 20),
         "Name": [f"r{i}" for i in range(20)]}
    )  # fmt: skip


@contextmanager
def one_thread():
    torch_threads, numba_threads, setting = torch.get_num_threads(), numba.get_num_threads(), bz.settings.n_threads
    bz.settings.n_threads = 1  # torch and numba: numba's OpenMP kernels would otherwise reset torch's count
    try:
        yield
    finally:
        bz.settings._n_threads = setting
        torch.set_num_threads(torch_threads)
        numba.set_num_threads(numba_threads)


def make_model(seed):
    torch.manual_seed(seed)
    model = randomize_batch_norm(Basenji2(small_config(gelu="erf"), targets=[f"t{i}" for i in range(12)]), seed)
    with torch.no_grad():
        model.head.weight.mul_(20)
    return model.eval()


@pytest.fixture(scope="module")
def model():
    return make_model(0)


@pytest.fixture(scope="module")
def reference(model, genome_path, regions, tmp_path_factory):
    """The single-process run: its store (one-hot, profiles) and its AnnData."""
    bz.settings.progress = False
    store = tmp_path_factory.mktemp("reference") / "w.zarr"
    with one_thread():
        adata = bz.tl.predict(regions, model, genome_path, store=store, chunk_windows=CHUNK, keep_profiles=True)
    return store, adata


@pytest.fixture(scope="module")
def faults(tmp_path_factory):
    return tmp_path_factory.mktemp("faults")


@pytest.fixture(scope="module")
def client(faults):
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        client.register_plugin(Faults(faults))
        yield client


@pytest.fixture(autouse=True)
def fresh_log(faults):
    (faults / "log").unlink(missing_ok=True)
    yield
    assert not [p.name for p in faults.iterdir() if p.name != "log"], "a fault was asked for and never fired"


def assert_same_store(a, b):
    a, b = bz.store.open(a), bz.store.open(b)
    assert a.attrs["complete"] and b.attrs["complete"]
    np.testing.assert_array_equal(a["onehot"].values, b["onehot"].values)
    np.testing.assert_array_equal(a["profile"].values, b["profile"].values)


def test_encode_and_predict_on_workers_equal_single_process(client, model, genome_path, regions, reference, faults,
                                                            tmp_path):  # fmt: skip
    store = tmp_path / "w.zarr"
    adata = bz.tl.predict(regions, model, genome_path, store=store, chunk_windows=CHUNK, keep_profiles=True,
                          client=client)  # fmt: skip
    np.testing.assert_array_equal(adata.X, reference[1].X)  # bitwise, float32
    assert adata.X.dtype == np.float32 and list(adata.obs_names) == list(reference[1].obs_names)
    assert_same_store(store, reference[0])
    assert adata.uns["bazenji"]["device"] == "cpu"

    log = read_log(faults)
    n_chunks = -(-len(regions) // CHUNK)
    writes = Counter((stage, chunk) for stage, chunk, _, _ in log if stage in ("encode", "predict"))
    assert writes == Counter({(stage, c): 1 for stage in ("encode", "predict") for c in range(n_chunks)})
    for stage, chunk, key, _ in log:  # named tasks, one per chunk
        if stage in ("encode", "predict"):
            assert re.fullmatch(rf"bazenji-{stage}-[0-9a-f]+-[0-9a-f]{{8}}-{chunk}", key), key
    workers = {pid for stage, _, _, pid in log if stage == "predict"}
    builds = [pid for stage, _, _, pid in log if stage == "build"]
    assert len(workers) == 2 and len(builds) == len(set(builds)) <= 2  # the model is built once per worker at most

    # A second call with the same store and parameters finds every chunk done: no task at all.
    (faults / "log").unlink()
    again = bz.tl.predict(store, model, client=client)
    np.testing.assert_array_equal(again.X, reference[1].X)
    assert read_log(faults) == []


def test_model_given_by_path_is_loaded_by_each_worker(client, genome_path, regions, faults, tmp_path):
    other = make_model(7)
    path = other.save(tmp_path / "model")
    with one_thread():
        local = bz.tl.predict(regions, other, genome_path, chunk_windows=CHUNK, tracks=["t2", "t5"], rc=True)
    remote = bz.tl.predict(regions, str(path), genome_path, chunk_windows=CHUNK, tracks=["t2", "t5"], rc=True,
                           client=client, batch_size=2)  # fmt: skip
    np.testing.assert_array_equal(remote.X, local.X)
    loads = [pid for stage, _, _, pid in read_log(faults) if stage == "load"]
    assert 1 <= len(loads) == len(set(loads)) <= 2


def test_worker_killed_mid_chunk_loses_only_that_chunk(client, model, genome_path, regions, reference, faults,
                                                       tmp_path):  # fmt: skip
    fault(faults, "exit", "encode", 2)  # the worker dies inside chunk 2's task, before writing it
    fault(faults, "exit", "predict", 4)
    store = tmp_path / "w.zarr"
    adata = bz.tl.predict(regions, model, genome_path, store=store, chunk_windows=CHUNK, keep_profiles=True,
                          client=client)  # fmt: skip
    np.testing.assert_array_equal(adata.X, reference[1].X)
    assert_same_store(store, reference[0])
    writes = Counter((stage, chunk) for stage, chunk, _, _ in read_log(faults) if stage in ("encode", "predict"))
    n_chunks = -(-len(regions) // CHUNK)
    expected = Counter({(stage, c): 1 for stage in ("encode", "predict") for c in range(n_chunks)})
    expected[("encode", 2)] = expected[("predict", 4)] = 2  # the killed attempt and dask's retry, nothing else
    assert writes == expected


def test_rerun_after_interruption_recomputes_nothing_done(client, model, genome_path, regions, reference, faults,
                                                          tmp_path):  # fmt: skip
    store = tmp_path / "w.zarr"
    plan = bz.pp.plan_windows(bz.pp.regions(regions), model=model)
    fault(faults, "raise", "encode", 3)
    with pytest.raises(InjectedFault):
        bz.pp.encode(plan, genome_path, store, chunk_windows=CHUNK, client=client)
    wait_idle(client)
    encoded = bz.store.encoded_chunks(store)
    assert not encoded[3] and not bz.store.attrs(store)["complete"]
    (faults / "log").unlink()
    bz.pp.encode(plan, genome_path, store, chunk_windows=CHUNK, client=client)
    assert sorted(c for stage, c, _, _ in read_log(faults)) == np.flatnonzero(~encoded).tolist()

    fault(faults, "raise", "predict", 5)
    with pytest.raises(InjectedFault):
        bz.tl.predict(store, model, keep_profiles=True, client=client)
    wait_idle(client)
    (key,) = bz.store.results_keys(store)
    done = bz.store.done_chunks(store, key)
    assert not done[5]
    (faults / "log").unlink()
    adata = bz.tl.predict(store, model, keep_profiles=True, client=client)
    assert sorted(c for stage, c, _, _ in read_log(faults) if stage == "predict") == np.flatnonzero(~done).tolist()
    np.testing.assert_array_equal(adata.X, reference[1].X)
    assert_same_store(store, reference[0])


def test_client_from_settings_and_false_forces_local(client, model, genome_path, regions, reference, faults):
    bz.settings.client = client
    try:
        from_settings = bz.tl.predict(regions, model, genome_path, chunk_windows=CHUNK)
        assert {stage for stage, *_ in read_log(faults)} >= {"encode", "predict"}
        (faults / "log").unlink()
        with one_thread():
            local = bz.tl.predict(regions, model, genome_path, chunk_windows=CHUNK, client=False)
        assert read_log(faults) == []
    finally:
        bz.settings.client = None
    np.testing.assert_array_equal(from_settings.X, reference[1].X)
    np.testing.assert_array_equal(local.X, reference[1].X)


def test_store_at_an_fsspec_url(model, genome_path, regions, reference):
    """A store reached by URL is read and written through zarr (``memory://`` here: one process only)."""
    import fsspec  # a dependency of dask

    memory = fsspec.filesystem("memory")
    root = reference[0]
    for path in root.rglob("*"):
        relative = path.relative_to(root).as_posix()
        if path.is_file() and not relative.startswith(("results", "profile")):
            memory.pipe(f"/bazenji-test/w.zarr/{relative}", path.read_bytes())
    try:
        with one_thread():
            adata = bz.tl.predict("memory://bazenji-test/w.zarr", model, keep_profiles=True, client=False)
        np.testing.assert_array_equal(adata.X, reference[1].X)
        np.testing.assert_array_equal(adata.obsm["bz_profile"], reference[1].obsm["bz_profile"])
        assert adata.uns["bazenji"]["store"] == "memory://bazenji-test/w.zarr"
    finally:
        memory.rm("/bazenji-test", recursive=True)


def test_variant_effect_on_workers_equals_single_process(client, model, genome_path, faults, tmp_path):
    genome = bz.io.Genome(genome_path)
    rng = np.random.default_rng(6)
    positions = np.sort(rng.choice(np.arange(10_000, 110_000), 8, replace=False)).tolist()
    other = {"A": "G", "C": "T", "G": "A", "T": "C"}
    rows = []
    for i, p in enumerate(positions):
        ref = genome.fetch("chr1", p - 1, p, upper=True)
        rows.append(["chr1", p, f"v{i}", ref, other[ref]])
    rows[2][4] = rows[2][3] + "AC"  # an insertion
    rows[5][3] = genome.fetch("chr1", positions[5] - 1, positions[5] + 2, upper=True)  # a deletion
    rows[5][4] = rows[5][3][0]
    transversion = {"A": "C", "C": "A", "G": "T", "T": "G"}
    rows.insert(1, ["chr1", positions[0], "v0b", rows[0][3], transversion[rows[0][3]]])  # a second allele
    variants = pd.DataFrame(rows, columns=["chrom", "pos", "id", "ref", "alt"])
    options = dict(chunk_variants=3, stats=["SAR", "maxabs"], batch_size=2)
    with one_thread():
        local = bz.tl.variant_effect(variants, model, genome_path, **options)
    returned = bz.tl.variant_effect(variants, model, genome_path, client=client, **options)
    assert not [row for row in read_log(faults) if row[0] == "predict"]  # without a store, scores come back
    stored = bz.tl.variant_effect(variants, model, genome_path, store=tmp_path / "sad.zarr", client=client, **options)
    for adata in (returned, stored):
        np.testing.assert_array_equal(adata.X, local.X)
        for name in ("SAR", "maxabs"):
            np.testing.assert_array_equal(adata.layers[name], local.layers[name])
        assert list(adata.obs_names) == list(local.obs_names) and adata.uns["bazenji"]["device"] == "cpu"
    writes = [(chunk, key) for stage, chunk, key, _ in read_log(faults) if stage == "predict"]
    assert sorted(chunk for chunk, _ in writes) == list(range(3))  # 9 variants, chunks of 3
    assert all(re.fullmatch(rf"bazenji-variants-[0-9a-f]+-[0-9a-f]{{8}}-{chunk}", key) for chunk, key in writes)
