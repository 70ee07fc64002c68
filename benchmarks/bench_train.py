"""Training throughput of the levers of issue 16, side by side in one run.

    python benchmarks/bench_train.py                        # every variant, 3 rounds, alternating
    python benchmarks/bench_train.py --variants keras,projected --rounds 5
    python benchmarks/bench_train.py --data /path/to/a/repro   # a checkout where `dvc repro` ran

Each variant is the default model (params.yaml) on the default run's training split and
vocabularies (data/split, data/vocab of --data), trained with the pipeline's own code
(nmt.model, nmt.loss, nmt.data, one thread per op) for --sentences sentences after a warm-up
of the same length (the warm-up includes tracing). Every measurement runs in a child process of
its own; the variants alternate (A B C A B C ...) so that a noisy machine hurts them alike; the
table gives medians of target tokens (with `</s>`) per second, and peak resident memory.

Variants:
- keras: Keras's own `LSTM` layer, the model's (a while loop over the cell; the input product inside it).
- projected: `benchmarks/projected_lstm.py` (the input products of all steps before the loop).
- *_b128 / *_b256: batch size 128 / 256 (the learning rate scaling is a training choice,
  not a speed one: see BENCHMARKS.md for its effect on dev loss).
- *_bf16: Keras's mixed_bfloat16 policy (bfloat16 products, float32 weights).
- *_edges: every batch padded up to fixed bucket edges (EDGES) instead of its own longest
  sentence, so that only a few shapes occur; the padding has zero weight, so the loss is the same.
- *_xla: the training step compiled by XLA (`jit_compile`), with bucket edges. Before the timed
  batches, one batch of every (source edge, target edge) shape they contain is trained, so that
  no XLA compilation falls in the timed part.
- *_kerasloss: compiled with Keras's own `SparseCategoricalCrossentropy`, the loss before
  nmt.loss took int32 targets (Keras casts them to int64); the same weights, trained slower.
- *_fusedadam: Keras's Adam with its update replaced by TensorFlow's fused `ResourceApplyAdam`
  kernel on the same slot variables (clipnorm as before); not the same weights bit for bit.
- *_loss1 / _loss2 / _loss4: nmt.loss over the batch's rows in 1 (the loss before the pieces), 2
  or 4 pieces instead of the default's 8 (the per-token losses of one piece, to rounding; the
  pieces are independent ops that the two inter-op threads run side by side). Results files
  before the default took its pieces (commit 63d4f06, 2026-11-30 22:27 UTC) call the 8-piece variant
  `_loss8`.
- *_proj8: the output projection too applied to the batch's rows in 8 pieces (`project_in_pieces`;
  `keras_bf16_loss8_proj8` in results files before 63d4f06).
Results go to benchmarks/results/train_speed/ as JSON, one file per run of this script.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks/results/train_speed"
VARIANTS = {
    "keras": dict(layer="keras", batch=64, policy="float32"),
    "projected": dict(layer="projected", batch=64, policy="float32"),
    "keras_b128": dict(layer="keras", batch=128, policy="float32"),
    "projected_b128": dict(layer="projected", batch=128, policy="float32"),
    "projected_b256": dict(layer="projected", batch=256, policy="float32"),
    "projected_bf16": dict(layer="projected", batch=64, policy="mixed_bfloat16"),
    "keras_bf16": dict(layer="keras", batch=64, policy="mixed_bfloat16"),
    "keras_bf16_b128": dict(layer="keras", batch=128, policy="mixed_bfloat16"),
    "keras_bf16_b256": dict(layer="keras", batch=256, policy="mixed_bfloat16"),
    "projected_bf16_b128": dict(layer="projected", batch=128, policy="mixed_bfloat16"),
    "keras_edges": dict(layer="keras", batch=64, policy="float32", edges=True),
    "keras_xla": dict(layer="keras", batch=64, policy="float32", edges=True, xla=True),
    "keras_bf16_xla": dict(layer="keras", batch=64, policy="mixed_bfloat16", edges=True, xla=True),
    "keras_bf16_kerasloss": dict(layer="keras", batch=64, policy="mixed_bfloat16", loss="keras"),
    "keras_bf16_fusedadam": dict(layer="keras", batch=64, policy="mixed_bfloat16", optimizer="fused"),
    "keras_bf16_loss1": dict(layer="keras", batch=64, policy="mixed_bfloat16", loss_pieces=1),
    "keras_bf16_loss2": dict(layer="keras", batch=64, policy="mixed_bfloat16", loss_pieces=2),
    "keras_bf16_loss4": dict(layer="keras", batch=64, policy="mixed_bfloat16", loss_pieces=4),
    "keras_bf16_proj8": dict(layer="keras", batch=64, policy="mixed_bfloat16", projection_pieces=8),
}
EDGES = (8, 12, 16, 24, 32, 52)  # the split's sentences have at most max_len (50) tokens, + <s> or </s>


def edge(n: int) -> int:
    return next(e for e in EDGES if e >= n)


def pad_to_edges(batch):
    """A teacher-forcing batch with its time axes padded up to the next bucket edge (zero ids,
    zero weights: the same loss)."""
    import numpy as np

    (src, tgt_in), tgt_out, weights = batch
    ls, lt = edge(src.shape[1]), edge(tgt_in.shape[1])
    grow = lambda a, n: np.pad(a, ((0, 0), (0, n - a.shape[1])))  # noqa: E731
    return (grow(src, ls), grow(tgt_in, lt)), grow(tgt_out, lt), grow(weights, lt)


def training_flops(m, target_vocab: int, source_len: int, target_len: int) -> float:
    """Multiply-adds x 2 of one sentence pair's training step (forward x 3: the backward pass
    costs about twice the forward), real tokens only, for a one-layer unidirectional model with
    dot attention (the default): encoder and decoder LSTM, attention scores and context, the
    combining layer and the output projection."""
    e, u = m.embedding_dim, m.units
    lstm = 2 * (e + u) * 4 * u
    per_target = lstm + 2 * 2 * source_len * u + 2 * (2 * u) * u + 2 * u * target_vocab
    return 3.0 * (source_len * lstm + target_len * per_target)


def fused_adam_class():
    """Keras's Adam whose per-variable update is TensorFlow's fused ResourceApplyAdam kernel."""
    import keras
    import tensorflow as tf

    def handle(v):
        return v.handle if hasattr(v, "handle") else v.value.handle

    class FusedAdam(keras.optimizers.Adam):
        def update_step(self, gradient, variable, learning_rate):
            i = self._get_variable_index(variable)
            step = tf.cast(self.iterations + 1, variable.dtype)
            tf.raw_ops.ResourceApplyAdam(
                var=handle(variable),
                m=handle(self._momentums[i]),
                v=handle(self._velocities[i]),
                beta1_power=tf.pow(tf.cast(self.beta_1, variable.dtype), step),
                beta2_power=tf.pow(tf.cast(self.beta_2, variable.dtype), step),
                lr=tf.cast(learning_rate, variable.dtype),
                beta1=self.beta_1,
                beta2=self.beta_2,
                epsilon=self.epsilon,
                grad=tf.convert_to_tensor(gradient),
            )

    return FusedAdam


def project_in_pieces(layer, pieces: int) -> None:
    """The lever: the output projection applied to the batch's rows cut into `pieces` parts, as
    independent products side by side on the two inter-op threads (the same weights)."""
    import tensorflow as tf

    whole = layer.call

    def call(inputs, *args, **kwargs):
        n = tf.shape(inputs)[0]
        sizes = [n // pieces] * (pieces - 1) + [n - n // pieces * (pieces - 1)]
        return tf.concat([whole(part, *args, **kwargs) for part in tf.split(inputs, sizes)], axis=0)

    layer.call = call


def measure(variant: str, data: Path, sentences: int) -> dict:
    """One child process: warm up, then time `sentences` sentences of training."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np

    from nmt import model as model_module
    from nmt.artifacts import read_split_part, read_vocabularies
    from nmt.config import load_params
    from nmt.data import batch_plan, training_dataset
    from nmt.loss import SmoothedCrossentropy, compile_model
    from nmt.runtime import set_determinism, set_intra_op_threads

    v = VARIANTS[variant]
    params = load_params(ROOT / "params.yaml")
    set_intra_op_threads(params.train.intra_op_threads)
    set_determinism(params.seed)
    keras.mixed_precision.set_global_policy(v["policy"])
    if v["layer"] == "projected":  # the lever; "keras" is the model's own layer
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from projected_lstm import ProjectedLSTM

        model_module.RNN_LAYERS["lstm"] = ProjectedLSTM
    vocab = read_vocabularies(data / "data/vocab")
    train_ids = read_split_part(data / "data/split", "train", vocab)
    seq = model_module.build_seq2seq(params.model, len(vocab.source), len(vocab.target), seed=params.seed)
    model = seq.training
    if "projection_pieces" in v:
        project_in_pieces(model.get_layer("output_projection"), v["projection_pieces"])
    compile_model(model, params.train)
    if v.get("loss") == "keras" or v.get("optimizer") == "fused" or "loss_pieces" in v:
        t = params.train
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="mean_with_sample_weight") if v.get("loss") == "keras" else model.loss
        if "loss_pieces" in v:
            loss = SmoothedCrossentropy(t.label_smoothing, pieces=v["loss_pieces"], reduction="mean_with_sample_weight")
        optimizer = (fused_adam_class() if v.get("optimizer") == "fused" else keras.optimizers.Adam)(t.learning_rate, clipnorm=t.clipnorm)
        model.compile(optimizer=optimizer, loss=loss, weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])

    batch = v["batch"]
    steps = max(1, sentences // batch)
    plan = batch_plan(train_ids, batch, seed=params.seed, epoch=0)
    timed = plan[steps : 2 * steps]  # Keras's second "epoch" of `steps` batches
    tokens = sum(len(train_ids.target[i]) + 1 for idx in timed for i in idx)
    flops = sum(training_flops(params.model, len(vocab.target), len(train_ids.source[i]), len(train_ids.target[i]) + 1) for idx in timed for i in idx)
    clock = {}

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            clock[epoch] = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            clock[epoch] = time.perf_counter() - clock[epoch]

    if v.get("edges"):
        import tensorflow as tf

        from nmt.data import _SIGNATURE, teacher_forcing_batch

        if v.get("xla"):
            model.jit_compile = True
        batches = [pad_to_edges(teacher_forcing_batch(train_ids, idx)) for idx in plan[: 2 * steps]]
        shapes = {(b[0][0].shape[1], b[0][1].shape[1]): b for b in batches[steps:]}
        for b in shapes.values():  # every shape of the timed part, compiled (XLA) or traced before it
            model.train_on_batch(b[0], b[1], sample_weight=b[2])
        dataset = tf.data.Dataset.from_generator(lambda: iter(batches), output_signature=_SIGNATURE)  # the pipeline's own
    else:
        dataset = training_dataset(train_ids, batch, seed=params.seed, first_epoch=0)
    model.fit(dataset, epochs=2, steps_per_epoch=steps, callbacks=[Clock()], shuffle=False, verbose=0)
    seconds = clock[1]
    del np
    return {
        "variant": variant,
        **v,
        "sentences": steps * batch,
        "target_tokens": tokens,
        "seconds": round(seconds, 3),
        "target_tokens_per_second": round(tokens / seconds),
        "gflop_per_second": round(flops / seconds / 1e9, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated, from: " + ", ".join(VARIANTS))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sentences", type=int, default=12_800, help="sentences timed per measurement (after as many of warm-up)")
    ap.add_argument("--data", type=Path, default=ROOT, help="a checkout where the default `dvc repro` has run")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.data, args.sentences)))
        return
    variants = args.variants.split(",")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        sys.exit(f"bench_train: unknown variant(s) {unknown}; choose from {list(VARIANTS)}")
    if not (args.data / "data/split/train.src").exists():
        sys.exit(f"bench_train: {args.data}/data/split/train.src is missing: run `dvc repro` there first (or pass --data)")
    runs = []
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for r in range(args.rounds):
        for v in variants:
            cmd = [sys.executable, __file__, "--child", v, "--data", str(args.data), "--sentences", str(args.sentences)]
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
            runs.append(json.loads(out.strip().splitlines()[-1]))
            print(f"round {r + 1}: {v:16s} {runs[-1]['target_tokens_per_second']:>7,} target tokens/s  {runs[-1]['peak_rss_mib']:>5} MiB", flush=True)
    base = statistics.median(x["target_tokens_per_second"] for x in runs if x["variant"] == variants[0])
    print(f"\n| variant | layer | batch | policy | target tokens/s (median of {args.rounds}) | vs {variants[0]} | GFLOP/s | peak MiB |")
    print("|---|---|---|---|---|---|---|---|")
    table = []
    for v in variants:
        mine = [x for x in runs if x["variant"] == v]
        tps = statistics.median(x["target_tokens_per_second"] for x in mine)
        rss = max(x["peak_rss_mib"] for x in mine)
        gflops = statistics.median(x["gflop_per_second"] for x in mine)
        table.append(
            {
                "variant": v,
                **VARIANTS[v],
                "target_tokens_per_second_median": tps,
                "ratio": round(tps / base, 2),
                "gflop_per_second_median": gflops,
                "peak_rss_mib": rss,
            }
        )
        print(f"| {v} | {VARIANTS[v]['layer']} | {VARIANTS[v]['batch']} | {VARIANTS[v]['policy']} | {tps:,.0f} | {tps / base:.2f}x | {gflops:.1f} | {rss} |")
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H%M%SZ")
    record = {
        "command": " ".join(sys.argv),
        "date": stamp,
        "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "runs": runs,
        "table": table,
    }
    (RESULTS / f"{stamp}.json").write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
