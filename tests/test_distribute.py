"""train.strategy=multi_worker for real: two worker processes on 127.0.0.1, configured by TF_CONFIG."""

import json
import re
import socket
import subprocess
import sys

import pytest
import yaml
from pipeline_helpers import checkpoints, copy_repo, dvc, read_json, resumed_from, run, venv_env

pytestmark = pytest.mark.slow

TINY = {
    "epochs": 1,
    "data": {"max_train_pairs": 300},
    "model": {"embedding_dim": 8, "units": 8},
    "train": {"batch_size": 32, "save_every": 1, "keep_last": 2, "strategy": "multi_worker", "average_last": 1},
    "eval": {"samples": 2},
}


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def train_on_two_workers(repo) -> list[str]:
    """Runs the train stage as worker 0 (the chief) and worker 1; returns their outputs."""
    workers = [f"127.0.0.1:{p}" for p in free_ports(2)]
    procs = []
    for index in range(2):
        env = {**venv_env(), "TF_CONFIG": json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})}
        procs.append(subprocess.Popen([sys.executable, "stages/train.py"], cwd=repo, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
    outs = []
    for proc in procs:
        out, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, out
        outs.append(out)
    return outs


def digest(out: str) -> str:
    return re.search(r"weights sha256 (\w+)", out).group(1)


def test_two_workers_stay_in_step_and_the_chiefs_checkpoint_feeds_export_and_resume(tmp_path):
    repo = copy_repo(tmp_path, TINY)
    dvc("repro", "vocab", cwd=repo)  # download, split, vocab

    chief, other = train_on_two_workers(repo)
    assert "worker 0 of 2 (chief" in chief and "worker 1 of 2" in other
    assert digest(chief) == digest(other)  # identical weights on both workers
    assert checkpoints(repo) == ["epoch-0001"]
    assert read_json(repo / "metrics/train/metrics.json")["step"] == 1

    export = run([sys.executable, "stages/export.py"], repo)  # the ordinary export stage, and its proof
    assert read_json(repo / "metrics/export.json")["max_abs_prob_diff"] <= 1e-5, export.stdout

    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["epochs"] = 2
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    chief, other = train_on_two_workers(repo)
    for out in (chief, other):
        assert resumed_from(out, 1) and "epochs 2..2" in out
    assert digest(chief) == digest(other)
    assert checkpoints(repo) == ["epoch-0001", "epoch-0002"]
    rows = (repo / "metrics/train/plots/metrics/dev/loss.tsv").read_text().splitlines()[1:]
    assert [r.split("\t")[0] for r in rows] == ["1", "2"]


def test_multi_worker_without_tf_config_is_a_clear_error(tmp_path):
    repo = copy_repo(tmp_path, TINY)
    dvc("repro", "vocab", cwd=repo)
    env = {k: v for k, v in venv_env().items() if k != "TF_CONFIG"}
    proc = subprocess.run([sys.executable, "stages/train.py"], cwd=repo, env=env, capture_output=True, text=True)
    assert proc.returncode != 0
    assert "train.strategy=multi_worker needs TF_CONFIG" in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr


def test_mirrored_trains_on_the_local_devices_and_its_model_exports(tmp_path):
    """On this CPU-only machine MirroredStrategy holds one replica (the CPU); on GPUs, one per GPU."""
    repo = copy_repo(tmp_path, {**TINY, "train": {**TINY["train"], "strategy": "mirrored"}})
    dvc("repro", "export", cwd=repo)
    assert read_json(repo / "models/train/config.json")["best"]["epoch"] == 1
    assert read_json(repo / "metrics/export.json")["max_abs_prob_diff"] <= 1e-5
