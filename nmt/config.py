"""Typed, validated parameters: `params.yaml` parsed once into frozen dataclasses.

Every stage starts with `load_params()`. Unknown keys (a typo such as `model.atention`),
wrong types and out-of-range values are all collected and reported in one `ParamsError`,
so a bad `dvc exp run -S ...` fails at once instead of hours later.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from nmt.errors import UserError
from nmt.limits import MAX_LEN_A, MAX_LEN_B


class ParamsError(UserError, ValueError):
    """Raised with every problem found in the parameters, one per line."""


def _range(lo=None, hi=None, *, lo_open=False, hi_open=False):
    return {"lo": lo, "hi": hi, "lo_open": lo_open, "hi_open": hi_open}


def _f(default, **rng):
    """A field with a default and an optional numeric range."""
    kw = {"metadata": _range(**rng)} if rng else {}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), **kw)
    return field(default=default, **kw)


@dataclass(frozen=True)
class CustomCorpusParams:
    format: Literal["tsv", "paired"] = "tsv"
    languages: list[str] = _f(["en", "xx"])
    pretokenized: bool = False
    lowercase: bool = False


@dataclass(frozen=True)
class DataParams:
    corpus: Literal["small_parallel_enja", "fra_eng", "custom"] = "small_parallel_enja"
    reverse: bool = False
    url: str | None = None
    sha256: str | None = None
    custom: CustomCorpusParams = field(default_factory=CustomCorpusParams)
    max_len: int = _f(50, lo=1)
    dev_size: int = _f(1000, lo=1)
    test_size: int = _f(1000, lo=1)
    max_train_pairs: int | None = _f(None, lo=1)
    segmenter: Literal["auto", "whitespace", "mecab", "sentencepiece"] = "auto"
    segmenter_size: int = _f(8000, lo=50)


@dataclass(frozen=True)
class VocabParams:
    level: Literal["word", "char", "subword"] = "word"
    min_freq: int = _f(2, lo=1)
    max_size: int = _f(30000, lo=5)
    subword_size: int = _f(8000, lo=50)


@dataclass(frozen=True)
class ModelParams:
    cell: Literal["lstm", "gru"] = "lstm"
    embedding_dim: int = _f(256, lo=1)
    units: int = _f(256, lo=1)
    layers: int = _f(1, lo=1)
    bidirectional: bool = False
    attention: Literal["none", "dot", "general", "additive"] = "dot"
    dropout: float = _f(0.2, lo=0.0, hi=1.0, hi_open=True)


@dataclass(frozen=True)
class TrainParams:
    batch_size: int = _f(64, lo=1)
    learning_rate: float = _f(0.001, lo=0.0, lo_open=True)
    clipnorm: float | None = _f(5.0, lo=0.0, lo_open=True)
    save_every: int = _f(5, lo=1)
    keep_last: int = _f(3, lo=1)
    keep_runs: int = _f(2, lo=0)
    strategy: Literal["default", "mirrored", "multi_worker"] = "default"
    intra_op_threads: int = _f(1, lo=0)
    average_last: int = _f(3, lo=1)
    select: Literal["val_loss", "dev_bleu"] = "val_loss"
    patience: int = _f(0, lo=0)
    label_smoothing: float = _f(0.0, lo=0.0, hi=1.0, hi_open=True)
    subword_sampling: float = _f(0.0, lo=0.0)  # 0: off; alpha of sentencepiece's sampling (vocab.level=subword)
    precision: Literal["float32", "bfloat16"] = "bfloat16"


@dataclass(frozen=True)
class EvalParams:
    beam_size: int = _f(5, lo=1)
    length_penalty: float = _f(1.0, lo=0.0)
    max_len_a: float = _f(MAX_LEN_A, lo=0.0)
    max_len_b: int = _f(MAX_LEN_B, lo=0)
    batch_size: int = _f(64, lo=1)
    samples: int = _f(10, lo=0)
    show_unk: bool = False
    ensemble: list[str] = _f([])  # bundles decoded together with models/bundle (nmt/ensemble.py)


@dataclass(frozen=True)
class TruecaseParams:
    corpus: Literal["fra_eng"] | None = "fra_eng"
    min_count: int = _f(1, lo=1)


@dataclass(frozen=True)
class Params:
    seed: int = _f(42, lo=0, hi=2**32 - 1)  # numpy's and TensorFlow's seeds are 32-bit
    epochs: int = _f(10, lo=1)
    data: DataParams = field(default_factory=DataParams)
    vocab: VocabParams = field(default_factory=VocabParams)
    model: ModelParams = field(default_factory=ModelParams)
    train: TrainParams = field(default_factory=TrainParams)
    eval: EvalParams = field(default_factory=EvalParams)
    truecase: TruecaseParams = field(default_factory=TruecaseParams)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _check_value(value, tp, where: str, problems: list[str], complete: bool = False):
    """Check `value` against annotation `tp`; return the converted value."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _check_value(value, inner, where, problems, complete)
    if origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            problems.append(f"{where}: {value!r} is not one of {', '.join(map(repr, choices))}")
        return value
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        if not isinstance(value, list):
            problems.append(f"{where}: expected a list, got {value!r}")
            return value
        return [_check_value(v, item_tp, f"{where}[{i}]", problems) for i, v in enumerate(value)]
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, where, problems, complete)
    if tp is bool:
        if not isinstance(value, bool):
            problems.append(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"{where}: expected a number, got {value!r}")
            return value
        if not _finite(value):  # NaN passes every range check (all its comparisons are false)
            problems.append(f"{where}: {value!r} is not a finite number")
            return value
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            problems.append(f"{where}: expected a string, got {value!r}")
        return value
    raise TypeError(f"unsupported annotation {tp!r} at {where}")  # a bug in this module


