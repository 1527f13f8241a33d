"""bz.io.write_vcf / write_variant_table and `bazenji sad --vcf-out`, read back with pysam and pandas.

The expectation is the variant_effect AnnData itself: every INFO value of every record and ALT is looked up in
X / layers by the variant's (chrom, pos, REF, ALT).
"""

import importlib.util
import subprocess
import sys

import anndata as ad
import numpy as np
import pandas as pd
import pysam
import pytest

import bazenji as bz
from bazenji.io.variant_export import STAT_MEANINGS

OTHER = {"A": "G", "C": "T", "G": "A", "T": "C"}


@pytest.fixture(scope="module", autouse=True)
def quiet():
    bz.settings.progress = False


@pytest.fixture(scope="module")
def demo():
    return bz.datasets.demo()


@pytest.fixture(scope="module")
def vcf(demo, tmp_path_factory):
    """Out of order on purpose: chr2 first, then chr1 with a position going back."""
    genome = bz.io.Genome(demo.fasta)

    def base(chrom, pos, n=1):
        return genome.fetch(chrom, pos - 1, pos - 1 + n, upper=True)

    b = {p: base("chr1", p) for p in (250_000, 260_000, 270_000, 300_000)}
    wrong = next(x for x in "ACGT" if x != base("chr1", 290_000))
    wrong_alt = next(x for x in "ACGT" if x not in (wrong, base("chr1", 290_000)))
    rows = [
        ("chr2", 200_000, "rsA", base("chr2", 200_000), OTHER[base("chr2", 200_000)], ".", "PASS"),
        ("chr1", 300_000, "rsB", b[300_000], OTHER[b[300_000]], "50", "q10"),
        (
            "chr1",
            250_000,
            "rsC",
            b[250_000],
            f"{OTHER[b[250_000]]},<DEL>,{'ACGT'.replace(b[250_000], '')[0]}",
            ".",
            ".",
        ),
        ("chr1", 260_000, "rsD1", b[260_000], OTHER[b[260_000]], ".", "."),  # a multi-allelic site split in two
        (
            "chr1",
            260_000,
            "rsD2",
            b[260_000],
            "ACGT".replace(b[260_000], "").replace(OTHER[b[260_000]], "")[0],
            ".",
            ".",
        ),  # fmt: skip
        ("chr1", 270_000, "ins", b[270_000], b[270_000] + "ACG", ".", "."),
        ("chr1", 280_000, "del", base("chr1", 280_000, 3), base("chr1", 280_000), ".", "."),
        ("chr1", 290_000, "mismatch", wrong, wrong_alt, ".", "."),
    ]
    lines = ["##fileformat=VCFv4.2", '##FILTER=<ID=q10,Description="Quality below 10">',
             "##contig=<ID=chr1,length=1200000>", "##contig=<ID=chr2,length=1000000>",
             "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]  # fmt: skip
    lines += [f"{c}\t{p}\t{i}\t{r}\t{a}\t{q}\t{f}\t." for c, p, i, r, a, q, f in rows]
    path = tmp_path_factory.mktemp("vcf") / "variants.vcf"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def scores(vcf, demo):
    with pytest.warns(UserWarning):  # the skipped <DEL> and the REF matching neither genome nor ALT
        return bz.tl.variant_effect(vcf, "demo", demo.fasta, stats="all", on_mismatch="nan")


def expected_value(adata, stat, track, chrom, pos, ref, alt):
    row = np.flatnonzero(
        (adata.obs["chrom"].astype(str) == chrom).to_numpy() & (adata.obs["pos"] == pos).to_numpy()
        & (adata.obs["ref"] == ref).to_numpy() & (adata.obs["alt"] == alt).to_numpy()
    )  # fmt: skip
    assert len(row) == 1
    array = adata.X if stat == "SAD" else adata.layers[stat]
    return float(np.asarray(array[row[0]]).reshape(-1)[list(adata.var_names).index(track)])


def check_values(path, adata, fields, rtol):
    """Every INFO value of every record against the AnnData; returns the records (chrom, pos, id, alleles)."""
    seen = []
    with pysam.VariantFile(str(path)) as vcf:
        for record in vcf:
            seen.append((record.chrom, record.pos, record.id, record.alleles))
            for field in fields.itertuples():
                values = record.info[field.id]
                assert len(values) == len(record.alts)
                for alt, value in zip(record.alts, values, strict=True):
                    want = expected_value(adata, field.stat, field.track, record.chrom, record.pos, record.ref, alt)
                    if np.isnan(want):
                        assert value is None, (field.id, record.id)
                    else:
                        np.testing.assert_allclose(
                            value, want, rtol=rtol, atol=1e-30, err_msg=f"{field.id} {record.id}"
                        )
    return seen


def test_vcf_info_values_equal_the_scores(scores, demo, tmp_path):
    fields = bz.io.write_vcf(scores, tmp_path / "out.vcf", genome=demo.fasta)
    assert len(fields) == 9 * 18 and set(fields["stat"]) == set(STAT_MEANINGS)
    # VCF text holds 6 significant digits (htslib's %g): a relative error of at most 5e-6
    records = check_values(tmp_path / "out.vcf", scores, fields, rtol=5e-6)
    assert len(records) == 8  # nine rows: the two scored ALTs of rsC share one record
    # BCF keeps the float32 values exactly
    bz.io.write_vcf(scores, tmp_path / "out.bcf", genome=demo.fasta)
    assert check_values(tmp_path / "out.bcf", scores, fields, rtol=0) == records


def test_header_describes_every_field(scores, demo, tmp_path):
    fields = bz.io.write_vcf(scores, tmp_path / "out.vcf", genome=demo.fasta)
    targets = demo.targets_table().set_index("identifier")
    with pysam.VariantFile(str(tmp_path / "out.vcf")) as vcf:
        header = vcf.header
        assert {k: header.contigs[k].length for k in header.contigs} == bz.io.Genome(demo.fasta).chrom_sizes
        for field in fields.itertuples():
            info = header.info[field.id]
            assert (info.number, info.type) == ("A", "Float")
            assert info.description == (
                f"{field.stat} of track {field.identifier} ({targets.loc[field.identifier, 'description']}): "
                f"{STAT_MEANINGS[field.stat]}"
            )
        assert header.info["SAD_CAGE_K562_plus"].description.startswith("SAD of track CAGE_K562+ (CAGE:K562)")
        meta = {r.key: r.value for r in header.records if r.type == "GENERIC"}
        assert meta["bazenji_skipped_alleles"] == "symbolic:1" and meta["source"].endswith("variant_effect")
        assert "q10" in header.filters
        states = {r.id: r.info["BZ_REF"] for r in vcf}
    assert states["mismatch"] == "mismatch" and {v for k, v in states.items() if k != "mismatch"} == {"match"}


def test_multiallelic_records_and_their_order(scores, tmp_path):
    bz.io.write_vcf(scores, tmp_path / "out.vcf")
    with pysam.VariantFile(str(tmp_path / "out.vcf")) as vcf:
        assert list(vcf.header.contigs) == ["chr2", "chr1"]  # no genome: the variants' chromosomes, as they come
        records = list(vcf)
    assert [(r.chrom, r.pos, r.id) for r in records] == [
        ("chr2", 200_000, "rsA"), ("chr1", 250_000, "rsC"), ("chr1", 260_000, "rsD1"), ("chr1", 260_000, "rsD2"),
        ("chr1", 270_000, "ins"), ("chr1", 280_000, "del"), ("chr1", 290_000, "mismatch"), ("chr1", 300_000, "rsB"),
    ]  # fmt: skip
    multi = records[1]
    rows = scores.obs[scores.obs["vcf_id"] == "rsC"]
    assert multi.alts == tuple(rows["alt"]) and len(multi.alts) == 2  # the <DEL> between them was never scored
    assert multi.info["BZ_ALLELE"] == (1, 3)
    assert records[2].alts != records[3].alts and records[2].info["BZ_ALLELE"] == records[3].info["BZ_ALLELE"] == (1,)
    assert records[-1].qual == 50 and list(records[-1].filter) == ["q10"] and list(records[0].filter) == ["PASS"]
    assert all(v is None for v in records[-2].info["SAD_DNASE_HepG2"])  # on_mismatch='nan': missing, not zero


def test_chosen_stats_and_tracks_and_errors(scores, tmp_path):
    fields = bz.io.write_vcf(scores, tmp_path / "cage.vcf", stats=["SAR", "SAD"], tracks="CAGE")
    assert list(fields["stat"].unique()) == ["SAR", "SAD"] and len(fields) == 2 * 6
    with pysam.VariantFile(str(tmp_path / "cage.vcf")) as vcf:
        assert sorted(k for k in vcf.header.info if not k.startswith("BZ_")) == sorted(fields["id"])
    check_values(tmp_path / "cage.vcf", scores, fields, rtol=5e-6)
    sad_only = bz.tl.variant_effect(scores.obs.iloc[:1][["chrom", "pos", "id", "ref", "alt"]], "demo", None)
    with pytest.raises(ValueError, match=r"stats=\['SAR', 'NOPE'\] are not in the variant_effect result, which holds "
                       r"\['SAD'\].*stats=\['SAR', 'NOPE'\]"):  # fmt: skip
        bz.io.write_vcf(sad_only, tmp_path / "x.vcf", stats=["SAD", "SAR", "NOPE"])
    with pytest.raises(ValueError, match=r"unknown track name.*'NOPE'.*holds 18 tracks"):
        bz.io.write_vcf(scores, tmp_path / "x.vcf", tracks=["DNASE_K562", "NOPE"])
    with pytest.raises(ValueError, match=r"expected a \.vcf, \.vcf\.gz or \.bcf path"):
        bz.io.write_vcf(scores, tmp_path / "x.txt")
    with pytest.raises(ValueError, match=r"variants on \['chr2', 'chr1'\], which the genome lacks"):
        bz.io.write_vcf(scores, tmp_path / "x.vcf", genome={"chrX": 100})
    assert not (tmp_path / "x.vcf").exists()


def test_bgzipped_vcf_is_indexed_for_region_queries(scores, demo, tmp_path):
    bz.io.write_vcf(scores, tmp_path / "out.vcf.gz", genome=demo.fasta, tracks=[0])
    assert (tmp_path / "out.vcf.gz.tbi").is_file()
    with pysam.VariantFile(str(tmp_path / "out.vcf.gz")) as vcf:
        assert [r.chrom for r in vcf][:2] == ["chr1", "chr1"]  # with a genome, chromosomes in the genome's order
        assert [r.id for r in vcf.fetch("chr1", 255_000, 285_000)] == ["rsD1", "rsD2", "ins", "del"]
        assert [r.id for r in vcf.fetch("chr2")] == ["rsA"]


def test_tidy_table(scores, tmp_path):
    path = bz.io.write_variant_table(scores, tmp_path / "scores.tsv.gz", stats=["SAD", "REF"], tracks="DNASE",
                                     rows_per_block=3)  # fmt: skip
    table = pd.read_csv(path, sep="\t", dtype={"id": str})
    assert list(table.columns) == ["id", "chrom", "pos", "ref", "alt", "track", "SAD", "REF"]
    assert len(table) == scores.n_obs * 3
    assert list(table["id"][::3]) == list(scores.obs["id"]) and list(table["track"][:3]) == list(scores.var_names[:3])
    for stat in ("SAD", "REF"):
        array = scores.X if stat == "SAD" else scores.layers[stat]
        np.testing.assert_array_equal(table[stat].to_numpy(np.float32), np.asarray(array)[:, :3].reshape(-1))
    parquet = tmp_path / "scores.parquet"
    if importlib.util.find_spec("pyarrow") is None:
        with pytest.raises(ImportError, match="needs pyarrow"):
            bz.io.write_variant_table(scores, parquet)
    else:
        bz.io.write_variant_table(scores, parquet, stats=["SAD", "REF"], tracks="DNASE")
        pd.testing.assert_frame_equal(pd.read_parquet(parquet), table, check_dtype=False)
    with pytest.raises(ValueError, match="expected a path ending in one of"):
        bz.io.write_variant_table(scores, tmp_path / "scores.csv")


def test_cli_sad_vcf_out_from_a_streamed_store(scores, vcf, demo, tmp_path):
    out, vcf_out, table_out = tmp_path / "sad.zarr", tmp_path / "sad.vcf.gz", tmp_path / "sad.tsv"
    command = [sys.executable, "-m", "bazenji.cli", "sad", str(vcf), "--genome", str(demo.fasta), "--model", "demo",
               "--tracks", "DNASE", "--stats", "SAD,SAR", "--on-mismatch", "nan", "-o", str(out), "--vcf-out",
               str(vcf_out), "--table-out", str(table_out), "--quiet"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert f"vcf       {vcf_out} (6 INFO fields" in done.stdout and f"table     {table_out} (27 rows" in done.stdout
    streamed = ad.read_zarr(out)
    fields = bz.io.variant_export.vcf_fields(streamed)
    assert list(fields["id"]) == [f"{s}_DNASE_{b}" for s in ("SAD", "SAR") for b in ("HepG2", "K562", "GM12878")]
    check_values(vcf_out, streamed, fields, rtol=5e-6)  # the VCF holds the scores the command streamed to -o
    table = pd.read_csv(table_out, sep="\t")
    np.testing.assert_array_equal(table["SAR"].to_numpy(np.float32), np.asarray(streamed.layers["SAR"]).reshape(-1))
    again = subprocess.run(command, capture_output=True, text=True, check=False)
    assert again.returncode == 2 and "exists; pass --overwrite" in again.stderr
    bad = subprocess.run([*command[:-5], "--vcf-out", str(tmp_path / "sad.txt"), "--quiet"], capture_output=True,
                         text=True, check=False)  # fmt: skip
    assert bad.returncode == 2 and "--vcf-out" in bad.stderr and ".vcf.gz" in bad.stderr
