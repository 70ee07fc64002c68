"""Per-epoch dev BLEU: logged beside the losses, and without any effect on training: the same
tiny run with and without it gives the same weights and the same losses, byte for byte."""

import subprocess
import sys

import pytest
from pipeline_helpers import copy_repo, dvc, read_json, venv_env
from test_averaging import layer_weights

pytestmark = pytest.mark.slow

TINY = {
    "epochs": 2,
    "data": {"max_train_pairs": 300},
    "model": {"embedding_dim": 8, "units": 8, "dropout": 0.2},  # dropout: the random state must not move either
    "train": {"batch_size": 32, "save_every": 1, "keep_last": 2, "average_last": 1},
}

TRAIN = """
import sys
from pathlib import Path
from nmt.artifacts import Paths, write_trained
from nmt.config import load_params
from nmt.fsutil import write_json
from nmt.training import train
out = Path(sys.argv[1])
paths = Paths(trained=out / "train", checkpoints=out / "checkpoints", metrics=out / "metrics")
result = train(load_params(), paths, dev_bleu=sys.argv[2] == "on")
write_trained(paths.trained, result.model, result.info)
write_json(out / "speed.json", result.speed)
"""


def only_run(checkpoints):
    """The one run folder (named by the run fingerprint) under a checkpoints folder."""
    (run,) = [p for p in checkpoints.iterdir() if not p.name.startswith(".")]
    return run


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    repo = copy_repo(tmp_path_factory.mktemp("repo"), TINY)
    dvc("repro", "vocab", cwd=repo)
    logs = {}
    for mode in ("on", "off"):  # each in a fresh process, as the train stage runs
        proc = subprocess.run(
            [sys.executable, "-c", TRAIN, str(repo / mode), mode], cwd=repo, env={**venv_env(), "PYTHONPATH": str(repo)}, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        logs[mode] = proc.stdout
    return repo, logs


def test_dev_bleu_is_logged_each_epoch_beside_the_losses(runs):
    repo, logs = runs
    rows = (repo / "on/metrics/train/plots/metrics/dev/bleu.tsv").read_text().splitlines()
    assert rows[0] == "step\tbleu" and [r.split("\t")[0] for r in rows[1:]] == ["1", "2"]
    assert all(0 <= float(r.split("\t")[1]) <= 100 for r in rows[1:])
    assert "bleu" in read_json(repo / "on/metrics/train/metrics.json")["dev"]
    assert logs["on"].count("dev BLEU ") == 2 and "dev BLEU" not in logs["off"]
    assert read_json(repo / "on/speed.json")["dev_bleu_seconds_median"] > 0
    assert not (repo / "off/metrics/train/plots/metrics/dev/bleu.tsv").exists()


def test_dev_bleu_changes_neither_the_weights_nor_the_losses(runs):
    repo, _ = runs
    on, off = (layer_weights(repo / mode / "train/model.keras") for mode in ("on", "off"))
    assert on.keys() == off.keys() and len(on) >= 6
    for name in on:
        assert on[name].tobytes() == off[name].tobytes(), name
    curves = sorted(p.relative_to(repo / "off/metrics/train") for p in (repo / "off/metrics/train/plots").rglob("*.tsv"))
    assert len(curves) >= 4  # train and dev loss and accuracy
    for curve in curves:
        assert (repo / "on/metrics/train" / curve).read_bytes() == (repo / "off/metrics/train" / curve).read_bytes(), curve
    run_on, run_off = (only_run(repo / mode / "checkpoints") for mode in ("on", "off"))
    assert run_on.name == run_off.name  # the dev BLEU is not part of the run fingerprint
    for ckpt in ("epoch-0001", "epoch-0002"):  # every epoch's weights, not only the kept model
        a, b = (layer_weights(run / ckpt / "training.keras") for run in (run_on, run_off))
        assert all(a[n].tobytes() == b[n].tobytes() for n in a)
