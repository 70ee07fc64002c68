"""Faults and reproducibility, caused for real on the real pipeline in temporary copies of the
repository: identical reruns, a training run killed with SIGKILL mid-epoch and resumed, a
checkpoint made with other params, and a disk that fills up while the bundle is written."""

import os
import re
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from pipeline_helpers import copy_repo, dvc, resumed_from, run, venv_env

pytestmark = pytest.mark.slow

# Big enough that an epoch takes a noticeable moment (so a kill lands inside one), with dropout
# on so that its random masks are part of what must reproduce.
FAULT = {
    "epochs": 4,
    "data": {"max_train_pairs": 3000},
    "model": {"embedding_dim": 16, "units": 16, "dropout": 0.1},
    "train": {"batch_size": 32, "save_every": 2, "keep_last": 2, "average_last": 1},
    "eval": {"samples": 3},
}


def deterministic_outputs(repo: Path) -> dict[str, bytes]:
    """Every metric file a run writes (timings, which vary by nature, are in timings/)."""
    files = [p for p in (repo / "metrics").rglob("*") if p.is_file()]
    return {str(p.relative_to(repo)): p.read_bytes() for p in sorted(files)}


def bundle_weights(repo: Path) -> list[np.ndarray]:
    out = run(
        [
            sys.executable,
            "-c",
            (
                "import sys, numpy as np\n"
                "from nmt.bundle import load_bundle\n"
                "b = load_bundle('models/bundle')\n"
                "np.savez(sys.argv[1], *b.encoder.get_weights(), *b.decoder_step.get_weights())\n"
            ),
            str(repo / "weights.npz"),
        ],
        repo,
    )
    assert out.returncode == 0
    with np.load(repo / "weights.npz") as z:
        return [z[k] for k in sorted(z.files, key=lambda k: int(k.split("_")[1]))]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    repo = copy_repo(tmp_path_factory.mktemp("first"), FAULT)
    dvc("repro", cwd=repo)
    return repo


def test_two_runs_with_the_same_params_and_seed_are_identical(uninterrupted, tmp_path):
    second = copy_repo(tmp_path, FAULT)
    dvc("repro", cwd=second)
    first_out, second_out = deterministic_outputs(uninterrupted), deterministic_outputs(second)
    assert "metrics/eval.json" in first_out and "metrics/train/plots/metrics/dev/loss.tsv" in first_out
    assert first_out.keys() == second_out.keys()
    for name in first_out:
        assert first_out[name] == second_out[name], f"{name} differs between two identical runs"
    a, b = bundle_weights(uninterrupted), bundle_weights(second)
    assert len(a) == len(b) > 0 and all(np.array_equal(x, y) for x, y in zip(a, b))
    # Byte for byte, so that DVC records the same hashes of models/ and a rerun leaves dvc.lock as it was.
    models = lambda repo: {str(p.relative_to(repo)): p.read_bytes() for p in sorted((repo / "models").rglob("*")) if p.is_file()}  # noqa: E731
    first_models, second_models = models(uninterrupted), models(second)
    assert any(re.fullmatch(r"models/checkpoints/[0-9a-f]{16}/epoch-0004/training.keras", n) for n in first_models)
    assert "models/bundle/serving/1/saved_model.pb" in first_models and "models/bundle/manifest.json" in first_models
    assert first_models.keys() == second_models.keys()
    assert [n for n in first_models if first_models[n] != second_models[n]] == []
    assert (uninterrupted / "dvc.lock").read_text() == (second / "dvc.lock").read_text()