def _finite(value) -> bool:
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an integer too large for a float
        return False


def _check_range(value, meta, where: str, problems: list[str]):
    if value is None or not meta or isinstance(value, bool) or not isinstance(value, (int, float)) or (isinstance(value, float) and not math.isfinite(value)):
        return
    lo, hi = meta["lo"], meta["hi"]
    if lo is not None and (value <= lo if meta["lo_open"] else value < lo):
        problems.append(f"{where}: {value!r} must be {'>' if meta['lo_open'] else '>='} {lo}")
    if hi is not None and (value >= hi if meta["hi_open"] else value > hi):
        problems.append(f"{where}: {value!r} must be {'<' if meta['hi_open'] else '<='} {hi}")


def _build(cls, raw, where: str, problems: list[str], complete: bool = False):
    if raw is None and not complete:
        raw = {}
    if not isinstance(raw, dict):
        problems.append(f"{where or 'params'}: expected a mapping, got {raw!r}")
        raw = {}
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in fields:
            close = [n for n in fields if _similar(str(key), n)]
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"{_join(where, key)}: unknown key{hint}; known: {', '.join(fields)}")
    values = {}
    for name, f in fields.items():
        here = _join(where, name)
        if name in raw:
            value = _check_value(raw[name], hints[name], here, problems, complete)
        elif complete:
            problems.append(f"{here}: missing (there are no built-in defaults: the committed params.yaml sets every param)")
            continue
        elif dataclasses.is_dataclass(hints[name]):
            value = _build(hints[name], {}, here, problems)
        else:
            continue  # the dataclass default applies
        _check_range(value, f.metadata, here, problems)
        values[name] = value
    return cls(**values)


def _join(where: str, key) -> str:
    key = key if isinstance(key, str) and key.isprintable() and key.strip() == key else repr(key)  # one line per problem
    return f"{where}.{key}" if where else key


def _similar(a: str, b: str) -> bool:
    """True for likely typos: one edit apart, or one a prefix of the other."""
    if a == b:
        return False
    if a.startswith(b) or b.startswith(a):
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    import difflib

    return difflib.SequenceMatcher(None, a, b).ratio() >= 0.8


