"""DVC stage `download`: the corpus named in params.yaml -> data/raw/ (verified and unpacked).

data/raw/archive/<file> is the download as fetched (sha256 verified); data/raw/<corpus>/ is
its unpacked content. The stage owns the whole of data/raw/, its single output.
"""

import sys
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from nmt.config import load_params
from nmt.corpora import resolve_corpus
from nmt.download import DownloadError, fetch, unpack
from nmt.fsutil import atomic_dir
from nmt.stage import run_stage

RAW = Path("data/raw")


def main() -> int:
    params = load_params()
    spec = resolve_corpus(params.data)
    filename = PurePosixPath(unquote(urlsplit(spec.url).path)).name
    if not filename:
        raise DownloadError(f"{spec.url}: the URL does not end in a file name")
    # A fresh folder replaces data/raw/ whole, and only once the download is verified and unpacked:
    # leftovers of an earlier corpus are not read as part of this one, and a failed download (a
    # wrong sha256) leaves the previously verified corpus as it was.
    with atomic_dir(RAW) as tmp:
        try:
            archive = fetch(spec.url, tmp / "archive" / filename, spec.sha256)
            unpack(archive, tmp / spec.name)
        except DownloadError as e:  # named as the output, not as its temporary folder
            raise DownloadError(str(e).replace(str(tmp), str(RAW))) from None
    out = RAW / spec.name
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    listed = ", ".join(files[:6]) + (", ..." if len(files) > 6 else "")
    print(f"download: {spec.name} from {spec.url} -> {out}/ ({len(files)} files: {listed})")
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
