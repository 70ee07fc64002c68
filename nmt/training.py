"""Training: teacher forcing with masked sparse cross-entropy, checkpoints, resume, curves.

`train()` builds the model from params, resumes from the newest matching checkpoint if
there is one, runs `model.fit` over the remaining epochs and writes the best model (by
validation loss). Per-epoch curves go to dvclive; progress goes to stdout.
"""

from __future__ import annotations

import hashlib
import json
import math
import resource
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from nmt.checkpoints import BEST_FILE, MODEL_FILE, CheckpointStore, scratch_folder, sweep_work_folders, tidy_checkpoints
from nmt.config import ModelParams, Params, TrainParams
from nmt.data import ParallelIds, batches_per_epoch, encode_lines, evaluation_dataset, training_dataset
from nmt.distribute import Role, build_for_fit, make_strategy
from nmt.errors import UserError
from nmt.fsutil import atomic_dir, read_lines, save_keras, write_json
from nmt.model import Seq2Seq, build_seq2seq
from nmt.text import TextPipeline
from nmt.vocab import Vocabulary


@dataclass(frozen=True)
class TrainPaths:
    split: Path = Path("data/split")
    vocab: Path = Path("data/vocab")
    out: Path = Path("models/train")
    checkpoints: Path = Path("models/checkpoints")
    live: Path = Path("metrics/train")
    speed: Path = Path("timings/train_speed.json")  # not a DVC metric: timings vary between runs


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


def load_text_and_vocabs(vocab_dir: Path) -> tuple[dict, TextPipeline, TextPipeline, Vocabulary, Vocabulary]:
    text = json.loads((vocab_dir / "text.json").read_text(encoding="utf-8"))
    return (
        text,
        TextPipeline.from_dict(text["source"], vocab_dir),
        TextPipeline.from_dict(text["target"], vocab_dir),
        Vocabulary.load(vocab_dir / "source.json"),
        Vocabulary.load(vocab_dir / "target.json"),
    )


def load_split(split_dir: Path, part: str, vocab_dir: Path) -> ParallelIds:
    _, src_pipe, tgt_pipe, src_vocab, tgt_vocab = load_text_and_vocabs(vocab_dir)
    return ParallelIds(
        encode_lines(read_lines(split_dir / f"{part}.src"), src_pipe, src_vocab),
        encode_lines(read_lines(split_dir / f"{part}.tgt"), tgt_pipe, tgt_vocab),
    )


def build_from_vocabs(model: ModelParams, vocab_dir: Path, seed: int) -> Seq2Seq:
    _, _, _, src_vocab, tgt_vocab = load_text_and_vocabs(vocab_dir)
    return build_seq2seq(model, len(src_vocab), len(tgt_vocab), seed=seed)


# Params that cannot change the weights of a given epoch: `epochs` (so that `-S epochs=50`
# continues a 20-epoch run), when checkpoints are written and how many are kept, which weights
# are chosen after training, and how the machine runs it. Changing them resumes the run.
NOT_IN_FINGERPRINT = {"epochs": None, "eval": None, "data": None, "vocab": None,
                      "train": ("save_every", "keep_last", "keep_runs", "average_last", "intra_op_threads")}


