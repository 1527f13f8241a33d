"""bz.tl.variant_effect(store=...): scores streamed chunk by chunk into an AnnData zarr store, read back lazily."""

import warnings

import anndata as ad
import dask.array as da
import numpy as np
import pandas as pd
import pytest
import zarr
from test_variants import COMPLEMENT, chrom, genome, model, quiet, table  # noqa: F401 (shared fixtures)

import bazenji as bz
from bazenji.tl import _variant_output, _variants

STATS = ["SAR", "maxabs", "REF"]


@pytest.fixture(scope="module")
def variants(chrom):  # noqa: F811
    """SNVs, an insertion, a deletion and a two-allele site whose alleles straddle a chunk boundary (chunks of 3)."""
    snv = [["chr1", p, f"snv{i}", chrom[p - 1], COMPLEMENT[chrom[p - 1]]] for i, p in enumerate((9_500, 11_000))]
    p = 17_000  # rows 2 and 3: the first allele ends chunk 0, the second starts chunk 1
    other = [b for b in "ACGT" if b != chrom[p - 1]]
    multi = [["chr1", p, f"multi_{i}", chrom[p - 1], alt] for i, alt in enumerate(other[:2])]
    indels = [["chr1", 21_000, "ins", chrom[20_999], chrom[20_999] + "GTA"],
              ["chr1", 24_000, "del", chrom[23_999:24_003], chrom[23_999]]]  # fmt: skip
    mismatch = [["chr2", 12_000, "ref_n", "N", "A"]]  # REF N matches nothing: scored with N forced in, flagged
    return table(snv + multi + indels + mismatch)


def score(variants, model, genome, **options):  # noqa: F811
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the REF-mismatch warning of snv_chr2
        return bz.tl.variant_effect(variants, model, genome, chunk_variants=3, batch_size=3, stats=STATS, **options)


def assert_same(result, expected, stats=STATS):
    np.testing.assert_array_equal(np.asarray(result.X), expected.X)
    assert np.asarray(result.X).dtype == expected.X.dtype
    for s in stats:
        np.testing.assert_array_equal(np.asarray(result.layers[s]), expected.layers[s])
        assert np.asarray(result.layers[s]).dtype == expected.layers[s].dtype
    assert list(result.obs_names) == list(expected.obs_names) and list(result.var_names) == list(expected.var_names)


