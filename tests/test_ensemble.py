"""Ensembles (nmt/ensemble.py): several bundles decoding as one, their next-token log-probabilities
averaged and renormalised at every step, in greedy and beam search, from Python, `nmt translate
--model A --model B` and the evaluate stage (`eval.ensemble`)."""

import json
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
import yaml
from conftest import TINY_SOURCE, tiny_bundle
from pipeline_helpers import ROOT, venv_env

from nmt.bundle import BundleError, save_bundle
from nmt.config import ModelParams
from nmt.data import pad
from nmt.decoding import Decoder, max_lengths
from nmt.ensemble import EnsembleModels
from nmt.model import build_seq2seq
from nmt.text import TextPipeline
from nmt.translate import Translator
from nmt.vocab import BOS_ID, build_vocab

SENTENCES = [*TINY_SOURCE, "tea like you .", "we like green coffee and water .", "i"]


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    """Two different untrained models over the same vocabularies (dot attention / GRU without
    attention, so that the members' states and memory differ in number), as bundle folders."""
    root = tmp_path_factory.mktemp("ensemble")
    keras.utils.set_random_seed(5)
    tiny_bundle(root / "a", ModelParams(embedding_dim=8, units=16))
    keras.utils.set_random_seed(6)
    tiny_bundle(root / "b", ModelParams(cell="gru", embedding_dim=8, units=12, attention="none"))
    return str(root / "a"), str(root / "b")


def nbest(translator, beam=4, n=4):
    return translator.translate_nbest(SENTENCES, beam_size=beam, n_best=n, max_len_a=1.0, max_len_b=4)


def assert_same_hypotheses(got, want):
    for g, w in zip(got, want, strict=True):
        assert [h.tokens for h in g] == [h.tokens for h in w]
        np.testing.assert_allclose([h.score for h in g], [h.score for h in w], rtol=1e-5, atol=1e-5)


def test_an_ensemble_of_one_model_is_that_model_greedy_and_beam(random_bundle):
    bundle = random_bundle[1]
    alone, ensemble = Decoder(bundle.inference), Decoder(EnsembleModels([bundle.inference]))
    rng = np.random.default_rng(0)
    source = pad([rng.integers(4, 12, rng.integers(1, 8)).astype(np.int32) for _ in range(10)])
    limits = max_lengths(source, 1.5, 3)
    np.testing.assert_array_equal(ensemble.greedy(source, limits), alone.greedy(source, limits))
    for got, want in zip(ensemble.beam(source, limits, 5, 1.0, 5), alone.beam(source, limits, 5, 1.0, 5), strict=True):
        assert [ids for ids, _ in got] == [ids for ids, _ in want]
        np.testing.assert_allclose([s for _, s in got], [s for _, s in want], rtol=1e-5, atol=1e-5)


def test_two_copies_of_a_model_translate_as_the_model_alone(bundles):
    a, _ = bundles
    alone, twice = Translator(a), Translator([a, a])
    assert twice.translate(SENTENCES) == alone.translate(SENTENCES)
    assert_same_hypotheses(nbest(twice), nbest(alone))


def test_each_step_is_the_renormalised_mean_of_the_members_log_probabilities(bundles):
    a, b = (Translator(p).bundle.inference for p in bundles)
    ensemble = EnsembleModels([a, b])
    source = np.array([[5, 6, 7, 0], [8, 4, 0, 0]], np.int32)
    target_in = np.array([[BOS_ID, 5, 6], [BOS_ID, 9, 4]], np.int32)
    memory, states = ensemble.encode(source)
    assert len(states) == len(a.state_names) + len(b.state_names) and len(memory) == 2  # a's outputs and mask; b has none
    steps = []
    for t in range(target_in.shape[1]):
        lp, states = ensemble.step(keras.ops.convert_to_tensor(target_in[:, t : t + 1]), states, memory)
        steps.append(keras.ops.convert_to_numpy(lp))
    got = np.stack(steps, axis=1)
    mean = (a.teacher_forced_log_probs(source, target_in) + b.teacher_forced_log_probs(source, target_in)) / 2
    want = mean - np.log(np.exp(mean).sum(-1, keepdims=True))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.exp(got).sum(-1), 1.0, rtol=1e-5)  # a distribution: scores are log-probabilities


