"""train.precision=bfloat16 trains in bfloat16 while leaving the process, and the exported
bundle, in float32; and the training-speed lever that benchmarks/bench_train.py measures,
benchmarks/projected_lstm.py, computes what Keras's LSTM computes (so its figure compares the
same model)."""

import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from projected_lstm import ProjectedLSTM  # noqa: E402


def _pair(go_backwards: bool):
    keras.utils.set_random_seed(3)
    ours = ProjectedLSTM(16, return_sequences=True, return_state=True, go_backwards=go_backwards)
    theirs = keras.layers.LSTM(16, return_sequences=True, return_state=True, go_backwards=go_backwards)
    ours.build((None, None, 8))
    theirs.build((None, None, 8))
    ours.set_weights(theirs.get_weights())
    return ours, theirs


@pytest.mark.parametrize("go_backwards", [False, True])
def test_the_same_outputs_states_and_gradients_as_keras_lstm_with_padding(go_backwards):
    ours, theirs = _pair(go_backwards)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(5, 7, 8)).astype("float32"))
    mask = np.ones((5, 7), bool)
    mask[1, 4:] = mask[3, 2:] = False  # padded sentences: states must stop at their end
    mask = tf.constant(mask)
    h0 = [tf.constant(rng.normal(size=(5, 16)).astype("float32")) for _ in range(2)]
    with tf.GradientTape(persistent=True) as tape:
        a = ours(x, mask=mask, initial_state=h0)
        b = theirs(x, mask=mask, initial_state=h0)
        loss_a, loss_b = (tf.reduce_sum(o[0] ** 2) + tf.reduce_sum(o[2]) for o in (a, b))
    for got, want in zip(a, b):
        np.testing.assert_array_equal(got.numpy(), want.numpy())  # bit for bit
    for got, want in zip(tape.gradient(loss_a, ours.trainable_weights), tape.gradient(loss_b, theirs.trainable_weights)):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-5)  # sums in another order


def test_weights_have_keras_lstm_names_so_older_checkpoints_load(tmp_path):
    ours, theirs = _pair(False)
    assert [w.path.split("/", 1)[1] for w in ours.weights] == [w.path.split("/", 1)[1] for w in theirs.weights]
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(ours))
    assert type(restored) is ProjectedLSTM


def test_cell_dropout_is_refused():
    with pytest.raises(ValueError, match="no dropout"):
        ProjectedLSTM(4, dropout=0.1)


def test_bfloat16_training_leaves_the_process_in_float32_and_computes_in_bfloat16():
    from nmt.config import ModelParams
    from nmt.model import build_seq2seq
    from nmt.runtime import precision

    with precision("bfloat16"):
        seq = build_seq2seq(ModelParams(embedding_dim=8, units=16), 20, 20)
    assert keras.mixed_precision.global_policy().name == "float32"
    logits = seq.training([np.ones((2, 3), "int32"), np.ones((2, 4), "int32")])
    assert logits.dtype == "bfloat16"
    assert {w.dtype for w in seq.training.weights} == {"float32"}  # the weights stay float32


def test_bucket_edge_padding_of_the_xla_lever_leaves_the_loss_and_gradients_unchanged():
    """benchmarks/bench_train.py's *_edges / *_xla variants pad batches up to fixed edges; their
    speed compares with the others only if the padding changes nothing the model learns from."""
    from bench_train import pad_to_edges

    from nmt.config import ModelParams, TrainParams
    from nmt.data import ParallelIds, teacher_forcing_batch
    from nmt.loss import compile_model
    from nmt.model import build_seq2seq

    rng = np.random.default_rng(1)
    data = ParallelIds([rng.integers(4, 20, n).astype("int32") for n in (3, 9, 5)], [rng.integers(4, 20, n).astype("int32") for n in (6, 2, 10)])
    plain = teacher_forcing_batch(data, np.arange(3))
    padded = pad_to_edges(plain)
    assert padded[0][0].shape == (3, 12) and padded[1].shape == (3, 12) and plain[1].shape == (3, 11)
    seq = build_seq2seq(ModelParams(embedding_dim=8, units=16), 20, 20, seed=0)
    compile_model(seq.training, TrainParams())
    results = []
    for inputs, targets, weights in (plain, padded):
        with tf.GradientTape() as tape:
            logits = seq.training([tf.constant(x) for x in inputs], training=False)
            loss = seq.training.loss(targets, logits, sample_weight=weights)
        results.append((loss, tape.gradient(loss, seq.training.trainable_weights)))
    (loss_a, grads_a), (loss_b, grads_b) = results
    np.testing.assert_allclose(loss_b.numpy(), loss_a.numpy(), rtol=1e-6)
    for a, b in zip(grads_a, grads_b):
        np.testing.assert_allclose(tf.convert_to_tensor(b).numpy(), tf.convert_to_tensor(a).numpy(), rtol=1e-5, atol=1e-6)