def test_sigkill_mid_epoch_then_repro_resumes_and_ends_as_if_never_killed(uninterrupted, tmp_path):
    repo = copy_repo(tmp_path, FAULT)
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "dvc"), "repro"],
        cwd=repo,
        env=venv_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    checkpoints = repo / "models/checkpoints"
    deadline = time.monotonic() + 600
    while not list(checkpoints.glob("*/epoch-0002")):
        assert proc.poll() is None, "the run ended before its first checkpoint"
        assert time.monotonic() < deadline, "no checkpoint after 10 minutes"
        time.sleep(0.05)
    time.sleep(0.3)  # into epoch 3, whose checkpoint comes only at the end of epoch 4
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert sorted(p.name for p in checkpoints.glob("*/epoch-*")) == ["epoch-0002"], "killed too late: epoch 4 was done"
    assert not (repo / "models/train/model.keras").exists()

    again = dvc("repro", cwd=repo).stdout
    assert resumed_from(again, 2), again
    assert "epochs 3..4" in again and "epoch 1/4" not in again  # at most save_every (2) epochs lost
    rows = (repo / "metrics/train/plots/metrics/dev/loss.tsv").read_text().splitlines()[1:]
    assert [r.split("\t")[0] for r in rows] == ["1", "2", "3", "4"]  # the curve continues: no step lost or twice
    resumed, never_killed = deterministic_outputs(repo), deterministic_outputs(uninterrupted)
    for name in never_killed:
        assert resumed[name] == never_killed[name], f"{name}: the resumed run differs from the uninterrupted one"


def test_a_checkpoint_made_with_other_params_is_never_resumed_and_is_kept(tmp_path):
    repo = copy_repo(tmp_path, FAULT)
    dvc("repro", "train", cwd=repo)  # leaves checkpoints epoch-0002 and epoch-0004
    (first,) = (repo / "models/checkpoints").iterdir()
    out = dvc("exp", "run", "-S", "model.units=8", "-S", "epochs=2", cwd=repo).stdout
    assert re.search(r"no checkpoint of this run in models/checkpoints/[0-9a-f]{16}: starting from scratch", out), out
    assert re.search(rf"kept 1 other run\(s\) .*{first.name} \(epochs 2, 4;", out), out
    assert "epochs 1..2" in out
    assert sorted(p.name for p in first.iterdir()) == ["epoch-0002", "epoch-0004"]


def _full_disk(limit_bytes: int):
    def limit():  # in the child: writing past the limit fails with EFBIG, as on a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return limit


def test_a_full_disk_during_export_is_one_clear_error_and_keeps_the_old_bundle(uninterrupted):
    bundle = uninterrupted / "models/bundle"
    files = lambda: {str(p.relative_to(bundle)): p.read_bytes() for p in sorted(bundle.rglob("*")) if p.is_file()}  # noqa: E731
    before = files()
    assert "serving/1/saved_model.pb" in before
    proc = run([sys.executable, "stages/export.py"], uninterrupted, check=False, preexec_fn=_full_disk(16_000))
    assert proc.returncode == 1
    assert re.search(r"^error: cannot write models/bundle: File too large$", proc.stderr, re.M), proc.stderr
    assert "Traceback" not in proc.stderr
    assert files() == before
    assert [p.name for p in bundle.parent.iterdir() if p.name.startswith(".")] == []  # no temporary left


def test_an_output_that_cannot_be_replaced_is_one_clear_error(uninterrupted):
    metrics = uninterrupted / "metrics"
    before, hypotheses = (metrics / "eval.json").read_bytes(), (metrics / "hypotheses.txt").read_bytes()
    (metrics / "hypotheses.txt").unlink()
    (metrics / "hypotheses.txt").mkdir()  # in the way of the file the stage writes
    try:
        proc = run([sys.executable, "stages/evaluate.py"], uninterrupted, check=False)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr
        assert re.search(r"^error: cannot write metrics/hypotheses.txt: Is a directory$", proc.stderr, re.M), proc.stderr
        assert (metrics / "eval.json").read_bytes() == before  # whole files only, old or new
        assert [p.name for p in metrics.iterdir() if p.name.endswith(".tmp")] == []
    finally:  # the run is a shared fixture: leave it as it was
        (metrics / "hypotheses.txt").rmdir()
        (metrics / "hypotheses.txt").write_bytes(hypotheses)
