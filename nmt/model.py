"""The encoder-decoder: one set of layers, three Keras models built from them side by side.

- `training`: (source ids, target-in ids) -> logits at every target position (teacher forcing).
- `encoder`: source ids -> encoder outputs, source mask, and the decoder's initial states.
- `decoder_step`: (previous token, states, encoder outputs, source mask) -> log-probabilities
  of the next token, and the new states. Decoding calls it once per output token.
Because all three share the same layer objects, weights trained in the first are the weights
of the other two; `nmt.bundle` saves the inference pair and proves them equal to the first.
`InferenceModels` owns how the pair is called (`encode`, then `step` once per token): search,
the bundle's proof, serving and the tests go through it and never assemble the step's inputs.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import keras
import numpy as np
from keras import layers, ops

from nmt.config import ModelParams

# The recurrent layer of each `model.cell` (benchmarks/bench_train.py swaps in variants to measure them).
RNN_LAYERS = {"lstm": layers.LSTM, "gru": layers.GRU}


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


def state_names(p: ModelParams) -> list[str]:
    """The decoder states, in the order the step model takes and returns them."""
    kinds = ["h", "c"] if p.cell == "lstm" else ["h"]
    return [f"state_{i}_{k}" for i in range(p.layers) for k in kinds]


@dataclass(frozen=True)
class InferenceModels:
    """The encoder and decoder-step models, and the one way to call them.

    `encode` runs the encoder once per batch; `step` advances every sentence by one token.
    What a step needs besides the previous token and the states ("memory": the encoder
    outputs and source mask, with attention) is opaque to callers: beam search only tiles and
    reorders it by rows, so a model change that adds states or memory touches this module only.
    """

    encoder: keras.Model
    decoder_step: keras.Model
    params: ModelParams

    @property
    def state_names(self) -> list[str]:
        return state_names(self.params)

    @property
    def attention(self) -> bool:
        return self.params.attention != "none"

    def encode(self, source):
        """(B, S) source ids -> (memory, states): what every step reads, the initial states."""
        enc_out, mask, *states = self.encoder(source, training=False)
        # The copy drops the Keras mask the encoder attached: the step takes the mask explicitly.
        memory = [ops.copy(enc_out), mask] if self.attention else []
        return memory, states

    def step(self, tokens, states, memory):
        """(B, 1) previous tokens -> ((B, V) log-probabilities of the next token, new states)."""
        log_probs, *states = self.decoder_step([tokens, *states, *memory], training=False)
        return log_probs, states

    def step_with_attention(self, tokens, states, memory):
        """`step`, and the attention weights (B, 1, S) it used (a model with attention only)."""
        log_probs, *rest = self._attention_probe([tokens, *states, *memory], training=False)
        return log_probs, rest[:-1], rest[-1]

    @functools.cached_property
    def _attention_probe(self) -> keras.Model:
        """The step model with one more output, over the same layers: the attention weights
        (`Attention.alignment`, the softmax that `Attention.call` multiplies with the values)."""
        found = [layer for layer in self.decoder_step.layers if isinstance(layer, Attention)]
        if not found:
            raise ValueError("this model has no attention (model.attention=none)")
        query, values, source_mask = found[0]._inbound_nodes[0].arguments.args
        weights = found[0].alignment(query, values, source_mask)
        return keras.Model(self.decoder_step.inputs, [*self.decoder_step.outputs, weights], name="decoder_step_alignment")

    def teacher_forced_attention(self, source: np.ndarray, target_in: np.ndarray) -> np.ndarray:
        """(B, T, S) attention weights when the decoder is fed `target_in`, one step at a time
        (in one traced loop: run eagerly, a step took about 10 ms, most of the time of translating
        a test set in which outputs need a source word carried over, nmt/unk.py)."""
        weights = self._teacher_forced_attention(np.asarray(source, np.int32), np.asarray(target_in, np.int32))
        return ops.convert_to_numpy(weights)

    @functools.cached_property
    def _teacher_forced_attention(self):
        import tensorflow as tf

        self._attention_probe  # noqa: B018 -- built now, outside the trace (a Keras model over the step's layers)
        ids = tf.TensorSpec([None, None], tf.int32)

        def loop(source, target_in):
            memory, states = self.encode(source)

            def step(t, states, rows):
                _, states, weights = self.step_with_attention(target_in[:, t][:, None], states, memory)
                return t + 1, states, rows.write(t, weights[:, 0])

            rows = tf.TensorArray(tf.float32, size=tf.shape(target_in)[1])
            _, _, rows = tf.while_loop(lambda t, *_: t < tf.shape(target_in)[1], step, (tf.constant(0), states, rows))
            return tf.transpose(rows.stack(), (1, 0, 2))

        return tf.function(loop, input_signature=[ids, ids], autograph=False)

    def teacher_forced_log_probs(self, source: np.ndarray, target_in: np.ndarray) -> np.ndarray:
        """(B, T, V) log-probabilities of each next token given the reference prefix `target_in`,
        computed the way decoding computes them: one step at a time."""
        memory, states = self.encode(source)
        out = []
        for t in range(target_in.shape[1]):
            log_probs, states = self.step(ops.convert_to_tensor(target_in[:, t : t + 1]), states, memory)
            out.append(ops.convert_to_numpy(log_probs))
        return np.stack(out, axis=1)


@dataclass
class Seq2Seq:
    training: keras.Model
    encoder: keras.Model
    decoder_step: keras.Model
    params: ModelParams

    @property
    def state_names(self) -> list[str]:
        return state_names(self.params)

    @property
    def inference(self) -> InferenceModels:
        return InferenceModels(self.encoder, self.decoder_step, self.params)


def _rnn(cell: str, units: int, name: str) -> layers.Layer:
    return RNN_LAYERS[cell](units, return_sequences=True, return_state=True, name=name)


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

    prev_token = keras.Input((1,), dtype="int32", name="previous_token")
    state_in = [keras.Input((dec_units,), name=n) for n in state_names(p)]
    enc_out_in = keras.Input((None, dec_units), name="encoder_outputs")
    mask_in = keras.Input((None,), dtype="bool", name="source_mask")
    step_logits, step_states = decode(prev_token, state_in, enc_out_in, mask_in)
    log_probs = NextTokenLogProbs(name="log_probs")(step_logits)
    step_inputs = [prev_token, *state_in]
    if p.attention != "none":
        step_inputs += [enc_out_in, mask_in]
    decoder_step = keras.Model(step_inputs, [log_probs, *step_states], name="decoder_step")
    return Seq2Seq(training, encoder, decoder_step, p)
