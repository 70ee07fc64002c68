"""How many `<unk>` a bundle's own output holds on the test set, and its input too.

    python benchmarks/unk_count.py --model models/bundle --split data/split --out benchmarks/results/quality/NAME_unk [--beam 5]

Decodes data/split/test.src as the evaluate stage does (corpus tokens, the same search), but with
`show_unk=True`: the model's output before source words are carried over (nmt/unk.py), so the
`<unk>` it produced are counted. Writes hypotheses.txt / hypotheses.tok.txt (rescorable with
benchmarks/rescore.py) and summary.json: BLEU, BLEU on corpus tokens and chrF of that output, the
`<unk>` in it, and the test source tokens the bundle's source vocabulary lacks.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="models/bundle")
    parser.add_argument("--split", default="data/split")
    parser.add_argument("--out", required=True)
    parser.add_argument("--beam", type=int, default=5)
    args = parser.parse_args(argv)

    from nmt.evaluation import raw_references, score
    from nmt.fsutil import read_lines, write_json, write_lines
    from nmt.translate import Translator
    from nmt.vocab import UNK_ID

    translator = Translator(args.model)
    b = translator.bundle
    split, out = Path(args.split), Path(args.out)
    src, ref = read_lines(split / "test.src"), read_lines(split / "test.ref")
    hyps = [h[0] for h in translator.translate_nbest(src, pretokenized=True, beam_size=args.beam, show_unk=True, cased=False)]
    text, tokens = [h.text for h in hyps], [h.tokens for h in hyps]
    pretokenized = b.config.pretokenized
    refs = raw_references(ref, b.target_text, pretokenized=pretokenized)
    scores = score(text, refs, b.target_text.lang, hyp_tokens=tokens if pretokenized else None, ref_tokens=ref if pretokenized else None)
    source_ids = [b.source_vocab.encode(b.source_text.tokens(line)) for line in src]
    summary = {
        "command": "python benchmarks/unk_count.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{platform.processor() or platform.machine()}, {platform.system()}",
        "level": b.target_text.level,
        "search": "greedy" if args.beam == 1 else f"beam {args.beam}",
        "test_sentences": len(src),
        "bleu": scores["bleu"],
        "bleu_corpus_tokens": scores.get("bleu_corpus_tokens"),
        "chrf": scores["chrf"],
        "output_unk": sum(line.split().count("<unk>") for line in tokens),
        "output_sentences_with_unk": sum("<unk>" in line.split() for line in tokens),
        "source_unk": sum(i == UNK_ID for ids in source_ids for i in ids),
        "source_sentences_with_unk": sum(UNK_ID in ids for ids in source_ids),
    }
    write_lines(out / "hypotheses.txt", text)
    write_lines(out / "hypotheses.tok.txt", tokens)
    write_json(out / "summary.json", summary)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
