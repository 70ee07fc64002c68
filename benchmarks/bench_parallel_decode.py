"""Batches decoded one after another against several at once, in threads, on the same bundle.

A lever for issue 16's batched decoding (item 3), measured before building it into `nmt`: the
test file's batches (`--batch-size` sentences each, the Translator's own batching) handed to
`Translator.translate_nbest` one batch per call, either in order on one thread ("sequential") or
by `--workers` threads at once ("parallel"), greedy and beam 5 with 5-best lists. TensorFlow's
thread count per op is set per process, so each setting of `--intra-op` runs in its own child
process (0: TensorFlow's choice, one thread per core; 1: one thread per op), the children
alternating A, B then B, A from round to round; within a child the two ways alternate too.
Outputs (every hypothesis's text and score to 4 decimals) are compared between the ways and
between the children.

    python benchmarks/bench_parallel_decode.py --model models/bundle --input data/split/test.src \\
        --rounds 2 --out benchmarks/results/decode_parallel

Prints a table and writes `<out>/<UTC time>.json`. oneDNN's custom ops are off in the children,
as `nmt translate` runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_decode import machine  # noqa: E402


def child(args) -> dict:
    import tensorflow as tf

    if args.intra_op:
        tf.config.threading.set_intra_op_parallelism_threads(args.intra_op)
    from nmt.translate import Translator

    lines = Path(args.input).read_text(encoding="utf-8").splitlines()
    translator = Translator(args.model)
    chunks = [lines[i : i + args.batch_size] for i in range(0, len(lines), args.batch_size)]

    def one(chunk, beam):
        return translator.translate_nbest(chunk, beam_size=beam, n_best=beam, pretokenized=True, batch_size=args.batch_size)

    def sequential(beam):
        return [h for c in chunks for h in one(c, beam)]

    def parallel(beam):
        with ThreadPoolExecutor(args.workers) as pool:
            return [h for part in pool.map(lambda c: one(c, beam), chunks) for h in part]

    result = {}
    for beam in (1, 5):
        sequential(beam), parallel(beam)  # warm-up: traces, caches
        rates, outputs = {"sequential": [], "parallel": []}, {}
        for r in range(args.passes):
            order = [("sequential", sequential), ("parallel", parallel)]
            for name, fn in order if r % 2 == 0 else order[::-1]:
                start = time.perf_counter()
                out = fn(beam)
                rates[name].append(len(lines) / (time.perf_counter() - start))
                outputs[name] = [[(h.text, None if h.score is None else round(h.score, 4)) for h in hyps] for hyps in out]
        result[f"beam{beam}"] = {
            "sentences_per_second": {k: round(statistics.median(v), 1) for k, v in rates.items()},
            "passes": {k: [round(x, 1) for x in v] for k, v in rates.items()},
            "same_outputs": outputs["sequential"] == outputs["parallel"],
            "outputs": outputs["sequential"],
        }
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="models/bundle")
    ap.add_argument("--input", default="data/split/test.src", help="one sentence a line, corpus tokens")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--workers", type=int, default=2, help="threads decoding batches at once")
    ap.add_argument("--intra-op", type=int, nargs="+", default=[0, 1], help="TensorFlow threads per op, one child process each")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--passes", type=int, default=3, help="timed passes of each way in a child")
    ap.add_argument("--out", default="benchmarks/results/decode_parallel")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        args.intra_op = args.intra_op[0]
        print(json.dumps(child(args)))
        return 0

    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "0", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
    runs: dict[int, list[dict]] = {n: [] for n in args.intra_op}
    for r in range(args.rounds):
        for n in args.intra_op if r % 2 == 0 else args.intra_op[::-1]:
            cmd = [sys.executable, __file__, "--child", "--model", args.model, "--input", args.input, "--batch-size", str(args.batch_size),
                   "--workers", str(args.workers), "--intra-op", str(n), "--passes", str(args.passes)]  # fmt: skip
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
            runs[n].append(json.loads(done.stdout.splitlines()[-1]))
            print(f"round {r + 1}, intra-op {n}: " + ", ".join(f"{b} {x['sentences_per_second']}" for b, x in runs[n][-1].items()), flush=True)

    reference = runs[args.intra_op[0]][0]
    table, same = [], True
    for n, children in runs.items():
        for beam in ("beam1", "beam5"):
            row = {"intra_op": n, "search": beam}
            for way in ("sequential", "parallel"):
                row[way] = round(statistics.median(c[beam]["sentences_per_second"][way] for c in children), 1)
            row["same_outputs"] = all(c[beam]["same_outputs"] and c[beam]["outputs"] == reference[beam]["outputs"] for c in children)
            same &= row["same_outputs"]
            table.append(row)
    base = {b: next(r["sequential"] for r in table if r["intra_op"] == args.intra_op[0] and r["search"] == b) for b in ("beam1", "beam5")}
    print(
        f"\n| threads per op | search | sequential sent/s | {args.workers} batches at once sent/s | vs sequential, intra-op {args.intra_op[0]} | same outputs |"
    )
    print("|---|---|---|---|---|---|")
    for row in table:
        print(f"| {row['intra_op'] or 'TF default'} | {'greedy' if row['search'] == 'beam1' else 'beam 5'} | {row['sequential']:,.0f} | {row['parallel']:,.0f} "
              f"| {row['sequential'] / base[row['search']]:.2f}x / {row['parallel'] / base[row['search']]:.2f}x | {row['same_outputs']} |")  # fmt: skip

    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for children in runs.values():
        for c in children:
            for x in c.values():
                x.pop("outputs")
    record = {
        "command": " ".join(["python", *sys.argv]),
        "finished_utc": stamp,
        "machine": machine(),
        "table": table,
        "runs": {str(k): v for k, v in runs.items()},
    }
    (out / f"{stamp}.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"-> {out / f'{stamp}.json'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
