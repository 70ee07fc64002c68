"""Test-set scores with sacrebleu: BLEU, chrF and TER on detokenized text, with signatures.

For targets written without spaces (Japanese, Chinese) BLEU uses sacrebleu's own word
segmentation (MeCab with IPADIC for Japanese, as WMT does) on the detokenized text, so the
figure does not depend on how the corpus was segmented. `bleu_corpus_tokens` is BLEU on the
corpus's own tokens instead (tokenize="none"): that is how published small_parallel_enja
figures are computed, so it is the one to compare with them.

References are the test file as the corpus distributes it, never normalised the way training
text is (NFKC would turn the corpus's full-width `！` into `!` and flatter the scores). Where the
corpus is tokenised, `raw_references` joins the tokens with the same rule as the hypotheses,
which only removes spaces; `reference_rule` names it, and eval.json records the name.
"""

from __future__ import annotations

from sacrebleu.metrics import BLEU, CHRF, TER

from nmt.text import UNSEGMENTED, TextPipeline

BLEU_TOKENIZER = {"ja": "ja-mecab", "zh": "zh", "ko": "ko-mecab"}
CJK = frozenset({"ja", "zh", "ko"})


def score(hypotheses: list[str], references: list[str], target_lang: str, *, hyp_tokens: list[str] | None = None, ref_tokens: list[str] | None = None) -> dict:
    """Corpus-level scores of detokenized hypotheses against detokenized references."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    bleu = BLEU(tokenize=BLEU_TOKENIZER.get(target_lang, "13a"))
    chrf = CHRF()
    # TER counts word edits: text without spaces needs its tokenizer (normalized) with CJK support.
    ter = TER(normalized=target_lang in CJK, asian_support=target_lang in CJK)
    refs = [references]
    out = {
        "bleu": round(bleu.corpus_score(hypotheses, refs).score, 2),
        "chrf": round(chrf.corpus_score(hypotheses, refs).score, 2),
        "ter": round(ter.corpus_score(hypotheses, refs).score, 2),
    }
    signatures = {"bleu": str(bleu.get_signature()), "chrf": str(chrf.get_signature()), "ter": str(ter.get_signature())}
    if hyp_tokens is not None and ref_tokens is not None:
        tok_bleu = BLEU(tokenize="none")
        out["bleu_corpus_tokens"] = round(tok_bleu.corpus_score(hyp_tokens, [ref_tokens]).score, 2)
        signatures["bleu_corpus_tokens"] = str(tok_bleu.get_signature())
    return {**out, "signatures": signatures}


def reference_rule(target: TextPipeline, *, pretokenized: bool) -> str:
    """In words, how `raw_references` turns the corpus's test references into what sacrebleu sees."""
    if not pretokenized:
        return "as distributed"
    how = "spaces removed but between ASCII letters/digits" if target.lang in UNSEGMENTED else f"Moses-detokenized ({target.lang})"
    return f"as distributed, {how}; no character changed"


def raw_references(raw: list[str], target: TextPipeline, *, pretokenized: bool) -> list[str]:
    """The references sacrebleu scores against: the corpus's own lines, detokenised if it is tokenised.

    Detokenising may only move spaces: a line whose characters would change is refused, so that
    `reference_rule` stays true (e.g. a Moses rule that unescapes `&amp;`)."""
    if not pretokenized:
        return list(raw)
    out = [target.detokenize(line) for line in raw]
    for n, (before, after) in enumerate(zip(raw, out), 1):
        if before.replace(" ", "") != after.replace(" ", ""):
            raise ValueError(f"test reference {n}: detokenizing would change characters: {before!r} -> {after!r}")
    return out


def samples_markdown(sources: list[str], references: list[str], hypotheses: list[str], n: int, title: str) -> str:
    """A short table of sample translations that reads well in a pull request."""

    def cell(s: str) -> str:
        return s.replace("|", "\\|").replace("\n", " ")

    rows = [f"### {title}", "", "| # | source | reference | translation |", "|---|---|---|---|"]
    rows += [f"| {i + 1} | {cell(s)} | {cell(r)} | {cell(h)} |" for i, (s, r, h) in enumerate(zip(sources[:n], references[:n], hypotheses[:n]))]
    return "\n".join(rows) + "\n"
