"""The bundle's manifest: the sha256 of every file in it, written when the bundle is made and
checked each time it is loaded.

A truncated model file, an edited config or a vocabulary whose entries were reordered would
otherwise load with a confusing traceback, or worse translate silently wrong; checked against
the manifest, each is one line naming the file and the stage that rebuilds it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from nmt.errors import UserError
from nmt.fsutil import write_json

MANIFEST = "manifest.json"
REBUILD = "rebuild the bundle with `dvc repro export`"


class BundleDamaged(UserError, RuntimeError):
    """A bundle file differs from what was exported, or the manifest itself is missing or damaged."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _files(bundle_dir: Path) -> list[str]:
    return sorted(p.relative_to(bundle_dir).as_posix() for p in bundle_dir.rglob("*") if p.is_file() and p.name != MANIFEST)


def write_manifest(bundle_dir: str | Path) -> None:
    """Record the sha256 of every file in `bundle_dir` (written last, atomically)."""
    bundle_dir = Path(bundle_dir)
    write_json(bundle_dir / MANIFEST, {"sha256": {f: _sha256(bundle_dir / f) for f in _files(bundle_dir)}})


def check_manifest(bundle_dir: str | Path) -> None:
    """Raise `BundleDamaged` naming the first file that is missing or differs from the manifest."""
    bundle_dir = Path(bundle_dir)
    path = bundle_dir / MANIFEST
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))["sha256"]
        if not isinstance(recorded, dict) or not all(isinstance(v, str) for v in recorded.values()):
            raise ValueError("not a mapping of file names to checksums")
    except FileNotFoundError:
        raise BundleDamaged(
            f"{path}: missing, so the bundle cannot be checked (an export that was killed, or a bundle from an older version); {REBUILD}"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise BundleDamaged(f"{path}: damaged ({type(e).__name__}: {e}); {REBUILD}") from None
    bad = []
    for name, digest in sorted(recorded.items()):
        f = bundle_dir / name
        if not f.is_file():
            bad.append(f"{f}: missing")
        elif _sha256(f) != digest:
            bad.append(f"{f}: damaged (its sha256 differs from the one recorded at export)")
    if bad:
        more = f" (and {len(bad) - 1} more file(s))" if len(bad) > 1 else ""
        raise BundleDamaged(f"{bad[0]}{more}; {REBUILD}")
