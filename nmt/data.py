"""Integer-id batches for teacher forcing, streamed through `tf.data`.

Sentences are kept as small integer arrays (never one-hot). Each epoch, a seeded shuffle
(a function of `(seed, epoch)` only, so a resumed run sees the same batches) draws pools of
sentences, sorts each pool by length and cuts it into batches that are padded to their own
longest sentence: little padding, and batch order still random. With subword regularisation
(`SampledSegmentations`) the sentences' subwords are drawn anew each epoch, from `(seed, epoch)` too.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from nmt.text import TextPipeline
from nmt.vocab import BOS_ID, EOS_ID, Vocabulary

POOL_BATCHES = 50  # batches per length-sorted pool


@dataclass
class ParallelIds:
    source: list[np.ndarray]
    target: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.source)


def encode_lines(lines: list[str], pipe: TextPipeline, vocab: Vocabulary) -> list[np.ndarray]:
    """Corpus lines (tokens joined by spaces) to arrays of ids, without `<s>` / `</s>`."""
    return [np.asarray(vocab.encode(pipe.tokens(line)), dtype=np.int32) for line in lines]


@dataclass(frozen=True)
class SampledSegmentations:
    """`train.subword_sampling`: the training pairs re-segmented for every epoch, source and target,
    each line's subwords sampled (`TextPipeline.sampled_tokens`). Like the shuffle, an epoch's draw
    is a function of `(seed, epoch)` only, so a rerun or a resumed run sees the same batches."""

    lines: tuple[list[str], list[str]]  # the training split's corpus lines, source and target
    pipes: tuple[TextPipeline, TextPipeline]
    vocabs: tuple[Vocabulary, Vocabulary]
    alpha: float
    seed: int

    def __call__(self, epoch: int) -> ParallelIds:
        seeds = np.random.SeedSequence([self.seed, epoch]).generate_state(2)  # one per side
        pieces = [frozenset(v.itos) for v in self.vocabs]  # only pieces the model has ids for are drawn
        return ParallelIds(
            *(
                [np.asarray(vocab.encode(tokens), dtype=np.int32) for tokens in pipe.sampled_tokens(lines, alpha=self.alpha, seed=int(s), pieces=pieces)]
                for lines, pipe, vocab, s, pieces in zip(self.lines, self.pipes, self.vocabs, seeds, pieces, strict=True)
            )
        )


def pad(seqs: list[np.ndarray], *, bos: bool = False, eos: bool = False) -> np.ndarray:
    """A (batch, longest) int32 array, `<pad>` (0) after each sequence."""
    extra = int(bos) + int(eos)
    out = np.zeros((len(seqs), max(len(s) for s in seqs) + extra), dtype=np.int32)
    for row, s in zip(out, seqs):
        if bos:
            row[0] = BOS_ID
        row[int(bos) : int(bos) + len(s)] = s
        if eos:
            row[int(bos) + len(s)] = EOS_ID
    return out


def teacher_forcing_batch(data: ParallelIds, idx: np.ndarray):
    """((source, `<s>` + target), target + `</s>`, weights): the weights are 0 on padding."""
    src = pad([data.source[i] for i in idx])
    tgt = [data.target[i] for i in idx]
    tgt_in, tgt_out = pad(tgt, bos=True), pad(tgt, eos=True)
    return (src, tgt_in), tgt_out, (tgt_out != 0).astype(np.float32)


def batch_plan(data: ParallelIds, batch_size: int, *, seed: int | None, epoch: int = 0) -> list[np.ndarray]:
    """Index arrays, one per batch. `seed=None`: no shuffling (evaluation), longest first."""
    lengths = np.array([len(t) * 1000 + len(s) for s, t in zip(data.source, data.target)])
    if seed is None:
        order = np.argsort(-lengths, kind="stable")
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng = np.random.default_rng([seed, epoch])
    perm = rng.permutation(len(data))
    pool = batch_size * POOL_BATCHES
    batches = []
    for start in range(0, len(perm), pool):
        chunk = perm[start : start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def batches_per_epoch(n: int, batch_size: int) -> int:
    pool = batch_size * POOL_BATCHES
    return sum(-(-min(pool, n - s) // batch_size) for s in range(0, n, pool))


_SIGNATURE = (
    (tf.TensorSpec((None, None), tf.int32), tf.TensorSpec((None, None), tf.int32)),
    tf.TensorSpec((None, None), tf.int32),
    tf.TensorSpec((None, None), tf.float32),
)


def _unsharded(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """Under a distribution strategy, tf.data must not shard these batches again: each worker
    already takes its own rows (`training_dataset(shard=...)`) and every worker validates on all."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return dataset.with_options(options)


def training_dataset(
    data: ParallelIds,
    batch_size: int,
    *,
    seed: int,
    first_epoch: int,
    shard: tuple[int, int] = (0, 1),
    resample: Callable[[int], ParallelIds] | None = None,
) -> tf.data.Dataset:
    """The batches of epoch `first_epoch`, then the next epoch's, ... (use with `steps_per_epoch`).

    `shard=(i, n)`: worker i of n gets rows i, i+n, ... of every batch; a worker left without a
    row gets one with zero weight, so that every worker takes part in every step. `resample`:
    each epoch's pairs (`SampledSegmentations`, the same sentences as `data`) instead of `data`."""
    index, count = shard

    def generate() -> Iterator:
        for epoch in itertools.count(first_epoch):  # Keras stops after `epochs`; it may read ahead
            data_now = data if resample is None else resample(epoch)
            for idx in batch_plan(data_now, batch_size, seed=seed, epoch=epoch):
                mine = idx[index::count]
                if len(mine):
                    yield teacher_forcing_batch(data_now, mine)
                else:
                    inputs, targets, weights = teacher_forcing_batch(data_now, idx[:1])
                    yield inputs, targets, np.zeros_like(weights)

    return _unsharded(tf.data.Dataset.from_generator(generate, output_signature=_SIGNATURE)).prefetch(4)


def evaluation_dataset(data: ParallelIds, batch_size: int) -> tf.data.Dataset:
    plan = batch_plan(data, batch_size, seed=None)
    dataset = tf.data.Dataset.from_generator(lambda: (teacher_forcing_batch(data, idx) for idx in plan), output_signature=_SIGNATURE)
    # A known length lets Keras stop at the end instead of running into it (and warning).
    return _unsharded(dataset.apply(tf.data.experimental.assert_cardinality(len(plan)))).prefetch(4)
