import pytest

from nmt.vocab import BOS_ID, EOS_ID, PAD_ID, UNK_ID, Vocabulary, build_vocab


def test_specials_have_fixed_ids_with_pad_zero():
    v = build_vocab([["a"]])
    assert (PAD_ID, UNK_ID, BOS_ID, EOS_ID) == (0, 1, 2, 3)
    assert v.itos[:4] == ["<pad>", "<unk>", "<s>", "</s>"]


def test_frequency_order_min_freq_and_max_size():
    sents = [["b", "a", "a", "c"], ["a", "b", "d"]]
    assert build_vocab(sents).itos[4:] == ["a", "b", "c", "d"]  # by count, ties in code-point order
    assert build_vocab(sents, min_freq=2).itos[4:] == ["a", "b"]
    assert len(build_vocab(sents, max_size=5)) == 5


def test_unknown_tokens_become_unk_and_decode_stops_at_eos():
    v = build_vocab([["hello", "world"]])
    ids = v.encode(["hello", "there"], bos=True, eos=True)
    assert ids == [BOS_ID, v.stoi["hello"], UNK_ID, EOS_ID]
    assert v.decode(ids + [v.stoi["world"]]) == ["hello", "<unk>"]


def test_a_literal_special_in_the_corpus_does_not_shadow_the_real_one():
    v = build_vocab([["<unk>", "<pad>", "x"]])
    assert v.itos == ["<pad>", "<unk>", "<s>", "</s>", "x"]
    assert v.encode(["x", "</s>", "<s>", "<pad>", "x"]) == [4, 1, 1, 1, 4]  # typed, they are unknown text


def test_save_and_load_round_trip(tmp_path):
    v = build_vocab([["héllo", "世界", "x"]])
    v.save(tmp_path / "v.json")
    assert Vocabulary.load(tmp_path / "v.json").itos == v.itos


def test_a_vocabulary_without_the_specials_first_is_refused():
    with pytest.raises(ValueError, match="must start with"):
        Vocabulary(["a", "<pad>"])
