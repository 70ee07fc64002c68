"""Reading a parallel corpus, cleaning it, and making train/dev/test.

`read_corpus` parses the unpacked download (TSV or paired `<name>.<lang>` files) into
`Pair`s; `clean` normalizes, tokenizes and filters them, counting every drop by reason;
`grouped_split` holds out dev and test sentences so that no sentence, on either side, appears
in two parts; `make_split` is the policy that puts these together (the official split where
the corpus has one, otherwise a seeded grouped one).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from nmt.config import DataParams
from nmt.corpora import CorpusSpec
from nmt.errors import UserError
from nmt.segment import train_segmenter
from nmt.text import TextPipeline


class CorpusError(UserError, ValueError):
    """Bad corpus input; the message names the file and line."""


@dataclass(frozen=True, slots=True)  # slots: a corpus of millions of pairs (BENCHMARKS.md, "Scale")
class Pair:
    src: str
    tgt: str


def _read_lines(path: Path) -> list[str]:
    """The lines of a UTF-8 text file, without line ends (LF or CRLF) or a byte-order mark."""
    data = path.read_bytes()
    if not data:
        raise CorpusError(f"{path}: the file is empty (0 bytes)")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data[:4096]:
        raise CorpusError(f"{path}: UTF-16 text (a UTF-16 byte-order mark or NUL bytes), not UTF-8; convert it, e.g. `iconv -f UTF-16 -t UTF-8`")
    if b"\r" in data and b"\n" not in data:
        raise CorpusError(f"{path}: lines end in a carriage return alone (classic Mac line ends); convert them to LF, e.g. `tr '\\r' '\\n'`")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    out = []
    for n, raw in enumerate(lines, 1):
        try:
            out.append(raw.decode("utf-8").rstrip("\r"))
        except UnicodeDecodeError as e:
            raise CorpusError(f"{path}:{n}: not valid UTF-8 ({e.reason} at byte {e.start})") from None
    return out


def _find(raw_dir: Path, pattern: str) -> list[Path]:
    """Files matching `pattern` anywhere under `raw_dir`, leaving out hidden files and notes
    that come with downloads (e.g. `_about.txt` in the manythings.org zips, READMEs)."""
    return sorted(
        p for p in raw_dir.rglob(pattern) if p.is_file() and not p.name.startswith((".", "_")) and not p.name.lower().startswith(("readme", "license"))
    )


def read_tsv(path: Path, *, reverse: bool) -> list[Pair]:
    """One pair a line: `first<TAB>second`, optionally a third column (attribution) ignored.

    A blank line (or one of whitespace) is an empty pair, which `clean` drops and counts."""
    pairs = []
    for n, line in enumerate(_read_lines(path), 1):
        cols = line.split("\t") if line.strip() else ["", ""]
        if len(cols) not in (2, 3):
            raise CorpusError(f"{path}:{n}: expected 2 or 3 tab-separated columns, found {len(cols)}: {line[:80]!r}")
        a, b = cols[0], cols[1]
        pairs.append(Pair(b, a) if reverse else Pair(a, b))
    return pairs


def read_paired(src_path: Path, tgt_path: Path) -> list[Pair]:
    """Two files, one sentence a line, line N of one translating line N of the other."""
    src, tgt = _read_lines(src_path), _read_lines(tgt_path)
    if len(src) != len(tgt):
        raise CorpusError(f"{src_path} has {len(src)} lines but {tgt_path} has {len(tgt)}: a paired corpus needs equal counts")
    return [Pair(s, t) for s, t in zip(src, tgt)]


def read_corpus(spec: CorpusSpec, raw_dir: Path, *, reverse: bool) -> dict[str, list[Pair]]:
    """The corpus as {"train": pairs, "dev": ..., "test": ...} for an official split, else {"all": pairs}."""
    raw_dir = Path(raw_dir)
    if spec.format == "tsv":
        files = [p for p in _find(raw_dir, "*") if p.suffix.lower() in (".txt", ".tsv", "")]
        if len(files) != 1:
            raise CorpusError(f"{raw_dir}: expected one .txt or .tsv file in the download, found {[str(f) for f in files]}")
        return {"all": read_tsv(files[0], reverse=reverse)}

    first, second = spec.languages
    src_lang, tgt_lang = (second, first) if reverse else (first, second)
    names = sorted({p.stem for p in _find(raw_dir, f"*.{first}")} | {p.stem for p in _find(raw_dir, f"*.{second}")})
    if not names:
        raise CorpusError(f"{raw_dir}: no files named <name>.{first} / <name>.{second} in the download")

    def pair_of(name: str) -> list[Pair]:
        found = {}
        for lang in (src_lang, tgt_lang):
            hits = _find(raw_dir, f"{name}.{lang}")
            if len(hits) != 1:
                raise CorpusError(f"{raw_dir}: expected one file {name}.{lang} in the download, found {len(hits)}")
            found[lang] = hits[0]
        return read_paired(found[src_lang], found[tgt_lang])

    if {"train", "dev", "test"} <= set(names):
        return {part: pair_of(part) for part in ("train", "dev", "test")}
    if len(names) == 1:
        return {"all": pair_of(names[0])}
    raise CorpusError(f"{raw_dir}: paired files must be train/dev/test or a single <name>, found {names}")


def clean(
    pairs: list[Pair],
    src: TextPipeline,
    tgt: TextPipeline,
    *,
    pretokenized: bool,
    max_len: int | None,
    dedupe: bool,
    counts: Counter,
    raw_targets: list[str] | None = None,
) -> list[tuple[str, str]]:
    """Normalize and tokenize both sides; drop empty, overlong (> max_len words) and repeated pairs.

    Adds to `counts`: "read", "kept" and "dropped_<reason>". `raw_targets`, when given, receives
    the target side of each kept pair as the corpus wrote it: the references test scores use.
    """
    out, seen = [], set()
    for p in pairs:
        counts["read"] += 1
        # A side the pipeline segments is re-segmented even where the corpus came segmented:
        # the model must see the words it will get from a user's sentence.
        s = src.prepare(p.src, pretokenized=pretokenized and not src.segments)
        t = tgt.prepare(p.tgt, pretokenized=pretokenized and not tgt.segments)
        s, t = p.src if s == p.src else s, p.tgt if t == p.tgt else t  # one copy of a line cleaning left as it was
        if not s or not t:
            counts["dropped_empty"] += 1
            continue
        if max_len is not None and max(s.count(" "), t.count(" ")) + 1 > max_len:
            counts["dropped_too_long"] += 1
            continue
        if dedupe:
            if (s, t) in seen:
                counts["dropped_duplicate"] += 1
                continue
            seen.add((s, t))
        out.append((s, t))
        if raw_targets is not None:
            raw_targets.append(p.tgt)
        counts["kept"] += 1
    return out


def why_empty(counts: Counter, max_len: int | None) -> str:
    """What to change when filtering left a split empty: the params that dropped the pairs."""
    hint = f" (counts: {dict(counts)})"
    if counts.get("dropped_too_long") and max_len is not None:
        hint += f"; data.max_len={max_len} dropped {counts['dropped_too_long']} of {counts['read']} pairs as too long: raise data.max_len"
    return hint


def grouped_split(pairs: list[tuple[str, str]], *, dev_size: int, test_size: int, seed: int) -> dict[str, list[tuple[str, str]]]:
    """A seeded train/dev/test split in which pairs that share a sentence (on either side) stay together.

    Tatoeba lists one English sentence with several French translations (and the reverse);
    splitting such a group would leak test sentences into training.
    """
    parent = list(range(len(pairs)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_seen: tuple[dict[str, int], dict[str, int]] = ({}, {})  # per side: a sentence's first pair
    for i, pair in enumerate(pairs):
        for side, sentence in enumerate(pair):
            j = first_seen[side].setdefault(sentence, i)
            parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(pairs)):
        groups.setdefault(root(i), []).append(i)

    order = list(groups.values())
    np.random.default_rng(seed).shuffle(order)
    if dev_size + test_size >= len(pairs):
        raise CorpusError(f"data.dev_size + data.test_size = {dev_size + test_size} leaves no training pairs of {len(pairs)}")
    parts: dict[str, list[tuple[str, str]]] = {"test": [], "dev": [], "train": []}
    for group in order:
        part = "test" if len(parts["test"]) < test_size else "dev" if len(parts["dev"]) < dev_size else "train"
        parts[part].extend(pairs[i] for i in sorted(group))
    return {"train": parts["train"], "dev": parts["dev"], "test": parts["test"]}


Split = dict[str, list[tuple[str, str]]]  # "train" | "dev" | "test" -> (source, target) corpus lines


def make_split(
    parts: dict[str, list[Pair]], src: TextPipeline, tgt: TextPipeline, data: DataParams, *, pretokenized: bool, seed: int, where: Path
) -> tuple[Split, list[str], dict[str, Counter]]:
    """The corpus's parts (from `read_corpus`) cleaned and split; the test targets as the corpus
    wrote them (the references scores use); the counts kept and dropped per part. A corpus in
    one piece is cleaned, de-duplicated and split by `grouped_split`; an official split is kept,
    with dev and test whole (bar empty lines) so that scores compare with published ones, and
    only the training part filtered and de-duplicated. `parts` is emptied: each part as read is
    freed once cleaned (a corpus of millions of pairs, BENCHMARKS.md "Scale")."""
    src, tgt = _until_trained(src), _until_trained(tgt)
    opts = dict(pretokenized=pretokenized, max_len=data.max_len)
    counts: dict[str, Counter] = {}
    if "all" in parts:
        counts["all"], raw = Counter(), []
        kept = clean(parts.pop("all"), src, tgt, dedupe=True, counts=counts["all"], raw_targets=raw, **opts)
        if not kept:
            raise CorpusError(f"{where}: no pairs left after filtering{why_empty(counts['all'], data.max_len)}")
        split = grouped_split(kept, dev_size=data.dev_size, test_size=data.test_size, seed=seed)
        test = set(split["test"])
        raw_of = {pair: ref for pair, ref in zip(kept, raw) if pair in test}  # kept pairs are distinct (de-duplicated)
        test_ref = [raw_of[pair] for pair in split["test"]]
    else:
        split, test_ref = {}, []
        for part in ("train", "dev", "test"):
            counts[part] = Counter()
            split[part] = clean(
                parts.pop(part),
                src,
                tgt,
                counts=counts[part],
                pretokenized=pretokenized,
                max_len=data.max_len if part == "train" else None,
                dedupe=part == "train",
                raw_targets=test_ref if part == "test" else None,
            )
    if data.max_train_pairs is not None:
        split["train"] = split["train"][: data.max_train_pairs]
    for part, pairs in split.items():
        if not pairs:
            raise CorpusError(
                f"{where}: the {part} split is empty after filtering{why_empty(counts.get(part) or sum(counts.values(), Counter()), data.max_len)}"
            )
    return split, test_ref, counts


def _until_trained(pipe: TextPipeline) -> TextPipeline:
    """A side whose sentencepiece segmenter is still to train is split on its spaces until then."""
    return replace(pipe, segmenter="whitespace") if pipe.segmenter == "sentencepiece" and not pipe.segmenter_model else pipe


def train_segmenters(split: Split, src: TextPipeline, tgt: TextPipeline, folder: Path, *, size: int, seed: int):
    """Each side whose sentencepiece segmenter is still to train: its model, trained on that side
    of the training part (de-spaced; `folder`/<side>.segmenter.model), and every part of that side
    segmented by it. Returns (split, source pipeline, target pipeline). `make_split` filtered
    those sides by their words as split on spaces (data.max_len)."""
    pipes = {"source": src, "target": tgt}
    for i, (side, pipe) in enumerate(pipes.items()):
        if pipe.segmenter != "sentencepiece" or pipe.segmenter_model:
            continue
        model = train_segmenter((pair[i] for pair in split["train"]), folder / f"{side}.segmenter.model", vocab_size=size, seed=seed)
        pipe = pipes[side] = replace(pipe, segmenter_model=str(model))
        split = {part: [_with(pair, i, pipe.prepare(pair[i])) for pair in pairs] for part, pairs in split.items()}
    return split, pipes["source"], pipes["target"]


def _with(pair: tuple[str, str], i: int, line: str) -> tuple[str, str]:
    return (line, pair[1]) if i == 0 else (pair[0], line)
