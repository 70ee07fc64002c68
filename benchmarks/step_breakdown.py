"""Where the default model's training step and decoding step spend their time (issue 16).

    python benchmarks/step_breakdown.py [--data .] [--bundle models/bundle] [--batches 200]
        [--out benchmarks/results/step_breakdown/<UTC time>.json]

Reads a finished default run (`--data`: its params.yaml, data/split, data/vocab; `--bundle`: its
exported bundle), builds the training model as the train stage does (params' precision, one
intra-op thread, compiled by nmt.loss) and times, in one process, median of 5 timings each:
- one training step (`model.train_step`, traced for any shape as `fit` traces it) on the
  epoch-0 batch of median target length, and its parts: forward and loss; forward, loss and
  gradients; the optimizer's update alone (Keras's Adam with clipnorm), and the same update by
  TensorFlow's fused `ResourceApplyAdam` kernel after `clip_by_global_norm`, as a lever; one
  LSTM layer of the model's size over that batch's target length, forward and backward, with
  Keras's while loop and unrolled (a lever: it needs static lengths, i.e. fixed bucket edges);
  the model's output projection and loss alone, forward and backward (the part of the step no
  faster recurrent kernel would shorten);
- the same step over the first `--batches` batches of epoch 0 held in memory (a Python loop),
  and through `model.fit` on the pipeline's own dataset (`nmt.data.training_dataset`), per batch;
- decoding (the bundle, float32, TensorFlow's default threads as `nmt translate` runs): one
  decoder step at a batch of 64 and, inside it, the output projection with its log-softmax; and
  the test split (corpus tokens) through `Translator.translate_nbest`, greedy and beam 5, with
  source words carried over for `<unk>` (the default) and without (`show_unk`).
FLOP figures count multiply-adds x 2 of the products only (training: forward x 3, as
benchmarks/bench_train.py counts them).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(fn, repeats: int = 20) -> float:
    """Milliseconds a call: median of 5 timings of `repeats` calls, after two warm-up calls."""
    fn()
    fn()
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        runs.append((time.perf_counter() - start) / repeats * 1e3)
    return round(statistics.median(runs), 2)


def training(data: Path, batches: int) -> dict:
    import keras
    import tensorflow as tf

    from nmt.artifacts import read_split_part, read_vocabularies
    from nmt.config import load_params
    from nmt.data import batch_plan, teacher_forcing_batch, training_dataset
    from nmt.loss import compile_model
    from nmt.model import build_seq2seq
    from nmt.runtime import set_determinism, set_intra_op_threads

    params = load_params(data / "params.yaml")
    set_intra_op_threads(params.train.intra_op_threads)
    set_determinism(params.seed)
    keras.mixed_precision.set_global_policy("mixed_bfloat16" if params.train.precision == "bfloat16" else "float32")
    vocab = read_vocabularies(data / "data/vocab")
    ids = read_split_part(data / "data/split", "train", vocab)
    model = build_seq2seq(params.model, len(vocab.source), len(vocab.target), seed=params.seed).training
    compile_model(model, params.train)
    model.optimizer.build(model.trainable_variables)
    b = params.train.batch_size
    plan = batch_plan(ids, b, seed=params.seed, epoch=0)[:batches]
    held = [teacher_forcing_batch(ids, idx) for idx in plan]

    def as_tensors(batch):
        (src, tgt_in), tgt_out, weights = batch
        return (tf.constant(src), tf.constant(tgt_in)), tf.constant(tgt_out), tf.constant(weights, tf.float32)

    held = [as_tensors(x) for x in held]
    median_batch = sorted(held, key=lambda x: x[1].shape[1])[len(held) // 2]
    x, y, w = median_batch
    tokens = int(w.numpy().sum())
    any_shape = [
        (
            (tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None, None], tf.int32)),
            tf.TensorSpec([None, None], tf.int32),
            tf.TensorSpec([None, None], tf.float32),
        )
    ]
    step = tf.function(model.train_step, input_signature=any_shape)

    @tf.function
    def forward():
        return model.loss(y, model(x, training=True), sample_weight=w)

    @tf.function
    def gradients():
        with tf.GradientTape() as tape:
            loss = model.loss(y, model(x, training=True), sample_weight=w)
        return tape.gradient(loss, model.trainable_variables)

    grads = [tf.convert_to_tensor(g) for g in gradients()]
    variables = model.trainable_variables
    keras_update = tf.function(lambda: model.optimizer.apply(grads, variables))
    moments = [(tf.Variable(tf.zeros(v.shape)), tf.Variable(tf.zeros(v.shape))) for v in variables]
    t = params.train

    @tf.function
    def fused_update():
        clipped, _ = tf.clip_by_global_norm(grads, t.clipnorm) if t.clipnorm else (grads, None)
        for v, (m, s), g in zip(variables, moments, clipped):
            tf.raw_ops.ResourceApplyAdam(
                var=v.value.handle, m=m.handle, v=s.handle, beta1_power=0.9, beta2_power=0.999, lr=t.learning_rate, beta1=0.9, beta2=0.999, epsilon=1e-7, grad=g
            )

    def lstm_layer(unroll: bool, steps: int):
        """One LSTM layer of the model's size, forward and backward over (batch, steps, embedding)."""
        layer = keras.layers.LSTM(params.model.units, return_sequences=True, return_state=True, unroll=unroll)
        inputs = tf.random.normal([x[0].shape[0], steps, params.model.embedding_dim])

        @tf.function
        def run():
            with tf.GradientTape() as tape:
                tape.watch(inputs)
                out, h, c = layer(inputs)
                loss = tf.reduce_sum(tf.cast(out, tf.float32) ** 2)
            return tape.gradient(loss, [*layer.trainable_variables, inputs])

        return timed(run)

    def output_and_loss():
        """The model's own output projection (units -> vocabulary) and loss over the batch's target
        positions, forward and backward: what no recurrent kernel, however fast, would take off."""
        layer = model.get_layer("output_projection")
        inputs = tf.random.normal([*y.shape, layer.kernel.shape[0]])

        @tf.function
        def run():
            with tf.GradientTape() as tape:
                tape.watch(inputs)
                loss = model.loss(y, layer(inputs), sample_weight=w)
            return tape.gradient(loss, [*layer.trainable_variables, inputs])

        return timed(run)

    parts = {
        "median batch (source x target tokens)": f"{x[0].shape[0]} x {x[0].shape[1]} / {x[1].shape[1]}",
        "median batch: real target tokens": tokens,
        "train_step, median batch (ms)": timed(lambda: step((x, y, w))),
        "forward + loss (ms)": timed(forward),
        "forward + loss + gradients (ms)": timed(gradients),
        "optimizer update, Keras Adam + clipnorm (ms)": timed(keras_update),
        "optimizer update, fused ResourceApplyAdam + clip_by_global_norm (ms)": timed(fused_update),
        "one LSTM layer over the batch's target length, forward + backward, Keras's loop (ms)": lstm_layer(False, x[1].shape[1]),
        "the same, unrolled (ms)": lstm_layer(True, x[1].shape[1]),
        "output projection and loss over the batch's target positions, forward + backward (ms)": output_and_loss(),
    }
    for batch in held:  # every shape seen once before timing
        step(batch)
    loop = []
    for _ in range(3):
        start = time.perf_counter()
        for batch in held:
            step(batch)
        loop.append((time.perf_counter() - start) / len(held) * 1e3)
    real_tokens = sum(float(batch[2].numpy().sum()) for batch in held) / len(held)
    parts[f"train_step over the first {len(held)} batches in memory (ms a batch)"] = round(statistics.median(loop), 2)
    parts[f"the first {len(held)} batches: mean real target tokens"] = round(real_tokens, 1)

    seconds = []

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.start)

    dataset = training_dataset(ids, b, seed=params.seed, first_epoch=0)
    model.fit(dataset, epochs=3, steps_per_epoch=len(held), verbose=0, callbacks=[Clock()], shuffle=False)
    fit_ms = round(statistics.median(seconds[1:]) / len(held) * 1e3, 2)
    parts[f"model.fit on the pipeline, {len(held)} batches an epoch (ms a batch, median of epochs 2-3)"] = fit_ms
    parts["target tokens/s at that rate"] = round(real_tokens / fit_ms * 1e3)
    return parts


