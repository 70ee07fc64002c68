import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from nmt.config import ModelParams  # noqa: E402
from nmt.text import TextPipeline  # noqa: E402
from nmt.vocab import build_vocab  # noqa: E402

TINY_SOURCE = ["i like tea .", "you like coffee .", "he likes green tea .", "we drink water ."]
TINY_TARGET = ["私 は お茶 が 好き だ 。", "あなた は コーヒー が 好き だ 。", "彼 は 緑茶 が 好き だ 。", "私 たち は 水 を 飲 む 。"]


def tiny_bundle(path, model: ModelParams, *, seed: int = 0):
    """An exported bundle of an untrained (randomly initialised) model over a tiny vocabulary."""
    from nmt.bundle import load_bundle, save_bundle
    from nmt.model import build_seq2seq

    src_pipe, tgt_pipe = TextPipeline("en", "word", True), TextPipeline("ja", "word", False)
    src_vocab = build_vocab(src_pipe.tokens(s) for s in TINY_SOURCE)
    tgt_vocab = build_vocab(tgt_pipe.tokens(s) for s in TINY_TARGET)
    seq = build_seq2seq(model, len(src_vocab), len(tgt_vocab), seed=seed)
    text = {"source": src_pipe, "target": tgt_pipe}
    save_bundle(seq, text, src_vocab, tgt_vocab, path, pretokenized=True)
    return seq, load_bundle(path)


@pytest.fixture(scope="session")
def random_bundle(tmp_path_factory):
    """(Seq2Seq, Bundle) of a small untrained LSTM with dot attention."""
    import keras

    keras.utils.set_random_seed(1)
    return tiny_bundle(tmp_path_factory.mktemp("bundle") / "bundle", ModelParams(embedding_dim=8, units=16))
