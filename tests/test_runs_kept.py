"""Nothing lost: other runs' checkpoints survive a variant, params that cannot change the weights
do not start training again, and a killed or diverging run leaves no junk behind. Runs the real
training function (and a real SIGKILL) on a tiny project."""

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from robust_helpers import env, make_project, paths, tiny_params

from nmt.checkpoints import main as checkpoints_main
from nmt.checkpoints import other_runs, prune

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return make_project(tmp_path_factory.mktemp("project"))


def _train(params, root, capsys) -> str:
    from robust_helpers import train

    capsys.readouterr()
    train(params, paths(root))
    return capsys.readouterr().out


def _weights(root):
    import keras

    return keras.models.load_model(root / "models/train/model.keras", compile=False).get_weights()


def test_baseline_then_variant_then_baseline_again_reuses_the_baseline_without_training(project, capsys):
    first = _train(tiny_params(), project, capsys)
    assert "epochs 1..2" in first
    baseline = _weights(project)
    runs = sorted(p.name for p in (project / "models/checkpoints").iterdir())
    assert len(runs) == 1 and sorted(p.name for p in (project / "models/checkpoints" / runs[0]).iterdir()) == ["epoch-0001", "epoch-0002"]

    variant = _train(tiny_params(model={"units": 6}), project, capsys)
    assert "epochs 1..2" in variant and "no checkpoint of this run" in variant
    assert re.search(rf"kept 1 other run\(s\) .*{runs[0]} \(epochs 1, 2;", variant), variant
    assert len(list((project / "models/checkpoints").iterdir())) == 2  # the baseline's folder is still there

    # Back to the baseline, with params that cannot change the weights changed too: nothing is trained.
    again = _train(tiny_params(train={"keep_last": 1, "save_every": 3, "average_last": 1}), project, capsys)
    assert f"resuming from {project}/models/checkpoints/{runs[0]}/epoch-0002 (epoch 2)" in again
    assert "all 2 epochs done already" in again and "epoch 1/2" not in again
    assert all(np.array_equal(a, b) for a, b in zip(baseline, _weights(project), strict=True))

    # A longer baseline continues from its epoch 2 instead of starting over.
    longer = _train(tiny_params(epochs=3), project, capsys)
    assert "epochs 3..3" in longer and "epoch 1/3" not in longer


def test_other_runs_beyond_keep_runs_are_pruned_least_recently_used_first(tmp_path, capsys):
    root = tmp_path / "checkpoints"
    for i, name in enumerate(("a" * 16, "b" * 16, "c" * 16)):
        (root / name / "epoch-0001").mkdir(parents=True)
        (root / name / "epoch-0001" / "state.json").write_text('{"epoch": 1}')
        os.utime(root / name, (1000 + i, 1000 + i))
    kept, removed = prune(root, 1, fingerprint="c" * 16)
    assert [r.path.name for r in kept] == ["b" * 16] and [r.path.name for r in removed] == ["a" * 16]
    assert sorted(p.name for p in root.iterdir()) == ["b" * 16, "c" * 16]
    # By hand: `python -m nmt.checkpoints --keep 0` removes every run folder.
    assert checkpoints_main(["--root", str(root), "--keep", "0"]) == 0
    assert "kept 0 run folder(s)" in capsys.readouterr().out and other_runs(root) == []


# In a child process: train the tiny baseline, but SIGKILL the process in the middle of writing the
# checkpoint of epoch 1 (its model file written, the best weights not yet copied in).
KILL_IN_CHECKPOINT = """
import os, shutil, signal, sys
sys.path.insert(0, {tests!r})
from robust_helpers import paths, tiny_params
from pathlib import Path
from robust_helpers import train

def killed(src, dst, *a, **k):
    if ".tmp" in str(dst):
        os.kill(os.getpid(), signal.SIGKILL)
    return real(src, dst, *a, **k)

real, shutil.copyfile = shutil.copyfile, killed
train(tiny_params(), paths(Path({root!r})))
"""


def test_a_run_killed_while_writing_a_checkpoint_leaves_nothing_that_survives_the_next_start(tmp_path, capsys):
    root = make_project(tmp_path / "project")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    script = KILL_IN_CHECKPOINT.format(tests=str(os.path.dirname(__file__)), root=str(root))
    proc = subprocess.run([sys.executable, "-c", script], env=env(scratch), capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr
    junk = list((root / "models/checkpoints").glob("*/.epoch-0001.*.tmp"))
    assert len(junk) == 1 and (junk[0] / "training.keras").is_file()  # killed mid-write, for real
    assert len(list(scratch.glob("nmt-train-*"))) == 1  # the killed process's scratch folder

    old_tempdir = tempfile.tempdir
    tempfile.tempdir = str(scratch)
    try:
        out = _train(tiny_params(), root, capsys)
    finally:
        tempfile.tempdir = old_tempdir
    assert f"removed {junk[0]} (left by a killed run)" in out
    assert "no checkpoint of this run" in out and "epochs 1..2" in out
    assert list((root / "models/checkpoints").rglob("*.tmp")) == []
    # The killed run's scratch folder swept, this run's removed. TensorFlow's autograph writes the
    # code of each tf.function it converts (the per-epoch dev BLEU's decoder) to the temporary folder
    # and removes it at exit: those files are not ours.
    assert [p for p in scratch.iterdir() if not p.name.startswith("__autograph_generated_file")] == []


def test_a_diverging_run_stops_with_one_clear_error_and_writes_no_checkpoint_or_nan(tmp_path, capsys):
    from nmt.training import NonFiniteLossError

    root = make_project(tmp_path / "project")
    before = {p.name for p in Path(tempfile.gettempdir()).glob(f"nmt-train-{os.getpid()}-*")}
    # A finite but absurd learning rate: the weights overflow float32 within two steps.
    with pytest.raises(
        NonFiniteLossError,
        match=r"the training loss is (nan|inf) at epoch 1, batch \d+: training diverged "
        r"\(train\.learning_rate=1e\+38",
    ):
        _train(tiny_params(train={"learning_rate": 1e38}), root, capsys)
    assert list((root / "models/checkpoints").rglob("epoch-*")) == []
    assert not (root / "models/train").exists()
    for f in (root / "metrics/train").rglob("*"):
        assert not f.is_file() or "nan" not in f.read_text().lower(), f
    assert {p.name for p in Path(tempfile.gettempdir()).glob(f"nmt-train-{os.getpid()}-*")} == before == set()  # removed on the way out