def run_fingerprint(params: Params, paths: TrainPaths) -> str:
    """What a checkpoint must match to be resumed: every param that can change the weights of
    an epoch, and the training data itself. `data` and `vocab` are covered by the digests of
    the files they make (the split, the vocabularies, the subword models): a param that leaves
    those unchanged (e.g. a new mirror URL) cannot change the weights either."""
    h = hashlib.sha256()
    shaping = params.to_dict()
    for section, keys in NOT_IN_FINGERPRINT.items():
        if keys is None:
            del shaping[section]
        else:
            for key in keys:
                del shaping[section][key]
    h.update(json.dumps(shaping, sort_keys=True).encode())
    files = [*paths.split.glob("*.src"), *paths.split.glob("*.tgt"), *paths.vocab.glob("*.json"), *paths.vocab.glob("*.model")]
    for f in sorted(files):
        h.update(f.name.encode() + hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()[:16]


class EpochEnd(keras.callbacks.Callback):
    """After each epoch: progress line, curves, best weights, and a checkpoint when due."""

    def __init__(self, *, params: Params, store: CheckpointStore, best_path: Path, state: dict, live, steps: int, tokens: int, role: Role, dev_bleu=None):
        super().__init__()
        self.p, self.store, self.best_path, self.state, self.live = params, store, best_path, state, live
        self.role, self.dev_bleu = role, dev_bleu
        self.steps, self.tokens = steps, tokens
        self.epoch_seconds: list[float] = []
        self.dev_bleu_seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self.t0 = self.last_report = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if not math.isfinite(logs["loss"]):
            raise NonFiniteLossError(non_finite_message(self.p, f"the training loss is {logs['loss']} at epoch {self.epoch + 1}, batch {batch + 1}"))
        now = time.perf_counter()
        if now - self.last_report >= 30:  # a heartbeat on long epochs; logs stay short
            self.last_report = now
            rate = self.tokens * (batch + 1) / self.steps / (now - self.t0)
            print(f"  epoch {self.epoch + 1}: batch {batch + 1}/{self.steps}, loss {logs['loss']:.3f}, {rate:,.0f} target tokens/s", flush=True)

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self.t0
        self.epoch_seconds.append(seconds)
        n = epoch + 1
        metrics = {k: float(v) for k, v in sorted(logs.items())}
        if bad := [k for k, v in metrics.items() if not math.isfinite(v)]:
            raise NonFiniteLossError(non_finite_message(self.p, f"{', '.join(bad)} is not finite at the end of epoch {n}"))
        if self.dev_bleu is not None:  # after the epoch's timing: it is not training time
            metrics["val_bleu"], bleu_seconds = self.dev_bleu()
            self.dev_bleu_seconds.append(bleu_seconds)
        self.state["history"].append(metrics)
        best = self.state["best"]
        if best is None or metrics["val_loss"] < best["val_loss"]:
            self.state["best"] = best = {"epoch": n, "val_loss": metrics["val_loss"]}
            self.model.save_weights(self.best_path)
        log_epoch(self.live, n, metrics, best)
        print(
            f"epoch {n}/{self.p.epochs}: loss {metrics['loss']:.4f}, accuracy {metrics['accuracy']:.4f}, "
            f"val_loss {metrics['val_loss']:.4f}, val_accuracy {metrics['val_accuracy']:.4f}, "
            + (f"val_nll {metrics['val_nll']:.4f}, " if "val_nll" in metrics else "")
            + (f"dev BLEU {metrics['val_bleu']:.2f} ({self.dev_bleu_seconds[-1]:.0f} s), " if "val_bleu" in metrics else "")
            + f"{seconds:.0f} s, {self.tokens / seconds:,.0f} target tokens/s" + ("  (best)" if best["epoch"] == n else ""),
            flush=True,
        )
        averaged = n > self.p.epochs - self.p.train.average_last  # each averaged epoch needs its checkpoint
        if self.role.chief and (n % self.p.train.save_every == 0 or n == self.p.epochs or averaged):
            self.state["rng"] = [v.numpy().tolist() for v in random_states(self.model)]
            path = self.store.save(n, self.model, self.best_path, self.state)
            print(f"  checkpoint: {path}", flush=True)

    @property
    def epoch(self) -> int:
        return len(self.state["history"])


class NonFiniteLossError(UserError, ArithmeticError):
    """The loss became NaN or infinite: the run stops before it writes a checkpoint of it."""


def non_finite_message(p: Params, what: str) -> str:
    hint = "a lower train.learning_rate" + (" or a train.clipnorm (e.g. 5.0)" if p.train.clipnorm is None else "")
    return (f"{what}: training diverged (train.learning_rate={p.train.learning_rate:g}, train.clipnorm={p.train.clipnorm}); "
            f"try {hint}. No checkpoint was written for this epoch; the earlier ones are kept")


class AveragingError(UserError, RuntimeError):
    """train.average_last asks for epochs whose checkpoints this run does not have."""


def average_checkpoints(model: keras.Model, store: CheckpointStore, last_epoch: int, n: int) -> dict:
    """Set the model's trainable weights to their mean over the checkpoints of epochs
    last_epoch-n+1 .. last_epoch (checkpoint averaging, as in Vaswani et al. 2017)."""
    wanted = list(range(last_epoch - n + 1, last_epoch + 1))
    found = {c.epoch: c for c in store.ours()}
    missing = [e for e in wanted if e not in found]
    if missing:
        raise AveragingError(
            f"train.average_last={n} needs the checkpoints of epochs {wanted[0]}..{wanted[-1]}, but "
            f"{store.root} has none for epoch(s) {', '.join(map(str, missing))} (the run was trained without "
            f"averaging); rerun with -S epochs={last_epoch + n} to train and average {n} more epochs, or set train.average_last=1"
        )
    if not model.optimizer.built:  # nothing trained in this process: build it, or loading skips its state noisily
        model.optimizer.build(model.trainable_variables)
    sums = None
    for e in wanted:
        model.load_weights(found[e].path / MODEL_FILE)
        values = [v.numpy().astype(np.float64) for v in model.trainable_variables]
        sums = values if sums is None else [a + b for a, b in zip(sums, values)]
    for variable, total in zip(model.trainable_variables, sums):
        variable.assign((total / n).astype(variable.dtype))
    return {"epochs": wanted}


def random_states(model) -> list:
    """The dropout layers' random generator states. A `.keras` file does not hold them, so a
    checkpoint keeps them itself: a resumed run then draws the same dropout masks as an
    uninterrupted one."""
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]


