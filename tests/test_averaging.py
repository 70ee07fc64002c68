"""train.average_last: the trained model is the mean of the last epochs' weights, each of which
gets its checkpoint; a run that lacks them says so instead of averaging fewer."""

import io
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from pipeline_helpers import checkpoints, copy_repo, dvc, read_json

pytestmark = pytest.mark.slow

TINY = {
    "epochs": 3,
    "data": {"max_train_pairs": 300},
    "model": {"embedding_dim": 8, "units": 8},
    # Label smoothing too: the pipeline path of the smoothed loss (checkpoints save it, the
    # averaged model's plain dev cross-entropy is reported beside its loss).
    "train": {"batch_size": 32, "save_every": 5, "keep_last": 1, "average_last": 2, "label_smoothing": 0.1},
}


def layer_weights(keras_file: Path) -> dict[str, np.ndarray]:
    """The layers' float weights in a .keras file (its optimizer state left out)."""
    with zipfile.ZipFile(keras_file) as z, h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as h5:
        out = {}
        h5.visititems(
            lambda name, obj: (
                out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) and not name.startswith("optimizer") and obj.dtype.kind == "f" else None
            )
        )
    return out


def test_the_model_is_the_mean_of_the_last_epochs_and_a_run_without_their_checkpoints_is_refused(tmp_path):
    repo = copy_repo(tmp_path, TINY)
    dvc("repro", "train", cwd=repo)
    config = read_json(repo / "models/train/config.json")
    assert config["averaged"]["epochs"] == [2, 3]
    assert config["averaged"]["val_loss"] > 0
    summary = read_json(repo / "metrics/train/metrics.json")
    assert summary["averaged_val_loss"] == config["averaged"]["val_loss"]
    assert summary["averaged_val_nll"] == config["averaged"]["val_nll"]
    assert 0 < config["averaged"]["val_nll"] < config["averaged"]["val_loss"]  # smoothing adds to the loss here
    assert (repo / "metrics/train/plots/metrics/dev/nll.tsv").exists()
    # Checkpoints every 5 epochs, one kept: averaging still made (and kept) the two it needs.
    ckpts = checkpoints(repo)
    assert ckpts == ["epoch-0002", "epoch-0003"]
    run_dir = next((repo / "models/checkpoints").iterdir())
    two, three = (layer_weights(run_dir / c / "training.keras") for c in ckpts)
    model = layer_weights(repo / "models/train/model.keras")
    assert model.keys() == two.keys() and len(model) >= 6
    for name, w in model.items():
        np.testing.assert_allclose(w, (two[name] + three[name]) / 2, rtol=1e-6, atol=1e-7, err_msg=name)
    assert any(not np.allclose(two[n], three[n]) for n in model)  # the two epochs really differ

    # Averaging three epochs of this finished run needs epoch 1's weights, which were not kept.
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["train"]["average_last"] = 3
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    proc = dvc("repro", "train", cwd=repo, check=False)
    assert proc.returncode != 0
    assert "error: train.average_last=3 needs the checkpoints of epochs 1..3" in proc.stderr + proc.stdout
    assert "-S epochs=6" in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr
