"""`nmt.text` as TensorFlow graph ops, for the serving SavedModel (nmt/serving.py).

Only core TensorFlow ops: `tf.strings.*` (RE2 regexes, UTF-8 splitting), `tf.lookup.StaticHashTable`
and loops, so that TF Serving's stock model server can run the result (no tensorflow-text, no
py_function). Everything language-specific is generated here, at export time, from the Python
side's own data (`unicodedata`, sacremoses' character classes and non-breaking prefixes) and
frozen into the graph as constants and tables.

What is ported, and how faithfully (tests/test_graph_text.py asserts equality with nmt.text on
corpus lines, nasty inputs and hypothesis text; the other figures are from a one-off fuzz, 2026-11-29):
- `normalize`: NFKC is built from three tables: each code point's compatibility decomposition
  (with `normalize`'s clean-up folded in: straight quotes, control/format characters and
  whitespace to spaces), canonical reordering of combining marks (a sort by combining class),
  and composition of adjacent pairs (base + mark, Hangul jamo) in three passes. Known gap: NFC
  also composes a base with a mark that is not next to it (a mark of a lower class in between,
  itself not composable: "u" + U+3099 + U+0308 -> "ü" + U+3099); this keeps them apart.
  Measured: 0 differences on 6,500 corpus lines (fra-eng en/fr, small_parallel_enja) and on
  4,000 hypothesis `text()` strings; 344 of 4,000 (8.6 %) random strings built only from
  bases and stacked combining marks of mixed classes.
- lower-casing: `tf.strings.lower(encoding="utf-8")`, which matched `str.lower` on everything tried.
- `word_tokenize`: sacremoses `MosesTokenizer.tokenize(escape=False, aggressive_dash_splits=False)`
  rule by rule. Its look-ahead-free regexes carry over to RE2 with the same character classes
  (written out as code-point ranges); the multi-dot marker uses "\\x00" (which normalisation
  never leaves in the text) instead of "DOT"; the non-breaking-prefix step works on the tokens
  of each sentence with two hash tables. Not ported: its Finnish/Swedish/Czech-specific rules
  (sacremoses' tokenizer has none either), and a user typing the marker "DOTMULTI" literally.
- `detokenize`: the unsegmented-language rule exactly; sacremoses `MosesDetokenizer` as a loop over
  token positions carrying its quote counts, for all languages except its Czech and Finnish
  special cases.
- sentencepiece (the subword level) is not ported: core TensorFlow has no op for it; see serving.py.
"""

from __future__ import annotations

import functools
import unicodedata

import tensorflow as tf

from nmt.text import QUOTES, SPACE, UNSEGMENTED, TextPipeline

NO_MAP = "\x01"  # table default meaning "keep the character": no mapped value contains it
MARK = "\x00"  # placeholder inside the graph: normalisation turns every control character into a space


# ---- building blocks, computed at export time ---------------------------------------------------
def char_class(chars, *, extra: str = "", negate: bool = False) -> str:
    """An RE2 bracket expression for a set of characters, as code-point ranges."""
    cps = sorted({ord(c) for c in chars} - set(range(0xD800, 0xE000)))
    ranges, start, prev = [], None, None
    for cp in cps:
        if start is None:
            start = prev = cp
        elif cp == prev + 1:
            prev = cp
        else:
            ranges.append((start, prev))
            start = prev = cp
    if start is not None:
        ranges.append((start, prev))
    body = "".join(f"\\x{{{a:x}}}" if a == b else f"\\x{{{a:x}}}-\\x{{{b:x}}}" for a, b in ranges)
    return f"[{'^' if negate else ''}{body}{extra}]"


def _clean(text: str) -> str:
    """What `normalize` does to each character after NFKC (whitespace runs are collapsed later)."""
    text = text.translate(QUOTES)
    return "".join(" " if unicodedata.category(ch) in ("Cc", "Cf") or ch == SPACE or ch.isspace() else ch for ch in text)


