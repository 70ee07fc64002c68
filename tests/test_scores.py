"""The scorer against sacrebleu's own command line, and the committed figures against the
README's `sacrebleu` command: a wrong tokenizer, side or reference would show here."""

import gzip
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from pipeline_helpers import ROOT, venv_env

from nmt.corpus import Pair, clean
from nmt.evaluation import raw_references, reference_rule, score
from nmt.text import TextPipeline

# Full-width `！`, `？` and digits, as small_parallel_enja writes them; NFKC would make them ASCII.
JA_RAW_REFS = ["彼 は １０ 時 に 来 た ！", "それ は 本当 で す か ？", "私 は お茶 が 好き だ 。"]
JA_HYPS = ["彼は10時に来た!", "それは本当ですか?", "私はお茶が好きだ。"]
JA_HYP_TOKENS = ["彼 は 10 時 に 来 た !", "それ は 本当 で す か ?", "私 は お茶 が 好き だ 。"]
FR_REFS = ["Je n'aime pas le thé.", "Il est arrivé à 10 heures !", "C'est vrai ?"]
FR_HYPS = ["Je n'aime pas le café.", "Il est venu à 10 heures !", "C'est faux ?"]


def cli(refs: list[str], hyps: list[str], tmp_path: Path, *args: str) -> dict[str, dict]:
    """sacrebleu's command line on these lines: {metric name: its JSON record}."""
    (tmp_path / "ref").write_text("".join(f"{r}\n" for r in refs), encoding="utf-8")
    (tmp_path / "hyp").write_text("".join(f"{h}\n" for h in hyps), encoding="utf-8")
    out = subprocess.run(
        ["sacrebleu", str(tmp_path / "ref"), "-i", str(tmp_path / "hyp"), "-w", "2", *args], env=venv_env(), capture_output=True, text=True, check=True
    ).stdout
    return records(out)


def records(stdout: str) -> dict[str, dict]:
    """The JSON records sacrebleu prints (a list for several metrics, an object for one), by metric name."""
    found, decoder, pos = {}, json.JSONDecoder(), 0
    while pos < len(stdout):
        if stdout[pos].isspace():
            pos += 1
            continue
        obj, pos = decoder.raw_decode(stdout, pos)
        for r in obj if isinstance(obj, list) else [obj]:
            found[r["name"]] = r
    return found


def test_japanese_scores_equal_sacrebleu_cli_with_ja_mecab(tmp_path):
    refs = raw_references(JA_RAW_REFS, TextPipeline("ja"), pretokenized=True)
    ours = score(JA_HYPS, refs, "ja")
    theirs = cli(refs, JA_HYPS, tmp_path, "-m", "bleu", "chrf", "ter", "--tokenize", "ja-mecab", "--ter-normalized", "--ter-asian-support")
    assert (ours["bleu"], ours["chrf"], ours["ter"]) == (theirs["BLEU"]["score"], theirs["chrF2"]["score"], theirs["TER"]["score"])
    assert ours["signatures"]["bleu"] == theirs["BLEU"]["signature"] and "tok:ja-mecab" in ours["signatures"]["bleu"]
    assert ours["signatures"]["ter"] == theirs["TER"]["signature"]


def test_other_languages_score_with_13a_as_sacrebleu_cli_does(tmp_path):
    ours = score(FR_HYPS, FR_REFS, "fr")
    theirs = cli(FR_REFS, FR_HYPS, tmp_path, "-m", "bleu", "chrf", "ter")
    assert (ours["bleu"], ours["chrf"], ours["ter"]) == (theirs["BLEU"]["score"], theirs["chrF2"]["score"], theirs["TER"]["score"])
    assert ours["signatures"]["bleu"] == theirs["BLEU"]["signature"] and "tok:13a" in ours["signatures"]["bleu"]


def test_bleu_on_corpus_tokens_is_tok_none_on_the_corpus_own_tokens(tmp_path):
    refs = raw_references(JA_RAW_REFS, TextPipeline("ja"), pretokenized=True)
    ours = score(JA_HYPS, refs, "ja", hyp_tokens=JA_HYP_TOKENS, ref_tokens=JA_RAW_REFS)
    theirs = cli(JA_RAW_REFS, JA_HYP_TOKENS, tmp_path, "-m", "bleu", "--tokenize", "none")
    assert ours["bleu_corpus_tokens"] == theirs["BLEU"]["score"]
    assert ours["signatures"]["bleu_corpus_tokens"] == theirs["BLEU"]["signature"]


