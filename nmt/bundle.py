"""The exported inference bundle: everything needed to translate, in one folder.

models/bundle/
  encoder.keras       source ids -> encoder outputs, source mask, decoder initial states
  decoder_step.keras  previous token, states[, encoder outputs, source mask] -> log-probs, states
  source_vocab.json, target_vocab.json
  config.json         the two text pipelines, the state names, model facts
  source.model, target.model   the sentencepiece models, at the subword level only
  source.segmenter.model        a sentencepiece segmenter (data.segmenter=sentencepiece) only
  truecase.json       where the corpus lower-cased the target language: its truecaser (nmt/truecase.py)
  manifest.json       the sha256 of every other file, checked at every load (nmt/manifest.py)
It needs neither the training model nor params.yaml. `verify_bundle` proves that the reloaded
pair, run one step at a time, reproduces the training model's teacher-forced distributions.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import keras
import numpy as np

from nmt.artifacts import ArtifactError, BestEpoch, BundleConfig, read_bundle_config, write_bundle_config
from nmt.data import ParallelIds, batch_plan, teacher_forcing_batch
from nmt.errors import UserError
from nmt.fsutil import atomic_dir, save_keras
from nmt.manifest import REBUILD, BundleDamaged, check_manifest, write_manifest
from nmt.model import InferenceModels, Seq2Seq, state_names
from nmt.text import TextPipeline
from nmt.truecase import FILE as TRUECASE_FILE
from nmt.truecase import Truecaser
from nmt.vocab import Vocabulary

FILES = ("encoder.keras", "decoder_step.keras", "source_vocab.json", "target_vocab.json", "config.json")
FORMAT_VERSION = 1


class BundleError(UserError, RuntimeError):
    """A missing, incomplete or failing bundle; the message says which file and what makes it."""


@dataclass
class Bundle:
    inference: InferenceModels
    source_vocab: Vocabulary
    target_vocab: Vocabulary
    config: BundleConfig
    truecaser: Truecaser | None = None  # restores the case of a lower-cased target language, for display

    @property
    def source_text(self) -> TextPipeline:
        return self.config.source

    @property
    def target_text(self) -> TextPipeline:
        return self.config.target

    @property
    def encoder(self) -> keras.Model:
        return self.inference.encoder

    @property
    def decoder_step(self) -> keras.Model:
        return self.inference.decoder_step


def save_bundle(
    seq: Seq2Seq,
    text: dict[str, TextPipeline],
    source_vocab: Vocabulary,
    target_vocab: Vocabulary,
    out_dir: str | Path,
    *,
    pretokenized: bool,
    corpus: str | None = None,
    trained_epochs: int | None = None,
    best: BestEpoch | None = None,
    truecaser: Truecaser | None = None,
) -> None:
    """Write the bundle atomically: a killed export leaves the old bundle or none, never half of one.

    `text` holds the "source" and "target" pipelines; their sentencepiece models are copied in. A
    `truecaser` goes in only for a lower-cased target side in its language (display only)."""
    with atomic_dir(out_dir) as tmp:
        text = dict(text)
        for side in ("source", "target"):
            for key, name in (("subword_model", f"{side}.model"), ("segmenter_model", f"{side}.segmenter.model")):
                if getattr(text[side], key):
                    shutil.copyfile(getattr(text[side], key), tmp / name)
                    text[side] = replace(text[side], **{key: str(tmp / name)})
        save_keras(seq.encoder, tmp / "encoder.keras")  # byte-identical on every rerun
        save_keras(seq.decoder_step, tmp / "decoder_step.keras")
        source_vocab.save(tmp / "source_vocab.json")
        target_vocab.save(tmp / "target_vocab.json")
        if truecaser is not None and text["target"].lowercase and truecaser.lang == text["target"].lang:
            truecaser.save(tmp / TRUECASE_FILE)
        write_bundle_config(
            tmp,
            BundleConfig(
                format_version=FORMAT_VERSION,
                source=text["source"],
                target=text["target"],
                state_names=seq.state_names,
                model=seq.params,
                pretokenized=pretokenized,
                trained_epochs=trained_epochs,
                best=best,
                corpus=corpus,
            ),
        )
        write_manifest(tmp)  # last: checked at every load


def load_bundle(path: str | Path = "models/bundle") -> Bundle:
    """Load a bundle, checking first that its files are those the export wrote (the manifest);
    any damage is a `BundleError` naming the file and the stage that rebuilds it."""
    path = Path(path)
    missing = [f for f in FILES if not (path / f).is_file()]
    config = None
    if not missing:
        try:
            raw = json.loads((path / "config.json").read_text(encoding="utf-8"))
        except ValueError:
            raw = None  # damaged: the manifest check below names it
        if isinstance(raw, dict):
            missing = [
                raw[side][key]
                for side in ("source", "target")
                for key in ("subword_model", "segmenter_model")
                if isinstance(raw.get(side), dict) and isinstance(raw[side].get(key), str) and not (path / raw[side][key]).is_file()
            ]
    if missing:
        what = "does not exist" if not path.is_dir() else f"is incomplete: {', '.join(missing)} missing"
        raise BundleError(f"the model bundle {path} {what}; the `export` stage makes it: run `dvc repro export`")
    try:
        check_manifest(path)
    except BundleDamaged as e:
        raise BundleError(str(e)) from None
    if not isinstance(raw, dict) or raw.get("format_version") != FORMAT_VERSION:
        found = raw.get("format_version") if isinstance(raw, dict) else "unreadable"
        raise BundleError(f"{path / 'config.json'}: bundle format {found} is not {FORMAT_VERSION}; {REBUILD}")
    try:  # the manifest matched: a bundle written wrong, not damaged since
        config = read_bundle_config(path, raw)
    except ArtifactError as e:
        raise BundleError(f"inconsistent bundle: {e}") from None
    if config.state_names != state_names(config.model):
        raise BundleError(f"{path / 'config.json'}: its state names do not match its model params; {REBUILD}")
    try:
        encoder = keras.models.load_model(path / "encoder.keras", compile=False)
        decoder_step = keras.models.load_model(path / "decoder_step.keras", compile=False)
    except (OSError, ValueError) as e:
        raise BundleError(f"{path}: cannot load the models ({e}); re-run `dvc repro export`") from e
    try:
        truecaser = Truecaser.load(path / TRUECASE_FILE) if (path / TRUECASE_FILE).is_file() else None
    except ValueError as e:
        raise BundleError(f"{e}; {REBUILD}") from None
    bundle = Bundle(
        InferenceModels(encoder, decoder_step, config.model),
        Vocabulary.load(path / "source_vocab.json"),
        Vocabulary.load(path / "target_vocab.json"),
        config,
        truecaser,
    )
    check_sizes(bundle, path)
    return bundle


def check_sizes(bundle: Bundle, path: Path) -> None:
    """The vocabularies must have as many entries as the models have embedding rows and outputs."""
    sizes = {
        "source_vocab.json": (len(bundle.source_vocab), [layer.input_dim for layer in bundle.encoder.layers if isinstance(layer, keras.layers.Embedding)]),
        "target_vocab.json": (
            len(bundle.target_vocab),
            [layer.input_dim for layer in bundle.decoder_step.layers if isinstance(layer, keras.layers.Embedding)] + [bundle.decoder_step.outputs[0].shape[-1]],
        ),
    }
    for name, (entries, model_sizes) in sizes.items():
        if any(n != entries for n in model_sizes):
            raise BundleError(f"{path / name}: {entries} entries, but the model was built for {model_sizes[0]}; {REBUILD}")


def verify_bundle(training: keras.Model, bundle: Bundle, data: ParallelIds, *, sentences: int, batch_size: int, tolerance: float) -> dict:
    """Compare the bundle's step-by-step distributions with the training model's on `sentences`
    pairs; raise `BundleError` if any probability differs by more than `tolerance`."""
    subset = ParallelIds(data.source[:sentences], data.target[:sentences])
    worst, tokens = 0.0, 0
    for idx in batch_plan(subset, batch_size, seed=None):
        (src, tgt_in), _, weights = teacher_forcing_batch(subset, idx)
        expected = np.exp(keras.ops.convert_to_numpy(keras.ops.log_softmax(training([src, tgt_in], training=False), axis=-1)))
        got = np.exp(bundle.inference.teacher_forced_log_probs(src, tgt_in))
        real = weights > 0
        diff = float(np.abs(got - expected)[real].max())  # NaN if either side has one
        worst = diff if not diff <= worst else worst  # not max(): max(worst, nan) keeps `worst`
        tokens += int(real.sum())
    result = {"sentences": len(subset), "target_tokens": tokens, "max_abs_prob_diff": worst, "tolerance": tolerance}
    if not worst <= tolerance:
        raise BundleError(
            f"the exported bundle does not reproduce the training model: max |p_bundle - p_training| = {worst:.3g} "
            f"> {tolerance:g} over {tokens} target tokens of {len(subset)} dev sentences"
        )
    return result
