"""Unknown words and numbers: what carrying source words over (nmt/unk.py) does, on the test set
and on the typed sentences of tests/data/typed/.

    python benchmarks/unk_eval.py --model models/bundle --split data/split --typed tests/data/typed/en.txt \\
        --out benchmarks/results/unk

Four outputs of one bundle, greedy, the test set given as the evaluate stage gives it (corpus
tokens, `pretokenized=True`) and scored as it scores it (nmt.evaluation.score against
data/split/test.ref as distributed):
- `as_is`: the model's output, `<unk>` and all (`nmt translate --show-unk`; the evaluate stage before);
- `dropped`: the same with every `<unk>` removed (the simplest way to hide them);
- `unk_only`: each `<unk>` replaced by the source word attended to most, the numbers rule off;
- `carried`: what `nmt translate` prints now: `<unk>` replaced and missing numbers put back.
For each: BLEU, BLEU on corpus tokens, chrF, the `<unk>` left, and how many of the numbers of the
source (digit strings such as 7, 1,000, 10:45) appear in the output. Writes each output's
hypotheses (rescorable with benchmarks/rescore.py) and summary.json to --out.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
MODES = ("as_is", "dropped", "unk_only", "carried")


def numbers_kept(sources: list[str], outputs: list[str]) -> tuple[int, int]:
    """(numbers in the sources, how many appear in the matching output, digits not glued to others)."""
    total = kept = 0
    for s, o in zip(sources, outputs):
        for n in NUMBER.findall(s):
            total += 1
            kept += re.search(rf"(?<![\d.,:]){re.escape(n)}(?![\d]|[.,:]\d)", o) is not None
    return total, kept


def translate(translator, sentences: list[str], mode: str, *, pretokenized: bool):
    import nmt.translate

    keep = nmt.translate.carry_numbers
    if mode == "unk_only":
        nmt.translate.carry_numbers = lambda tokens, source, weights: tokens
    try:
        hyps = translator.translate_nbest(sentences, pretokenized=pretokenized, show_unk=mode in ("as_is", "dropped"))
    finally:
        nmt.translate.carry_numbers = keep
    tokens = [h[0].tokens if h else "" for h in hyps]
    if mode == "dropped":
        tokens = [" ".join(t for t in line.split() if t != "<unk>") for line in tokens]
    target = translator.bundle.target_text
    return [target.detokenize(t) for t in tokens], tokens


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="models/bundle")
    parser.add_argument("--split", default="data/split")
    parser.add_argument("--typed", default="tests/data/typed/en.txt", help="sentences as a person types them, in the bundle's source language")
    parser.add_argument("--out", default="benchmarks/results/unk")
    args = parser.parse_args(argv)

    from nmt.evaluation import raw_references, score
    from nmt.fsutil import read_lines, write_json, write_lines
    from nmt.translate import Translator

    translator = Translator(args.model)
    b = translator.bundle
    split, out = Path(args.split), Path(args.out)
    src, ref = read_lines(split / "test.src"), read_lines(split / "test.ref")
    refs = raw_references(ref, b.target_text, pretokenized=b.config.pretokenized)
    typed = read_lines(args.typed)
    summary = {
        "command": "python benchmarks/unk_eval.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{platform.processor() or platform.machine()}, {platform.system()}",
        "test_sentences": len(src),
        "typed_sentences": len(typed),
    }
    for mode in MODES:
        text, tokens = translate(translator, src, mode, pretokenized=True)
        scores = score(text, refs, b.target_text.lang, hyp_tokens=tokens if b.config.pretokenized else None, ref_tokens=ref if b.config.pretokenized else None)
        write_lines(out / mode / "hypotheses.txt", text)
        write_lines(out / mode / "hypotheses.tok.txt", tokens)
        total, kept = numbers_kept(src, text)
        typed_text, typed_tokens = translate(translator, typed, mode, pretokenized=False)
        write_lines(out / mode / "typed.txt", typed_text)
        typed_total, typed_kept = numbers_kept(typed, typed_text)
        summary[mode] = {
            "bleu": scores["bleu"],
            "bleu_corpus_tokens": scores.get("bleu_corpus_tokens"),
            "chrf": scores["chrf"],
            "unk_left": sum(line.split().count("<unk>") for line in tokens),
            "sentences_with_unk": sum("<unk>" in line.split() for line in tokens),
            "numbers": total,
            "numbers_kept": kept,
            "typed_unk_left": sum(line.split().count("<unk>") for line in typed_tokens),
            "typed_numbers": typed_total,
            "typed_numbers_kept": typed_kept,
        }
        print(mode, json.dumps(summary[mode]))
    write_json(out / "summary.json", summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
