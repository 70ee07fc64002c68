"""Case restored to lower-cased output, for display: a truecaser learnt from cased text.

small_parallel_enja's English is all lower case, so a model trained on it writes `i am a student .`.
`Truecaser` puts the case back on such corpus tokens: each word takes its most frequent cased
form seen in the middle of a sentence in cased text of the same domain (the fra_eng corpus's
English side, Tatoeba like small_parallel_enja; the `truecase` stage learns it), words only seen
lower-case (or never) stay so, and the first word of each sentence gets a capital. "I" needs no
rule of its own: it is always "I" mid-sentence. Words that already carry a capital (names the
output copied from the source, nmt/unk.py) are left as they are.

It is for display only (`nmt translate`, the samples table, the SavedModel): scores stay computed
on the text the corpus defines (lower-cased here). BENCHMARKS.md ("Truecasing") measures it on
held-out cased sentences, lower-cased and then restored (benchmarks/truecase_eval.py).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from nmt.errors import UserError
from nmt.fsutil import write_text
from nmt.text import normalize, word_tokenize

SENTENCE_END = frozenset({".", "!", "?", "..."})  # a word after one of these starts a sentence
QUOTE = frozenset({'"', "'"})  # after a sentence end, one closes a quotation: `" Go ! " he said`
FILE = "truecase.json"  # its name in the bundle (data/truecase/ holds one per language: <lang>.json)


def _starts(tokens: list[str]) -> list[bool]:
    """Which tokens start a sentence: the first word of the line or after a sentence end, past any
    punctuation (an opening quote) in between; not after a quote that closes a quotation."""
    out, expect, prev = [], True, ""
    for n, tok in enumerate(tokens):
        word = any(c.isalnum() for c in tok)
        out.append(expect and word)
        if word or (n and tok in QUOTE and prev in SENTENCE_END):
            expect = False
        if tok in SENTENCE_END:
            expect = True
        prev = tok
    return out


def capitalize(word: str) -> str:
    return word[:1].upper() + word[1:]


@dataclass(frozen=True)
class Truecaser:
    lang: str
    forms: dict[str, str] = field(default_factory=dict)  # lower-cased word -> its cased form, where that is not all lower case

    def apply(self, tokens: list[str]) -> list[str]:
        """Corpus tokens (lower-cased) -> the same tokens cased as a reader expects."""
        out = []
        for tok, start in zip(tokens, _starts(tokens)):
            word = self.forms.get(tok, tok) if tok == tok.lower() else tok
            out.append(capitalize(word) if start else word)
        return out

    def to_dict(self) -> dict:
        return {"lang": self.lang, "forms": dict(sorted(self.forms.items()))}

    def save(self, path: str | Path) -> None:
        write_text(path, json.dumps(self.to_dict(), ensure_ascii=False, indent=0, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> Truecaser:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        if not (isinstance(raw, dict) and isinstance(raw.get("lang"), str) and isinstance(raw.get("forms"), dict)):
            raise ValueError(f"{path}: not a truecaser (expected {{'lang': ..., 'forms': {{...}}}})")
        if not all(isinstance(k, str) and isinstance(v, str) and v.lower() == k for k, v in raw["forms"].items()):
            raise ValueError(f"{path}: every form must be a cased spelling of its lower-cased key")
        return cls(raw["lang"], raw["forms"])


def train_truecaser(sentences: Iterable[str], lang: str, *, min_count: int = 2) -> Truecaser:
    """Each word's most frequent form mid-sentence in `sentences` (cased text; each distinct
    sentence counted once), kept where it is not all lower case and was seen `min_count` times."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for sentence in dict.fromkeys(sentences):
        tokens = word_tokenize(normalize(sentence), lang)
        for tok, start in zip(tokens, _starts(tokens)):
            if not start and any(c.isalpha() for c in tok):
                counts[tok.lower()][tok] += 1
    forms = {}
    for low, seen in counts.items():
        best, n = max(seen.items(), key=lambda kv: (kv[1], kv[0] == low, kv[0]))  # ties: lower case, then a fixed order
        if best != low and n >= min_count:
            forms[low] = best
    return Truecaser(lang, forms)


def read_truecaser(folder: str | Path, lang: str) -> Truecaser | None:
    """The `truecase` stage's truecaser for `lang` (data/truecase/<lang>.json), or None if it made none."""
    path = Path(folder) / f"{lang}.json"
    if not path.is_file():
        return None
    try:
        return Truecaser.load(path)
    except ValueError as e:
        raise TruecaseError(f"{e}; the `truecase` stage makes it: run `dvc repro truecase`") from None


class TruecaseError(UserError, ValueError):
    """A truecaser file that is not what the `truecase` stage writes."""
