"""Segmenting languages written without spaces (Japanese, Chinese, Thai, ...) into words.

The pipeline segments such text itself, the same way for the training data and for a user's
sentence, so that "私は学生です。" and "私 は 学生 で す 。" give the same tokens: the text is first
de-spaced (`despace`: the spaces a person or a corpus's own segmenter put in are dropped, bar
those between two pieces of Latin-script text), then cut by one of
- `mecab`: MeCab with the IPA dictionary (mecab-python3 and ipadic, installed with sacrebleu[ja],
  the very analyser sacrebleu's `ja-mecab` BLEU uses). Japanese only; integer costs and a Viterbi
  search over a fixed dictionary, so the same text gives the same words on every machine;
- `sentencepiece`: a unigram model trained on the de-spaced source side of the training split
  (any language), whose pieces are the words.
`whitespace` is the corpus's own segmentation kept as it is (split on spaces): the target side of
a corpus that comes segmented (small_parallel_enja's Japanese, by KyTea) keeps its gold tokens.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterable
from pathlib import Path

from nmt.errors import UserError

SEGMENTERS = ("whitespace", "mecab", "sentencepiece")
IPADIC_ENTRIES = 392126  # the IPA dictionary's size, as sacrebleu checks it


class SegmenterError(UserError, RuntimeError):
    """The segmenter a pipeline needs cannot run here."""


def despace(words: Iterable[str]) -> str:
    """Words of an unsegmented language joined without spaces, except between two pieces of
    Latin-script text ("CD player"): readable text, and what the segmenters start from."""
    out = ""
    for w in words:
        if out and _latin(out[-1]) and _latin(w[0]):
            out += " "
        out += w
    return out


@functools.cache
def _mecab():
    try:
        import ipadic
        import MeCab
    except ImportError:
        raise SegmenterError("this bundle segments Japanese with MeCab: install mecab-python3 and ipadic (`pip install 'sacrebleu[ja]'`)") from None
    tagger = MeCab.Tagger(ipadic.MECAB_ARGS + " -Owakati")
    if tagger.dictionary_info().size != IPADIC_ENTRIES:
        raise SegmenterError(f"MeCab loaded a dictionary of {tagger.dictionary_info().size} entries, not IPAdic's {IPADIC_ENTRIES}")
    return tagger


def mecab_words(text: str) -> list[str]:
    """MeCab (IPAdic) words of de-spaced text."""
    return _mecab().parse(text).split()


@functools.lru_cache(maxsize=8)
def _sentencepiece(model_file: str):
    import sentencepiece

    return sentencepiece.SentencePieceProcessor(model_file=model_file)


def sentencepiece_words(text: str, model_file: str) -> list[str]:
    """The pieces of de-spaced text, as words (the word-boundary marker dropped)."""
    pieces = (p.replace("\u2581", "") for p in _sentencepiece(model_file).encode(text, out_type=str))
    return [p for p in pieces if p]


def segment(text: str, segmenter: str, model_file: str | None = None) -> list[str]:
    """Normalised text of an unsegmented language as words: split on its spaces ("whitespace"),
    or de-spaced and cut by `segmenter`, so that spaced and unspaced input give the same words."""
    if segmenter == "whitespace":
        return text.split()
    text = despace(text.split())
    if not text:
        return []
    if segmenter == "mecab":
        return _latin_whole(text, mecab_words(text))
    if model_file is None:
        raise ValueError("the sentencepiece segmenter is not trained yet (the split stage trains it)")
    return _latin_whole(text, sentencepiece_words(text, model_file))


def _latin_whole(text: str, words: list[str]) -> list[str]:
    """`words` of de-spaced `text` with no cut inside a run of Latin letters and digits ("10",
    "abc123"): `despace` keeps a space between two such words, so a cut there would make the
    words, typed back with spaces, a different text. With this, despace(segment(t)) == t."""
    out: list[str] = []
    pos = 0
    for w in words:
        start = text.find(w, pos)
        glued = start == pos and out and _latin(out[-1][-1]) and _latin(w[0])
        if glued:
            out[-1] += w
        else:
            out.append(w)
        pos = start + len(w) if start >= 0 else pos
    return out


def _latin(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def train_unigram(sentences: Iterable[str], *, vocab_size: int, seed: int, **options) -> bytes:
    """A sentencepiece unigram model of `sentences`, serialised: the trainer arguments the segmenter
    and the subword level (nmt/text.py) share. Our own normalisation has run (identity rule);
    `<unk>` is the only special piece; one thread and `seed` keep it reproducible; `vocab_size` is
    a ceiling (`hard_vocab_limit=False`) for small corpora. `options`: the caller's own arguments.
    Written to memory: no path recorded inside the model, no .vocab file beside it. sentencepiece's
    RuntimeError (e.g. fewer pieces than characters) goes to the caller, who names its param."""
    import sentencepiece

    sentencepiece.set_random_generator_seed(seed)
    buffer = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences),
        model_writer=buffer,
        vocab_size=vocab_size,
        model_type="unigram",
        normalization_rule_name="identity",
        hard_vocab_limit=False,
        num_threads=1,
        unk_id=0,
        bos_id=-1,
        eos_id=-1,
        pad_id=-1,
        minloglevel=2,
        **options,
    )
    return buffer.getvalue()


def trainer_message(e: RuntimeError) -> str:
    """sentencepiece's error without its source location prefix."""
    return str(e).split("] ", 1)[-1]


def train_segmenter(lines: Iterable[str], model_file: str | Path, *, vocab_size: int, seed: int) -> Path:
    """A sentencepiece unigram model of the de-spaced `lines`, written to `model_file` (`train_unigram`).

    No dummy prefix: a sentence's first word is cut like any other. Pieces do not cross the
    spaces `despace` keeps (between Latin-script words).
    """
    model_file = Path(model_file)
    try:
        model = train_unigram((despace(line.split()) for line in lines), vocab_size=vocab_size, seed=seed, character_coverage=0.9995, add_dummy_prefix=False)
    except RuntimeError as e:
        raise SegmenterError(f"data.segmenter=sentencepiece, data.segmenter_size={vocab_size}: {trainer_message(e)}") from None
    model_file.write_bytes(model)
    return model_file
