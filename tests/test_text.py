import functools
import gzip
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nmt.text import SPACE, TextPipeline, detokenize, normalize, train_subword_model, word_tokenize
from nmt.vocab import SPECIALS, build_vocab


def test_normalize_cleans_what_users_paste():
    assert normalize("\ufeffHello,\u00a0 world!\r\n") == "Hello, world!"  # BOM, nbsp, CRLF
    assert normalize("Ｈｅｌｌｏ　ｗｏｒｌｄ") == "Hello world"  # full-width forms (NFKC)
    assert normalize("don\u2019t \u201cquote\u201d") == 'don\'t "quote"'
    assert normalize("tab\there\x00and\u200bzero-width") == "tab here and zero-width"
    assert normalize("   ") == ""


def test_english_is_tokenized_like_small_parallel_enja():
    pipe = TextPipeline("en", lowercase=True)
    assert pipe.prepare("I can't tell who will arrive first.") == "i can 't tell who will arrive first ."
    assert pipe.prepare("You have eaten lunch, haven't you?") == "you have eaten lunch , haven 't you ?"


def test_pretokenized_corpus_lines_are_only_normalized():
    pipe = TextPipeline("en", lowercase=True)
    assert pipe.prepare("i can 't tell .", pretokenized=True) == "i can 't tell ."


def test_detokenize_gives_readable_text():
    assert detokenize("i can 't tell who will arrive first .".split(), "en") == "i can't tell who will arrive first."
    assert detokenize("ma montre est à l' heure exacte .".split(), "fr") == "ma montre est à l'heure exacte."
    assert detokenize("私 は CD player が 好き だ 。".split(), "ja") == "私はCD playerが好きだ。"


def test_unsegmented_languages_are_split_on_spaces_only():
    assert word_tokenize("私 は 学生 です 。", "ja") == ["私", "は", "学生", "です", "。"]


def test_char_level_marks_spaces_and_joins_back():
    pipe = TextPipeline("en", level="char")
    assert pipe.tokens("go .") == ["g", "o", SPACE, "."]
    assert pipe.join(["g", "o", SPACE, "."]) == "go ."


@settings(deadline=None)  # the first example trains the small subword models
@given(st.text())
def test_any_unicode_goes_through_the_pipeline_without_raising(text):
    for lang in ("en", "fr", "ja"):
        for level in ("word", "char", "subword"):
            pipe = TextPipeline(lang, level=level, subword_model=subword_model(lang) if level == "subword" else None)
            line = pipe.prepare(text)
            assert "\n" not in line and line == line.strip()
            tokens = pipe.tokens(line)
            assert all(tokens) and all(" " not in t for t in tokens)
            assert pipe.join(tokens) == line  # model tokens -> corpus tokens is lossless
            vocab = build_vocab([tokens])
            # ... and through ids, but for text that spells a special token: that is unknown
            assert vocab.decode(vocab.encode(tokens)) == ["<unk>" if t in SPECIALS else t for t in tokens]
            pipe.detokenize(line)


@given(st.text(alphabet=st.characters(categories=["L", "N", "P", "Zs"]), max_size=60))
def test_normalized_text_is_a_fixed_point(text):
    once = normalize(text)
    assert normalize(once) == once


@functools.cache
def subword_model(lang: str) -> str:
    """A small sentencepiece model of 3,000 lines of the committed fra-eng corpus (en or fr side)."""
    root = Path(__file__).resolve().parents[1]
    with gzip.open(root / "data/mirror/fra-eng.txt.gz", "rt", encoding="utf-8") as f:
        pairs = [line.rstrip("\n").split("\t") for _, line in zip(range(3000), f)]
    side = 1 if lang == "fr" else 0
    pipe = TextPipeline(lang)
    lines = [pipe.prepare(p[side]) for p in pairs]
    folder = Path(tempfile.mkdtemp(prefix="spm-"))
    return str(train_subword_model(lines, folder / f"{lang}.model", vocab_size=300, lang=lang, seed=1))


def test_subword_level_splits_rare_words_and_joins_back_exactly():
    pipe = TextPipeline("en", "subword", subword_model=subword_model("en"))
    line = pipe.prepare("I can't tell who will arrive first, Zanzibar!")
    tokens = pipe.tokens(line)
    assert tokens[0].startswith(SPACE) and len(tokens) > len(line.split())  # pieces of words
    assert pipe.join(tokens) == line


def test_the_subword_trainer_is_reproducible_and_the_pipeline_saves_by_file_name(tmp_path):
    lines = [TextPipeline("fr").prepare(s) for s in ("Je suis là.", "Tu es là.", "Il est parti hier soir.")] * 20
    a = train_subword_model(lines, tmp_path / "a.model", vocab_size=60, lang="fr", seed=3)
    b = train_subword_model(lines, tmp_path / "b.model", vocab_size=60, lang="fr", seed=3)
    assert a.read_bytes() == b.read_bytes() and sorted(p.name for p in tmp_path.iterdir()) == ["a.model", "b.model"]
    pipe = TextPipeline("fr", "subword", subword_model=str(a))
    saved = pipe.to_dict()
    assert saved["subword_model"] == "a.model"
    assert TextPipeline(**saved).located_in(tmp_path) == pipe
    with pytest.raises(ValueError, match="level 'subword'"):
        TextPipeline("fr", "word", subword_model=str(a))


def test_too_few_subwords_for_the_characters_is_a_clear_error(tmp_path):
    from nmt.text import SubwordError

    lines = ["".join(chr(0x4E00 + i + j) for j in range(5)) for i in range(0, 300, 5)]
    with pytest.raises(SubwordError, match=r"vocab.subword_size=100 for the ja side: Vocabulary size is smaller than required_chars"):
        train_subword_model(lines, tmp_path / "ja.model", vocab_size=100, lang="ja", seed=0)
    assert not (tmp_path / "ja.model").exists()
