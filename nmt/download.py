"""Fetching a corpus archive and unpacking it, with nothing half-done left behind.

`fetch` reads an https:// URL, a file:// URL or a plain path through one code path, verifies
its sha256 and only then moves it into place; `unpack` extracts it safely into a fresh folder.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import shutil
import ssl
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from contextlib import closing
from pathlib import Path
from typing import BinaryIO

from nmt.errors import UserError

CHUNK = 1 << 16
# Some hosts (manythings.org among them) refuse urllib's default "Python-urllib/x.y" agent.
USER_AGENT = "keras-nmt-download/0.1 (python urllib)"
TAR_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")


class DownloadError(UserError, RuntimeError):
    """A download or unpack failed in a way the user can fix; the message names the URL or file."""


class _Transient(Exception):
    """A failure worth another attempt: server busy, connection dropped, timeout."""


def sha256_of(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _local_path(url: str) -> Path | None:
    """The filesystem path `url` names, or None for an http(s) URL."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        return None
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise DownloadError(f"{url}: file:// URLs on another host are not supported")
        return Path(urllib.request.url2pathname(parts.path))
    if len(scheme) > 1:  # one letter is a Windows drive, i.e. a path
        raise DownloadError(f"{url}: unsupported URL scheme {scheme!r} (use https://, file:// or a path)")
    return Path(url)


