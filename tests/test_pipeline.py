"""The real pipeline, end to end: `dvc repro` and `dvc exp run` in a temporary copy of the
repository, with a tiny configuration, asserting on what a user finds afterwards."""

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from browser import colour_pixels, render
from pipeline_helpers import checkpoints, copy_repo, dvc, read_json, resumed_from, run
from s3_server import CREDENTIALS, s3_server

pytestmark = pytest.mark.slow

TINY = {
    "epochs": 2,
    "data": {"max_train_pairs": 400},
    "model": {"embedding_dim": 16, "units": 16},
    "train": {"batch_size": 32, "save_every": 1, "keep_last": 2, "average_last": 1},
    "eval": {"samples": 3, "beam_size": 1},
}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    repo = copy_repo(tmp_path_factory.mktemp("repo"), TINY)
    first = dvc("repro", cwd=repo)
    return repo, first


def test_repro_runs_all_seven_stages_and_leaves_models_and_metrics(project):
    repo, first = project
    for stage in ("download", "split", "truecase", "vocab", "train", "export", "evaluate"):
        assert f"Running stage '{stage}'" in first.stdout
    ev = read_json(repo / "metrics/eval.json")
    assert ev["test_sentences"] == 500 and ev["search"] == "greedy"
    assert 0 <= ev["bleu"] <= 100 and 0 <= ev["chrf"] <= 100 and ev["ter"] >= 0
    assert "tok:ja-mecab" in ev["signatures"]["bleu"] and "tok:none" in ev["signatures"]["bleu_corpus_tokens"]
    assert len((repo / "metrics/hypotheses.txt").read_text(encoding="utf-8").splitlines()) == 500
    assert (repo / "metrics/samples.md").read_text(encoding="utf-8").count("\n| ") == 3 + 1  # header + 3 samples
    split = read_json(repo / "metrics/split.json")
    assert (split["train_pairs"], split["dev_pairs"], split["test_pairs"]) == (400, 500, 500)
    export = read_json(repo / "metrics/export.json")
    assert export["max_abs_prob_diff"] <= 1e-5
    # The serving SavedModel translated dev sentences exactly as the Python Translator did.
    assert export["serving"] == {"greedy": {"sentences": 200, "identical": 200}, "beam_5": {"sentences": 64, "identical": 64}}
    assert sorted(p.name for p in (repo / "models/bundle").iterdir()) == [
        "config.json",
        "decoder_step.keras",
        "encoder.keras",
        "manifest.json",
        "serving",
        "source_vocab.json",
        "target_vocab.json",
    ]
    assert (repo / "models/bundle/serving/1/saved_model.pb").is_file()
    assert (repo / "models/train/model.keras").is_file()
    speed = read_json(repo / "timings/train_speed.json")
    assert speed["epochs_run"] == 2 and speed["target_tokens_per_second"] > 0
    assert 100 < speed["peak_rss_mib"] < 8192  # the stage's own peak, read from the OS
    assert checkpoints(repo) == ["epoch-0001", "epoch-0002"]


def test_evaluate_scores_the_mirror_test_file_as_the_readme_sacrebleu_command_does(project):
    """References as distributed (not the normalised test.tgt), and every figure re-checkable."""
    import tarfile

    from test_scores import run_readme_block

    repo, _ = project
    with tarfile.open(repo / "data/mirror/small_parallel_enja.tar.gz") as tar:
        assert (repo / "data/split/test.ref").read_bytes() == tar.extractfile("small_parallel_enja/test.ja").read()
    ev = read_json(repo / "metrics/eval.json")
    cli = {r["name"]: r["score"] for r in run_readme_block("recheck", repo)}
    [tokens] = run_readme_block("recheck-tokens", repo)
    assert cli == {"BLEU": ev["bleu"], "chrF2": ev["chrf"], "TER": ev["ter"]}
    assert tokens["score"] == ev["bleu_corpus_tokens"]


