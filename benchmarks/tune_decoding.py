"""Choose the beam size and length penalty on the dev set, then score the test set once with them.

    python benchmarks/tune_decoding.py RUN_DIR [--beams 1 5 10] [--penalties 0.6 0.8 1.0 1.2 1.4]

RUN_DIR is a checkout whose pipeline has run (models/bundle, data/split), e.g. a clone made by
benchmarks/quality_run.sh. Every (beam, penalty) pair translates the dev set; the pair with the
best dev BLEU (on the corpus's own tokens when the corpus is pre-tokenised, as published
small_parallel_enja figures are, else sacrebleu's BLEU) then translates the test set. Tuning on
dev and reporting test keeps the test figure honest. Results: RUN_DIR/metrics/tune_decoding.json
(or --out) and a table on stdout.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def translate_and_score(translator, src: list[str], ref: list[str], beam: int, penalty: float, *, raw: bool = False) -> dict:
    """`raw`: `ref` is the corpus's own test references (data/split/test.ref), as the evaluate
    stage scores them; otherwise corpus tokens as the split holds them (dev, for choosing only)."""
    from nmt.evaluation import raw_references, score

    b = translator.bundle
    start = time.perf_counter()
    hyps = [h[0] for h in translator.translate_nbest(src, pretokenized=True, beam_size=beam, length_penalty=penalty)]
    seconds = time.perf_counter() - start
    pre = b.config.pretokenized
    ref_text = raw_references(ref, b.target_text, pretokenized=pre) if raw else [b.target_text.detokenize(r) for r in ref]
    scores = score([h.text for h in hyps], ref_text, b.target_text.lang, hyp_tokens=[h.tokens for h in hyps] if pre else None, ref_tokens=ref if pre else None)
    scores.pop("signatures")
    return {"beam": beam, "length_penalty": penalty, **scores, "seconds": round(seconds, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--beams", type=int, nargs="+", default=[1, 5, 10])
    ap.add_argument("--penalties", type=float, nargs="+", default=[0.6, 0.8, 1.0, 1.2, 1.4])
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    from nmt.fsutil import read_lines, write_json
    from nmt.translate import Translator

    run = args.run_dir
    translator = Translator(run / "models/bundle")
    split = run / "data/split"
    dev = read_lines(split / "dev.src"), read_lines(split / "dev.tgt")
    key = "bleu_corpus_tokens" if translator.bundle.config.pretokenized else "bleu"
    grid = []
    for beam in args.beams:
        for penalty in args.penalties if beam > 1 else [1.0]:  # greedy ignores the penalty
            row = translate_and_score(translator, *dev, beam, penalty)
            grid.append(row)
            print(
                f"dev  beam {beam:2d}  penalty {penalty:.2f}: {key} {row[key]:6.2f}  BLEU {row['bleu']:6.2f}  chrF {row['chrf']:6.2f}  ({row['seconds']} s)",
                flush=True,
            )
    best = max(grid, key=lambda r: (r[key], -r["beam"]))  # ties: the smaller beam
    test = translate_and_score(translator, read_lines(split / "test.src"), read_lines(split / "test.ref"), best["beam"], best["length_penalty"], raw=True)
    print(f"test beam {test['beam']:2d}  penalty {test['length_penalty']:.2f}: {key} {test[key]:6.2f}  BLEU {test['bleu']:6.2f}  chrF {test['chrf']:6.2f}")
    write_json(args.out or run / "metrics/tune_decoding.json", {"selected_by": f"dev {key}", "dev": grid, "test": test})
    return 0


if __name__ == "__main__":
    sys.exit(main())
