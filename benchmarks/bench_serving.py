"""Throughput of the serving SavedModel next to the Python Translator, on one bundle.

    python benchmarks/bench_serving.py --bundle models/bundle          # writes benchmarks/results/serving/

Both translate the same raw test sentences (small_parallel_enja's test.en, as a user would type
them) in batches of 1 and of 64, greedy and beam 5, in this one process: the Python path is
`Translator.translate` (text pipeline in Python, decode loop in a tf.function); the SavedModel
path is its `translate` / `translate_beam` signature (everything in one graph), loaded with
`tf.saved_model.load`. The SavedModel is (re)written from the bundle into a temporary folder
first, so the figures are of this checkout's code. Each figure is the median of `--repeats`
timed passes after one warm-up batch (tracing excluded). Also reported: how many outputs of the
two paths are identical, batch for batch (the Translator sorts each batch by length, the
SavedModel does not; padding is the same, row order not).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_speed import machine, median  # noqa: E402


def test_sentences(n: int) -> list[str]:
    with tarfile.open(ROOT / "data/mirror/small_parallel_enja.tar.gz") as tar:
        return tar.extractfile("small_parallel_enja/test.en").read().decode("utf-8").splitlines()[:n]


def timed(fn, batches, repeats: int) -> tuple[float, list[str]]:
    """Sentences per second (median over repeats) and the outputs of the last pass."""
    fn(batches[0])  # warm-up: tracing
    rates = []
    for _ in range(repeats):
        start, out = time.perf_counter(), []
        for b in batches:
            out += fn(b)
        rates.append(sum(map(len, batches)) / (time.perf_counter() - start))
    return median(rates), out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bundle", default="models/bundle")
    ap.add_argument("--sentences", type=int, default=256, help="sentences at batch 64 (a quarter of them at batch 1)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/serving"))
    args = ap.parse_args()

    import tensorflow as tf

    from nmt.bundle import load_bundle
    from nmt.serving import save_serving_model
    from nmt.translate import Translator

    bundle = load_bundle(args.bundle)
    translator = Translator(bundle)
    tmp = Path(tempfile.mkdtemp(prefix="bench_serving."))
    start = time.perf_counter()
    path = save_serving_model(bundle, tmp)
    export_seconds = time.perf_counter() - start
    sig = tf.saved_model.load(str(path)).signatures
    sentences = test_sentences(args.sentences)

    def saved(beam):
        def run(batch):
            x = tf.constant(batch)
            out = (
                sig["translate"](sentences=x) if beam == 1 else sig["translate_beam"](sentences=x, beam_size=tf.constant(beam), length_penalty=tf.constant(1.0))
            )
            return [s.decode("utf-8") for s in out["translations"].numpy()]

        return run

    rows = []
    for beam in (1, 5):
        for batch_size in (1, 64):
            n = len(sentences) if batch_size == 64 else len(sentences) // 4
            if beam == 5 and batch_size == 1:
                n //= 2
            batches = [sentences[i : i + batch_size] for i in range(0, n, batch_size)]
            py_rate, py_out = timed(lambda b: translator.translate(b, beam_size=beam, batch_size=64), batches, args.repeats)  # noqa: B023 (called here)
            sm_rate, sm_out = timed(saved(beam), batches, args.repeats)
            row = {
                "search": "greedy" if beam == 1 else f"beam {beam}",
                "batch_size": batch_size,
                "sentences": n,
                "python_sentences_per_s": round(py_rate, 1),
                "savedmodel_sentences_per_s": round(sm_rate, 1),
                "identical_outputs": sum(a == b for a, b in zip(py_out, sm_out)),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    result = {
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "bundle": str(args.bundle),
        "bundle_config": {k: v for k, v in bundle.config.to_dict().items() if k in ("source", "target", "model", "corpus")},
        "savedmodel_export_seconds": round(export_seconds, 1),
        "savedmodel_mib": round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20, 1),
        "repeats": args.repeats,
        "rows": rows,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "serving.json").write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out / 'serving.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
