import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import xarray as xr
from conftest import randomize_batch_norm, small_config

import bazenji as bz
from bazenji.models import Basenji2
from bazenji.tl._embeddings import trunk_fingerprint
from bazenji.tl._train import poisson_loss


@pytest.fixture(scope="module")
def demo():
    return bz.datasets.demo()


@pytest.fixture(scope="module")
def base_store(demo, tmp_path_factory):
    """16,384 bp windows over demo chr4 (train) and chr3 (valid), chunks of 8, with the 18 demo bigWigs as targets."""
    bz.settings.progress = False
    genome = bz.io.Genome(demo.fasta)
    plan = bz.pp.tile_genome(genome, chroms=["chr4", "chr3"], stride=28_672, seq_length=16_384, crop_bins=8)
    path = tmp_path_factory.mktemp("embeddings") / "base.zarr"
    bz.pp.encode(plan, genome, path, chunk_windows=8)
    bz.pp.import_bigwigs(path, targets=demo.targets)
    bz.pp.split_by_chrom(path, valid=["chr3"])
    return path


@pytest.fixture
def store(base_store, tmp_path):
    """A private copy of the store per test: caches are written into it."""
    import shutil

    path = tmp_path / "store.zarr"
    shutil.copytree(base_store, path)
    return path


def pretrained(demo, seed=0) -> Basenji2:
    """A small "pretrained" model with non-trivial batch norm, for other tracks than the store's."""
    torch.manual_seed(seed)
    model = randomize_batch_norm(Basenji2(small_config(n_tracks=3, gelu="erf")), seed=seed)
    return model.eval()


def test_cached_embeddings_equal_the_trunk_on_the_stored_onehot(demo, store):
    model = pretrained(demo)
    bz.tl.cache_embeddings(model, store, batch_size=3)
    ds = bz.store.open(store)
    onehot = torch.as_tensor(ds["onehot"].values)
    with torch.no_grad():  # the plain module path, not the fused inference plan the cache runs
        expected = model.trunk(onehot).numpy()
    cached = ds["embedding"]
    assert cached.dims == ("window", "bin", "channel") and cached.dtype == np.float16
    assert cached.shape == (ds.sizes["window"], 112, 16)
    assert cached.encoding["chunks"] == (8, 112, 16)  # chunked along window like onehot
    assert cached.attrs["complete"] and cached.attrs["trunk_fingerprint"] == trunk_fingerprint(model)
    assert cached.attrs["model_fingerprint"] == bz.tl._common.model_fingerprint(model)
    assert np.asarray(ds["embedding_done"].values).all()
    # float16 keeps 11 significant bits: relative error up to 2**-11
    np.testing.assert_allclose(cached.values.astype(np.float32), expected, rtol=2**-10, atol=1e-3)

    bz.tl.cache_embeddings(model, store, dtype="float32", overwrite=True)  # another dtype: replaced
    cached = xr.open_zarr(store, consolidated=False)["embedding"]  # plain xarray reads it too
    assert cached.dtype == np.float32
    np.testing.assert_allclose(cached.values, expected, rtol=1e-5, atol=1e-5)


def test_a_cache_from_another_trunk_is_refused_and_replaced_only_on_request(demo, store):
    model = pretrained(demo, seed=0)
    bz.tl.cache_embeddings(model, store)
    # a replaced head keeps the trunk: same trunk fingerprint, the cache is kept (nothing to recompute)
    assert trunk_fingerprint(model.replace_head(18)) == trunk_fingerprint(model)
    bz.tl.cache_embeddings(model.replace_head(18), store)
    other = pretrained(demo, seed=1)
    assert trunk_fingerprint(other) != trunk_fingerprint(model)
    with pytest.raises(ValueError, match=r"another trunk.*overwrite=True"):
        bz.tl.cache_embeddings(other, store)
    assert bz.store.open(store)["embedding"].attrs["trunk_fingerprint"] == trunk_fingerprint(model)

    new_head = other.replace_head(demo.targets)
    with pytest.raises(ValueError, match=r"made by another trunk.*" + trunk_fingerprint(other)):
        bz.tl.train(new_head, store, epochs=1, from_embeddings=True)
    bz.tl.cache_embeddings(other, store, overwrite=True)
    assert bz.store.open(store)["embedding"].attrs["trunk_fingerprint"] == trunk_fingerprint(other)
    bz.tl.train(new_head, store, epochs=1, steps_per_epoch=1, batch_size=4, from_embeddings=True)


def test_an_interrupted_cache_is_refused_then_resumed(demo, store, monkeypatch):
    model = pretrained(demo)
    n_chunks = int(bz.store.attrs(store)["n_chunks"])
    calls, trunk = [], Basenji2.trunk

    def failing_trunk(self, x):
        calls.append(len(x))
        if len(calls) == 3:
            raise RuntimeError("interrupted")
        return trunk(self, x)

    monkeypatch.setattr(Basenji2, "trunk", failing_trunk)
    with pytest.raises(RuntimeError, match="interrupted"):
        bz.tl.cache_embeddings(model, store, batch_size=8)  # one trunk call per chunk: two chunks are written
    ds = bz.store.open(store)
    assert np.asarray(ds["embedding_done"].values).sum() == 2 and not ds["embedding"].attrs["complete"]
    with pytest.raises(ValueError, match=f"incomplete .{n_chunks - 2} of {n_chunks} window chunks"):
        bz.tl.train(model.replace_head(demo.targets), store, epochs=1, from_embeddings=True)

    calls.clear()
    monkeypatch.setattr(Basenji2, "trunk", lambda self, x: calls.append(len(x)) or trunk(self, x))
    bz.tl.cache_embeddings(model, store, batch_size=8)
    assert len(calls) == n_chunks - 2  # only the missing chunks
    monkeypatch.undo()
    ds = bz.store.open(store)
    assert ds["embedding"].attrs["complete"]
    with torch.no_grad():
        expected = model.trunk(torch.as_tensor(ds["onehot"].values)).numpy()
    np.testing.assert_allclose(ds["embedding"].values.astype(np.float32), expected, rtol=2**-10, atol=1e-3)


