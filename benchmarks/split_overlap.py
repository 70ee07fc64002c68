"""How many dev and test sentences also occur in the training split, exactly and nearly.

    python benchmarks/split_overlap.py [-S key=value ...] [--out FILE.json]
    python benchmarks/split_overlap.py --split data/split [--out FILE.json]

The first form builds the split exactly as the `download` and `split` stages do for params.yaml
with the `-S` overrides applied (default: `-S data.corpus=fra_eng`, the seed params.yaml gives):
the corpus fetched from its URL (the in-repo mirror by default, sha256-verified), unpacked, read,
cleaned and split by `nmt.corpus.make_split` (for fra_eng: `grouped_split`). The second reads the
parts a split stage wrote. Sentences are compared as the split files hold them (corpus tokens):
- exact: the line itself occurs on the same side of the training part;
- near: the same after lower-casing, deleting punctuation (Unicode categories P*) and collapsing
  spaces, so that "I'm OK." and "i'm ok!" count as one sentence, as a reader would count them;
- near pairs: both sides at once, i.e. a training pair that is the same translation nearly; and
  the held-out lines with either side nearly in training.
Counts are of lines of the held-out part (a sentence repeated in it counts each time) and of its
distinct sentences. Prints a summary and writes it, with a few examples, to --out as JSON.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nmt.artifacts import read_text_settings
from nmt.config import Params, parse_params, read_yaml
from nmt.corpora import direction, resolve_corpus, text_pipelines
from nmt.corpus import make_split, read_corpus, train_segmenters
from nmt.download import fetch, unpack
from nmt.fsutil import read_lines, write_json

PARTS = ("train", "dev", "test")
EXAMPLES = 10


def load_params(overrides: list[str]) -> Params:
    """params.yaml with `key=value` overrides applied as `dvc exp run -S` applies them."""
    raw = read_yaml(ROOT / "params.yaml")
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"-S {item}: expected key=value")
        *path, last = key.split(".")
        node = raw
        for name in path:
            node = node.setdefault(name, {})
        node[last] = yaml.safe_load(value)
    return parse_params(raw, complete=True)


def build_split(params: Params) -> tuple[dict[str, list[tuple[str, str]]], tuple[str, str]]:
    """The train/dev/test pairs (corpus tokens) the split stage writes for `params`, and the languages."""
    data = params.data
    spec = resolve_corpus(data)
    url = str(ROOT / spec.url) if (ROOT / spec.url).is_file() else spec.url  # the mirror, from any cwd
    src_pipe, tgt_pipe = text_pipelines(spec, data.reverse, data.segmenter)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw"
        archive = fetch(url, raw / "archive" / Path(spec.url).name, spec.sha256)
        unpack(archive, raw / spec.name)
        parts = read_corpus(spec, raw / spec.name, reverse=data.reverse)
        split, _, _ = make_split(parts, src_pipe, tgt_pipe, data, pretokenized=spec.pretokenized, seed=params.seed, where=raw)
        split, _, _ = train_segmenters(split, src_pipe, tgt_pipe, Path(tmp), size=data.segmenter_size, seed=params.seed)
    return split, direction(spec, data.reverse)


def read_split(folder: Path) -> tuple[dict[str, list[tuple[str, str]]], tuple[str, str]]:
    """The parts a split stage wrote to `folder`, and its languages."""
    settings = read_text_settings(folder, "split")
    split = {part: list(zip(read_lines(folder / f"{part}.src"), read_lines(folder / f"{part}.tgt"), strict=True)) for part in PARTS}
    return split, (settings.source.lang, settings.target.lang)


def near(sentence: str) -> str:
    """The sentence as a reader compares it: lower case, no punctuation, single spaces."""
    text = "".join(c for c in unicodedata.normalize("NFKC", sentence).lower() if not unicodedata.category(c).startswith("P"))
    return " ".join(text.split())


def overlap(held: list[str], train: set[str]) -> dict:
    hits = [s for s in held if s in train]
    return {"lines": len(hits), "distinct": len(set(hits))}


def measure(split: dict[str, list[tuple[str, str]]], langs: tuple[str, str]) -> dict:
    """Per held-out part and side: exact and near overlaps with the training part, with examples."""
    train = split["train"]
    out = {}
    for part in ("test", "dev"):
        held = split[part]
        report = {"lines": len(held)}
        for i, lang in enumerate(langs):
            sentences = [pair[i] for pair in held]
            near_of_train: dict[str, str] = {}
            for pair in train:
                near_of_train.setdefault(near(pair[i]), pair[i])
            examples = [[s, near_of_train[near(s)]] for s in dict.fromkeys(sentences) if near(s) in near_of_train][:EXAMPLES]
            report[lang] = {
                "distinct": len(set(sentences)),
                "exact": overlap(sentences, {pair[i] for pair in train}),
                "near": overlap([near(s) for s in sentences], set(near_of_train)),
                "near_examples": examples,  # [held-out sentence, a training sentence equal to it nearly]
            }
        train_pairs = {(near(s), near(t)) for s, t in train}
        report["near_pairs"] = overlap([(near(s), near(t)) for s, t in held], train_pairs)
        near_sides = [{near(pair[i]) for pair in train} for i in range(2)]
        report["near_either_side"] = sum(near(s) in near_sides[0] or near(t) in near_sides[1] for s, t in held)  # lines
        out[part] = report
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    ap.add_argument("-S", dest="overrides", action="append", metavar="KEY=VALUE", help="a params override (default: data.corpus=fra_eng)")
    ap.add_argument("--split", type=Path, help="read the parts a split stage wrote to this folder instead of building them")
    ap.add_argument("--out", type=Path, help="write the report here as JSON")
    args = ap.parse_args(argv)
    if args.split:
        split, langs = read_split(args.split)
        source = f"read from {args.split}"
    else:
        overrides = args.overrides or ["data.corpus=fra_eng"]
        params = load_params(overrides)
        split, langs = build_split(params)
        source = f"built as the split stage builds it, params.yaml with -S {' -S '.join(overrides)} (seed {params.seed})"
    report = {
        "command": " ".join(["python benchmarks/split_overlap.py", *argv]),
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "split": source,
        "languages": list(langs),
        "pairs": {part: len(split[part]) for part in PARTS},
        "overlap": measure(split, langs),
    }
    for part, r in report["overlap"].items():
        for lang in langs:
            s = r[lang]
            print(
                f"{part} {lang}: {r['lines']} lines ({s['distinct']} distinct) - in train exactly: {s['exact']['lines']} lines"
                f" ({s['exact']['distinct']} distinct); nearly: {s['near']['lines']} lines ({s['near']['distinct']} distinct)"
            )
        print(
            f"{part} pairs with both sides nearly in one training pair: {r['near_pairs']['lines']}; with either side nearly in training: {r['near_either_side']}"
        )
    if args.out:
        write_json(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
