"""The corpora the pipeline knows by name, and how a user's own corpus is described.

A `CorpusSpec` says where a corpus comes from (by default the offline mirror committed
under `data/mirror/`), how to verify it (sha256) and how to read it (format, languages,
whether it is already tokenized). `resolve_corpus` turns `params.data` into one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from nmt.config import DataParams
from nmt.errors import UserError
from nmt.text import UNSEGMENTED, TextPipeline

MIRROR_DIR = "data/mirror"


@dataclass(frozen=True)
class CorpusSpec:
    name: str
    url: str  # where the download stage fetches it: a path, file:// or https:// URL
    sha256: str
    format: str  # "tsv": one pair a line; "paired": <name>.<lang> files, one sentence a line
    languages: tuple[str, str]  # (first column / file, second column / file)
    pretokenized: bool = False  # tokens already separated by single spaces
    lowercased: tuple[str, ...] = ()  # languages whose side of the corpus is all lower case
    upstream: str = ""  # the public source the mirror copies
    citation: str = ""

    @property
    def has_official_split(self) -> bool:  # benchmarks/rescore.py: where to find the test references
        return self.format == "paired"


BUILTIN: dict[str, CorpusSpec] = {
    "small_parallel_enja": CorpusSpec(
        name="small_parallel_enja",
        url=f"{MIRROR_DIR}/small_parallel_enja.tar.gz",
        sha256="a8841d76b9b94c7a8a723d16515e0df45275ff4e72997005c9f09d36ddfb9f84",
        format="paired",
        languages=("en", "ja"),
        pretokenized=True,
        lowercased=("en",),
        upstream="https://github.com/odashi/small_parallel_enja",
        citation="Tanaka Corpus (Tatoeba, CC-BY 2.0 FR) via github.com/odashi/small_parallel_enja",
    ),
    "fra_eng": CorpusSpec(
        name="fra_eng",
        url=f"{MIRROR_DIR}/fra-eng.txt.gz",
        sha256="5a4ad496f8f3a38d87b0873dc4bae79b48745af8f54204d27b74b74cfb87ba3a",
        format="tsv",
        languages=("en", "fr"),
        upstream="https://www.manythings.org/anki/fra-eng.zip",
        citation="Tatoeba (CC-BY 2.0 FR) via manythings.org/anki",
    ),
}


def resolve_corpus(data: DataParams) -> CorpusSpec:
    """The corpus named by `data.corpus`, with `data.url` / `data.sha256` overrides applied."""
    if data.corpus == "custom":
        c = data.custom
        return CorpusSpec(
            name="custom",
            url=data.url or "",
            sha256=(data.sha256 or "").lower(),
            format=c.format,
            languages=(c.languages[0], c.languages[1]),
            pretokenized=c.pretokenized,
            lowercased=tuple(c.languages) if c.lowercase else (),
        )
    spec = BUILTIN[data.corpus]
    if data.url:
        spec = replace(spec, url=data.url)
    if data.sha256:
        spec = replace(spec, sha256=data.sha256.lower())
    return spec


def direction(spec: CorpusSpec, reverse: bool) -> tuple[str, str]:
    """(source language, target language) for the chosen direction."""
    src, tgt = spec.languages
    return (tgt, src) if reverse else (src, tgt)


def segmenter_for(lang: str, segmenter: str) -> str:
    """`data.segmenter` resolved for one unsegmented language: "auto" is MeCab for Japanese
    and a sentencepiece model for the others (BENCHMARKS.md, "Japanese without spaces")."""
    if segmenter == "auto":
        return "mecab" if lang == "ja" else "sentencepiece"
    if segmenter == "mecab" and lang != "ja":
        raise UserError(f"data.segmenter=mecab: MeCab's dictionary (IPAdic) is Japanese, the text is {lang!r}; use sentencepiece (or auto)")
    return segmenter


def text_pipelines(spec: CorpusSpec, reverse: bool, segmenter: str = "whitespace") -> tuple[TextPipeline, TextPipeline]:
    """The source and target text pipelines for this corpus and direction, at the word level
    (the vocab stage sets the level). An unsegmented language is segmented by `segmenter`
    (`data.segmenter`) on the source side, which users type, and on a side that does not come
    segmented; a segmented corpus's target side keeps its own (gold) tokens, which scores use.
    A sentencepiece segmenter has no model yet: the split stage trains it (nmt.corpus)."""
    pipes = []
    for side, lang in zip(("source", "target"), direction(spec, reverse)):
        seg = "whitespace"
        if lang in UNSEGMENTED and (side == "source" or not spec.pretokenized):
            seg = segmenter_for(lang, segmenter)
        pipes.append(TextPipeline(lang=lang, lowercase=lang in spec.lowercased, segmenter=seg))
    return tuple(pipes)  # type: ignore[return-value]
