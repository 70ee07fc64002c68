"""Attention pictures: the weights come out of the bundle's decoder-step model, one row per
target token summing to 1 over the source, and are drawn as an offline HTML page or a PNG."""

import re
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import tiny_bundle

from nmt.attention import AttentionError, attention_for, write_heatmap
from nmt.config import ModelParams
from nmt.decoding import Decoder
from nmt.translate import Translator
from nmt.vocab import BOS_ID, EOS_ID


@pytest.fixture(scope="module")
def translator(random_bundle):
    return Translator(random_bundle[1])


def test_the_probe_returns_the_step_models_outputs_unchanged_and_weights_that_sum_to_one(random_bundle):
    models = random_bundle[1].inference
    source = np.array([[5, 6, 7, 8], [9, 5, 0, 0]], np.int32)  # the second sentence padded
    memory, states = models.encode(source)
    tokens = keras.ops.convert_to_tensor(np.array([[2], [2]], np.int32))
    log_probs, new_states = models.step(tokens, states, memory)
    expected = [keras.ops.convert_to_numpy(x) for x in (log_probs, *new_states)]
    log_probs, new_states, weights = models.step_with_attention(tokens, states, memory)
    got = [keras.ops.convert_to_numpy(x) for x in (log_probs, *new_states)]
    weights = keras.ops.convert_to_numpy(weights)
    for e, g in zip(expected, got, strict=True):
        assert np.array_equal(e, g)  # the same numbers, bit for bit
    assert weights.shape == (2, 1, 4)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-6)
    assert np.all(weights[1, 0, 2:] == 0) and np.all(weights[1, 0, :2] > 0)  # no weight on padding


def test_teacher_forced_attention_is_the_probe_fed_one_reference_token_at_a_time(random_bundle):
    models = random_bundle[1].inference
    source = np.array([[5, 6, 7, 8], [9, 5, 0, 0]], np.int32)
    target_in = np.array([[2, 7, 9], [2, 5, 5]], np.int32)
    memory, states = models.encode(source)
    expected = []
    for t in range(target_in.shape[1]):  # eagerly, step by step
        _, states, weights = models.step_with_attention(keras.ops.convert_to_tensor(target_in[:, t : t + 1]), states, memory)
        expected.append(keras.ops.convert_to_numpy(weights)[:, 0])
    got = models.teacher_forced_attention(source, target_in)  # (B, T, S), in one traced loop
    np.testing.assert_allclose(got, np.stack(expected, axis=1), atol=1e-6)


def test_greedy_search_hands_over_the_attention_the_outputs_were_chosen_with(random_bundle):
    """Carrying source words over (nmt/unk.py) reads these weights instead of feeding the outputs
    through the decoder a second time: they must be the teacher-forced ones, and the outputs the
    plain greedy ones, also when sentences finish at different steps and leave the batch."""
    models = random_bundle[1].inference
    decoder = Decoder(models)
    source = np.array([[5, 6, 7, 8, 9], [9, 5, 0, 0, 0], [7, 7, 6, 0, 0]], np.int32)
    limits = np.array([9, 2, 5], np.int32)  # different lengths: rows leave the batch at different steps
    plain = decoder.greedy(source, limits)
    ids, weights = decoder.greedy_with_attention(source, limits)
    assert np.array_equal(ids, plain)
    assert weights.shape == (3, ids.shape[1], source.shape[1])
    forced = models.teacher_forced_attention(source, np.concatenate([np.full((3, 1), BOS_ID, np.int32), ids[:, :-1]], axis=1))
    for row, out in enumerate(ids):
        length = int(np.argmax(out == EOS_ID)) + 1 if (out == EOS_ID).any() else len(out)
        np.testing.assert_allclose(weights[row, :length], forced[row, :length], atol=1e-6)
        assert np.all(weights[row, length:] == 0)  # nothing after the sentence's end


def test_a_translation_has_one_row_per_target_token_over_the_source_tokens(translator):
    a = attention_for(translator, "i like green tea .")
    assert a.source == ["i", "like", "green", "tea", "."]
    assert a.target[-1] == "</s>" and a.weights.shape == (len(a.target), len(a.source))
    np.testing.assert_allclose(a.weights.sum(1), 1.0, atol=1e-6)
    printed = translator.translate_nbest(["i like green tea ."])[0][0].tokens
    assert " ".join(a.target[:-1]) == printed  # the pictured translation is the one printed


def test_beam_search_pictures_the_beam_hypothesis(translator):
    a = attention_for(translator, "you like coffee .", beam_size=3)
    best = translator.translate_nbest(["you like coffee ."], beam_size=3)[0][0].tokens
    assert " ".join(a.target[:-1]) == best and a.weights.shape == (len(a.target), 4)


def test_forcing_a_given_target_gives_one_row_per_target_token(random_bundle):
    bundle = random_bundle[1]
    weights = bundle.inference.teacher_forced_attention(np.array([[5, 6, 7]], np.int32), np.array([[2, 4, 5, 6]], np.int32))[0]
    assert weights.shape == (4, 3)
    np.testing.assert_allclose(weights.sum(1), 1.0, atol=1e-6)


def test_html_draws_offline_with_the_tokens_and_png_is_a_picture(translator, tmp_path):
    a = attention_for(translator, "he likes green tea .")
    page = write_heatmap([a, a], tmp_path / "a.html", ["one", "two"]).read_text(encoding="utf-8")
    assert 'vegaEmbed("#attention1"' in page and "<script src=" not in page  # the libraries are inlined
    assert all(f'"{t}"' in page for t in a.target[:-1] + a.source) and '"<\\/s>"' in page  # the axis labels
    png = write_heatmap([a], tmp_path / "a.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000
    with pytest.raises(AttentionError, match="html or .png"):
        write_heatmap([a], tmp_path / "a.pdf")


def test_a_model_without_attention_says_so(tmp_path):
    _, bundle = tiny_bundle(tmp_path / "b", ModelParams(embedding_dim=8, units=8, attention="none"))
    with pytest.raises(AttentionError, match="no attention"):
        attention_for(Translator(bundle), "i like tea .")


def test_nmt_translate_writes_the_attention_page(tmp_path):
    nmt = str(Path(sys.executable).parent / "nmt")
    bundle_dir = tmp_path / "bundle"
    tiny_bundle(bundle_dir, ModelParams(embedding_dim=8, units=8))
    out = subprocess.run(
        [nmt, "translate", "--model", str(bundle_dir), "--attention", str(tmp_path / "a.html"), "i like tea ."], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("\n") == 1 and f"attention: {tmp_path / 'a.html'}" in out.stderr
    assert "vegaEmbed" in (tmp_path / "a.html").read_text(encoding="utf-8")
    refused = subprocess.run([nmt, "translate", "--attention", str(tmp_path / "b.html")], capture_output=True, text=True, input="i like tea .\n")
    assert refused.returncode == 2 and "draws the sentences given as arguments" in refused.stderr


def test_the_attention_page_draws_in_a_headless_browser(translator, tmp_path):
    from browser import ink_pixels, render

    a = attention_for(translator, "we drink water .")
    page = write_heatmap([a, a], tmp_path / "a.html")
    dom, screenshot = render(page, tmp_path, size="900,1400")
    assert len(re.findall(r'<canvas [^>]*class="marks"', dom)) == 2  # one heatmap per sentence
    cells = 2 * 120 * 24 * len(a.target)  # two heatmaps at least 120 px wide, 24 px a row
    assert ink_pixels(screenshot) > cells // 2  # drawn (a page whose scripts failed is white)
