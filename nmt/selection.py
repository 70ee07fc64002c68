"""Which weights training keeps, and when it stops: `train.select` and `train.patience`.

The selection metric is the dev loss (`val_loss`, lower is better) or the per-epoch dev BLEU
(`dev_bleu`, higher is better; nmt/devbleu.py). It picks the best epoch (the first one of the
best value) and, with `train.patience` N > 0, stops training once N epochs in a row have not
beaten it. With `train.average_last` N > 1 and `dev_bleu`, the weights kept are the average of
the N consecutive epochs with the highest mean dev BLEU (with `val_loss`, as before: the last N
epochs trained). Everything here is a pure function of the per-epoch history, so a resumed run
decides exactly as an uninterrupted one would.
"""

from __future__ import annotations

from nmt.artifacts import BestEpoch
from nmt.config import TrainParams

HISTORY_KEY = {"val_loss": "val_loss", "dev_bleu": "val_bleu"}  # the name in the per-epoch history
LABEL = {"val_loss": "dev loss", "dev_bleu": "dev BLEU"}


def better(select: str, value: float, than: float) -> bool:
    return value < than if select == "val_loss" else value > than


def improves(select: str, metrics: dict, best: BestEpoch | None) -> bool:
    """Whether an epoch's `metrics` beat the best epoch so far (strictly: the earlier one wins a tie)."""
    return best is None or better(select, metrics[HISTORY_KEY[select]], best_value(select, best))


def best_value(select: str, best: BestEpoch) -> float:
    return best.val_loss if select == "val_loss" else best.val_bleu


def best_record(select: str, epoch: int, metrics: dict) -> BestEpoch:
    """The `BestEpoch` written for `epoch` (with its dev BLEU when that is what selects)."""
    if select == "val_loss":
        return BestEpoch(epoch, metrics["val_loss"])
    return BestEpoch(epoch, metrics["val_loss"], metrics["val_bleu"])


def best_epoch(history: list[dict], select: str) -> int:
    """The first epoch (from 1) of the best value of the selection metric."""
    values = [h[HISTORY_KEY[select]] for h in history]
    best = 0
    for i, v in enumerate(values):
        if better(select, v, values[best]):
            best = i
    return best + 1


def stop_reason(history: list[dict], t: TrainParams) -> str | None:
    """Why training stops now (`train.patience` epochs without a better selection metric), or None.
    It never stops before `train.average_last` epochs, so that there is a window to average."""
    if t.patience == 0 or len(history) < t.average_last:
        return None
    best = best_epoch(history, t.select)
    if len(history) - best < t.patience:
        return None
    value = history[best - 1][HISTORY_KEY[t.select]]
    return f"no better {LABEL[t.select]} than epoch {best}'s {value:.4g} for {len(history) - best} epochs (train.patience={t.patience})"


def best_window(history: list[dict], n: int) -> list[int]:
    """The `n` consecutive epochs (from 1) with the highest mean dev BLEU; the earliest of equals."""
    bleu = [h["val_bleu"] for h in history]
    if len(bleu) < n:
        return []
    sums = [sum(bleu[i : i + n]) for i in range(len(bleu) - n + 1)]
    start = max(range(len(sums)), key=lambda i: (sums[i], -i))
    return list(range(start + 1, start + n + 1))


def averaged_epochs(history: list[dict], t: TrainParams) -> list[int]:
    """The epochs whose weights are averaged into the kept model (`train.average_last` > 1)."""
    if t.select == "dev_bleu":
        return best_window(history, t.average_last)
    return list(range(len(history) - t.average_last + 1, len(history) + 1))


def checkpoint_every_epoch(t: TrainParams) -> bool:
    """Whether each epoch needs its checkpoint: the epochs to average are known only afterwards
    (the best window by dev BLEU, or the last epochs of a run that may stop early)."""
    return t.average_last > 1 and (t.select == "dev_bleu" or t.patience > 0)
