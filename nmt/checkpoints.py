"""Resumable training checkpoints: every `save_every` epochs, the last `keep_last` kept.

A checkpoint is a folder `epoch-NNNN/` holding the whole training model with its optimizer
state (`training.keras`), the best weights so far (`best.weights.h5`) and `state.json`
(epoch, the run's fingerprint, the per-epoch history). It is written under a temporary name
and renamed, so a killed run never leaves a half checkpoint that looks whole. A checkpoint
is resumed only if its fingerprint (every param but `epochs`, plus digests of the data it
was trained on) equals the current run's.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from nmt.fsutil import atomic_dir, save_keras

_NAME = re.compile(r"^epoch-(\d{4,})$")
MODEL_FILE, BEST_FILE, STATE_FILE = "training.keras", "best.weights.h5", "state.json"


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
