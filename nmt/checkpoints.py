"""Resumable training checkpoints: every `save_every` epochs, the last `keep_last` kept.

A checkpoint is a folder `epoch-NNNN/` holding the whole training model with its optimizer
state (`training.keras`), the best weights so far (`best.weights.h5`) and `state.json`
(epoch, the run's fingerprint, the per-epoch history). It is written under a temporary name
and renamed, so a killed run never leaves a half checkpoint that looks whole. A checkpoint
is resumed only if its fingerprint (every param but `epochs`, plus digests of the data it
was trained on) equals the current run's.

The checkpoints also serve after training: `average_checkpoints` sets a model to the mean of
the last epochs' weights, and `random_states` are what a checkpoint keeps beside the weights.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nmt.config import Params
from nmt.errors import UserError
from nmt.fsutil import atomic_dir, save_keras

_NAME = re.compile(r"^epoch-(\d{4,})$")
MODEL_FILE, BEST_FILE, STATE_FILE = "training.keras", "best.weights.h5", "state.json"


def run_fingerprint(params: Params, data_files: list[Path]) -> str:
    """What a checkpoint must match to be resumed: every param that shapes training but
    `epochs` (so that `-S epochs=50` continues a 20-epoch run), `train.average_last` and
    `train.intra_op_threads` (so that a run moved to a bigger machine continues), and the data itself."""
    h = hashlib.sha256()
    shaping = {k: params.to_dict()[k] for k in ("seed", "data", "vocab", "model", "train")}
    del shaping["train"]["average_last"]  # chooses among the epochs' weights after training
    del shaping["train"]["intra_op_threads"]  # how the machine runs it, like the machine itself
    h.update(json.dumps(shaping, sort_keys=True).encode())
    for f in sorted(data_files):
        h.update(f.name.encode() + hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()[:16]


@dataclass
class Checkpoint:
    path: Path
    state: dict  # {"epoch", "fingerprint", "history": [{metric: value}], "best": {"epoch", "val_loss"}}

    @property
    def epoch(self) -> int:
        return self.state["epoch"]


class CheckpointStore:
    def __init__(self, root: str | Path, fingerprint: str, keep_last: int):
        self.root, self.fingerprint, self.keep_last = Path(root), fingerprint, keep_last

    def _all(self) -> list[Checkpoint]:
        found = []
        for p in sorted(self.root.glob("epoch-*")):
            if not _NAME.match(p.name):
                continue
            try:
                state = json.loads((p / STATE_FILE).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # not a finished checkpoint (should not happen: they are renamed into place)
            if (p / MODEL_FILE).is_file() and (p / BEST_FILE).is_file():
                found.append(Checkpoint(p, state))
        return sorted(found, key=lambda c: c.epoch)

    def ours(self) -> list[Checkpoint]:
        """This run's checkpoints (matching fingerprint), oldest first."""
        return [c for c in self._all() if c.state.get("fingerprint") == self.fingerprint]

    def resumable(self, max_epoch: int) -> tuple[Checkpoint | None, str]:
        """The newest checkpoint of this run at or before `max_epoch`, and why (for the log)."""
        every = self._all()
        if not every:
            return None, "no checkpoint found: starting from scratch"
        ours = self.ours()
        if not ours:
            return None, (
                f"ignoring {len(every)} checkpoint(s) in {self.root} made with other params or data "
                f"(fingerprint {every[-1].state.get('fingerprint')} != {self.fingerprint}): starting from scratch"
            )
        usable = [c for c in ours if c.epoch <= max_epoch]
        if not usable:
            return None, f"checkpoints start after epoch {max_epoch}: starting from scratch"
        return usable[-1], f"resuming from {usable[-1].path} (epoch {usable[-1].epoch})"

    def save(self, epoch: int, model, best_weights: Path, state: dict) -> Path:
        """Write checkpoint `epoch` atomically, then drop old and foreign ones."""
        path = self.root / f"epoch-{epoch:04d}"
        with atomic_dir(path) as tmp:
            save_keras(model, tmp / MODEL_FILE)
            shutil.copyfile(best_weights, tmp / BEST_FILE)
            (tmp / STATE_FILE).write_text(json.dumps({**state, "epoch": epoch, "fingerprint": self.fingerprint}, indent=1))
        stale = {c.path for c in self._all()} - {c.path for c in self.ours()[-self.keep_last :]}
        for p in stale:
            shutil.rmtree(p, ignore_errors=True)
        return path


def random_states(model) -> list:
    """The dropout layers' random generator states. A `.keras` file does not hold them, so a
    checkpoint keeps them itself: a resumed run then draws the same dropout masks as an
    uninterrupted one."""
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]


class AveragingError(UserError, RuntimeError):
    """train.average_last asks for epochs whose checkpoints this run does not have."""


def average_checkpoints(model, store: CheckpointStore, last_epoch: int, n: int) -> list[int]:
    """Set the model's trainable weights to their mean over the checkpoints of epochs
    last_epoch-n+1 .. last_epoch (checkpoint averaging, as in Vaswani et al. 2017); returns those epochs."""
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
    return wanted
