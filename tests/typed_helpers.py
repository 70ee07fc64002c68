"""A tiny *trained* bundle for the typed-sentence tests: a few hundred template sentences whose
names and numbers occur once each, so that the vocabulary (min_freq 2) maps them to `<unk>` on
both sides and the model learns to write `<unk>` where the source has one, as a real model does
for the names and numbers it never saw. Trains in seconds."""

import random

import keras
import numpy as np

from nmt.bundle import load_bundle, save_bundle
from nmt.config import ModelParams, TrainParams
from nmt.data import ParallelIds, encode_lines, pad
from nmt.loss import compile_model
from nmt.model import build_seq2seq
from nmt.text import TextPipeline
from nmt.truecase import train_truecaser
from nmt.vocab import build_vocab

TEMPLATES = [  # (English corpus form, Japanese corpus form); {x}: a word seen once
    ("i like {x} .", "私 は {x} が 好き だ 。"),
    ("{x} is here .", "{x} は ここ に い る 。"),
    ("i met {x} today .", "私 は 今日 {x} に 会 っ た 。"),
    ("it costs {x} yen .", "それ は {x} 円 で す 。"),
    ("he has {x} books .", "彼 は 本 を {x} 冊 持 っ て い る 。"),
    ("where is {x} ?", "{x} は どこ で す か 。"),
]
# Cased English of the kind the truecaser learns from (the pipeline uses fra_eng's English side).
CASED = ["Tom and I like tea.", "I met Mary in Tokyo.", "Where is Tom?", "Mary and I are here.", "I think Tom likes Tokyo."]


def corpus(n: int = 360, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    en, ja = [], []
    for i in range(n):
        e, j = TEMPLATES[i % len(TEMPLATES)]
        x = str(rng.randrange(10, 99999)) if i % 2 else "".join(rng.choice("bdfgkmnprstz") + rng.choice("aeiou") for _ in range(3))
        en.append(e.format(x=x))
        ja.append(j.format(x=x))
    return en, ja


def trained_bundle(path, *, reverse: bool, epochs: int = 25):
    """A bundle of a small LSTM with dot attention trained on `corpus()` (en->ja, or ja->en with
    `reverse`, whose lower-cased English output gets a truecaser)."""
    keras.utils.set_random_seed(5)
    en, ja = corpus()
    en_pipe = TextPipeline("en", "word", True)
    # A Japanese source is cut by MeCab, as the pipeline's ja->en does (data.segmenter auto); a
    # Japanese target keeps the corpus's tokens.
    ja_pipe = TextPipeline("ja", "word", False, segmenter="mecab") if reverse else TextPipeline("ja", "word", False)
    (src, src_pipe), (tgt, tgt_pipe) = ((ja, ja_pipe), (en, en_pipe)) if reverse else ((en, en_pipe), (ja, ja_pipe))
    if reverse:  # the split stage's work: the source as its segmenter cuts it, spaces removed first
        src = [src_pipe.prepare(line) for line in src]
    src_vocab = build_vocab((src_pipe.tokens(s) for s in src), min_freq=2)
    tgt_vocab = build_vocab((tgt_pipe.tokens(s) for s in tgt), min_freq=2)
    seq = build_seq2seq(ModelParams(embedding_dim=16, units=32), len(src_vocab), len(tgt_vocab), seed=5)
    compile_model(seq.training, TrainParams(learning_rate=0.02))
    data = ParallelIds(encode_lines(src, src_pipe, src_vocab), encode_lines(tgt, tgt_pipe, tgt_vocab))
    x, tgt_in = pad(data.source), pad(data.target, bos=True)
    y = pad(data.target, eos=True)
    seq.training.fit([x, tgt_in], y, sample_weight=(y != 0).astype(np.float32), batch_size=40, epochs=epochs, verbose=0, shuffle=False)
    truecaser = train_truecaser(CASED, "en", min_count=1) if reverse else None
    save_bundle(seq, {"source": src_pipe, "target": tgt_pipe}, src_vocab, tgt_vocab, path, pretokenized=True, truecaser=truecaser)
    return load_bundle(path)
