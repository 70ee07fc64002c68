"""The one text pipeline shared by training, evaluation and translation.

raw text --normalize--> clean text --word_tokenize--> "corpus tokens" (words joined by one space)
--TextPipeline.tokens--> model tokens (words, or characters with "▁" for a space) --Vocabulary--> ids.
Going back, `TextPipeline.join` turns model tokens into corpus tokens and `detokenize`
into the plain text people read and sacrebleu scores.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import asdict, dataclass
from typing import Literal

# Languages written without spaces between words: their corpus tokens come from the
# corpus's own segmenter (KyTea for small_parallel_enja), and detokenizing removes spaces.
UNSEGMENTED = frozenset({"ja", "zh", "th", "lo", "km", "my"})

# The character-level stand-in for a space between words (as in sentencepiece).
SPACE = "\u2581"

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})
_WHITESPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """NFKC, curly quotes made straight, control characters and runs of whitespace made one space."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    # Control and format characters (incl. BOM, zero-width space) become spaces so that they
    # can neither end up inside a token nor glue two words together.
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf") else ch for ch in text)
    text = text.replace(SPACE, " ")  # reserved for the char level
    return _WHITESPACE.sub(" ", text).strip()


@functools.lru_cache(maxsize=None)
def _moses(lang: str):
    from sacremoses import MosesDetokenizer, MosesTokenizer

    return MosesTokenizer(lang=lang), MosesDetokenizer(lang=lang)


def word_tokenize(text: str, lang: str) -> list[str]:
    """Split clean text into words and punctuation.

    Moses rules (sacremoses) for languages written with spaces; "don't" becomes "don 't",
    as in small_parallel_enja. Unsegmented languages are split on whitespace only: their
    input must come segmented the way the training corpus was.
    """
    if not text:
        return []
    if lang in UNSEGMENTED:
        return text.split()
    tok, _ = _moses(lang)
    return tok.tokenize(text, escape=False, aggressive_dash_splits=False)


def detokenize(words: list[str], lang: str) -> str:
    """The inverse of `word_tokenize`, as well as it can be done: readable plain text."""
    if lang in UNSEGMENTED:
        # Drop the spaces, except between two pieces of Latin-script text ("CD player").
        out = ""
        for w in words:
            if out and out[-1].isascii() and out[-1].isalnum() and w[0].isascii() and w[0].isalnum():
                out += " "
            out += w
        return out
    _, detok = _moses(lang)
    return detok.detokenize(words)


@dataclass(frozen=True)
class TextPipeline:
    """How one side (source or target) of the corpus becomes model tokens, and back."""

    lang: str
    level: Literal["word", "char"] = "word"
    lowercase: bool = False

    def prepare(self, text: str, *, pretokenized: bool = False) -> str:
        """Raw text to corpus tokens joined by spaces: what `data/split/*` files hold.

        `pretokenized=True` is for corpus lines that are already tokenized: they are only
        normalized. Users' sentences are always tokenized, like the corpus was.
        """
        text = normalize(text)
        if self.lowercase:
            text = text.lower()
        words = text.split() if pretokenized else word_tokenize(text, self.lang)
        return " ".join(words)

    def tokens(self, corpus_line: str) -> list[str]:
        """Corpus tokens to model tokens."""
        if self.level == "word":
            return corpus_line.split()
        return list(corpus_line.replace(" ", SPACE))

    def join(self, tokens: list[str]) -> str:
        """Model tokens back to corpus tokens joined by spaces."""
        if self.level == "word":
            return " ".join(tokens)
        return _WHITESPACE.sub(" ", "".join(tokens).replace(SPACE, " ")).strip()

    def detokenize(self, corpus_line: str) -> str:
        """Corpus tokens to the plain text a reader (and sacrebleu) sees."""
        return detokenize(corpus_line.split(), self.lang)

    def to_dict(self) -> dict:
        return asdict(self)
