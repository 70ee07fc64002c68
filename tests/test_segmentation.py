"""Japanese without spaces: the pipeline segments an unsegmented source language itself, the same
way for the training data and for a user's sentence, typed with or without spaces, half- or
full-width; the default en->ja direction keeps the corpus's own (gold) Japanese tokens."""

import dataclasses
import json
import subprocess
import sys
import tarfile
from collections import Counter
from pathlib import Path

import pytest
from pipeline_helpers import copy_repo, dvc, read_json, run
from test_stages import project, stage

from nmt.config import ParamsError, parse_params
from nmt.corpora import BUILTIN, text_pipelines
from nmt.corpus import Pair, clean
from nmt.errors import UserError
from nmt.fsutil import read_lines
from nmt.segment import despace, mecab_words
from nmt.text import TextPipeline, normalize

# Each group: one sentence typed several ways (spaces or not, half- or full-width forms).
TYPED = [
    ["私は学生です。", "私 は 学生 で す 。", "私は学生です｡", " 私　は学生です。 "],
    ["彼はＣＤを買った。", "彼はCDを買った。", "彼 は CD を 買っ た 。"],
]
ENJA = BUILTIN["small_parallel_enja"]


def mirror(part: str, lang: str, n: int) -> list[str]:
    with tarfile.open("data/mirror/small_parallel_enja.tar.gz") as tar:
        return tar.extractfile(f"small_parallel_enja/{part}.{lang}").read().decode().splitlines()[:n]


def test_japanese_typed_with_or_without_spaces_half_or_full_width_gives_the_same_words():
    pipe = TextPipeline("ja", segmenter="mecab")
    for group in TYPED:
        assert len({pipe.prepare(s) for s in group}) == 1, [pipe.prepare(s) for s in group]
    assert pipe.prepare(TYPED[0][0]) == "私 は 学生 です 。"  # MeCab's words, not one unknown token
    assert TextPipeline("ja").prepare(TYPED[0][0]) == "私は学生です。"  # whitespace: the old way, kept as a choice


def test_segmenting_never_cuts_a_run_of_latin_letters_and_digits():
    """The words, de-spaced, give back the text as typed ("abc123", not "abc 123"): what samples
    show and what a word carried over to the output reads."""
    pipe = TextPipeline("ja", segmenter="mecab")
    typed = "私のIDはabc123で、10kmを走った。"
    assert "abc123" in pipe.prepare(typed).split()
    assert despace(pipe.prepare(typed).split()) == typed


def test_the_default_direction_keeps_the_corpus_japanese_tokens_as_targets():
    src, tgt = text_pipelines(ENJA, False, "auto")
    assert (src.segmenter, tgt.segmenter) == ("whitespace", "whitespace")
    assert "segmenter" not in tgt.to_dict()  # text.json and the bundle's config.json as before
    gold = mirror("train", "ja", 300)
    kept = clean([Pair(e, j) for e, j in zip(mirror("train", "en", 300), gold)], src, tgt, pretokenized=True, max_len=None, dedupe=False, counts=Counter())
    assert [t for _, t in kept] == [normalize(g) for g in gold]  # KyTea's words, NFKC-normalised


def test_the_reverse_direction_re_segments_the_gold_source_as_user_input_is():
    src, tgt = text_pipelines(ENJA, True, "auto")
    assert (src.segmenter, tgt.segmenter) == ("mecab", "whitespace")
    gold = mirror("train", "ja", 300)
    kept = clean([Pair(j, e) for j, e in zip(gold, mirror("train", "en", 300))], src, tgt, pretokenized=True, max_len=None, dedupe=False, counts=Counter())
    assert [s for s, _ in kept] == [" ".join(mecab_words(despace(normalize(g).split()))) for g in gold]
    assert [s for s, _ in kept] == [src.prepare(despace(g.split())) for g in gold]  # what a user typing it without spaces gets
    assert sum(s != normalize(g) for (s, _), g in zip(kept, gold)) > 30  # MeCab's words are not KyTea's


def test_a_segmenter_that_cannot_segment_the_language_is_refused():
    with pytest.raises(UserError, match="data.segmenter=mecab: MeCab's dictionary .* is Japanese, the text is 'zh'"):
        text_pipelines(dataclasses.replace(ENJA, languages=("en", "zh")), True, "mecab")
    with pytest.raises(ParamsError, match="data.segmenter: 'kytea' is not one of 'auto', 'whitespace', 'mecab', 'sentencepiece'"):
        parse_params({"data": {"segmenter": "kytea"}})


