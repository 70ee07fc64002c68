"""train.select and train.patience (nmt/selection.py): the kept weights chosen by dev BLEU (the best
epoch, or the window of epochs averaged), and early stopping that a resumed run respects.

The real training function runs on a tiny project; its per-epoch dev BLEU is replaced by a
scripted sequence, so that the epoch it must pick is known beforehand (a tiny model's real dev
BLEU is 0 at every epoch). The real dev BLEU is tested in tests/test_devbleu.py."""

import json

import numpy as np
import pytest
from robust_helpers import make_project, paths, tiny_params
from test_averaging import layer_weights

from nmt.config import ParamsError, parse_params
from nmt.selection import averaged_epochs, best_epoch, best_window, stop_reason

pytestmark = pytest.mark.slow


class ScriptedBleu:
    """Stands in for nmt.devbleu.DevBleu: returns the next value of `script` at each call."""

    script: list[float] = []

    def __init__(self, *args, **kwargs):
        pass

    def __call__(self):
        return ScriptedBleu.script.pop(0), 0.01


@pytest.fixture
def scripted(monkeypatch):
    import nmt.devbleu

    monkeypatch.setattr(nmt.devbleu, "DevBleu", ScriptedBleu)

    def set_script(values):
        ScriptedBleu.script = list(values)

    return set_script


def train(params, root, capsys) -> str:
    from robust_helpers import train as run_train

    capsys.readouterr()
    run_train(params, paths(root))
    return capsys.readouterr().out


def run_dir(root):
    (run,) = [p for p in (root / "models/checkpoints").iterdir() if not p.name.startswith(".")]
    return run


def read(path):
    return json.loads(path.read_text(encoding="utf-8"))


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[n], b[n]) for n in a)


def test_dev_bleu_selection_keeps_the_epoch_of_the_best_dev_bleu(tmp_path, scripted, capsys):
    root = make_project(tmp_path)
    scripted([1.0, 5.0, 3.0, 2.0])
    train(tiny_params(epochs=4, train={"select": "dev_bleu", "keep_last": 4}), root, capsys)
    config = read(root / "models/train/config.json")
    assert config["best"]["epoch"] == 2 and config["best"]["val_bleu"] == 5.0 and "stopped_at" not in config
    losses = [float(line.split("\t")[1]) for line in (root / "metrics/train/plots/metrics/dev/loss.tsv").read_text().splitlines()[1:]]
    assert int(np.argmin(losses)) + 1 != 2  # by dev loss another epoch would have been kept
    summary = read(root / "metrics/train/metrics.json")
    assert summary["best_epoch"] == 2 and summary["best_val_bleu"] == 5.0
    kept = layer_weights(root / "models/train/model.keras")
    assert same_weights(kept, layer_weights(run_dir(root) / "epoch-0002/training.keras"))
    assert not same_weights(kept, layer_weights(run_dir(root) / "epoch-0004/training.keras"))


def test_dev_bleu_selection_averages_the_window_of_highest_mean_dev_bleu_and_keeps_its_checkpoints(tmp_path, scripted, capsys):
    root = make_project(tmp_path)
    # Means of two consecutive epochs: 3, 4.5, 2, 3, 3. The best single epoch (5) is not in the best window.
    scripted([1.0, 5.0, 4.0, 0.0, 6.0, 0.0, 7.0])  # the last value: the averaged model's own dev BLEU
    out = train(tiny_params(epochs=6, train={"select": "dev_bleu", "average_last": 2, "save_every": 5, "keep_last": 2}), root, capsys)
    config = read(root / "models/train/config.json")
    assert config["averaged"] == {"epochs": [2, 3], "val_loss": config["averaged"]["val_loss"], "val_bleu": 7.0}
    assert "averaged the weights of epochs 2..3" in out
    # Every epoch was checkpointed; the last two are kept, and the best window's too.
    assert sorted(p.name for p in run_dir(root).iterdir()) == ["epoch-0002", "epoch-0003", "epoch-0005", "epoch-0006"]
    two, three = (layer_weights(run_dir(root) / f"epoch-000{e}/training.keras") for e in (2, 3))
    for name, w in layer_weights(root / "models/train/model.keras").items():
        np.testing.assert_allclose(w, (two[name] + three[name]) / 2, rtol=1e-6, atol=1e-7, err_msg=name)


