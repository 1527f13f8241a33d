"""Variants in: bz.io.read_vcf on hand-written VCF files and tables."""

import gzip
import math
import warnings

import pandas as pd
import pytest

import bazenji as bz

HEADER = (
    "##fileformat=VCFv4.2\n"
    "##contig=<ID=chr1,length=248956422>\n"
    '##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"
)

# (CHROM POS ID REF ALT QUAL FILTER INFO FORMAT S1), written by hand
BODY = [
    "chr1\t100\trs1\tA\tG\t50\tPASS\tDP=10\tGT\t0/1",
    "chr1\t200\trs2\tC\tT,G\t.\tq10\tDP=3\tGT\t1/2",
    "chr1\t300\t.\tAT\tA\t20.5\tPASS\t.\tGT\t0/1",
    "chr2\t400\trs4\tg\tgtta\t.\t.\t.\tGT\t0/1",
    "chr2\t500\trs5\tAC\tGT\t.\tPASS\t.\tGT\t0/1",
    "chrX\t600\trs6\tA\t<DEL>,T\t.\tPASS\tSVTYPE=DEL\tGT\t0/1",
]


def write_vcf(path, lines, header=HEADER, compress=False):
    text = header + "".join(line + "\n" for line in lines)
    if compress:
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)
    return path


def check_body(table):
    # 8 alt alleles in BODY; <DEL> is skipped
    assert list(table["id"]) == ["rs1", "rs2_T", "rs2_G", "chr1:300:AT:A", "rs4", "rs5", "rs6_T"]
    assert list(table.index) == list(table["id"])
    assert list(table["chrom"]) == ["chr1", "chr1", "chr1", "chr1", "chr2", "chr2", "chrX"]
    assert list(table["pos"]) == [100, 200, 200, 300, 400, 500, 600]
    assert table["pos"].dtype == "int64"
    assert list(table["ref"]) == ["A", "C", "C", "AT", "G", "AC", "A"]
    assert list(table["alt"]) == ["G", "T", "G", "A", "GTTA", "GT", "T"]
    assert list(table["vcf_id"]) == ["rs1", "rs2", "rs2", ".", "rs4", "rs5", "rs6"]
    assert list(table["allele"]) == [1, 1, 2, 1, 1, 1, 2]
    assert list(table["kind"]) == ["SNV", "SNV", "SNV", "deletion", "insertion", "MNV", "SNV"]
    assert table["qual"].iloc[0] == 50.0
    assert table["qual"].iloc[3] == 20.5
    assert math.isnan(table["qual"].iloc[1])
    assert table["filter"].iloc[1] == "q10"
    assert pd.isna(table["filter"].iloc[4])
    assert table.attrs["skipped"]["symbolic"] == 1
    assert sum(table.attrs["skipped"].values()) == 1
    assert table.attrs["n_records"] == 6


def test_plain_vcf(tmp_path):
    path = write_vcf(tmp_path / "x.vcf", BODY)
    with pytest.warns(UserWarning, match=r"skipped 1 of 8 .*1 symbolic"):
        table = bz.io.read_vcf(path)
    check_body(table)


def test_gzip_vcf_detected_by_content(tmp_path):
    # named .vcf.gz and also a misleading plain name: compression is read from the bytes
    for name in ("x.vcf.gz", "y.vcf"):
        path = write_vcf(tmp_path / name, BODY, compress=True)
        with pytest.warns(UserWarning, match="symbolic"):
            check_body(bz.io.read_vcf(str(path)))


def test_bgzip_vcf(tmp_path):
    # bgzip: a series of gzip members (blocks) each with a BC extra field, and an empty EOF block
    text = (HEADER + "".join(line + "\n" for line in BODY)).encode()
    blocks = [text[:100], text[100:250], text[250:]]
    raw = b"".join(_bgzf_block(b) for b in blocks) + _bgzf_block(b"")
    path = tmp_path / "x.vcf.bgz"
    path.write_bytes(raw)
    with pytest.warns(UserWarning, match="symbolic"):
        check_body(bz.io.read_vcf(path))


