"""nmt.download against a real HTTP server on 127.0.0.1, and on local files and archives."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
import threading
import time
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from nmt.download import DownloadError, fetch, sha256_of, unpack

FILES = {"corpus/train.en": "hello .\ngood morning .\n", "corpus/train.ja": "こんにちは 。\nおはよう 。\n"}


def make_tar_gz(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


ARCHIVE = make_tar_gz(FILES)
SHA = hashlib.sha256(ARCHIVE).hexdigest()


@dataclass
class Server:
    base: str
    hits: Counter = field(default_factory=Counter)  # requests seen, by path

    def url(self, path: str) -> str:
        return f"{self.base}/{path}"


class Handler(BaseHTTPRequestHandler):
    """Serves ARCHIVE under several paths, each misbehaving in its own way."""

    def do_GET(self) -> None:
        hits = self.server.state.hits  # type: ignore[attr-defined]
        hits[self.path] += 1
        if self.path == "/missing.tar.gz":
            self.send_error(404)
        elif self.path == "/flaky.tar.gz" and hits[self.path] == 1:
            self.send_error(503)
        elif self.path == "/slow.tar.gz":
            time.sleep(0.5)  # longer than the client's timeout; then hang up
        else:
            body = ARCHIVE[: len(ARCHIVE) // 2] if self.path == "/cut.tar.gz" else ARCHIVE
            self.send_response(200)
            self.send_header("Content-Type", "application/gzip")
            self.send_header("Content-Length", str(len(ARCHIVE)))  # the full size, even when cut
            self.end_headers()
            self.wfile.write(body)
        self.close_connection = True

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.state = Server(f"http://127.0.0.1:{httpd.server_port}")  # type: ignore[attr-defined]
    # A short poll interval: shutdown() waits for it, after every test.
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield httpd.state  # type: ignore[attr-defined]
    httpd.shutdown()
    httpd.server_close()


def listing(folder: Path) -> list[str]:
    """Every file and folder under `folder`, hidden ones (temporary files) included."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


# --- fetch over HTTP ---------------------------------------------------------------


def test_fetch_downloads_verifies_and_unpacks(server, tmp_path):
    dest = fetch(server.url("corpus.tar.gz"), tmp_path / "dl" / "corpus.tar.gz", SHA)

    assert dest == tmp_path / "dl" / "corpus.tar.gz"
    assert sha256_of(dest) == SHA
    assert listing(tmp_path / "dl") == ["corpus.tar.gz"]
    out = unpack(dest, tmp_path / "raw")
    assert listing(out) == ["corpus", "corpus/train.en", "corpus/train.ja"]
    assert (out / "corpus/train.ja").read_text(encoding="utf-8") == FILES["corpus/train.ja"]


def test_checksum_mismatch_names_both_hashes_and_saves_nothing(server, tmp_path):
    wrong = "0" * 64
    with pytest.raises(DownloadError) as e:
        fetch(server.url("corpus.tar.gz"), tmp_path / "corpus.tar.gz", wrong.upper(), backoff=0)

    assert wrong in str(e.value) and SHA in str(e.value)
    assert server.url("corpus.tar.gz") in str(e.value)
    assert listing(tmp_path) == []
    assert server.hits["/corpus.tar.gz"] == 1  # a bad checksum is not retried


def test_not_found_fails_at_once(server, tmp_path):
    with pytest.raises(DownloadError, match="404") as e:
        fetch(server.url("missing.tar.gz"), tmp_path / "x.tar.gz", SHA, backoff=0)

    assert server.url("missing.tar.gz") in str(e.value)
    assert listing(tmp_path) == []
    assert server.hits["/missing.tar.gz"] == 1


def test_connection_cut_midway_is_retried_then_reported(server, tmp_path):
    with pytest.raises(DownloadError, match="2 attempt") as e:
        fetch(server.url("cut.tar.gz"), tmp_path / "x.tar.gz", SHA, retries=2, backoff=0)

    assert server.url("cut.tar.gz") in str(e.value)
    assert f"of {len(ARCHIVE)} bytes" in str(e.value)
    assert listing(tmp_path) == []
    assert server.hits["/cut.tar.gz"] == 2


def test_timeout_is_reported(server, tmp_path):
    with pytest.raises(DownloadError, match="timed out"):
        fetch(server.url("slow.tar.gz"), tmp_path / "x.tar.gz", SHA, timeout=0.1, retries=1)

    assert listing(tmp_path) == []


def test_transient_server_error_is_retried(server, tmp_path, capsys):
    dest = fetch(server.url("flaky.tar.gz"), tmp_path / "x.tar.gz", SHA, backoff=0)

    assert sha256_of(dest) == SHA
    assert server.hits["/flaky.tar.gz"] == 2
    assert "503" in capsys.readouterr().err  # the user sees why it retried


def test_present_file_with_right_hash_is_not_fetched_again(server, tmp_path, capsys):
    dest = tmp_path / "x.tar.gz"
    dest.write_bytes(ARCHIVE)

    assert fetch(server.url("corpus.tar.gz"), dest, SHA) == dest
    assert server.hits == {}
    assert "already present" in capsys.readouterr().err


def test_present_file_with_wrong_hash_is_replaced(server, tmp_path):
    dest = tmp_path / "x.tar.gz"
    dest.write_bytes(b"stale")

    fetch(server.url("corpus.tar.gz"), dest, SHA)
    assert dest.read_bytes() == ARCHIVE