def test_two_different_models_translate_differently_from_each_and_the_cli_gives_the_same(bundles):
    a, b = bundles
    together = nbest(Translator([a, b]), beam=3, n=3)
    for alone in (nbest(Translator(a), beam=3, n=3), nbest(Translator(b), beam=3, n=3)):
        assert any([(h.tokens, round(h.score, 4)) for h in x] != [(h.tokens, round(h.score, 4)) for h in y] for x, y in zip(together, alone))
    done = subprocess.run(
        [sys.executable, "-m", "nmt.cli", "translate", "--model", a, "--model", b, "--beam", "3", "--n-best", "3", "--tokens", *SENTENCES],
        capture_output=True,
        text=True,
        env={**venv_env(), "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    expected = Translator([a, b]).translate_nbest(SENTENCES, beam_size=3, n_best=3)
    want = [f"{n} ||| {h.tokens} ||| logprob= {h.log_prob:.4f} length= {h.length} ||| {h.score:.4f}" for n, hyps in enumerate(expected) for h in hyps]
    assert done.stdout.splitlines() == want


def test_members_with_other_vocabularies_are_refused_in_one_line(bundles, tmp_path):
    a, _ = bundles
    src, tgt = TextPipeline("en", "word", True), TextPipeline("ja", "word", False)
    src_vocab = build_vocab(src.tokens(s) for s in [*TINY_SOURCE, "a new word ."])
    tgt_vocab = Translator(a).bundle.target_vocab
    seq = build_seq2seq(ModelParams(embedding_dim=8, units=16), len(src_vocab), len(tgt_vocab))
    save_bundle(seq, {"source": src, "target": tgt}, src_vocab, tgt_vocab, tmp_path / "other", pretokenized=True)
    with pytest.raises(
        BundleError, match=rf"^cannot ensemble {a} and {tmp_path / 'other'}: they differ in their source vocabulary \(\d+ entries against \d+\)$"
    ):
        Translator([a, str(tmp_path / "other")])
    done = subprocess.run(
        [sys.executable, "-m", "nmt.cli", "translate", "--model", a, "--model", str(tmp_path / "other"), "tea ."],
        capture_output=True,
        text=True,
        env={**venv_env(), "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("error: cannot ensemble") and len(done.stderr.splitlines()) == 1
    attention = subprocess.run(
        [sys.executable, "-m", "nmt.cli", "translate", "--model", a, "--model", a, "--attention", str(tmp_path / "a.html"), "tea ."],
        capture_output=True,
        text=True,
        env={**venv_env(), "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        check=False,
    )
    assert attention.returncode == 2 and "--attention draws one model's attention" in attention.stderr


def test_the_evaluate_stage_decodes_with_the_bundles_of_eval_ensemble(bundles, tmp_path):
    a, b = bundles
    split = tmp_path / "data/split"
    split.mkdir(parents=True)
    lines = "".join(f"{s}\n" for s in SENTENCES)
    for name in ("test.src", "test.tgt", "test.ref"):  # the references do not matter here
        (split / name).write_text(lines, encoding="utf-8")
    shutil.copytree(a, tmp_path / "models/bundle")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["eval"].update(ensemble=[b], beam_size=3)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    proc = subprocess.run(
        [sys.executable, str(ROOT / "stages/evaluate.py")], cwd=tmp_path, env={**venv_env(), "PYTHONPATH": str(ROOT)}, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads((tmp_path / "metrics/eval.json").read_text())
    assert result["search"] == "beam 3, ensemble of 2" and list(result["ensemble"]) == ["models/bundle", b]
    want = Translator([a, b]).translate_nbest(SENTENCES, beam_size=3, pretokenized=True)
    assert (tmp_path / "metrics/hypotheses.tok.txt").read_text(encoding="utf-8").splitlines() == [h[0].tokens for h in want]


def test_eval_ensemble_must_be_a_list_of_folder_paths():
    from nmt.config import ParamsError, parse_params

    assert parse_params({"eval": {"ensemble": ["../seed7/models/bundle"]}}).eval.ensemble == ["../seed7/models/bundle"]
    with pytest.raises(ParamsError, match=r"eval.ensemble\[1\]: expected a string, got 3"):
        parse_params({"eval": {"ensemble": ["a", 3]}})
    with pytest.raises(ParamsError, match=r"eval.ensemble\[0\]: ' ' is not the path of a bundle folder"):
        parse_params({"eval": {"ensemble": [" "]}})
    with pytest.raises(ParamsError, match="eval.ensemble: expected a list"):
        parse_params({"eval": {"ensemble": "models/other"}})


def test_model_files_of_the_text_settings_are_compared_by_content_not_path(bundles, tmp_path):
    from dataclasses import replace

    from nmt.ensemble import check_compatible

    a = Translator(bundles[0]).bundle
    for name, content in (("one", b"model 1"), ("two", b"model 1"), ("three", b"model 2")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "segmenter.model").write_bytes(content)

    def with_segmenter(folder):  # a's bundle, its target side segmented by the sentencepiece model in `folder`
        target = replace(a.config.target, segmenter="sentencepiece", segmenter_model=str(tmp_path / folder / "segmenter.model"))
        return replace(a, config=replace(a.config, target=target))

    check_compatible([with_segmenter("one"), with_segmenter("two")], ["one", "two"])  # the same model, in two bundles
    with pytest.raises(BundleError, match=r"^cannot ensemble one and three: they differ in their target text settings \(segmenter_model: 'sha256 "):
        check_compatible([with_segmenter("one"), with_segmenter("three")], ["one", "three"])