def _cross_checks(p: Params, problems: list[str]):
    if p.data.corpus == "custom":
        if not p.data.url:
            problems.append("data.url: required when data.corpus is 'custom'")
        if not p.data.sha256:
            problems.append("data.sha256: required when data.corpus is 'custom'")
        if len(p.data.custom.languages) != 2:
            problems.append("data.custom.languages: give exactly two language codes, e.g. [en, de]")
    if p.train.average_last > p.epochs:
        problems.append(f"train.average_last: {p.train.average_last} epochs to average, but epochs is {p.epochs}")
    if p.train.average_last > 1 and p.train.strategy == "multi_worker":
        problems.append("train.average_last: averaging is not supported with train.strategy=multi_worker (set it to 1)")
    if p.train.strategy == "multi_worker":  # the chief alone computes dev BLEU; all workers must stop together
        if p.train.select != "val_loss":
            problems.append("train.select: dev_bleu is not supported with train.strategy=multi_worker (set it to val_loss)")
        if p.train.patience:
            problems.append("train.patience: early stopping is not supported with train.strategy=multi_worker (set it to 0)")
    if p.train.subword_sampling and p.vocab.level != "subword":
        problems.append(f"train.subword_sampling: sampled segmentations need vocab.level=subword, not {p.vocab.level!r} (set it to 0)")
    for i, path in enumerate(p.eval.ensemble):
        if not isinstance(path, str) or not path.strip():
            problems.append(f"eval.ensemble[{i}]: {path!r} is not the path of a bundle folder")
    if p.data.sha256 is not None and not _is_sha256(p.data.sha256):
        problems.append(f"data.sha256: {p.data.sha256!r} is not 64 hexadecimal digits")


def _is_sha256(s: str) -> bool:
    return len(s) == 64 and all(c in "0123456789abcdefABCDEF" for c in s)


def parse_dataclass(cls, raw: Any) -> tuple[Any, list[str]]:
    """`raw` checked and converted into dataclass `cls` with the same checks params get (types,
    ranges, unknown keys, and every field present); returns (value, problems). Used for the files
    stages hand on too."""
    problems: list[str] = []
    try:
        value = _build(cls, raw, "", problems)
    except (TypeError, ValueError) as e:  # a required field missing, or the class's own check
        return None, [*problems, str(e)]
    return value, problems


def parse_params(raw: Any, *, complete: bool = False) -> Params:
    """Validate a params mapping (as read from YAML) into `Params`, or raise `ParamsError`.
    Missing keys take the dataclass defaults, or with `complete` are an error."""
    problems: list[str] = []
    params = _build(Params, raw, "", problems, complete)
    if not problems:
        _cross_checks(params, problems)
    if problems:
        raise ParamsError(f"{len(problems)} problem(s) in the parameters:\n  - " + "\n  - ".join(problems))
    return params


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, but a key given twice in one mapping is an error, not the last one winning."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                line = key_node.start_mark.line + 1
                if key_node.value in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"line {line}: the key {key_node.value!r} appears twice (first at line {seen[key_node.value]})"
                    )
                seen[key_node.value] = line
        return super().construct_mapping(node, deep)


def read_yaml(path: Path):
    """The YAML document in `path`, refusing duplicate keys; `ParamsError` names the file."""
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except FileNotFoundError:
        raise ParamsError(f"{path}: not found (run from the project root)") from None
    except UnicodeDecodeError as e:
        raise ParamsError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise ParamsError(f"{path}: cannot read: {e.strerror or e}") from None
    except yaml.constructor.ConstructorError as e:
        raise ParamsError(f"{path}: {e.problem}") from None
    except yaml.YAMLError as e:
        raise ParamsError(f"{path}: not valid YAML: {' '.join(str(e).split())}") from None


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate `params.yaml`, the one way every stage reads its params. Every param must
    be in the file: the dataclass defaults serve the Python API and tests, never a stage, so a
    stage run directly cannot silently use values that differ from the file's."""
    path = Path(path)
    raw = read_yaml(path)
    if raw is None:
        raise ParamsError(f"{path}: empty; every param must be set (there are no built-in defaults: restore it with `git checkout {path}`)")
    try:
        return parse_params(raw, complete=True)
    except ParamsError as e:
        raise ParamsError(f"{path}: {e}") from None


def finite_float(text: str) -> float:
    """An argparse `type` for a float option: refuses NaN and infinities (`float()` accepts them)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value
