"""DVC stage `export`: models/train -> models/bundle (encoder + decoder-step models, vocabularies, config).

The stage proves its output: it reloads the bundle from disk and checks that decoding one
step at a time reproduces the training model's teacher-forced distributions on dev
sentences (metrics/export.json), and fails otherwise.
"""

import json
import shutil
import sys
from pathlib import Path

from nmt.config import ModelParams
from nmt.fsutil import write_json
from nmt.stage import run_stage

TRAIN, VOCAB, SPLIT = Path("models/train"), Path("data/vocab"), Path("data/split")
OUT, METRICS = Path("models/bundle"), Path("metrics/export.json")
CHECK_SENTENCES, TOLERANCE = 200, 1e-5


def main() -> int:
    from nmt.bundle import BundleError, load_bundle, save_bundle, verify_bundle
    from nmt.training import build_from_vocabs, load_split, load_text_and_vocabs

    trained = json.loads((TRAIN / "config.json").read_text(encoding="utf-8"))
    model_params = ModelParams(**trained["model"])
    seq = build_from_vocabs(model_params, VOCAB, trained["seed"])
    seq.training.load_weights(TRAIN / "model.keras")
    text, src_text, tgt_text, src_vocab, tgt_vocab = load_text_and_vocabs(VOCAB)
    save_bundle(seq, {"source": src_text, "target": tgt_text}, src_vocab, tgt_vocab, OUT, extra={
        "model": trained["model"], "trained_epochs": trained["epochs"], "best": trained["best"],
        "corpus": text["corpus"], "pretokenized": text["pretokenized"],
    })
    try:
        result = verify_bundle(seq.training, load_bundle(OUT), load_split(SPLIT, "dev", VOCAB),
                               sentences=CHECK_SENTENCES, batch_size=50, tolerance=TOLERANCE)
    except BundleError:
        shutil.rmtree(OUT, ignore_errors=True)  # a bundle that fails its proof must not be used
        raise
    write_json(METRICS, {"max_abs_prob_diff": float(f"{result['max_abs_prob_diff']:.3g}"), **{k: v for k, v in result.items() if k != "max_abs_prob_diff"}})
    print(f"export: {OUT} reproduces the training model on {result['sentences']} dev sentences "
          f"(max |dp| = {result['max_abs_prob_diff']:.2g} <= {TOLERANCE:g})")
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