def test_a_custom_corpus_of_unsegmented_text_gets_a_sentencepiece_segmenter(tmp_path):
    """A custom unsegmented-source corpus (here Japanese typed without spaces) under `auto` with a
    language MeCab does not know is cut by a sentencepiece model of its training text."""
    raw = [despace(j.split()) for j in mirror("train", "ja", 400)]
    tsv = "".join(f"{j}\t{e}\n" for j, e in zip(raw, mirror("train", "en", 400))).encode()
    custom = {"format": "tsv", "languages": ["ja", "en"], "pretokenized": False, "lowercase": False}
    repo = project(tmp_path, tsv, dev_size=20, test_size=20, segmenter="sentencepiece", segmenter_size=1000, custom=custom)
    for name in ("download", "split", "vocab"):
        proc = stage(name, repo)
        assert proc.returncode == 0, proc.stderr
    assert "source by sentencepiece segmented" in stage("split", repo).stdout
    from nmt.artifacts import read_text_settings

    text = read_text_settings(repo / "data/vocab", "vocab")
    assert text.source.segmenter == "sentencepiece" and Path(text.source.segmenter_model).is_file()
    train = read_lines(repo / "data/split/train.src")
    assert sum(len(line.split()) > 2 for line in train) > 0.9 * len(train)  # cut into words, not one token a line
    by_source = dict(zip((despace(s.split()) for s in train), train))
    for typed, words in list(by_source.items())[:50]:
        assert text.source.prepare(typed) == words == text.source.prepare(words)


# ---- the real pipeline, ja->en, and `nmt translate` on Japanese typed any way ---------------------

TINY = {
    "epochs": 1,
    "data": {"reverse": True, "max_train_pairs": 400},
    "model": {"embedding_dim": 16, "units": 16},
    "train": {"batch_size": 32, "save_every": 1, "keep_last": 1, "average_last": 1},
    "eval": {"samples": 2, "beam_size": 1},
}


@pytest.fixture(scope="module")
def jaen(tmp_path_factory):
    repo = copy_repo(tmp_path_factory.mktemp("jaen"), TINY)
    return repo, dvc("repro", cwd=repo).stdout


@pytest.mark.slow
def test_the_ja_en_training_data_is_segmented_by_mecab_like_user_input(jaen):
    repo, out = jaen
    assert "source by mecab segmented" in out
    gold = mirror("train", "ja", 400)
    assert read_lines(repo / "data/split/train.src")[:100] == [" ".join(mecab_words(despace(normalize(g).split()))) for g in gold[:100]]
    assert read_lines(repo / "data/split/test.src") == [" ".join(mecab_words(despace(normalize(g).split()))) for g in mirror("test", "ja", 500)]
    assert read_json(repo / "models/bundle/config.json")["source"]["segmenter"] == "mecab"


@pytest.mark.slow
def test_nmt_translate_gives_one_translation_for_japanese_typed_any_way(jaen):
    repo, _ = jaen
    nmt = str(Path(sys.executable).parent / "nmt")
    lines = run([nmt, "translate", "--model", "models/bundle", *TYPED[0], *TYPED[1]], repo).stdout.splitlines()
    first, second = lines[: len(TYPED[0])], lines[len(TYPED[0]) :]
    assert len(set(first)) == 1 and len(set(second)) == 1 and first[0], lines


@pytest.mark.slow
def test_the_savedmodel_given_segmented_input_translates_as_nmt_translate_does_unsegmented(jaen):
    """TF Serving cannot run MeCab: a server segments first (`serving_input`); then it agrees."""
    repo, _ = jaen
    export = read_json(repo / "metrics/export.json")["serving"]
    assert export["greedy"] == {"sentences": 200, "identical": 200} and "segmented by mecab" in export["input"]
    typed = [s for group in TYPED for s in group] + [despace(g.split()) for g in mirror("test", "ja", 30)]
    script = (
        "import json, sys; from nmt.bundle import load_bundle; from nmt.serving import serving_input; import tensorflow as tf;"
        "b = load_bundle('models/bundle'); s = json.load(sys.stdin);"
        "sig = tf.saved_model.load('models/bundle/serving/1').signatures['translate'];"
        "out = sig(sentences=tf.constant([serving_input(b, x) for x in s]))['translations'].numpy();"
        "from nmt.translate import Translator; py = Translator(b).translate(s, numbers=False);"
        "print(json.dumps([[x.decode() for x in out], py]))"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=repo, input=json.dumps(typed), capture_output=True, text=True, check=True).stdout
    served, python = json.loads(out)
    assert served == python  # the Translator on the unsegmented sentences, numbers not put back (not ported)
    nmt = str(Path(sys.executable).parent / "nmt")
    cli = run([nmt, "translate", "--model", "models/bundle", *typed], repo).stdout.splitlines()
    same = [(s, c) for x, s, c in zip(typed, served, cli) if not any(ch.isdigit() for ch in x)]
    assert len(same) > 25 and all(s == c for s, c in same)  # `nmt translate` itself, where no number is put back
