"""Our training and decoding against the classic Keras seq2seq recipe, side by side.

    python benchmarks/bench_speed.py                              # char level, 10,000 pairs (the classic's setting)
    python benchmarks/bench_speed.py --level word --pairs 10000
    python benchmarks/bench_speed.py --level word --pairs 50000   # the classic's arrays would not fit: their size is reported
    python benchmarks/bench_speed.py --level word --units 1024    # the word-level classic at its own size

Both sides use the first N pairs of the committed fra-eng corpus (shortest first, as the classic
example reads them) and the same model: one LSTM layer of `--units` (256) units, no attention.

- classic, char level: the keras.io `lstm_seq2seq` recipe, reimplemented here: dense float32
  one-hot arrays for encoder input, decoder input and targets, categorical cross-entropy,
  rmsprop, `model.fit` on the numpy arrays, and decoding one sentence at a time with one
  `predict()` call per output token.
- classic, word level: the word-level recipe this project started from (Embedding 256 -> LSTM
  1024 encoder and decoder, 23,437,898 parameters on small_parallel_enja): integer ids through
  `Embedding` layers on both sides, one-hot *targets* only (`keras.utils.to_categorical`),
  categorical cross-entropy, adam, `model.fit` on numpy arrays, and the same one-`predict()`-
  per-token decoding. `--units 1024` is its own size; the default 256 is ours.
- ours: the pipeline's text pipeline and vocabularies, integer ids in length-bucketed `tf.data`
  batches padded to their own longest sentence, masked sparse cross-entropy (nmt.loss), and
  batched greedy / beam search (nmt.decoding) over the exported inference models, with the
  pipeline's default `train.intra_op_threads` (the classic runs with TensorFlow's own choice,
  as its users do; one thread per op measured no faster for it).

Each measurement runs in a child process of its own (peak resident memory from `os.wait4`),
classic and ours alternating (A B A B ...); the table gives medians. Training time is that of
the second epoch (the first includes tracing). Both train on all N pairs with no validation
split. Decoding uses untrained weights and the same fixed output length for both sides (the
longest target), so both do exactly the same number of steps per sentence: it measures the
cost of the decode loops, not of a model's habit of stopping early.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "data/mirror/fra-eng.txt.gz"
UNITS, EMBEDDING, BATCH = 256, 64, 64  # UNITS and EMBEDDING are set per run (--units; 256 wide at word level)


# ---- data, shared -------------------------------------------------------------------------
def read_pairs(n: int, level: str) -> tuple[list[list[str]], list[list[str]]]:
    """Source and target token lists of the first n pairs (characters, or Moses words)."""
    from nmt.text import TextPipeline

    src_pipe, tgt_pipe = TextPipeline("en", level), TextPipeline("fr", level)
    src, tgt = [], []
    with gzip.open(CORPUS, "rt", encoding="utf-8") as f:
        for _, line in zip(range(n), f):
            en, fr = line.rstrip("\n").split("\t")[:2]
            src.append(src_pipe.tokens(src_pipe.prepare(en)))
            tgt.append(tgt_pipe.tokens(tgt_pipe.prepare(fr)))
    return src, tgt


def one_hot_bytes(src, tgt, level: str = "char") -> int:
    """What the classic's float32 one-hot arrays take: at char level encoder input, decoder input
    and target; at word level the target alone (the inputs are integer ids)."""
    n, enc_len, dec_len = len(src), max(map(len, src)), max(map(len, tgt)) + 2
    enc_vocab, dec_vocab = len({t for s in src for t in s}), len({t for s in tgt for t in s}) + 2
    if level == "word":
        return 4 * n * dec_len * dec_vocab
    return 4 * n * (enc_len * enc_vocab + 2 * dec_len * dec_vocab)


# ---- the classic recipe --------------------------------------------------------------------
def classic(src, tgt):
    import keras
    import numpy as np

    start, end = "<s>", "</s>"  # the classic uses "\t" and "\n"; tokens here may be words
    tgt = [[start, *t, end] for t in tgt]
    enc_tokens = sorted({t for s in src for t in s})
    dec_tokens = sorted({t for s in tgt for t in s})
    enc_index, dec_index = {t: i for i, t in enumerate(enc_tokens)}, {t: i for i, t in enumerate(dec_tokens)}
    enc_len, dec_len = max(map(len, src)), max(map(len, tgt))
    enc_in = np.zeros((len(src), enc_len, len(enc_tokens)), dtype="float32")
    dec_in = np.zeros((len(src), dec_len, len(dec_tokens)), dtype="float32")
    dec_out = np.zeros((len(src), dec_len, len(dec_tokens)), dtype="float32")
    for i, (s, t) in enumerate(zip(src, tgt)):
        for j, tok in enumerate(s):
            enc_in[i, j, enc_index[tok]] = 1.0
        for j, tok in enumerate(t):
            dec_in[i, j, dec_index[tok]] = 1.0
            if j > 0:
                dec_out[i, j - 1, dec_index[tok]] = 1.0

    encoder_inputs = keras.Input(shape=(None, len(enc_tokens)))
    _, h, c = keras.layers.LSTM(UNITS, return_state=True)(encoder_inputs)
    decoder_inputs = keras.Input(shape=(None, len(dec_tokens)))
    decoder_lstm = keras.layers.LSTM(UNITS, return_sequences=True, return_state=True)
    decoder_outputs, _, _ = decoder_lstm(decoder_inputs, initial_state=[h, c])
    decoder_dense = keras.layers.Dense(len(dec_tokens), activation="softmax")
    model = keras.Model([encoder_inputs, decoder_inputs], decoder_dense(decoder_outputs))
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])

    def train() -> float:
        times = []
        for _ in range(2):
            t0 = time.perf_counter()
            model.fit([enc_in, dec_in], dec_out, batch_size=BATCH, epochs=1, verbose=0)
            times.append(time.perf_counter() - t0)
        return times[1]

    def decode(n: int) -> float:
        encoder_model = keras.Model(encoder_inputs, [h, c])
        state_h, state_c = keras.Input(shape=(UNITS,)), keras.Input(shape=(UNITS,))
        out, h2, c2 = decoder_lstm(decoder_inputs, initial_state=[state_h, state_c])
        decoder_model = keras.Model([decoder_inputs, state_h, state_c], [decoder_dense(out), h2, c2])
        t0 = time.perf_counter()
        for i in range(n):  # decode_sequence(), one sentence at a time, one predict() per token
            states = encoder_model.predict(enc_in[i : i + 1], verbose=0)
            target = np.zeros((1, 1, len(dec_tokens)), dtype="float32")
            target[0, 0, dec_index[start]] = 1.0
            for _ in range(dec_len):  # fixed length, as for ours (see the docstring)
                probs, sh, sc = decoder_model.predict([target, *states], verbose=0)
                token = int(np.argmax(probs[0, -1, :]))
                target = np.zeros((1, 1, len(dec_tokens)), dtype="float32")
                target[0, 0, token] = 1.0
                states = [sh, sc]
        return time.perf_counter() - t0

    tokens = sum(len(t) - 1 for t in tgt)  # predicted per epoch: the target and its end token
    return (
        model,
        train,
        decode,
        tokens,
        {"enc_vocab": len(enc_tokens), "dec_vocab": len(dec_tokens), "arrays_bytes": enc_in.nbytes + dec_in.nbytes + dec_out.nbytes, "dec_len": dec_len},
    )


def classic_word(src, tgt):
    """The word-level seed recipe: Embedding -> LSTM encoder and decoder, one-hot targets from
    `to_categorical`, categorical cross-entropy, adam; one `predict()` per output token."""
    import keras
    import numpy as np

    start, end = "<s>", "</s>"
    tgt = [[start, *t, end] for t in tgt]
    enc_tokens = sorted({t for s in src for t in s})
    dec_tokens = sorted({t for s in tgt for t in s})
    # Id 0 is padding, as in the recipe's zero-filled arrays: vocabularies are one larger.
    enc_index, dec_index = {t: i + 1 for i, t in enumerate(enc_tokens)}, {t: i + 1 for i, t in enumerate(dec_tokens)}
    enc_vocab, dec_vocab = len(enc_tokens) + 1, len(dec_tokens) + 1
    enc_len, dec_len = max(map(len, src)), max(map(len, tgt))
    enc_in = np.zeros((len(src), enc_len), dtype="int32")
    dec_in = np.zeros((len(src), dec_len), dtype="int32")
    dec_target_ids = np.zeros((len(src), dec_len), dtype="int32")
    for i, (s, t) in enumerate(zip(src, tgt)):
        enc_in[i, : len(s)] = [enc_index[tok] for tok in s]
        dec_in[i, : len(t)] = [dec_index[tok] for tok in t]
        dec_target_ids[i, : len(t) - 1] = [dec_index[tok] for tok in t[1:]]
    dec_out = keras.utils.to_categorical(dec_target_ids, num_classes=dec_vocab).astype("float32")

    encoder_inputs = keras.Input(shape=(None,))
    enc_emb = keras.layers.Embedding(enc_vocab, EMBEDDING)(encoder_inputs)
    _, h, c = keras.layers.LSTM(UNITS, return_state=True)(enc_emb)
    decoder_inputs = keras.Input(shape=(None,))
    dec_emb_layer = keras.layers.Embedding(dec_vocab, EMBEDDING)
    decoder_lstm = keras.layers.LSTM(UNITS, return_sequences=True, return_state=True)
    decoder_outputs, _, _ = decoder_lstm(dec_emb_layer(decoder_inputs), initial_state=[h, c])
    decoder_dense = keras.layers.Dense(dec_vocab, activation="softmax")
    model = keras.Model([encoder_inputs, decoder_inputs], decoder_dense(decoder_outputs))
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])

    def train() -> float:
        times = []
        for _ in range(2):
            t0 = time.perf_counter()
            model.fit([enc_in, dec_in], dec_out, batch_size=BATCH, epochs=1, verbose=0)
            times.append(time.perf_counter() - t0)
        return times[1]

    def decode(n: int) -> float:
        encoder_model = keras.Model(encoder_inputs, [h, c])
        state_h, state_c = keras.Input(shape=(UNITS,)), keras.Input(shape=(UNITS,))
        out, h2, c2 = decoder_lstm(dec_emb_layer(decoder_inputs), initial_state=[state_h, state_c])
        decoder_model = keras.Model([decoder_inputs, state_h, state_c], [decoder_dense(out), h2, c2])
        t0 = time.perf_counter()
        for i in range(n):  # decode_sequence(), one sentence at a time, one predict() per token
            states = encoder_model.predict(enc_in[i : i + 1], verbose=0)
            target = np.array([[dec_index[start]]], dtype="int32")
            for _ in range(dec_len):  # fixed length, as for ours (see the docstring)
                probs, sh, sc = decoder_model.predict([target, *states], verbose=0)
                target = np.array([[int(np.argmax(probs[0, -1, :]))]], dtype="int32")
                states = [sh, sc]
        return time.perf_counter() - t0

    tokens = sum(len(t) - 1 for t in tgt)
    return (
        model,
        train,
        decode,
        tokens,
        {"enc_vocab": enc_vocab, "dec_vocab": dec_vocab, "arrays_bytes": enc_in.nbytes + dec_in.nbytes + dec_out.nbytes, "dec_len": dec_len},
    )


# ---- ours ----------------------------------------------------------------------------------
def ours(src, tgt):
    import numpy as np

    from nmt.config import ModelParams, TrainParams
    from nmt.data import ParallelIds, batches_per_epoch, pad, training_dataset
    from nmt.decoding import Decoder
    from nmt.loss import compile_model
    from nmt.model import build_seq2seq
    from nmt.vocab import build_vocab

    src_vocab, tgt_vocab = build_vocab(src), build_vocab(tgt)
    data = ParallelIds([np.asarray(src_vocab.encode(s), np.int32) for s in src], [np.asarray(tgt_vocab.encode(t), np.int32) for t in tgt])
    params = ModelParams(cell="lstm", embedding_dim=EMBEDDING, units=UNITS, layers=1, attention="none")
    seq = build_seq2seq(params, len(src_vocab), len(tgt_vocab), seed=0)
    compile_model(seq.training, TrainParams(batch_size=BATCH))
    steps = batches_per_epoch(len(data), BATCH)
    dataset = training_dataset(data, BATCH, seed=0, first_epoch=0)
    dec_len = max(map(len, tgt)) + 1

    def train() -> float:
        times = []
        for epoch in range(2):
            t0 = time.perf_counter()
            seq.training.fit(dataset, epochs=epoch + 1, initial_epoch=epoch, steps_per_epoch=steps, shuffle=False, verbose=0)
            times.append(time.perf_counter() - t0)
        return times[1]

    decoder = Decoder(seq.inference)

    def decode(n: int, beam: int = 1) -> float:
        limits = np.full(min(n, len(data)), dec_len, np.int32)
        batches = [pad(data.source[i : min(i + 64, len(limits))]) for i in range(0, len(limits), 64)]
        run = (lambda b: decoder.greedy(b, limits[: len(b)])) if beam == 1 else (lambda b: decoder.beam(b, limits[: len(b)], beam, 1.0))
        run(batches[0])  # trace once
        t0 = time.perf_counter()
        for b in batches:
            run(b)
        return time.perf_counter() - t0

    tokens = sum(len(t) + 1 for t in tgt)
    return seq.training, train, decode, tokens, {"enc_vocab": len(src_vocab), "dec_vocab": len(tgt_vocab), "dec_len": dec_len}


# ---- one measurement per child process -----------------------------------------------------
def child(job: dict) -> dict:
    import keras
    import tensorflow as tf

    global UNITS, EMBEDDING
    UNITS, EMBEDDING = job["units"], job["embedding"]

    if job["side"] == "ours":  # ours runs with its pipeline's default thread count, the classic with TensorFlow's
        from nmt.config import TrainParams
        from nmt.runtime import set_intra_op_threads

        set_intra_op_threads(TrainParams().intra_op_threads)
    keras.utils.set_random_seed(0)
    src, tgt = read_pairs(job["pairs"], job["level"])
    if job["side"] == "classic" and one_hot_bytes(src, tgt, job["level"]) > job["max_bytes"]:
        return {"skipped": f"one-hot arrays need {one_hot_bytes(src, tgt, job['level']) / 2**30:.1f} GiB"}
    recipe = ours if job["side"] == "ours" else classic_word if job["level"] == "word" else classic
    model, train, decode, tokens, info = recipe(src, tgt)
    out = {"params": model.count_params(), "target_tokens": tokens, "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(), **info}
    if job["task"] == "train":
        seconds = train()
        out |= {"seconds_per_epoch": seconds, "target_tokens_per_second": tokens / seconds}
    elif job["task"] == "decode":
        n = job["sentences"]
        out |= {"sentences": n, "greedy_sentences_per_second": n / decode(n)}
        if job["side"] == "ours":
            out |= {"beam5_sentences_per_second": n / decode(n, beam=5)}
    return out


def measure(job: dict) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.Popen([sys.executable, __file__, "--child", json.dumps(job)], stdout=subprocess.PIPE, env=env, text=True)
    stdout = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"child {job} failed with status {status}")
    result = json.loads(stdout.strip().splitlines()[-1])
    return {**job, **result, "peak_rss_mib": usage.ru_maxrss / 1024}


def flops_per_target_token(info: dict, src_tokens: float, tgt_tokens: float, side: str, level: str) -> float:
    """Training FLOPs per target token: 3x the forward pass (backward ~ 2x forward)."""
    one_hot_inputs = side == "classic" and level == "char"  # a one-hot input is a dense matmul; an Embedding a lookup
    enc_in = info["enc_vocab"] if one_hot_inputs else EMBEDDING
    dec_in = info["dec_vocab"] if one_hot_inputs else EMBEDDING
    lstm = lambda inp: 2 * 4 * (inp + UNITS) * UNITS  # noqa: E731
    forward = (src_tokens * lstm(enc_in) + tgt_tokens * (lstm(dec_in) + 2 * UNITS * info["dec_vocab"])) / tgt_tokens
    return 3 * forward


def machine() -> dict:
    info = Path("/proc/cpuinfo").read_text()
    field = lambda name: next((l.split(":", 1)[1].strip() for l in info.splitlines() if l.startswith(name)), "?")  # noqa: E731,E741
    flags = field("flags").split()
    # FP32 FLOPs a cycle a core with two FMA units: 16-wide on AVX-512, 8-wide on AVX2. AMD's Zen 4
    # (family 25) runs AVX-512 on 256-bit units, so it peaks as AVX2 does; Zen 5 (26) is 512-bit.
    zen4_or_older = field("vendor_id") == "AuthenticAMD" and int(field("cpu family")) < 26
    per_cycle = 64 if "avx512f" in flags and not zen4_or_older else 32 if "avx2" in flags and "fma" in flags else 8
    mem = next(line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")).split()[1]
    mhz = float(field("cpu MHz"))
    return {
        "cpu": field("model name"),
        "cores": os.cpu_count(),
        "mhz": mhz,
        "ram_gib": round(int(mem) / 2**20, 1),
        "fp32_flops_per_cycle": per_cycle,
        "peak_gflops": os.cpu_count() * mhz * 1e6 * per_cycle / 1e9,
        "python": platform.python_version(),
    }


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--level", choices=["char", "word"], default="char")
    ap.add_argument("--pairs", type=int, default=10_000)
    ap.add_argument("--units", type=int, default=256, help="LSTM units on both sides (the word-level classic's own: 1024)")
    ap.add_argument("--embedding", type=int, help="embedding width (default: 64 at char level, 256 at word level)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--decode-sentences", type=int, default=1000, help="ours")
    ap.add_argument("--classic-decode-sentences", type=int, default=20)
    ap.add_argument("--max-classic-gib", type=float, default=16.0, help="skip the classic when its arrays need more")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0

    global UNITS, EMBEDDING
    UNITS, EMBEDDING = args.units, args.embedding or (256 if args.level == "word" else 64)
    base = {"pairs": args.pairs, "level": args.level, "units": UNITS, "embedding": EMBEDDING, "max_bytes": int(args.max_classic_gib * 2**30)}
    runs = []
    for r in range(args.repeats):  # A B A B: drift on a shared machine hits both
        for side in ("classic", "ours"):
            for task in ("train", "decode"):
                n = args.classic_decode_sentences if side == "classic" else args.decode_sentences
                result = measure({**base, "side": side, "task": task, "sentences": n})
                print(
                    f"  repeat {r + 1} {side} {task}: "
                    + ", ".join(
                        f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in result.items() if k not in base and k not in ("side", "task")
                    ),
                    flush=True,
                )
                runs.append(result)

    src, tgt = read_pairs(args.pairs, args.level)
    src_avg, tgt_avg = sum(map(len, src)) / len(src), sum(map(len, tgt)) / len(tgt)
    mach = machine()
    table = {}
    for side in ("classic", "ours"):
        train = [r for r in runs if r["side"] == side and r["task"] == "train"]
        decode = [r for r in runs if r["side"] == side and r["task"] == "decode"]
        row = {"train_peak_rss_mib": median([r["peak_rss_mib"] for r in train])}
        if all("skipped" not in r for r in train):
            row |= {k: median([r[k] for r in train]) for k in ("seconds_per_epoch", "target_tokens_per_second")}
            flops = flops_per_target_token(train[0], src_avg, tgt_avg + 1, side, args.level)
            row |= {"gflop_per_target_token": flops / 1e9, "achieved_gflops": flops * row["target_tokens_per_second"] / 1e9}
        else:
            row["skipped"] = train[0]["skipped"]
        row |= {k: median([r[k] for r in decode]) for k in ("greedy_sentences_per_second", "beam5_sentences_per_second") if k in decode[0]}
        row["arrays_gib"] = one_hot_bytes(src, tgt, args.level) / 2**30
        row["decode_peak_rss_mib"] = median([r["peak_rss_mib"] for r in decode])
        table[side] = row

    def cell(side, key, fmt="{:,.1f}"):
        v = table[side].get(key)
        return fmt.format(v) if isinstance(v, (int, float)) else (table[side].get("skipped", "–") if key == "seconds_per_epoch" else "–")

    ratio = lambda key, inverse=False: (  # noqa: E731
        f"{(table['classic'][key] / table['ours'][key] if inverse else table['ours'][key] / table['classic'][key]):.1f}×"
        if key in table["classic"] and key in table["ours"]
        else "–"
    )
    lines = [
        f"{args.level} level, first {args.pairs:,} fra-eng pairs, Embedding {EMBEDDING}, LSTM {UNITS}, no attention; medians of {args.repeats} "
        f"(alternating); {mach['cpu']}, {mach['cores']} cores, {mach['ram_gib']} GiB; {datetime.date.today()}",
        "",
        f"| | classic ({'Embedding, one-hot targets' if args.level == 'word' else 'one-hot'}, predict loop) | ours | ours / classic |",
        "|---|---|---|---|",
        f"| training: seconds per epoch | {cell('classic', 'seconds_per_epoch')} | {cell('ours', 'seconds_per_epoch')} | {ratio('seconds_per_epoch', True).replace('×', '× faster')} |",
        f"| training: target tokens / s | {cell('classic', 'target_tokens_per_second', '{:,.0f}')} | {cell('ours', 'target_tokens_per_second', '{:,.0f}')} | {ratio('target_tokens_per_second')} |",
        f"| one-hot training arrays (GiB) | {table['classic']['arrays_gib']:.2f}{' (targets)' if args.level == 'word' else ''} | none (integer ids, streamed) | |",
        f"| training: peak RSS (MiB) | {cell('classic', 'train_peak_rss_mib', '{:,.0f}')} | {cell('ours', 'train_peak_rss_mib', '{:,.0f}')} | |",
        f"| training: GFLOP per target token | {cell('classic', 'gflop_per_target_token', '{:.4f}')} | {cell('ours', 'gflop_per_target_token', '{:.4f}')} | |",
        f"| training: achieved GFLOP/s (peak {mach['peak_gflops']:.0f}) | {cell('classic', 'achieved_gflops')} | {cell('ours', 'achieved_gflops')} | |",
        f"| decoding greedy: sentences / s | {cell('classic', 'greedy_sentences_per_second', '{:,.2f}')} | {cell('ours', 'greedy_sentences_per_second', '{:,.1f}')} | {ratio('greedy_sentences_per_second')} |",
        f"| decoding beam 5: sentences / s | – | {cell('ours', 'beam5_sentences_per_second', '{:,.1f}')} | "
        + (
            f"{table['ours']['beam5_sentences_per_second'] / table['classic']['greedy_sentences_per_second']:.1f}× classic greedy |"
            if "greedy_sentences_per_second" in table["classic"]
            else "– |"
        ),
        f"| decoding: peak RSS (MiB) | {cell('classic', 'decode_peak_rss_mib', '{:,.0f}')} | {cell('ours', 'decode_peak_rss_mib', '{:,.0f}')} | |",
    ]
    print("\n".join(lines))
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / (f"speed-{args.level}-{args.pairs}.json" if args.units == 256 else f"speed-{args.level}-{args.pairs}-units{args.units}.json")
    out.write_text(
        json.dumps(
            {"command": " ".join(sys.argv), "date": str(datetime.date.today()), "machine": mach, "table": table, "runs": runs, "markdown": lines}, indent=1
        )
    )
    print(f"\nraw figures: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
