"""Atomic writes: a stage's output appears complete or not at all, never half-written."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from nmt.errors import UserError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class OutputError(UserError, OSError):
    """An output could not be written (unwritable folder, full disk); names the path."""


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a fresh temporary folder beside `path`; on success it replaces `path` whole.
    Temporaries of `path` that a killed process left behind are removed first."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        sweep_stale(path)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
        tmp.chmod(0o777 & ~_umask())  # mkdtemp makes it private; outputs get the usual mode
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from e
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except OutputError:  # a nested atomic write already named what it could not write
        raise
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from e
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def sweep_stale(path: str | Path) -> list[Path]:
    """Remove the temporary (`.<name>.*.tmp`) and replaced (`.<name>.old`) folders and files of
    `path` that a killed `atomic_dir` or `write_text` left beside it. Returns what was removed."""
    path = Path(path)
    removed = []
    if path.parent.is_dir():
        for p in path.parent.iterdir():
            # "..name." too: the temporaries of an atomic write into a temporary folder (the export stage)
            if p.name.startswith((f".{path.name}.", f"..{path.name}.")) and p.name.endswith((".tmp", ".old")):
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() and not p.is_symlink() else p.unlink(missing_ok=True)
                removed.append(p)
    return removed


def write_text(path: str | Path, text: str) -> None:
    """Write a text file through a temporary file and a rename."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        sweep_stale(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
                f.write(text)
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from e


def write_json(path: str | Path, obj) -> None:
    """JSON as the standard defines it: a NaN or an infinity is refused, never written bare."""
    try:
        text = json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False, allow_nan=False)
    except ValueError:
        raise OutputError(f"cannot write {path}: it would hold NaN or infinity, which JSON cannot represent") from None
    write_text(path, text + "\n")


def write_lines(path: str | Path, lines) -> None:
    write_text(path, "".join(f"{line}\n" for line in lines))


def read_lines(path: str | Path) -> list[str]:
    """The lines of a file written by `write_lines` (split on "\\n" only, unlike str.splitlines)."""
    text = Path(path).read_text(encoding="utf-8")
    return text.split("\n")[:-1] if text else []


# A `.keras` file is a zip archive whose entries carry the time they were written, whose
# metadata.json holds the save date and whose config.json numbers shared objects by their
# memory address: two saves of the same model differ in those bytes alone. Fixing them makes
# model files (and DVC's hashes of models/) the same on every rerun.
FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold
FIXED_SAVE_DATE = "1980-01-01@00:00:00"


def _number_shared_objects(config: bytes) -> bytes:
    """Keras's shared-object ids (memory addresses) renumbered 1, 2, ... in order of appearance."""
    ids: dict[bytes, int] = {}
    return re.sub(rb'"shared_object_id": (\d+)', lambda m: b'"shared_object_id": %d' % ids.setdefault(m[1], len(ids) + 1), config)


def save_keras(model, path: str | Path) -> None:
    """`model.save(path)` with fixed entry times and save date, and shared objects numbered in
    order of appearance: byte-identical for equal models.

    Keras reads neither date on loading, and only matches shared-object numbers with each other;
    everything else (names, order, compression, the weights' HDF5 file, which h5py writes without
    timestamps) is kept as Keras wrote it."""
    import zipfile

    path = Path(path)
    model.save(path)
    tmp = path.with_name(f".{path.name}.fixed.tmp")
    try:
        with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w") as dst:
            for info in src.infolist():
                data = src.read(info)
                if info.filename == "metadata.json":
                    meta = json.loads(data)
                    if "date_saved" in meta:
                        meta["date_saved"] = FIXED_SAVE_DATE
                    data = json.dumps(meta).encode()
                elif info.filename == "config.json":
                    data = _number_shared_objects(data)
                fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_TIME)
                fixed.compress_type, fixed.external_attr, fixed.create_system = info.compress_type, info.external_attr, info.create_system
                dst.writestr(fixed, data)
        os.replace(tmp, path)
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from e
    finally:
        tmp.unlink(missing_ok=True)
