"""DVC stage `vocab`: source and target vocabularies from the training split only.

Writes data/vocab/{source,target}.json and text.json (the two text pipelines, now with
their level), and metrics/vocab.json (sizes, and how much of dev is unknown to them). At the
subword level it first trains a sentencepiece model per side, data/vocab/{source,target}.model.
A sentencepiece segmenter of the split stage (<side>.segmenter.model) is copied along.
"""

import dataclasses
import shutil
import sys
from collections import Counter

from nmt.artifacts import PATHS, SIDES, read_text_settings, write_text_settings
from nmt.config import load_params
from nmt.fsutil import atomic_dir, read_lines, write_json
from nmt.stage import run_stage
from nmt.text import train_subword_model
from nmt.vocab import SPECIALS, UNK_ID, build_vocab

SPLIT, OUT, METRICS = PATHS.split, PATHS.vocab, PATHS.metrics / "vocab.json"


def main() -> int:
    params = load_params()
    opts = params.vocab
    text = read_text_settings(SPLIT, "split")
    metrics = {"level": opts.level}
    with atomic_dir(OUT) as tmp:
        for side, ext in SIDES:
            if segmenter := text.side(side).segmenter_model:  # the split stage's sentencepiece segmenter goes along
                shutil.copyfile(segmenter, tmp / f"{side}.segmenter.model")
                text = dataclasses.replace(text, **{side: dataclasses.replace(text.side(side), segmenter_model=str(tmp / f"{side}.segmenter.model"))})
            model = None
            if opts.level == "subword":
                model = str(
                    train_subword_model(
                        read_lines(SPLIT / f"train.{ext}"), tmp / f"{side}.model", vocab_size=opts.subword_size, lang=text.side(side).lang, seed=params.seed
                    )
                )
            pipe = dataclasses.replace(text.side(side), level=opts.level, subword_model=model)
            left_out = Counter()
            vocab = build_vocab(
                (pipe.tokens(line) for line in read_lines(SPLIT / f"train.{ext}")),
                min_freq=opts.min_freq,
                max_size=opts.max_size,
                left_out=left_out,
            )
            if left_out:  # max_size cut off tokens that min_freq kept: say how much becomes <unk>
                print(
                    f"vocab: warning: vocab.max_size={opts.max_size} leaves out {len(left_out):,} {side} token types seen at least "
                    f"vocab.min_freq={opts.min_freq} times ({sum(left_out.values()):,} occurrences in the training split become <unk>); "
                    f"the vocabulary keeps {len(vocab) - len(SPECIALS):,} besides the {len(SPECIALS)} specials",
                    file=sys.stderr,
                )
            vocab.save(tmp / f"{side}.json")
            text = dataclasses.replace(text, **{side: pipe})
            dev = [i for line in read_lines(SPLIT / f"dev.{ext}") for i in vocab.encode(pipe.tokens(line))]
            metrics[f"{side}_size"] = len(vocab)
            metrics[f"{side}_dev_unk_rate"] = round(sum(i == UNK_ID for i in dev) / max(1, len(dev)), 4)
        write_text_settings(tmp, text)
    write_json(METRICS, metrics)
    print(f"vocab: {opts.level} level, source {metrics['source_size']}, target {metrics['target_size']} entries")
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
