"""Training: teacher forcing over the training split, checkpoints, resume, curves.

`train()` builds the model from params, resumes from the newest matching checkpoint if there
is one, runs `model.fit` over the remaining epochs (or fewer: `train.patience`) and returns the
model to keep (the best epoch by `train.select`, or an average of epochs; nmt/selection.py) with
what the stage writes about it. Per-epoch curves go to dvclive; progress goes to stdout. The
loss lives in nmt/loss.py, checkpoints and their averaging in nmt/checkpoints.py, the files read
in nmt/artifacts.py.
"""

from __future__ import annotations

import math
import resource
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from nmt.artifacts import PATHS, SIDES, Averaged, BestEpoch, Paths, TrainedModel, Vocabularies, read_split_part, read_vocabularies
from nmt.checkpoints import (
    BEST_FILE,
    MODEL_FILE,
    Checkpoint,
    CheckpointStore,
    average_checkpoints,
    random_states,
    run_fingerprint,
    scratch_folder,
    sweep_work_folders,
    tidy_checkpoints,
)
from nmt.config import Params
from nmt.data import SampledSegmentations, batches_per_epoch, evaluation_dataset, training_dataset
from nmt.distribute import Role, build_for_fit, make_strategy, weights_digest
from nmt.errors import UserError
from nmt.fsutil import read_lines
from nmt.loss import compile_model
from nmt.model import build_seq2seq
from nmt.runtime import precision, set_determinism, set_intra_op_threads
from nmt.selection import averaged_epochs, best_record, best_window, checkpoint_every_epoch, improves, stop_reason


@dataclass
class TrainingState:
    """What a checkpoint carries besides the weights (its state.json, with epoch and fingerprint)."""

    history: list[dict] = field(default_factory=list)  # per epoch: {metric: value}
    best: BestEpoch | None = None  # by `train.select`
    rng: list | None = None  # the dropout generators' states (`random_states`)
    stopped: str | None = None  # why training stopped before `epochs` (`train.patience`)

    @property
    def epochs_done(self) -> int:
        return len(self.history)

    def to_dict(self) -> dict:
        d = {"history": self.history, "best": self.best.to_dict() if self.best else None}
        d = d if self.rng is None else {**d, "rng": self.rng}
        return d if self.stopped is None else {**d, "stopped_early": {"epoch": self.epochs_done, "reason": self.stopped}}

    @classmethod
    def from_checkpoint(cls, c: Checkpoint) -> TrainingState:
        best = c.state["best"]
        return cls(c.state["history"], BestEpoch(**best) if best else None, c.state.get("rng"))


@dataclass
class TrainingResult:
    model: keras.Model  # the training model, with the weights to keep
    info: TrainedModel  # models/train/config.json
    speed: dict  # timings/train_speed.json


def train(params: Params, paths: Paths = PATHS, *, dev_bleu: bool = True) -> TrainingResult | None:
    """Train (or resume) and return what the stage writes; None on a worker other than the chief.
    `dev_bleu=False` leaves out the per-epoch dev BLEU (nmt/devbleu.py); nothing else changes."""
    sweep_work_folders()
    with scratch_folder() as work, precision(params.train.precision):
        return _train(params, paths, work, dev_bleu)


