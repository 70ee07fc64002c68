"""Resumable training checkpoints, one folder per run, so that no run's work is lost to another's.

models/checkpoints/<fingerprint>/epoch-NNNN/ holds the whole training model with its optimizer
state (`training.keras`), the best weights so far (`best.weights.h5`) and `state.json` (epoch,
fingerprint, per-epoch history). The fingerprint (`run_fingerprint`) covers what can
change the weights of a given epoch and nothing else, so a run resumes from its own folder and
other runs' folders are kept: going back to a baseline after a variant resumes or reuses it.
A checkpoint is written under a temporary name and renamed; temporaries left by a killed run are
swept at the next start. Each run keeps its last `keep_last` checkpoints; the folders of the
`keep_runs` most recently used other runs are kept too, older ones are pruned (also by hand:
`python -m nmt.checkpoints --keep N`).

The checkpoints also serve after training: `average_checkpoints` sets a model to the mean of
the last epochs' weights, and `random_states` are what a checkpoint keeps beside the weights.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nmt.config import Params
from nmt.errors import UserError
from nmt.fsutil import atomic_dir, save_keras

_NAME = re.compile(r"^epoch-(\d{4,})$")
_RUN = re.compile(r"^[0-9a-f]{16}$")
MODEL_FILE, BEST_FILE, STATE_FILE = "training.keras", "best.weights.h5", "state.json"


# Params that cannot change the weights of a given epoch: `epochs` (so that `-S epochs=50`
# continues a 20-epoch run), when checkpoints are written and how many are kept, which weights
# are chosen after training, and how the machine runs it. Changing them resumes the run.
NOT_IN_FINGERPRINT = {
    "epochs": None,
    "eval": None,
    "data": None,
    "vocab": None,
    "train": ("save_every", "keep_last", "keep_runs", "average_last", "intra_op_threads", "patience"),
}
# `train.select` is in the fingerprint unless it is val_loss (so a default run's fingerprint is what
# it was before the param existed): each checkpoint's best weights are the best by the run's metric.
# `train.subword_sampling` likewise, unless it is 0 (off).


def run_fingerprint(params: Params, data_files: list[Path]) -> str:
    """What a checkpoint must match to be resumed: every param that can change the weights of
    an epoch, and the training data itself (`data_files`). `data` and `vocab` are covered by the
    digests of the files they make (the split, the vocabularies, the subword models): a param
    that leaves those unchanged (e.g. a new mirror URL) cannot change the weights either."""
    h = hashlib.sha256()
    shaping = params.to_dict()
    for section, keys in NOT_IN_FINGERPRINT.items():
        if keys is None:
            del shaping[section]
        else:
            for key in keys:
                del shaping[section][key]
    if shaping["train"]["select"] == "val_loss":
        del shaping["train"]["select"]
    if not shaping["train"]["subword_sampling"]:
        del shaping["train"]["subword_sampling"]
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


@dataclass
class Run:
    """Another run's checkpoint folder."""

    path: Path
    epochs: list[int]
    size: int  # bytes
    last_used: float  # mtime of the folder: set when a checkpoint is written or resumed

    def describe(self) -> str:
        return f"{self.path.name} (epochs {', '.join(map(str, self.epochs)) or 'none'}; {self.size / 1e6:.1f} MB)"


