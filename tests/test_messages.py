"""Corpus and vocabulary mistakes named for what they are, through the real stage scripts: a
CR-only, UTF-16 or empty file, a max_len that empties the training split, a max_size that cuts
the vocabulary, and a wrong sha256 that must not cost the corpus already verified."""

import hashlib

import pytest
import yaml
from test_stages import GOOD, error_line, project, stage


@pytest.mark.parametrize(
    "corpus, expected",
    [
        (GOOD.replace(b"\n", b"\r"), r"pairs.tsv: lines end in a carriage return alone (classic Mac line ends); convert them to LF"),
        (GOOD.decode().encode("utf-16"), r"pairs.tsv: UTF-16 text (a UTF-16 byte-order mark or NUL bytes), not UTF-8; convert it"),
        (GOOD.decode().encode("utf-16-le"), r"pairs.tsv: UTF-16 text"),
        (b"", r"pairs.tsv: the file is empty (0 bytes)"),
    ],
)
def test_a_corpus_in_the_wrong_shape_is_named_for_what_it_is(tmp_path, corpus, expected):
    repo = project(tmp_path, corpus)
    assert stage("download", repo).returncode == 0
    err = error_line(stage("split", repo))
    assert expected in err, err
    assert not (repo / "data/split").exists()


def test_a_max_len_that_empties_the_split_names_the_param(tmp_path):
    repo = project(tmp_path, GOOD, max_len=1)
    assert stage("download", repo).returncode == 0
    err = error_line(stage("split", repo))
    assert "data.max_len=1 dropped 20 of 20 pairs as too long: raise data.max_len" in err, err


def test_a_max_size_that_cuts_the_vocabulary_warns(tmp_path):
    repo = project(tmp_path, GOOD, max_len=50)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["vocab"] |= {"max_size": 5, "min_freq": 1}
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    for name in ("download", "split"):
        assert stage(name, repo).returncode == 0
    proc = stage("vocab", repo)
    assert proc.returncode == 0, proc.stderr
    assert "vocab: warning: vocab.max_size=5 leaves out" in proc.stderr and "source token types" in proc.stderr
    assert "the vocabulary keeps 1 besides the 4 specials" in proc.stderr


def test_a_wrong_sha256_keeps_the_corpus_verified_before(tmp_path):
    repo = project(tmp_path, GOOD)
    assert stage("download", repo).returncode == 0
    before = {p.relative_to(repo): p.read_bytes() for p in (repo / "data/raw").rglob("*") if p.is_file()}
    assert len(before) == 2
    params = yaml.safe_load((repo / "params.yaml").read_text())
    (repo / "pairs.tsv").write_bytes(GOOD + b"One more.\tUne de plus.\n")  # the file changed under the old checksum
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    err = error_line(stage("download", repo))
    assert f"sha256 mismatch: expected {hashlib.sha256(GOOD).hexdigest()}" in err and "data/raw" in err and ".tmp" not in err, err
    assert {p.relative_to(repo): p.read_bytes() for p in (repo / "data/raw").rglob("*") if p.is_file()} == before
    assert [p.name for p in (repo / "data").iterdir()] == ["raw"]  # no temporary left
