"""Start-up and decoding speed of two versions of the `nmt` package, side by side in one run.

For each version (a git revision, unpacked with `git archive` into a temporary folder, and the
working tree), in fresh processes whose PYTHONPATH points at that version, alternating A, B then
B, A from round to round so that load on a shared machine hits both alike:
- cold start: the wall time of `nmt translate --model M "<sentence>"` from the start of the
  process to its translation on stdout, and to its exit; and of `nmt --help` (with whether it
  imported TensorFlow);
- interactive latency: one 10-word sentence through `Translator.translate` after a warm-up;
- batched greedy and beam 5 (5-best) on a test file (corpus tokens, as the evaluate stage reads
  them), sentences per second, with the Translator's default batch size (and `--batch-size`).
The outputs (greedy translations; beam 5's 5-best lists with their scores) are compared between
the two versions byte for byte.

    python benchmarks/bench_decode.py --model models/bundle --input data/split/test.src \\
        --base main --rounds 4 --out benchmarks/results/decode
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import selectors
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SENTENCE = "She lives next door to us, and he lives far away."  # 10 words
CLI = "import sys; from nmt.cli import main; sys.exit(main())"  # what the `nmt` script runs
# Children run `python -P`: without it `-c` puts the current directory (this working tree) first on
# sys.path, ahead of PYTHONPATH, and both versions would import the working tree's `nmt`.

HELP = """
import sys
from nmt.cli import main
try:
    main(["--help"])
except SystemExit:
    pass
print("TENSORFLOW_IMPORTED", "tensorflow" in sys.modules, file=sys.stderr)
"""

WARM = """
import json, statistics, sys, time
from nmt.translate import Translator
model, source, sentence, passes, batch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
options = {} if batch == "default" else {"batch_size": int(batch)}
lines = open(source, encoding="utf-8").read().splitlines()
t = Translator(model)
result = {}
for _ in range(5):
    t.translate([sentence])
times = []
for _ in range(50):
    start = time.perf_counter()
    t.translate([sentence])
    times.append(time.perf_counter() - start)
result["latency_ms"] = 1000 * statistics.median(times)
result["latency_translation"] = t.translate([sentence])[0]
for name, beam in (("greedy", 1), ("beam5", 5)):
    t.translate_nbest(lines[:64], beam_size=beam, n_best=beam, pretokenized=True, **options)  # warm-up
    times = []
    for _ in range(passes):
        start = time.perf_counter()
        out = t.translate_nbest(lines, beam_size=beam, n_best=beam, pretokenized=True, **options)
        times.append(time.perf_counter() - start)
    result[name + "_seconds"] = times
    result[name + "_output"] = [[[h.tokens, h.score, getattr(h, "log_prob", None)] for h in hyps] for hyps in out]  # older versions: no log_prob
print(json.dumps(result))
"""


LATENCY = """
import statistics, sys, time
from nmt.translate import Translator
t = Translator(sys.argv[1])
for _ in range(5):
    t.translate([sys.argv[2]])
times = []
for _ in range(50):
    start = time.perf_counter()
    t.translate([sys.argv[2]])
    times.append(time.perf_counter() - start)