def decoding(bundle: Path, test: Path) -> dict:
    import numpy as np
    import tensorflow as tf

    from nmt.bundle import load_bundle
    from nmt.translate import Translator

    inference = load_bundle(bundle).inference
    source = np.random.RandomState(0).randint(4, 500, size=(64, 12)).astype(np.int32)
    memory, states = inference.encode(tf.constant(source))
    tokens = tf.fill([64, 1], 5)

    @tf.function
    def one_step():
        log_probs, new_states = inference.step(tokens, states, memory)
        return tf.reduce_sum(log_probs[:, :1]) + tf.reduce_sum(new_states[0][:, :1])

    projection = inference.decoder_step.get_layer("output_projection")
    hidden = tf.random.normal([64, projection.kernel.shape[0]])

    @tf.function
    def project(log_softmax: bool):
        logits = tf.matmul(hidden, projection.kernel) + projection.bias
        return tf.reduce_sum((tf.nn.log_softmax(logits) if log_softmax else logits)[:, :1])

    units, vocab = projection.kernel.shape
    result = {
        "decoder step at batch 64 (ms)": timed(one_step, 50),
        "its output projection with log-softmax (ms)": timed(lambda: project(True), 50),
        "its output projection alone (ms)": timed(lambda: project(False), 50),
        "output projection GFLOP a step": round(2 * 64 * units * vocab / 1e9, 3),
    }
    translator = Translator(bundle)
    lines = test.read_text(encoding="utf-8").splitlines()
    for beam in (1, 5):
        for show_unk, what in ((False, "source words carried over (the default)"), (True, "show_unk, no carrying over")):
            translator.translate_nbest(lines[:64], beam_size=beam, n_best=beam, pretokenized=True, show_unk=show_unk)  # warm-up
            runs = []
            for _ in range(3):
                start = time.perf_counter()
                translator.translate_nbest(lines, beam_size=beam, n_best=beam, pretokenized=True, show_unk=show_unk)
                runs.append(time.perf_counter() - start)
            result[f"{'greedy' if beam == 1 else 'beam 5'}, {len(lines)} test sentences, {what} (sentences/s, fastest of 3)"] = round(len(lines) / min(runs))
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT, help="a finished default run: params.yaml, data/split, data/vocab")
    ap.add_argument("--bundle", type=Path, help="its exported bundle (default: DATA/models/bundle)")
    ap.add_argument("--batches", type=int, default=200)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--part", choices=("training", "decoding"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.part:  # a child: thread settings are per process
        result = (
            training(args.data, args.batches)
            if args.part == "training"
            else decoding(args.bundle or args.data / "models/bundle", args.data / "data/split/test.src")
        )
        print(json.dumps(result))
        return
    import subprocess

    result = {}
    for part in ("training", "decoding"):
        cmd = [sys.executable, __file__, "--part", part, "--data", str(args.data), "--batches", str(args.batches)]
        if args.bundle:
            cmd += ["--bundle", str(args.bundle)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode:
            raise SystemExit(f"step_breakdown: the {part} child failed\n{proc.stderr[-3000:]}")
        result[part] = json.loads(proc.stdout.strip().splitlines()[-1])
    for part, figures in result.items():
        print(f"\n| {part} | |\n|---|---|")
        for key, value in figures.items():
            print(f"| {key} | {value:,} |" if isinstance(value, (int, float)) else f"| {key} | {value} |")
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")
    out = args.out or ROOT / "benchmarks/results/step_breakdown" / f"{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"command": " ".join(sys.argv), "utc": stamp, "load_average": os.getloadavg(), **result}, indent=1) + "\n")
    print(f"-> {out}")


if __name__ == "__main__":
    main()
