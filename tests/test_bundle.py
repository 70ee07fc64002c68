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