def _train(params: Params, paths: Paths, work: Path, dev_bleu: bool) -> TrainingResult | None:
    from dvclive import Live

    t = params.train
    set_intra_op_threads(t.intra_op_threads)  # before any other TensorFlow work
    strategy, role = make_strategy(t.strategy)
    set_determinism(params.seed)
    vocab = read_vocabularies(paths.vocab)
    train_ids, dev_ids = (read_split_part(paths.split, part, vocab) for part in ("train", "dev"))
    with strategy.scope():
        seq = build_seq2seq(params.model, len(vocab.source), len(vocab.target), seed=params.seed)
        model = seq.training
        compile_model(model, t)
    if role.count > 1:
        print(f"train: worker {role.index} of {role.count}" + (" (chief: writes checkpoints, curves and the model)" if role.chief else ""), flush=True)

    data_files = [*paths.split.glob("*.src"), *paths.split.glob("*.tgt"), *paths.vocab.glob("*.json"), *paths.vocab.glob("*.model")]
    store = CheckpointStore(paths.checkpoints, run_fingerprint(params, data_files), max(t.keep_last, t.average_last))
    if role.chief:  # the chief alone writes checkpoints, so it alone tidies them
        tidy_checkpoints(store, t.keep_runs)
    best_path = work / BEST_FILE
    state = resume(model, strategy, store, params.epochs, best_path)

    # The curves are rewritten from the checkpoint's history, so a resumed run shows each
    # epoch exactly once even if the killed run had logged epochs past its last checkpoint.
    live = Live(dir=str(paths.curves), dvcyaml=False, save_dvc_exp=False, report=None) if role.chief else None
    for n, metrics in enumerate(state.history, 1):
        log_epoch(live, n, metrics, state.best)

    first = state.epochs_done
    steps = batches_per_epoch(len(train_ids), t.batch_size)
    tokens = sum(len(x) + 1 for x in train_ids.target)
    state.stopped = stop_reason(state.history, t)  # a resumed run that had stopped early stays stopped
    todo = f"epochs {first + 1}..{params.epochs}" if first < params.epochs else f"all {params.epochs} epochs done already"
    if state.stopped:
        todo = f"stopped early at epoch {first} of {params.epochs}: {state.stopped}; raise train.patience or set it to 0 to train on"
    print(f"train: {len(train_ids):,} pairs, {steps} batches of {t.batch_size}, {model.count_params():,} parameters; {todo}", flush=True)
    scorer = None
    if t.select == "dev_bleu" and not (dev_bleu and role.chief):
        raise ValueError("train.select=dev_bleu needs the per-epoch dev BLEU (dev_bleu=True, on the chief)")
    if dev_bleu and role.chief:
        from nmt.devbleu import DevBleu

        scorer = DevBleu(seq.inference, dev_ids, read_lines(paths.split / "dev.tgt"), vocab.text.target, vocab.target)
    callback = EpochEnd(params=params, store=store, best_path=best_path, state=state, live=live, steps=steps, tokens=tokens, role=role, dev_bleu=scorer)
    if first < params.epochs and not state.stopped:
        resample = sampled_segmentations(params, paths.split, vocab)
        dataset = training_dataset(train_ids, t.batch_size, seed=params.seed, first_epoch=first, shard=(role.index, role.count), resample=resample)
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
        return None
    stopped_at = None
    if state.stopped:
        stopped_at = live.summary["stopped_at"] = state.epochs_done
    averaged = keep_final_weights(model, params, state, store, best_path, dev_ids, live, scorer)
    live.end()
    info = TrainedModel(model=params.model, seed=params.seed, best=state.best, epochs=params.epochs, averaged=averaged, stopped_at=stopped_at)
    return TrainingResult(model, info, speed_summary(callback.epoch_seconds, tokens, callback.dev_bleu_seconds))


def sampled_segmentations(params: Params, split: Path, vocab: Vocabularies) -> SampledSegmentations | None:
    """`train.subword_sampling`: the training split's lines, to be re-segmented every epoch; None when off."""
    if not params.train.subword_sampling:
        return None
    lines = tuple(read_lines(split / f"train.{ext}") for _, ext in SIDES)
    pipes = (vocab.text.source, vocab.text.target)
    return SampledSegmentations(lines, pipes, (vocab.source, vocab.target), params.train.subword_sampling, params.seed)


def resume(model: keras.Model, strategy, store: CheckpointStore, epochs: int, best_path: Path) -> TrainingState:
    """Load the newest usable checkpoint into `model` (weights, optimizer, dropout generators)
    and copy its best weights to `best_path`; a fresh state if there is none."""
    ckpt, why = store.resumable(epochs)
    print(f"train: {why}", flush=True)
    if ckpt is None:
        return TrainingState()
    with strategy.scope():
        model.optimizer.build(model.trainable_variables)  # so that load_weights restores Adam's moments
    model.load_weights(ckpt.path / MODEL_FILE)
    shutil.copyfile(ckpt.path / BEST_FILE, best_path)
    state = TrainingState.from_checkpoint(ckpt)
    if state.rng is not None:
        for variable, value in zip(random_states(model), state.rng, strict=True):
            variable.assign(value)
    return TrainingState(state.history, state.best)  # `rng` is written afresh at the next checkpoint, `stopped` decided again


def keep_final_weights(
    model: keras.Model, params: Params, state: TrainingState, store: CheckpointStore, best_path: Path, dev_ids, live, scorer=None
) -> Averaged | None:
    """Set `model` to the weights to keep: an average of `train.average_last` epochs (evaluated on
    dev, returned; which epochs: nmt/selection.py), or the best epoch's (None)."""
    n = params.train.average_last
    if n == 1:
        model.load_weights(best_path)
        return None
    window = averaged_epochs(state.history, params.train)
    epochs = average_checkpoints(model, store, window[-1], n)
    scores = model.evaluate(evaluation_dataset(dev_ids, params.train.batch_size), verbose=0, return_dict=True)
    # With label smoothing the plain cross-entropy too, comparable across runs.
    bleu = scorer()[0] if params.train.select == "dev_bleu" else None  # the inference models share the averaged weights
    averaged = Averaged(epochs, float(scores["loss"]), float(scores["nll"]) if "nll" in scores else None, bleu)
    for name, value in averaged.to_dict().items():
        if name != "epochs":
            live.summary[f"averaged_{name}"] = value
    live.make_summary()
    print(
        f"train: averaged the weights of epochs {epochs[0]}..{epochs[-1]}: val_loss {averaged.val_loss:.4f}"
        + (f", val_nll {averaged.val_nll:.4f}" if averaged.val_nll is not None else "")
        + (f", dev BLEU {averaged.val_bleu}" if averaged.val_bleu is not None else ""),
        flush=True,
    )
    return averaged


