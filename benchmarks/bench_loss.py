"""The training loss alone, forward and backward, computed the ways TensorFlow and Keras offer (issue 16).

    python benchmarks/bench_loss.py [--batch 64] [--steps 12] [--vocab 4908] [--out FILE]

Times, in one process with the pipeline's settings (one thread per op, TensorFlow's op
determinism on, as the train stage runs), the masked sparse cross-entropy of one batch of
bfloat16 logits (batch x steps x vocab; the default's median batch and target vocabulary) and
its gradient with respect to the logits, median of 5 timings of 20 calls after a warm-up, the
variants alternating:
- nmt: `nmt.loss.SmoothedCrossentropy` with s = 0, the pipeline's loss (int32 targets,
  log-softmax and gather, over the batch's rows in 8 pieces);
- nmt_pieces_1 / 2 / 4: the same in 1 piece (the loss before the pieces), 2 or 4;
- keras: Keras's `SparseCategoricalCrossentropy`, the loss before (targets cast to int64);
- tf_int32 / tf_int64: `tf.nn.sparse_softmax_cross_entropy_with_logits` with int32 / int64
  targets (under op determinism TensorFlow computes it as a log-softmax and a gather);
- fused_kernel: TensorFlow's fused `SparseSoftmaxCrossEntropyWithLogits` kernel, which op
  determinism otherwise avoids (deterministic on CPU).
Every variant's loss and gradient are checked against the first's (max |difference| printed).
Results files before the loss took its pieces (commit 63d4f06, 2026-11-30 22:27 UTC) call the one-piece loss `nmt`.
Writes benchmarks/results/loss/<UTC time>.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--vocab", type=int, default=4908)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np
    import tensorflow as tf
    from tensorflow.python.ops import gen_nn_ops

    from nmt.loss import SmoothedCrossentropy
    from nmt.runtime import set_determinism, set_intra_op_threads

    set_intra_op_threads(1)
    set_determinism(0)
    rng = np.random.default_rng(0)
    shape = (args.batch, args.steps)
    logits = tf.cast(tf.constant(rng.normal(size=(*shape, args.vocab)).astype("float32")), tf.bfloat16)
    targets = tf.constant(rng.integers(1, args.vocab, size=shape).astype("int32"))
    weights = tf.constant((rng.random(shape) > 0.05).astype("float32"))  # some padding

    def weighted(per_token):
        return lambda y, x, w: tf.reduce_sum(per_token(y, tf.cast(x, tf.float32)) * w) / tf.reduce_sum(w)

    def fused(y, x):
        flat, _ = gen_nn_ops.sparse_softmax_cross_entropy_with_logits(tf.reshape(x, [-1, args.vocab]), tf.reshape(y, [-1]))
        return tf.reshape(flat, tf.shape(y))

    nmt_loss = SmoothedCrossentropy(0.0, reduction="mean_with_sample_weight")
    keras_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="mean_with_sample_weight")

    def in_pieces(pieces):
        loss = SmoothedCrossentropy(0.0, pieces=pieces, reduction="mean_with_sample_weight")
        return lambda y, x, w: loss(y, x, sample_weight=w)

    variants = {
        "nmt": lambda y, x, w: nmt_loss(y, x, sample_weight=w),
        "nmt_pieces_1": in_pieces(1),
        "nmt_pieces_2": in_pieces(2),
        "nmt_pieces_4": in_pieces(4),
        "keras": lambda y, x, w: keras_loss(y, x, sample_weight=w),
        "tf_int32": weighted(lambda y, x: tf.nn.sparse_softmax_cross_entropy_with_logits(y, x)),
        "tf_int64": weighted(lambda y, x: tf.nn.sparse_softmax_cross_entropy_with_logits(tf.cast(y, tf.int64), x)),
        "fused_kernel": weighted(fused),
    }

    def with_gradient(loss):
        @tf.function
        def run(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                value = loss(targets, x, weights)
            return value, tape.gradient(value, x)

        return run

    runs = {name: with_gradient(fn) for name, fn in variants.items()}
    results = {name: run(logits) for name, run in runs.items()}  # traced, and the values to compare
    ref_loss, ref_grad = results["nmt"]
    times = {name: [] for name in runs}
    for _ in range(5):
        for name, run in runs.items():
            start = time.perf_counter()
            for _ in range(20):
                run(logits)
            times[name].append((time.perf_counter() - start) / 20 * 1e3)
    table = []
    print(
        f"| loss (batch {args.batch} x {args.steps} steps x vocabulary {args.vocab}, bfloat16 logits) | ms, forward and backward | max |Δ loss| | max |Δ gradient| |"
    )
    print("|---|---|---|---|")
    for name in runs:
        loss, grad = results[name]
        row = {
            "variant": name,
            "ms_median": round(statistics.median(times[name]), 2),
            "ms_runs": [round(t, 2) for t in times[name]],
            "max_loss_difference": float(abs(loss - ref_loss)),
            "max_gradient_difference": float(tf.reduce_max(tf.abs(tf.cast(grad, tf.float32) - tf.cast(ref_grad, tf.float32)))),
        }
        table.append(row)
        print(f"| {name} | {row['ms_median']} | {row['max_loss_difference']:.1e} | {row['max_gradient_difference']:.1e} |")
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")
    out = args.out or ROOT / f"benchmarks/results/loss/{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "command": "python benchmarks/bench_loss.py " + " ".join(f"--{k} {v}" for k, v in vars(args).items() if v is not None and k != "out"),
        "date": stamp,
        "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "table": table,
    }
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"-> {out}")


if __name__ == "__main__":
    main()