@functools.lru_cache(maxsize=1)
def normalization_tables() -> tuple[dict[str, str], dict[str, int], dict[str, str]]:
    """From Python's `unicodedata`: (each code point's cleaned NFKD where it differs from the code
    point, the canonical combining class of the marks, the composition of adjacent pairs)."""
    chars, ccc = {}, {}
    for cp in range(0x110000):
        if 0xD800 <= cp < 0xE000:
            continue
        c = chr(cp)
        out = _clean(unicodedata.normalize("NFKD", c))
        if out != c:
            chars[c] = out
        if unicodedata.combining(c):
            ccc[c] = unicodedata.combining(c)
    firsts, seconds = set(), set()
    for cp in range(0x110000):
        d = unicodedata.decomposition(chr(cp))
        if d and not d.startswith("<") and len(d.split()) == 2:
            a, b = (chr(int(x, 16)) for x in d.split())
            firsts.update((a, chr(cp)))
            seconds.add(b)
    pairs = {}
    for a in firsts:
        for b in seconds:
            out = _clean(unicodedata.normalize("NFKC", a + b))
            if len(out) == 1:
                pairs[a + b] = out
    for lv in range(0xAC00, 0xD7A4, 28):  # Hangul: L + V -> LV, LV + T -> LVT
        lead, vowel = divmod(lv - 0xAC00, 588)[0], (lv - 0xAC00) % 588 // 28
        pairs[chr(0x1100 + lead) + chr(0x1161 + vowel)] = chr(lv)
        for t in range(1, 28):
            pairs[chr(lv) + chr(0x11A7 + t)] = chr(lv + t)
    return chars, ccc, pairs


def _table(mapping: dict[str, str | int], default) -> tf.lookup.StaticHashTable:
    keys = sorted(mapping)  # in a fixed order, so that the SavedModel is the same on every export
    values = [mapping[k] for k in keys]
    dtype = tf.string if isinstance(default, str) else tf.int64
    return tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(tf.constant(keys, tf.string), tf.constant(values, dtype)), default)


def _row_neighbours(tokens: tf.RaggedTensor):
    """For each token (flat): the next token of the same sentence ("" if none), and whether it exists."""
    flat = tokens.flat_values
    n = tf.shape(flat)[0]
    row_ends = tf.gather(tokens.row_limits(), tokens.value_rowids())
    has_next = tf.range(n, dtype=row_ends.dtype) + 1 < row_ends
    nxt = tf.where(has_next, tf.concat([flat[1:], [""]], 0), "")
    return nxt, has_next


def _full(text, pattern):
    return tf.strings.regex_full_match(text, pattern)


def _sub(text, pattern, rewrite):
    return tf.strings.regex_replace(text, pattern, rewrite)


# ---- normalize ----------------------------------------------------------------------------------
class Normalizer(tf.Module):
    """`nmt.text.normalize` for a batch of strings: NFKC as decomposition (per code point, from a
    table), canonical reordering of combining marks (a sort by combining class), then composition of
    adjacent pairs (three passes), with `normalize`'s clean-up folded into the table."""

    def __init__(self):
        super().__init__()
        chars, ccc, pairs = normalization_tables()
        self.chars = _table(chars, NO_MAP)
        self.ccc = _table(ccc, 0)
        self.pairs = _table(pairs, "")

    def __call__(self, text: tf.Tensor) -> tf.Tensor:
        chars = tf.strings.unicode_split(text, "UTF-8")
        mapped = tf.ragged.map_flat_values(self.chars.lookup, chars)
        text = tf.strings.reduce_join(tf.ragged.map_flat_values(tf.where, mapped == NO_MAP, chars, mapped), axis=-1)
        dense = tf.strings.unicode_split(text, "UTF-8").to_tensor("")
        dense = tf.pad(dense, [[0, 0], [0, 1]], constant_values="")  # at least one column
        # Canonical ordering: within each run of marks after a starter, a stable sort by combining class.
        ccc = self.ccc.lookup(dense)
        width = tf.cast(tf.shape(dense)[1], tf.int64)
        key = (tf.cumsum(tf.cast(ccc == 0, tf.int64), axis=1) * 256 + ccc) * width + tf.range(width)[None, :]
        dense = tf.gather(dense, tf.argsort(key, axis=1), batch_dims=1)
        for _ in range(3):  # composition: base + up to three marks, one at a time
            composed = self.pairs.lookup(dense[:, :-1] + dense[:, 1:])
            hit = tf.pad(composed != "", [[0, 0], [0, 1]])
            hit &= ~tf.pad(hit[:, :-1], [[0, 0], [1, 0]])  # overlapping pairs: the left one wins
            consumed = tf.pad(hit[:, :-1], [[0, 0], [1, 0]])
            dense = tf.where(hit, tf.pad(composed, [[0, 0], [0, 1]]), tf.where(consumed, "", dense))
            dense = tf.gather(dense, tf.argsort(tf.cast(dense == "", tf.int32), axis=1, stable=True), batch_dims=1)
        return tf.strings.strip(_sub(tf.strings.reduce_join(dense, axis=-1), " +", " "))


