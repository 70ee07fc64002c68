"""What the training model is compiled with: the masked (optionally label-smoothed) sparse
cross-entropy, token accuracy, and Adam with gradient clipping."""

from __future__ import annotations

import keras

from nmt.config import TrainParams


@keras.saving.register_keras_serializable(package="nmt")
class SmoothedCrossentropy(keras.losses.Loss):
    """Sparse cross-entropy on logits against a smoothed target: 1 - s on the reference token
    plus s spread evenly over the vocabulary (Szegedy et al. 2016). Integer targets, so no
    one-hot arrays; s = 0 is plain sparse cross-entropy."""

    def __init__(self, smoothing: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.smoothing = smoothing

    def call(self, y_true, y_pred):
        ops = keras.ops
        log_probs = ops.log_softmax(y_pred, axis=-1)
        reference = ops.expand_dims(ops.cast(y_true, "int32"), -1)
        nll = -ops.squeeze(ops.take_along_axis(log_probs, reference, axis=-1), -1)
        return (1.0 - self.smoothing) * nll - self.smoothing * ops.mean(log_probs, axis=-1)

    def get_config(self):
        return {**super().get_config(), "smoothing": self.smoothing}


def compile_model(model: keras.Model, t: TrainParams) -> None:
    # Integer targets and a sparse loss: no one-hot arrays. The weights that come with each
    # batch are 0 on padding, and "mean_with_sample_weight" divides by the real token count.
    # With label smoothing the loss is the smoothed one, and "nll" keeps the plain cross-entropy
    # so that dev figures stay comparable with runs without it.
    metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    if t.label_smoothing:
        loss = SmoothedCrossentropy(t.label_smoothing, reduction="mean_with_sample_weight")
        metrics.append(keras.metrics.SparseCategoricalCrossentropy(name="nll", from_logits=True))
    else:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="mean_with_sample_weight")
    model.compile(optimizer=keras.optimizers.Adam(t.learning_rate, clipnorm=t.clipnorm), loss=loss, weighted_metrics=metrics)
