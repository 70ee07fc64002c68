"""`nmt experiments`: the experiments side by side in one narrow table.

`dvc exp show` lists every param and metric (over a hundred columns). This reads its `--json`
and keeps what a comparison needs: each experiment's name, the params that differ between the
listed experiments, and the quality metrics (test BLEU, BLEU on corpus tokens, chrF, dev loss);
no timings. The table fits the given width (120 columns by default).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from nmt.errors import UserError

# (column header, metrics file, key path): the quality figures, in the order they are shown.
METRICS = (
    ("BLEU", "metrics/eval.json", ("bleu",)),
    ("tok BLEU", "metrics/eval.json", ("bleu_corpus_tokens",)),
    ("chrF", "metrics/eval.json", ("chrf",)),
    ("dev loss", "metrics/train/metrics.json", ("averaged_val_loss",)),  # the model kept: averaged ...
    ("dev loss", "metrics/train/metrics.json", ("best_val_loss",)),  # ... or the best epoch's
)


class ExperimentsError(UserError, RuntimeError):
    """`dvc exp show` could not list the experiments."""


@dataclass(frozen=True)
class Experiment:
    name: str
    params: dict[str, object]  # dotted keys: "model.units"
    metrics: dict[str, float | None]  # by column header
    error: str | None = None


def _flatten(d: dict, prefix: str = "") -> dict[str, object]:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _experiment(name: str, entry: dict) -> Experiment:
    data = entry.get("data") or {}
    params = {}
    for result in (data.get("params") or {}).values():
        params.update(_flatten((result or {}).get("data") or {}))
    metrics: dict[str, float | None] = {}
    for header, file, keys in METRICS:
        value = ((data.get("metrics") or {}).get(file) or {}).get("data") or {}
        for k in keys:
            value = value.get(k) if isinstance(value, dict) else None
        if metrics.get(header) is None:
            metrics[header] = value if isinstance(value, (int, float)) else None
    error = (entry.get("error") or {}).get("msg") if not data else None
    return Experiment(name, params, metrics, error)


def parse_exp_show(rows: list[dict]) -> list[Experiment]:
    """The experiments of `dvc exp show --json`: the workspace, each baseline commit, then its experiments."""
    out = []
    for row in rows:
        name = row.get("name") or ("workspace" if row.get("rev") == "workspace" else str(row.get("rev", "?"))[:7])
        out.append(_experiment(name, row))
        for exp in row.get("experiments") or []:
            revs = exp.get("revs") or []
            if revs:
                out.append(_experiment(exp.get("name") or revs[0].get("name") or str(revs[0].get("rev", "?"))[:7], revs[0]))
    return out


def changed_params(experiments: list[Experiment]) -> list[str]:
    """The param keys whose values are not the same in every experiment that has params."""
    with_params = [e for e in experiments if e.params]
    keys = sorted({k for e in with_params for k in e.params})
    return [k for k in keys if len({json.dumps(e.params.get(k)) for e in with_params}) > 1]


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) >= 10 else f"{value:.3f}"
    return str(value)


def table(experiments: list[Experiment], width: int = 120) -> str:
    """Aligned plain-text columns: name, the changed params, the quality metrics; at most `width` wide.
    Params that do not fit are named below the table."""
    headers = list(dict.fromkeys(h for h, _, _ in METRICS))
    metric_cols = [[h, *(_cell(e.metrics.get(h)) for e in experiments)] for h in headers]
    name_col = ["Experiment", *(e.name if e.error is None else f"{e.name} (failed)" for e in experiments)]
    params = changed_params(experiments)
    short = {k: k.rsplit(".", 1)[-1] for k in params}  # "model.units" -> "units" where that is unique
    clash = {s for s in short.values() if list(short.values()).count(s) > 1}
    param_cols = [[short[k] if short[k] not in clash else k, *(_cell(e.params.get(k)) for e in experiments)] for k in params]

    def clip(col, n):
        return [c if len(c) <= n else c[: n - 1] + "…" for c in col]

    name_col = clip(name_col, 24)
    param_cols = [clip(c, 14) for c in param_cols]
    used = sum(max(map(len, c)) + 2 for c in [name_col, *metric_cols])
    shown, left_out = [], []
    for k, col in zip(params, param_cols):
        w = max(map(len, col)) + 2
        if used + w <= width:
            shown.append(col)
            used += w
        else:
            left_out.append(k)
    cols = [name_col, *shown, *metric_cols]
    widths = [max(map(len, c)) for c in cols]
    lines = []
    for i in range(len(name_col)):
        cells = [cols[0][i].ljust(widths[0])] + [c[i].rjust(w) for c, w in zip(cols[1:], widths[1:])]
        lines.append("  ".join(cells).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    if not params:
        lines.append("(the listed experiments have the same params)")
    if left_out:
        lines.append(f"(also changed, not shown for width: {', '.join(left_out)})"[:width])
    return "\n".join(line[:width] for line in lines)


def exp_show(all_commits: bool = False, repo: Path = Path(".")) -> list[dict]:
    """`dvc exp show --json` in `repo`, parsed."""
    cmd = [sys.executable, "-m", "dvc", "exp", "show", "--json", *(["--all-commits"] if all_commits else [])]
    proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True)
    if proc.returncode != 0:
        said = (proc.stderr or proc.stdout).strip().splitlines()
        raise ExperimentsError(f"`dvc exp show --json` failed: {said[-1] if said else f'exit status {proc.returncode}'}")
    try:
        return json.loads(proc.stdout or "[]")
    except json.JSONDecodeError as e:
        raise ExperimentsError(f"`dvc exp show --json` printed something that is not JSON ({e})") from None


def main(args) -> int:
    """`nmt experiments`: print the table; 1 and a one-line error if DVC cannot list them."""
    try:
        experiments = parse_exp_show(exp_show(args.all_commits))
    except ExperimentsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if not experiments:
        print("error: no experiments here (run `nmt experiments` in the project's clone)", file=sys.stderr)
        return 1
    print(table(experiments, args.width))
    return 0
