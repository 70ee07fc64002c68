"""DVC stage `evaluate`: translate the test set with the exported bundle alone and score it.

Writes metrics/eval.json (BLEU, chrF, TER with sacrebleu signatures, and how the references
were prepared; the hypotheses as the corpus writes text, without the display truecasing, and
with source words carried over instead of `<unk>` unless `eval.show_unk`), metrics/hypotheses.txt (every test translation), metrics/hypotheses.tok.txt (the
same in corpus tokens, for BLEU on corpus tokens), metrics/samples.md (a few, for reviews) and
the decoding time. References are data/split/test.ref: the corpus's own, never normalised.
With `eval.ensemble` (more bundle folders) the test set is decoded by models/bundle and those
together (nmt/ensemble.py); eval.json then names each member with its manifest's sha256, since
DVC does not track them (README, "Ensembles").
"""

import hashlib
import sys
import time
from pathlib import Path

from nmt.artifacts import PATHS
from nmt.config import load_params
from nmt.fsutil import read_lines, write_json, write_lines, write_text
from nmt.manifest import MANIFEST
from nmt.stage import run_stage

BUNDLE, SPLIT, METRICS, TIMINGS = PATHS.bundle, PATHS.split, PATHS.metrics, PATHS.timings


def main() -> int:
    opts = load_params().eval
    from nmt.evaluation import raw_references, reference_rule, samples_markdown, score
    from nmt.translate import Translator

    members = [BUNDLE, *opts.ensemble]
    translator = Translator(members)
    b = translator.bundle
    src, ref = read_lines(SPLIT / "test.src"), read_lines(SPLIT / "test.ref")
    pretokenized = b.config.pretokenized
    start = time.perf_counter()
    hyps = [
        h[0]
        for h in translator.translate_nbest(
            src,
            pretokenized=True,
            beam_size=opts.beam_size,
            length_penalty=opts.length_penalty,
            max_len_a=opts.max_len_a,
            max_len_b=opts.max_len_b,
            batch_size=opts.batch_size,
            show_unk=opts.show_unk,
            cased=False,  # scored as the corpus writes its references (lower-cased where it is)
        )
    ]
    seconds = time.perf_counter() - start
    hyp_text, ref_text = [h.text for h in hyps], raw_references(ref, b.target_text, pretokenized=pretokenized)
    hyp_tokens = [h.tokens for h in hyps]
    scores = score(hyp_text, ref_text, b.target_text.lang, hyp_tokens=hyp_tokens if pretokenized else None, ref_tokens=ref if pretokenized else None)
    search = "greedy" if opts.beam_size == 1 else f"beam {opts.beam_size}"
    ensemble = {}
    if opts.ensemble:  # which bundles these were (DVC tracks only models/bundle)
        search += f", ensemble of {len(members)}"
        ensemble = {"ensemble": {str(m): sha256_file(Path(m) / MANIFEST) for m in members}}
    write_json(
        METRICS / "eval.json",
        {"test_sentences": len(src), "search": search, **scores, "references": reference_rule(b.target_text, pretokenized=pretokenized), **ensemble},
    )
    write_json(
        TIMINGS / "eval_speed.json",
        {  # not a DVC metric: timings vary between runs
            "search": search,
            "seconds": round(seconds, 2),
            "sentences_per_second": round(len(src) / seconds, 1),
        },
    )
    write_lines(METRICS / "hypotheses.txt", hyp_text)
    write_lines(METRICS / "hypotheses.tok.txt", hyp_tokens)
    src_text = [b.source_text.detokenize(s) for s in src]
    write_text(
        METRICS / "samples.md",
        samples_markdown(
            src_text,
            ref_text,
            [translator.display(t) for t in hyp_tokens],  # as `nmt translate` shows them (cased by the truecaser, if any)
            opts.samples,
            f"Sample test translations ({b.source_text.lang}→{b.target_text.lang}, {search}; BLEU {scores['bleu']}, chrF {scores['chrf']})",
        ),
    )
    print(
        f"evaluate: {len(src)} test sentences, {search}: BLEU {scores['bleu']}, chrF {scores['chrf']}, "
        f"TER {scores['ter']}"
        + (f", BLEU on corpus tokens {scores['bleu_corpus_tokens']}" if "bleu_corpus_tokens" in scores else "")
        + f" ({len(src) / seconds:.0f} sentences/s)"
    )
    return 0


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


if __name__ == "__main__":
    sys.exit(run_stage(main))
