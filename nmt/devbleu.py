"""Dev BLEU at each epoch end: a greedy decode of the dev set with the weights being trained.

JoeyNMT users read dev BLEU beside the losses; it tells when more epochs stop helping, which
the loss alone does not. The decode uses the inference models built from the training model's
layers (nmt/model.py) in inference mode: it reads the weights and changes no variable and no
random state, so training with and without it gives the same weights (tests/test_devbleu.py).
BLEU is on the corpus's own tokens (sacrebleu, tokenize="none"), as `bleu_corpus_tokens` in
metrics/eval.json; outputs stop where `nmt translate`'s do (nmt/limits.py).
"""

from __future__ import annotations

import time

import numpy as np
from sacrebleu.metrics import BLEU

from nmt.data import ParallelIds, pad
from nmt.decoding import Decoder, max_lengths
from nmt.limits import MAX_LEN_A, MAX_LEN_B
from nmt.model import InferenceModels
from nmt.text import TextPipeline
from nmt.vocab import Vocabulary


class DevBleu:
    """Call it after an epoch: (BLEU of greedy dev translations on corpus tokens, seconds it took)."""

    def __init__(
        self, models: InferenceModels, dev: ParallelIds, references: list[str], target_text: TextPipeline, target_vocab: Vocabulary, *, batch_size: int = 64
    ):
        """`references`: the dev split's target lines (corpus tokens joined by spaces)."""
        self.decoder = Decoder(models)
        self.target_text, self.target_vocab, self.batch_size = target_text, target_vocab, batch_size
        self.sources = [s for s in dev.source]
        self.references = [" ".join(r.split()) for r in references]
        self.order = [i for i in np.argsort([-len(s) for s in self.sources], kind="stable") if len(self.sources[i])]

    def __call__(self) -> tuple[float, float]:
        t0 = time.perf_counter()
        hypotheses = [""] * len(self.sources)
        for start in range(0, len(self.order), self.batch_size):
            chunk = self.order[start : start + self.batch_size]  # similar lengths together, as nmt.translate does
            source = pad([self.sources[i] for i in chunk])
            for i, row in zip(chunk, self.decoder.greedy(source, max_lengths(source, MAX_LEN_A, MAX_LEN_B))):
                hypotheses[i] = self.target_text.join(self.target_vocab.decode(row))
        bleu = BLEU(tokenize="none").corpus_score(hypotheses, [self.references]).score
        return round(bleu, 2), time.perf_counter() - t0
