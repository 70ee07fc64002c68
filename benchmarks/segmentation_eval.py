"""Test translations of a ja→en bundle from Japanese typed as people type it: without spaces.

    python benchmarks/segmentation_eval.py BUNDLE NAME [--input nospace|gold] [--segmenter mecab] [--beam 5]

The test sources come from the mirror (small_parallel_enja's test.ja, KyTea-segmented), with
their spaces removed (`nmt.segment.despace`, bar those between Latin letters or digits:
`--input nospace`) or as distributed (`--input gold`, the corpus's own words), and go through
`Translator.translate_nbest` exactly as `nmt translate` takes a typed sentence. `--segmenter`
replaces the bundle's source segmenter: a bundle trained on the gold segmentation given MeCab's
words is the zero-training baseline of BENCHMARKS.md ("Japanese without spaces"). Writes
hypotheses.txt, hypotheses.tok.txt, eval.json and command.txt into
benchmarks/results/quality/NAME/, which `benchmarks/rescore.py` rescores.
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import subprocess
import sys
import tarfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nmt.corpora import BUILTIN
from nmt.evaluation import raw_references, score
from nmt.fsutil import write_json, write_lines
from nmt.segment import despace
from nmt.translate import Translator


def test_part(lang: str) -> list[str]:
    with tarfile.open(ROOT / BUILTIN["small_parallel_enja"].url) as tar:
        return tar.extractfile(f"small_parallel_enja/test.{lang}").read().decode("utf-8").split("\n")[:-1]


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("bundle")
    p.add_argument("name")
    p.add_argument("--input", choices=("nospace", "gold"), default="nospace")
    p.add_argument("--segmenter", choices=("whitespace", "mecab"), help="replace the bundle's source segmenter")
    p.add_argument("--beam", type=int, default=1)
    args = p.parse_args(argv)

    translator = Translator(args.bundle)
    b = translator.bundle
    if args.segmenter:
        b.config = dataclasses.replace(b.config, source=dataclasses.replace(b.source_text, segmenter=args.segmenter, segmenter_model=None))
    src_lang, tgt_lang = b.source_text.lang, b.target_text.lang
    sources = test_part(src_lang)
    typed = [despace(s.split()) for s in sources] if args.input == "nospace" else sources
    refs = test_part(tgt_lang)
    hyps = [h[0] for h in translator.translate_nbest(typed, beam_size=args.beam)]
    text, tokens = [h.text for h in hyps], [h.tokens for h in hyps]
    scores = score(text, raw_references(refs, b.target_text, pretokenized=True), tgt_lang, hyp_tokens=tokens, ref_tokens=refs)
    out = ROOT / "benchmarks/results/quality" / args.name
    out.mkdir(parents=True, exist_ok=True)
    write_lines(out / "hypotheses.txt", text)
    write_lines(out / "hypotheses.tok.txt", tokens)
    search = "greedy" if args.beam == 1 else f"beam {args.beam}"
    write_json(
        out / "eval.json",
        {
            "test_sentences": len(typed),
            "search": search,
            "input": args.input,
            "source_segmenter": b.source_text.segmenter,
            **scores,
        },
    )
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    when = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    (out / "command.txt").write_text(f"{when} {commit} python benchmarks/segmentation_eval.py {shlex.join(argv)}\n", encoding="utf-8")
    print(
        f"{args.name}: {search}, input {args.input}, source segmenter {b.source_text.segmenter}: BLEU {scores['bleu']}, corpus tokens {scores['bleu_corpus_tokens']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
