"""How TensorFlow runs in a training process: reproducibly, on the thread count params ask for."""

from __future__ import annotations

import keras
import tensorflow as tf

from nmt.errors import UserError


def set_determinism(seed: int) -> None:
    """Same code, params and seed -> same weights on CPU."""
    keras.utils.set_random_seed(seed)  # Python, NumPy and TensorFlow generators
    tf.config.experimental.enable_op_determinism()


class ThreadsError(UserError, RuntimeError):
    """The thread count asked for cannot be applied: TensorFlow has started with another one."""


def set_intra_op_threads(n: int) -> None:
    """Threads per TensorFlow op (0: TensorFlow's choice). Must run before TensorFlow starts;
    in a process where it has started already, only the same setting is accepted, so that a
    run never trains with a thread count other than the one its params record."""
    if n == 0 or tf.config.threading.get_intra_op_parallelism_threads() == n:
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(n)
    except RuntimeError:
        raise ThreadsError(
            f"train.intra_op_threads={n}, but TensorFlow has started in this process with "
            f"{tf.config.threading.get_intra_op_parallelism_threads() or 'its own choice of'} threads; "
            "run the training in a fresh process (python stages/train.py)"
        ) from None
