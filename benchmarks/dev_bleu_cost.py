"""What the per-epoch dev BLEU costs: the decode `nmt/devbleu.py` runs after each epoch, timed on a
trained model of the run's size, beside that run's seconds per training epoch.

    python benchmarks/dev_bleu_cost.py RUN_DIR [--repeats 3]

RUN_DIR is a checkout whose pipeline has run (models/bundle, data/split, data/vocab,
timings/train_speed.json), e.g. the default `dvc repro`. The first call traces the decoder (as
epoch 1 does); the median of the later ones is what every other epoch pays.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from nmt.bundle import load_bundle
    from nmt.devbleu import DevBleu
    from nmt.fsutil import read_lines
    from nmt.model import Seq2Seq
    from nmt.training import load_split

    run = args.run_dir
    b = load_bundle(run / "models/bundle")
    dev = load_split(run / "data/split", "dev", run / "data/vocab")
    seq = Seq2Seq(None, b.encoder, b.decoder_step, b.config["state_names"])
    scorer = DevBleu(seq, dev, read_lines(run / "data/split/dev.tgt"), b.target_text, b.source_vocab, b.target_vocab, b.attention)
    first_bleu, first = scorer()
    later = [scorer()[1] for _ in range(args.repeats)]
    speed = run / "timings/train_speed.json"  # where runs write it now; older runs: metrics/
    speed = speed if speed.is_file() else run / "metrics/train_speed.json"
    epoch = json.loads(speed.read_text())["seconds_per_epoch_median"]
    result = {
        "dev_sentences": len(dev),
        "dev_bleu": first_bleu,
        "first_call_seconds": round(first, 2),
        "seconds_median": round(statistics.median(later), 2),
        "train_seconds_per_epoch": epoch,
        "share_of_an_epoch": round(statistics.median(later) / epoch, 4),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
