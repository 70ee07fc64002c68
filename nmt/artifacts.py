"""The files one stage hands to the next: where they live, and one typed writer and one
validated reader for each.

  data/split/text.json     TextSettings  split writes it (word level), vocab rewrites it with the level
  data/vocab/              Vocabularies  vocab: {source,target}.json (+ .model at the subword level)
  models/train/config.json TrainedModel  train: the model params, seed, epochs, which weights were kept
  models/bundle/config.json BundleConfig export: what translating needs besides the models (nmt.bundle)

A reader checks the file with the checks params get (nmt.config.parse_dataclass), so a file
from an older or foreign run fails at once with one line naming it and the stage that makes it,
instead of a KeyError deep inside a later stage.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from nmt.config import ModelParams, parse_dataclass
from nmt.errors import UserError
from nmt.fsutil import atomic_dir, read_lines, save_keras, write_json
from nmt.text import TextPipeline
from nmt.vocab import Vocabulary


@dataclass(frozen=True)
class Paths:
    """The pipeline's folders and files, relative to the project root (as dvc.yaml names them)."""

    raw: Path = Path("data/raw")
    split: Path = Path("data/split")
    vocab: Path = Path("data/vocab")
    truecase: Path = Path("data/truecase")  # <lang>.json: nmt.truecase.Truecaser (read by nmt.truecase.read_truecaser)
    trained: Path = Path("models/train")
    checkpoints: Path = Path("models/checkpoints")
    bundle: Path = Path("models/bundle")
    metrics: Path = Path("metrics")
    timings: Path = Path("timings")  # committed, but not DVC metrics: they differ from run to run

    @property
    def curves(self) -> Path:  # dvclive's folder
        return self.metrics / "train"


PATHS = Paths()
SIDES = (("source", "src"), ("target", "tgt"))  # (side, file extension in data/split)


class ArtifactError(UserError, ValueError):
    """A file handed from one stage to the next is missing or not what this code writes."""


def read_checked(cls, path: Path, stage: str, *, raw=None):
    """The JSON file `path` (or its already-parsed `raw` content) as dataclass `cls`, or an
    `ArtifactError` naming the file and the stage that remakes it."""
    try:
        if raw is None:
            raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(f"{path}: not found; the `{stage}` stage makes it: run `dvc repro {stage}`") from None
    except ValueError as e:
        raise ArtifactError(f"{path}: not valid JSON ({e}); run `dvc repro {stage}`") from None
    value, problems = parse_dataclass(cls, raw)
    if problems:
        raise ArtifactError(
            f"{path}: not written by this version of the `{stage}` stage (an older or foreign run?): {'; '.join(problems)}; run `dvc repro {stage}`"
        )
    return value


# ---- data/split/text.json, data/vocab/text.json: how each side's text becomes tokens -----------------


@dataclass(frozen=True)
class TextSettings:
    corpus: str
    pretokenized: bool  # the corpus's lines are corpus tokens already (no Moses tokenisation)
    source: TextPipeline
    target: TextPipeline

    def side(self, name: str) -> TextPipeline:
        return self.source if name == "source" else self.target

    def to_dict(self) -> dict:
        return {"corpus": self.corpus, "pretokenized": self.pretokenized, "source": self.source.to_dict(), "target": self.target.to_dict()}


def write_text_settings(folder: Path, settings: TextSettings) -> None:
    write_json(folder / "text.json", settings.to_dict())


def read_text_settings(folder: Path, stage: str) -> TextSettings:
    """`folder`/text.json; subword model file names are resolved inside `folder`."""
    s = read_checked(TextSettings, folder / "text.json", stage)
    return dataclasses.replace(s, source=s.source.located_in(folder), target=s.target.located_in(folder))


# ---- data/vocab: the text settings with their level, and the two vocabularies -------------------------


@dataclass(frozen=True)
class Vocabularies:
    text: TextSettings
    source: Vocabulary
    target: Vocabulary


def read_vocabularies(folder: Path = PATHS.vocab) -> Vocabularies:
    text = read_text_settings(folder, "vocab")
    return Vocabularies(text, Vocabulary.load(folder / "source.json"), Vocabulary.load(folder / "target.json"))