print(1000 * statistics.median(times))
"""


def unpack(rev: str, into: Path) -> Path:
    """The `nmt` package of git revision `rev`, unpacked into `into`."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", rev, "nmt"], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def environment(tree: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TF_ENABLE_ONEDNN_OPTS")}
    env["PYTHONPATH"] = str(tree)
    env["TF_ENABLE_ONEDNN_OPTS"] = "0"  # as `nmt translate` sets it, for the in-process timings too
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    return env


def cold_start(tree: Path, model: str, sentence: str) -> tuple[float, float, str]:
    """(seconds to the first line on stdout, seconds to exit, that line) of `nmt translate`."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-P", "-c", CLI, "translate", "--model", model, sentence], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment(tree)
    )
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    first, buffer = None, b""
    while b"\n" not in buffer:
        sel.select()
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            break
        buffer += chunk
    first = time.perf_counter() - start
    rest, err = proc.communicate()
    end = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(f"{tree}: nmt translate failed: {err.decode(errors='replace')}")
    return first, end, (buffer + rest).decode("utf-8").strip()


def help_start(tree: Path) -> tuple[float, bool]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-P", "-c", HELP], capture_output=True, text=True, env=environment(tree), check=True)
    return time.perf_counter() - start, "TENSORFLOW_IMPORTED True" in done.stderr


def warm(tree: Path, args) -> dict:
    argv = [sys.executable, "-P", "-c", WARM, args.model, args.input, args.sentence, str(args.passes), args.batch_size]
    done = subprocess.run(argv, capture_output=True, text=True, env=environment(tree))
    if done.returncode:
        raise SystemExit(f"{tree}: {done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


def compare_nbest(before: list, after: list) -> dict:
    """Two versions' 5-best lists: the same translations in the same order; the same scores as
    `nmt translate --n-best` prints them (4 decimals); how many float scores differ, and by how much."""
    pairs = (
        [(a, b) for x, y in zip(before, after, strict=True) for a, b in zip(x, y, strict=True)] if all(len(x) == len(y) for x, y in zip(before, after)) else []
    )
    both = bool(pairs) and all(a[2] is not None and b[2] is not None for a, b in pairs)  # older versions have no log_prob

    def shown(h) -> str:
        return f"{h[1]:.4f} {h[2]:.4f}" if both else f"{h[1]:.4f}"

    printed = [(shown(a), shown(b)) for a, b in pairs]
    return {
        "beam5_nbest5_translations": bool(pairs) and all(a[0] == b[0] for a, b in pairs),
        "beam5_nbest5_as_printed": bool(pairs) and all(a == b for a, b in printed),
        "beam5_nbest5_float_scores": bool(pairs) and all(a[1:] == b[1:] if both else a[1] == b[1] for a, b in pairs),
        "beam5_float_scores_differing": sum(a[1] != b[1] for a, b in pairs),
        "beam5_float_scores_max_difference": max((abs(a[1] - b[1]) for a, b in pairs), default=None),
        "beam5_hypotheses": len(pairs),
    }


def cold_only(trees: dict, args, out: Path) -> int:
    seconds = {name: {"first_output_s": [], "exit_s": [], "latency_10_words_ms": []} for name in trees}
    outputs = {name: set() for name in trees}
    for r in range(args.rounds):
        for name in list(trees) if r % 2 == 0 else list(trees)[::-1]:
            first, end, line = cold_start(trees[name], args.model, args.sentence)
            seconds[name]["first_output_s"].append(round(first, 3))
            seconds[name]["exit_s"].append(round(end, 3))
            outputs[name].add(line)
            done = subprocess.run(
                [sys.executable, "-P", "-c", LATENCY, args.model, args.sentence], capture_output=True, text=True, env=environment(trees[name]), check=True
            )
            seconds[name]["latency_10_words_ms"].append(round(float(done.stdout.split()[-1]), 2))
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average_at_end": os.getloadavg(),
        "command": "python " + " ".join(sys.argv),
        "before": args.base,
        "seconds": seconds,
        "median": {name: {k: median(v) for k, v in d.items()} for name, d in seconds.items()},
        "same_output": len(outputs["before"] | outputs["after"]) == 1,
    }
    (out / "cold_start.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(result["median"]), "same output:", result["same_output"])
    return 0 if result["same_output"] else 1


def machine() -> str:
    """The CPU's model name (Linux), else what `platform` knows, and the core count."""
    try:
        name = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo", encoding="utf-8") if line.startswith("model name"))
    except (OSError, StopIteration):
        name = platform.processor() or platform.machine()
    return f"{name}, {os.cpu_count()} cores"


def median(values: list[float]) -> float:
    return round(statistics.median(values), 4)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="models/bundle")
    ap.add_argument("--input", default="data/split/test.src", help="corpus tokens, one sentence a line")
    ap.add_argument("--base", default="main", help="the git revision to compare the working tree with")
    ap.add_argument("--rounds", type=int, default=4, help="rounds of A/B (cold starts: 2 per version a round)")
    ap.add_argument("--passes", type=int, default=3, help="timed passes over the input per warm process")
    ap.add_argument("--batch-size", default="default", help="sentences per batch (default: each version's Translator default)")
    ap.add_argument("--sentence", default=SENTENCE)
    ap.add_argument("--out", default="benchmarks/results/decode")
    ap.add_argument(
        "--cold-only", action="store_true", help="only the cold starts of `nmt translate` (into cold_start.json): under a minute, so it can run un-niced"
    )
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    base_rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.base], capture_output=True, text=True, check=True).stdout.strip()
    head_rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    dirty = bool(subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "nmt"], capture_output=True, text=True).stdout.strip())
    with tempfile.TemporaryDirectory(prefix="bench_decode_") as tmp:
        trees = {"before": unpack(args.base, Path(tmp)), "after": ROOT}
        raw = {name: {"first_output_s": [], "exit_s": [], "help_s": [], "help_imports_tensorflow": [], "cli_output": [], "warm": []} for name in trees}
        if args.cold_only:
            return cold_only(trees, args, out)
        for r in range(args.rounds):
            order = list(trees) if r % 2 == 0 else list(trees)[::-1]
            for name in order:
                for _ in range(2):
                    first, end, line = cold_start(trees[name], args.model, args.sentence)
                    raw[name]["first_output_s"].append(round(first, 3))
                    raw[name]["exit_s"].append(round(end, 3))
                    raw[name]["cli_output"].append(line)
                seconds, imported = help_start(trees[name])
                raw[name]["help_s"].append(round(seconds, 3))
                raw[name]["help_imports_tensorflow"].append(imported)
                raw[name]["warm"].append(warm(trees[name], args))
                print(f"round {r + 1} {name}: first output {first:.2f} s, exit {end:.2f} s", flush=True)
    n = len(Path(args.input).read_text(encoding="utf-8").splitlines())
    summary = {}
    for name, d in raw.items():
        w = d["warm"]
        summary[name] = {
            "cold_start_first_output_s": median(d["first_output_s"]),
            "cold_start_exit_s": median(d["exit_s"]),
            "help_s": median(d["help_s"]),
            "help_imports_tensorflow": any(d["help_imports_tensorflow"]),
            "latency_10_words_ms": median([x["latency_ms"] for x in w]),
            # each process's fastest pass, then the median over processes
            "greedy_sentences_per_s": round(n / statistics.median([min(x["greedy_seconds"]) for x in w]), 1),
            "beam5_sentences_per_s": round(n / statistics.median([min(x["beam5_seconds"]) for x in w]), 1),
        }
    same = {
        "cli_output": raw["before"]["cli_output"] == raw["after"]["cli_output"],
        "latency_translation": all(a["latency_translation"] == b["latency_translation"] for a, b in zip(raw["before"]["warm"], raw["after"]["warm"])),
        "greedy": all(a["greedy_output"] == b["greedy_output"] for a, b in zip(raw["before"]["warm"], raw["after"]["warm"])),
    }
    same["greedy_per_round"] = [a["greedy_output"] == b["greedy_output"] for a, b in zip(raw["before"]["warm"], raw["after"]["warm"])]
    same["greedy_within_before"] = all(x["greedy_output"] == raw["before"]["warm"][0]["greedy_output"] for x in raw["before"]["warm"])
    same["greedy_within_after"] = all(x["greedy_output"] == raw["after"]["warm"][0]["greedy_output"] for x in raw["after"]["warm"])
    same |= compare_nbest(raw["before"]["warm"][-1]["beam5_output"], raw["after"]["warm"][-1]["beam5_output"])
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average_at_end": os.getloadavg(),
        "command": "python " + " ".join(sys.argv),
        "before": f"{args.base} ({base_rev})",
        "after": f"working tree at {head_rev}" + (" with uncommitted changes to nmt/" if dirty else ""),
        "sentences": n,
        "summary": summary,
        "identical_outputs": same,
        "raw": {
            name: {k: v for k, v in d.items() if k != "warm"} | {"warm": [{k: v for k, v in x.items() if not k.endswith("_output")} for x in d["warm"]]}
            for name, d in raw.items()
        },
    }
    (out / "result.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    outputs = {name: [{k: x[k] for k in ("greedy_output", "beam5_output")} for x in d["warm"]] for name, d in raw.items()}
    (out / "outputs.json").write_text(json.dumps(outputs, ensure_ascii=False) + "\n", encoding="utf-8")  # every process's, to find a stray one
    (out / "greedy.txt").write_text("".join((h[0][0] if h else "") + "\n" for h in raw["after"]["warm"][-1]["greedy_output"]), encoding="utf-8")
    print(json.dumps({"summary": summary, "identical_outputs": same}, indent=2))
    return 0 if all(same[k] is True for k in ("cli_output", "greedy", "beam5_nbest5_translations", "beam5_nbest5_as_printed")) else 1


if __name__ == "__main__":
    sys.exit(main())
