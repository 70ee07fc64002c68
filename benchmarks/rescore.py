"""Rescore every row of BENCHMARKS.md's quality table from its committed hypotheses.

    python benchmarks/rescore.py [BENCHMARKS.md]

Each row names, in its `hypotheses` column, the folder holding that run's translations:
`hypotheses.txt` (detokenised, what BLEU and chrF score) and, for a tokenised corpus,
`hypotheses.tok.txt` (corpus tokens, what `BLEU corpus tokens` scores). The references are the
corpus's test file from the mirror (`data/mirror/`) exactly as distributed, prepared by the rule
the evaluate stage uses (`nmt.evaluation.raw_references`); a corpus without an official test set
needs the run's `test.ref` (written by the split stage) in the folder. The script prints each
figure next to its recomputed value and exits 1 when any differs, is missing, or cannot be checked.
"""

from __future__ import annotations

import functools
import gzip
import itertools
import re
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nmt.corpora import BUILTIN
from nmt.evaluation import raw_references, score
from nmt.fsutil import read_lines
from nmt.text import TextPipeline

FIGURES = {"BLEU": "bleu", "BLEU corpus tokens": "bleu_corpus_tokens", "chrF": "chrf"}


def quality_rows(markdown: str) -> list[dict[str, str]]:
    """The rows of the table under `## Translation quality`, as {column: cell}."""
    section = markdown.split("## Translation quality", 1)[1].split("\n## ", 1)[0]
    # The section's first table only: other tables (summaries of its rows) may follow it.
    lines = list(itertools.takewhile(lambda line: line.startswith("|"), itertools.dropwhile(lambda line: not line.startswith("|"), section.splitlines())))
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    return [dict(zip(header, (c.strip() for c in line.strip("|").split("|")))) for line in lines[2:]]


def references(corpus: str, target: str, folder: Path) -> list[str]:
    """The test references as the corpus distributes them. The run's `test.ref` of a corpus without
    an official split (fra_eng) must hold lines of the mirror's `target` side, unedited."""
    spec = BUILTIN[corpus]
    if (folder / "test.ref").exists():
        refs = read_lines(folder / "test.ref")
        if not spec.has_official_split:
            foreign = [n for n, line in enumerate(refs, 1) if line not in mirror_side(corpus, target)]
            if foreign:
                raise ValueError(f"{folder / 'test.ref'}: line {foreign[0]} ({len(foreign)} in all) is not a {target} sentence of {spec.url} as distributed")
        return refs
    if not spec.has_official_split:
        raise ValueError(f"{folder}: {corpus} has no official test set: the run's data/split/test.ref must be committed there")
    with tarfile.open(ROOT / spec.url) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith(f"/test.{target}"))
        return tar.extractfile(member).read().decode("utf-8").split("\n")[:-1]


@functools.cache
def mirror_side(corpus: str, lang: str) -> frozenset[str]:
    """Every line of one language's side of a TSV corpus's mirror, as distributed."""
    spec = BUILTIN[corpus]
    column = spec.languages.index(lang)
    with gzip.open(ROOT / spec.url, "rt", encoding="utf-8") as f:
        return frozenset(line.rstrip("\n").split("\t")[column] for line in f if "\t" in line)


def rescore(row: dict[str, str]) -> list[str]:
    """Problems with one row (empty when every figure matches its hypotheses)."""
    m = re.match(r"(\w+) (\w+)→(\w+)", row["corpus"])
    folder = ROOT / row["hypotheses"].strip("`").split("`")[0]
    if not m or not (folder / "hypotheses.txt").is_file():
        return [f"{row['corpus']}: no hypotheses.txt in {row['hypotheses']!r}"]
    corpus, target = m[1], m[3]
    spec = BUILTIN[corpus]
    pipe = TextPipeline(target, lowercase=target in spec.lowercased)
    try:
        raw = references(corpus, target, folder)
    except ValueError as e:
        return [f"{row['corpus']} ({row['search']}, {row['hypotheses']}): {e}"]
    tok_file = folder / "hypotheses.tok.txt"
    tokens = read_lines(tok_file) if spec.pretokenized and tok_file.exists() else None
    got = score(
        read_lines(folder / "hypotheses.txt"),
        raw_references(raw, pipe, pretokenized=spec.pretokenized),
        target,
        hyp_tokens=tokens,
        ref_tokens=raw if tokens else None,
    )
    problems = []
    for column, key in FIGURES.items():
        stated = row.get(column, "").strip("* ")
        if key not in got:
            if stated not in ("", "–"):
                problems.append(f"{column} {stated}: nothing to recompute it from (no {tok_file.name})")
            continue
        print(f"{row['corpus']} | {row['search']} | {column}: stated {stated or '–'}, rescored {got[key]:.2f}")
        if stated != f"{got[key]:.2f}":
            problems.append(f"{column}: BENCHMARKS.md says {stated or 'nothing'}, the hypotheses give {got[key]:.2f}")
    return [f"{row['corpus']} ({row['search']}, {row['hypotheses']}): {p}" for p in problems]


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else ROOT / "BENCHMARKS.md"
    rows = quality_rows(path.read_text(encoding="utf-8"))
    if not rows:
        print(f"{path}: no quality rows found", file=sys.stderr)
        return 1
    problems = [p for row in rows for p in rescore(row)]
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    print(f"{len(rows)} row(s), {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
