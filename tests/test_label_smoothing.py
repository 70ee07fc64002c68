"""train.label_smoothing: the loss against a smoothed target, computed from integer targets;
padding (weight 0) is left out and smoothing 0 is plain cross-entropy."""

import keras
import numpy as np
import pytest

from nmt.config import TrainParams
from nmt.loss import SmoothedCrossentropy, compile_model


def reference_loss(logits, targets, weights, s):
    """The textbook definition, with one-hot targets, in numpy."""
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    vocab = logits.shape[-1]
    q = (1 - s) * np.eye(vocab)[targets] + s / vocab
    per_token = -(q * logp).sum(-1)
    return (per_token * weights).sum() / weights.sum()


@pytest.mark.parametrize("s", [0.0, 0.1, 0.3])
def test_the_smoothed_loss_is_cross_entropy_against_the_smoothed_one_hot_target(s):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 5, 7)).astype("float32") * 3
    targets = rng.integers(0, 7, size=(3, 5))
    weights = (rng.random((3, 5)) > 0.3).astype("float32")  # 0 = padding
    loss = SmoothedCrossentropy(s, reduction="mean_with_sample_weight")
    got = float(loss(targets, logits, sample_weight=weights))
    assert got == pytest.approx(reference_loss(logits, targets, weights, s), rel=1e-5)
    if s == 0.0:
        plain = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="mean_with_sample_weight")
        assert got == pytest.approx(float(plain(targets, logits, sample_weight=weights)), rel=1e-5)
    # Padding positions do not count, whatever their logits.
    noisy = logits.copy()
    noisy[weights == 0] = 100.0 * rng.normal(size=noisy[weights == 0].shape)
    assert float(loss(targets, noisy, sample_weight=weights)) == pytest.approx(got, rel=1e-5)


def test_a_model_compiled_with_label_smoothing_logs_the_plain_cross_entropy_too(tmp_path):
    inputs = keras.Input((4,), dtype="int32")
    peaked = keras.initializers.RandomNormal(stddev=3.0, seed=0)  # far from uniform: smoothing changes the loss a lot
    model = keras.Model(inputs, keras.layers.Dense(6, kernel_initializer=peaked)(keras.layers.Embedding(6, 3, embeddings_initializer=peaked)(inputs)))
    compile_model(model, TrainParams(label_smoothing=0.1))
    x = np.arange(24).reshape(6, 4) % 6
    logs = model.fit(x, x, sample_weight=np.ones((6, 4)), validation_data=(x, x, np.ones((6, 4))), epochs=2, verbose=0).history
    assert set(logs) >= {"loss", "nll", "val_loss", "val_nll", "accuracy"}
    # val_nll is the plain cross-entropy and val_loss the smoothed one, of the final weights.
    logits, ones = model.predict(x, verbose=0), np.ones((6, 4), "float32")
    assert logs["val_nll"][-1] == pytest.approx(reference_loss(logits, x, ones, 0.0), rel=1e-5)
    assert logs["val_loss"][-1] == pytest.approx(reference_loss(logits, x, ones, 0.1), rel=1e-5)
    # Far apart (peaked, confidently wrong logits), so the two checks above tell them apart.
    assert abs(logs["val_loss"][-1] - logs["val_nll"][-1]) > 0.1
    model.save(tmp_path / "m.keras")  # checkpoints save the compiled model: the loss must serialise
    again = keras.models.load_model(tmp_path / "m.keras")
    assert again.loss.smoothing == 0.1


@pytest.mark.parametrize("rows", [1, 3, 8, 13, 64])
def test_the_loss_in_pieces_gives_every_token_the_loss_and_gradient_of_one_piece(rows):
    """The default cuts the batch's rows into 8 pieces for speed (nmt/loss.py); each token must
    keep its own loss and gradient, whatever the batch size (fewer rows than pieces included)."""
    import tensorflow as tf

    rng = np.random.default_rng(rows)
    logits = tf.constant(rng.normal(size=(rows, 5, 300)).astype("float32") * 3)
    targets = tf.constant(rng.integers(0, 300, size=(rows, 5)).astype("int32"))
    weights = tf.constant(rng.random((rows, 5)).astype("float32"))
    got = []
    for pieces in (1, 8):
        with tf.GradientTape() as tape:
            tape.watch(logits)
            per_token = SmoothedCrossentropy(0.1, pieces=pieces).call(targets, logits)
            total = tf.reduce_sum(per_token * weights)
        got.append((per_token.numpy(), tape.gradient(total, logits).numpy()))
    (one, grad_one), (eight, grad_eight) = got
    assert eight.shape == one.shape == (rows, 5)
    np.testing.assert_allclose(eight, one, rtol=1e-6, atol=0)  # the same, to rounding in the last bits
    np.testing.assert_allclose(grad_eight, grad_one, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_the_loss_trains_as_keras_own_sparse_cross_entropy(policy):
    """The loss takes int32 targets and cuts the batch into pieces for speed (BENCHMARKS.md); what
    the model learns must not move: in one piece, the very weights of Keras's loss; in the default's
    pieces, the same to rounding (TensorFlow rewrites the traced step a little differently)."""
    import tensorflow as tf

    from nmt.config import ModelParams
    from nmt.data import ParallelIds, teacher_forcing_batch
    from nmt.model import build_seq2seq
    from nmt.runtime import precision, set_determinism

    rng = np.random.default_rng(3)
    data = ParallelIds([rng.integers(4, 30, n).astype("int32") for n in (3, 9, 5, 7)], [rng.integers(4, 30, n).astype("int32") for n in (6, 2, 10, 4)])
    (src, tgt_in), tgt_out, weights = teacher_forcing_batch(data, np.arange(4))
    trained = {}
    for loss in ("one piece", "keras", "default"):
        set_determinism(5)
        with precision("bfloat16" if policy == "mixed_bfloat16" else "float32"):
            model = build_seq2seq(ModelParams(embedding_dim=8, units=16, dropout=0.2), 30, 30, seed=5).training
        compile_model(model, TrainParams(learning_rate=0.01))
        assert model.loss.pieces == 8
        if loss != "default":
            other = (
                SmoothedCrossentropy(0.0, pieces=1, reduction="mean_with_sample_weight")
                if loss == "one piece"
                else keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="mean_with_sample_weight")
            )
            model.compile(optimizer=model.optimizer, loss=other, weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
        history = model.fit(tf.data.Dataset.from_tensors(((src, tgt_in), tgt_out, weights)).repeat(3), epochs=1, verbose=0).history
        trained[loss] = (history["loss"], [w.numpy() for w in model.weights])
    one, kept = trained["one piece"], trained["keras"]
    assert one[0] == kept[0] and all(a.tobytes() == b.tobytes() for a, b in zip(one[1], kept[1]))
    default = trained["default"]
    assert default[0] == pytest.approx(one[0], rel=1e-6)
    for a, b in zip(default[1], one[1]):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
