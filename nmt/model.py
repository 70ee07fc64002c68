"""The encoder-decoder: one set of layers, three Keras models built from them side by side.

- `training`: (source ids, target-in ids) -> logits at every target position (teacher forcing).
- `encoder`: source ids -> encoder outputs, source mask, and the decoder's initial states.
- `decoder_step`: (previous token, states, encoder outputs, source mask) -> log-probabilities
  of the next token, and the new states. Decoding calls it once per output token.
Because all three share the same layer objects, weights trained in the first are the weights
of the other two; `nmt.bundle` saves the inference pair and proves them equal to the first.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
from keras import layers, ops

from nmt.config import ModelParams


@keras.saving.register_keras_serializable(package="nmt")
class PaddingMask(layers.Layer):
    """ids -> boolean mask, True where the id is not `<pad>` (0)."""

    def call(self, ids):
        return ops.not_equal(ids, 0)


@keras.saving.register_keras_serializable(package="nmt")
class Attention(layers.Layer):
    """Luong-style attention over the encoder outputs, scored dot | general | additive (Bahdanau).

    query (B, T, Hd) and values (B, S, Hv) -> context (B, T, Hv); padded source positions get
    no weight. It runs after the decoder RNN (no input feeding), so the training model can
    attend for all target positions at once.
    """

    def __init__(self, score: str, units: int, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True  # takes the source mask as an input; emits no Keras mask
        self.score, self.units = score, units
        if score == "general":
            self.query_proj = layers.Dense(units, use_bias=False, name="general_w")
        elif score == "additive":
            self.query_proj = layers.Dense(units, use_bias=False, name="additive_wq")
            self.key_proj = layers.Dense(units, name="additive_wk")
            self.energy = layers.Dense(1, use_bias=False, name="additive_v")
        elif score != "dot":
            raise ValueError(f"unknown attention score {score!r}")

    def call(self, query, values, source_mask):
        return ops.matmul(self.alignment(query, values, source_mask), values)

    def alignment(self, query, values, source_mask):
        """The attention weights (B, T, S): each row sums to 1 over the real source positions."""
        if self.score == "additive":
            q = ops.expand_dims(self.query_proj(query), 2)  # (B, T, 1, U)
            k = ops.expand_dims(self.key_proj(values), 1)  # (B, 1, S, U)
            scores = ops.squeeze(self.energy(ops.tanh(q + k)), -1)  # (B, T, S)
        else:
            q = self.query_proj(query) if self.score == "general" else query
            scores = ops.matmul(q, ops.transpose(values, (0, 2, 1)))  # (B, T, S)
        scores = ops.where(ops.expand_dims(source_mask, 1), scores, ops.full_like(scores, -1e9))
        return ops.softmax(scores, axis=-1)

    def compute_mask(self, *args, **kwargs):
        return None

    def get_config(self):
        return {**super().get_config(), "score": self.score, "units": self.units}


@keras.saving.register_keras_serializable(package="nmt")
class NextTokenLogProbs(layers.Layer):
    """(B, 1, V) logits of one decoder step -> (B, V) log-probabilities."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, logits):
        return ops.log_softmax(ops.squeeze(logits, 1), axis=-1)

    def compute_mask(self, *args, **kwargs):
        return None


@dataclass
class Seq2Seq:
    training: keras.Model
    encoder: keras.Model
    decoder_step: keras.Model
    state_names: list[str]  # the decoder states, in the order the step model takes and returns them


def _rnn(cell: str, units: int, name: str) -> layers.Layer:
    rnn = layers.LSTM if cell == "lstm" else layers.GRU
    return rnn(units, return_sequences=True, return_state=True, name=name)


