from collections import Counter

import pytest

from nmt.corpora import BUILTIN, CorpusSpec
from nmt.corpus import CorpusError, clean, grouped_split, read_corpus, read_paired, read_tsv
from nmt.text import TextPipeline

EN, FR = TextPipeline("en"), TextPipeline("fr")


def write(path, data: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_tsv_accepts_two_or_three_columns_and_either_direction(tmp_path):
    f = write(tmp_path / "fra.txt", b"Go.\tVa !\nHi.\tSalut !\tCC-BY 2.0 (France) Attribution\n")
    assert [(p.src, p.tgt) for p in read_tsv(f, reverse=False)] == [("Go.", "Va !"), ("Hi.", "Salut !")]
    assert read_tsv(f, reverse=True)[0].src == "Va !"


@pytest.mark.parametrize("line", [b"only one column", b"a\tb\tc\td"])
def test_tsv_with_the_wrong_number_of_columns_names_file_and_line(tmp_path, line):
    f = write(tmp_path / "fra.txt", b"Go.\tVa !\n" + line + b"\n")
    with pytest.raises(CorpusError, match=rf"{f}:2: expected 2 or 3 tab-separated columns"):
        read_tsv(f, reverse=False)


def test_bytes_that_are_not_utf8_are_reported_with_their_line(tmp_path):
    f = write(tmp_path / "fra.txt", b"Go.\tVa !\nCaf\xe9\tcafe\n")
    with pytest.raises(CorpusError, match=rf"{f}:2: not valid UTF-8"):
        read_tsv(f, reverse=False)


def test_bom_and_crlf_are_handled(tmp_path):
    f = write(tmp_path / "fra.txt", b"\xef\xbb\xbfGo.\tVa !\r\nHi.\tSalut !\r\n")
    assert [(p.src, p.tgt) for p in read_tsv(f, reverse=False)] == [("Go.", "Va !"), ("Hi.", "Salut !")]


def test_paired_files_must_have_equal_line_counts(tmp_path):
    a, b = write(tmp_path / "train.en", b"a\nb\n"), write(tmp_path / "train.ja", b"x\n")
    with pytest.raises(CorpusError, match=r"train.en has 2 lines but .*train.ja has 1"):
        read_paired(a, b)


def test_an_official_split_is_used_as_it_is(tmp_path):
    for part in ("train", "dev", "test"):
        write(tmp_path / "c" / f"{part}.en", f"{part} one\n{part} two\n".encode())
        write(tmp_path / "c" / f"{part}.ja", f"{part} 一\n{part} 二\n".encode())
    parts = read_corpus(BUILTIN["small_parallel_enja"], tmp_path, reverse=True)
    assert set(parts) == {"train", "dev", "test"}
    assert (parts["test"][1].src, parts["test"][1].tgt) == ("test 二", "test two")


def test_a_missing_file_in_the_download_is_named(tmp_path):
    write(tmp_path / "train.en", b"a\n")
    with pytest.raises(CorpusError, match=r"expected one file train.ja"):
        read_corpus(BUILTIN["small_parallel_enja"], tmp_path, reverse=False)


def test_clean_drops_empty_overlong_and_repeated_pairs_and_counts_why():
    pairs = read_lines_as_pairs([("Go.", "Va !"), ("  ", "rien"), ("Go.", "Va !"), ("a b c d e f", "x"), ("Run!", "Cours !")])
    counts = Counter()
    kept = clean(pairs, EN, FR, pretokenized=False, max_len=4, dedupe=True, counts=counts)
    assert kept == [("Go .", "Va !"), ("Run !", "Cours !")]
    assert counts == Counter(read=5, kept=2, dropped_empty=1, dropped_duplicate=1, dropped_too_long=1)


def read_lines_as_pairs(rows):
    from nmt.corpus import Pair

    return [Pair(s, t) for s, t in rows]


def test_grouped_split_keeps_every_translation_of_a_sentence_in_one_part():
    pairs = [(f"src {i // 3}", f"tgt {i}") for i in range(300)]  # each source has 3 translations
    pairs += [(f"other {i}", f"tgt {i % 7}") for i in range(50)]  # and some targets repeat too
    parts = grouped_split(pairs, dev_size=30, test_size=30, seed=7)
    assert sum(map(len, parts.values())) == len(pairs)
    for a in parts:
        for b in parts:
            if a < b:
                for side in (0, 1):
                    assert not {p[side] for p in parts[a]} & {p[side] for p in parts[b]}, (a, b, side)
    assert 30 <= len(parts["test"]) < 60 and 30 <= len(parts["dev"]) < 60
    assert grouped_split(pairs, dev_size=30, test_size=30, seed=7) == parts  # the seed decides
    assert grouped_split(pairs, dev_size=30, test_size=30, seed=8) != parts


def test_grouped_split_refuses_sizes_that_leave_nothing_to_train_on():
    with pytest.raises(CorpusError, match="leaves no training pairs"):
        grouped_split([("a", "b"), ("c", "d")], dev_size=1, test_size=1, seed=0)


def test_builtin_corpora_are_described_fully():
    for spec in BUILTIN.values():
        assert isinstance(spec, CorpusSpec) and len(spec.sha256) == 64 and spec.url.startswith("data/mirror/")


def test_a_corpus_is_read_and_split_in_under_800_bytes_a_pair(tmp_path):
    """About 4 GiB for 5 M pairs (BENCHMARKS.md, "Scale"); the corpus as read used to stay in
    memory beside its cleaned copy, each line twice, for about 1,000 bytes a pair."""
    import tracemalloc

    from nmt.config import DataParams
    from nmt.corpus import make_split

    n = 10_000
    lines = (f"the {i % 97} cat number {i} sat on a mat .\tle chat {i % 89} numéro {i} était assis sur un tapis .\n" for i in range(n))
    write(tmp_path / "c" / "corpus.tsv", "".join(lines).encode())
    spec = CorpusSpec("custom", "", "", "tsv", ("en", "fr"), pretokenized=True)
    tracemalloc.start()
    try:
        parts = read_corpus(spec, tmp_path / "c", reverse=False)
        split, test_ref, _ = make_split(parts, EN, FR, DataParams(), pretokenized=True, seed=1, where=tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert sum(map(len, split.values())) == n and len(test_ref) == len(split["test"])
    assert peak / n < 800, f"{peak / n:.0f} bytes a pair"  # 607 today, 1,041 before
