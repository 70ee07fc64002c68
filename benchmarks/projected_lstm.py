"""A training-speed lever measured and not adopted (BENCHMARKS.md, "Training speed"): an LSTM
layer that multiplies the inputs of all time steps by the input kernel in one product before the
recurrent loop, so that the loop does only the recurrent product and the gates.

Keras 3 has no fused LSTM kernel on CPU: its layer runs a generic while loop over the cell,
which multiplies each step's input by the input kernel on its own, small product by small
product, forwards and backwards. The weights (kernel, recurrent_kernel, bias), their names and
the arithmetic are Keras's `LSTM`'s, so checkpoints and bundles load in either layer; on a GPU
the layer keeps Keras's cuDNN path. On the 2-core CPU it measured no faster than Keras's layer
(with one thread per op, the step's input product already runs beside the recurrent one on the
other core), so the model keeps `keras.layers.LSTM`; `benchmarks/bench_train.py` measures it.
"""

from __future__ import annotations

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="nmt_benchmarks")
class ProjectedLSTM(layers.LSTM):
    """`keras.layers.LSTM` with the input projection hoisted out of the loop (no dropout inside
    the cell: this project applies dropout between layers, see nmt/model.py)."""

    def __init__(self, units, **kwargs):
        super().__init__(units, **kwargs)
        if self.cell.dropout or self.cell.recurrent_dropout:
            raise ValueError("ProjectedLSTM takes no dropout or recurrent_dropout inside the cell")

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if keras.backend.backend() == "tensorflow" and _gpu_present():
            return super().inner_loop(sequences, initial_state, mask, training=training)  # cuDNN
        cell = self.cell
        inputs = ops.matmul(sequences, cell.kernel)  # (B, T, 4U): every step's input product at once

        def step(z, states):
            h, c = states
            z = ops.add(z, ops.matmul(h, cell.recurrent_kernel))
            if cell.use_bias:  # added where Keras adds it, so that the sums round alike
                z = ops.add(z, cell.bias)
            i, f, g, o = ops.split(z, 4, axis=-1)  # Keras's gate order
            c = cell.recurrent_activation(f) * c + cell.recurrent_activation(i) * cell.activation(g)
            h = cell.recurrent_activation(o) * cell.activation(c)
            return h, [h, c]

        if isinstance(mask, list | tuple):
            mask = mask[0]
        return keras.src.backend.rnn(
            step,
            inputs,
            list(initial_state),
            go_backwards=self.go_backwards,
            mask=mask,
            unroll=self.unroll,
            input_length=sequences.shape[1],
            zero_output_for_mask=self.zero_output_for_mask,
            return_all_outputs=self.return_sequences,
        )


def _gpu_present() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU"))
