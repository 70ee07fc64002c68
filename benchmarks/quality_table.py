"""Markdown rows for BENCHMARKS.md from the quality runs made by `benchmarks/quality_run.sh`.

    python benchmarks/quality_table.py [RUNS_DIR]      # default: ../runs beside this checkout

For each run folder: the corpus and direction (metrics/split.json), the `-S` overrides it was
started with (run.log), the epochs done and the training time summed from the log's per-epoch
lines, and the test scores of metrics/eval.json. A run still training shows its last finished
epoch and the dev loss so far, with no test score.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

EPOCH = re.compile(r"^epoch (\d+)/(\d+): .*val_loss ([\d.]+).*?, (\d+) s,", re.M)
COMMAND = re.compile(r"^== \S+ (\S+) dvc exp run (.*)$", re.M)


def row(run: Path) -> str | None:
    log = (run / "run.log").read_text(encoding="utf-8", errors="replace") if (run / "run.log").is_file() else ""
    commands = COMMAND.findall(log)
    if not commands:
        return None
    commit, overrides = commands[0]
    epochs = {int(n): (int(total), float(loss), int(sec)) for n, total, loss, sec in EPOCH.findall(log)}
    if not epochs:
        return f"| {run.name} | | `{overrides}` | 0 | | | | (not started) |"
    done = max(epochs)
    planned = epochs[done][0]
    hours = sum(sec for _, _, sec in epochs.values()) / 3600
    split = _json(run / "metrics/split.json")
    ev = _json(run / "metrics/eval.json")
    last_run = re.split(r"^== \S+ \S+ dvc exp run", log, flags=re.M)[-1]  # after the newest start line
    finished = done == planned and ev and "evaluate:" in last_run
    corpus = f"{split.get('corpus', '?')} {split.get('direction', '?')}"
    best_dev = min(loss for _, loss, _ in epochs.values())
    if finished:
        tok = ev.get("bleu_corpus_tokens", "")
        scores = f"{ev['bleu']} | {tok} | {ev['chrf']} | {ev['search']}"
    else:
        scores = f" | | | training: epoch {done}/{planned}, best dev loss {best_dev:.3f}"
    return f"| {run.name} | {corpus} | `{overrides}` | {done} | {hours:.2f} h | {scores} |"


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def main() -> int:
    if any(a in ("-h", "--help") for a in sys.argv[1:]):
        print(__doc__)
        return 0
    runs = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1].parent / "runs"
    if not runs.is_dir():
        print(f"error: {runs}: no such folder of runs (benchmarks/quality_run.sh makes them)", file=sys.stderr)
        return 1
    print("| run | corpus | overrides (`dvc exp run ...`) | epochs | training time | BLEU | BLEU corpus tokens | chrF | search |")
    print("|---|---|---|---|---|---|---|---|---|")
    for run in sorted(p for p in runs.iterdir() if p.is_dir()):
        if (line := row(run)) is not None:
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
