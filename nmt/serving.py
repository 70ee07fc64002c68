"""The serving SavedModel: raw sentences in, translations out, in one TensorFlow graph.

models/bundle/serving/1/   a SavedModel in TF Serving's layout (<model_base_path>/<version>/)
  signatures: translate / serving_default   sentences: tf.string [None] -> translations: tf.string [None]
              translate_beam                sentences, beam_size: int32 [], length_penalty: float32 []
                                            -> translations

It does what `nmt.translate.Translator.translate` does (normalisation, Moses tokenisation,
vocabulary lookup, truncation to MAX_INPUT_TOKENS, the decode loop of nmt/decoding.py, `<unk>`
replaced by a source word, truecasing, detokenisation) with core TensorFlow ops only
(nmt/graph_text.py, nmt/graph_display.py), so any TensorFlow runtime serves it without
this package or custom ops. It does not put back a number the output lacks (the Translator's
`numbers` rule, nmt/unk.py): the export proof compares it with the Translator with that rule off. Output limits are fixed at export: a * source length + b tokens with
the Translator's defaults (nmt/limits.py). Not covered: the subword level (core TensorFlow has no
sentencepiece op: `ServingError`, and the export stage skips the SavedModel), n-best lists and
scores, and the `pretokenized` input of `nmt translate`.

Segmenting is not covered either: a source language written without spaces that the pipeline
segments itself (data.segmenter mecab or sentencepiece; nmt/segment.py) cannot be segmented by
core TensorFlow ops (MeCab is a C++ library with a dictionary; sentencepiece needs
tensorflow-text's custom op). Such a SavedModel takes the source words separated by spaces, as
`serving_input` makes them (`Bundle.source_text.prepare`: NFKC, spaces removed, then the bundle's
segmenter), and translates them exactly as `nmt translate` translates the unsegmented sentence;
unsegmented text sent to it reads as one unknown word. A server in front of it segments first
(`nmt serve` does: it runs the Python pipeline).

It lives inside the bundle (not beside it) so that the export stage writes, proves and removes
one output: a SavedModel that disagrees with the bundle it came from is never left behind.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import tensorflow as tf

from nmt.bundle import Bundle
from nmt.decoding import Decoder
from nmt.errors import UserError
from nmt.fsutil import atomic_dir
from nmt.graph_display import GraphTruecaser, GraphUnknowns
from nmt.graph_text import GraphText
from nmt.limits import MAX_INPUT_TOKENS, MAX_LEN_A, MAX_LEN_B
from nmt.vocab import BOS_ID, EOS_ID, PAD_ID, SPECIALS, UNK_ID

SERVING_DIR = Path("serving") / "1"  # inside the bundle


class ServingError(UserError, RuntimeError):
    """The SavedModel cannot be made for this bundle, or does not reproduce the Translator."""


def segmented_input(bundle: Bundle) -> str | None:
    """The segmenter a client must apply before sending source text, or None (raw text is fine)."""
    return bundle.source_text.segmenter if bundle.source_text.segments else None


def serving_input(bundle: Bundle, sentence: str) -> str:
    """What a client sends the SavedModel to have `sentence` translated as `nmt translate` does:
    the sentence, or its words separated by spaces where the SavedModel cannot segment it."""
    return bundle.source_text.prepare(sentence) if segmented_input(bundle) else sentence


def unsupported(bundle: Bundle) -> str | None:
    """Why no SavedModel can be made of `bundle`, or None."""
    for side, pipe in (("source", bundle.source_text), ("target", bundle.target_text)):
        if pipe.level == "subword":
            return (
                f"the {side} side is at the subword level: sentencepiece has no core TensorFlow op, so no "
                "SavedModel can tokenise it (use `nmt translate` or the Python API)"
            )
    return None


class TranslateModule(tf.Module):
    """The bundle's encoder and decoder-step models with the text pipeline around them."""

    def __init__(self, bundle: Bundle):
        super().__init__()
        if reason := unsupported(bundle):
            raise ServingError(reason)
        self.encoder, self.decoder_step = bundle.encoder, bundle.decoder_step  # tracked: saved with their weights
        self.decoder = Decoder(bundle.inference)
        self.source, self.target = GraphText(bundle.source_text), GraphText(bundle.target_text)
        src = bundle.source_vocab.itos
        self.source_ids = tf.lookup.StaticHashTable(  # the specials are left out: typed, they are unknown words
            tf.lookup.KeyValueTensorInitializer(tf.constant(src[len(SPECIALS) :]), tf.range(len(SPECIALS), len(src), dtype=tf.int64)), UNK_ID
        )
        self.target_tokens = tf.constant(bundle.target_vocab.itos)
        self.unknowns = GraphUnknowns(bundle.inference)
        self.truecaser = GraphTruecaser(bundle.truecaser) if bundle.truecaser is not None else None
        sentences = tf.TensorSpec([None], tf.string, name="sentences")
        self.translate = tf.function(self._translate_greedy, input_signature=[sentences])
        self.translate_beam = tf.function(
            self._translate_beam,
            input_signature=[sentences, tf.TensorSpec([], tf.int32, name="beam_size"), tf.TensorSpec([], tf.float32, name="length_penalty")],
        )

    def _translate_greedy(self, sentences):
        return {"translations": self._translate(sentences, self.decoder.greedy_loop)}

    def _translate_beam(self, sentences, beam_size, length_penalty):
        check = tf.debugging.assert_positive(beam_size, message="beam_size must be at least 1")
        with tf.control_dependencies([check]):
            return {"translations": self._translate(sentences, lambda source, limits: self.decoder.best_beam_loop(source, limits, beam_size, length_penalty))}

    def _translate(self, sentences, search):
        line, as_written = self.source.prepare_as_written(sentences)
        tokens = self.source.tokens(line)[:, :MAX_INPUT_TOKENS]
        ids = tf.cast(tf.ragged.map_flat_values(self.source_ids.lookup, tokens), tf.int32)
        lengths = ids.row_lengths()
        keep = tf.where(lengths > 0)[:, 0]  # empty in, empty out: empty lines are not decoded
        source = tf.gather(ids, keep).to_tensor(PAD_ID)
        limits = tf.cast(tf.floor(MAX_LEN_A * tf.cast(tf.gather(lengths, keep), tf.float64) + MAX_LEN_B), tf.int32)
        out = tf.cond(tf.size(keep) > 0, lambda: search(source, tf.maximum(limits, 1)), lambda: tf.zeros([0, 0], tf.int32))
        words = self._source_words(tf.gather(tokens, keep), tf.gather(self.source.tokens(as_written), keep), tf.shape(source)[1])
        target = self._target_tokens(out, source, words)
        if self.truecaser is not None:
            target = self.truecaser(target)
        text = self.target.detokenize(self.target.join(target))
        slot = tf.where(lengths > 0, tf.cumsum(tf.cast(lengths > 0, tf.int64)) - 1, tf.size(keep, tf.int64))
        return tf.gather(tf.concat([text, [""]], 0), slot)

    def _source_words(self, tokens, as_written, width):
        """(B, width) source tokens as the user wrote them where they line up with `tokens`
        (`Translator._as_written`), else `tokens`; "" after the end."""

        def dense(rows):  # (B, width), "" after each row's end
            d = rows.to_tensor("")[:, :width]
            return tf.pad(d, [[0, 0], [0, width - tf.shape(d)[1]]], constant_values="")

        low, cased = dense(tokens), dense(as_written)
        same = tf.equal(as_written[:, :MAX_INPUT_TOKENS].row_lengths(), tokens.row_lengths())
        same &= tf.reduce_all(tf.equal(tf.strings.lower(cased, encoding="utf-8"), low), axis=1)
        return tf.where(same[:, None], cased, low)

    def _target_tokens(self, ids, source, source_words):
        """`Vocabulary.decode`: up to the first `</s>`, without `<pad>` and `<s>`; each `<unk>`
        replaced by a source word (nmt/graph_display.py)."""
        before_eos = tf.equal(tf.cumsum(tf.cast(tf.equal(ids, EOS_ID), tf.int32), axis=1), 0)
        keep = before_eos & tf.not_equal(ids, PAD_ID) & tf.not_equal(ids, BOS_ID)
        words, dropped = self.unknowns(tf.gather(self.target_tokens, ids), ids, source, source_words)
        return tf.ragged.boolean_mask(words, keep & ~dropped)