def test_store_equals_in_memory_and_anndata_reads_it(variants, model, genome, tmp_path):  # noqa: F811
    memory = score(variants, model, genome)
    path = tmp_path / "sad.zarr"
    stored = score(variants, model, genome, store=path)
    # the straddling site predicts its reference window in both chunks: one window more than sites + variants
    assert memory.uns["bazenji"]["timings"]["windows"] == len(variants) + memory.uns["bazenji"]["n_sites"] + 1
    assert memory.X.dtype == np.float32 and not np.isnan(memory.X).any()
    assert_same(stored, memory)
    for column in ("chrom", "pos", "ref", "alt", "ref_match", "ref_swapped"):
        assert stored.obs[column].tolist() == memory.obs[column].tolist()

    on_disk = ad.read_zarr(path)
    assert_same(on_disk, memory)
    assert on_disk.obs["ref_match"].tolist() == memory.obs["ref_match"].tolist()
    assert on_disk.uns["bazenji"]["stats"].tolist() == ["SAD", *STATS]
    assert on_disk.uns["bazenji"]["store"] == str(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # consolidated, every node carries anndata's encoding
        lazy = ad.experimental.read_lazy(path)
    assert isinstance(lazy.X, da.Array)
    assert_same(lazy, memory)


def test_store_result_is_lazy_and_written_one_chunk_at_a_time(variants, model, genome, tmp_path, monkeypatch):  # noqa: F811
    def no_full_matrix(*args, **kwargs):
        raise AssertionError("the in-memory scores were built for a store run")

    monkeypatch.setattr(_variants.MemoryScores, "__init__", no_full_matrix)
    written = []
    real_write = _variant_output.write_scores

    def write(store, key, chunk, start, values):
        written.append((chunk, start, {s: v.shape for s, v in values.items()}))
        return real_write(store, key, chunk, start, values)

    monkeypatch.setattr(_variant_output, "write_scores", write)
    adata = score(variants, model, genome, store=tmp_path / "sad.zarr")
    assert [(c, start) for c, start, _ in written] == [(0, 0), (1, 3), (2, 6)]
    assert all(shape == (3 if c < 2 else 1, 12) for c, _, shapes in written for shape in shapes.values())
    for array in (adata.X, *adata.layers.values()):
        assert isinstance(array, da.Array) and array.chunks == ((3, 3, 1), (12,))
    assert isinstance(adata.obs, pd.DataFrame) and adata.uns["bazenji"]["stats"] == ["SAD", *STATS]


def test_chunk_written_but_not_flagged_is_scored_again(variants, model, genome, tmp_path, monkeypatch):  # noqa: F811
    memory = score(variants, model, genome)
    real_flag, real_chunk = bz.store.write_chunk, _variants.score_chunk
    scored = []

    def killed_before_flag(path, key, chunk, arrays):
        if chunk == 1:
            raise KeyboardInterrupt  # after chunk 1's rows went into X and the layers, before its done flag
        return real_flag(path, key, chunk, arrays)

    def counted(spec, chunk, *args, **kwargs):
        scored.append(int(chunk.rows[0]))
        return real_chunk(spec, chunk, *args, **kwargs)

    monkeypatch.setattr(_variants, "score_chunk", counted)
    monkeypatch.setattr(bz.store, "write_chunk", killed_before_flag)
    path = tmp_path / "sad.zarr"
    with pytest.raises(KeyboardInterrupt):
        score(variants, model, genome, store=path)
    monkeypatch.setattr(bz.store, "write_chunk", real_flag)
    scored.clear()
    resumed = score(variants, model, genome, store=path)
    assert scored == [3, 6]
    assert_same(resumed, memory)


def test_float16_store(variants, model, genome, tmp_path):  # noqa: F811
    memory = score(variants, model, genome, out_dtype="float16")
    stored = score(variants, model, genome, out_dtype="float16", store=tmp_path / "half.zarr")
    assert memory.X.dtype == np.float16 and memory.layers["REF"].dtype == np.float32
    assert_same(stored, memory)
    assert_same(ad.read_zarr(tmp_path / "half.zarr"), memory)


def test_finished_store_is_not_recomputed_other_parameters_refused(variants, model, genome, tmp_path, monkeypatch):  # noqa: F811
    path = tmp_path / "sad.zarr"
    first = score(variants, model, genome, store=path)
    finished = ad.read_zarr(path)
    calls = []
    real = _variants.score_chunk
    monkeypatch.setattr(_variants, "score_chunk", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = score(variants, model, genome, store=path)
    assert calls == [] and again.uns["bazenji"]["timings"] == first.uns["bazenji"]["timings"]
    assert_same(again, finished)

    with pytest.raises(ValueError, match=r"other parameters \(rc differ\).*overwrite=True"):
        score(variants, model, genome, store=path, rc=True)
    replaced = score(variants, model, genome, store=path, rc=True, overwrite=True)
    assert len(calls) == 3 and ad.read_zarr(path).uns["bazenji"]["ensemble"]["rc"]
    assert not np.array_equal(np.asarray(replaced.X), finished.X)

    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a.txt").write_text("mine")
    with pytest.raises(ValueError, match="exists and is not a zarr group"):
        score(variants, model, genome, store=folder)
    zarr.open_group(tmp_path / "other.zarr", mode="w").attrs["kind"] = "someone else's"
    with pytest.raises(ValueError, match="not written by variant_effect"):
        score(variants, model, genome, store=tmp_path / "other.zarr", overwrite=True)
    assert zarr.open_group(tmp_path / "other.zarr", mode="r").attrs["kind"] == "someone else's"


def test_cli_sad_streams_into_a_zarr_output(variants, model, chrom, tmp_path, monkeypatch, capsys):  # noqa: F811
    from bazenji import cli

    fasta = tmp_path / "g.fa"
    fasta.write_text(">chr1\n" + "\n".join(chrom[i : i + 60] for i in range(0, len(chrom), 60)) + "\n")
    model.save(tmp_path / "model")
    vcf = tmp_path / "v.vcf"
    lines = [f"chr1\t{p}\tr{p}\t{chrom[p - 1]}\t{COMPLEMENT[chrom[p - 1]]}" for p in (12_000, 12_050, 30_000)]
    vcf.write_text("#CHROM\tPOS\tID\tREF\tALT\n" + "\n".join(lines) + "\n")
    expected = bz.tl.variant_effect(vcf, model, fasta, stats=["SAR"], chunk_variants=2)

    def no_copy(adata, output):
        raise AssertionError(f"{output}: the streamed output was written again from memory")

    monkeypatch.setattr(cli, "_write", no_copy)
    out = tmp_path / "sad.zarr"
    command = ["sad", str(vcf), "--genome", str(fasta), "--model", str(tmp_path / "model"), "--stats", "SAD,SAR",
               "--chunk-variants", "2", "-o", str(out), "--quiet"]  # fmt: skip
    assert cli.main(command) == 0
    assert_same(ad.read_zarr(out), expected, ["SAR"])

    calls = []
    real = _variants.score_chunk
    monkeypatch.setattr(_variants, "score_chunk", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert cli.main(command) == 0 and calls == []  # a rerun resumes: nothing left to compute
    assert cli.main([*command, "--overwrite"]) == 0 and len(calls) == 2
    assert_same(ad.read_zarr(out), expected, ["SAR"])
    assert cli.main([*command, "--rc"]) == 2  # other parameters: refused with the CLI's own switch named
    assert "pass --overwrite" in capsys.readouterr().err

    monkeypatch.undo()  # an .h5ad output with --store: streamed into the store, then copied chunk by chunk
    h5ad = tmp_path / "sad.h5ad"
    command[command.index("-o") + 1] = str(h5ad)
    assert cli.main([*command, "--store", str(tmp_path / "s.zarr")]) == 0
    assert_same(ad.read_h5ad(h5ad), expected, ["SAR"])
    assert_same(ad.read_zarr(tmp_path / "s.zarr"), expected, ["SAR"])