def test_references_reach_the_scorer_as_the_corpus_wrote_them():
    """Not NFKC-normalised like training text: `！` stays full-width, so `!` does not match it."""
    ja = TextPipeline("ja")
    raw = []
    kept = clean(
        [Pair("he came at ten !", JA_RAW_REFS[0])],
        TextPipeline("en", lowercase=True),
        ja,
        pretokenized=True,
        max_len=None,
        dedupe=False,
        counts=Counter(),
        raw_targets=raw,
    )
    assert kept[0][1] == "彼 は 10 時 に 来 た !" and raw == [JA_RAW_REFS[0]]  # training text normalised, the reference not
    assert raw_references(raw, ja, pretokenized=True) == ["彼は１０時に来た！"]
    assert score(["彼は10時に来た!"], ["彼は１０時に来た！"], "ja")["bleu"] < 100
    assert "no character changed" in reference_rule(ja, pretokenized=True)


def test_detokenizing_a_reference_may_not_change_its_characters():
    with pytest.raises(ValueError, match="reference 1: detokenizing would change characters"):
        raw_references(["i like fish &amp; chips ."], TextPipeline("en"), pretokenized=True)
    assert raw_references(["Il est là ."], TextPipeline("fr"), pretokenized=False) == ["Il est là ."]


def readme_block(marker: str) -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(rf"<!-- {marker} -->\n```bash\n(.*?)```", readme, re.DOTALL)
    assert block, f"README.md has no {marker} block"
    return block[1]


