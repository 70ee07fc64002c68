"""The fra_eng split holds out no English sentence that training also sees (issue 17), measured by
benchmarks/split_overlap.py on the mirrored corpus with the default seed, as the split stage splits it."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import split_overlap  # noqa: E402


@pytest.fixture(scope="module")
def fra_eng():
    params = split_overlap.load_params(["data.corpus=fra_eng"])
    split, langs = split_overlap.build_split(params)
    return split, langs, split_overlap.measure(split, langs)


def test_fra_eng_test_and_dev_sentences_never_occur_in_training(fra_eng):
    split, langs, overlap = fra_eng
    assert langs == ("en", "fr")
    assert len(split["test"]) == len(split["dev"]) == 1000 and len(split["train"]) > 70_000
    for part in ("test", "dev"):
        for lang in langs:
            assert overlap[part][lang]["exact"] == {"lines": 0, "distinct": 0}, (part, lang)
    # The check itself sees an overlap: a test sentence put into training is counted.
    leaked = {**split, "train": split["train"] + split["test"][:3]}
    assert split_overlap.measure(leaked, langs)["test"]["en"]["exact"]["lines"] >= 3


def test_near_duplicates_are_counted_apart_from_exact_ones():
    split = {
        "train": [("I 'm OK .", "Ça va ."), ("Go away .", "Va-t'en .")],
        "dev": [("Hello .", "Salut .")],
        "test": [("i 'm ok !", "Ça va !"), ("Go away .", "Pars !"), ("New one .", "Nouveau .")],
    }
    test = split_overlap.measure(split, ("en", "fr"))["test"]
    assert test["en"]["exact"] == {"lines": 1, "distinct": 1}
    assert test["en"]["near"] == {"lines": 2, "distinct": 2}  # the exact one, and one in another case and punctuation
    assert test["fr"]["exact"]["lines"] == 0 and test["fr"]["near"]["lines"] == 1
    assert test["near_pairs"]["lines"] == 1 and test["near_either_side"] == 2
