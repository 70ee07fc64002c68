"""Bad corpora through the real stage scripts, as a user meets them: one clear error line that
names the file and line (or both hashes), exit status 1, and no output folder left behind."""

import gzip
import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def stage(name: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "stages" / f"{name}.py")], cwd=cwd, capture_output=True, text=True)


def project(tmp_path: Path, corpus: bytes, *, filename: str = "pairs.tsv", sha256: str | None = None, **data) -> Path:
    """A folder with params.yaml naming a custom TSV corpus (en -> fr) stored at `filename`."""
    (tmp_path / filename).write_bytes(corpus)
    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))  # a stage needs every param
    params["data"] |= {
        "corpus": "custom",
        "url": str(tmp_path / filename),
        "sha256": sha256 or hashlib.sha256(corpus).hexdigest(),
        "custom": {"format": "tsv", "languages": ["en", "fr"], "pretokenized": False, "lowercase": False},
        "dev_size": 1,
        "test_size": 1,
        **data,
    }
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    return tmp_path


def error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, proc.stderr
    return errors[0]


GOOD = "".join(f"Sentence number {i}.\tPhrase numéro {i}.\n" for i in range(20)).encode()


def test_a_good_custom_corpus_goes_through_download_and_split(tmp_path):
    repo = project(tmp_path, gzip.compress(GOOD), filename="pairs.tsv.gz")
    assert stage("download", repo).returncode == 0
    proc = stage("split", repo)
    assert proc.returncode == 0, proc.stderr
    assert "train 18, dev 1, test 1" in proc.stdout
    assert (repo / "data/split/train.src").read_text().count("\n") == 18


def test_a_checksum_mismatch_names_both_hashes_and_leaves_nothing(tmp_path):
    repo = project(tmp_path, GOOD, sha256="0" * 64)
    err = error_line(stage("download", repo))
    assert "0" * 64 in err and hashlib.sha256(GOOD).hexdigest() in err
    assert not any(p.is_file() for p in (repo / "data/raw").rglob("*"))  # nothing unpacked, no partial download


@pytest.mark.parametrize(
    "bad, expected",
    [
        (b"one column only\n", r"pairs.tsv:3: "),
        (b"a\tb\tc\td\n", r"pairs.tsv:3: "),
        (b"caf\xe9\tcaf\xc3\xa9\n", r"pairs.tsv:3: not valid UTF-8"),
    ],
)
def test_a_bad_line_is_named_by_file_and_line_and_no_split_is_written(tmp_path, bad, expected):
    lines = GOOD.splitlines(keepends=True)
    repo = project(tmp_path, b"".join(lines[:2]) + bad + b"".join(lines[2:]))
    assert stage("download", repo).returncode == 0
    err = error_line(stage("split", repo))
    assert expected in err, err
    assert not (repo / "data/split").exists()
    assert not (repo / "metrics/split.json").exists()


def test_bom_crlf_and_blank_lines_are_tolerated(tmp_path):
    text = "\ufeff" + GOOD.decode().replace("\n", "\r\n") + "\r\n   \r\n"
    repo = project(tmp_path, text.encode())
    assert stage("download", repo).returncode == 0
    proc = stage("split", repo)
    assert proc.returncode == 0, proc.stderr
    src = (repo / "data/split/train.src").read_text(encoding="utf-8")
    assert "\r" not in src and "\ufeff" not in src
    assert sorted(
        src.splitlines() + (repo / "data/split/dev.src").read_text().splitlines() + (repo / "data/split/test.src").read_text().splitlines()
    ) == sorted(f"Sentence number {i} ." for i in range(20))


def test_a_corpus_that_filtering_empties_is_refused_with_the_counts(tmp_path):
    long_lines = "".join(f"{'word ' * 60}{i}\t{'mot ' * 60}{i}\n" for i in range(20)).encode()
    repo = project(tmp_path, long_lines, max_len=50)
    assert stage("download", repo).returncode == 0
    err = error_line(stage("split", repo))
    assert "no pairs left after filtering" in err and "'dropped_too_long': 20" in err, err
    assert not (repo / "data/split").exists()
