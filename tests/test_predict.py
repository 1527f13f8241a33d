import shutil
import subprocess
import sys
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scanpy as sc
import torch
from conftest import randomize_batch_norm, small_config

import bazenji as bz
from bazenji.models import Basenji2

L, BIN, CROP, N_BINS = 16_384, 128, 8, 112


def write_fasta(path, sequences):
    with open(path, "w") as handle:
        for name, seq in sequences.items():
            handle.write(f">{name}\n")
            for i in range(0, len(seq), 60):
                handle.write(seq[i : i + 60] + "\n")
    return path


@pytest.fixture(scope="module")
def genome_path(tmp_path_factory):
    rng = np.random.default_rng(0)
    chr1 = "".join(rng.choice(list("ACGT"), 60_000))
    chr1 = chr1[:20_000] + "N" * 500 + chr1[20_500:30_000].lower() + chr1[30_000:]
    chr2 = "".join(rng.choice(list("ACGTN"), 25_000, p=[0.24, 0.26, 0.26, 0.23, 0.01]))
    return write_fasta(tmp_path_factory.mktemp("genome") / "g.fa", {"chr1": chr1, "chr2": chr2})


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    model = randomize_batch_norm(Basenji2(small_config(gelu="erf"), targets=[f"t{i}" for i in range(12)]))
    with torch.no_grad():  # a head with real spread, so aggregates differ visibly between regions
        model.head.weight.mul_(20)
    return model.eval()


@pytest.fixture(scope="module")
def regions():
    return pd.DataFrame(
        {
            "Chromosome": ["chr1", "chr1", "chr1", "chr2", "chr1"],
            "Start": [1_000, 15_000, 16_000, 12_000, 57_000],
            "End": [1_700, 15_400, 17_100, 12_300, 59_900],
            "Name": ["a", "b", "c", "d", "e"],
        }
    )


def onehot_window(genome, chrom, start, length=L):
    codes = bz.io.Genome(genome).fetch_codes(chrom, start, start + length)
    out = np.zeros((length, 4), np.uint8)
    ok = codes < 4
    out[np.flatnonzero(ok), codes[ok]] = 1
    return out


def direct(model, onehot):
    with torch.inference_mode():
        return model(torch.as_tensor(onehot[None])).numpy()[0]