def test_training_curves_are_dvc_plots(project):
    repo, _ = project
    summary = read_json(repo / "metrics/train/metrics.json")
    assert summary["step"] == 2 and set(summary) >= {"train", "dev", "best_epoch"}
    loss = (repo / "metrics/train/plots/metrics/dev/loss.tsv").read_text().splitlines()
    assert loss[0].startswith("step") and [row.split("\t")[0] for row in loss[1:]] == ["1", "2"]
    shown = dvc("plots", "show", "--json", cwd=repo)
    assert "dev/loss.tsv" in shown.stdout
    bleu = (repo / "metrics/train/plots/metrics/dev/bleu.tsv").read_text().splitlines()
    assert bleu[0] == "step\tbleu" and [row.split("\t")[0] for row in bleu[1:]] == ["1", "2"]  # dev BLEU per epoch
    plots = json.loads(shown.stdout)["data"]
    assert sorted(plots) == ["accuracy", "dev_bleu", "loss"]  # train and dev on one chart each
    assert {d["filename"] for d in plots["loss"][0]["content"]["data"]["values"]} == {"train/loss.tsv", "dev/loss.tsv"}


def test_the_plots_page_draws_the_curves_offline_in_a_headless_browser(project, tmp_path):
    repo, _ = project
    printed = dvc("plots", "show", cwd=repo).stdout
    page = repo / "dvc_plots/index.html"
    assert page.as_uri() in printed
    html = page.read_text(encoding="utf-8")
    assert "<script src=" not in html and "cdn.jsdelivr" not in html  # nothing to fetch
    assert "dvc_plots" in run(["git", "check-ignore", "dvc_plots/index.html"], repo).stdout
    dom, screenshot = render(page, tmp_path)
    assert len(re.findall(r'<canvas [^>]*class="marks"', dom)) == 3  # vega-embed drew the three charts
    assert colour_pixels(screenshot) > 1500  # and their coloured curves (axes and text are grey)


def test_nothing_changed_means_nothing_runs(project):
    repo, _ = project
    again = dvc("repro", cwd=repo)
    assert "Running stage" not in again.stdout
    assert dvc("status", cwd=repo).stdout.strip() in ("Data and pipelines are up to date.", "")


def test_artifacts_pushed_to_an_s3_remote_are_pulled_into_a_clean_clone(project, tmp_path, monkeypatch):
    """The README's sharing recipe against a real S3 API (moto's server) on 127.0.0.1."""
    repo, _ = project
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    with s3_server("nmt-artifacts") as endpoint:
        dvc("remote", "add", "-d", "shared", "s3://nmt-artifacts/cache", cwd=repo)  # committed: the team's remote
        dvc("remote", "modify", "--local", "shared", "endpointurl", endpoint, cwd=repo)  # per machine, not committed
        run(["git", "add", "-A"], repo)
        run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "trained"], repo)
        pushed = dvc("push", cwd=repo)
        assert "pushed" in pushed.stdout
        clone = tmp_path / "teammate"
        run(["git", "clone", "-q", str(repo), str(clone)], tmp_path)
        assert not (clone / "models/bundle").exists()
        dvc("remote", "modify", "--local", "shared", "endpointurl", endpoint, cwd=clone)
        dvc("pull", cwd=clone)
    assert dvc("status", cwd=clone).stdout.strip() in ("Data and pipelines are up to date.", "")
    assert "Running stage" not in dvc("repro", cwd=clone).stdout
    nmt = str(Path(sys.executable).parent / "nmt")
    here = run([nmt, "translate", "I like tea.", "Where is the station?"], repo).stdout
    assert run([nmt, "translate", "I like tea.", "Where is the station?"], clone).stdout == here


def test_the_exported_bundle_translates_typed_sentences(project):
    repo, _ = project
    nmt = str(Path(sys.executable).parent / "nmt")
    out = run([nmt, "translate", "I like tea.", "", "qwxz zzyzx"], repo).stdout.split("\n")
    assert len(out) == 4 and out[1] == "" and out[3] == ""  # three lines, one each, and the empty one empty
    piped = subprocess.run([nmt, "translate"], cwd=repo, input="hello\n\nworld\n", capture_output=True, text=True)
    assert piped.returncode == 0 and piped.stdout.count("\n") == 3


