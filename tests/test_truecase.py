"""The truecaser (nmt/truecase.py): learnt from cased text, applied to lower-cased corpus tokens,
carried in the bundle, and its graph twin in the SavedModel (nmt/graph_display.py) agrees."""

import gzip
import random
from pathlib import Path

import pytest
import tensorflow as tf

from nmt.bundle import BundleError, load_bundle
from nmt.graph_display import GraphTruecaser
from nmt.text import normalize, word_tokenize
from nmt.truecase import read_truecaser, train_truecaser

ROOT = Path(__file__).resolve().parents[1]
CASED = ["Tom met Mary in Paris.", "I think Tom is in Paris.", "Is it OK?", "I like the TV.", "The TV is OK, I think.", "Tom likes New York."]


def test_it_learns_each_words_usual_form_mid_sentence():
    tc = train_truecaser(CASED, "en", min_count=1)
    assert tc.forms == {"i": "I", "tom": "Tom", "mary": "Mary", "paris": "Paris", "ok": "OK", "tv": "TV", "new": "New", "york": "York"}
    assert train_truecaser(CASED, "en", min_count=2).forms == {"paris": "Paris", "ok": "OK", "tv": "TV"}  # seen twice mid-sentence


def test_it_restores_names_i_and_sentence_initial_capitals():
    tc = train_truecaser(CASED, "en", min_count=1)
    apply = lambda s: " ".join(tc.apply(s.split()))  # noqa: E731
    assert apply("i think tom met mary . is it ok ?") == "I think Tom met Mary . Is it OK ?"
    assert apply('" where is the tv ? " asked tom .') == '" Where is the TV ? " asked Tom .'
    assert apply("... and John said so") == "... And John said so"  # a word copied with its case keeps it
    assert apply("") == "" and apply("5 cats") == "5 cats"


def test_it_saves_and_loads_and_refuses_a_foreign_file(tmp_path):
    tc = train_truecaser(CASED, "en")
    tc.save(tmp_path / "en.json")
    assert read_truecaser(tmp_path, "en") == tc and read_truecaser(tmp_path, "fr") is None
    (tmp_path / "en.json").write_text('{"lang": "en", "forms": {"tom": "Mary"}}')
    with pytest.raises(ValueError, match="a cased spelling of its lower-cased key"):
        read_truecaser(tmp_path, "en")


def test_the_bundle_carries_it_for_a_lower_cased_target_only(tmp_path):
    from typed_helpers import trained_bundle

    jaen = trained_bundle(tmp_path / "jaen", reverse=True, epochs=1)
    assert jaen.truecaser is not None and jaen.truecaser.forms["tom"] == "Tom"
    enja = trained_bundle(tmp_path / "enja", reverse=False, epochs=1)
    assert enja.truecaser is None and not (tmp_path / "enja" / "truecase.json").exists()
    (tmp_path / "jaen" / "truecase.json").write_text("{}")
    with pytest.raises(BundleError, match="truecase.json"):
        load_bundle(tmp_path / "jaen")


def test_the_graph_truecaser_agrees_with_python_on_real_sentences():
    with gzip.open(ROOT / "data/mirror/fra-eng.txt.gz", "rt", encoding="utf-8") as f:
        english = [line.split("\t")[0] for line in f.read().split("\n") if line]
    sample = random.Random(0).sample(english, 400)
    tc = train_truecaser(english[::2], "en")
    rows = [[t.lower() for t in word_tokenize(normalize(s), "en")] for s in sample]
    rows += [["é", "ß", "İ"], [], ['"', "hi", "!", '"', "said", "bob", "."], ["ﬁne", "."], ["John", "and", "i"]]
    got = GraphTruecaser(tc)(tf.ragged.constant(rows, dtype=tf.string))
    assert [[t.decode() for t in r] for r in got.to_list()] == [tc.apply(r) for r in rows]