def _checkpoints(folder: Path) -> list[Checkpoint]:
    found = []
    for p in sorted(folder.glob("epoch-*")):
        if not _NAME.match(p.name):
            continue
        try:
            state = json.loads((p / STATE_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # not a finished checkpoint (should not happen: they are renamed into place)
        if (p / MODEL_FILE).is_file() and (p / BEST_FILE).is_file():
            found.append(Checkpoint(p, state))
    return sorted(found, key=lambda c: c.epoch)


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def sweep(root: str | Path) -> list[Path]:
    """Remove what killed runs leave: temporary (`.*.tmp`) and replaced (`.*.old`) folders in `root`
    and in its run folders. Checkpoints of the layout before run folders (root/epoch-NNNN) move
    into the folder of the fingerprint they record. Returns what was removed."""
    root = Path(root)
    if not root.is_dir():
        return []
    removed = []
    for folder in [root, *(p for p in root.iterdir() if p.is_dir() and _RUN.match(p.name))]:
        for p in folder.iterdir():
            if p.name.startswith(".") and p.name.endswith((".tmp", ".old")):
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
                removed.append(p)
    for c in _checkpoints(root):  # the old layout
        fingerprint = str(c.state.get("fingerprint", ""))
        if _RUN.match(fingerprint) and not (root / fingerprint / c.path.name).exists():
            (root / fingerprint).mkdir(exist_ok=True)
            os.replace(c.path, root / fingerprint / c.path.name)
    return removed


def other_runs(root: str | Path, fingerprint: str | None = None) -> list[Run]:
    """The run folders in `root` but `fingerprint`'s, most recently used first."""
    root = Path(root)
    if not root.is_dir():
        return []
    runs = [
        Run(p, [c.epoch for c in _checkpoints(p)], _size(p), p.stat().st_mtime)
        for p in root.iterdir()
        if p.is_dir() and _RUN.match(p.name) and p.name != fingerprint
    ]
    return sorted(runs, key=lambda r: (-r.last_used, r.path.name))


def prune(root: str | Path, keep: int, fingerprint: str | None = None) -> tuple[list[Run], list[Run]]:
    """Keep the `keep` most recently used run folders besides `fingerprint`'s; remove the others.
    Returns (kept, removed)."""
    runs = other_runs(root, fingerprint)
    for r in runs[keep:]:
        shutil.rmtree(r.path, ignore_errors=True)
    return runs[:keep], runs[keep:]


class CheckpointStore:
    """This run's checkpoints: root/<fingerprint>/epoch-NNNN/."""

    def __init__(self, root: str | Path, fingerprint: str, keep_last: int):
        self.root, self.fingerprint, self.keep_last = Path(root), fingerprint, keep_last
        self.dir = self.root / fingerprint

    def ours(self) -> list[Checkpoint]:
        """This run's checkpoints, oldest first."""
        return [c for c in _checkpoints(self.dir) if c.state.get("fingerprint") == self.fingerprint]

    def resumable(self, max_epoch: int) -> tuple[Checkpoint | None, str]:
        """The newest checkpoint of this run at or before `max_epoch`, and why (for the log)."""
        ours = self.ours()
        if not ours:
            return None, f"no checkpoint of this run in {self.dir}: starting from scratch"
        usable = [c for c in ours if c.epoch <= max_epoch]
        if not usable:
            return None, f"the checkpoints in {self.dir} start after epoch {max_epoch}: starting from scratch"
        os.utime(self.dir)  # used now: the last folder pruning would remove
        return usable[-1], f"resuming from {usable[-1].path} (epoch {usable[-1].epoch})"

    def save(self, epoch: int, model, best_weights: Path, state: dict, keep: Collection[int] = ()) -> Path:
        """Write checkpoint `epoch` atomically, then drop this run's older ones beyond `keep_last`
        (but those of the epochs in `keep`)."""
        path = self.dir / f"epoch-{epoch:04d}"
        with atomic_dir(path) as tmp:
            save_keras(model, tmp / MODEL_FILE)
            shutil.copyfile(best_weights, tmp / BEST_FILE)
            (tmp / STATE_FILE).write_text(json.dumps({**state, "epoch": epoch, "fingerprint": self.fingerprint}, indent=1))
        stale = {c.path for c in self.ours() if c.epoch not in keep} - {c.path for c in self.ours()[-self.keep_last :]}
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


WORK_PREFIX = "nmt-train-"


@contextlib.contextmanager
def scratch_folder():
    """A folder for the best weights so far (they are also in each checkpoint), removed on the way out."""
    work = Path(tempfile.mkdtemp(prefix=f"{WORK_PREFIX}{os.getpid()}-"))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def sweep_work_folders() -> None:
    """Remove the scratch folders of training processes that were killed (their pid is gone)."""
    for p in Path(tempfile.gettempdir()).glob(f"{WORK_PREFIX}*-*"):
        pid = p.name[len(WORK_PREFIX) :].split("-")[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(p, ignore_errors=True)
        except OSError:
            pass  # alive, someone else's


def tidy_checkpoints(store: CheckpointStore, keep_runs: int) -> None:
    """Sweep what killed runs left, prune other runs' folders beyond `keep_runs`, and say what is kept."""
    for p in sweep(store.root):
        print(f"train: removed {p} (left by a killed run)", flush=True)
    kept, removed = prune(store.root, keep_runs, store.fingerprint)
    print(f"train: this run's checkpoints: {store.dir}/", flush=True)
    if kept:
        print(
            f"train: kept {len(kept)} other run(s) (train.keep_runs={keep_runs}; prune with "
            f"`python -m nmt.checkpoints --keep N`): " + "; ".join(r.describe() for r in kept),
            flush=True,
        )
    for r in removed:
        print(f"train: removed the checkpoints of an older run beyond train.keep_runs={keep_runs}: {r.describe()}", flush=True)


def main(argv: list[str] | None = None) -> int:
    """`python -m nmt.checkpoints [--keep N]`: list the run folders, or keep only the N most recently used
    (run it while no training runs: it would remove the running one's folder too)."""
    parser = argparse.ArgumentParser(prog="python -m nmt.checkpoints", description=main.__doc__)
    parser.add_argument("--root", default="models/checkpoints", help="the checkpoint folder (default: models/checkpoints)")
    parser.add_argument("--keep", type=int, metavar="N", help="remove all run folders but the N most recently used")
    args = parser.parse_args(argv)
    if args.keep is not None and args.keep < 0:
        parser.error(f"--keep must be at least 0, got {args.keep}")
    if args.keep is None:
        runs = other_runs(args.root)
        for r in runs:
            print(f"{r.path}: {r.describe()}")
        print(f"{len(runs)} run folder(s), {sum(r.size for r in runs) / 1e6:.1f} MB in all")
        return 0
    kept, removed = prune(args.root, args.keep)
    for r in removed:
        print(f"removed {r.path}: {r.describe()}")
    print(f"kept {len(kept)} run folder(s) ({sum(r.size for r in kept) / 1e6:.1f} MB), removed {len(removed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
