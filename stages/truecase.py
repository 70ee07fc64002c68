"""DVC stage `truecase`: a truecaser per language of a cased corpus -> data/truecase/<lang>.json.

Read straight from the corpus's mirror (data/mirror/, sha256 verified), whichever corpus the
pipeline translates: the export stage puts the one for the target language into the bundle
when the translated corpus lower-cased that language (small_parallel_enja's English), so that
`nmt translate` and the SavedModel print cased text. `truecase.corpus: null` writes none.
"""

import gzip
import sys

from nmt.artifacts import PATHS
from nmt.config import load_params
from nmt.corpora import BUILTIN
from nmt.download import DownloadError, sha256_of
from nmt.fsutil import atomic_dir
from nmt.stage import run_stage
from nmt.truecase import train_truecaser

OUT = PATHS.truecase


def main() -> int:
    opts = load_params().truecase
    with atomic_dir(OUT) as tmp:
        if opts.corpus is None:
            print("truecase: truecase.corpus is null: no truecaser")
            return 0
        spec = BUILTIN[opts.corpus]
        if (found := sha256_of(spec.url)) != spec.sha256:
            raise DownloadError(f"{spec.url}: sha256 {found}, expected {spec.sha256}")
        with gzip.open(spec.url, "rt", encoding="utf-8") as f:
            pairs = [line.split("\t") for line in f.read().split("\n") if line]
        for column, lang in enumerate(spec.languages):
            truecaser = train_truecaser((p[column] for p in pairs), lang, min_count=opts.min_count)
            truecaser.save(tmp / f"{lang}.json")
            print(f"truecase: {lang} from {spec.name}: {len(truecaser.forms)} words with a cased form")
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