def by_hand(model, genome, regions, aggregate="mean"):
    rows = []
    for r in regions.itertuples():
        mid = (r.Start + r.End) // 2
        start = mid - L // 2
        profile = direct(model, onehot_window(genome, r.Chromosome, start))
        first = start + CROP * BIN
        b0 = max((r.Start - first) // BIN, 0)
        b1 = min(-(-(r.End - first) // BIN), N_BINS)
        values = profile[b0:b1]
        rows.append({"mean": values.mean(0), "sum": values.sum(0), "max": values.max(0),
                     "center": profile[(mid - first) // BIN]}[aggregate])  # fmt: skip
    return np.array(rows)


@pytest.mark.parametrize("aggregate", ["mean", "sum", "max", "center"])
def test_centered_equals_direct_model_calls(model, genome_path, regions, aggregate):
    bz.settings.progress = False
    adata = bz.tl.predict(regions, model, genome_path, aggregate=aggregate, batch_size=2)
    assert list(adata.obs_names) == ["a", "b", "c", "d", "e"]
    assert list(adata.var_names) == [f"t{i}" for i in range(12)] and adata.X.dtype == np.float32
    np.testing.assert_allclose(adata.X, by_hand(model, genome_path, regions, aggregate), rtol=2e-5, atol=1e-6)
    info = adata.uns["bazenji"]
    assert info["windows"]["mode"] == "centered" and info["windows"]["n_windows"] == 5
    assert info["genome_fingerprint"] == bz.io.Genome(genome_path).fingerprint
    assert info["model"]["fingerprint"] and "torch" in info["versions"] and info["timings"]["predict_s"] > 0


def test_tiled_mode_equals_direct_calls_on_assigned_windows(model, genome_path, regions):
    adata = bz.tl.predict(regions, model, genome_path, mode="tiled", margin=512)
    plan = bz.pp.plan_windows(bz.pp.regions(regions), mode="tiled", model=model, margin=512)
    assert plan.n_windows < len(regions)  # b and c share a window
    expected = np.zeros((len(regions), 12))
    counts = np.zeros(len(regions))
    for piece in plan.assignments.itertuples():
        window = plan.windows.iloc[piece.window]
        profile = direct(model, onehot_window(genome_path, window["chrom"], int(window["start"])))
        expected[piece.region] += profile[piece.bin_start : piece.bin_end].sum(0)
        counts[piece.region] += piece.bin_end - piece.bin_start
    np.testing.assert_allclose(adata.X, expected / counts[:, None], rtol=2e-5, atol=1e-6)
    assert adata.uns["bazenji"]["windows"]["n_windows"] == plan.n_windows


def test_rc_shift_ensemble_and_track_subset(model, genome_path, regions):
    adata = bz.tl.predict(regions.iloc[:2], model, genome_path, rc=True, shifts=[-1, 0, 1], tracks=[3, 7])
    expected = []
    for r in regions.iloc[:2].itertuples():
        start = (r.Start + r.End) // 2 - L // 2
        base = onehot_window(genome_path, r.Chromosome, start)
        members = []
        for shift in (-1, 0, 1):
            x = np.zeros_like(base)
            if shift > 0:
                x[shift:] = base[:-shift]
            elif shift < 0:
                x[:shift] = base[-shift:]
            else:
                x = base
            members += [direct(model, x), direct(model, x[::-1, ::-1].copy())[::-1]]
        profile = np.mean(members, axis=0)[:, [3, 7]]
        first = start + CROP * BIN
        expected.append(profile[(r.Start - first) // BIN : -(-(r.End - first) // BIN)].mean(0))
    assert list(adata.var_names) == ["t3", "t7"]
    np.testing.assert_allclose(adata.X, np.array(expected), rtol=2e-5, atol=1e-6)


def test_rc_swaps_strand_pairs_by_index_in_any_track_subset(model, genome_path, regions, recwarn):
    table = bz.io.read_targets(pd.DataFrame({
        "index": np.arange(12), "identifier": [f"t{i}" for i in range(12)],
        "description": [f"CAGE:cell{i // 2}" for i in range(12)],
        "strand_pair": [0, 1, 2, 3, 5, 4, 6, 7, 9, 8, 10, 11],  # t4/t5 and t8/t9 are + and - strands
    }))  # fmt: skip
    paired = Basenji2(model.config, targets=table).eval()
    paired.load_state_dict(model.state_dict())
    r = regions.iloc[0]
    start = (r.Start + r.End) // 2 - L // 2
    base = onehot_window(genome_path, r.Chromosome, start)
    reverse = direct(paired, base[::-1, ::-1].copy())[::-1]
    profile = (direct(paired, base) + reverse[:, [0, 1, 2, 3, 5, 4, 6, 7, 9, 8, 10, 11]]) / 2
    first = start + CROP * BIN
    expected = profile[(r.Start - first) // BIN : -(-(r.End - first) // BIN)].mean(0)
    subset = [9, 2, 5, 4, 8]
    by_tracks = bz.tl.predict(regions.iloc[:1], paired, genome_path, rc=True, tracks=subset)
    by_model = bz.tl.predict(regions.iloc[:1], paired.select_tracks(subset), genome_path, rc=True)
    np.testing.assert_allclose(by_tracks.X[0], expected[subset], rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(by_model.X[0], expected[subset], rtol=2e-5, atol=1e-6)
    assert not [w for w in recwarn if "without their partner" in str(w.message)]
    with pytest.warns(UserWarning, match=r"1 strand-paired tracks are computed without their partner \(e.g. 't5'"):
        alone = bz.tl.predict(regions.iloc[:1], paired, genome_path, rc=True, tracks=[5, 2])
    unswapped = ((direct(paired, base) + reverse) / 2)[(r.Start - first) // BIN : -(-(r.End - first) // BIN)]
    np.testing.assert_allclose(alone.X[0], unswapped.mean(0)[[5, 2]], rtol=2e-5, atol=1e-6)


def test_human_track_table_in_var(human_targets, genome_path, regions):
    torch.manual_seed(1)
    model = Basenji2(small_config(n_tracks=5313), targets=human_targets).eval()
    adata = bz.tl.predict(regions.iloc[:1], model, genome_path)
    counts = adata.var["assay"].value_counts()
    assert (counts["DNASE"], counts["ATAC"], counts["CHIP"], counts["CAGE"]) == (674, 10, 3991, 638)
    cage = bz.tl.predict(regions.iloc[:1], model, genome_path, tracks="CAGE")
    assert cage.n_vars == 638
    np.testing.assert_allclose(cage.X, adata[:, cage.var_names].X, rtol=1e-6)


def test_profiles_kept_in_store_and_obsm(model, genome_path, regions, tmp_path):
    store = tmp_path / "w.zarr"
    adata = bz.tl.predict(regions, model, genome_path, store=store, keep_profiles=["t1", "t5"])
    assert adata.obsm["bz_profile"].shape == (5, N_BINS, 2)
    r = regions.iloc[3]
    expected = direct(model, onehot_window(genome_path, r.Chromosome, (r.Start + r.End) // 2 - L // 2))[:, [1, 5]]
    np.testing.assert_allclose(adata.obsm["bz_profile"][3].astype(np.float32), expected, rtol=2e-3)
    import xarray as xr

    ds = xr.open_zarr(store, consolidated=False)
    assert ds["profile"].dims == ("window", "bin", "profile_track") and list(ds["profile_track"].values) == ["t1", "t5"]

    # the same store asked for other profile tracks computes them (a resume must not serve t1 labelled t2)
    other = bz.tl.predict(regions, model, genome_path, store=store, keep_profiles=["t2"])
    window_of_r = onehot_window(genome_path, r.Chromosome, (r.Start + r.End) // 2 - L // 2)
    np.testing.assert_allclose(
        other.obsm["bz_profile"][3, :, 0].astype(np.float32), direct(model, window_of_r)[:, 2], rtol=2e-3, atol=1e-7
    )
    assert list(xr.open_zarr(store, consolidated=False)["profile_track"].values) == ["t2"]

    # tiled profiles do not go to obsm: without store= the temporary store is kept (and named), not deleted
    tiled = bz.tl.predict(regions, model, genome_path, mode="tiled", keep_profiles=["t1"])
    kept = tiled.uns["bazenji"]["store"]
    assert "bz_profile" not in tiled.obsm and bz.store.is_store(kept)
    assert xr.open_zarr(kept, consolidated=False)["profile"].shape[-1] == 1
    shutil.rmtree(Path(kept).parent)
    # a store given with a genome must come from that genome
    other_genome = write_fasta(tmp_path / "other.fa", {"chr1": "A" * 60_000, "chr2": "C" * 25_000})
    with pytest.raises(ValueError, match="encoded from another genome"):
        bz.tl.predict(store, model, other_genome)
    assert bz.tl.predict(store, model, genome_path).n_obs == 5


class Interrupt(RuntimeError):
    pass


class FailingAfter(torch.nn.Module):
    """Wraps a model and raises on the n-th call, like a crash in the middle of a run."""

    def __init__(self, model, calls):
        super().__init__()
        self.model, self.calls, self.config, self.targets = model, calls, model.config, model.targets
        self.source = model.source

    def forward(self, x, tracks=None):
        self.calls -= 1
        if self.calls < 0:
            raise Interrupt
        return self.model(x, tracks=tracks)


def test_resume_after_interruption_is_bitwise_identical(model, genome_path, regions, tmp_path, monkeypatch):
    many = pd.concat([regions] * 4, ignore_index=True)
    many["Name"] = [f"r{i}" for i in range(len(many))]
    reference = bz.tl.predict(many, model, genome_path, chunk_windows=4, batch_size=2)

    store = tmp_path / "resume.zarr"
    from bazenji.tl import _predict

    failing = FailingAfter(model, calls=5)  # chunks of 4 windows, 2 calls per chunk: dies inside chunk 3
    monkeypatch.setattr(_predict, "resolve_model", lambda m: failing)
    monkeypatch.setattr(_predict, "model_fingerprint", lambda m: "same-model")
    with pytest.raises(Interrupt):
        bz.tl.predict(many, None, genome_path, store=store, chunk_windows=4, batch_size=2)
    (key,) = bz.store.results_keys(store)
    done = bz.store.done_chunks(store, key)
    assert done.tolist() == [True, True, False, False, False]

    counting = FailingAfter(model, calls=10**6)
    monkeypatch.setattr(_predict, "resolve_model", lambda m: counting)
    resumed = bz.tl.predict(many, None, genome_path, store=store, chunk_windows=4, batch_size=2)
    assert 10**6 - counting.calls == 6  # only the three unfinished chunks were computed
    np.testing.assert_array_equal(resumed.X, reference.X)


def test_roundtrip_files_and_scanpy(model, genome_path, regions, tmp_path):
    many = pd.concat([regions] * 6, ignore_index=True)
    many["Start"] -= np.arange(len(many)) * 37
    many["End"] -= np.arange(len(many)) * 37
    many["Name"] = [f"r{i}" for i in range(len(many))]
    adata = bz.tl.predict(many, model, genome_path)
    adata.write_h5ad(tmp_path / "p.h5ad")
    adata.write_zarr(tmp_path / "p.zarr")
    for back in (ad.read_h5ad(tmp_path / "p.h5ad"), ad.read_zarr(tmp_path / "p.zarr")):
        np.testing.assert_array_equal(back.X, adata.X)
        pd.testing.assert_frame_equal(back.obs, adata.obs)
        assert back.uns["bazenji"]["windows"]["n_windows"] == len(many)
    sc.pp.log1p(adata)
    sc.pp.pca(adata, n_comps=5)
    sc.pp.neighbors(adata, n_neighbors=5)
    sc.tl.leiden(adata, flavor="igraph", n_iterations=2)
    assert adata.obs["leiden"].nunique() >= 1 and adata.obsm["X_pca"].shape == (len(many), 5)


def test_into_existing_anndata_as_layer(model, genome_path, regions):
    observed = ad.AnnData(
        np.ones((5, 2), np.float32), obs=pd.DataFrame(index=list("abcde")), var=pd.DataFrame(index=["t4", "t2"])
    )
    assert bz.tl.predict(regions, model, genome_path, into=observed, key_added="predicted") is None
    full = bz.tl.predict(regions, model, genome_path)
    np.testing.assert_array_equal(observed.layers["predicted"], full[:, ["t4", "t2"]].X)
    with pytest.raises(ValueError, match="overwrite=True"):
        bz.tl.predict(regions, model, genome_path, into=observed)


def test_bad_input(model, genome_path, regions, tmp_path):
    with pytest.raises(ValueError, match="chr9"):
        bz.tl.predict(pd.DataFrame({"Chromosome": ["chr9"], "Start": [1], "End": [5]}), model, genome_path)
    with pytest.raises(ValueError, match="float16"):
        bz.tl.predict(regions, model, genome_path, dtype="float16", device="cpu")
    with pytest.raises(ValueError, match="aggregate='median'"):
        bz.tl.predict(regions, model, genome_path, aggregate="median")
    with pytest.raises(ValueError, match="no regions in"):
        bz.tl.predict(regions.iloc[:0], model, genome_path)
    nan_start = regions.astype({"Start": float}).assign(Start=lambda df: df["Start"].where(df.index != 2))
    with pytest.raises(ValueError, match=r"Start is not an integer on rows \(0-based\) 2 \(e.g. .*nan"):
        bz.tl.predict(nan_start, model, genome_path)
    with pytest.raises(ValueError, match="genome=None with the model from .*expected a bz.io.Genome or a FASTA path"):
        bz.tl.predict(regions, model)
    store = tmp_path / "other.zarr"
    bz.pp.encode(bz.pp.regions(regions), genome_path, store, seq_length=2 * L)
    with pytest.raises(ValueError, match=str(L)):
        bz.tl.predict(store, model)
    with pytest.raises(ValueError, match="device='cuda:7' is not available"):
        bz.tl.predict(regions, model, genome_path, device="cuda:7")
    with pytest.raises(ValueError, match="batch_size=-1; expected a positive integer"):
        bz.tl.predict(regions, model, genome_path, batch_size=-1)


def test_overwrite_replaces_other_windows_and_keeps_finished_work(
    model, genome_path, regions, tmp_path, monkeypatch, caplog
):
    from bazenji.tl import _predict

    counting = FailingAfter(model, calls=10**6)
    monkeypatch.setattr(_predict, "resolve_model", lambda m: counting)
    monkeypatch.setattr(_predict, "model_fingerprint", lambda m: "same-model")
    store = tmp_path / "w.zarr"
    with caplog.at_level("WARNING", logger="bazenji"):
        first = bz.tl.predict(regions, None, genome_path, store=store)
    assert "reusing" not in caplog.text  # a new store: nothing to announce
    calls = 10**6 - counting.calls
    with caplog.at_level("WARNING", logger="bazenji"):
        again = bz.tl.predict(regions, None, genome_path, store=store, overwrite=True)
    assert calls > 0 and 10**6 - counting.calls == calls  # the same windows: reused, nothing recomputed
    # ...and said so, once for the windows and once for the predictions, at the default verbosity
    reuse = [r.getMessage() for r in caplog.records if "reusing" in r.getMessage()]
    assert len(reuse) == 2, reuse
    assert "the encoded windows of this plan, 1 of 1 chunks already done" in reuse[0] and str(store) in reuse[0]
    assert "predictions of these parameters" in reuse[1] and "1 of 1 chunks already done" in reuse[1]
    np.testing.assert_array_equal(again.X, first.X)
    replaced = bz.tl.predict(regions.iloc[:3], None, genome_path, store=store, overwrite=True)  # other windows
    assert bz.store.open(store).sizes["window"] == 3
    np.testing.assert_allclose(replaced.X, first.X[:3], rtol=1e-5)  # other batches: float rounding differs


def test_cli_end_to_end(model, genome_path, regions, tmp_path):
    model.save(tmp_path / "model")
    bed = tmp_path / "r.bed"
    regions[["Chromosome", "Start", "End", "Name"]].to_csv(bed, sep="\t", header=False, index=False)
    out = tmp_path / "out.h5ad"
    command = [sys.executable, "-m", "bazenji.cli", "predict", str(bed), "--genome", str(genome_path),
               "--model", str(tmp_path / "model"), "--tracks", "t0,t3", "-o", str(out), "--quiet"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "regions   5" in done.stdout and str(out) in done.stdout
    result = ad.read_h5ad(out)
    expected = bz.tl.predict(regions, model, genome_path, tracks=["t0", "t3"])
    np.testing.assert_allclose(result.X, expected.X, rtol=1e-6)
    again = subprocess.run(command, capture_output=True, text=True, check=False)
    assert again.returncode == 2 and "exists" in again.stderr and len(again.stderr.strip().splitlines()) == 1
    # tiled mode with its default margin: 4,096 bp, at most an eighth of this model's 14,336 bp output span
    tiled = [*command[:-3], "--mode", "tiled", "-o", str(tmp_path / "tiled.h5ad"), "--quiet"]
    done = subprocess.run(tiled, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    plan = bz.pp.plan_windows(bz.pp.regions(regions), mode="tiled", model=model, margin=14_336 // 8)
    by_hand = bz.tl.predict(regions, model, genome_path, tracks=["t0", "t3"], mode="tiled", margin=14_336 // 8)
    assert ad.read_h5ad(tmp_path / "tiled.h5ad").uns["bazenji"]["windows"]["n_windows"] == plan.n_windows
    np.testing.assert_allclose(ad.read_h5ad(tmp_path / "tiled.h5ad").X, by_hand.X, rtol=1e-6)
    # an output that cannot be written is refused before any prediction, in one line
    command[command.index("-o") + 1] = str(tmp_path / "no" / "such" / "folder" / "out.h5ad")
    nowhere = subprocess.run(command, capture_output=True, text=True, check=False)
    assert nowhere.returncode == 2 and "does not exist" in nowhere.stderr
    assert len(nowhere.stderr.strip().splitlines()) == 1


KILLED_CHILD = """
import sys, time
import pandas as pd
import bazenji as bz
from bazenji.tl import _chunks

original = _chunks.predict_onehot


def slow(*args, **kwargs):  # a model slow enough that the parent can kill the process mid-run
    time.sleep(0.4)
    return original(*args, **kwargs)


_chunks.predict_onehot = slow
bz.settings.progress = False
regions = pd.read_csv(sys.argv[1], sep="\\t")
bz.tl.predict(regions, sys.argv[2], sys.argv[3], store=sys.argv[4], chunk_windows=2, batch_size=2)
"""


def test_resume_after_the_process_is_killed(model, genome_path, regions, tmp_path):
    import os
    import signal
    import time

    many = pd.concat([regions] * 4, ignore_index=True)
    many["Name"] = [f"r{i}" for i in range(len(many))]
    many.to_csv(tmp_path / "regions.tsv", sep="\t", index=False)
    model.save(tmp_path / "model")
    store = tmp_path / "killed.zarr"
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_CHILD, str(tmp_path / "regions.tsv"), str(tmp_path / "model"),
         str(genome_path), str(store)],
    )  # fmt: skip
    deadline = time.monotonic() + 300
    done = np.zeros(0, bool)
    while time.monotonic() < deadline and child.poll() is None:
        try:  # the child may be half-way through creating the group or array being read
            keys = bz.store.results_keys(store) if bz.store.is_store(store) else []
            done = bz.store.done_chunks(store, keys[0]) if keys else done
        except (KeyError, ValueError, FileNotFoundError):
            pass
        if done.sum() >= 2:
            os.kill(child.pid, signal.SIGKILL)
            break
        time.sleep(0.05)
    child.wait()
    assert child.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    finished = bz.store.done_chunks(store, bz.store.results_keys(store)[0])
    assert 2 <= finished.sum() < len(finished)

    resumed = bz.tl.predict(many, bz.models.load(tmp_path / "model"), genome_path, store=store, chunk_windows=2,
                            batch_size=2)  # fmt: skip
    reference = bz.tl.predict(many, model, genome_path, chunk_windows=2, batch_size=2)
    np.testing.assert_array_equal(resumed.X, reference.X)


def test_cli_track_option_keeps_queries_whole(human_targets):
    from bazenji.cli import _tracks

    assert _tracks("t0,t3") == ["t0", "t3"] and _tracks("1,-2") == [1, -2] and _tracks("CAGE") == "CAGE"
    query = _tracks("assay == 'CHIP' and biosample in ['K562', 'HepG2']")
    table = bz.io.read_targets(human_targets)
    chosen = table.iloc[bz.io.select_tracks(table, query)]
    assert len(chosen) > 0 and set(chosen["assay"]) == {"CHIP"} and set(chosen["biosample"]) == {"K562", "HepG2"}
