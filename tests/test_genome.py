import gzip
import os
import pickle
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bazenji as bz
from bazenji.io import Genome

BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


def write_bgzf(path, data: bytes, block: int = 97) -> list[tuple[int, int]]:
    """Write ``data`` as BGZF blocks of ``block`` bytes, from the SAM spec's description; return block starts."""
    out, starts = bytearray(), []
    for i in range(0, len(data), block):
        chunk = data[i : i + block]
        packer = zlib.compressobj(6, zlib.DEFLATED, -15)
        deflated = packer.compress(chunk) + packer.flush()
        bsize = 18 + len(deflated) + 8
        header = (
            b"\x1f\x8b\x08\x04"
            + b"\0\0\0\0"
            + b"\0\xff"
            + struct.pack("<H", 6)
            + b"BC"
            + struct.pack("<HH", 2, bsize - 1)
        )
        starts.append((len(out), i))
        out += header + deflated + struct.pack("<II", zlib.crc32(chunk), len(chunk))
    out += BGZF_EOF
    path.write_bytes(bytes(out))
    assert gzip.decompress(bytes(out)) == data
    return starts


def fasta_text(seqs: dict[str, str], widths: dict[str, int], newline: str = "\n") -> str:
    lines = []
    for name, seq in seqs.items():
        lines.append(f">{name} some description")
        w = widths[name]
        lines += [seq[i : i + w] for i in range(0, len(seq), w)]
    return newline.join(lines) + newline


def ref_fetch(seqs, chrom, start, end):
    seq = seqs[chrom]
    return "".join(seq[i] if 0 <= i < len(seq) else "N" for i in range(start, end))


def ref_codes(text):
    table = {"A": 0, "C": 1, "G": 2, "T": 3}
    return np.array([table.get(c.upper(), 4) for c in text], dtype=np.uint8)


@pytest.fixture
def seqs():
    rng = np.random.default_rng(0)
    chr1 = "".join(rng.choice(list("ACGTacgt"), 1000))
    chr1 = chr1[:100] + "N" * 50 + chr1[150:300] + "RYKMSWnn" + chr1[308:]
    chr2 = "".join(rng.choice(list("ACGT"), 333))
    return {"chr1": chr1, "chr2": chr2, "chrM": "GATTACA"}


@pytest.fixture
def fasta(tmp_path, seqs):
    path = tmp_path / "genome.fa"
    path.write_text(fasta_text(seqs, {"chr1": 60, "chr2": 7, "chrM": 3}))
    return path


WINDOWS = [("chr1", -30, 20), ("chr1", 95, 160), ("chr1", 290, 320), ("chr1", 980, 1040), ("chr1", 2000, 2010),
           ("chr2", 0, 333), ("chr2", -5, 400), ("chrM", -2, 9), ("chrM", 3, 3)]  # fmt: skip


def test_fai_written_in_samtools_format(fasta):
    Genome(fasta)
    # hand computed: chr1's header line is 23 bytes, then 17 lines of 60 bases (the last 40) plus newlines
    rows = [line.split("\t") for line in (fasta.parent / "genome.fa.fai").read_text().splitlines()]
    chr2_offset = 23 + 1000 + 17 + len(">chr2 some description\n")
    assert rows[0] == ["chr1", "1000", "23", "60", "61"]
    assert rows[1] == ["chr2", "333", str(chr2_offset), "7", "8"]
    assert rows[2][:2] == ["chrM", "7"] and rows[2][3:] == ["3", "4"]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_plain_fasta_fetch_matches_reference(tmp_path, seqs, newline):
    path = tmp_path / "g.fa"
    path.write_bytes(fasta_text(seqs, {"chr1": 60, "chr2": 7, "chrM": 3}, newline).encode())
    genome = Genome(path)
    assert genome.chrom_sizes == {k: len(v) for k, v in seqs.items()}
    assert genome.chroms == ["chr1", "chr2", "chrM"] and genome.path == str(path) and genome.kind == "fasta"
    for chrom, start, end in WINDOWS:
        expected = ref_fetch(seqs, chrom, start, end)
        assert genome.fetch(chrom, start, end) == expected
        assert genome.fetch(chrom, start, end, upper=True) == expected.upper()
        assert np.array_equal(genome.fetch_codes(chrom, start, end), ref_codes(expected))