def speed_summary(epoch_seconds: list[float], tokens: int, dev_bleu_seconds: list[float]) -> dict:
    """timings/train_speed.json: kept apart from the curves, since timings differ from run to run."""
    median = float(np.median(epoch_seconds)) if epoch_seconds else None
    return {
        "epochs_run": len(epoch_seconds),
        "seconds_per_epoch_median": round(median, 1) if median else None,
        "target_tokens_per_second": round(tokens / median) if median else None,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),  # Linux: KiB
        "dev_bleu_seconds_median": round(float(np.median(dev_bleu_seconds)), 1) if dev_bleu_seconds else None,
    }


class EpochEnd(keras.callbacks.Callback):
    """After each epoch: progress line, curves, best weights, and a checkpoint when due."""

    def __init__(
        self, *, params: Params, store: CheckpointStore, best_path: Path, state: TrainingState, live, steps: int, tokens: int, role: Role, dev_bleu=None
    ):
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
            raise NonFiniteLossError(
                non_finite_message(self.p, f"the training loss is {logs['loss']} at epoch {self.state.epochs_done + 1}, batch {batch + 1}")
            )
        now = time.perf_counter()
        if now - self.last_report >= 30:  # a heartbeat on long epochs; logs stay short
            self.last_report = now
            rate = self.tokens * (batch + 1) / self.steps / (now - self.t0)
            print(f"  epoch {self.state.epochs_done + 1}: batch {batch + 1}/{self.steps}, loss {logs['loss']:.3f}, {rate:,.0f} target tokens/s", flush=True)

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
        state, t = self.state, self.p.train
        state.history.append(metrics)
        if improves(t.select, metrics, state.best):
            state.best = best_record(t.select, n, metrics)
            self.model.save_weights(self.best_path)
        state.stopped = stop_reason(state.history, t)
        if state.stopped:
            self.model.stop_training = True
        log_epoch(self.live, n, metrics, state.best)
        print(
            f"epoch {n}/{self.p.epochs}: loss {metrics['loss']:.4f}, accuracy {metrics['accuracy']:.4f}, "
            f"val_loss {metrics['val_loss']:.4f}, val_accuracy {metrics['val_accuracy']:.4f}, "
            + (f"val_nll {metrics['val_nll']:.4f}, " if "val_nll" in metrics else "")
            + (f"dev BLEU {metrics['val_bleu']:.2f} ({self.dev_bleu_seconds[-1]:.0f} s), " if "val_bleu" in metrics else "")
            + f"{seconds:.0f} s, {self.tokens / seconds:,.0f} target tokens/s"
            + ("  (best)" if state.best.epoch == n else ""),
            flush=True,
        )
        if state.stopped:
            print(f"train: stopping early after epoch {n} of {self.p.epochs}: {state.stopped}", flush=True)
        averaged = n > self.p.epochs - t.average_last or checkpoint_every_epoch(t)  # each averaged epoch needs its checkpoint
        if self.role.chief and (n % t.save_every == 0 or n == self.p.epochs or averaged or state.stopped):
            state.rng = [v.numpy().tolist() for v in random_states(self.model)]
            keep = best_window(state.history, t.average_last) if t.select == "dev_bleu" and t.average_last > 1 else ()
            path = self.store.save(n, self.model, self.best_path, state.to_dict(), keep)
            print(f"  checkpoint: {path}", flush=True)


class NonFiniteLossError(UserError, ArithmeticError):
    """The loss became NaN or infinite: the run stops before it writes a checkpoint of it."""


def non_finite_message(p: Params, what: str) -> str:
    hint = "a lower train.learning_rate" + (" or a train.clipnorm (e.g. 5.0)" if p.train.clipnorm is None else "")
    return (
        f"{what}: training diverged (train.learning_rate={p.train.learning_rate:g}, train.clipnorm={p.train.clipnorm}); "
        f"try {hint}. No checkpoint was written for this epoch; the earlier ones are kept"
    )


def log_epoch(live, n: int, metrics: dict, best: BestEpoch) -> None:
    if live is None:  # a worker other than the chief
        return
    live.step = n
    for name, value in metrics.items():
        split = "dev" if name.startswith("val_") else "train"
        live.log_metric(f"{split}/{name.removeprefix('val_')}", value)
    live.summary["best_epoch"], live.summary["best_val_loss"] = best.epoch, best.val_loss
    if best.val_bleu is not None:
        live.summary["best_val_bleu"] = best.val_bleu
    live.make_summary()