# ---- Moses tokenizer ----------------------------------------------------------------------------
class MosesTokenizer(tf.Module):
    """sacremoses `MosesTokenizer(lang).tokenize(text, escape=False)` on normalised text; returns
    the tokens joined by single spaces."""

    def __init__(self, lang: str):
        super().__init__()
        from sacremoses import MosesTokenizer as Python

        py = Python(lang=lang)
        self.lang = lang
        alnum, alpha, n = set(py.IsAlnum), set(py.IsAlpha), set(py.IsN)
        self.pad_not_alnum = char_class(alnum, extra=r"\s.'`,\-", negate=True)
        self.alpha, self.not_alpha = char_class(alpha), char_class(alpha, negate=True)
        self.n, self.not_n = char_class(n), char_class(n, negate=True)
        self.not_alpha_n = char_class(alpha | n, negate=True)
        self.lower = char_class(py.IsLower)
        numeric = set(py.NUMERIC_ONLY_PREFIXES)
        self.prefixes = _table({p: 1 for p in py.NONBREAKING_PREFIXES if p not in numeric}, 0)
        self.numeric_prefixes = _table({p: 1 for p in numeric} or {"\x01": 1}, 0)

    def __call__(self, text: tf.Tensor) -> tf.Tensor:
        text = tf.strings.strip(_sub(_sub(text, r"\s+", " "), r"[\x00-\x1f]", ""))
        text = _sub(text, f"({self.pad_not_alnum})", r" \1 ")
        # Multi-dot runs: "DOT" * k + "MULTI" in sacremoses, MARK * k + "MULTI" here.
        text = _sub(_sub(text, r"\.\.", MARK * 2), r"\x00\.", MARK * 2)
        text = _sub(_sub(text, r"(\x00+)([^\x00])", r" \1MULTI \2"), r"(\x00+)$", r" \1MULTI")
        text = _sub(text, f"({self.not_n}),", r"\1 , ")
        text = _sub(text, f",({self.not_n})", r" , \1")
        text = _sub(text, f"({self.n}),$", r"\1 , ")
        a, na = self.alpha, self.not_alpha
        if self.lang == "en":
            rules = [
                (f"({na})'({na})", r"\1 ' \2"),
                (f"({self.not_alpha_n})'({a})", r"\1 ' \2"),
                (f"({a})'({na})", r"\1 ' \2"),
                (f"({a})'({a})", r"\1 '\2"),
                (f"({self.n})'(s)", r"\1 '\2"),
            ]
        elif self.lang in ("fr", "it"):
            rules = [(f"({na})'({na})", r"\1 ' \2"), (f"({na})'({a})", r"\1 ' \2"), (f"({a})'({na})", r"\1 ' \2"), (f"({a})'({a})", r"\1' \2")]
        else:
            rules = [("'", " ' ")]
        for pattern, rewrite in rules:
            text = _sub(text, pattern, rewrite)
        text = self._nonbreaking_prefixes(text)
        text = _sub(text, r"\.' ?$", " . ' ")
        text = _sub(_sub(text, r"(\x00+)MULTI", r"\1"), r"\x00", ".")
        return tf.strings.strip(_sub(text, " +", " "))

    def _nonbreaking_prefixes(self, text: tf.Tensor) -> tf.Tensor:
        """A final "." is split off a token unless the token is a known abbreviation, contains
        another "." and a letter, precedes a lower-case word, or is a numeric-only prefix before
        a number (sacremoses `handles_nonbreaking_prefixes`)."""
        tokens = tf.strings.split(text)
        tok = tokens.flat_values
        nxt, has_next = _row_neighbours(tokens)
        ends = _full(tok, r".+\.")
        length = tf.strings.length(tok)
        prefix = tf.where(ends, tf.strings.substr(tok, tf.zeros_like(length), tf.maximum(length - 1, 0)), tok)
        keep = (_full(prefix, r".*\..*") & _full(prefix, f".*{self.alpha}.*")) | (self.prefixes.lookup(prefix) == 1)
        keep |= has_next & _full(tf.strings.substr(nxt, 0, 1, unit="UTF8_CHAR"), self.lower)
        keep |= (self.numeric_prefixes.lookup(prefix) == 1) & has_next & _full(nxt, "[0-9].*")
        tok = tf.where(ends & ~keep, prefix + " .", tok)
        return tf.strings.reduce_join(tokens.with_flat_values(tok), axis=-1, separator=" ")


