"""Carrying source words over instead of `<unk>` (nmt/unk.py): the rules on hand-made attention,
and the Translator and `nmt translate --show-unk` over a tiny trained bundle."""

import numpy as np

from nmt.unk import carry_numbers, needs_carrying, output_positions, replace_unknowns, target_in
from nmt.vocab import BOS_ID, EOS_ID, PAD_ID, UNK_ID, Vocabulary


def test_an_unk_takes_the_unknown_source_word_the_attention_points_at():
    source = ["I", "met", "Takeshi", "and", "Yumiko", "."]
    unknown = [False, False, True, False, True, False]
    attention = np.zeros((4, 6))
    attention[0, 1], attention[0, 4] = 0.6, 0.3  # points at "met", but of the unknown words at "Yumiko"
    attention[2, 2] = 0.2
    got = replace_unknowns(["<unk>", "と", "<unk>", "。"], source, unknown, attention)
    assert got == ["Yumiko", "と", "Takeshi", "。"]


def test_without_unknown_source_words_the_most_attended_word_is_copied():
    attention = np.array([[0.1, 0.7, 0.2]])
    assert replace_unknowns(["<unk>"], ["a", "leg", "."], [False] * 3, attention) == ["leg"]


def test_without_attention_unks_take_the_unknown_words_in_order_and_extra_ones_go():
    source, unknown = ["Ken", "met", "Aya"], [True, False, True]
    assert replace_unknowns(["<unk>", "x", "<unk>", "<unk>", "。"], source, unknown, None) == ["Ken", "x", "Aya", "。"]


def test_a_missing_number_replaces_the_output_number_that_attends_to_it():
    source = ["it", "costs", "1,000", "yen"]
    attention = np.array([[0.1, 0.1, 0.7, 0.1], [0.0, 0.0, 0.1, 0.9], [0.0, 0.0, 0.0, 1.0]])
    assert carry_numbers(["もう", "万", "円"], source, attention) == ["もう", "1,000", "円"]


def test_a_missing_number_without_a_number_to_replace_goes_in_before_its_word():
    source = ["we", "walked", "5", "km"]
    attention = np.array([[0.9, 0.0, 0.1, 0.0], [0.0, 0.2, 0.7, 0.1], [0.0, 0.9, 0.1, 0.0], [0.1, 0.1, 0.1, 0.7]])
    assert carry_numbers(["私たち", "キロ", "歩いた", "。"], source, attention) == ["私たち", "5", "キロ", "歩いた", "。"]
    assert carry_numbers(["we", "walked", "km", "."], source, None) == ["we", "walked", "km", "5", "."]
    assert carry_numbers(["5", "km"], source, None) == ["5", "km"]  # kept: nothing to do


def test_which_outputs_need_carrying():
    vocab = Vocabulary(["<pad>", "<unk>", "<s>", "</s>", "a", "5"])
    assert needs_carrying([4, UNK_ID, EOS_ID], ["x"], vocab)
    assert not needs_carrying([4, EOS_ID, UNK_ID], ["x"], vocab)  # after </s>: not output
    assert needs_carrying([4, EOS_ID], ["walked", "7"], vocab) and not needs_carrying([5, EOS_ID], ["5"], vocab)
    assert output_positions([BOS_ID, 4, PAD_ID, 5, EOS_ID, 4]) == [1, 3]
    assert target_in([4, 5, EOS_ID], 5).tolist() == [BOS_ID, 4, 5, EOS_ID, PAD_ID]
