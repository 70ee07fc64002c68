"""Resumable training checkpoints, one folder per run, so that no run's work is lost to another's.

models/checkpoints/<fingerprint>/epoch-NNNN/ holds the whole training model with its optimizer
state (`training.keras`), the best weights so far (`best.weights.h5`) and `state.json` (epoch,
fingerprint, per-epoch history). The fingerprint (nmt.training.run_fingerprint) covers what can
change the weights of a given epoch and nothing else, so a run resumes from its own folder and
other runs' folders are kept: going back to a baseline after a variant resumes or reuses it.
A checkpoint is written under a temporary name and renamed; temporaries left by a killed run are
swept at the next start. Each run keeps its last `keep_last` checkpoints; the folders of the
`keep_runs` most recently used other runs are kept too, older ones are pruned (also by hand:
`python -m nmt.checkpoints --keep N`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from nmt.fsutil import atomic_dir, save_keras

_NAME = re.compile(r"^epoch-(\d{4,})$")
_RUN = re.compile(r"^[0-9a-f]{16}$")
MODEL_FILE, BEST_FILE, STATE_FILE = "training.keras", "best.weights.h5", "state.json"


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
    runs = [Run(p, [c.epoch for c in _checkpoints(p)], _size(p), p.stat().st_mtime)
            for p in root.iterdir() if p.is_dir() and _RUN.match(p.name) and p.name != fingerprint]
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

    def save(self, epoch: int, model, best_weights: Path, state: dict) -> Path:
        """Write checkpoint `epoch` atomically, then drop this run's older ones beyond `keep_last`."""
        path = self.dir / f"epoch-{epoch:04d}"
        with atomic_dir(path) as tmp:
            save_keras(model, tmp / MODEL_FILE)
            shutil.copyfile(best_weights, tmp / BEST_FILE)
            (tmp / STATE_FILE).write_text(json.dumps({**state, "epoch": epoch, "fingerprint": self.fingerprint}, indent=1))
        stale = {c.path for c in self.ours()} - {c.path for c in self.ours()[-self.keep_last :]}
        for p in stale:
            shutil.rmtree(p, ignore_errors=True)
        return path


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
        pid = p.name[len(WORK_PREFIX):].split("-")[0]
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
        print(f"train: kept {len(kept)} other run(s) (train.keep_runs={keep_runs}; prune with "
              f"`python -m nmt.checkpoints --keep N`): " + "; ".join(r.describe() for r in kept), flush=True)
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
