import itertools

import keras
import numpy as np
import pytest

from nmt.config import ModelParams
from nmt.model import build_seq2seq


def teacher_forced_vs_stepwise(p: ModelParams) -> float:
    keras.utils.set_random_seed(3)
    m = build_seq2seq(p, 30, 40, seed=3)
    rng = np.random.default_rng(0)
    src = rng.integers(4, 30, (4, 7)).astype("int32")
    src[0, 5:] = 0
    src[1, 2:] = 0
    tgt = rng.integers(4, 40, (4, 6)).astype("int32")
    tgt[2, 3:] = 0
    expected = keras.ops.convert_to_numpy(keras.ops.log_softmax(m.training([src, tgt], training=False), axis=-1))
    got = m.inference.teacher_forced_log_probs(src, tgt)
    return float(np.abs(got - expected)[tgt != 0].max())


@pytest.mark.parametrize(
    "cell,attention,bidirectional,layers",
    itertools.product(["lstm", "gru"], ["none", "dot", "general", "additive"], [False, True], [1, 2]),
)
def test_inference_models_reproduce_the_training_model(cell, attention, bidirectional, layers):
    p = ModelParams(cell=cell, attention=attention, bidirectional=bidirectional, layers=layers, units=12, embedding_dim=6, dropout=0.2)
    assert teacher_forced_vs_stepwise(p) < 1e-5


def test_the_classic_word_level_model_has_the_documented_parameter_count():
    # Embedding 256 -> LSTM 1024 encoder, LSTM 1024 decoder from its states, Dense softmax;
    # vocabularies of 6,638 and 8,778 entries (the Keras word-level tutorial's figures).
    p = ModelParams(cell="lstm", embedding_dim=256, units=1024, layers=1, bidirectional=False, attention="none")
    m = build_seq2seq(p, 6638, 8778)
    counts = {layer.name: layer.count_params() for layer in m.training.layers if layer.count_params()}
    assert counts == {
        "source_embedding": 1_699_328,
        "target_embedding": 2_247_168,
        "encoder_lstm_0": 5_246_976,
        "decoder_lstm_0": 5_246_976,
        "output_projection": 8_997_450,
    }
    assert m.training.count_params() == 23_437_898


def test_the_encoder_hands_every_layer_state_to_the_decoder():
    m = build_seq2seq(ModelParams(cell="lstm", layers=3, units=8, embedding_dim=4, bidirectional=True), 10, 10)
    assert m.state_names == [f"state_{i}_{k}" for i in range(3) for k in "hc"]
    assert len(m.encoder.outputs) == 2 + 6
    assert all(o.shape[-1] == 16 for o in m.encoder.outputs[2:])  # forward and backward halves, concatenated
