"""Dev BLEU (corpus tokens, greedy) against minutes of training, from training logs.

    python benchmarks/quality_per_minute.py LABEL=path/to/epochs.log [LABEL=...] --out benchmarks/results/quality_per_minute.png

Each log holds the train stage's epoch lines (`epoch 3/10: loss ..., dev BLEU 21.40 (1 s), 38 s,
...`), as the stage prints them and `benchmarks/quality_run.sh` keeps them (epochs.log). The x axis
adds up each epoch's own training seconds (the dev BLEU's seconds are not training time), so a
curve is only as quiet as the machine was when it ran: BENCHMARKS.md says which were shared.
Prints a markdown table (label, epoch, minutes, dev BLEU) and draws the PNG (matplotlib, the
`bench` extra): dev BLEU against minutes, and beside it against epochs, which a shared machine's
load does not bend.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

EPOCH = re.compile(r"^epoch (\d+)/\d+: .*?dev BLEU ([\d.]+) \(\d+ s\), (\d+) s,")


def read_curve(log: Path) -> list[tuple[int, float, float]]:
    """(epoch, cumulative training minutes, dev BLEU) for every epoch line of `log`."""
    points, minutes = [], 0.0
    for line in log.read_text(encoding="utf-8").splitlines():
        if m := EPOCH.match(line.strip()):
            minutes += int(m[3]) / 60
            points.append((int(m[1]), round(minutes, 2), float(m[2])))
    if not points:
        raise SystemExit(f"quality_per_minute: no epoch lines with a dev BLEU in {log}")
    return points


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", help="LABEL=path/to/epochs.log")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/quality_per_minute.png"))
    args = ap.parse_args()
    curves = {}
    for spec in args.runs:
        label, sep, path = spec.partition("=")
        if not sep:
            raise SystemExit(f"quality_per_minute: {spec!r} is not LABEL=path")
        curves[label] = read_curve(Path(path))
    print("| run | epoch | training minutes | dev BLEU (corpus tokens, greedy) |\n|---|---|---|---|")
    for label, points in curves.items():
        for epoch, minutes, bleu in points:
            print(f"| {label} | {epoch} | {minutes:.1f} | {bleu:.2f} |")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, by_epoch) = plt.subplots(1, 2, figsize=(11, 4.4), dpi=110, sharey=True)
    for label, points in curves.items():
        ax.plot([p[1] for p in points], [p[2] for p in points], marker="o", label=label)
        by_epoch.plot([p[0] for p in points], [p[2] for p in points], marker="o", label=label)
    ax.set_xlabel("training minutes (sum of the epochs' wall times)")
    ax.set_ylabel("dev BLEU, corpus tokens, greedy")
    by_epoch.set_xlabel("epochs (the same runs, whatever the machine's load)")
    for a in (ax, by_epoch):
        a.grid(alpha=0.3)
    by_epoch.legend(fontsize="small")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, metadata={"Software": None})
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
