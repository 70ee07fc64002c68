"""The train stage of two or more git revisions, side by side: epoch time and target tokens/s.

Each variant is a revision of this repository (and optional params overrides) checked out as a
git worktree under --work; the data stages run once there (`dvc repro vocab`), then every round
runs each variant's own `stages/train.py` from scratch (checkpoints removed) for --epochs epochs,
the variants alternating A, B, C then C, B, A from round to round so that a drift in the
machine's load falls on all of them alike. Figures are what each revision's train stage writes
itself (median seconds an epoch, target tokens over that median, peak RSS) and its last dev loss.

    python benchmarks/ab_train_stage.py --work /tmp/abtrain --rounds 2 --epochs 3 \
        --variant filed=cab3f33 --variant now=HEAD \
        --variant "now_fp32=HEAD:model.dropout=0.0,train.precision=float32"

Prints a table and writes benchmarks/results/train_stage/<UTC time>.json (or --out). The worktrees
stay registered in this repository for a rerun to reuse: `git worktree remove --force WORK/NAME`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def parse_variant(text: str) -> tuple[str, str, dict[str, object]]:
    """`name=REV[:key=value,key=value]` -> (name, rev, {dotted key: YAML value})."""
    name, _, rest = text.partition("=")
    rev, _, overrides = rest.partition(":")
    if not name or not rev:
        raise SystemExit(f"--variant {text!r}: expected name=REV[:key=value,...]")
    sets = {}
    for item in filter(None, overrides.split(",")):
        key, _, value = item.partition("=")
        sets[key] = yaml.safe_load(value)
    return name, rev, sets


def set_params(tree: Path, epochs: int, sets: dict[str, object]) -> None:
    path = tree / "params.yaml"
    params = yaml.safe_load(path.read_text())
    for key, value in {"epochs": epochs, **sets}.items():
        parts = key.split(".")
        target = params
        for part in parts[:-1]:
            target = target[part]
        if parts[-1] not in target:
            raise SystemExit(f"{tree.name}: params.yaml has no {key}")
        target[parts[-1]] = value
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def tree_env(tree: Path) -> dict[str, str]:
    """The revision's own `nmt` package ahead of the installed one."""
    return {**os.environ, "PYTHONPATH": str(tree), "TF_CPP_MIN_LOG_LEVEL": "2"}


def prepare(work: Path, name: str, rev: str, epochs: int, sets: dict[str, object]) -> Path:
    tree = work / name
    if not tree.exists():
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), rev], check=True)
    set_params(tree, epochs, sets)
    subprocess.run(["dvc", "repro", "vocab"], cwd=tree, env=tree_env(tree), check=True, stdout=subprocess.DEVNULL)
    return tree


def speed_file(tree: Path) -> Path:
    for rel in ("timings/train_speed.json", "metrics/train_speed.json"):
        if (tree / rel).exists():
            return tree / rel
    raise SystemExit(f"{tree}: the train stage wrote no train_speed.json")


def last_val_loss(tree: Path) -> float | None:
    path = tree / "metrics/train/metrics.json"
    if not path.exists():
        return None
    return json.loads(path.read_text()).get("dev", {}).get("loss")


def train_once(tree: Path) -> dict:
    for rel in ("models/checkpoints", "models/train", "timings/train_speed.json", "metrics/train_speed.json"):
        if (tree / rel).is_dir():
            shutil.rmtree(tree / rel)
        else:
            (tree / rel).unlink(missing_ok=True)
    env = tree_env(tree)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "stages/train.py"], cwd=tree, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(f"{tree.name}: train stage failed\n{proc.stderr[-3000:]}")
    speed = json.loads(speed_file(tree).read_text())
    return {**speed, "stage_wall_seconds": round(wall, 1), "val_loss_last": last_val_loss(tree), "load_after": round(os.getloadavg()[0], 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--variant", action="append", required=True, help="name=REV[:key=value,...] (repeat)")
    ap.add_argument("--work", type=Path, required=True, help="folder for the worktrees (kept: rerun to reuse)")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    variants = [parse_variant(v) for v in args.variant]
    args.work.mkdir(parents=True, exist_ok=True)
    trees = {name: prepare(args.work, name, rev, args.epochs, sets) for name, rev, sets in variants}
    revs = {
        name: subprocess.run(["git", "-C", str(trees[name]), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip() for name in trees
    }
    runs: dict[str, list[dict]] = {name: [] for name in trees}
    names = list(trees)
    for r in range(args.rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            result = train_once(trees[name])
            runs[name].append(result)
            print(
                f"round {r + 1} {name}: {result['seconds_per_epoch_median']} s/epoch, {result['target_tokens_per_second']} tok/s, load {result['load_after']}",
                flush=True,
            )
    base = names[0]

    def med(name: str, key: str) -> float:
        return statistics.median(x[key] for x in runs[name])

    print(f"\n| variant | revision | overrides | s/epoch (median of rounds) | target tokens/s | vs {base} | peak MiB | last dev loss |")
    print("|---|---|---|---|---|---|---|---|")
    for name, _rev, sets in variants:
        tps = med(name, "target_tokens_per_second")
        over = ", ".join(f"{k}={v}" for k, v in sets.items()) or "-"
        loss = runs[name][-1]["val_loss_last"]
        print(
            f"| {name} | {revs[name]} | {over} | {med(name, 'seconds_per_epoch_median'):.1f} | {tps:,.0f} | {tps / med(base, 'target_tokens_per_second'):.2f}x | {med(name, 'peak_rss_mib'):,.0f} | {loss if loss is None else round(loss, 4)} |"
        )
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")
    out = args.out or REPO / "benchmarks/results/train_stage" / f"{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "command": " ".join(sys.argv),
                "finished_utc": stamp,
                "machine": platform.processor() or platform.machine(),
                "cpus": os.cpu_count(),
                "epochs": args.epochs,
                "variants": [{"name": n, "rev": revs[n], "overrides": s} for n, _, s in variants],
                "runs": runs,
            },
            indent=1,
        )
        + "\n"
    )
    print(f"-> {out}")


if __name__ == "__main__":
    main()
