"""A tiny project folder (data/split, data/vocab) that the real training function and stage
scripts can run in within seconds, for the tests of what must survive kills and variants."""

import json
import os
import sys
from pathlib import Path

from nmt.config import Params, parse_params
from nmt.text import TextPipeline
from nmt.vocab import build_vocab

ROOT = Path(__file__).resolve().parents[1]
_SRC = [
    "i like tea .",
    "you like coffee .",
    "he likes green tea .",
    "we drink water .",
    "they like water .",
    "i drink coffee .",
    "you drink green tea .",
    "he likes water .",
]
_TGT = [
    "私 は お茶 が 好き だ 。",
    "あなた は コーヒー が 好き だ 。",
    "彼 は 緑茶 が 好き だ 。",
    "私 たち は 水 を 飲 む 。",
    "彼 ら は 水 が 好き だ 。",
    "私 は コーヒー を 飲 む 。",
    "あなた は 緑茶 を 飲 む 。",
    "彼 は 水 が 好き だ 。",
]

# Params of a tiny run: a second per epoch. intra_op_threads 0 so that several runs can share
# one test process (TensorFlow fixes its thread count when it starts).
TINY = {
    "epochs": 2,
    "model": {"embedding_dim": 4, "units": 4, "attention": "dot"},
    "train": {"batch_size": 4, "save_every": 1, "keep_last": 2, "intra_op_threads": 0, "average_last": 1},
}


def tiny_params(**over) -> Params:
    """TINY with sections overridden, e.g. tiny_params(model={"units": 8})."""
    raw = json.loads(json.dumps(TINY))
    for key, value in over.items():
        raw[key] = {**raw.get(key, {}), **value} if isinstance(value, dict) else value
    return parse_params(raw)


def make_project(root: Path) -> Path:
    """data/split and data/vocab of a tiny en->ja corpus in `root` (as the split and vocab stages write them)."""
    split, vocab = root / "data/split", root / "data/vocab"
    split.mkdir(parents=True)
    vocab.mkdir(parents=True)
    for part, rows in (("train", range(8)), ("dev", range(0, 8, 2)), ("test", range(1, 8, 2))):
        (split / f"{part}.src").write_text("".join(f"{_SRC[i]}\n" for i in rows), encoding="utf-8")
        (split / f"{part}.tgt").write_text("".join(f"{_TGT[i]}\n" for i in rows), encoding="utf-8")
    src, tgt = TextPipeline("en", "word", True), TextPipeline("ja", "word", False)
    text = {"corpus": "tiny", "pretokenized": True, "source": src.to_dict(), "target": tgt.to_dict()}
    (split / "text.json").write_text(json.dumps(text), encoding="utf-8")
    (vocab / "text.json").write_text(json.dumps(text), encoding="utf-8")
    build_vocab(src.tokens(s) for s in _SRC).save(vocab / "source.json")
    build_vocab(tgt.tokens(s) for s in _TGT).save(vocab / "target.json")
    return root


def paths(root: Path):
    from nmt.artifacts import Paths

    return Paths(
        raw=root / "data/raw",
        split=root / "data/split",
        vocab=root / "data/vocab",
        trained=root / "models/train",
        checkpoints=root / "models/checkpoints",
        bundle=root / "models/bundle",
        metrics=root / "metrics",
        timings=root / "timings",
    )


def train(params, where):
    """What the train stage does, in this process: train, then write models/train."""
    from nmt.artifacts import write_trained
    from nmt.training import train as train_model

    result = train_model(params, where)
    if result is not None:
        write_trained(where.trained, result.model, result.info)
    return result


def env(tmpdir: Path | None = None) -> dict:
    """A subprocess environment that imports this checkout's `nmt`; TMPDIR moved to `tmpdir` if given."""
    out = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2", "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    if tmpdir is not None:
        out["TMPDIR"] = str(tmpdir)
    return out