def test_fetch_codes_many_matches_single_fetches(fasta, seqs):
    genome = Genome(fasta)
    chroms = ["chr1", "chr2", "chrM", "chr1", "chr1"]
    starts = [-40, 300, -10, 960, 5000]
    got = genome.fetch_codes_many(chroms, starts, 64)
    for row, chrom, start in zip(got, chroms, starts, strict=True):
        assert np.array_equal(row, ref_codes(ref_fetch(seqs, chrom, start, start + 64)))


def test_bgzip_fasta_builds_gzi_and_matches_plain(tmp_path, fasta, seqs):
    data = fasta.read_bytes()
    path = tmp_path / "g.fa.gz"
    blocks = write_bgzf(path, data)
    genome = Genome(path)
    assert genome.kind == "bgzip"
    gzi = np.fromfile(str(path) + ".gzi", dtype="<u8")
    assert gzi[0] == len(blocks) - 1
    assert gzi[1:].reshape(-1, 2).tolist() == [list(b) for b in blocks[1:]]
    for chrom, start, end in WINDOWS:
        assert genome.fetch(chrom, start, end) == ref_fetch(seqs, chrom, start, end)
    many = genome.fetch_codes_many(["chr1", "chr2"], [-3, 320], 50)
    assert np.array_equal(many[1], ref_codes(ref_fetch(seqs, "chr2", 320, 370)))
    # a second open reads the written indexes and gives the same answers
    again = Genome(path)
    assert again.fetch("chr1", 100, 400) == genome.fetch("chr1", 100, 400)
    assert again.fingerprint == genome.fingerprint == Genome(fasta).fingerprint == Genome(seqs).fingerprint


def test_plain_gzip_is_refused(tmp_path, fasta):
    path = tmp_path / "g.fa.gz"
    path.write_bytes(gzip.compress(fasta.read_bytes()))
    with pytest.raises(ValueError, match="not with bgzip"):
        Genome(path)


def test_fingerprint_tracks_content_not_format(tmp_path, seqs):
    a = tmp_path / "a.fa"
    a.write_text(fasta_text(seqs, {"chr1": 60, "chr2": 7, "chrM": 3}))
    b = tmp_path / "b.fa"
    b.write_text(fasta_text({k: v.upper() for k, v in seqs.items()}, {"chr1": 13, "chr2": 100, "chrM": 7}))
    assert Genome(a).fingerprint == Genome(b).fingerprint == Genome(seqs).fingerprint
    renamed = dict(seqs, chrM="GATTACA")
    renamed["chrX"] = renamed.pop("chr2")
    assert Genome(renamed).fingerprint != Genome(seqs).fingerprint
    assert Genome(dict(seqs, chrM="GATTAC")).fingerprint != Genome(seqs).fingerprint
    assert "3seq" in Genome(seqs).fingerprint


def test_in_memory_index_when_folder_not_writable(tmp_path, fasta, seqs, monkeypatch, caplog):
    def refuse(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    with caplog.at_level("WARNING", logger="bazenji"):
        genome = Genome(fasta)
    assert not (fasta.parent / "genome.fa.fai").exists()
    assert "indexed in memory" in caplog.text
    assert genome.fetch("chr2", 10, 30) == seqs["chr2"][10:30]


def test_bgzip_indexes_in_memory_when_folder_not_writable(tmp_path, fasta, seqs, monkeypatch, caplog):
    path = tmp_path / "g.fa.gz"
    write_bgzf(path, fasta.read_bytes())

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)  # what a read-only folder does to the atomic index writes
    with caplog.at_level("WARNING", logger="bazenji"):
        genome = Genome(path)
    assert not Path(str(path) + ".fai").exists() and not Path(str(path) + ".gzi").exists()
    assert "the bgzip block index is kept in memory" in caplog.text and "indexed in memory" in caplog.text
    for chrom, start, end in WINDOWS:
        assert genome.fetch(chrom, start, end) == ref_fetch(seqs, chrom, start, end)
    assert pickle.loads(pickle.dumps(genome)).fetch("chr2", 5, 40) == seqs["chr2"][5:40]