def _open_remote(url: str, timeout: float) -> tuple[BinaryIO, int | None]:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as e:
        e.close()
        # 408 and 429 are the server asking us to come back later, unlike other 4xx.
        if e.code >= 500 or e.code in (408, 429):
            raise _Transient(f"HTTP {e.code} {e.reason}") from e
        raise DownloadError(f"{url}: HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        if isinstance(e.reason, ssl.SSLCertVerificationError):
            raise DownloadError(f"{url}: TLS certificate not trusted: {e.reason.verify_message}") from None
        raise _Transient(str(e.reason)) from e
    except (OSError, http.client.HTTPException) as e:
        raise _Transient(str(e) or type(e).__name__) from e
    length = response.headers.get("Content-Length")
    return response, int(length) if length and length.isdigit() else None


def _open_local(path: Path) -> tuple[BinaryIO, int]:
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise DownloadError(
            f"{path}: no such file (relative paths are taken from {Path.cwd()}; the in-repo mirror of the built-in corpora lives under data/mirror/)"
        ) from None
    except OSError as e:
        raise DownloadError(f"{path}: cannot read: {e.strerror or e}") from None
    return f, os.fstat(f.fileno()).st_size


def _size(n: float) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


class _Progress:
    """Progress on stderr: redrawn once a second on a terminal, a line every 10 s in a log."""

    def __init__(self, label: str, total: int | None) -> None:
        self.label, self.total = label, total
        self.start = self.last = time.monotonic()
        self.tty = sys.stderr.isatty()
        self.shown = False

    def update(self, done: int) -> None:
        now = time.monotonic()
        if now - self.last < (1.0 if self.tty else 10.0):
            return
        self.last, self.shown = now, True
        of = f" / {_size(self.total)} ({100 * done // max(1, self.total)}%)" if self.total else ""
        end = "\r" if self.tty else "\n"
        print(f"  {self.label}: {_size(done)}{of}", end=end, file=sys.stderr, flush=True)

    def finish(self, dest: Path, size: int) -> None:
        if self.shown and self.tty:
            print(file=sys.stderr)
        took = time.monotonic() - self.start
        print(f"fetched {self.label} -> {dest}: {_size(size)} in {took:.1f} s, sha256 verified", file=sys.stderr)


def _fetch_once(url: str, dest: Path, expected: str, timeout: float) -> None:
    """One attempt: stream `url` to a `.part` file beside `dest`, verify, rename."""
    local = _local_path(url)
    try:
        fd, part = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    except OSError as e:
        raise DownloadError(f"cannot write {dest}: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "wb") as out:
            source, total = _open_local(local) if local is not None else _open_remote(url, timeout)
            digest, received, progress = hashlib.sha256(), 0, _Progress(url, total)
            with closing(source):
                while True:
                    try:
                        chunk = source.read(CHUNK)
                    except (OSError, http.client.HTTPException) as e:
                        if local is not None:
                            raise DownloadError(f"{local}: cannot read: {e}") from None
                        raise _Transient(f"{type(e).__name__}: {e}") from e
                    if not chunk:
                        break
                    try:
                        out.write(chunk)
                    except OSError as e:
                        raise DownloadError(f"cannot write {dest}: {e.strerror or e}") from None
                    digest.update(chunk)
                    received += len(chunk)
                    progress.update(received)
        # urllib returns a short body without complaint when the server hangs up early.
        if total is not None and received < total:
            raise _Transient(f"connection closed after {received} of {total} bytes")
        actual = digest.hexdigest()
        if actual != expected:
            raise DownloadError(f"{url}: sha256 mismatch: expected {expected}, got {actual} ({_size(received)} received; nothing was saved to {dest})")
        os.chmod(part, 0o666 & ~_umask())  # mkstemp makes the file private
        os.replace(part, dest)
        progress.finish(dest, received)
    finally:
        if os.path.exists(part):
            os.unlink(part)


def fetch(
    url: str,
    dest: str | os.PathLike[str],
    sha256: str,
    *,
    timeout: float = 30.0,
    retries: int = 3,
    backoff: float = 1.0,
) -> Path:
    """Download `url` to `dest` if `dest` is not already there with this sha256; return `dest`.

    Server errors (5xx), dropped connections and timeouts are retried, with at most `retries`
    attempts in all; anything else, including a checksum mismatch, fails at once.
    """
    dest = Path(dest)
    expected = sha256.strip().lower()
    if len(expected) != 64 or any(c not in "0123456789abcdef" for c in expected):
        raise DownloadError(f"{url}: {sha256!r} is not a sha256 (64 hexadecimal digits)")
    if dest.is_file() and sha256_of(dest) == expected:
        print(f"{dest}: already present, sha256 verified", file=sys.stderr)
        return dest
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DownloadError(f"cannot create {dest.parent}: {e.strerror or e}") from None
    attempts, last = max(1, retries), None
    for attempt in range(attempts):
        try:
            _fetch_once(url, dest, expected, timeout)
            return dest
        except _Transient as e:
            last = e
            if attempt + 1 < attempts:
                delay = backoff * 2**attempt
                print(f"{url}: {e}; retrying in {delay:g} s", file=sys.stderr)
                time.sleep(delay)
    raise DownloadError(f"{url}: download failed after {attempts} attempt(s); last error: {last}")


def _check_member(archive: Path, name: str) -> None:
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts:
        raise DownloadError(f"{archive}: refusing unsafe member {name!r} (absolute path or '..')")


def _extract(archive: Path, into: Path) -> None:
    name = archive.name.lower()
    if name.endswith(TAR_SUFFIXES):
        with tarfile.open(archive, "r:*") as tar:
            for member in tar.getmembers():
                _check_member(archive, member.name)
            try:
                # The "data" filter also refuses links out of the folder and device files.
                tar.extractall(into, filter="data")
            except tarfile.FilterError as e:
                raise DownloadError(f"{archive}: refusing unsafe member {e.tarinfo.name!r}: {e}") from None
    elif name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                _check_member(archive, info.filename)
            zf.extractall(into)
    elif name.endswith(".gz"):
        with gzip.open(archive, "rb") as src, open(into / archive.name[:-3], "wb") as out:
            shutil.copyfileobj(src, out, CHUNK)
    else:
        shutil.copyfile(archive, into / archive.name)


def unpack(archive: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> Path:
    """Extract `archive` (tar, zip, gz, or a plain file copied as is) to replace `out_dir`."""
    archive, out_dir = Path(archive), Path(out_dir)
    if not archive.is_file():
        raise DownloadError(f"{archive}: no such file to unpack")
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    except OSError as e:
        raise DownloadError(f"cannot write {out_dir}: {e.strerror or e}") from None
    try:
        try:
            _extract(archive, tmp)
        except (tarfile.ReadError, tarfile.CompressionError, EOFError, zlib.error, zipfile.BadZipFile) as e:
            raise DownloadError(f"{archive}: corrupt or truncated archive ({e})") from None
        except OSError as e:
            if e.errno is None:  # gzip.BadGzipFile and other decoder complaints carry no errno
                raise DownloadError(f"{archive}: corrupt or truncated archive ({e})") from None
            raise DownloadError(f"cannot unpack {archive} into {out_dir}: {e.strerror or e}") from None
        tmp.chmod(0o777 & ~_umask())  # mkdtemp makes the folder private
        # Move the old folder aside rather than delete it first: a failure part-way
        # through then leaves it whole (as .<name>.old), never half-deleted.
        old = out_dir.with_name(f".{out_dir.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if out_dir.exists():
            os.replace(out_dir, old)
        os.replace(tmp, out_dir)
        shutil.rmtree(old, ignore_errors=True)
    except OSError as e:
        raise DownloadError(f"cannot write {out_dir}: {e.strerror or e}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir
