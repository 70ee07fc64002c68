"""`nmt translate --file F` of two versions of the `nmt` package, side by side in one run.

The whole command as a user runs it on a file (start-up included), greedy and `--beam 5`, for a
git revision (its `nmt` unpacked with `git archive`, as benchmarks/bench_decode.py does) and the
working tree, in fresh processes alternating A, B then B, A from round to round. Prints the median
wall time of each, the same for a file of one sentence (start-up, loading, tracing), the file's
sentences per second net of that, and whether the two printed the same bytes.

    python benchmarks/bench_cli_file.py --model models/bundle --file data/split/test.src \\
        --repeat 8 --base HEAD --rounds 3 --out benchmarks/results/cli_file

`--repeat N` translates the file N times over (one file of N copies), so that start-up (about
3 s) is a small part of the time. Writes `<out>/<UTC time>.json`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_decode import CLI, ROOT, environment, machine, unpack  # noqa: E402


def run(tree: Path, model: str, path: str, extra: list[str]) -> tuple[float, bytes]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-P", "-c", CLI, "translate", "--model", model, "--file", path, *extra], capture_output=True, env=environment(tree))
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{tree}: nmt translate failed: {done.stderr.decode(errors='replace')}")
    return seconds, done.stdout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="models/bundle")
    ap.add_argument("--file", default="data/split/test.src", help="sentences, one a line")
    ap.add_argument("--repeat", type=int, default=8, help="translate the file this many times over")
    ap.add_argument("--base", default="HEAD", help="the git revision to compare the working tree with")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default="benchmarks/results/cli_file")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        text = Path(args.file).read_text(encoding="utf-8")
        big = Path(tmp) / "input.txt"
        big.write_text(text * args.repeat, encoding="utf-8")
        lines = len(text.splitlines()) * args.repeat
        trees = {"before": unpack(args.base, Path(tmp) / "before"), "after": ROOT}
        one = Path(tmp) / "one.txt"  # start-up and one sentence: what the file's time is net of
        one.write_text(text.splitlines()[0] + "\n", encoding="utf-8")
        searches = {"greedy": [], "beam 5": ["--beam", "5"]}
        seconds = {(v, s): [] for v in trees for s in searches}
        start_up = {(v, s): [] for v in trees for s in searches}
        outputs = {}
        for r in range(args.rounds):
            for version in list(trees) if r % 2 == 0 else list(trees)[::-1]:
                for search, extra in searches.items():
                    took, out = run(trees[version], args.model, str(big), extra)
                    seconds[version, search].append(round(took, 2))
                    start_up[version, search].append(round(run(trees[version], args.model, str(one), extra)[0], 2))
                    outputs.setdefault((version, search), out)
                    print(f"round {r + 1} {version} {search}: {took:.2f} s", flush=True)

    rows = []
    for search in searches:
        b, a = (statistics.median(seconds[v, search]) for v in ("before", "after"))
        b1, a1 = (statistics.median(start_up[v, search]) for v in ("before", "after"))
        same = outputs["before", search] == outputs["after", search]
        rows.append(
            {
                "search": search,
                "before_s": b,
                "after_s": a,
                "before_sent_s": round(lines / b, 1),
                "after_sent_s": round(lines / a, 1),
                "before_one_sentence_s": b1,
                "after_one_sentence_s": a1,
                "before_net_sent_s": round(lines / (b - b1), 1),
                "after_net_sent_s": round(lines / (a - a1), 1),
                "same_output": same,
            }
        )
    print(f"\n{lines} sentences, `nmt translate --file`, start-up included; before = {args.base}, after = the working tree")
    print(
        "| search | before: s (sent/s) | after: s (sent/s) | after vs before | one sentence: before / after s "
        "| net of it, sent/s: before / after | net, after vs before | same output |\n|---|---|---|---|---|---|---|---|"
    )
    for row in rows:
        print(f"| {row['search']} | {row['before_s']:.2f} ({row['before_sent_s']:,.0f}) | {row['after_s']:.2f} ({row['after_sent_s']:,.0f}) "
              f"| {row['before_s'] / row['after_s']:.2f}x | {row['before_one_sentence_s']:.2f} / {row['after_one_sentence_s']:.2f} "
              f"| {row['before_net_sent_s']:,.0f} / {row['after_net_sent_s']:,.0f} | {row['after_net_sent_s'] / row['before_net_sent_s']:.2f}x | {row['same_output']} |")  # fmt: skip

    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    base = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.base], capture_output=True, text=True).stdout.strip()
    record = {
        "command": " ".join(["python", *sys.argv]),
        "finished_utc": stamp,
        "machine": machine(),
        "base": base,
        "sentences": lines,
        "rows": rows,
        "seconds": {f"{v} {s}": x for (v, s), x in seconds.items()},
        "one_sentence_seconds": {f"{v} {s}": x for (v, s), x in start_up.items()},
    }
    (out / f"{stamp}.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"-> {out / f'{stamp}.json'}")
    return 0 if all(r["same_output"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
