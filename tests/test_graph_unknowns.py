"""The SavedModel's `<unk>` replacement without attention (nmt/graph_display.py): the k-th output
`<unk>` takes the k-th unknown source word, and one left over is dropped, in any batch."""

from types import SimpleNamespace

import tensorflow as tf

from nmt.graph_display import GraphUnknowns
from nmt.vocab import PAD_ID, UNK_ID

W = 9  # a known word's id


def test_without_attention_more_unks_than_unknown_source_words_are_dropped_not_an_error():
    # Row 0: one unknown source word, three <unk> in the output. Row 1: none in the source, one
    # in the output. Row 2: two unknown source words, two <unk>s. (The seed recipe's export
    # failed on such a batch: "indices[23,5] = 1 is not in [0, 1)".)
    replace = GraphUnknowns(SimpleNamespace(attention=None))
    source = tf.constant([[W, UNK_ID, W, PAD_ID], [W, W, PAD_ID, PAD_ID], [UNK_ID, W, UNK_ID, W]])
    source_words = tf.constant([["a", "Zorg", "b", ""], ["a", "b", "", ""], ["Xi", "a", "Yu", "b"]])
    out = tf.constant([[UNK_ID, UNK_ID, W, UNK_ID], [UNK_ID, W, W, W], [UNK_ID, W, UNK_ID, W]])
    words = tf.where(tf.equal(out, UNK_ID), "<unk>", "w")
    replaced, drop = replace(words, out, source, source_words)
    assert replaced.numpy().astype(str).tolist() == [["Zorg", "<unk>", "w", "<unk>"], ["<unk>", "w", "w", "w"], ["Xi", "w", "Yu", "w"]]
    assert drop.numpy().tolist() == [[False, True, False, True], [True, False, False, False], [False, False, False, False]]
