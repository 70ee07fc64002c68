"""Each stage's wall time and peak memory on synthetic corpora of 1 M and 5 M pairs (issue 16, item 4).

    nice -n 10 python benchmarks/scale_sweep.py                      # 1,000,000 and 5,000,000 pairs
    nice -n 10 python benchmarks/scale_sweep.py --sizes 200000 --work /tmp/scale
    python benchmarks/scale_sweep.py --table                         # the markdown table from the results

For each size: a TSV corpus of N pairs is written under --work: small_parallel_enja's 50,000
training pairs repeated, every copy after the first with one word of each side replaced by a
word drawn (by frequency) from that side of the corpus (seeded), so that the pairs are not
duplicates but look like the corpus. A clone of this repository's committed HEAD gets a
params.yaml with `data.corpus=custom` (format tsv, languages [en, ja], pretokenized, url and
sha256 of that file; everything else the defaults), and the stage scripts run there, one child
process each, in order: download, split, vocab, truecase. Wall time and peak resident memory
(`ru_maxrss` of the child, from `os.wait4`) are recorded per stage. Then:
- train: `stages/train.py` itself, with a Keras callback added to `fit` that notes the time of
  its batches and ends the process after --train-batches batches (a full epoch is out of reach):
  peak memory, seconds until `fit` starts and until the first batch, and batches/s after batch 10.
- input pipeline: `nmt.data.training_dataset` on the same split and vocabularies, iterated
  without training for --pipeline-seconds: batches/s (the first batch, which plans the epoch,
  timed apart) against the training step rate above.
Results: benchmarks/results/scale/<pairs>.json. The generated corpus and clone are deleted after
each size unless --keep.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks/results/scale"
STAGES = ("download", "split", "vocab", "truecase")

TRAIN_PROBE = """
import os, runpy, sys, time
import keras
N = int(os.environ["PROBE_BATCHES"])
class Probe(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        print(f"probe: fit {time.monotonic():.3f}", flush=True)
    def on_train_batch_end(self, batch, logs=None):
        if batch + 1 in (1, 10, N):
            print(f"probe: batch {batch + 1} {time.monotonic():.3f}", flush=True)
        if batch + 1 >= N:
            os._exit(0)
fit = keras.Model.fit
keras.Model.fit = lambda self, *a, callbacks=None, **k: fit(self, *a, callbacks=[*(callbacks or []), Probe()], **k)
sys.argv = ["stages/train.py"]
runpy.run_path("stages/train.py", run_name="__main__")
"""

PIPELINE_PROBE = """
import json, os, time
t0 = time.monotonic()
from nmt.artifacts import PATHS, read_split_part, read_vocabularies
from nmt.config import load_params
from nmt.data import training_dataset
from nmt.runtime import set_intra_op_threads
params = load_params()
set_intra_op_threads(params.train.intra_op_threads)
vocab = read_vocabularies(PATHS.vocab)
ids = read_split_part(PATHS.split, "train", vocab)
t1 = time.monotonic()
it = iter(training_dataset(ids, params.train.batch_size, seed=params.seed, first_epoch=0))
next(it)
t2 = time.monotonic()
n = tokens = 0
while time.monotonic() - t2 < float(os.environ["PROBE_SECONDS"]):
    _, _, weights = next(it)
    n, tokens = n + 1, tokens + int(weights.numpy().sum())
t3 = time.monotonic()
print("probe: " + json.dumps(dict(load_s=t1 - t0, first_batch_s=t2 - t1, batches=n, batches_per_s=n / (t3 - t2), target_tokens_per_s=tokens / (t3 - t2))), flush=True)
os._exit(0)  # not a normal exit: one with the generator-fed tf.data iterator still open hangs
"""


def make_corpus(pairs: int, path: Path, seed: int) -> dict:
    """A TSV of `pairs` pairs from small_parallel_enja's training split (see the module doc); its sha256."""
    with tarfile.open(ROOT / "data/mirror/small_parallel_enja.tar.gz") as tar:
        side = {lang: tar.extractfile(f"small_parallel_enja/train.{lang}").read().decode().splitlines() for lang in ("en", "ja")}
    base = [[line.split(" ") for line in side[lang]] for lang in ("en", "ja")]
    pool = [[w for words in sents for w in words] for sents in base]  # every word occurrence: draws by frequency
    rng = np.random.default_rng(seed)
    pos = rng.random((2, pairs))
    pick = [rng.integers(len(p), size=pairs) for p in pool]
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        chunk = []
        for i in range(pairs):
            j = i % len(base[0])
            cols = []
            for s in (0, 1):
                words = base[s][j]
                if i >= len(base[0]):
                    k = int(pos[s, i] * len(words))
                    words = [*words[:k], pool[s][pick[s][i]], *words[k + 1 :]]
                cols.append(" ".join(words))
            chunk.append(f"{cols[0]}\t{cols[1]}\n")
            if len(chunk) == 100_000 or i == pairs - 1:
                data = "".join(chunk).encode()
                f.write(data)
                digest.update(data)
                chunk = []
    return {"path": str(path), "bytes": path.stat().st_size, "sha256": digest.hexdigest()}


def make_clone(dest: Path, corpus: dict, rev: str) -> None:
    subprocess.run(["git", "clone", "-q", str(ROOT), str(dest)], check=True)
    subprocess.run(["git", "-C", str(dest), "checkout", "-q", rev], check=True)
    params = yaml.safe_load((dest / "params.yaml").read_text())
    params["data"].update(corpus="custom", url=corpus["path"], sha256=corpus["sha256"])
    params["data"]["custom"] = {"format": "tsv", "languages": ["en", "ja"], "pretokenized": True, "lowercase": False}
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def run_child(cwd: Path, argv: list[str], log: Path, *, env: dict | None = None, timeout: float = 3600) -> dict:
    """Run `argv` in `cwd`; its wall time, peak resident memory and the lines it marked "probe: ".

    The peak comes from GNU time (`%M`), a small process of its own: measured from this one, a
    child's ru_maxrss would start at this process's size, which exec hands on (Linux)."""
    env = {**os.environ, "PYTHONPATH": str(cwd), "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    rss = log.with_suffix(".rss")
    start = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.Popen(
            ["/usr/bin/time", "-o", str(rss), "-f", "%M", *argv], cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
    wall = time.monotonic() - start
    text = log.read_text(errors="replace")
    peak_kib = int(rss.read_text().split()[-1])
    probes = [line.split()[1:] for line in text.splitlines() if line.startswith("probe: ")]
    return {
        "rc": proc.returncode,
        "wall_s": round(wall, 1),
        "peak_rss_mib": round(peak_kib / 1024),
        "start": start,
        "probes": probes,
        "log_tail": text[-600:],
    }


def sweep_size(pairs: int, args) -> dict:
    work = Path(args.work) / str(pairs)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    t = time.monotonic()
    corpus = make_corpus(pairs, work / f"synthetic-{pairs}.tsv", seed=args.seed)
    corpus["generate_s"] = round(time.monotonic() - t, 1)
    print(f"== {pairs:,} pairs: {corpus['bytes'] / 1e6:.0f} MB in {corpus['generate_s']} s", flush=True)
    clone = work / "repo"
    make_clone(clone, corpus, args.rev)
    logs = work / "logs"
    logs.mkdir()
    out = {"pairs": pairs, "corpus": {k: v for k, v in corpus.items() if k != "path"}, "stages": {}}
    for stage in args.stages.split(","):
        r = run_child(clone, [sys.executable, f"stages/{stage}.py"], logs / f"{stage}.log")
        del r["start"], r["probes"]
        out["stages"][stage] = r
        print(f"  {stage}: rc {r['rc']}, {r['wall_s']} s, {r['peak_rss_mib']} MiB", flush=True)
        if r["rc"]:
            print(r["log_tail"], flush=True)
            return out
    for name in ("split", "vocab"):
        if (clone / f"metrics/{name}.json").exists():
            out[f"{name}_metrics"] = json.loads((clone / f"metrics/{name}.json").read_text())
    if args.no_train:
        if not args.keep:
            shutil.rmtree(work)
        return out

    r = run_child(clone, [sys.executable, "-c", TRAIN_PROBE], logs / "train.log", env={"PROBE_BATCHES": str(args.train_batches)}, timeout=args.train_timeout)
    marks = {("fit" if p[0] == "fit" else f"batch_{p[1]}"): float(p[-1]) - r["start"] for p in r.pop("probes")}
    del r["start"]
    r["batches"] = args.train_batches
    r["fit_start_s"] = round(marks["fit"], 1) if "fit" in marks else None
    r["first_batch_s"] = round(marks["batch_1"], 1) if "batch_1" in marks else None
    last = f"batch_{args.train_batches}"
    if "batch_10" in marks and last in marks:
        r["batches_per_s"] = round((args.train_batches - 10) / (marks[last] - marks["batch_10"]), 2)
    out["train"] = r
    print(f"  train: rc {r['rc']}, {r['wall_s']} s, {r['peak_rss_mib']} MiB, fit at {r['fit_start_s']} s, {r.get('batches_per_s')} batches/s", flush=True)

    r = run_child(clone, [sys.executable, "-c", PIPELINE_PROBE], logs / "pipeline.log", env={"PROBE_SECONDS": str(args.pipeline_seconds)})
    del r["start"]
    lines = r.pop("probes")
    r.update({k: round(v, 2) for k, v in json.loads(" ".join(lines[-1])).items()} if lines else {})
    out["input_pipeline"] = r
    print(f"  input pipeline: rc {r['rc']}, {r.get('batches_per_s')} batches/s, {r['peak_rss_mib']} MiB", flush=True)
    if not args.keep:
        shutil.rmtree(work)
    return out


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def table() -> str:
    rows = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json"), key=lambda p: (int(p.stem.split("-")[0]), p.stem))]
    head = "| pairs (kept for training) | " + " | ".join(STAGES) + " | train (to first batch) | input pipeline alone | training steps |\n"
    head += "|---" * (len(STAGES) + 4) + "|\n"
    for r in rows:
        cells = [f"{r['pairs']:,} ({r.get('split_metrics', {}).get('train_pairs', 0):,}) at {r['commit'][:7]}"]
        cells += [f"{r['stages'][s]['wall_s']} s, {r['stages'][s]['peak_rss_mib'] / 1024:.2f} GiB" if s in r["stages"] else "—" for s in STAGES]
        if "train" in r:
            t, p = r["train"], r["input_pipeline"]
            cells.append(f"{t['first_batch_s']} s, {t['peak_rss_mib'] / 1024:.2f} GiB")
            cells.append(f"{p.get('batches_per_s', 0):,.0f} batches/s ({p.get('first_batch_s')} s to the first), {p['peak_rss_mib'] / 1024:.2f} GiB")
            cells.append(f"{t.get('batches_per_s', 0):.1f} batches/s")
        else:
            cells += ["—"] * 3
        head += "| " + " | ".join(cells) + " |\n"
    return head


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000000,5000000")
    ap.add_argument("--work", default="/tmp/scale-sweep")
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--train-batches", type=int, default=200)
    ap.add_argument("--train-timeout", type=float, default=1200)
    ap.add_argument("--pipeline-seconds", type=float, default=30)
    ap.add_argument("--rev", default="HEAD", help="the commit of this repository whose stage code runs")
    ap.add_argument("--stages", default=",".join(STAGES), help="the stages to run, in order")
    ap.add_argument("--no-train", action="store_true", help="leave out the train and input pipeline measurements")
    ap.add_argument("--tag", default="", help="results go to <pairs>-<tag>.json")
    ap.add_argument("--keep", action="store_true", help="keep the corpus and clone under --work")
    ap.add_argument("--table", action="store_true", help="only print the table of benchmarks/results/scale/")
    args = ap.parse_args()
    if args.table:
        print(table())
        return 0
    RESULTS.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(["git", "rev-parse", args.rev], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    for pairs in (int(s) for s in args.sizes.split(",")):
        meta = {
            "command": " ".join(sys.argv),
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "commit": commit,
            "machine": f"{cpu_model()}, {os.cpu_count()} cores, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB",
            "load_before": os.getloadavg(),
        }
        result = sweep_size(pairs, args)
        result = {**meta, "load_after": os.getloadavg(), **result}
        (RESULTS / f"{pairs}{'-' + args.tag if args.tag else ''}.json").write_text(json.dumps(result, indent=1) + "\n")
    print(table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
