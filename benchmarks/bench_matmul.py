"""What this CPU's matrix products reach, float32 and bfloat16, at the shapes the default model uses.

    python benchmarks/bench_matmul.py [--threads 1,2] [--out benchmarks/results/matmul/<UTC time>.json]

A large square product gives the machine's practical FP32 and BF16 rates (the yardstick for "share
of peak"); the others are the default model's training products (64 sentences x 12 target tokens
= 768 rows, 256 units, the 4,905-word target vocabulary, an LSTM step of 64 rows) and the decoder
step's output projection at a batch of 64. Each figure: TensorFlow's MatMul inside a tf.function
(oneDNN, as training uses it), the whole product consumed, the median of 5 timings of about 2
GFLOP each. Intra-op threads are set per process, so each thread count runs in a child process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

SHAPES = {  # name: (rows, inner, columns)
    "square 2048": (2048, 2048, 2048),
    "training: output projection forward (768x256 @ 256x4905)": (768, 256, 4905),
    "training: output projection, input gradient (768x4905 @ 4905x256)": (768, 4905, 256),
    "training: output projection, weight gradient (256x768 @ 768x4905)": (256, 768, 4905),
    "training: LSTM step (64x512 @ 512x1024)": (64, 512, 1024),
    "decoding: output projection at batch 64 (64x256 @ 256x4905)": (64, 256, 4905),
}


def measure(threads: int) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    out = {}
    for name, (m, k, n) in SHAPES.items():
        rates = {}
        for dtype in (tf.float32, tf.bfloat16):
            a, b = tf.cast(tf.random.normal([m, k]), dtype), tf.cast(tf.random.normal([k, n]), dtype)
            product = tf.function(lambda a, b: tf.reduce_sum(tf.cast(tf.matmul(a, b), tf.float32)))
            product(a, b)
            reps = max(3, int(2e9 / (2 * m * k * n)))
            seconds = []
            for _ in range(5):
                start = time.perf_counter()
                for _ in range(reps):
                    product(a, b)
                seconds.append((time.perf_counter() - start) / reps)
            rates[dtype.name] = round(2 * m * k * n / statistics.median(seconds) / 1e9, 1)
        out[name] = rates
    return out


def cpu_fields() -> dict:
    fields = {}
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("vendor_id", "cpu family", "model", "model name") and key.strip() not in fields:
            fields[key.strip()] = value.strip()
    return fields


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", default="1,2", help="intra-op thread counts, one child process each")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure(args.child)))
        return
    results = {}
    for threads in (int(t) for t in args.threads.split(",")):
        proc = subprocess.run([sys.executable, __file__, "--child", str(threads)], capture_output=True, text=True, check=True)
        results[threads] = json.loads(proc.stdout.strip().splitlines()[-1])
    print("| product | " + " | ".join(f"{t} thread(s): float32 GFLOP/s | bfloat16 | ratio" for t in results) + " |")
    print("|---|" + "---|---|---|" * len(results))
    for name in SHAPES:
        cells = [f"{r[name]['float32']:.0f} | {r[name]['bfloat16']:.0f} | {r[name]['bfloat16'] / r[name]['float32']:.2f}x" for r in results.values()]
        print(f"| {name} | " + " | ".join(cells) + " |")
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")
    out = args.out or Path(__file__).resolve().parent / "results/matmul" / f"{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {"command": " ".join(sys.argv), "utc": stamp, "cpu": cpu_fields(), "cores": os.cpu_count(), "machine": platform.machine(), "gflops": results}
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"-> {out}")


if __name__ == "__main__":
    main()
