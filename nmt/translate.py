"""Translating sentences with an exported bundle: the Python API behind `nmt translate`.

    from nmt.translate import Translator
    Translator("models/bundle").translate(["I can't tell who will arrive first."])
    Translator(["models/bundle", "other/bundle"]).translate([...])   # an ensemble (nmt/ensemble.py)

Input goes through the same text pipeline as the training data; an empty line gives an empty
line. Sentences are decoded in batches of similar length. Words the model cannot produce are
carried over from the source instead of `<unk>` (nmt/unk.py; `show_unk=True` keeps the `<unk>`).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from nmt.bundle import Bundle
from nmt.data import pad
from nmt.decoding import Decoder, max_lengths
from nmt.ensemble import load_ensemble
from nmt.limits import MAX_INPUT_TOKENS, MAX_LEN_A, MAX_LEN_B
from nmt.model import InferenceModels
from nmt.unk import carry_numbers, needs_carrying, output_positions, replace_unknowns, target_in
from nmt.vocab import UNK_ID


@dataclass(frozen=True)
class Hypothesis:
    text: str  # detokenized, what a reader sees (cased by the bundle's truecaser, unless cased=False)
    tokens: str  # corpus tokens joined by spaces (what tokenized BLEU compares)
    score: float | None = None  # beam search: log-probability / length ** length_penalty
    log_prob: float | None = None  # beam search: the log-probability itself (of the tokens and `</s>`)
    length: int | None = None  # beam search: output tokens, `</s>` included


class Translator:
    """Translates with one bundle, or with several as an ensemble (a list: their next-token
    log-probabilities averaged at every step, nmt/ensemble.py). `bundle` is the first (or only)
    one: its vocabularies and text pipelines, which the others must share, are the ensemble's."""

    def __init__(self, bundle: Bundle | str | Path | Sequence[Bundle | str | Path] = "models/bundle", *, max_input_tokens: int = MAX_INPUT_TOKENS):
        members = list(bundle) if isinstance(bundle, (list, tuple)) else [bundle]
        self.bundles, models = load_ensemble(members)
        self.bundle = self.bundles[0]
        self.decoder = Decoder(models)
        self.max_input_tokens = max_input_tokens

    def translate(self, sentences: list[str], **options) -> list[str]:
        """Plain sentences in, plain translations out (one for one)."""
        return [hyps[0].text if hyps else "" for hyps in self.translate_nbest(sentences, **options)]

    def translate_nbest(
        self,
        sentences: list[str],
        *,
        beam_size: int = 1,
        n_best: int = 1,
        length_penalty: float = 1.0,
        max_len_a: float = MAX_LEN_A,
        max_len_b: int = MAX_LEN_B,
        batch_size: int = 64,
        workers: int = 1,
        pretokenized: bool = False,
        number_from: int = 1,
        show_unk: bool = False,
        cased: bool = True,
        numbers: bool = True,
    ) -> list[list[Hypothesis]]:
        """Up to `n_best` hypotheses per sentence, best first. `pretokenized=True` takes corpus
        tokens (as in data/split/*) instead of raw text; `number_from` is the first sentence's
        number in warnings (the CLI counts its input lines across batches); `show_unk=True`
        leaves the model's `<unk>` in the output instead of carrying source words over; `cased=False`
        leaves the text as the corpus writes it (lower-cased where it is: what scores compare);
        `numbers=False` does not put back the source numbers the output lacks (the SavedModel cannot);
        `workers` batches are decoded at once, in as many threads (the same results; faster with one
        TensorFlow thread per op, as `nmt translate` runs: BENCHMARKS.md), each with its own memory."""
        if beam_size < 1 or n_best < 1 or batch_size < 1 or workers < 1:
            raise ValueError("beam_size, n_best, batch_size and workers must be at least 1")
        if not math.isfinite(length_penalty) or not math.isfinite(max_len_a):
            raise ValueError(f"length_penalty ({length_penalty}) and max_len_a ({max_len_a}) must be finite numbers")
        b = self.bundle
        ids, words = [], []
        for n, s in enumerate(sentences, number_from):
            tokens = b.source_text.tokens(b.source_text.prepare(s, pretokenized=pretokenized))
            if len(tokens) > self.max_input_tokens:
                print(f"warning: sentence {n} has {len(tokens)} tokens; translating its first {self.max_input_tokens}", file=sys.stderr)
                tokens = tokens[: self.max_input_tokens]
            ids.append(np.asarray(b.source_vocab.encode(tokens), dtype=np.int32))
            words.append(tokens if show_unk else self._as_written(s, tokens, pretokenized))
        results: list[list[Hypothesis]] = [[] for _ in sentences]
        order = [i for i in np.argsort([-len(x) for x in ids], kind="stable") if len(ids[i])]  # empty in, empty out

        def decode(chunk: list[int]) -> None:  # one batch, into `results`
            source = pad([ids[i] for i in chunk])
            limits = max_lengths(source, max_len_a, max_len_b)
            seen = None  # greedy with attention: the weights each output token was chosen with
            if beam_size == 1 and n_best == 1 and not show_unk and self._greedy_sees_attention:
                out_ids, seen = self.decoder.greedy_with_attention(source, limits)
                outs = [[(row, None)] for row in out_ids]
            elif beam_size == 1 and n_best == 1:
                outs = [[(row, None)] for row in self.decoder.greedy(source, limits)]
            else:
                outs = self.decoder.beam(source, limits, beam_size, length_penalty, n_best)
            copied = {} if show_unk else self._carry_over(source, outs, [words[i] for i in chunk], numbers, seen)
            for row, (i, hyps) in enumerate(zip(chunk, outs)):
                results[i] = [self._hypothesis(out, score, length_penalty, copied.get((row, k)), cased) for k, (out, score) in enumerate(hyps)]

        chunks = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
        if workers == 1 or len(chunks) < 2:
            for chunk in chunks:
                decode(chunk)
            return results
        pool = ThreadPoolExecutor(min(workers, len(chunks)), thread_name_prefix="nmt-decode")
        try:
            for _ in pool.map(decode, chunks):  # re-raises a batch's error here
                pass
        finally:  # on an error or Ctrl-C, the batches not yet started are dropped, not decoded
            pool.shutdown(wait=True, cancel_futures=True)
        return results

    def _as_written(self, sentence: str, tokens: list[str], pretokenized: bool) -> list[str]:
        """The source model tokens as the user wrote them (not lower-cased), where they line up."""
        pipe = self.bundle.source_text
        if not pipe.lowercase or pipe.level == "subword":
            return tokens
        cased = pipe.tokens(replace(pipe, lowercase=False).prepare(sentence, pretokenized=pretokenized))[: self.max_input_tokens]
        return cased if len(cased) == len(tokens) and all(c.lower() == t for c, t in zip(cased, tokens)) else tokens

    @property
    def _greedy_sees_attention(self) -> bool:
        """Whether greedy search can hand over its attention weights (one model with attention:
        an ensemble carries words over by its first member's teacher-forced attention)."""
        return isinstance(self.decoder.models, InferenceModels) and self.decoder.models.attention

    def _carry_over(self, source: np.ndarray, outs: list, words: list[list[str]], numbers: bool, seen: np.ndarray | None = None) -> dict:
        """{(row, k): output tokens with source words carried over} for the hypotheses that need it:
        an `<unk>` replaced, a number put back (nmt/unk.py). `seen`: greedy search's own attention
        weights, (B, T, S), instead of feeding the outputs through the decoder again."""
        b = self.bundle
        numbers = numbers and b.source_text.level == "word" and b.target_text.level == "word"
        todo = [
            (row, k, out)
            for row, hyps in enumerate(outs)
            for k, (out, _) in enumerate(hyps)
            if needs_carrying(out, words[row] if numbers else [], b.target_vocab)
        ]
        if not todo:
            return {}
        attention = None
        if seen is not None:
            attention = seen[[row for row, _, _ in todo]]
        elif b.inference.attention:
            length = max(len(out) for _, _, out in todo) + 1
            rows = np.stack([source[row] for row, _, _ in todo])
            attention = b.inference.teacher_forced_attention(rows, np.stack([target_in(out, length) for _, _, out in todo]))
        copied = {}
        for n, (row, k, out) in enumerate(todo):
            unknown = [int(i) == UNK_ID for i in source[row][: len(words[row])]]
            weights = attention[n][output_positions(out)][:, : len(words[row])] if attention is not None else None
            tokens = replace_unknowns(b.target_vocab.decode(out), words[row], unknown, weights)
            copied[(row, k)] = carry_numbers(tokens, words[row], weights) if numbers else tokens
        return copied

    def display(self, tokens: str) -> str:
        """Corpus tokens -> the text a reader sees: cased by the bundle's truecaser (if it has one), detokenized."""
        if self.bundle.truecaser is not None:
            tokens = " ".join(self.bundle.truecaser.apply(tokens.split()))
        return self.bundle.target_text.detokenize(tokens)

    def _hypothesis(self, ids, score, length_penalty: float = 1.0, tokens: list[str] | None = None, cased: bool = True) -> Hypothesis:
        t = self.bundle.target_text
        tokens = t.join(self.bundle.target_vocab.decode(ids) if tokens is None else tokens)
        text = self.display(tokens) if cased else t.detokenize(tokens)
        if score is None:
            return Hypothesis(text, tokens)
        return Hypothesis(text, tokens, score, score * len(ids) ** length_penalty, len(ids))
