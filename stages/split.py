"""DVC stage `split`: data/raw -> data/split/{train,dev,test}.{src,tgt} and metrics/split.json.

Each output line holds one sentence as corpus tokens separated by single spaces; beside them,
test.ref holds the test references exactly as the corpus wrote them (not normalised), which
the evaluate stage scores against.
"""

import sys

from nmt.artifacts import PATHS, TextSettings, write_text_settings
from nmt.config import load_params
from nmt.corpora import direction, resolve_corpus, text_pipelines
from nmt.corpus import make_split, read_corpus, train_segmenters
from nmt.fsutil import atomic_dir, write_json, write_lines
from nmt.stage import run_stage

RAW, OUT, METRICS = PATHS.raw, PATHS.split, PATHS.metrics / "split.json"


def main() -> int:
    params = load_params()
    data = params.data
    spec = resolve_corpus(data)
    src_pipe, tgt_pipe = text_pipelines(spec, data.reverse, data.segmenter)
    parts = read_corpus(spec, RAW / spec.name, reverse=data.reverse)
    split, test_ref, counts = make_split(parts, src_pipe, tgt_pipe, data, pretokenized=spec.pretokenized, seed=params.seed, where=RAW)

    with atomic_dir(OUT) as tmp:
        # data.segmenter=sentencepiece (or auto for an unsegmented language other than Japanese)
        split, src_pipe, tgt_pipe = train_segmenters(split, src_pipe, tgt_pipe, tmp, size=data.segmenter_size, seed=params.seed)
        for part, pairs in split.items():
            write_lines(tmp / f"{part}.src", (s for s, _ in pairs))
            write_lines(tmp / f"{part}.tgt", (t for _, t in pairs))
        write_lines(tmp / "test.ref", test_ref)
        write_text_settings(tmp, TextSettings(spec.name, spec.pretokenized, src_pipe, tgt_pipe))
    src_lang, tgt_lang = direction(spec, data.reverse)
    write_json(
        METRICS,
        {
            "corpus": spec.name,
            "direction": f"{src_lang}-{tgt_lang}",
            **{f"{part}_pairs": len(pairs) for part, pairs in split.items()},
            "filtering": {part: dict(sorted(c.items())) for part, c in counts.items()},
        },
    )
    segmented = [f"{side} by {pipe.segmenter}" for side, pipe in (("source", src_pipe), ("target", tgt_pipe)) if pipe.segments]
    print(
        f"split: {spec.name} {src_lang}->{tgt_lang}: " + ", ".join(f"{p} {len(v)}" for p, v in split.items()) + "".join(f"; {s} segmented" for s in segmented)
    )
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
