"""Token <-> id vocabularies with fixed special tokens; `<pad>` is 0 so that masks are `ids != 0`."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"
SPECIALS = (PAD, UNK, BOS, EOS)
PAD_ID, UNK_ID, BOS_ID, EOS_ID = range(4)
_SPECIAL_SET = frozenset(SPECIALS)


class Vocabulary:
    """An ordered list of tokens; the specials come first, in the order of `SPECIALS`."""

    def __init__(self, tokens: Iterable[str]):
        self.itos: list[str] = list(tokens)
        if tuple(self.itos[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"a vocabulary must start with {SPECIALS}, got {self.itos[:4]}")
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("a vocabulary must not list a token twice")

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, tokens: Iterable[str], *, bos: bool = False, eos: bool = False) -> list[int]:
        """Tokens to ids; tokens not in the vocabulary become `<unk>`, and so does text that
        spells a special ("</s>" typed by a user must not end the sentence)."""
        ids = [UNK_ID if t in _SPECIAL_SET else self.stoi.get(t, UNK_ID) for t in tokens]
        return ([BOS_ID] if bos else []) + ids + ([EOS_ID] if eos else [])

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Ids to tokens, stopping at `</s>` and leaving out `<pad>` and `<s>`."""
        out = []
        for i in np.asarray(ids, dtype=np.int64).tolist():
            if i == EOS_ID:
                break
            if i not in (PAD_ID, BOS_ID):
                out.append(self.itos[i])
        return out

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"tokens": self.itos}, ensure_ascii=False, indent=0), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        return cls(json.loads(Path(path).read_text(encoding="utf-8"))["tokens"])


def build_vocab(sentences: Iterable[list[str]], *, min_freq: int = 1, max_size: int | None = None, left_out: Counter | None = None) -> Vocabulary:
    """The tokens seen at least `min_freq` times, most frequent first (ties in code-point order).
    `left_out`, if given, receives the counts of the tokens that `max_size` cut off."""
    counts = Counter(t for s in sentences for t in s)
    for s in SPECIALS:
        counts.pop(s, None)  # a corpus that contains "<unk>" literally must not shadow the special
    ranked = sorted((t for t, c in counts.items() if c >= min_freq), key=lambda t: (-counts[t], t))
    if max_size is not None:
        cut = max(0, max_size - len(SPECIALS))
        if left_out is not None:
            left_out.update({t: counts[t] for t in ranked[cut:]})
        ranked = ranked[:cut]
    return Vocabulary([*SPECIALS, *ranked])
