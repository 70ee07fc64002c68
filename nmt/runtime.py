"""How TensorFlow runs in a training process: reproducibly, on the thread count params ask for."""

from __future__ import annotations

import contextlib

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


@contextlib.contextmanager
def precision(name: str):
    """train.precision while building and training: "bfloat16" builds the layers with Keras's
    mixed_bfloat16 policy (products in bfloat16; weights, loss and optimizer in float32),
    "float32" with float32 throughout. The process's previous policy is restored on exit (a
    built model keeps its own); the exported bundle is rebuilt in float32 (stages/export.py)."""
    before = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_bfloat16" if name == "bfloat16" else "float32")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(before)
