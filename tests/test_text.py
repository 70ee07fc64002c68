from hypothesis import given
from hypothesis import strategies as st

from nmt.text import SPACE, TextPipeline, detokenize, normalize, word_tokenize
from nmt.vocab import SPECIALS, build_vocab


def test_normalize_cleans_what_users_paste():
    assert normalize("\ufeffHello,\u00a0 world!\r\n") == "Hello, world!"  # BOM, nbsp, CRLF
    assert normalize("Ｈｅｌｌｏ　ｗｏｒｌｄ") == "Hello world"  # full-width forms (NFKC)
    assert normalize("don\u2019t \u201cquote\u201d") == "don't \"quote\""
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


@given(st.text())
def test_any_unicode_goes_through_the_pipeline_without_raising(text):
    for lang in ("en", "fr", "ja"):
        for level in ("word", "char"):
            pipe = TextPipeline(lang, level=level)
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
