"""DVC stage `split`: data/raw -> data/split/{train,dev,test}.{src,tgt} and metrics/split.json.

Each output line holds one sentence as corpus tokens separated by single spaces; beside them,
test.ref holds the test references exactly as the corpus wrote them (not normalised), which
the evaluate stage scores against.
"""

import sys
from collections import Counter
from pathlib import Path

from nmt.config import load_params
from nmt.corpora import direction, resolve_corpus, text_pipelines
from nmt.corpus import CorpusError, clean, grouped_split, read_corpus, why_empty
from nmt.fsutil import atomic_dir, write_json, write_lines
from nmt.stage import run_stage

RAW, OUT, METRICS = Path("data/raw"), Path("data/split"), Path("metrics/split.json")


def main() -> int:
    params = load_params()
    d = params.data
    spec = resolve_corpus(d)
    src_pipe, tgt_pipe = text_pipelines(spec, d.reverse)
    parts = read_corpus(spec, RAW / spec.name, reverse=d.reverse)
    opts = dict(pretokenized=spec.pretokenized, max_len=d.max_len)
    counts: dict[str, Counter] = {}
    if "all" in parts:
        counts["all"], raw = Counter(), []
        kept = clean(parts["all"], src_pipe, tgt_pipe, dedupe=True, counts=counts["all"], raw_targets=raw, **opts)
        if not kept:
            raise CorpusError(f"{RAW}: no pairs left after filtering{why_empty(counts['all'], d.max_len)}")
        split = grouped_split(kept, dev_size=d.dev_size, test_size=d.test_size, seed=params.seed)
        raw_of = dict(zip(kept, raw))  # kept pairs are distinct (de-duplicated)
        test_ref = [raw_of[pair] for pair in split["test"]]
    else:
        # The official dev and test sets are kept whole (bar empty lines) so that scores
        # compare with published ones; only the training part is filtered and de-duplicated.
        split, test_ref = {}, []
        for part in ("train", "dev", "test"):
            counts[part] = Counter()
            split[part] = clean(
                parts[part], src_pipe, tgt_pipe, counts=counts[part],
                pretokenized=spec.pretokenized,
                max_len=d.max_len if part == "train" else None,
                dedupe=part == "train",
                raw_targets=test_ref if part == "test" else None,
            )
    if d.max_train_pairs is not None:
        split["train"] = split["train"][: d.max_train_pairs]
    for part, pairs in split.items():
        if not pairs:
            raise CorpusError(f"{RAW}: the {part} split is empty after filtering{why_empty(counts.get(part) or sum(counts.values(), Counter()), d.max_len)}")

    with atomic_dir(OUT) as tmp:
        for part, pairs in split.items():
            write_lines(tmp / f"{part}.src", (s for s, _ in pairs))
            write_lines(tmp / f"{part}.tgt", (t for _, t in pairs))
        write_lines(tmp / "test.ref", test_ref)
        write_json(tmp / "text.json", {
            "corpus": spec.name, "pretokenized": spec.pretokenized,
            "source": src_pipe.to_dict(), "target": tgt_pipe.to_dict(),
        })
    src_lang, tgt_lang = direction(spec, d.reverse)
    write_json(METRICS, {
        "corpus": spec.name, "direction": f"{src_lang}-{tgt_lang}",
        **{f"{part}_pairs": len(pairs) for part, pairs in split.items()},
        "filtering": {part: dict(sorted(c.items())) for part, c in counts.items()},
    })
    print(f"split: {spec.name} {src_lang}->{tgt_lang}: " + ", ".join(f"{p} {len(v)}" for p, v in split.items()))
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
