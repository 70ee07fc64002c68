"""DVC stage `export`: models/train -> models/bundle (encoder + decoder-step models, vocabularies,
config, the truecaser of a lower-cased target language from data/truecase/, and the serving
SavedModel in models/bundle/serving/1/).

The stage proves its output: it reloads the bundle from disk and checks that decoding one
step at a time reproduces the training model's teacher-forced distributions on dev
sentences, then that the SavedModel translates dev sentences exactly as the Python
Translator does, greedy and beam 5 (metrics/export.json); it fails otherwise. Subword bundles
get no SavedModel (core TensorFlow cannot run sentencepiece): the stage says so and goes on.
"""

import sys
from pathlib import Path

from nmt.artifacts import PATHS
from nmt.fsutil import OutputError, atomic_dir, write_json
from nmt.stage import run_stage

OUT, METRICS = PATHS.bundle, PATHS.metrics / "export.json"
CHECK_SENTENCES, TOLERANCE = 200, 1e-5
SERVING_GREEDY, SERVING_BEAM, BEAM_SIZE = 200, 64, 5  # dev sentences the SavedModel must translate like Python


def main() -> int:
    from nmt.artifacts import read_split_part, read_trained_model, read_vocabularies
    from nmt.bundle import load_bundle, save_bundle, verify_bundle
    from nmt.fsutil import read_lines
    from nmt.manifest import write_manifest
    from nmt.model import build_seq2seq
    from nmt.serving import unsupported
    from nmt.truecase import read_truecaser

    trained, vocab = read_trained_model(PATHS.trained), read_vocabularies(PATHS.vocab)
    seq = build_seq2seq(trained.model, len(vocab.source), len(vocab.target), seed=trained.seed)
    seq.training.load_weights(PATHS.trained / "model.keras")
    text = vocab.text
    # The bundle is written and proven in a temporary folder that takes OUT's place only once
    # every proof has passed: a failed or killed export leaves the previous bundle (or none),
    # never one that is unproven or lacks a part. A killed export's folder is swept next time.
    try:
        with atomic_dir(OUT) as staging:
            save_bundle(
                seq,
                {"source": text.source, "target": text.target},
                vocab.source,
                vocab.target,
                staging,
                pretokenized=text.pretokenized,
                corpus=text.corpus,
                trained_epochs=trained.epochs,
                best=trained.best,
                truecaser=read_truecaser(PATHS.truecase, text.target.lang) if text.target.lowercase else None,
            )
            result = verify_bundle(
                seq.training, load_bundle(staging), read_split_part(PATHS.split, "dev", vocab), sentences=CHECK_SENTENCES, batch_size=50, tolerance=TOLERANCE
            )
            bundle = load_bundle(staging)
            if reason := unsupported(bundle):
                print(f"export: no serving SavedModel: {reason}")
                serving = {"skipped": "subword level"}
            else:
                serving = export_serving(bundle, staging, read_lines(PATHS.split / "dev.src"))
            write_manifest(staging)  # again, now with the SavedModel's files
    except OutputError as e:  # named as the output, not as its temporary folder
        cause = e
        while cause.__cause__ is not None:
            cause = cause.__cause__
        raise OutputError(f"cannot write {OUT}: {getattr(cause, 'strerror', None) or e}") from None
    write_json(
        METRICS,
        {"max_abs_prob_diff": float(f"{result['max_abs_prob_diff']:.3g}"), **{k: v for k, v in result.items() if k != "max_abs_prob_diff"}, "serving": serving},
    )
    print(f"export: {OUT} reproduces the training model on {result['sentences']} dev sentences (max |dp| = {result['max_abs_prob_diff']:.2g} <= {TOLERANCE:g})")
    if "skipped" not in serving:
        print(
            f"export: {OUT / 'serving/1'} translates {serving['greedy']['sentences']} dev sentences greedily and "
            f"{serving[f'beam_{BEAM_SIZE}']['sentences']} with beam {BEAM_SIZE} exactly as the Python Translator does"
        )
        if "input" in serving:
            print(f"export: note: the SavedModel takes {serving['input']} (README, 'Serving')")
    return 0


def export_serving(bundle, bundle_dir: Path, dev_source: list[str]) -> dict:
    """The SavedModel beside the bundle's files, proven on dev sentences typed as plain text (for
    a source language the SavedModel cannot segment: segmented as a server must, `serving_input`)."""
    from nmt.serving import save_serving_model, segmented_input, verify_serving_model
    from nmt.translate import Translator

    path = save_serving_model(bundle, bundle_dir)
    sentences = [bundle.source_text.detokenize(line) for line in dev_source[:SERVING_GREEDY]]
    result = verify_serving_model(path, Translator(bundle), sentences, beam_size=BEAM_SIZE, beam_sentences=SERVING_BEAM)
    if segmenter := segmented_input(bundle):
        result["input"] = f"the source words separated by spaces, segmented by {segmenter} (nmt.serving.serving_input)"
    return result


if __name__ == "__main__":
    sys.exit(run_stage(main))
