"""Translating sentences with an exported bundle: the Python API behind `nmt translate`.

    from nmt.translate import Translator
    Translator("models/bundle").translate(["I can't tell who will arrive first."])
    Translator(["models/bundle", "other/bundle"]).translate([...])   # an ensemble (nmt/ensemble.py)

Input goes through the same text pipeline as the training data; unknown words become
`<unk>`; an empty line gives an empty line. Sentences are decoded in batches of similar length.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nmt.bundle import Bundle
from nmt.data import pad
from nmt.decoding import Decoder, max_lengths
from nmt.ensemble import load_ensemble
from nmt.limits import MAX_INPUT_TOKENS, MAX_LEN_A, MAX_LEN_B


@dataclass(frozen=True)
class Hypothesis:
    text: str  # detokenized, what a reader sees
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
        pretokenized: bool = False,
        number_from: int = 1,
    ) -> list[list[Hypothesis]]:
        """Up to `n_best` hypotheses per sentence, best first. `pretokenized=True` takes corpus
        tokens (as in data/split/*) instead of raw text; `number_from` is the first sentence's
        number in warnings (the CLI counts its input lines across batches)."""
        if beam_size < 1 or n_best < 1 or batch_size < 1:
            raise ValueError("beam_size, n_best and batch_size must be at least 1")
        if not math.isfinite(length_penalty) or not math.isfinite(max_len_a):
            raise ValueError(f"length_penalty ({length_penalty}) and max_len_a ({max_len_a}) must be finite numbers")
        b = self.bundle
        ids = []
        for n, s in enumerate(sentences, number_from):
            tokens = b.source_text.tokens(b.source_text.prepare(s, pretokenized=pretokenized))
            if len(tokens) > self.max_input_tokens:
                print(f"warning: sentence {n} has {len(tokens)} tokens; translating its first {self.max_input_tokens}", file=sys.stderr)
                tokens = tokens[: self.max_input_tokens]
            ids.append(np.asarray(b.source_vocab.encode(tokens), dtype=np.int32))
        results: list[list[Hypothesis]] = [[] for _ in sentences]
        order = [i for i in np.argsort([-len(x) for x in ids], kind="stable") if len(ids[i])]  # empty in, empty out
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            source = pad([ids[i] for i in chunk])
            limits = max_lengths(source, max_len_a, max_len_b)
            if beam_size == 1 and n_best == 1:
                outs = [[(row, None)] for row in self.decoder.greedy(source, limits)]
            else:
                outs = self.decoder.beam(source, limits, beam_size, length_penalty, n_best)
            for i, hyps in zip(chunk, outs):
                results[i] = [self._hypothesis(out, score, length_penalty) for out, score in hyps]
        return results

    def _hypothesis(self, ids, score, length_penalty: float = 1.0) -> Hypothesis:
        t = self.bundle.target_text
        tokens = t.join(self.bundle.target_vocab.decode(ids))
        if score is None:
            return Hypothesis(t.detokenize(tokens), tokens)
        return Hypothesis(t.detokenize(tokens), tokens, score, score * len(ids) ** length_penalty, len(ids))