def save_serving_model(bundle: Bundle, bundle_dir: str | Path) -> Path:
    """Write the SavedModel into `bundle_dir`/serving/1 (atomically); returns its path."""
    module = TranslateModule(bundle)
    path = Path(bundle_dir) / SERVING_DIR
    with atomic_dir(path) as tmp:
        tf.saved_model.save(
            module, str(tmp), signatures={"serving_default": module.translate, "translate": module.translate, "translate_beam": module.translate_beam}
        )
        _content_uuid(tmp / "fingerprint.pb")
    return path


def _content_uuid(fingerprint: Path) -> None:
    """TensorFlow gives every saved model a random uuid in fingerprint.pb; derive it from the
    fingerprint's content hashes instead, so that equal models are equal files (DVC hashes)."""
    from tensorflow.core.protobuf import fingerprint_pb2

    fp = fingerprint_pb2.FingerprintDef.FromString(fingerprint.read_bytes())
    digest = hashlib.sha256(f"{fp.saved_model_checksum}:{fp.checkpoint_hash}".encode()).hexdigest()
    fp.uuid = str(int(digest[:32], 16))  # 128 bits in decimal, as TensorFlow writes it
    fingerprint.write_bytes(fp.SerializeToString(deterministic=True))


def serving_batches(translator, sentences: list[str], batch_size: int = 64) -> list[list[str]]:
    """`sentences` in the batches the Translator makes of them (longest first), so that both sides
    decode identical padded arrays and agree to the last bit."""
    b = translator.bundle
    lengths = [min(len(b.source_text.tokens(b.source_text.prepare(s))), translator.max_input_tokens) for s in sentences]
    order = [sentences[i] for i in np.argsort([-n for n in lengths], kind="stable")]
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def verify_serving_model(path: str | Path, translator, sentences: list[str], *, beam_size: int = 5, beam_sentences: int = 64) -> dict:
    """Load the SavedModel and check that it translates `sentences` (as `serving_input` gives them)
    exactly as `translator` does the sentences themselves, greedy and with beam search (on the
    first `beam_sentences`); raise `ServingError` otherwise."""
    loaded = tf.saved_model.load(str(path))
    greedy, beam = loaded.signatures["translate"], loaded.signatures["translate_beam"]
    result, first_bad = {}, None
    for name, lines, size in (("greedy", sentences, 1), (f"beam_{beam_size}", sentences[:beam_sentences], beam_size)):
        same = 0
        for batch in serving_batches(translator, lines):
            served = tf.constant([serving_input(translator.bundle, s) for s in batch])
            if size == 1:
                got = greedy(sentences=served)["translations"]
            else:
                got = beam(sentences=served, beam_size=tf.constant(size), length_penalty=tf.constant(1.0))["translations"]
            want = translator.translate(batch, beam_size=size, numbers=False)  # not ported (nmt/graph_display.py)
            for s, g, w in zip(batch, (x.decode("utf-8") for x in got.numpy()), want):
                same += g == w
                first_bad = first_bad or (None if g == w else (name, s, w, g))
        result[name] = {"sentences": len(lines), "identical": same}
    if first_bad:
        name, s, w, g = first_bad
        raise ServingError(
            f"the serving SavedModel does not reproduce the Translator ({result}); first difference, {name}: {s!r} -> Python {w!r}, SavedModel {g!r}"
        )
    return result
