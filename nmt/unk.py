"""Carrying source words the model cannot produce into its translation, instead of `<unk>`.

A word-level model writes `<unk>` wherever the target word is outside its vocabulary (names,
numbers, rare words). After search, each output `<unk>` is replaced by a source word: the one
the attention weights pointed at most when the `<unk>` was written (the classic unk replacement
of Luong et al. 2015, the weights recomputed by `InferenceModels.teacher_forced_attention`),
among the source words the model did not know itself where the sentence has any (an output
`<unk>` nearly always stands for one of those), else among all. The word is copied as the user
wrote it (cased, a number as is). A model without attention has no pointer: there the k-th output
`<unk>` takes the k-th unknown source word, in order, and an `<unk>` left over is dropped.
Numbers get one more rule (`carry_numbers`), at the word level: a model that knows a number can
still write another one, so a source number missing from the output replaces the output number
that attends to it most, or goes in beside the word that does. BENCHMARKS.md ("Unknown words
and numbers") measures what each rule does to BLEU and to the numbers kept.
"""

from __future__ import annotations

import re

import numpy as np

from nmt.vocab import BOS_ID, EOS_ID, PAD_ID, UNK


def output_positions(ids) -> list[int]:
    """The positions of `ids` that `Vocabulary.decode` keeps: up to the first `</s>`, without
    `<pad>` and `<s>` (the attention rows of the kept tokens)."""
    kept = []
    for t, i in enumerate(ids):
        if i == EOS_ID:
            break
        if i not in (PAD_ID, BOS_ID):
            kept.append(t)
    return kept


def target_in(ids, length: int) -> np.ndarray:
    """The decoder's input for output `ids` (teacher forcing): `<s>`, then the outputs, shifted by one."""
    row = np.full(length, PAD_ID, np.int32)
    row[0] = BOS_ID
    out = np.asarray(ids, np.int32)[: length - 1]
    row[1 : 1 + len(out)] = out
    return row


NUMBER = re.compile(r"\d")  # a source word with a digit in it is a number to carry over
NUMBER_LIKE = re.compile(r"^[\d.,:/\-]*\d[\d.,:/\-]*$|^[〇一二三四五六七八九十百千万億]+$")  # what a number may have become


def replace_unknowns(tokens: list[str], source: list[str], source_unknown: list[bool], attention: np.ndarray | None) -> list[str]:
    """`tokens` (output model tokens) with each `<unk>` replaced by a source word (see the module).

    `source`: the source words to copy, as written; `source_unknown`: which of them the model
    mapped to `<unk>`; `attention`: (len(tokens), len(source)) weights, or None (no attention).
    Ties go to the first source word (as `argmax` does; the SavedModel's graph does the same)."""
    unknown = [j for j, u in enumerate(source_unknown) if u]
    out, k = [], 0
    for t, tok in enumerate(tokens):
        if tok != UNK:
            out.append(tok)
        elif attention is not None and source:
            out.append(source[max(unknown or range(len(source)), key=lambda j: (attention[t, j], -j))])
        elif k < len(unknown):
            out.append(source[unknown[k]])
            k += 1
        # else: nothing to carry over, the `<unk>` is dropped
    return out


def carry_numbers(tokens: list[str], source: list[str], attention: np.ndarray | None) -> list[str]:
    """`tokens` with every number of `source` that is missing from them put back.

    A model that knows a number can still write another one ("1,000 yen" -> "万 円"). Each missing
    source number takes the place of the output number (digits or kanji numerals) that attends to
    it most; where the output has none, it goes in before the output word attending to it most,
    or (no attention) before the final punctuation."""
    out = list(tokens)
    placed = set()
    for j, word in enumerate(source):
        if not NUMBER.search(word) or word in out:
            continue
        numbers = [t for t, tok in enumerate(out) if t not in placed and NUMBER_LIKE.match(tok) and tok not in source]
        weights = attention[:, j] if attention is not None and len(out) == len(tokens) else None
        if numbers and weights is not None:
            t = max(numbers, key=lambda t: (weights[t], -t))
        elif numbers:
            t = numbers[0]
        else:
            t = int(weights.argmax()) if weights is not None and len(out) else _before_final_punctuation(out)
            out.insert(t, word)
            attention = None  # its rows no longer line up with `out`
            placed = {p + (p >= t) for p in placed} | {t}
            continue
        out[t] = word
        placed.add(t)
    return out


def _before_final_punctuation(tokens: list[str]) -> int:
    t = len(tokens)
    while t and not any(c.isalnum() for c in tokens[t - 1]):
        t -= 1
    return t


def needs_carrying(ids, source: list[str], target_vocab) -> bool:
    """Whether output `ids` has an `<unk>`, or lacks one of the numbers of `source`."""
    words = {target_vocab.itos[ids[t]] for t in output_positions(ids)}
    return UNK in words or any(NUMBER.search(w) and w not in words for w in source)
