import numpy as np
import pytest
from conftest import tiny_bundle

from nmt.bundle import BundleError, load_bundle, verify_bundle
from nmt.config import ModelParams
from nmt.data import ParallelIds


def dev_like(n=10, seed=0):
    rng = np.random.default_rng(seed)
    return ParallelIds(
        [rng.integers(4, 15, rng.integers(1, 7)).astype(np.int32) for _ in range(n)],
        [rng.integers(4, 20, rng.integers(1, 8)).astype(np.int32) for _ in range(n)],
    )


def test_a_reloaded_bundle_reproduces_the_training_model(random_bundle):
    seq, bundle = random_bundle
    result = verify_bundle(seq.training, bundle, dev_like(), sentences=10, batch_size=4, tolerance=1e-5)
    assert result["sentences"] == 10 and result["max_abs_prob_diff"] <= 1e-5


def test_a_bundle_that_does_not_match_fails_its_proof(tmp_path):
    seq, bundle = tiny_bundle(tmp_path / "a", ModelParams(embedding_dim=8, units=16), seed=0)
    layer = bundle.decoder_step.get_layer("output_projection")
    kernel, bias = layer.get_weights()
    layer.set_weights([kernel * 1.5, bias])
    with pytest.raises(BundleError, match="does not reproduce the training model"):
        verify_bundle(seq.training, bundle, dev_like(), sentences=10, batch_size=4, tolerance=1e-5)


def test_a_missing_bundle_names_the_stage_that_makes_it(tmp_path):
    with pytest.raises(BundleError, match=r"does not exist; the `export` stage makes it: run `dvc repro export`"):
        load_bundle(tmp_path / "nowhere")


def test_an_incomplete_bundle_names_what_is_missing(tmp_path):
    tiny_bundle(tmp_path / "b", ModelParams(embedding_dim=8, units=16, attention="none"))
    (tmp_path / "b" / "decoder_step.keras").unlink()
    with pytest.raises(BundleError, match=r"is incomplete: decoder_step.keras missing.*dvc repro export"):
        load_bundle(tmp_path / "b")


def test_a_subword_bundle_carries_its_sentencepiece_models(tmp_path):
    from conftest import TINY_SOURCE, TINY_TARGET

    from nmt.bundle import save_bundle
    from nmt.model import build_seq2seq
    from nmt.text import TextPipeline, train_subword_model
    from nmt.translate import Translator
    from nmt.vocab import build_vocab

    pipes = {}
    for side, lang, lines in (("source", "en", TINY_SOURCE), ("target", "ja", TINY_TARGET)):
        model = train_subword_model(lines * 10, tmp_path / f"{side}.model", vocab_size=30, lang=lang, seed=0)
        pipes[side] = TextPipeline(lang, "subword", subword_model=str(model))
    src_vocab = build_vocab(pipes["source"].tokens(s) for s in TINY_SOURCE)
    tgt_vocab = build_vocab(pipes["target"].tokens(s) for s in TINY_TARGET)
    params = ModelParams(embedding_dim=8, units=16)
    seq = build_seq2seq(params, len(src_vocab), len(tgt_vocab))
    save_bundle(seq, pipes, src_vocab, tgt_vocab, tmp_path / "bundle", pretokenized=True)
    (tmp_path / "source.model").unlink()  # the bundle must not need the vocab folder's copies
    (tmp_path / "target.model").unlink()
    bundle = load_bundle(tmp_path / "bundle")
    assert bundle.source_text.subword_model == str(tmp_path / "bundle" / "source.model")
    assert len(Translator(bundle).translate(["i like green tea .", ""])) == 2
    (tmp_path / "bundle" / "target.model").unlink()
    with pytest.raises(BundleError, match=r"is incomplete: target.model missing"):
        load_bundle(tmp_path / "bundle")


def test_a_bundle_config_from_another_version_is_a_one_line_bundle_error(tmp_path):
    import json

    from nmt.manifest import write_manifest

    tiny_bundle(tmp_path / "b", ModelParams(embedding_dim=8, units=16))
    config = json.loads((tmp_path / "b" / "config.json").read_text())
    config["model"]["cell"] = "transformer"
    (tmp_path / "b" / "config.json").write_text(json.dumps(config))
    write_manifest(tmp_path / "b")  # written so by another version, not damaged since
    with pytest.raises(BundleError, match=r"config.json: .*model.cell: 'transformer' is not one of") as e:
        load_bundle(tmp_path / "b")
    assert "\n" not in str(e.value)
