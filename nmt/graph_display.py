"""What the Translator does to the output for a reader, as graph ops for the serving SavedModel:
`<unk>` replaced by a source word (nmt/unk.py's `replace_unknowns`) and the case restored
(nmt/truecase.py's `Truecaser.apply`).

Core TensorFlow only, like nmt/graph_text.py: the attention weights are recomputed by feeding
the search's output back through the decoder step one position at a time (as
`InferenceModels.teacher_forced_attention` does), only for a batch with an `<unk>` in it; the
truecaser is a hash table and a loop over token positions. Not ported: `carry_numbers` (putting
back a number the output lacks moves tokens around, sentence by sentence), so the SavedModel keeps
the numbers the model or the `<unk>` replacement wrote and no others (README, "Serving").
"""

from __future__ import annotations

import tensorflow as tf

from nmt.model import InferenceModels
from nmt.truecase import QUOTE, SENTENCE_END, Truecaser
from nmt.vocab import BOS_ID, PAD_ID, UNK_ID


def _is_in(tokens: tf.Tensor, words) -> tf.Tensor:
    return tf.reduce_any(tf.equal(tokens[..., None], tf.constant(sorted(words))), axis=-1)


class GraphUnknowns(tf.Module):
    """`replace_unknowns` for a batch: output token strings with each `<unk>` replaced."""

    def __init__(self, models: InferenceModels):
        super().__init__()
        self.models = models
        self.attention = models.attention
        if self.attention:
            self.probe = models._attention_probe  # built now, outside any trace (a Keras model over the step's layers)

    def teacher_forced_attention(self, source: tf.Tensor, out: tf.Tensor) -> tf.Tensor:
        """(B, S) source ids, (B, T) output ids -> (B, T, S) attention weights."""
        memory, states = self.models.encode(source)
        target_in = tf.concat([tf.fill([tf.shape(out)[0], 1], BOS_ID), out[:, :-1]], 1)
        rows = tf.TensorArray(tf.float32, size=tf.shape(out)[1])
        for t in tf.range(tf.shape(out)[1]):
            _, states, weights = self.models.step_with_attention(target_in[:, t][:, None], states, memory)
            rows = rows.write(t, tf.cast(weights[:, 0], tf.float32))
        return tf.transpose(rows.stack(), (1, 0, 2))

    def __call__(self, words: tf.Tensor, out: tf.Tensor, source: tf.Tensor, source_words: tf.Tensor):
        """`words` (B, T): the output tokens of ids `out`; `source` (B, S) ids and `source_words`
        (B, S) the source tokens as written -> (the words with `<unk>` replaced, (B, T) which
        positions to drop: an `<unk>` that had nothing to take, without attention)."""
        is_unk = tf.equal(out, UNK_ID)
        real, src_unk = tf.not_equal(source, PAD_ID), tf.equal(source, UNK_ID)
        if self.attention:
            weights = tf.cond(
                tf.reduce_any(is_unk),
                lambda: self.teacher_forced_attention(source, out),
                lambda: tf.zeros([tf.shape(out)[0], tf.shape(out)[1], tf.shape(source)[1]], tf.float32),
            )
            allowed = tf.where(tf.reduce_any(src_unk, axis=1, keepdims=True), src_unk, real)  # unknown source words if any
            pick = tf.argmax(tf.where(allowed[:, None, :], weights, -1.0), axis=-1, output_type=tf.int32)  # (B, T), first on ties
            return tf.where(is_unk, tf.gather(source_words, pick, batch_dims=1), words), tf.zeros_like(is_unk)
        # No attention: the k-th output <unk> takes the k-th unknown source word; one left over is dropped.
        unknown = tf.ragged.boolean_mask(source_words, src_unk)
        rank = tf.cumsum(tf.cast(is_unk, tf.int32), axis=1) - 1
        has = rank < tf.cast(unknown.row_lengths(), tf.int32)[:, None]
        # At least one column, and ranks past a row's unknown words clipped (they are not taken:
        # `has` is false there); unclipped, a second <unk> beside one unknown word was out of range.
        padded = tf.pad(unknown.to_tensor(""), [[0, 0], [0, 1]])
        taken = tf.gather(padded, tf.clip_by_value(rank, 0, tf.shape(padded)[1] - 1), batch_dims=1)
        return tf.where(is_unk & has, taken, words), is_unk & ~has


class GraphTruecaser(tf.Module):
    """`Truecaser.apply` on ragged rows of corpus tokens."""

    def __init__(self, truecaser: Truecaser):
        super().__init__()
        keys = sorted(truecaser.forms) or ["\x01"]  # a table needs a key; "\x01" never is a token
        self.forms = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(keys), tf.constant([truecaser.forms.get(k, k) for k in keys])), "\x00"
        )

    def __call__(self, tokens: tf.RaggedTensor) -> tf.RaggedTensor:
        dense = tokens.to_tensor("")  # (B, T)
        lowered = tf.equal(tf.strings.lower(dense, encoding="utf-8"), dense)
        found = self.forms.lookup(dense)
        words = tf.where(lowered & tf.not_equal(found, "\x00"), found, dense)
        is_word = tf.strings.regex_full_match(dense, r".*[\pL\pN].*")
        is_end = _is_in(dense, SENTENCE_END)
        is_quote = _is_in(dense, QUOTE)
        after_end = tf.concat([tf.zeros_like(is_end[:, :1]), is_end[:, :-1]], 1)
        stops = is_word | (is_quote & after_end)  # `_starts`: what ends the wait for a sentence's first word
        expect = tf.ones_like(is_end[:, 0])
        starts = tf.TensorArray(tf.bool, size=tf.shape(dense)[1])
        for t in tf.range(tf.shape(dense)[1]):
            starts = starts.write(t, expect & is_word[:, t])
            expect = tf.where(is_end[:, t], True, tf.where(stops[:, t], False, expect))
        start = tf.transpose(starts.stack())
        first = tf.strings.upper(tf.strings.substr(words, 0, 1, unit="UTF8_CHAR"), encoding="utf-8")
        length = tf.strings.length(words, unit="UTF8_CHAR")
        rest = tf.strings.substr(words, tf.minimum(length, 1), length, unit="UTF8_CHAR")  # "" has no position 1
        cased = tf.where(start, first + rest, words)
        return tf.RaggedTensor.from_tensor(cased, lengths=tokens.row_lengths())
