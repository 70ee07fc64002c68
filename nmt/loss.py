"""What the training model is compiled with: the masked (optionally label-smoothed) sparse
cross-entropy, token accuracy, and Adam with gradient clipping."""

from __future__ import annotations

import keras
import tensorflow as tf

from nmt.config import TrainParams


@keras.saving.register_keras_serializable(package="nmt")
class SmoothedCrossentropy(keras.losses.Loss):
    """Sparse cross-entropy on logits against a smoothed target: 1 - s on the reference token
    plus s spread evenly over the vocabulary (Szegedy et al. 2016); s = 0 is plain sparse
    cross-entropy, the default's loss. Integer targets, so no one-hot arrays, and int32 ones:
    Keras's own sparse cross-entropy casts them to int64, and its training step ran about 13 %
    slower for it on the 2-core CPU (BENCHMARKS.md "Training speed"). Computed in float32 as a
    log-softmax and a gather, which is what TensorFlow's deterministic mode does for
    `sparse_softmax_cross_entropy_with_logits` too (its fused kernel was slower on this CPU).

    The batch's rows are cut into `pieces` parts, each with its own log-softmax. Every row's
    arithmetic is its own, so the per-token losses are those of one piece (to the last bit or
    two: TensorFlow's kernels round a little differently for different row counts); but with one
    thread per op (`train.intra_op_threads`) one log-softmax over the whole batch keeps one core
    busy while the other waits, and independent pieces run side by side (training 1.07x,
    BENCHMARKS.md "What bounds a step now")."""

    def __init__(self, smoothing: float = 0.0, pieces: int = 8, **kwargs):
        super().__init__(**kwargs)
        self.smoothing = smoothing
        self.pieces = pieces

    def call(self, y_true, y_pred):
        n = tf.shape(y_pred)[0]
        sizes = [n // self.pieces] * (self.pieces - 1) + [n - n // self.pieces * (self.pieces - 1)]
        parts = zip(tf.split(y_true, sizes), tf.split(y_pred, sizes))
        return tf.concat([self._per_token(t, p) for t, p in parts], axis=0)

    def _per_token(self, y_true, y_pred):
        log_probs = tf.nn.log_softmax(tf.cast(y_pred, "float32"))
        nll = -tf.gather(log_probs, tf.cast(y_true, "int32"), batch_dims=len(log_probs.shape) - 1)
        if not self.smoothing:
            return nll
        return (1.0 - self.smoothing) * nll - self.smoothing * tf.reduce_mean(log_probs, axis=-1)

    def get_config(self):
        return {**super().get_config(), "smoothing": self.smoothing, "pieces": self.pieces}


def compile_model(model: keras.Model, t: TrainParams) -> None:
    # Integer targets and a sparse loss: no one-hot arrays. The weights that come with each
    # batch are 0 on padding, and "mean_with_sample_weight" divides by the real token count.
    # With label smoothing the loss is the smoothed one, and "nll" keeps the plain cross-entropy
    # so that dev figures stay comparable with runs without it.
    metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    loss = SmoothedCrossentropy(t.label_smoothing, reduction="mean_with_sample_weight")
    if t.label_smoothing:
        metrics.append(keras.metrics.SparseCategoricalCrossentropy(name="nll", from_logits=True))
    model.compile(optimizer=keras.optimizers.Adam(t.learning_rate, clipnorm=t.clipnorm), loss=loss, weighted_metrics=metrics)
