"""The in-graph text pipeline (nmt/graph_text.py) against nmt.text, on corpus lines and nasty inputs."""

import gzip
import random
import tarfile

import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nmt import graph_text
from nmt.text import TextPipeline, detokenize, normalize, word_tokenize

NASTY = [
    "",
    " ",
    "   \t \n ",
    "\u3000",
    "🙂 ещё 東京 \x07",
    "👩‍👩‍👧 family",
    "a\u200bb\ufeffc",
    "\x00\x1f\x7f\x85x",
    "ＡＢＣ　１２３！？",
    "ﬁne ① ㍻ ½",
    "don't",
    "I can't, won't.",
    "U.S. troops",
    "Mr. Smith",
    "e.g. this",
    "It costs $1,000.5 (approx.)",
    "1,000,000 and 3.14",
    "“curly” ‘quotes’",
    "He said \"hi\" 'there'",
    "Wait... what?!",
    "....",
    "a..b",
    "end.'",
    "No. 5 and No. five",
    "pp. 12",
    "l'homme d'affaires",
    "«Bonjour», dit-il ; d'accord : 100 % !",
    "the Jones' house",
    "rock 'n' roll",
    "▁x▁",
    "e\u0301 vs é",
    "Å vs A\u030a",
    "한국어 \u1112\u1161\u11ab",
    "ﾊﾟｯﾋﾟｰ",
    "tab\there",
    "@handle #tag a&b <tag> [x] {y} |z|",
]


def corpus_lines(n=300, seed=0):
    """Real lines: fra-eng English and French, small_parallel_enja English and Japanese."""
    rng = random.Random(seed)
    with gzip.open("data/mirror/fra-eng.txt.gz", "rt", encoding="utf-8") as f:
        fra = rng.sample([line.split("\t")[:2] for line in f.read().splitlines()], n)
    with tarfile.open("data/mirror/small_parallel_enja.tar.gz") as tar:
        enja = {lang: tar.extractfile(f"small_parallel_enja/dev.{lang}").read().decode().splitlines()[:n] for lang in ("en", "ja")}
    return {"en": [p[0] for p in fra] + enja["en"], "fr": [p[1] for p in fra], "ja": enja["ja"]}


@pytest.fixture(scope="module")
def lines():
    return corpus_lines()


@pytest.fixture(scope="module")
def normalizer():
    return tf.function(graph_text.Normalizer())


def run(fn, texts):
    return [x.decode("utf-8") for x in fn(tf.constant(texts, tf.string)).numpy()]


def mismatches(python, graph, inputs):
    return [(i, p, g) for i, p, g in zip(inputs, python, graph) if p != g]


def test_normalize_matches_python(normalizer, lines):
    texts = NASTY + [line for side in lines.values() for line in side]
    assert mismatches([normalize(t) for t in texts], run(normalizer, texts), texts) == []


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.text(max_size=40), min_size=20, max_size=20))
def test_normalize_matches_python_on_random_text(normalizer, texts):
    assert mismatches([normalize(t) for t in texts], run(normalizer, texts), texts) == []


def test_lowercase_matches_str_lower(lines):
    texts = [normalize(t) for t in NASTY + lines["en"] + lines["fr"]] + ["ÉCOLE İSTANBUL ΣΑΣ ß ǅ"]
    assert run(lambda x: tf.strings.lower(x, encoding="utf-8"), texts) == [t.lower() for t in texts]


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_moses_tokenizer_matches_sacremoses(lang, lines):
    texts = [normalize(t) for t in NASTY + lines[lang]]
    graph = run(tf.function(graph_text.MosesTokenizer(lang)), texts)
    assert mismatches([" ".join(word_tokenize(t, lang)) for t in texts], graph, texts) == []


@pytest.mark.parametrize("lang", ["en", "fr", "ja"])
def test_detokenizer_matches_python(lang, lines):
    other = "en" if lang == "ja" else lang  # corpus lines: what the model's tokens join to
    lines_ = [t if lang == "ja" else " ".join(word_tokenize(normalize(t), lang)) for t in lines[lang]]
    lines_ += [" ".join(word_tokenize(normalize(t), other)) for t in NASTY]
    lines_ += ["' s '", '" a " " b "', "the Jones ' house", "( 5 $ ) , 10 %", "l' homme", "A B 日本 語 C 1"]
    if lang == "ja":
        graph = run(graph_text.unsegmented_detokenize, lines_)
    else:
        graph = run(tf.function(graph_text.MosesDetokenizer(lang)), lines_)
    assert mismatches([detokenize(t.split(), lang) for t in lines_], graph, lines_) == []


@pytest.mark.parametrize("level,lang,lowercase", [("word", "en", True), ("char", "fr", False), ("char", "ja", False)])
def test_a_whole_side_matches_its_text_pipeline(level, lang, lowercase, lines):
    pipe = TextPipeline(lang, level, lowercase)
    side = graph_text.GraphText(pipe)
    texts = NASTY + lines[lang][:100]
    prepared = run(side.prepare, texts)
    assert prepared == [pipe.prepare(t) for t in texts]
    tokens = side.tokens(tf.constant(prepared))
    assert [[t.decode() for t in row] for row in tokens.to_list()] == [pipe.tokens(p) for p in prepared]
    joined = [x.decode() for x in side.join(tokens).numpy()]
    assert joined == [pipe.join(pipe.tokens(p)) for p in prepared]
    assert run(side.detokenize, joined) == [pipe.detokenize(j) for j in joined]


def test_the_subword_level_is_refused():
    with pytest.raises(ValueError, match="sentencepiece"):
        graph_text.GraphText(TextPipeline("en", "subword", subword_model="x.model"))
