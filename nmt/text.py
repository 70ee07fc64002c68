"""The one text pipeline shared by training, evaluation and translation.

raw text --normalize--> clean text --word_tokenize / segment--> "corpus tokens" (words joined by one space)
--TextPipeline.tokens--> model tokens (words; characters with "▁" for a space; or sentencepiece
subwords of the corpus tokens) --Vocabulary--> ids.
Going back, `TextPipeline.join` turns model tokens into corpus tokens and `detokenize`
into the plain text people read and sacrebleu scores.

Its twin, nmt/graph_text.py, does the same in core TensorFlow ops for the serving SavedModel:
a change to normalisation or tokenisation here must be made there too (tests/test_graph_text.py
compares the two on real corpus lines).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal

from nmt.errors import UserError
from nmt.segment import despace, segment, train_unigram, trainer_message

# Languages written without spaces between words: their corpus tokens come from a segmenter,
# the corpus's own (KyTea for small_parallel_enja's Japanese) or ours (nmt/segment.py), and
# detokenizing removes spaces.
UNSEGMENTED = frozenset({"ja", "zh", "th", "lo", "km", "my"})

# The character-level stand-in for a space between words (as in sentencepiece).
SPACE = "\u2581"

QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})
_WHITESPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """NFKC, curly quotes made straight, control characters and runs of whitespace made one space."""
    text = unicodedata.normalize("NFKC", text).translate(QUOTES)
    # Control and format characters (incl. BOM, zero-width space) become spaces so that they
    # can neither end up inside a token nor glue two words together.
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf") else ch for ch in text)
    text = text.replace(SPACE, " ")  # reserved for the char level
    return _WHITESPACE.sub(" ", text).strip()


@functools.cache
def _moses(lang: str):
    from sacremoses import MosesDetokenizer, MosesTokenizer

    return MosesTokenizer(lang=lang), MosesDetokenizer(lang=lang)


def word_tokenize(text: str, lang: str) -> list[str]:
    """Split clean text into words and punctuation.

    Moses rules (sacremoses) for languages written with spaces; "don't" becomes "don 't",
    as in small_parallel_enja. Unsegmented languages are split on whitespace only here (the
    corpus's own segmentation); `TextPipeline.prepare` segments them (nmt/segment.py).
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
        return despace(words)  # drop the spaces, except between two pieces of Latin-script text ("CD player")
    _, detok = _moses(lang)
    return detok.detokenize(words)


class SubwordError(UserError, ValueError):
    """sentencepiece could not train a model with the params given."""


@functools.lru_cache(maxsize=8)
def _sentencepiece(model_file: str):
    import sentencepiece

    return sentencepiece.SentencePieceProcessor(model_file=model_file)


def _words(pieces: list[str]) -> list[list[str]]:
    """sentencepiece pieces grouped by word: pieces never span a space, and "▁" starts a word."""
    words: list[list[str]] = []
    for piece in pieces:
        if piece.startswith(SPACE) or not words:
            words.append([])
        words[-1].append(piece)
    return words


@functools.lru_cache(maxsize=4)
def _restricted_sentencepiece(model_file: str, pieces: frozenset[str]):
    """The model with its pieces outside `pieces` marked unused (what sentencepiece's C++
    `SetVocabulary` does, which its Python module no longer offers); single characters stay."""
    import sentencepiece
    from sentencepiece import sentencepiece_model_pb2 as pb

    model = pb.ModelProto()
    model.ParseFromString(Path(model_file).read_bytes())
    for piece in model.pieces:
        if piece.type == pb.ModelProto.SentencePiece.NORMAL and piece.piece not in pieces and len(piece.piece) > 1:
            piece.type = pb.ModelProto.SentencePiece.UNUSED
    return sentencepiece.SentencePieceProcessor(model_proto=model.SerializeToString())


def train_subword_model(lines: Iterable[str], model_file: str | Path, *, vocab_size: int, lang: str, seed: int) -> Path:
    """A sentencepiece unigram model of corpus lines, written to `model_file` (…/name.model), with
    the trainer arguments the segmenter uses too (`nmt.segment.train_unigram`): `<unk>` is the
    only special piece (ours add `<pad>`, `<s>`, `</s>`)."""
    model_file = Path(model_file)
    if model_file.suffix != ".model":
        raise ValueError(f"{model_file}: a sentencepiece model file name ends in .model")
    coverage = 0.9995 if lang in UNSEGMENTED else 1.0
    try:
        model = train_unigram(lines, vocab_size=vocab_size, seed=seed, character_coverage=coverage, unk_surface="<unk>")
    except RuntimeError as e:  # e.g. fewer pieces asked for than the text has characters
        raise SubwordError(f"vocab.subword_size={vocab_size} for the {lang} side: {trainer_message(e)}") from None
    model_file.write_bytes(model)
    return model_file


@dataclass(frozen=True)
class TextPipeline:
    """How one side (source or target) of the corpus becomes model tokens, and back."""

    lang: str
    level: Literal["word", "char", "subword"] = "word"
    lowercase: bool = False
    subword_model: str | None = None  # level "subword": the sentencepiece model file
    # An unsegmented language's words (nmt/segment.py): "whitespace" keeps the corpus's own
    # segmentation (and wants input segmented alike); "mecab" and "sentencepiece" segment
    # de-spaced text, corpus and input alike; "sentencepiece" with its model file.
    segmenter: Literal["whitespace", "mecab", "sentencepiece"] = "whitespace"
    segmenter_model: str | None = None

    def __post_init__(self):
        if (self.level == "subword") != (self.subword_model is not None):
            raise ValueError("a sentencepiece model goes with level 'subword', and only with it")
        if self.segmenter_model is not None and self.segmenter != "sentencepiece":
            raise ValueError("a segmenter model goes with segmenter 'sentencepiece' only")

    @property
    def segments(self) -> bool:
        """Whether this side's text is segmented by the pipeline (not by the corpus or the user)."""
        return self.lang in UNSEGMENTED and self.segmenter != "whitespace"

    def located_in(self, folder: str | Path) -> TextPipeline:
        """This pipeline as read back from `to_dict`'s output: its model files are in `folder`."""
        files = {k: str(Path(folder) / getattr(self, k)) for k in ("subword_model", "segmenter_model") if getattr(self, k)}
        return replace(self, **files)

    def prepare(self, text: str, *, pretokenized: bool = False) -> str:
        """Raw text to corpus tokens joined by spaces: what `data/split/*` files hold.

        `pretokenized=True` is for corpus lines that are already tokenized: they are only
        normalized. Users' sentences are always tokenized, like the corpus was; an unsegmented
        language's by this side's segmenter, spaced or not.
        """
        text = normalize(text)
        if self.lowercase:
            text = text.lower()
        if pretokenized:
            words = text.split()
        elif self.segments:
            words = segment(text, self.segmenter, self.segmenter_model)
        else:
            words = word_tokenize(text, self.lang)
        return " ".join(words)

    def tokens(self, corpus_line: str) -> list[str]:
        """Corpus tokens to model tokens."""
        if self.level == "word":
            return corpus_line.split()
        if self.level == "subword":
            return _sentencepiece(self.subword_model).encode(corpus_line, out_type=str)
        return list(corpus_line.replace(" ", SPACE))

    def sampled_tokens(self, corpus_lines: list[str], *, alpha: float, seed: int, pieces: frozenset[str] | None = None) -> list[list[str]]:
        """Subword regularisation (Kudo, 2018): each line's pieces drawn from all its segmentations
        under the unigram model, their probabilities raised to `alpha` (small: more varied); the
        same `seed` draws the same pieces. For training only: everything else takes `tokens`.
        `pieces` (the vocabulary's): no other piece is drawn (a word drawn with one, such as a
        lone character the best segmentation never uses, takes its best segmentation), so that
        sampling makes no `<unk>` the best segmentation would not.

        sentencepiece draws from one process-wide generator, reseeded here: lines are encoded one
        at a time, in order (a list would be spread over threads that draw in no fixed order)."""
        if self.level != "subword":
            raise ValueError(f"sampled segmentations need the subword level, not {self.level!r}")
        import sentencepiece

        best = _sentencepiece(self.subword_model)
        sp = best if pieces is None else _restricted_sentencepiece(self.subword_model, pieces)
        sentencepiece.set_random_generator_seed(seed)
        out = []
        for line in corpus_lines:
            drawn = sp.encode(line, out_type=str, enable_sampling=True, alpha=alpha, nbest_size=-1)
            if pieces is not None and not pieces.issuperset(drawn):
                drawn = [
                    p for word in _words(drawn) for p in (word if pieces.issuperset(word) else best.encode("".join(word).replace(SPACE, " "), out_type=str))
                ]
            out.append(drawn)
        return out

    def join(self, tokens: list[str]) -> str:
        """Model tokens back to corpus tokens joined by spaces."""
        if self.level == "word":
            return " ".join(tokens)
        if self.level == "subword":
            return _WHITESPACE.sub(" ", _sentencepiece(self.subword_model).decode_pieces(list(tokens))).strip()
        return _WHITESPACE.sub(" ", "".join(tokens).replace(SPACE, " ")).strip()

    def detokenize(self, corpus_line: str) -> str:
        """Corpus tokens to the plain text a reader (and sacrebleu) sees."""
        return detokenize(corpus_line.split(), self.lang)

    def to_dict(self) -> dict:
        """JSON-ready; model files by name only (they are saved beside the JSON). The segmenter
        only where it is not the default, so that files of runs without one stay as they were."""
        d = asdict(self)
        for k in ("subword_model", "segmenter_model"):
            if d[k]:
                d[k] = Path(d[k]).name
        if self.segmenter == "whitespace":
            del d["segmenter"], d["segmenter_model"]
        return d
