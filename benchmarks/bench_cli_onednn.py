"""`nmt translate` with TensorFlow's oneDNN custom ops on (TensorFlow's default) and off (the CLI's
default since it silences TensorFlow's start-up lines): the same input, greedy and beam 5 with its
5-best list and scores, compared byte for byte, with the wall time of each command (start-up
included) and, in a separate process per setting, the decoding time alone (Translator on the whole
input, median of 3 passes after a warm-up). The two settings alternate, so that load on a shared
machine hits both alike.

    python benchmarks/bench_cli_onednn.py --model models/bundle --input data/split/test.src \\
        --out benchmarks/results/cli_onednn
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

SEARCHES = {"greedy": [], "beam5_nbest5": ["--beam", "5", "--n-best", "5"]}
SETTINGS = {"onednn_on": "1", "onednn_off": "0"}


def run(model: str, source: str, search: list[str], onednn: str) -> tuple[bytes, str, float]:
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS")}
    env["TF_ENABLE_ONEDNN_OPTS"] = onednn
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "nmt.cli", "translate", "--model", model, "--file", source, *search], capture_output=True, env=env, check=True)
    return done.stdout, done.stderr.decode(errors="replace"), time.perf_counter() - start


DECODE_TIMER = """
import statistics, sys, time
from nmt.translate import Translator
model, source, beam = sys.argv[1], sys.argv[2], int(sys.argv[3])
lines = open(source, encoding="utf-8").read().splitlines()
t = Translator(model)
t.translate_nbest(lines[:64], beam_size=beam, n_best=beam)
times = []
for _ in range(3):
    start = time.perf_counter()
    t.translate_nbest(lines, beam_size=beam, n_best=beam)
    times.append(time.perf_counter() - start)
print(statistics.median(times))
"""


def decode_seconds(model: str, source: str, beam: int, onednn: str) -> float:
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    env.update(TF_ENABLE_ONEDNN_OPTS=onednn, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-c", DECODE_TIMER, model, source, str(beam)], capture_output=True, text=True, env=env, check=True)
    return float(done.stdout.split()[-1])


def _decode_times(args, beam: int) -> dict[str, list[float]]:
    decode = {s: [] for s in SETTINGS}
    for rep in range(args.repeats):
        order = list(SETTINGS.items()) if rep % 2 == 0 else list(SETTINGS.items())[::-1]
        for setting, value in order:
            decode[setting].append(round(decode_seconds(args.model, args.input, beam, value), 3))
    return decode


def _differences(outputs: dict[str, bytes]) -> str:
    """The lines that differ, each as it came out with oneDNN on, then off."""
    pairs = zip(outputs["onednn_on"].decode("utf-8").splitlines(), outputs["onednn_off"].decode("utf-8").splitlines())
    return "".join(f"on:  {a}\noff: {b}\n" for a, b in pairs if a != b)


def _texts(output: bytes) -> list[list[str]]:
    return [line.split(" ||| ")[:2] for line in output.decode("utf-8").splitlines()]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/bundle")
    ap.add_argument("--input", default="data/split/test.src")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default="benchmarks/results/cli_onednn")
    ap.add_argument("--decode-only", action="store_true", help="only the decoding times (into decode.json), not the commands' outputs")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "command": " ".join(sys.argv),
        "sentences": len(Path(args.input).read_text(encoding="utf-8").splitlines()),
        "searches": {},
    }
    if args.decode_only:
        result["decode_seconds"] = {name: _decode_times(args, 5 if "beam" in name else 1) for name in SEARCHES}
        result["median_decode_seconds"] = {n: {s: statistics.median(v) for s, v in d.items()} for n, d in result["decode_seconds"].items()}
        (out / "decode.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(json.dumps(result["median_decode_seconds"]))
        return 0
    for name, search in SEARCHES.items():
        outputs, stderr_lines, seconds = {}, {}, {s: [] for s in SETTINGS}
        for rep in range(args.repeats):
            order = list(SETTINGS.items()) if rep % 2 == 0 else list(SETTINGS.items())[::-1]
            for setting, value in order:
                stdout, stderr, wall = run(args.model, args.input, search, value)
                seconds[setting].append(round(wall, 2))
                if setting in outputs and outputs[setting] != stdout:
                    raise SystemExit(f"{name} {setting}: two runs with the same setting differ")
                outputs[setting] = stdout
                stderr_lines[setting] = [line for line in stderr.splitlines() if line.strip()]
        (out / f"{name}.txt").write_bytes(outputs["onednn_on"])
        (out / f"{name}.differences.txt").write_text(_differences(outputs), encoding="utf-8")
        result["searches"][name] = {
            "identical": outputs["onednn_on"] == outputs["onednn_off"],
            # n-best lines without their features and score: the translations and their ranks
            "translations_identical": _texts(outputs["onednn_on"]) == _texts(outputs["onednn_off"]),
            "differing_lines": sum(a != b for a, b in zip(outputs["onednn_on"].splitlines(), outputs["onednn_off"].splitlines())),
            "output_lines": outputs["onednn_on"].count(b"\n"),
            "wall_seconds": seconds,
            "median_wall_seconds": {s: statistics.median(v) for s, v in seconds.items()},
            "stderr_lines": {s: len(v) for s, v in stderr_lines.items()},
            "stderr_onednn_on": stderr_lines["onednn_on"],
        }
        decode = _decode_times(args, 5 if "beam" in name else 1)
        result["searches"][name]["decode_seconds"] = decode
        result["searches"][name]["median_decode_seconds"] = {s: statistics.median(v) for s, v in decode.items()}
        print(
            name,
            json.dumps(result["searches"][name]["median_wall_seconds"]),
            json.dumps(result["searches"][name]["median_decode_seconds"]),
            "identical:",
            result["searches"][name]["identical"],
            "translations identical:",
            result["searches"][name]["translations_identical"],
            flush=True,
        )
    (out / "result.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0 if all(s["translations_identical"] for s in result["searches"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
