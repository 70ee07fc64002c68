"""How training time, decoding time and peak memory grow with the corpus and the vocabulary.

    python benchmarks/scaling.py                 # runs bench_speed.py where results are missing, then draws
    python benchmarks/scaling.py --only-draw     # table and plot from benchmarks/results/ as they are

Runs `bench_speed.py --level L --pairs N` (both sides, one child process per measurement) for
char and word level at 10,000, 25,000 and 50,000 pairs, unless benchmarks/results/ already holds
that point, then prints a markdown table and writes benchmarks/results/scaling.png. Where the
classic's one-hot arrays would not fit in memory it is not run; the table gives the size they
would need. Plotting needs matplotlib (`pip install -e ".[bench]"`).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks/results"
LEVELS, SIZES = ("char", "word"), (10_000, 25_000, 50_000)


def result_path(level: str, pairs: int) -> Path:
    return RESULTS / f"speed-{level}-{pairs}.json"


def run_missing(repeats: int) -> None:
    for level in LEVELS:
        for pairs in SIZES:
            if not result_path(level, pairs).exists():
                print(f"== {level} {pairs:,} pairs", flush=True)
                subprocess.run(
                    [sys.executable, str(ROOT / "benchmarks/bench_speed.py"), "--level", level, "--pairs", str(pairs), "--repeats", str(repeats)], check=True
                )


def load() -> list[dict]:
    points = []
    for level in LEVELS:
        for pairs in SIZES:
            path = result_path(level, pairs)
            if path.exists():
                data = json.loads(path.read_text())
                points.append(
                    {
                        "level": level,
                        "pairs": pairs,
                        "repeats": sum(r["side"] == "ours" and r["task"] == "train" for r in data["runs"]),
                        "date": data["date"],
                        **{side: data["table"][side] for side in ("classic", "ours")},
                    }
                )
    return points


def table(points: list[dict]) -> str:
    def num(row, key, fmt):
        return fmt.format(row[key]) if key in row else "–"

    lines = [
        "| level | pairs | side | s / epoch | target tok / s | train peak RSS (MiB) | one-hot arrays (GiB) | greedy sent / s | decode peak RSS (MiB) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for p in points:
        for side in ("classic", "ours"):
            row = p[side]
            seconds = num(row, "seconds_per_epoch", "{:,.1f}") if "skipped" not in row else f"not run: {row['skipped']}"
            arrays = f"{row['arrays_gib']:.2f}" if side == "classic" and "arrays_gib" in row else "–"
            rss = num(row, "train_peak_rss_mib", "{:,.0f}") if "skipped" not in row else "–"
            lines.append(
                f"| {p['level']} | {p['pairs']:,} | {side} | {seconds} | {num(row, 'target_tokens_per_second', '{:,.0f}')} | "
                f"{rss} | {arrays} | {num(row, 'greedy_sentences_per_second', '{:,.2f}')} | "
                f"{num(row, 'decode_peak_rss_mib', '{:,.0f}') if 'skipped' not in row else '–'} |"
            )
    return "\n".join(lines)


def plot(points: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        ("seconds_per_epoch", "training: seconds per epoch", False, "upper left"),
        ("train_peak_rss_mib", "training: peak RSS (MiB)", False, "center right"),
        ("greedy_sentences_per_second", "greedy decoding: sentences / s", True, "center right"),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(15, 4.2))
    for ax, (key, title, log, corner) in zip(axes, panels):
        for level, marker in (("char", "o"), ("word", "s")):
            for side, style in (("classic", "--"), ("ours", "-")):
                xs = [p["pairs"] for p in points if p["level"] == level and key in p[side] and "skipped" not in p[side]]
                ys = [p[side][key] for p in points if p["level"] == level and key in p[side] and "skipped" not in p[side]]
                if xs:
                    ax.plot(xs, ys, style, marker=marker, label=f"{side}, {level}")
        if key == "train_peak_rss_mib":  # what the classic would need where it could not run
            xs = [p["pairs"] for p in points if "skipped" in p["classic"]]
            ys = [p["classic"]["arrays_gib"] * 1024 for p in points if "skipped" in p["classic"]]
            if xs:
                ax.plot(xs, ys, "x", color="red", markersize=9, label="classic, word: one-hot arrays alone (not run)")
            ax.set_yscale("log")
        if log:
            ax.set_yscale("log")
        ax.set_title(title)
        ax.set_xlabel("training pairs (fra-eng, shortest first)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc=corner, framealpha=0.7)
    fig.suptitle("classic one-hot recipe (dashed) vs this pipeline (solid); LSTM 256, no attention")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only-draw", action="store_true", help="do not run missing points")
    ap.add_argument("--repeats", type=int, default=1, help="per missing point")
    args = ap.parse_args()
    if not args.only_draw:
        run_missing(args.repeats)
    points = load()
    if not points:
        raise SystemExit(f"no results in {RESULTS}: run without --only-draw")
    print(table(points))
    png = RESULTS / "scaling.png"
    plot(points, png)
    print(f"\nplot: {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
