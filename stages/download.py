"""DVC stage `download`: the corpus named in params.yaml -> data/raw/ (verified and unpacked).

data/raw/archive/<file> is the download as fetched (sha256 verified); data/raw/<corpus>/ is
its unpacked content. The stage owns the whole of data/raw/, its single output.
"""

import shutil
import sys
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from nmt.artifacts import PATHS
from nmt.config import load_params
from nmt.corpora import resolve_corpus
from nmt.download import DownloadError, fetch, unpack
from nmt.stage import run_stage

RAW = PATHS.raw


def main() -> int:
    params = load_params()
    spec = resolve_corpus(params.data)
    filename = PurePosixPath(unquote(urlsplit(spec.url).path)).name
    if not filename:
        raise DownloadError(f"{spec.url}: the URL does not end in a file name")
    # Leftovers of an earlier corpus would be read as part of this one.
    if RAW.exists():
        shutil.rmtree(RAW)
    archive = fetch(spec.url, RAW / "archive" / filename, spec.sha256)
    out = unpack(archive, RAW / spec.name)
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    listed = ", ".join(files[:6]) + (", ..." if len(files) > 6 else "")
    print(f"download: {spec.name} from {spec.url} -> {out}/ ({len(files)} files: {listed})")
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
