"""`nmt serve` under load, batching on and off, next to the offline batched rate, in one run.

    python benchmarks/bench_serve.py --bundle models/bundle      # writes benchmarks/results/serve/serve.json (--out)

For each server setting, a fresh `nmt serve` on 127.0.0.1 (a random free port) gets `--requests`
single-sentence TF Serving predict requests (`{"instances": [sentence]}`) from `--clients`
concurrent clients (asyncio + aiohttp in this process), each sending its next request as soon as
its last one is answered. The sentences are small_parallel_enja's raw test.en, cycled. Reported:
throughput (sentences/s, over the wall time of the whole load), p50 / p99 latency, errors (any
answer but 200, or none), and how many answers equal the offline translation of the same sentence.
Bounded: at most `--requests` per setting, and a setting stops sending after `--time-limit` s.
The offline figures are `Translator.translate` in this process on the same sentences, in batches
of 64 (the rate a server under load should approach) and one at a time (what it gets without
batching), each timed once after a warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))
from bench_speed import machine  # noqa: E402 (after the sys.path lines above)
from serve_helpers import running_server  # noqa: E402

SETTINGS = {  # name: nmt serve arguments
    "batching on (--max-batch 64 --max-wait-ms 5)": ["--max-batch", "64", "--max-wait-ms", "5"],
    "batching off (--max-batch 1 --max-wait-ms 0)": ["--max-batch", "1", "--max-wait-ms", "0"],
}


def test_sentences() -> list[str]:
    with tarfile.open(ROOT / "data/mirror/small_parallel_enja.tar.gz") as tar:
        return tar.extractfile("small_parallel_enja/test.en").read().decode("utf-8").splitlines()


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")


async def load(url: str, sentences: list[str], clients: int, time_limit: float) -> dict:
    import aiohttp

    todo = iter(enumerate(sentences))
    latencies, answers, errors = [], {}, []
    stop_at = time.perf_counter() + time_limit

    async def client(session):
        for i, s in todo:
            if time.perf_counter() > stop_at:
                return
            start = time.perf_counter()
            try:
                async with session.post(f"{url}/v1/models/nmt:predict", json={"instances": [s]}) as r:
                    body = await r.json()
                    if r.status != 200:
                        errors.append(f"{r.status}: {body.get('error')}")
                        continue
            except (TimeoutError, aiohttp.ClientError) as e:
                errors.append(f"{e.__class__.__name__}: {e}")
                continue
            latencies.append(time.perf_counter() - start)
            answers[i] = body["predictions"][0]

    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients), timeout=timeout) as session:
        for s in sentences[:clients]:  # warm-up, untimed
            async with session.post(f"{url}/v1/models/nmt:predict", json={"instances": [s]}) as r:
                await r.read()
        async with session.get(f"{url}/v1/stats") as r:
            before = (await r.json())["batches"]
        start = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(clients)))
        wall = time.perf_counter() - start
        async with session.get(f"{url}/v1/stats") as r:
            after = (await r.json())["batches"]
    batches = {int(k): v - before.get(k, 0) for k, v in after.items() if v > before.get(k, 0)}
    calls = sum(batches.values())
    return {
        "requests": len(latencies) + len(errors),
        "answered": len(latencies),
        "errors": len(errors),
        "first_errors": errors[:3],
        "wall_s": round(wall, 2),
        "sentences_per_s": round(len(latencies) / wall, 1),
        "p50_ms": round(1000 * percentile(latencies, 0.5), 1),
        "p99_ms": round(1000 * percentile(latencies, 0.99), 1),
        "mean_batch": round(sum(k * v for k, v in batches.items()) / calls, 1) if calls else None,
        "answers": answers,
    }


def offline(bundle: str, sentences: list[str], batch: int) -> tuple[float, list[str]]:
    from nmt.translate import Translator

    t = Translator(bundle)
    t.translate(sentences[:batch], batch_size=batch)  # warm-up: tracing
    start = time.perf_counter()
    if batch == 1:
        out = [t.translate([s], batch_size=1)[0] for s in sentences]
    else:
        out = t.translate(sentences, batch_size=batch)
    return len(sentences) / (time.perf_counter() - start), out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bundle", default="models/bundle")
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--time-limit", type=float, default=300, help="seconds of load per setting at most")
    ap.add_argument("--offline-single", type=int, default=300, help="sentences timed one at a time offline")
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/serve"))
    args = ap.parse_args()

    test = test_sentences()
    sentences = [test[i % len(test)] for i in range(args.requests)]
    rate64, reference = offline(args.bundle, sentences, 64)
    rate1, _ = offline(args.bundle, sentences[: args.offline_single], 1)
    result = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "command": " ".join(["python"] + sys.argv),
        "clients": args.clients,
        "requests": args.requests,
        "offline": {"batch 64": round(rate64, 1), "batch 1": round(rate1, 1)},
        "servers": {},
    }
    with tempfile.TemporaryDirectory() as logs:
        for name, flags in SETTINGS.items():
            with running_server(Path(args.bundle).resolve(), Path(logs), *flags) as server:
                run = asyncio.run(load(server.url, sentences, args.clients, args.time_limit))
            answers = run.pop("answers")
            run["same_as_offline"] = sum(answers[i] == reference[i] for i in answers)
            result["servers"][name] = run
    print(f"offline Translator: {rate64:.1f} sentences/s in batches of 64, {rate1:.1f} one at a time")
    print("| server | requests | errors | sentences/s | p50 ms | p99 ms | mean batch | same as offline |\n|---|---|---|---|---|---|---|---|")
    for name, r in result["servers"].items():
        print(
            f"| {name} | {r['requests']} | {r['errors']} | {r['sentences_per_s']} | {r['p50_ms']} | {r['p99_ms']} | "
            f"{r['mean_batch']} | {r['same_as_offline']} / {r['answered']} |"
        )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "serve.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