def build_seq2seq(p: ModelParams, source_vocab_size: int, target_vocab_size: int, *, seed: int = 0) -> Seq2Seq:
    """All layers, then the three models that use them."""
    per_layer = 2 if p.cell == "lstm" else 1  # LSTM carries (h, c), GRU only h
    dec_units = p.units * (2 if p.bidirectional else 1)  # a bidirectional encoder's two halves, concatenated

    # ---- the layers ----------------------------------------------------------------------
    src_embedding = layers.Embedding(source_vocab_size, p.embedding_dim, mask_zero=True, name="source_embedding")
    tgt_embedding = layers.Embedding(target_vocab_size, p.embedding_dim, mask_zero=True, name="target_embedding")
    encoder_rnns = []
    for i in range(p.layers):
        rnn = _rnn(p.cell, p.units, f"encoder_{p.cell}_{i}")
        encoder_rnns.append(layers.Bidirectional(rnn, name=f"encoder_bi{p.cell}_{i}") if p.bidirectional else rnn)
    decoder_rnns = [_rnn(p.cell, dec_units, f"decoder_{p.cell}_{i}") for i in range(p.layers)]
    dropouts = [layers.Dropout(p.dropout, seed=seed + i, name=f"dropout_{i}") for i in range(2 * p.layers + 2)]
    padding_mask = PaddingMask(name="source_mask")
    if p.attention != "none":
        attention = Attention(p.attention, dec_units, name=f"attention_{p.attention}")
        attention_concat = layers.Concatenate(name="attention_concat")
        attention_combine = layers.Dense(dec_units, activation="tanh", name="attention_combine")
    output_projection = layers.Dense(target_vocab_size, name="output_projection")

    def encode(source_ids):
        x = dropouts[0](src_embedding(source_ids))
        states = []
        for i, rnn in enumerate(encoder_rnns):
            x, *s = rnn(x)
            if p.bidirectional:  # (forward states..., backward states...) -> one state each
                s = [layers.Concatenate(name=f"bridge_{i}_{k}")([s[k], s[k + per_layer]]) for k in range(per_layer)]
            states.extend(s)
            if i < p.layers - 1:
                x = dropouts[1 + i](x)
        return x, padding_mask(source_ids), states

    def decode(target_ids, states, encoder_outputs, source_mask):
        y = dropouts[p.layers](tgt_embedding(target_ids))
        new_states = []
        for i, rnn in enumerate(decoder_rnns):
            y, *s = rnn(y, initial_state=states[i * per_layer : (i + 1) * per_layer])
            new_states.extend(s)
            if i < p.layers - 1:
                y = dropouts[p.layers + 1 + i](y)
        if p.attention != "none":
            context = attention(y, encoder_outputs, source_mask)
            y = attention_combine(attention_concat([y, context]))
        return output_projection(dropouts[-1](y)), new_states

    # ---- the training model: teacher forcing over whole sequences ---------------------------
    source_ids = keras.Input((None,), dtype="int32", name="source_ids")
    target_in = keras.Input((None,), dtype="int32", name="target_in_ids")
    enc_out, src_mask, enc_states = encode(source_ids)
    logits, _ = decode(target_in, enc_states, enc_out, src_mask)
    training = keras.Model([source_ids, target_in], logits, name="seq2seq_training")

    # ---- the inference models -------------------------------------------------------------
    encoder = keras.Model(source_ids, [enc_out, src_mask, *enc_states], name="encoder")

    kinds = ["h", "c"] if p.cell == "lstm" else ["h"]
    state_names = [f"state_{i}_{k}" for i in range(p.layers) for k in kinds]
    prev_token = keras.Input((1,), dtype="int32", name="previous_token")
    state_in = [keras.Input((dec_units,), name=n) for n in state_names]
    enc_out_in = keras.Input((None, dec_units), name="encoder_outputs")
    mask_in = keras.Input((None,), dtype="bool", name="source_mask")
    step_logits, step_states = decode(prev_token, state_in, enc_out_in, mask_in)
    log_probs = NextTokenLogProbs(name="log_probs")(step_logits)
    step_inputs = [prev_token, *state_in]
    if p.attention != "none":
        step_inputs += [enc_out_in, mask_in]
    decoder_step = keras.Model(step_inputs, [log_probs, *step_states], name="decoder_step")
    return Seq2Seq(training, encoder, decoder_step, state_names)