def test_changing_a_decoding_param_reruns_only_evaluation(project):
    repo, _ = project
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["eval"]["beam_size"] = 3
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = dvc("repro", cwd=repo).stdout
    assert "Running stage 'evaluate'" in out
    for stage in ("download", "split", "truecase", "vocab", "train", "export"):
        assert f"Running stage '{stage}'" not in out
    assert read_json(repo / "metrics/eval.json")["search"] == "beam 3"
    run(["git", "checkout", "params.yaml"], repo)
    dvc("repro", cwd=repo)


def test_exp_run_with_more_epochs_resumes_from_the_checkpoint(project):
    repo, _ = project
    run(["git", "add", "-A"], repo)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "tiny run"], repo)
    out = dvc("exp", "run", "-S", "epochs=3", cwd=repo).stdout
    assert resumed_from(out, 2), out
    assert "epochs 3..3" in out and "epoch 1/3" not in out
    assert read_json(repo / "metrics/train/metrics.json")["step"] == 3
    rows = (repo / "metrics/train/plots/metrics/dev/loss.tsv").read_text().splitlines()[1:]
    assert [r.split("\t")[0] for r in rows] == ["1", "2", "3"]  # the curve continues, no step twice
    diff = dvc("metrics", "diff", "--md", cwd=repo).stdout
    assert "metrics/train/metrics.json" in diff and "dev.loss" in diff
    shown = dvc("exp", "show", "--md", cwd=repo).stdout
    assert "epochs" in shown


def test_report_compares_two_commits_for_a_pull_request(project, tmp_path):
    repo, _ = project  # the previous test's experiment (epochs=3) is in the workspace; "tiny run" is HEAD
    run(["git", "add", "-A"], repo)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "three epochs"], repo)
    nmt = str(Path(sys.executable).parent / "nmt")
    printed = run([nmt, "report", "--base", "HEAD~1", "--out", str(tmp_path / "report")], repo).stdout
    report = (tmp_path / "report/report.md").read_text(encoding="utf-8")
    assert str(tmp_path / "report/report.md") in printed
    params = report.split("## Params")[1].split("##")[0]
    assert "epochs" in params and "| 2 " in params and "| 3 " in params
    metrics = report.split("## Metrics")[1].split("##")[0]
    assert "metrics/train/metrics.json" in metrics and "dev.loss" in metrics
    images = re.findall(r"!\[[^]]*\]\(([^)]+)\)", report)
    assert sorted(i for i in images if i.startswith("curves/")) == ["curves/accuracy.png", "curves/dev_bleu.png", "curves/loss.png"]
    assert sorted(i for i in images if i.startswith("attention/")) == [f"attention/sample_{i}.png" for i in (1, 2, 3)]
    assert len(images) == 6 and "## Attention" in report
    for image in images:
        assert (tmp_path / "report" / image).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    samples = report.split("## Sample test translations")[1]
    assert "| # | source | reference | HEAD~1 (" in samples and samples.count("\n| ") == 1 + 3  # header + 3 samples
    bad = run([nmt, "report", "--base", "no-such-branch", "--out", str(tmp_path / "bad")], repo, check=False)
    assert bad.returncode == 1 and "no such revision 'no-such-branch'" in bad.stderr
    assert not (tmp_path / "bad/report.md").exists()


def test_the_subword_level_flows_through_export_evaluate_and_translate(project):
    repo, _ = project
    out = dvc("exp", "run", "-S", "vocab.level=subword", "-S", "vocab.subword_size=1500", cwd=repo).stdout
    for stage in ("vocab", "train", "export", "evaluate"):
        assert f"Running stage '{stage}'" in out
    assert read_json(repo / "metrics/vocab.json")["level"] == "subword"
    assert {"source.model", "target.model"} <= {p.name for p in (repo / "models/bundle").iterdir()}
    assert read_json(repo / "metrics/export.json")["max_abs_prob_diff"] <= 1e-5
    assert "export: no serving SavedModel: the source side is at the subword level" in out  # sentencepiece: no core op
    assert read_json(repo / "metrics/export.json")["serving"] == {"skipped": "subword level"}
    assert not (repo / "models/bundle/serving").exists()
    assert "bleu_corpus_tokens" in read_json(repo / "metrics/eval.json")
    nmt = str(Path(sys.executable).parent / "nmt")
    translated = run([nmt, "translate", "I like green tea.", ""], repo).stdout
    assert translated.count("\n") == 2 and "▁" not in translated


