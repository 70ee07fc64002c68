"""Batched greedy and beam search over the encoder and decoder-step models (`InferenceModels`).

Both run the whole decode loop inside one `tf.function`, for a batch of sentences at once:
one encoder call, then one decoder-step call per output position (not per sentence).
Beam search is plain TensorFlow (tensorflow-addons is dead): it keeps `beam_size` live
hypotheses per sentence, sets aside those that end in `</s>` (scored by log-probability /
length ** length_penalty) and stops a sentence once it has `beam_size` finished ones, as
fairseq does; with `beam_size=1` it picks exactly the tokens greedy search picks.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from nmt.vocab import BOS_ID, EOS_ID, PAD_ID

NEG_INF = -1e9


def max_lengths(source: np.ndarray, a: float, b: int) -> np.ndarray:
    """Per-sentence output limits: a * source length + b tokens (counting `</s>`), at least 1."""
    lengths = (source != PAD_ID).sum(axis=1)
    return np.maximum(1, np.floor(a * lengths + b)).astype(np.int32)


def _rows(x, index):
    """`x` reduced to the rows `index`; one shape invariant for the loops (any number of rows)."""
    return tf.gather(x, index)


def _any_rows(x) -> tf.TensorShape:
    return tf.TensorShape([None]).concatenate(x.shape[1:])


class Decoder:
    """Greedy and beam search with one pair of inference models (any object with `encode` and
    `step`, as `InferenceModels`); the traced functions are reused across batches.

    Both loops drop a sentence from the batch once it is decided (greedy: it output `</s>`;
    beam: it has `beam_size` finished hypotheses or reached its limit), so that every step
    computes only the sentences still being decoded; each row's arithmetic is the same as in
    the full batch, so the outputs are too. They are written as `tf.while_loop`s, not Python
    loops for autograph to convert: converting them took a third of the first call's time,
    which a one-sentence `nmt translate` waits for.
    """

    def __init__(self, models):
        self.models = models
        ids, limits = tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None], tf.int32)
        scalar = tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.float32)
        # one trace for all shapes
        self._greedy = tf.function(self.greedy_loop, input_signature=[ids, limits], autograph=False)
        self._greedy_attention = tf.function(lambda s, n: self.greedy_loop(s, n, attention=True), input_signature=[ids, limits], autograph=False)
        self._beam = tf.function(self.beam_hypotheses, input_signature=[ids, limits, *scalar], autograph=False)

    # ---- greedy -------------------------------------------------------------------------
    def greedy(self, source: np.ndarray, limits: np.ndarray) -> np.ndarray:
        """(B, S) source ids -> (B, T) output ids, `</s>` then `<pad>` after each sentence."""
        return self._greedy(tf.constant(source), tf.constant(limits)).numpy()

    def greedy_with_attention(self, source: np.ndarray, limits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`greedy`, and the attention weights each output token was chosen with, (B, T, S):
        what `InferenceModels.teacher_forced_attention` would give for the outputs, without a
        second pass over them (carrying source words over, nmt/unk.py). Models with attention only."""
        ids, weights = self._greedy_attention(tf.constant(source), tf.constant(limits))
        return ids.numpy(), weights.numpy()

    @tf.autograph.experimental.do_not_convert
    def greedy_loop(self, source, limits, attention: bool = False):
        """The graph of `greedy` (also traced into the serving SavedModel, nmt/serving.py); with
        `attention`, also the weights of every step, (B, T, S), 0 after a sentence's `</s>`."""
        memory, states = self.models.encode(source)
        batch = tf.shape(source)[0]
        rows = tf.range(batch)  # (A,) the sentences still decoding, as rows of the batch
        tokens = tf.fill([batch], BOS_ID)  # (A,)
        out = tf.TensorArray(tf.int32, size=0, dynamic_size=True, element_shape=[None])
        seen = (tf.TensorArray(tf.float32, size=0, dynamic_size=True, element_shape=[None, None]),) if attention else ()

        def step(t, rows, tokens, limits, states, memory, out, *seen):
            if attention:  # the same log-probabilities bit for bit (tests/test_attention.py), and the weights
                log_probs, states, weights = self.models.step_with_attention(tokens[:, None], states, memory)  # (A, V), (A, 1, S)
                full = tf.zeros([batch, tf.shape(source)[1]], tf.float32)
                seen = (seen[0].write(t, tf.tensor_scatter_nd_update(full, rows[:, None], tf.cast(weights[:, 0], tf.float32))),)  # (B, S)
            else:
                log_probs, states = self.models.step(tokens[:, None], states, memory)  # (A, V)
            best = tf.argmax(log_probs, axis=-1, output_type=tf.int32)
            best = tf.where(t + 1 >= limits, EOS_ID, best)  # out of room: end here
            out = out.write(t, tf.tensor_scatter_nd_update(tf.fill([batch], PAD_ID), rows[:, None], best))  # (B,)
            going = tf.not_equal(best, EOS_ID)

            def drop_finished():
                keep = tf.where(going)[:, 0]
                return [tf.nest.map_structure(lambda x: _rows(x, keep), v) for v in (rows, best, limits, states, memory)]

            rows, tokens, limits, states, memory = tf.cond(tf.reduce_all(going), lambda: [rows, best, limits, states, memory], drop_finished)
            return t + 1, rows, tokens, limits, states, memory, out, *seen

        loop = (tf.constant(0), rows, tokens, limits, states, memory, out, *seen)
        invariants = (tf.TensorShape([]), *tf.nest.map_structure(_any_rows, loop[1:6]), *[tf.TensorShape(None)] * (1 + len(seen)))
        _, _, _, _, _, _, out, *seen = tf.while_loop(
            lambda t, rows, *_: (t < tf.reduce_max(limits)) & (tf.size(rows) > 0), step, loop, shape_invariants=invariants, parallel_iterations=1
        )
        ids = tf.transpose(out.stack())
        return (ids, tf.transpose(seen[0].stack(), (1, 0, 2))) if attention else ids

    # ---- beam search --------------------------------------------------------------------
    def beam(self, source: np.ndarray, limits: np.ndarray, beam_size: int, length_penalty: float, n_best: int = 1) -> list[list[tuple[list[int], float]]]:
        """For each sentence, up to `n_best` (token ids ending in `</s>`, score), best first."""
        ids, scores, ends = (
            x.numpy() for x in self._beam(tf.constant(source), tf.constant(limits), tf.constant(beam_size), tf.constant(length_penalty, tf.float32))
        )
        return [
            [(ids[b, k, : ends[b, k]].tolist(), float(scores[b, k])) for k in range(min(n_best, beam_size)) if scores[b, k] > NEG_INF / 2]
            for b in range(source.shape[0])
        ]

    @tf.autograph.experimental.do_not_convert
    def beam_loop(self, source, limits, k, alpha):
        """The search itself: the per-step history (tokens and back-pointers, (T, B, K) each) and
        the finished set, best first; `beam_hypotheses` turns them into token ids.

        The finished set and the history are kept for the whole batch (B rows); the rest
        (hypotheses alive, their states, the memory) only for the A sentences not yet decided."""
        memory, states = self.models.encode(source)
        batch = tf.shape(source)[0]

        def tile(x):  # (B, ...) -> (B*K, ...), each sentence repeated K times
            return tf.repeat(x, k, axis=0)

        memory, states = [tile(m) for m in memory], [tile(s) for s in states]
        alive_lp = tf.tile(tf.concat([[0.0], tf.fill([k - 1], NEG_INF)], 0)[None, :], [batch, 1])  # (A, K): only beam 0 at first
        tokens = tf.fill([batch * k], BOS_ID)  # (A*K,)
        rows = tf.range(batch)  # (A,) the sentences still searching, as rows of the batch
        fin_scores = tf.fill([batch, k], NEG_INF)  # (B, K) the finished set
        fin_end = tf.zeros([batch, k], tf.int32)
        fin_parent = tf.zeros([batch, k], tf.int32)
        fin_count = tf.zeros([batch], tf.int32)
        hist_tokens = tf.TensorArray(tf.int32, size=0, dynamic_size=True, element_shape=tf.TensorShape([None, None]))
        hist_parents = tf.TensorArray(tf.int32, size=0, dynamic_size=True, element_shape=tf.TensorShape([None, None]))
        rank = tf.range(2 * k)[None, :]

        def step(t, rows, alive_lp, tokens, limits, states, memory, fin, hist):
            fin_scores, fin_end, fin_parent, fin_count = (tf.gather(x, rows) for x in fin)  # (A, K), (A,)
            log_probs, states = self.models.step(tokens[:, None], states, memory)  # (A*K, V)
            alive, v = tf.shape(rows)[0], tf.shape(log_probs)[-1]
            log_probs = tf.reshape(log_probs, [alive, k, v])  # (A, K, V)
            # Out of room: the only continuation left is `</s>` (a pass over (A, K, V): only when needed).
            at_limit = (t + 1 >= limits)[:, None, None]
            is_eos_col = tf.equal(tf.range(v), EOS_ID)[None, None, :]
            log_probs = tf.cond(tf.reduce_any(at_limit), lambda: tf.where(at_limit & ~is_eos_col, NEG_INF, log_probs), lambda: log_probs)
            cand = tf.reshape(alive_lp[:, :, None] + log_probs, [alive, k * v])
            cand_lp, cand_idx = tf.math.top_k(cand, k=2 * k)
            cand_beam, cand_tok = cand_idx // v, cand_idx % v

            # Hypotheses ending here among the top K join the finished set (best K kept).
            ended = tf.equal(cand_tok, EOS_ID) & (rank < k) & (cand_lp > NEG_INF / 2)
            length = tf.cast(t + 1, tf.float32)
            new_scores = tf.where(ended, cand_lp / tf.pow(length, alpha), NEG_INF)
            all_scores = tf.concat([fin_scores, new_scores], 1)
            fin_scores, pick = tf.math.top_k(all_scores, k=k)
            fin_end = tf.gather(tf.concat([fin_end, tf.fill(tf.shape(ended), t + 1)], 1), pick, batch_dims=1)
            fin_parent = tf.gather(tf.concat([fin_parent, cand_beam], 1), pick, batch_dims=1)
            fin_count = tf.minimum(k, fin_count + tf.reduce_sum(tf.cast(ended, tf.int32), 1))
            index = rows[:, None]
            fin = [tf.tensor_scatter_nd_update(old, index, new) for old, new in zip(fin, (fin_scores, fin_end, fin_parent, fin_count))]
            done = (fin_count >= k) | (t + 1 >= limits)  # (A,)

            # The best K that did not end stay alive.
            alive_lp, pick = tf.math.top_k(tf.where(tf.equal(cand_tok, EOS_ID), NEG_INF, cand_lp), k=k)
            parent = tf.gather(cand_beam, pick, batch_dims=1)  # (A, K)
            new_tokens = tf.gather(cand_tok, pick, batch_dims=1)
            hist = [h.write(t, tf.scatter_nd(index, x, [batch, k])) for h, x in zip(hist, (new_tokens, parent))]  # (B, K)

            # The sentences decided here leave; the others' states follow their hypotheses.
            keep = tf.where(~done)[:, 0]  # (A',)
            flat = tf.reshape(tf.gather(parent + tf.range(alive)[:, None] * k, keep), [-1])  # (A'*K,) rows of states
            states = [tf.gather(s, flat) for s in states]
            tokens = tf.reshape(tf.gather(new_tokens, keep), [-1])
            same_rows = tf.reshape(tf.cast(keep, tf.int32)[:, None] * k + tf.range(k)[None, :], [-1])
            memory = tf.cond(tf.reduce_any(done), lambda: [_rows(m, same_rows) for m in memory], lambda: memory)
            rows, alive_lp, limits = (_rows(x, keep) for x in (rows, alive_lp, limits))
            return t + 1, rows, alive_lp, tokens, limits, states, memory, fin, hist

        loop = (tf.constant(0), rows, alive_lp, tokens, limits, states, memory, [fin_scores, fin_end, fin_parent, fin_count], [hist_tokens, hist_parents])
        invariants = (tf.TensorShape([]), *tf.nest.map_structure(_any_rows, loop[1:7]), [x.shape for x in loop[7]], [tf.TensorShape(None)] * 2)
        *_, (fin_scores, fin_end, fin_parent, _), (hist_tokens, hist_parents) = tf.while_loop(
            lambda t, rows, *_: (t < tf.reduce_max(limits)) & (tf.size(rows) > 0), step, loop, shape_invariants=invariants, parallel_iterations=1
        )
        return hist_tokens.stack(), hist_parents.stack(), fin_scores, fin_end, fin_parent

    @tf.autograph.experimental.do_not_convert
    def beam_hypotheses(self, source, limits, k, alpha):
        """The graph of `beam`: the K finished hypotheses of each sentence, best first, as
        ((B, K, T) ids ending in `</s>` then `<pad>`, (B, K) scores, (B, K) lengths); a slot
        that no hypothesis filled has score <= NEG_INF / 2 and only `<pad>`."""
        tokens, parents, fin_scores, fin_end, fin_parent = self.beam_loop(source, limits, k, alpha)
        steps = tf.shape(tokens)[0]  # tokens, parents: (T, B, K)
        end, beam = fin_end, fin_parent  # (B, K)

        def back(t, beam, out):  # one step back along the back-pointers
            here = t <= end - 2
            out = out.write(t, tf.where(here, tf.gather(tokens[t], beam, batch_dims=1), PAD_ID))
            return t - 1, tf.where(here, tf.gather(parents[t], beam, batch_dims=1), beam), out

        _, _, out = tf.while_loop(lambda t, *_: t >= 0, back, (steps - 1, beam, tf.TensorArray(tf.int32, size=steps)))
        ids = tf.transpose(out.stack(), (1, 2, 0))  # (B, K, T)
        ids = tf.where(tf.range(steps)[None, None, :] == end[:, :, None] - 1, EOS_ID, ids)
        return tf.where((fin_scores > NEG_INF / 2)[:, :, None], ids, PAD_ID), fin_scores, fin_end

    @tf.autograph.experimental.do_not_convert
    def best_beam_loop(self, source, limits, k, alpha):
        """The best finished hypothesis of each sentence, in graph ops: (B, T) ids ending in `</s>`
        then `<pad>` (all `<pad>` if none finished), laid out like `greedy_loop`'s."""
        ids, _, _ = self.beam_hypotheses(source, limits, k, alpha)
        return ids[:, 0]  # top_k keeps the finished set sorted
