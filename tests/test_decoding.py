import numpy as np
import pytest
import tensorflow as tf

from nmt.data import pad
from nmt.decoding import Decoder, max_lengths
from nmt.translate import Translator
from nmt.vocab import EOS_ID, PAD_ID


@pytest.fixture(scope="module")
def translator(random_bundle):
    return Translator(random_bundle[1])


def some_sources(n=12, seed=0):
    rng = np.random.default_rng(seed)
    return pad([rng.integers(4, 15, rng.integers(1, 9)).astype(np.int32) for _ in range(n)])


def test_greedy_stops_every_sentence_at_eos_or_its_limit(translator):
    source = some_sources()
    limits = max_lengths(source, 1.0, 2)
    out = translator.decoder.greedy(source, limits)
    for row, limit in zip(out, limits):
        ends = np.flatnonzero(row == EOS_ID)
        assert len(ends) >= 1 and ends[0] < limit  # </s> within the limit ...
        assert (row[ends[0] + 1 :] == PAD_ID).all()  # ... and only padding after it


def test_beam_of_one_is_greedy_token_for_token(translator):
    source = some_sources(20, seed=1)
    limits = max_lengths(source, 1.5, 5)
    greedy = translator.decoder.greedy(source, limits)
    beam = translator.decoder.beam(source, limits, beam_size=1, length_penalty=1.0)
    for g, hyps in zip(greedy, beam):
        g = g[: np.flatnonzero(g == EOS_ID)[0] + 1].tolist()
        assert hyps[0][0] == g


def test_beam_search_returns_n_best_sorted_with_true_scores(translator):
    source = some_sources(6, seed=2)
    limits = max_lengths(source, 1.5, 5)
    results = translator.decoder.beam(source, limits, beam_size=4, length_penalty=0.0, n_best=4)
    for b, hyps in enumerate(results):
        scores = [s for _, s in hyps]
        assert len(hyps) == 4 and scores == sorted(scores, reverse=True)
        assert all(seq[-1] == EOS_ID and len(seq) <= limits[b] for seq, _ in hyps)
        # With no length penalty the score is the log-probability: rescore the best one.
        seq = hyps[0][0]
        assert score_of(translator.decoder, source[b : b + 1], seq) == pytest.approx(scores[0], abs=1e-4)


def score_of(decoder: Decoder, source, seq) -> float:
    from nmt.vocab import BOS_ID

    target_in = np.array([[BOS_ID, *seq[:-1]]], dtype=np.int32)
    log_probs = decoder.models.teacher_forced_log_probs(source, target_in)[0]
    return float(sum(log_probs[t, tok] for t, tok in enumerate(seq)))


def test_translate_keeps_one_output_per_input_line(translator):
    lines = ["I like tea.", "", "   ", "zebra quantum xylophone", "I LIKE TEA!", "🙂 ещё 東京 \x07", "tea " * 3000]
    out = translator.translate(lines)
    assert len(out) == len(lines)
    assert out[1] == "" and out[2] == ""  # an empty line gives an empty line
    assert all(isinstance(o, str) and "\n" not in o for o in out)


def test_translate_nbest_and_beam_options(translator):
    hyps = translator.translate_nbest(["i like tea .", "we drink water ."], beam_size=3, n_best=3)
    assert [len(h) for h in hyps] == [3, 3]
    assert all(h.score is not None for hs in hyps for h in hs)
    # translate() with a beam gives the best of the n-best list; without options it decodes greedily.
    assert translator.translate(["i like tea .", "we drink water ."], beam_size=3) == [h[0].text for h in hyps]
    source = pad([np.asarray(translator.bundle.source_vocab.encode("i like tea .".split()), np.int32)])
    greedy = translator.decoder.greedy(source, max_lengths(source, 1.5, 10))[0]
    assert translator.translate(["i like tea ."]) == [translator._hypothesis(greedy[: np.flatnonzero(greedy == EOS_ID)[0] + 1], None).text]
    with pytest.raises(ValueError):
        translator.translate(["x"], beam_size=0)


def classic_greedy(models, source_ids: np.ndarray, limit: int) -> list[int]:
    """The classic Keras recipe's decode_sequence(): one sentence, one model call per token."""
    memory, states = models.encode(source_ids[None, :])
    token, out = np.array([[2]], np.int32), []  # <s>
    for _ in range(limit):
        log_probs, states = models.step(tf.constant(token), states, memory)
        best = int(np.argmax(log_probs[0]))
        out.append(best if len(out) + 1 < limit else EOS_ID)
        if out[-1] == EOS_ID:
            break
        token = np.array([[best]], np.int32)
    return out


def test_batched_greedy_equals_the_classic_one_sentence_predict_loop(translator):
    bundle = translator.bundle
    source = some_sources(8, seed=3)  # padded to the longest: padding must not leak into a result
    limits = max_lengths(source, 1.5, 4)
    batched = translator.decoder.greedy(source, limits)
    assert len({tuple(o) for o in batched}) > 1  # different outputs: the comparison means something
    for row, out, limit in zip(source, batched, limits):
        alone = classic_greedy(bundle.inference, row[row != PAD_ID], int(limit))
        ours = out[: np.flatnonzero(out == EOS_ID)[0] + 1].tolist()
        assert ours == alone
        assert bundle.target_vocab.decode(ours) == bundle.target_vocab.decode(alone)


def test_beam_search_gives_each_sentence_what_it_gets_alone(translator):
    # Sentences of the batch are decided at different steps and leave the batch then: the others'
    # hypotheses, states and encoder outputs must stay theirs.
    source = some_sources(10, seed=4)
    limits = max_lengths(source, 1.0, 3)
    together = translator.decoder.beam(source, limits, beam_size=3, length_penalty=1.0, n_best=3)
    assert len({len(hyps[0][0]) for hyps in together}) > 2  # decided at different steps
    for row, limit, hyps in zip(source, limits, together):
        alone = translator.decoder.beam(row[None, row != PAD_ID], limit[None], beam_size=3, length_penalty=1.0, n_best=3)[0]
        assert [seq for seq, _ in hyps] == [seq for seq, _ in alone]
        assert [s for _, s in hyps] == pytest.approx([s for _, s in alone], abs=1e-5)


def test_batches_decoded_at_once_in_threads_give_what_one_batch_at_a_time_gives(translator):
    # `nmt translate` decodes several batches at once (`workers`): every sentence must still get
    # its own translations, scores and carried-over words, in the input's order.
    vocab = translator.bundle.source_vocab
    rng = np.random.default_rng(5)
    words = [vocab.decode([i])[0] for i in range(4, 15)]
    lines = [" ".join(rng.choice(words, rng.integers(1, 9))) for _ in range(23)] + ["", "Zyxwv 3,250 yen ."]
    for options in ({}, {"beam_size": 3, "n_best": 3}, {"show_unk": True}):
        one = translator.translate_nbest(lines, batch_size=3, **options)
        many = translator.translate_nbest(lines, batch_size=3, workers=3, **options)
        assert len({hyps[0].text for hyps in one if hyps}) > 3  # different outputs: the comparison means something
        assert [[(h.text, h.tokens, h.score) for h in hyps] for hyps in many] == [[(h.text, h.tokens, h.score) for h in hyps] for hyps in one]
    with pytest.raises(ValueError, match="workers"):
        translator.translate_nbest(lines, workers=0)