def test_queued_experiments_run_in_parallel_workers(project):
    """`dvc exp run --queue` + `dvc queue start -j 2`: each runs from the committed files alone."""
    repo, _ = project
    for beam in (2, 3):
        dvc("exp", "run", "--queue", "-n", f"beam{beam}", "-S", f"eval.beam_size={beam}", cwd=repo)
    dvc("queue", "start", "-j", "2", cwd=repo)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        status = dvc("queue", "status", cwd=repo).stdout
        if "Running" not in status and "Queued" not in status:
            break
        time.sleep(3)
    rows = {line.split()[1]: line.split()[-1] for line in status.splitlines() if line.split()[1:2] in (["beam2"], ["beam3"])}
    assert rows == {"beam2": "Success", "beam3": "Success"}, status
    shown = dvc("exp", "show", "--json", cwd=repo).stdout
    assert '"search": "beam 2"' in shown and '"search": "beam 3"' in shown


def test_nmt_experiments_shows_the_changed_params_and_quality_metrics_in_120_columns(project):
    """After the experiments above (epochs, vocab.level, eval.beam_size): one narrow table."""
    repo, _ = project
    nmt = str(Path(sys.executable).parent / "nmt")
    out = run([nmt, "experiments"], repo).stdout
    lines = out.splitlines()
    assert max(map(len, lines)) <= 120 and len(lines) >= 5
    header = lines[0].split()
    assert header[0] == "Experiment" and {"beam_size", "level"} <= set(header)
    assert re.search(r"  BLEU +tok BLEU +chrF +dev loss$", lines[0]) and "seconds" not in out
    shown = json.loads(dvc("exp", "show", "--json", cwd=repo).stdout)
    exps = {e["name"]: e["revs"][0]["data"] for row in shown for e in row.get("experiments") or []}
    assert len(exps) >= 3 and all(any(line.startswith(n + " ") for line in lines) for n in exps)  # every experiment
    for name in ("beam2", "beam3"):
        row = next(line for line in lines if line.startswith(name + " "))
        cells = row.split()  # names and cells have no spaces; the params come before the metrics
        assert cells[header.index("beam_size")] == name[-1]
        ev = exps[name]["metrics"]["metrics/eval.json"]["data"]
        shown_bleu, shown_tok, shown_chrf = map(float, cells[-4:-1])
        assert (shown_bleu, shown_tok, shown_chrf) == pytest.approx((ev["bleu"], ev["bleu_corpus_tokens"], ev["chrf"]), abs=0.006)
    narrow = run([nmt, "experiments", "--width", "60"], repo).stdout
    assert max(map(len, narrow.splitlines())) <= 60 and "also changed, not shown" in narrow


def test_report_on_an_experiment_by_its_name(project, tmp_path):
    repo, _ = project  # the previous test's queued experiments, beam2 and beam3
    nmt = str(Path(sys.executable).parent / "nmt")
    run([nmt, "report", "beam2", "--base", "beam3", "--out", str(tmp_path / "report")], repo)
    report = (tmp_path / "report/report.md").read_text(encoding="utf-8")
    assert report.startswith("# Experiment report: beam2 (") and " against beam3 (" in report.splitlines()[0]
    params = report.split("## Params")[1].split("##")[0]
    assert re.search(r"\| eval\.beam_size\s*\|\s*3\s*\|\s*2\s*\|", params) and "beam2" in params
    metrics = report.split("## Metrics")[1].split("##")[0]
    assert "beam 2" in metrics and "beam 3" in metrics  # the experiments' own eval.json, not the workspace's
    samples = report.split("## Sample test translations")[1]
    assert "| # | source | reference | beam3 (" in samples and samples.count("\n| ") == 1 + 3  # header + 3 samples
    bad = run([nmt, "report", "no-such-experiment", "--base", "beam3", "--out", str(tmp_path / "bad")], repo, check=False)
    assert bad.returncode == 1 and "no experiment or revision named 'no-such-experiment'" in bad.stderr