# --- fetch from local files ----------------------------------------------------------


@pytest.mark.parametrize("form", ["file_url", "relative_path", "absolute_path"])
def test_local_files_go_through_the_same_fetch(form, tmp_path, monkeypatch, capsys):
    (tmp_path / "mirror").mkdir()
    (tmp_path / "mirror" / "corpus.tar.gz").write_bytes(ARCHIVE)
    monkeypatch.chdir(tmp_path)
    url = {
        "file_url": (tmp_path / "mirror" / "corpus.tar.gz").as_uri(),
        "relative_path": "mirror/corpus.tar.gz",
        "absolute_path": str(tmp_path / "mirror" / "corpus.tar.gz"),
    }[form]

    dest = fetch(url, tmp_path / "out" / "corpus.tar.gz", SHA)

    assert dest.read_bytes() == ARCHIVE
    assert listing(tmp_path / "out") == ["corpus.tar.gz"]
    assert len(capsys.readouterr().err.splitlines()) == 1  # one summary line, no progress spam


def test_missing_local_file_names_the_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DownloadError, match="data/mirror/nope.tar.gz: no such file"):
        fetch("data/mirror/nope.tar.gz", tmp_path / "out" / "x.tar.gz", SHA)

    assert listing(tmp_path / "out") == []


def test_malformed_checksum_is_refused_before_downloading(tmp_path):
    with pytest.raises(DownloadError, match="not a sha256"):
        fetch("whatever.tar.gz", tmp_path / "x.tar.gz", "abc123")


# --- unpack --------------------------------------------------------------------------


def test_unpack_zip(tmp_path):
    archive = tmp_path / "pairs.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("fra.txt", "Go.\tVa !\n")

    out = unpack(archive, tmp_path / "raw")
    assert (out / "fra.txt").read_text(encoding="utf-8") == "Go.\tVa !\n"


def test_unpack_gz_writes_the_file_without_its_suffix(tmp_path):
    archive = tmp_path / "fra-eng.txt.gz"
    archive.write_bytes(gzip.compress(b"Go.\tVa !\n"))

    out = unpack(archive, tmp_path / "raw")
    assert listing(out) == ["fra-eng.txt"]
    assert (out / "fra-eng.txt").read_text(encoding="utf-8") == "Go.\tVa !\n"


def test_unpack_copies_a_plain_file(tmp_path):
    (tmp_path / "pairs.tsv").write_text("a\tb\n")

    assert (unpack(tmp_path / "pairs.tsv", tmp_path / "raw") / "pairs.tsv").read_text() == "a\tb\n"


def test_unpack_replaces_the_previous_content(tmp_path):
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "old.txt").write_text("from another corpus")
    (tmp_path / "corpus.tar.gz").write_bytes(ARCHIVE)

    unpack(tmp_path / "corpus.tar.gz", tmp_path / "raw")
    assert listing(tmp_path / "raw") == ["corpus", "corpus/train.en", "corpus/train.ja"]
    assert sorted(os.listdir(tmp_path)) == ["corpus.tar.gz", "raw"]  # no temporary folders left


@pytest.mark.parametrize(
    "name, data",
    [
        pytest.param("cut.tar.gz", ARCHIVE[: len(ARCHIVE) // 2], id="tar.gz"),
        pytest.param("cut.zip", b"PK\x03\x04 not really a zip", id="zip"),
        pytest.param("cut.txt.gz", gzip.compress(b"x" * 10_000)[:40], id="gz"),
    ],
)
def test_truncated_archive_is_refused_and_the_old_content_kept(tmp_path, name, data):
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "train.en").write_text("previous")
    (tmp_path / name).write_bytes(data)

    with pytest.raises(DownloadError, match=f"{name}: corrupt or truncated"):
        unpack(tmp_path / name, tmp_path / "raw")
    assert listing(tmp_path / "raw") == ["train.en"]
    assert (tmp_path / "raw" / "train.en").read_text() == "previous"
    assert sorted(os.listdir(tmp_path)) == [name, "raw"]


@pytest.mark.parametrize("member", ["../evil", "corpus/../../evil", "/etc/evil"])
def test_tar_member_outside_the_folder_is_refused(tmp_path, member):
    archive = tmp_path / "evil.tar.gz"
    archive.write_bytes(make_tar_gz({"corpus/train.en": "ok\n", member: "gotcha\n"}))

    with pytest.raises(DownloadError, match="evil.tar.gz: refusing unsafe member") as e:
        unpack(archive, tmp_path / "out" / "raw")
    assert member in str(e.value)
    assert listing(tmp_path / "out") == []
    assert not (tmp_path / "evil").exists()


def test_tar_link_pointing_outside_is_refused(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        link = tarfile.TarInfo("corpus/passwd")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    (tmp_path / "link.tar.gz").write_bytes(buf.getvalue())

    with pytest.raises(DownloadError, match="corpus/passwd"):
        unpack(tmp_path / "link.tar.gz", tmp_path / "raw")
    assert not (tmp_path / "raw").exists()


def test_zip_member_outside_the_folder_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../evil", "gotcha\n")

    with pytest.raises(DownloadError, match="refusing unsafe member '../evil'"):
        unpack(archive, tmp_path / "raw")
    assert not (tmp_path / "raw").exists()
