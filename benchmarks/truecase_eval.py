"""Truecasing measured: held-out cased English sentences lower-cased, then restored.

    python benchmarks/truecase_eval.py --out benchmarks/results/truecase

The fra_eng corpus's distinct English sentences (from the mirror) are split by a hash of the
sentence: one in ten is held out, the truecaser (nmt/truecase.py, with the pipeline's
`truecase.min_count`) learns from the other nine. Each held-out sentence is tokenised as the
pipeline tokenises it (Moses), lower-cased, and restored three ways:
- `lowercase`: nothing restored (what a lower-cased corpus's model prints without a truecaser);
- `rules`: a capital on the first word of each sentence and "I" (no learnt table);
- `truecaser`: the learnt table plus the first-word capitals.
Token accuracy is over all tokens; the cased-token figures are over tokens with a capital in the
original (recall) and in the output (precision); a sentence is right when all its tokens are.
Writes summary.json and the truecaser's mistakes (errors.txt) to --out.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def held_out(sentence: str) -> bool:
    return int(hashlib.sha256(sentence.encode("utf-8")).hexdigest(), 16) % 10 == 0


def accuracy(gold: list[list[str]], restored: list[list[str]]) -> dict:
    tokens = right = cased = cased_right = out_cased = out_cased_right = sentences = 0
    for g, r in zip(gold, restored):
        sentences += g == r
        for a, b in zip(g, r):
            tokens += 1
            right += a == b
            if a != a.lower():
                cased += 1
                cased_right += a == b
            if b != b.lower():
                out_cased += 1
                out_cased_right += a == b
    return {
        "token_accuracy": round(100 * right / tokens, 2),
        "cased_token_recall": round(100 * cased_right / cased, 2),
        "cased_token_precision": round(100 * out_cased_right / max(1, out_cased), 2),
        "sentence_accuracy": round(100 * sentences / len(gold), 2),
        "tokens": tokens,
        "cased_tokens": cased,
        "sentences": len(gold),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--min-count", type=int, help="default: params.yaml's truecase.min_count")
    parser.add_argument("--out", default="benchmarks/results/truecase")
    args = parser.parse_args(argv)

    from nmt.config import load_params
    from nmt.corpora import BUILTIN
    from nmt.fsutil import write_json, write_lines
    from nmt.text import normalize, word_tokenize
    from nmt.truecase import Truecaser, train_truecaser

    min_count = args.min_count or load_params(ROOT / "params.yaml").truecase.min_count
    spec = BUILTIN["fra_eng"]
    with gzip.open(ROOT / spec.url, "rt", encoding="utf-8") as f:
        english = list(dict.fromkeys(line.split("\t")[0] for line in f.read().split("\n") if line))
    train = [s for s in english if not held_out(s)]
    test = [s for s in english if held_out(s)]
    truecaser = train_truecaser(train, "en", min_count=min_count)
    rules = Truecaser("en", {"i": "I"})
    gold = [word_tokenize(normalize(s), "en") for s in test]
    lower = [[t.lower() for t in g] for g in gold]
    summary = {
        "command": "python benchmarks/truecase_eval.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "corpus": f"fra_eng English side, {len(english)} distinct sentences: {len(train)} to learn from, {len(test)} held out",
        "min_count": min_count,
        "table_entries": len(truecaser.forms),
        "lowercase": accuracy(gold, lower),
        "rules": accuracy(gold, [rules.apply(x) for x in lower]),
        "truecaser": accuracy(gold, restored := [truecaser.apply(x) for x in lower]),
    }
    out = Path(args.out)
    write_json(out / "summary.json", summary)
    write_lines(out / "errors.txt", [f"{' '.join(g)}\t{' '.join(r)}" for g, r in zip(gold, restored) if g != r])
    print(json.dumps({k: v for k, v in summary.items() if k in ("lowercase", "rules", "truecaser")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