def test_patience_stops_early_and_a_resumed_run_stays_stopped_until_patience_allows_more(tmp_path, scripted, capsys):
    root = make_project(tmp_path)
    scripted([1.0, 5.0, 3.0, 2.0])
    out = train(tiny_params(epochs=8, train={"select": "dev_bleu", "patience": 2, "save_every": 5}), root, capsys)
    assert "epoch 4/8" in out and "epoch 5/8" not in out
    assert "stopping early after epoch 4 of 8: no better dev BLEU than epoch 2's 5 for 2 epochs (train.patience=2)" in out
    config = read(root / "models/train/config.json")
    assert config["stopped_at"] == 4 and config["best"]["epoch"] == 2 and config["epochs"] == 8
    assert read(root / "metrics/train/metrics.json")["stopped_at"] == 4
    state = read(run_dir(root) / "epoch-0004/state.json")  # a checkpoint at the stop, though save_every is 5
    assert state["stopped_early"]["epoch"] == 4 and "train.patience=2" in state["stopped_early"]["reason"]
    assert len(state["history"]) == 4

    # More epochs, same patience: the rule still holds, nothing is trained.
    again = train(tiny_params(epochs=10, train={"select": "dev_bleu", "patience": 2, "save_every": 5}), root, capsys)
    assert "resuming from" in again and "stopped early at epoch 4 of 10" in again and "epoch 5/10" not in again
    assert read(root / "models/train/config.json")["stopped_at"] == 4

    # More patience: it trains on from epoch 4, and a better epoch takes over.
    scripted([9.0, 1.0, 1.0, 1.0])
    more = train(tiny_params(epochs=8, train={"select": "dev_bleu", "patience": 4, "save_every": 5}), root, capsys)
    assert "epoch 5/8" in more and "epoch 8/8" in more and "stopping early" not in more
    config = read(root / "models/train/config.json")
    assert config["best"] == {"epoch": 5, "val_loss": config["best"]["val_loss"], "val_bleu": 9.0} and "stopped_at" not in config


def test_the_default_selection_keeps_the_fingerprint_and_dev_bleu_gets_its_own():
    from nmt.checkpoints import run_fingerprint

    base = run_fingerprint(tiny_params(), [])
    assert run_fingerprint(tiny_params(train={"patience": 3}), []) == base  # patience cannot change an epoch's weights
    assert run_fingerprint(tiny_params(train={"select": "dev_bleu"}), []) != base  # its checkpoints' best weights differ


def history(**series):
    n = len(next(iter(series.values())))
    return [{k: float(v[i]) for k, v in series.items()} for i in range(n)]


def test_selection_rules_on_a_written_history():
    h = history(val_loss=[3, 2, 2, 2.5, 1.9, 2, 2], val_bleu=[1, 4, 4, 2, 3, 6, 0])
    assert best_epoch(h, "val_loss") == 5 and best_epoch(h, "dev_bleu") == 6  # the first of equals
    assert best_window(h, 2) == [5, 6] and best_window(h, 3) == [4, 5, 6] and best_window(h[:1], 2) == []
    assert best_window(history(val_bleu=[2, 2, 2, 1]), 2) == [1, 2]  # the earliest of equal windows
    t = tiny_params(epochs=9, train={"patience": 2}).train
    assert stop_reason(h, t) == "no better dev loss than epoch 5's 1.9 for 2 epochs (train.patience=2)"
    assert stop_reason(h[:6], t) is None
    bleu = tiny_params(epochs=9, train={"patience": 2, "select": "dev_bleu", "average_last": 3}).train
    assert stop_reason(h[:4], bleu) == "no better dev BLEU than epoch 2's 4 for 2 epochs (train.patience=2)"
    assert stop_reason(h[:2], tiny_params(epochs=9, train={"patience": 1, "average_last": 3}).train) is None  # not before 3 epochs
    assert averaged_epochs(h, bleu) == [4, 5, 6]
    assert averaged_epochs(h, tiny_params(epochs=9, train={"average_last": 3}).train) == [5, 6, 7]  # val_loss: the last epochs


def test_bad_selection_params_are_refused():
    with pytest.raises(ParamsError, match=r"train.select: 'bleu' is not one of 'val_loss', 'dev_bleu'"):
        parse_params({"train": {"select": "bleu"}})
    with pytest.raises(ParamsError, match=r"train.patience: -1 must be >= 0"):
        parse_params({"train": {"patience": -1}})
    with pytest.raises(ParamsError) as e:
        parse_params({"train": {"strategy": "multi_worker", "select": "dev_bleu", "patience": 2}})
    assert "train.select: dev_bleu is not supported with train.strategy=multi_worker" in str(e.value)
    assert "train.patience: early stopping is not supported with train.strategy=multi_worker" in str(e.value)