def test_stale_index_is_rebuilt(tmp_path, seqs):
    path = tmp_path / "g.fa"
    path.write_text(fasta_text(seqs, {"chr1": 60, "chr2": 7, "chrM": 3}))
    Genome(path)
    path.write_text(fasta_text({"chrZ": "ACGTACGT"}, {"chrZ": 3}))
    os.utime(path, (os.path.getmtime(path) + 10,) * 2)
    assert Genome(path).chrom_sizes == {"chrZ": 8}


def test_unknown_chromosome_names_the_prefix(fasta):
    genome = Genome(fasta)
    with pytest.raises(ValueError, match=r"'1'.*'chr' prefix"):
        genome.fetch_codes("1", 0, 10)
    with pytest.raises(ValueError, match=r"5 chromosome names.*'a', 'b', 'c', 'd', 'e'"):
        genome.check_chroms(["a", "b", "c", "d", "e", "chr1"])
    with pytest.raises(ValueError, match="and 1 more"):
        genome.check_chroms(list("abcdef"))
    genome.check_chroms(["chr1", "chrM"])
    nochr = Genome({"1": "ACGT"})
    with pytest.raises(ValueError, match="without the 'chr' prefix"):
        nochr.check_chroms(["chr1"])


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("ACGT\n>chr1\nACGT\n", "line 1: sequence before the first"),
        (">chr1\nACGT\nAC\nACGT\n", "line 4: sequence 'chr1' continues after a shorter"),
        (">chr1\nACGT\nACGTA\n", "line 3: sequence 'chr1' has a line of 5 bases"),
        (">chr1\nAC\n>chr1\nAC\n", "line 3: sequence name 'chr1' appears twice"),
        ("", "no '>' sequence header"),
    ],
)
def test_malformed_fasta_names_the_line(tmp_path, text, match):
    path = tmp_path / "bad.fa"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        Genome(path)


def test_missing_file_and_bad_ranges(tmp_path, fasta):
    with pytest.raises(FileNotFoundError, match="nope.fa"):
        Genome(tmp_path / "nope.fa")
    with pytest.raises(ValueError, match="end=5 is before start=10"):
        Genome(fasta).fetch("chr1", 10, 5)
    with pytest.raises(TypeError, match="FASTA path or a dict"):
        Genome(42)


def test_pickle_round_trip_reopens_file(fasta, seqs):
    genome = Genome(fasta)
    genome.fetch("chr1", 0, 10)
    clone = pickle.loads(pickle.dumps(genome))
    assert clone.fetch("chr1", 0, 100) == seqs["chr1"][:100]
    assert bz.io.Genome(genome).fetch("chrM", 0, 7) == "GATTACA"


def ref_onehot(text, rc):
    if rc:
        text = text[::-1].upper().translate(str.maketrans("ACGT", "TGCA"))
    return np.stack([[float(c.upper() == b) for b in "ACGT"] for c in text]).astype(np.uint8)


def test_fetch_onehot_many_plain_bgzip_and_memory(tmp_path, fasta, seqs):
    gz = tmp_path / "g.fa.gz"
    write_bgzf(gz, fasta.read_bytes(), block=150)
    chroms = ["chr1", "chr1", "chr2", "chrM", "chr1"]
    starts = [-40, 95, 300, -10, 980]
    rc = [False, True, True, False, True]
    expected = np.stack(
        [ref_onehot(ref_fetch(seqs, c, s, s + 64), r) for c, s, r in zip(chroms, starts, rc, strict=True)]
    )
    for genome in (Genome(fasta), Genome(gz), Genome(seqs)):
        assert np.array_equal(genome.fetch_onehot_many(chroms, starts, 64, rc=rc), expected), genome.kind
        out = np.full((5, 64, 4), 9, np.uint8)
        genome.fetch_onehot_many(chroms, starts, 64, rc=rc, out=out)
        assert np.array_equal(out, expected)
        assert np.array_equal(
            genome.fetch_onehot_many(chroms, starts, 64)[1], ref_onehot(ref_fetch(seqs, "chr1", 95, 159), False)
        )
    with pytest.raises(ValueError, match="one flag per window"):
        Genome(seqs).fetch_onehot_many(chroms, starts, 64, rc=[True])


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.text(alphabet="ACGTNacgtnRYK", min_size=0, max_size=80), min_size=1, max_size=3),
    st.integers(1, 17),
    st.booleans(),
    st.lists(st.tuples(st.integers(-30, 110), st.integers(0, 60)), min_size=1, max_size=5),
)
def test_fetch_matches_reference_for_any_layout(sequences, width, crlf, windows):
    seqs = {f"s{i}": s for i, s in enumerate(sequences)}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "g.fa"
        path.write_bytes(fasta_text(seqs, dict.fromkeys(seqs, width), "\r\n" if crlf else "\n").encode())
        for genome in (Genome(path), Genome(seqs)):
            for k, (start, size) in enumerate(windows):
                name = f"s{k % len(seqs)}"
                expected = ref_fetch(seqs, name, start, start + size)
                assert genome.fetch(name, start, start + size) == expected
                assert np.array_equal(genome.fetch_codes(name, start, start + size), ref_codes(expected))


def numpy_onehot(seq: str, start: int, length: int, rc: bool) -> tuple[np.ndarray, np.ndarray]:
    """Codes and one-hot of ``seq[start:start+length]`` by plain numpy indexing: N outside, ACGT in any case."""
    text = np.frombuffer(seq.encode("ascii"), dtype=np.uint8)
    positions = np.arange(start, start + length)
    inside = (positions >= 0) & (positions < len(text))
    chars = np.full(length, ord("N"), np.uint8)
    chars[inside] = text[positions[inside]]
    lookup = np.full(256, 4, np.uint8)
    lookup[np.frombuffer(b"ACGTacgt", np.uint8)] = [0, 1, 2, 3, 0, 1, 2, 3]
    codes = lookup[chars]
    onehot = (codes[:, None] == np.arange(4)).astype(np.uint8)
    # reverse complement: positions reversed, and with channels A C G T the complement is the channels reversed
    return codes, onehot[::-1, ::-1] if rc else onehot


segments = st.one_of(
    st.text(alphabet="ACGTacgt", min_size=1, max_size=40),
    st.builds(lambda n, c: c * n, st.integers(1, 30), st.sampled_from("Nn")),  # N runs
    st.text(alphabet="RYKMSWBDHVrykmswbdhv-.", min_size=1, max_size=6),  # IUPAC codes and gaps
)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.lists(segments, min_size=1, max_size=6).map("".join), min_size=1, max_size=3),
    st.integers(1, 13),
    st.integers(1, 90),
    st.lists(st.tuples(st.integers(0, 2), st.integers(-120, 260), st.booleans()), min_size=1, max_size=8),
)
def test_fused_gather_matches_numpy_for_plain_bgzip_and_memory(sequences, width, length, windows):
    seqs = {f"s{i}": s for i, s in enumerate(sequences)}
    chroms = [f"s{k % len(seqs)}" for k, _, _ in windows]
    starts = [s for _, s, _ in windows]
    rc = [r for _, _, r in windows]
    refs = [numpy_onehot(seqs[c], s, length, r) for c, s, r in zip(chroms, starts, rc, strict=True)]
    codes, onehot = np.stack([c for c, _ in refs]), np.stack([o for _, o in refs])
    forward = np.stack([numpy_onehot(seqs[c], s, length, False)[1] for c, s in zip(chroms, starts, strict=True)])
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "g.fa"
        plain.write_text(fasta_text(seqs, dict.fromkeys(seqs, width)))
        gz = Path(tmp) / "g.fa.gz"
        write_bgzf(gz, plain.read_bytes(), block=37)
        for genome in (Genome(plain), Genome(gz), Genome(seqs)):
            got = np.full((len(windows), length, 4), 7, np.uint8)  # stale values must all be overwritten
            genome.fetch_onehot_many(chroms, starts, length, rc=rc, out=got)
            assert np.array_equal(got, onehot), genome.kind
            assert np.array_equal(genome.fetch_onehot_many(chroms, starts, length), forward), genome.kind
            assert np.array_equal(genome.fetch_codes_many(chroms, starts, length), codes), genome.kind