def test_a_head_step_from_embeddings_equals_the_frozen_trunk_step(demo, store):
    base = pretrained(demo).replace_head(demo.targets)
    bz.tl.cache_embeddings(base, store, dtype="float32")
    ds = bz.store.open(store)
    windows = np.arange(4)
    x = torch.as_tensor(ds["onehot"][windows].values)
    y = torch.as_tensor(ds["targets"][windows].values.astype(np.float32))

    # by hand: the Poisson loss of softplus(head(embedding)) against the frozen-trunk model on the same batch
    from_cache = copy.deepcopy(base)
    embedding = torch.as_tensor(ds["embedding"][windows].values)
    pred = F.softplus(embedding @ from_cache.head.weight.T + from_cache.head.bias)
    by_hand = (pred - y * torch.log(pred + 1e-7)).mean()
    by_hand.backward()
    frozen = copy.deepcopy(base).train()
    for part in (frozen.stem, frozen.tower, frozen.residual, frozen.final):
        part.eval()
    loss = poisson_loss(frozen(x), y)
    loss.backward()
    assert float(loss.detach()) == pytest.approx(float(by_hand.detach()), rel=1e-5)
    torch.testing.assert_close(from_cache.head.weight.grad, frozen.head.weight.grad, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(from_cache.head.bias.grad, frozen.head.bias.grad, rtol=1e-4, atol=1e-6)

    # through bz.tl.train: the same windows, losses, validation R and head after a few SGD steps
    options = dict(epochs=2, batch_size=4, steps_per_epoch=2, optimizer="sgd", lr=1e-2, momentum=0.9, seed=3)
    cached_model, onehot_model = copy.deepcopy(base), copy.deepcopy(base)
    cached = bz.tl.train(cached_model, store, from_embeddings=True, **options)
    plain = bz.tl.train(onehot_model, store, freeze_trunk=True, augment_rc=False, augment_shift=0, **options)
    for column in ("loss", "valid_loss", "valid_r", "valid_r_DNASE", "valid_r_CAGE"):
        np.testing.assert_allclose(cached.metrics[column], plain.metrics[column], rtol=1e-4, err_msg=column)
    assert cached.best_epoch == plain.best_epoch
    torch.testing.assert_close(cached_model.head.weight, onehot_model.head.weight, rtol=1e-4, atol=1e-6)
    for key, value in base.state_dict().items():  # the trunk is untouched
        if not key.startswith("head") and "num_batches" not in key:
            assert torch.equal(cached_model.state_dict()[key], value), key


def test_training_from_embeddings_lowers_the_loss_with_checkpoints(demo, store, tmp_path):
    model = pretrained(demo).replace_head(demo.targets)
    bz.tl.cache_embeddings(model, store)
    history = bz.tl.train(model, store, epochs=3, batch_size=4, lr=1e-2, seed=0, from_embeddings=True,
                          checkpoint_dir=tmp_path / "ck")  # fmt: skip
    losses = history.metrics["loss"].to_numpy()
    assert losses[-1] < losses[0]
    assert {"valid_loss", "valid_r", "data_wait_share"} <= set(history.metrics)
    assert (tmp_path / "ck" / "last" / "trainer.pt").exists() and history.best_epoch is not None
    # resuming from the last checkpoint continues the same run
    resumed = bz.tl.train(pretrained(demo).replace_head(demo.targets), store, epochs=4, batch_size=4, lr=1e-2,
                          seed=0, from_embeddings=True, checkpoint_dir=tmp_path / "ck", resume=True)  # fmt: skip
    assert len(resumed.metrics) == 4
    np.testing.assert_array_equal(resumed.metrics["loss"].to_numpy()[:3], losses)


def test_bad_embedding_requests(demo, store, base_store):
    model = pretrained(demo).replace_head(demo.targets)
    with pytest.raises(ValueError, match="no 'embedding' variable.*cache_embeddings"):
        bz.tl.train(model, store, epochs=1, from_embeddings=True)
    with pytest.raises(ValueError, match="dtype='bfloat16'"):
        bz.tl.cache_embeddings(model, store, dtype="bfloat16")
    with pytest.raises(ValueError, match="16384 bp windows.*takes 32768 bp"):
        bz.tl.cache_embeddings(Basenji2(small_config(seq_length=32_768)), store)
    bz.tl.cache_embeddings(model, bz.store.open(store))  # an opened dataset writes into its store
    with pytest.raises(ValueError, match="base.zarr has no 'embedding' variable"):  # a valid store needs its own
        bz.tl.train(model, store, epochs=1, from_embeddings=True, valid=base_store)
    with pytest.raises(ValueError, match="augment_rc=True with from_embeddings"):
        bz.tl.train(model, store, epochs=1, from_embeddings=True, augment_rc=True)
    with pytest.raises(ValueError, match="augment_shift=3 with from_embeddings"):
        bz.tl.train(model, store, epochs=1, from_embeddings=True, augment_shift=3)
