"""`train.strategy`: training on one device, on all local GPUs, or on several machines.

- default: one device (the CPU, or the first GPU).
- mirrored: `tf.distribute.MirroredStrategy`, every local GPU holding a replica.
- multi_worker: `tf.distribute.MultiWorkerMirroredStrategy`, one process per machine, the cluster
  given by the `TF_CONFIG` environment variable. Each worker trains on its own rows of every
  global batch (`train.batch_size` stays the global batch), gradients are summed across workers,
  and only the chief (worker 0, or the task named "chief") writes checkpoints, curves and the model.

Keras 3.15 cannot `fit` under MultiWorkerMirroredStrategy as it comes (keras-team/keras#20585):
it all-reduces the first input batch to build the model, and reduces the per-step logs (scalars)
along an axis they do not have. `patch_keras_for_multi_worker` replaces those two steps; the model
is built from a local batch instead (`build_for_fit`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import keras
import tensorflow as tf

from nmt.errors import UserError

PATCHED_KERAS = "3.15.1"  # the Keras whose internals the multi-worker patch replaces


class StrategyError(UserError, RuntimeError):
    """A strategy that cannot start here; the message says what it needs."""


@dataclass(frozen=True)
class Role:
    index: int  # this worker's place among the workers (0 = the chief)
    count: int  # workers in the cluster

    @property
    def chief(self) -> bool:
        return self.index == 0


def make_strategy(name: str) -> tuple[tf.distribute.Strategy, Role]:
    """The strategy and this process's role. Call it before any other TensorFlow work."""
    if name == "default":
        return tf.distribute.get_strategy(), Role(0, 1)
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(), Role(0, 1)
    if not os.environ.get("TF_CONFIG"):
        raise StrategyError("train.strategy=multi_worker needs TF_CONFIG describing the cluster and this task (see README: Training on several machines)")
    try:
        config = json.loads(os.environ["TF_CONFIG"])
        cluster, task = config.get("cluster", {}), config.get("task", {})
        names = [("chief", i) for i in range(len(cluster.get("chief", [])))] + [("worker", i) for i in range(len(cluster.get("worker", [])))]
        index = names.index((task.get("type"), int(task.get("index", 0))))
    except (ValueError, TypeError, AttributeError) as e:  # bad JSON, or a task that is not in the cluster
        raise StrategyError(f"TF_CONFIG does not describe a cluster holding this task ({e}): {os.environ['TF_CONFIG']}") from None
    patch_keras_for_multi_worker()
    return tf.distribute.MultiWorkerMirroredStrategy(), Role(index, len(names))


def build_for_fit(model: keras.Model, strategy: tf.distribute.Strategy, dataset: tf.data.Dataset) -> None:
    """Multi-worker: build the model's loss, metrics and optimizer from the first local batch of
    `dataset`, and keep `fit` from doing it with an all-reduce (keras#20585). Otherwise nothing."""
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        with strategy.scope():
            model._symbolic_build(data_batch=next(iter(dataset)))
        model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None


def patch_keras_for_multi_worker() -> None:
    from keras.src.backend.tensorflow import trainer

    if keras.__version__ != PATCHED_KERAS:
        raise StrategyError(f"train.strategy=multi_worker patches Keras {PATCHED_KERAS} (keras-team/keras#20585); this is Keras {keras.__version__}")
    if getattr(trainer.reduce_per_replica, "_nmt_patched", False):
        return
    original = trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        if trainer._collective_all_reduce_multi_worker(strategy) and reduction in ("auto", "mean"):
            return tf.nest.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)
        return original(values, strategy, reduction)

    reduce_per_replica._nmt_patched = True
    trainer.reduce_per_replica = reduce_per_replica


def weights_digest(model: keras.Model) -> str:
    """A short fingerprint of all the weights: workers in step print the same one."""
    import hashlib

    import numpy as np

    h = hashlib.sha256()
    for w in model.get_weights():
        h.update(np.ascontiguousarray(w).tobytes())
    return h.hexdigest()[:16]
