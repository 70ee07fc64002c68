"""The serving SavedModel, loaded in a fresh process with TensorFlow alone, translates exactly as
the Python Translator does (word and char level, greedy and beam)."""

import json
import subprocess
import sys
from types import SimpleNamespace

import keras
import pytest
from conftest import TINY_SOURCE, tiny_bundle
from test_graph_text import NASTY, corpus_lines

from nmt.bundle import load_bundle, save_bundle
from nmt.config import ModelParams
from nmt.model import build_seq2seq
from nmt.serving import ServingError, TranslateModule, save_serving_model, serving_batches, unsupported, verify_serving_model
from nmt.text import TextPipeline
from nmt.translate import Translator
from nmt.vocab import build_vocab

# Runs in a fresh interpreter: nothing but TensorFlow, never nmt.
LOAD_AND_TRANSLATE = """
import json, sys
import tensorflow as tf
job = json.load(sys.stdin)
out = {}
for path, batches in job.items():
    sig = tf.saved_model.load(path).signatures
    greedy = [sig["translate"](sentences=tf.constant(b))["translations"].numpy().tolist() for b in batches]
    beam = [sig["translate_beam"](sentences=tf.constant(b), beam_size=tf.constant(3),
                                  length_penalty=tf.constant(1.0))["translations"].numpy().tolist() for b in batches]
    out[path] = {"greedy": [[x.decode() for x in b] for b in greedy], "beam": [[x.decode() for x in b] for b in beam]}
print(json.dumps(out))
"""


def char_bundle(path):
    """A randomly initialised char-level English -> French bundle over real fra-eng characters."""
    pairs = corpus_lines(60, seed=1)
    src, tgt = TextPipeline("en", "char", True), TextPipeline("fr", "char", False)
    src_vocab = build_vocab(src.tokens(src.prepare(s)) for s in pairs["en"])
    tgt_vocab = build_vocab(tgt.tokens(tgt.prepare(s)) for s in pairs["fr"])
    params = ModelParams(embedding_dim=8, units=16)
    seq = build_seq2seq(params, len(src_vocab), len(tgt_vocab), seed=3)
    save_bundle(seq, {"source": src, "target": tgt}, src_vocab, tgt_vocab, path, pretokenized=False)
    return load_bundle(path)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """{SavedModel path: (Translator, batches)} for a word-level en->ja and a char-level en->fr bundle."""
    keras.utils.set_random_seed(1)
    root = tmp_path_factory.mktemp("serving")
    sentences = TINY_SOURCE + NASTY + corpus_lines(25, seed=2)["en"] + ["tea " * 450]  # the last one is truncated to 400
    out = {}
    for bundle in (tiny_bundle(root / "word", ModelParams(embedding_dim=8, units=16))[1], char_bundle(root / "char")):
        translator = Translator(bundle)
        path = save_serving_model(bundle, bundle_dir=root / bundle.source_text.level)
        out[str(path)] = (translator, serving_batches(translator, sentences, batch_size=32))
    return out


@pytest.fixture(scope="module")
def fresh_process_outputs(served):
    job = {path: batches for path, (_, batches) in served.items()}
    proc = subprocess.run(
        [sys.executable, "-c", LOAD_AND_TRANSLATE],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        timeout=300,
        env={"TF_CPP_MIN_LOG_LEVEL": "2", "PATH": ""},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


@pytest.mark.parametrize("search", ["greedy", "beam"])
def test_the_savedmodel_translates_like_the_translator(served, fresh_process_outputs, search):
    for path, (translator, batches) in served.items():
        got = fresh_process_outputs[path][search]
        # numbers=False: putting back a missing number is not ported to the graph (nmt/graph_display.py)
        want = [translator.translate(b, beam_size=1 if search == "greedy" else 3, numbers=False) for b in batches]
        assert got == want, path
        flat = [t for b in want for t in b]
        assert len(set(flat)) > 5  # different outputs: the comparison means something
        for b, g in zip(batches, got):
            assert all(out == "" for s, out in zip(b, g) if not s.strip())  # empty in, empty out


def test_the_export_proof_passes_and_catches_a_different_model(served, tmp_path):
    path, (translator, batches) = next(iter(served.items()))
    sentences = [s for b in batches for s in b][:20]
    result = verify_serving_model(path, translator, sentences, beam_size=2, beam_sentences=8)
    assert result == {"greedy": {"sentences": 20, "identical": 20}, "beam_2": {"sentences": 8, "identical": 8}}
    other = Translator(tiny_bundle(tmp_path / "other", ModelParams(embedding_dim=8, units=16), seed=7)[1])
    with pytest.raises(ServingError, match="does not reproduce the Translator"):
        verify_serving_model(path, other, sentences, beam_sentences=0)


def test_a_subword_bundle_gets_no_savedmodel():
    sub = SimpleNamespace(source_text=TextPipeline("en", "word"), target_text=TextPipeline("ja", "subword", subword_model="t.model"))
    assert "target side is at the subword level" in unsupported(sub)
    with pytest.raises(ServingError, match="sentencepiece has no core TensorFlow op"):
        TranslateModule(sub)
