"""Subword regularisation (`train.subword_sampling`): the training pairs' segmentations drawn anew
every epoch, reproducibly from the seed and the epoch, and nothing changed when it is off."""

from __future__ import annotations

import dataclasses
import gzip
from pathlib import Path

import numpy as np
import pytest

from nmt.artifacts import TextSettings, Vocabularies
from nmt.checkpoints import run_fingerprint
from nmt.config import Params, ParamsError, TrainParams, VocabParams, parse_params
from nmt.data import ParallelIds, batch_plan, encode_lines, teacher_forcing_batch, training_dataset
from nmt.text import TextPipeline, train_subword_model
from nmt.training import sampled_segmentations
from nmt.vocab import UNK_ID, build_vocab

ROOT = Path(__file__).resolve().parents[1]
BATCH = 16


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    """A training split of 200 fra-eng pairs, 300-piece subword models of 3,000 lines per side,
    and the vocabularies of the best segmentation (min_freq 2, as the vocab stage builds them)."""
    folder = tmp_path_factory.mktemp("split")
    with gzip.open(ROOT / "data/mirror/fra-eng.txt.gz", "rt", encoding="utf-8") as f:
        pairs = [line.rstrip("\n").split("\t")[:2] for _, line in zip(range(3000), f)]
    pipes, vocabs = {}, {}
    for side, ext, lang, i in (("source", "src", "en", 0), ("target", "tgt", "fr", 1)):
        word = TextPipeline(lang)
        lines = [word.prepare(p[i]) for p in pairs]
        (folder / f"train.{ext}").write_text("\n".join(lines[-200:]) + "\n", encoding="utf-8")
        model = train_subword_model(lines, folder / f"{side}.model", vocab_size=300, lang=lang, seed=1)
        pipes[side] = TextPipeline(lang, "subword", subword_model=str(model))
        vocabs[side] = build_vocab((pipes[side].tokens(line) for line in lines), min_freq=2)
    return folder, Vocabularies(TextSettings("fra_eng", False, pipes["source"], pipes["target"]), vocabs["source"], vocabs["target"])


def lines(folder: Path, ext: str) -> list[str]:
    return (folder / f"train.{ext}").read_text(encoding="utf-8").splitlines()


def best_ids(folder: Path, vocab: Vocabularies) -> ParallelIds:
    return ParallelIds(*(encode_lines(lines(folder, ext), vocab.text.side(side), getattr(vocab, side)) for side, ext in (("source", "src"), ("target", "tgt"))))


def params(alpha: float, *, seed: int = 42, level: str = "subword") -> Params:
    return Params(seed=seed, vocab=VocabParams(level=level), train=TrainParams(subword_sampling=alpha))


def batches(dataset, n: int) -> list:
    return [tuple(np.asarray(x).tolist() for x in (src, tgt_in, tgt_out)) for (src, tgt_in), tgt_out, _ in dataset.take(n).as_numpy_iterator()]


def test_sampling_off_gives_the_batches_of_the_best_segmentation(split):
    folder, vocab = split
    ids = best_ids(folder, vocab)
    resample = sampled_segmentations(params(0.0), folder, vocab)
    got = batches(training_dataset(ids, BATCH, seed=42, first_epoch=0, resample=resample), 2 * 13)  # two epochs of 13 batches
    plain = [teacher_forcing_batch(ids, idx) for epoch in (0, 1) for idx in batch_plan(ids, BATCH, seed=42, epoch=epoch)]
    assert got == [tuple(x.tolist() for x in (src, tgt_in, tgt_out)) for (src, tgt_in), tgt_out, _ in plain]


def test_sampled_segmentations_differ_by_epoch_and_repeat_on_a_rerun_and_a_resume(split):
    folder, vocab = split
    first = sampled_segmentations(params(0.1), folder, vocab)
    epochs = [first(e) for e in range(3)]
    as_lists = [[[a.tolist() for a in side] for side in (d.source, d.target)] for d in epochs]
    assert as_lists[0] != as_lists[1] != as_lists[2]  # each side segmented anew every epoch
    assert all(as_lists[0][s] != as_lists[1][s] for s in (0, 1))
    rerun = sampled_segmentations(params(0.1), folder, vocab)
    assert [[a.tolist() for a in side] for side in (rerun(2).source, rerun(2).target)] == as_lists[2]  # epoch 3 first: as on resume
    other_seed = sampled_segmentations(params(0.1, seed=7), folder, vocab)
    assert [[a.tolist() for a in side] for side in (other_seed(2).source, other_seed(2).target)] != as_lists[2]
    best = best_ids(folder, vocab)
    assert [a.tolist() for a in epochs[0].source] != [a.tolist() for a in best.source]  # sampled, not the best segmentation


def test_a_resumed_dataset_sees_the_same_epoch_as_an_uninterrupted_one(split):
    folder, vocab = split
    ids = best_ids(folder, vocab)
    resample = sampled_segmentations(params(0.1), folder, vocab)
    whole = batches(training_dataset(ids, BATCH, seed=42, first_epoch=0, resample=resample), 2 * 13)
    resumed = batches(training_dataset(ids, BATCH, seed=42, first_epoch=1, resample=sampled_segmentations(params(0.1), folder, vocab)), 13)
    assert whole[13:] == resumed
    assert whole[:13] != batches(training_dataset(ids, BATCH, seed=42, first_epoch=0), 13)  # sampling is on


def test_sampled_pieces_spell_the_same_line_and_stay_in_the_vocabulary(split):
    folder, vocab = split
    pipe, src = vocab.text.source, lines(folder, "src")
    restricted = pipe.sampled_tokens(src, alpha=0.1, seed=3, pieces=frozenset(vocab.source.itos))
    assert [pipe.join(tokens) for tokens in restricted] == src
    unk = sum(i == UNK_ID for tokens in restricted for i in vocab.source.encode(tokens))
    best_unk = sum(i == UNK_ID for line in src for i in vocab.source.encode(pipe.tokens(line)))
    anything = pipe.sampled_tokens(src, alpha=0.1, seed=3)  # every piece of the model may be drawn
    unrestricted_unk = sum(i == UNK_ID for tokens in anything for i in vocab.source.encode(tokens))
    assert unk <= best_unk < unrestricted_unk


def test_sampling_is_refused_below_the_subword_level_and_in_the_fingerprint_when_on():
    for level in ("word", "char"):
        with pytest.raises(ParamsError, match=rf"train.subword_sampling: sampled segmentations need vocab.level=subword, not '{level}'"):
            parse_params({"vocab": {"level": level}, "train": {"subword_sampling": 0.1}})
    with pytest.raises(ParamsError, match=r"train.subword_sampling: -0.1 must be >= 0"):
        parse_params({"vocab": {"level": "subword"}, "train": {"subword_sampling": -0.1}})
    assert parse_params({"vocab": {"level": "subword"}, "train": {"subword_sampling": 0.2}}).train.subword_sampling == 0.2
    assert parse_params({"vocab": {"level": "word"}, "train": {"subword_sampling": 0}}).train.subword_sampling == 0
    off, on = params(0.0), params(0.1)
    assert run_fingerprint(off, []) != run_fingerprint(on, [])  # a sampled run never resumes an unsampled one's checkpoints
    assert run_fingerprint(off, []) == run_fingerprint(dataclasses.replace(off, train=dataclasses.replace(off.train, keep_last=9)), [])