def weights_digest(model: keras.Model) -> str:
    """A short fingerprint of all the weights."""
    h = hashlib.sha256()
    for w in model.get_weights():
        h.update(np.ascontiguousarray(w).tobytes())
    return h.hexdigest()[:16]


def log_epoch(live, n: int, metrics: dict, best: dict) -> None:
    if live is None:  # a worker other than the chief
        return
    live.step = n
    for name, value in metrics.items():
        split = "dev" if name.startswith("val_") else "train"
        live.log_metric(f"{split}/{name.removeprefix('val_')}", value)
    live.summary["best_epoch"], live.summary["best_val_loss"] = best["epoch"], best["val_loss"]
    live.make_summary()


def train(params: Params, paths: TrainPaths = TrainPaths(), *, dev_bleu: bool = True) -> dict:
    """Train (or resume, or reuse) the run `params` describe; write the model to `paths.out`.
    `dev_bleu=False` leaves out the per-epoch dev BLEU (nmt/devbleu.py); nothing else changes."""
    sweep_work_folders()
    with scratch_folder() as work:
        return _train(params, paths, work, dev_bleu)


def _train(params: Params, paths: TrainPaths, work: Path, dev_bleu: bool) -> dict:
    from dvclive import Live

    t = params.train
    set_intra_op_threads(t.intra_op_threads)  # before any other TensorFlow work
    strategy, role = make_strategy(t.strategy)
    set_determinism(params.seed)
    train_ids = load_split(paths.split, "train", paths.vocab)
    dev_ids = load_split(paths.split, "dev", paths.vocab)
    with strategy.scope():
        seq = build_from_vocabs(params.model, paths.vocab, params.seed)
        model = seq.training
        compile_model(model, t)
    if role.count > 1:
        print(f"train: worker {role.index} of {role.count}" + (" (chief: writes checkpoints, curves and the model)" if role.chief else ""), flush=True)

    store = CheckpointStore(paths.checkpoints, run_fingerprint(params, paths), max(t.keep_last, t.average_last))
    if role.chief:  # the chief alone writes checkpoints, so it alone tidies them
        tidy_checkpoints(store, t.keep_runs)
    ckpt, why = store.resumable(params.epochs)
    print(f"train: {why}", flush=True)
    best_path = work / BEST_FILE
    state = {"history": [], "best": None}
    if ckpt is not None:
        with strategy.scope():
            model.optimizer.build(model.trainable_variables)  # so that load_weights restores Adam's moments
        model.load_weights(ckpt.path / MODEL_FILE)
        shutil.copyfile(ckpt.path / BEST_FILE, best_path)
        state = {"history": ckpt.state["history"], "best": ckpt.state["best"]}
        if "rng" in ckpt.state:
            for variable, value in zip(random_states(model), ckpt.state["rng"], strict=True):
                variable.assign(value)

    # The curves are rewritten from the checkpoint's history, so a resumed run shows each
    # epoch exactly once even if the killed run had logged epochs past its last checkpoint.
    live = Live(dir=str(paths.live), dvcyaml=False, save_dvc_exp=False, report=None) if role.chief else None
    for n, metrics in enumerate(state["history"], 1):
        log_epoch(live, n, metrics, state["best"])

    first = len(state["history"])
    steps = batches_per_epoch(len(train_ids), t.batch_size)
    tokens = sum(len(x) + 1 for x in train_ids.target)
    todo = f"epochs {first + 1}..{params.epochs}" if first < params.epochs else f"all {params.epochs} epochs done already"
    print(f"train: {len(train_ids):,} pairs, {steps} batches of {t.batch_size}, {model.count_params():,} parameters; {todo}", flush=True)
    scorer = None
    if dev_bleu and role.chief:
        from nmt.devbleu import DevBleu

        _, _, tgt_pipe, src_vocab, tgt_vocab = load_text_and_vocabs(paths.vocab)
        scorer = DevBleu(seq, dev_ids, read_lines(paths.split / "dev.tgt"), tgt_pipe, src_vocab, tgt_vocab, params.model.attention != "none")
    callback = EpochEnd(params=params, store=store, best_path=best_path, state=state, live=live, steps=steps, tokens=tokens, role=role, dev_bleu=scorer)
    if first < params.epochs:
        dataset = training_dataset(train_ids, t.batch_size, seed=params.seed, first_epoch=first, shard=(role.index, role.count))
        build_for_fit(model, strategy, dataset)
        model.fit(
            dataset,
            validation_data=evaluation_dataset(dev_ids, t.batch_size),
            epochs=params.epochs,
            initial_epoch=first,
            steps_per_epoch=steps,
            callbacks=[callback],
            shuffle=False,  # the dataset shuffles itself, reproducibly
            verbose=0,
        )
    if role.count > 1:  # workers in step print the same fingerprint
        print(f"train: worker {role.index} done; weights sha256 {weights_digest(model)}", flush=True)
    if not role.chief:  # the chief alone writes the results
        return state
    # The trained model: the best epoch by validation loss, or the average of the last epochs.
    averaged = None
    if t.average_last > 1:
        averaged = average_checkpoints(model, store, params.epochs, t.average_last)
        dev = model.evaluate(evaluation_dataset(dev_ids, t.batch_size), verbose=0, return_dict=True)
        averaged["val_loss"] = float(dev["loss"])
        if "nll" in dev:  # label smoothing: the plain cross-entropy too, comparable across runs
            averaged["val_nll"] = float(dev["nll"])
        for name in ("val_loss", "val_nll"):
            if name in averaged:
                live.summary[f"averaged_{name}"] = averaged[name]
        live.make_summary()
        print(f"train: averaged the weights of epochs {averaged['epochs'][0]}..{averaged['epochs'][-1]}: val_loss {averaged['val_loss']:.4f}"
              + (f", val_nll {averaged['val_nll']:.4f}" if "val_nll" in averaged else ""), flush=True)
    else:
        model.load_weights(best_path)
    live.end()
    with atomic_dir(paths.out) as tmp:
        save_keras(model, tmp / "model.keras")  # byte-identical on every rerun
        write_json(tmp / "config.json", {"model": params.to_dict()["model"], "seed": params.seed, "best": state["best"],
                                         **({"averaged": averaged} if averaged else {}), "epochs": params.epochs})
    median = float(np.median(callback.epoch_seconds)) if callback.epoch_seconds else None
    write_json(paths.speed, {  # kept apart from the curves: timings differ from run to run
        "epochs_run": len(callback.epoch_seconds),
        "seconds_per_epoch_median": round(median, 1) if median else None,
        "target_tokens_per_second": round(tokens / median) if median else None,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),  # Linux: KiB
        "dev_bleu_seconds_median": round(float(np.median(callback.dev_bleu_seconds)), 1) if callback.dev_bleu_seconds else None,
    })
    chosen = (f"the average of epochs {averaged['epochs'][0]}..{averaged['epochs'][-1]} (val_loss {averaged['val_loss']:.4f})" if averaged
              else f"best epoch {state['best']['epoch']} (val_loss {state['best']['val_loss']:.4f})")
    print(f"train: {chosen} -> {paths.out}", file=sys.stdout)
    return state