def read_split_part(split: Path, part: str, vocab: Vocabularies):
    """data/split/`part`.{src,tgt} as id arrays (nmt.data.ParallelIds)."""
    from nmt.data import ParallelIds, encode_lines

    return ParallelIds(*(encode_lines(read_lines(split / f"{part}.{ext}"), vocab.text.side(side), getattr(vocab, side)) for side, ext in SIDES))


# ---- models/train/config.json: the trained model's params and which weights it kept -------------------


@dataclass(frozen=True)
class BestEpoch:
    epoch: int
    val_loss: float
    val_bleu: float | None = None  # train.select=dev_bleu: the dev BLEU that made it the best

    def to_dict(self) -> dict:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


@dataclass(frozen=True)
class Averaged:
    epochs: list[int]
    val_loss: float
    val_nll: float | None = None  # with label smoothing only
    val_bleu: float | None = None  # train.select=dev_bleu: the averaged model's dev BLEU

    def to_dict(self) -> dict:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


@dataclass(frozen=True)
class TrainedModel:
    model: ModelParams
    seed: int
    best: BestEpoch
    epochs: int
    averaged: Averaged | None = None  # train.average_last > 1: the weights are this average, not `best`'s
    stopped_at: int | None = None  # train.patience: the epoch training stopped at, before `epochs`

    def kept(self) -> str:
        """Which weights these are, for a log line."""
        if self.averaged:
            bleu = f", dev BLEU {self.averaged.val_bleu}" if self.averaged.val_bleu is not None else ""
            return f"the average of epochs {self.averaged.epochs[0]}..{self.averaged.epochs[-1]} (val_loss {self.averaged.val_loss:.4f}{bleu})"
        bleu = f", dev BLEU {self.best.val_bleu}" if self.best.val_bleu is not None else ""
        return f"best epoch {self.best.epoch} (val_loss {self.best.val_loss:.4f}{bleu})"

    def to_dict(self) -> dict:
        return {
            "model": dataclasses.asdict(self.model),
            "seed": self.seed,
            "best": self.best.to_dict(),
            **({"averaged": self.averaged.to_dict()} if self.averaged else {}),
            "epochs": self.epochs,
            **({"stopped_at": self.stopped_at} if self.stopped_at is not None else {}),
        }


def write_trained_model(folder: Path, info: TrainedModel) -> None:
    write_json(folder / "config.json", info.to_dict())


def write_trained(folder: Path, model, info: TrainedModel) -> None:
    """models/train as a whole, atomically: the training model (`model.keras`) and its config."""
    with atomic_dir(folder) as tmp:
        save_keras(model, tmp / "model.keras")  # byte-identical on every rerun
        write_trained_model(tmp, info)


def read_trained_model(folder: Path = PATHS.trained) -> TrainedModel:
    return read_checked(TrainedModel, folder / "config.json", "train")


# ---- models/bundle/config.json: what translating needs besides the two models ------------------------


@dataclass(frozen=True)
class BundleConfig:
    format_version: int
    source: TextPipeline
    target: TextPipeline
    state_names: list[str]  # as the step model takes them (nmt.model.state_names of `model`)
    model: ModelParams
    pretokenized: bool  # the corpus came tokenized: BLEU is also computed on its own tokens
    trained_epochs: int | None = None  # the rest is provenance, for people
    best: BestEpoch | None = None
    corpus: str | None = None

    def to_dict(self) -> dict:
        order = ("format_version", "source", "target", "state_names", "model", "trained_epochs", "best", "corpus", "pretokenized")
        d = {
            "source": self.source.to_dict(),
            "target": self.target.to_dict(),
            "model": dataclasses.asdict(self.model),
            "best": self.best.to_dict() if self.best else None,
        }
        return {k: d.get(k, getattr(self, k)) for k in order if getattr(self, k) is not None}


def write_bundle_config(folder: Path, config: BundleConfig) -> None:
    write_json(folder / "config.json", config.to_dict())


def read_bundle_config(folder: Path, raw: dict) -> BundleConfig:
    """The parsed `folder`/config.json (`raw`), checked; subword models resolved inside `folder`."""
    c = read_checked(BundleConfig, folder / "config.json", "export", raw=raw)
    return dataclasses.replace(c, source=c.source.located_in(folder), target=c.target.located_in(folder))