# ---- detokenizers -------------------------------------------------------------------------------
def unsegmented_detokenize(text: tf.Tensor) -> tf.Tensor:
    """`nmt.text.detokenize` for languages without spaces: drop the spaces between words except
    between two ASCII letters or digits. Two passes catch the overlapping pairs ("a b c")."""
    text = _sub(text, " +", " ")
    for _ in range(2):
        text = _sub(text, "([A-Za-z0-9]) ([A-Za-z0-9])", "\\1" + MARK + "\\2")
    return _sub(_sub(text, " ", ""), r"\x00", " ")


class MosesDetokenizer(tf.Module):
    """sacremoses `MosesDetokenizer(lang).detokenize(tokens)` on corpus lines (tokens joined by
    spaces): one loop over token positions for the whole batch, carrying the quote counts."""

    UNESCAPE = [
        ("&bar;", "|"),
        ("&#124;", "|"),
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&bra;", "["),
        ("&ket;", "]"),
        ("&quot;", '"'),
        ("&apos;", "'"),
        ("&#91;", "["),
        ("&#93;", "]"),
        ("&amp;", "&"),
    ]

    def __init__(self, lang: str):
        super().__init__()
        from sacremoses import MosesDetokenizer as Python
        from sacremoses.util import _CJKChars_ranges

        self.lang = lang
        self.alpha = char_class(Python.IsAlpha)
        self.currency = char_class(Python.IsSc, extra=r"(\[{¿¡")
        self.cjk = "[" + "".join(f"\\x{{{a:x}}}-\\x{{{b:x}}}" for a, b in _CJKChars_ranges) + "]"

    def __call__(self, text: tf.Tensor) -> tf.Tensor:
        text = _sub(" " + text + " ", r" @-@ ", "-")
        for pattern, rewrite in self.UNESCAPE:
            text = _sub(text, pattern, rewrite)
        tokens = tf.strings.split(text)
        dense = tokens.to_tensor("")
        n = tf.cast(tokens.row_lengths(), tf.int32)
        batch, width = tf.shape(dense)[0], tf.shape(dense)[1]
        lang = self.lang

        first = tf.strings.substr(dense, 0, 1, unit="UTF8_CHAR")
        chars = tf.strings.length(dense, unit="UTF8_CHAR")
        last = tf.strings.substr(dense, tf.maximum(chars - 1, 0), tf.ones_like(chars), unit="UTF8_CHAR")
        cjk_first = _full(first, self.cjk) & (lang != "ko")
        cjk_last = _full(last, self.cjk)
        currency = _full(dense, self.currency + "+")
        punct = _full(dense, r"[,.?!:;\\%}\])]+")
        fr_punct = _full(dense, r"[?!:;\\%]") & (lang == "fr")
        en_contraction = _full(dense, f"'{self.alpha}.*") & (lang == "en")
        fr_contraction = _full(dense, f".*{self.alpha}'") & (lang in ("fr", "it", "ga"))
        starts_alpha = _full(dense, f"{self.alpha}.*")
        open_quote = _full(dense, "['\"„“`]+")
        quote = tf.where(_full(dense, "[„“”]+"), '"', dense)
        ends_s = _full(dense, ".*s")
        prev_cjk = tf.pad(cjk_last[:, :-1], [[0, 0], [1, 0]])
        prev_s = tf.pad(ends_s[:, :-1], [[0, 0], [1, 0]])
        next_alpha = tf.pad(starts_alpha[:, 1:], [[0, 0], [0, 1]])

        out = tf.fill([batch], "")
        space = tf.fill([batch], " ")  # sacremoses' prepend_space
        counted = tf.zeros([batch, width], tf.bool)
        for t in tf.range(width):
            tok, valid = dense[:, t], t < n

            def at(x, t=t):
                return x[:, t]

            same = counted & tf.equal(quote, quote[:, t : t + 1])
            even = tf.equal(tf.reduce_sum(tf.cast(same, tf.int32), 1) % 2, 0)
            possessive = even & (lang == "en") & tf.equal(tok, "'") & (t > 0) & at(prev_s)
            cases = [  # (condition, text appended, new prepend_space, counts as a quote), in sacremoses' order
                (at(cjk_first), tf.where(at(prev_cjk) & (t > 0), tok, space + tok), " ", False),
                (at(currency), space + tok, "", False),
                (at(punct), tf.where(at(fr_punct), " ", "") + tok, " ", False),
                (at(en_contraction) & (t > 0), tok, " ", False),
                (at(fr_contraction) & (t + 1 < n) & at(next_alpha), space + tok, "", False),
                (at(open_quote) & possessive, tok, " ", False),
                (at(open_quote) & even, space + tok, "", True),
                (at(open_quote), tok, " ", True),
            ]
            piece, new_space, count = space + tok, tf.fill([batch], " "), tf.zeros([batch], tf.bool)
            for cond, text_, space_, counts in reversed(cases):  # the first true condition wins
                piece = tf.where(cond, text_, piece)
                new_space = tf.where(cond, space_, new_space)
                count = tf.where(cond, counts, count)
            out = tf.where(valid, out + piece, out)
            space = tf.where(valid, new_space, space)
            counted |= (tf.range(width) == t)[None, :] & (count & valid)[:, None]
        return tf.strings.strip(_sub(out, " {2,}", " "))


# ---- one side's whole pipeline ------------------------------------------------------------------
class GraphText(tf.Module):
    """`TextPipeline` in graph ops for one side (word or char level)."""

    def __init__(self, pipe: TextPipeline):
        super().__init__()
        if pipe.level == "subword":
            raise ValueError("the subword level needs sentencepiece, which core TensorFlow cannot run")
        self.level, self.lang, self.lowercase = pipe.level, pipe.lang, pipe.lowercase
        self.normalizer = Normalizer()
        self.segmented = pipe.lang not in UNSEGMENTED
        self.tokenizer = MosesTokenizer(pipe.lang) if self.segmented else None
        self.detokenizer = MosesDetokenizer(pipe.lang) if self.segmented else None

    def prepare(self, text: tf.Tensor) -> tf.Tensor:
        """Raw text -> corpus tokens joined by spaces (`TextPipeline.prepare`)."""
        text = self.normalizer(text)
        if self.lowercase:
            text = tf.strings.lower(text, encoding="utf-8")
        return self.tokenizer(text) if self.segmented else text  # normalised text has single spaces

    def prepare_as_written(self, text: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """`prepare`, and the same without lower-casing (the words as the user wrote them, nmt/unk.py)."""
        text = self.normalizer(text)
        lowered = tf.strings.lower(text, encoding="utf-8") if self.lowercase else text
        if not self.segmented:
            return lowered, text
        line = self.tokenizer(lowered)
        return line, self.tokenizer(text) if self.lowercase else line

    def tokens(self, line: tf.Tensor) -> tf.RaggedTensor:
        """Corpus line -> model tokens (`TextPipeline.tokens`)."""
        if self.level == "word":
            return tf.strings.split(line)
        return tf.strings.unicode_split(_sub(line, " ", SPACE), "UTF-8")

    def join(self, tokens: tf.RaggedTensor) -> tf.Tensor:
        """Model tokens -> corpus line (`TextPipeline.join`)."""
        if self.level == "word":
            return tf.strings.reduce_join(tokens, axis=-1, separator=" ")
        return tf.strings.strip(_sub(_sub(tf.strings.reduce_join(tokens, axis=-1), SPACE, " "), r"\s+", " "))

    def detokenize(self, line: tf.Tensor) -> tf.Tensor:
        """Corpus line -> plain text (`TextPipeline.detokenize`)."""
        return self.detokenizer(line) if self.segmented else unsegmented_detokenize(line)