def _bgzf_block(data: bytes) -> bytes:
    import struct
    import zlib

    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    deflated = compressor.compress(data) + compressor.flush()
    block_size = len(deflated) + 25  # 12 header + 6 extra + 8 trailer, minus 1
    header = (
        b"\x1f\x8b\x08\x04"
        + b"\x00" * 4
        + b"\x00\xff"
        + struct.pack("<H", 6)
        + b"BC"
        + struct.pack("<HH", 2, block_size)
    )
    trailer = struct.pack("<II", zlib.crc32(data) & 0xFFFFFFFF, len(data))
    return header + deflated + trailer


def test_skips_are_counted_and_reported(tmp_path):
    lines = [
        "1\t10\tsv1\tA\t<DUP>\t.\t.\t.",
        "1\t20\tsp1\tA\t*,C\t.\t.\t.",
        "1\t30\tbnd1\tG\tG[2:100[\t.\t.\t.",
        "1\t31\tbnd2\tT\t]2:200]T\t.\t.\t.",
        "1\t32\tbnd3\tT\t.T\t.\t.\t.",
        "1\t40\tlong1\tA\tA" + "C" * 30 + "\t.\t.\t.",
        "1\t50\tmono\tA\t.\t.\t.\t.",
        "1\t60\tsame\tA\tA\t.\t.\t.",
        "1\t65\tiupac\tA\tR,ART\t.\t.\t.",
        "1\t70\tok\tC\tCAAAAAAAAA\t.\t.\t.",
    ]
    path = write_vcf(tmp_path / "s.vcf", lines, header="#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
    with pytest.warns(UserWarning) as record:
        table = bz.io.read_vcf(path, max_indel=20)
    message = str(record[0].message)
    assert "skipped 10 of 12" in message and "2 ALT with IUPAC ambiguity codes" in message
    assert "2 symbolic" in message and "3 breakend" in message and "1 longer than max_indel=20" in message
    assert list(table["id"]) == ["sp1_C", "ok"]
    assert table.attrs["skipped"] == {"symbolic": 2, "breakend": 3, "too_long": 1, "no_alt": 1, "ref_equals_alt": 1,
                                      "ambiguous_alt": 2}  # fmt: skip
    # a larger max_indel keeps the 31-base insertion
    with pytest.warns(UserWarning, match="skipped 9 of 12"):
        assert "long1" in bz.io.read_vcf(path, max_indel=31).index


def test_no_warning_when_nothing_skipped(tmp_path):
    path = write_vcf(tmp_path / "ok.vcf", BODY[:2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = bz.io.read_vcf(path)
    assert len(table) == 3
    assert table.attrs["skipped"]["symbolic"] == 0


def test_repeated_ids_made_unique(tmp_path):
    path = write_vcf(tmp_path / "d.vcf", ["1\t1\trsX\tA\tC", "1\t5\trsX\tG\tT", "1\t9\trsX-1\tG\tT"], header="")
    with pytest.warns(UserWarning, match="'rsX'"):
        table = bz.io.read_vcf(path)
    assert list(table.index) == ["rsX", "rsX-2", "rsX-1"]
    assert list(table["vcf_id"]) == ["rsX", "rsX", "rsX-1"]


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("chr1\t100\trs1\tA", "line 4.*4 tab-separated"),
        ("chr1 100 rs1 A G", "line 4.*1 tab-separated"),
        ("chr1\tabc\trs1\tA\tG", "line 4.*POS='abc'"),
        ("chr1\t0\trs1\tA\tG", "line 4.*POS='0'"),
        ("chr1\t-5\trs1\tA\tG", "line 4.*POS='-5'"),
        ("chr1\t100\trs1\tA\tG2", "line 4.*ALT allele 'G2'"),
        ("chr1\t100\trs1\tXZ\tG", "line 4.*REF='XZ'"),
        ("chr1\t100\trs1\t\tG", "line 4.*REF=''"),
        ("\t100\trs1\tA\tG", "line 4.*CHROM"),
        ("chr1\t100\trs1\tA\tG\tlow", "line 4.*QUAL='low'"),
    ],
)
def test_malformed_line_names_line_number(tmp_path, line, match):
    lines = ["chr1\t10\trs0\tA\tC"] + [line]  # header has 2 lines, so the bad record is line 4
    path = write_vcf(tmp_path / "bad.vcf", lines, header="##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\n")
    with pytest.raises(ValueError, match=match):
        bz.io.read_vcf(path)


def test_malformed_line_number_in_gzip(tmp_path):
    lines = ["chr1\t10\trs0\tA\tC", "chr1\t11\trs1\tA\tC", "chr1\tX\trs2\tA\tC"]
    path = write_vcf(tmp_path / "bad.vcf.gz", lines, header="#CHROM\tPOS\tID\tREF\tALT\n", compress=True)
    with pytest.raises(ValueError, match="line 4"):
        bz.io.read_vcf(path)


def test_missing_file_and_bad_arguments(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.vcf"):
        bz.io.read_vcf(tmp_path / "missing.vcf")
    path = write_vcf(tmp_path / "ok.vcf", BODY[:1])
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError, match="max_indel"):
            bz.io.read_vcf(path, max_indel=bad)


def test_blank_lines_and_crlf(tmp_path):
    path = tmp_path / "crlf.vcf"
    path.write_bytes(b"#CHROM\tPOS\tID\tREF\tALT\r\nchr1\t7\trs7\tt\tc\r\n\r\nchr1\t8\trs8\tA\tC\r\n")
    table = bz.io.read_vcf(path)
    assert list(table["id"]) == ["rs7", "rs8"]
    assert list(table["ref"]) == ["T", "A"]
    assert list(table["alt"]) == ["C", "C"]


def test_dataframe_input():
    frame = pd.DataFrame(
        {
            "CHROM": ["chr1", "chr1", "chr2"],
            "POS": [100, 200, 300],
            "ID": ["rs1", None, "rs3"],
            "REF": ["A", "C", "G"],
            "ALT": ["G", "T,<INS>", "GA"],
        }
    )
    with pytest.warns(UserWarning, match="1 symbolic"):
        table = bz.io.read_vcf(frame)
    # a missing ID names the allele by chrom:pos:ref:alt, unique without a suffix even in a multi-allelic record
    assert list(table["id"]) == ["rs1", "chr1:200:C:T", "rs3"]
    assert list(table["vcf_id"]) == ["rs1", ".", "rs3"]
    assert list(table["pos"]) == [100, 200, 300]
    assert list(table["allele"]) == [1, 1, 1]
    assert table["qual"].isna().all()
    with pytest.raises(ValueError, match="row 1.*POS='x'"):
        bz.io.read_vcf(pd.DataFrame({"chrom": ["1", "1"], "pos": [1, "x"], "ref": ["A", "A"], "alt": ["C", "C"]}))
    with pytest.raises(ValueError, match="lacks column"):
        bz.io.read_vcf(pd.DataFrame({"chrom": ["1"], "pos": [1], "ref": ["A"]}))


def test_dataframe_float_positions():
    # a pos column with a missing value, or one read by a float-minded reader, holds 100.0: whole floats are positions
    frame = pd.DataFrame({"chrom": ["1", "1", "1"], "pos": [100.0, 200.0, 3e3], "ref": ["A", "C", "G"],
                          "alt": ["G", "T", "A"]})  # fmt: skip
    table = bz.io.read_vcf(frame)
    assert list(table["pos"]) == [100, 200, 3000] and table["pos"].dtype == "int64"
    assert list(table["id"]) == ["1:100:A:G", "1:200:C:T", "1:3000:G:A"]  # not 1:100.0:A:G
    mixed = pd.DataFrame({"chrom": ["1"] * 2, "pos": pd.Series([7, 8.0], dtype=object), "ref": ["A"] * 2,
                          "alt": ["C"] * 2})  # fmt: skip
    assert list(bz.io.read_vcf(mixed)["pos"]) == [7, 8]
    fractional = frame.assign(pos=[100.0, 200.5, 7.25])
    with pytest.raises(ValueError, match=r"non-integral pos 200.5, 7.25 at row\(s\) 1, 2; expected whole"):
        bz.io.read_vcf(fractional)
    with pytest.raises(ValueError, match=r"row 1 .*POS='\.'"):  # missing is reported as missing, not as a fraction
        bz.io.read_vcf(frame.assign(pos=[100.0, float("nan"), 3.0]))
    with pytest.raises(ValueError, match="non-integral pos inf at row"):
        bz.io.read_vcf(frame.assign(pos=[100.0, 2.0, float("inf")]))


def test_empty_vcf(tmp_path):
    table = bz.io.read_vcf(write_vcf(tmp_path / "e.vcf", []))
    assert len(table) == 0
    assert list(table.columns[:5]) == ["chrom", "pos", "id", "ref", "alt"]
    assert table.attrs["n_records"] == 0