def run_readme_block(marker: str, cwd: Path = ROOT) -> list[dict]:
    out = subprocess.run(["bash", "-euo", "pipefail", "-c", readme_block(marker)], cwd=cwd, env=venv_env(), capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    return list(records(out.stdout).values())


def test_the_readme_sacrebleu_command_reproduces_the_committed_eval_json():
    """The default run's committed hypotheses and the mirror's test file, through the README's
    own lines: every figure of metrics/eval.json, and our scorer on the same files, agree."""
    ev = json.loads((ROOT / "metrics/eval.json").read_text(encoding="utf-8"))
    cli_scores = {r["name"]: (r["score"], r["signature"]) for r in run_readme_block("recheck")}
    assert cli_scores == {
        "BLEU": (ev["bleu"], ev["signatures"]["bleu"]),
        "chrF2": (ev["chrf"], ev["signatures"]["chrf"]),
        "TER": (ev["ter"], ev["signatures"]["ter"]),
    }
    if "bleu_corpus_tokens" in ev:  # a tokenised corpus: its own tokens, from metrics/hypotheses.tok.txt
        [tokens_bleu] = run_readme_block("recheck-tokens")
        assert (tokens_bleu["score"], tokens_bleu["signature"]) == (ev["bleu_corpus_tokens"], ev["signatures"]["bleu_corpus_tokens"])

    import tarfile

    with tarfile.open(ROOT / "data/mirror/small_parallel_enja.tar.gz") as tar:
        raw = tar.extractfile("small_parallel_enja/test.ja").read().decode("utf-8").split("\n")[:-1]
    ja = TextPipeline("ja")
    hyps = (ROOT / "metrics/hypotheses.txt").read_text(encoding="utf-8").split("\n")[:-1]
    ours = score(hyps, raw_references(raw, ja, pretokenized=True), "ja")
    assert (ours["bleu"], ours["chrf"], ours["ter"]) == (ev["bleu"], ev["chrf"], ev["ter"])
    assert ev["references"] == reference_rule(ja, pretokenized=True)


def test_the_evaluate_stage_scores_against_test_ref_not_the_normalised_test_tgt(tmp_path):
    """data/split/test.tgt is normalised training text; the stage must score against test.ref."""
    import shutil

    import keras
    from conftest import TINY_SOURCE, tiny_bundle

    from nmt.config import ModelParams

    keras.utils.set_random_seed(0)
    tiny_bundle(tmp_path / "models/bundle", ModelParams(embedding_dim=8, units=16))
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    split = tmp_path / "data/split"
    split.mkdir(parents=True)
    (split / "test.src").write_text("".join(f"{s}\n" for s in TINY_SOURCE[:3]), encoding="utf-8")
    (split / "test.ref").write_text("".join(f"{r}\n" for r in JA_RAW_REFS), encoding="utf-8")
    (split / "test.tgt").write_text("".join(f"{r}\n" for r in JA_HYP_TOKENS), encoding="utf-8")  # as normalised
    proc = subprocess.run(
        [sys.executable, str(ROOT / "stages/evaluate.py")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={**venv_env(), "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr
    ev = json.loads((tmp_path / "metrics/eval.json").read_text(encoding="utf-8"))
    hyps = (tmp_path / "metrics/hypotheses.txt").read_text(encoding="utf-8").split("\n")[:-1]
    tokens = (tmp_path / "metrics/hypotheses.tok.txt").read_text(encoding="utf-8").split("\n")[:-1]
    refs = raw_references(JA_RAW_REFS, TextPipeline("ja"), pretokenized=True)
    assert {k: ev[k] for k in ("bleu", "chrf", "ter", "bleu_corpus_tokens")} == {
        k: v for k, v in score(hyps, refs, "ja", hyp_tokens=tokens, ref_tokens=JA_RAW_REFS).items() if k != "signatures"
    }
    assert "| 彼は１０時に来た！ |" in (tmp_path / "metrics/samples.md").read_text(encoding="utf-8")  # as scored
    assert ev["references"] == reference_rule(TextPipeline("ja"), pretokenized=True)


def test_every_benchmarks_quality_figure_is_rescored_from_committed_hypotheses(tmp_path):
    rescore = [sys.executable, str(ROOT / "benchmarks/rescore.py")]
    proc = subprocess.run(rescore, cwd=ROOT, env=venv_env(), capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "rescored" in proc.stdout and ", 0 problem(s)" in proc.stdout
    # A figure that differs from its hypotheses by 0.01 fails the check.
    text = (ROOT / "BENCHMARKS.md").read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if line.startswith("| small_parallel_enja en→ja (default)"))
    bleu = row.split("|")[6].strip()
    (tmp_path / "B.md").write_text(text.replace(row, row.replace(f"| {bleu} |", f"| {float(bleu) + 0.01:.2f} |")), encoding="utf-8")
    proc = subprocess.run([*rescore, str(tmp_path / "B.md")], cwd=ROOT, env=venv_env(), capture_output=True, text=True, check=False)
    assert proc.returncode == 1 and "the hypotheses give" in proc.stderr


def test_a_fra_eng_row_is_rescored_from_its_test_ref_whose_lines_must_be_the_mirrors(tmp_path):
    # fra_eng has no official test set: a row's folder holds the run's test.ref, which must be
    # lines of the mirror's French side as distributed; an edited reference is caught.
    with gzip.open(ROOT / "data/mirror/fra-eng.txt.gz", "rt", encoding="utf-8") as f:
        french = [next(f).rstrip("\n").split("\t")[1] for _ in range(30)]
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "test.ref").write_text("".join(f"{line}\n" for line in french), encoding="utf-8")
    (folder / "hypotheses.txt").write_text("".join(f"{line}\n" for line in french), encoding="utf-8")
    header = "## Translation quality\n\n| corpus | search | BLEU | BLEU corpus tokens | chrF | hypotheses |\n|---|---|---|---|---|---|\n"
    (tmp_path / "B.md").write_text(header + f"| fra_eng en→fr | greedy | 100.00 | – | 100.00 | `{folder}/` |\n", encoding="utf-8")
    rescore = [sys.executable, str(ROOT / "benchmarks/rescore.py"), str(tmp_path / "B.md")]
    proc = subprocess.run(rescore, cwd=ROOT, env=venv_env(), capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and "BLEU: stated 100.00, rescored 100.00" in proc.stdout, proc.stdout + proc.stderr
    french[3] += " Oui."
    (folder / "test.ref").write_text("".join(f"{line}\n" for line in french), encoding="utf-8")
    proc = subprocess.run(rescore, cwd=ROOT, env=venv_env(), capture_output=True, text=True, check=False)
    assert proc.returncode == 1 and "line 4 (1 in all) is not a fr sentence" in proc.stderr, proc.stdout + proc.stderr
