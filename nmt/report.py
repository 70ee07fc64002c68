"""`nmt report`: one markdown file that tells a reviewer what an experiment changed against a base revision.

It gathers what DVC already knows (`dvc metrics diff`, `dvc params diff`, and the training curves
of `dvc plots diff`, rendered to PNG with vl-convert), puts the sample test translations of
the base revision and of the workspace side by side, and draws the attention of the workspace's
bundle on the first sample sentences (nmt/attention.py).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from nmt.errors import UserError

SAMPLES = "metrics/samples.md"
ATTENTION_SAMPLES = 3  # attention pictures of the first sample sentences


class ReportError(UserError, RuntimeError):
    """A report that cannot be made, with the reason a user can act on."""


def _run(program: str, args: tuple[str, ...], cwd: Path) -> str:
    """stdout of `program args...`; a failure is a ReportError quoting the command and its last words."""
    cmd = [sys.executable, "-m", "dvc", *args] if program == "dvc" else [program, *args]
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        said = (proc.stderr or proc.stdout).strip().splitlines()
        raise ReportError(f"`{program} {' '.join(args)}` failed: {said[-1] if said else f'exit status {proc.returncode}'}")
    return proc.stdout


def _dvc(*args: str, cwd: Path) -> str:
    return _run("dvc", args, cwd)


def _git(*args: str, cwd: Path) -> str:
    return _run("git", args, cwd)


def _md_table_or(text: str, empty: str) -> str:
    """dvc's --md output, or `empty` when it holds only a header (nothing changed)."""
    rows = [line for line in text.strip().splitlines() if line.startswith("|")]
    return "\n".join(rows) if len(rows) > 2 else empty


def parse_samples(markdown: str) -> list[tuple[str, str, str]]:
    """(source, reference, translation) rows of a metrics/samples.md table."""
    rows = []
    for line in markdown.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) == 4 and cells[0].isdigit():
            rows.append((cells[1], cells[2], cells[3]))
    return rows


def samples_side_by_side(base_rows, head_rows, base_name: str) -> str:
    if not base_rows or not head_rows:
        missing = "the base revision" if not base_rows else "the workspace"
        return f"No sample translations in {missing} (`{SAMPLES}`): run `dvc repro` there first."
    lines = [f"| # | source | reference | {base_name} | this revision |", "|---|---|---|---|---|"]
    same = 0
    for i, ((src, ref, hyp), (src2, _, hyp2)) in enumerate(zip(base_rows, head_rows), 1):
        if src != src2:
            break
        mark = "" if hyp == hyp2 else " ✱"
        lines.append(f"| {i} | {src} | {ref} | {hyp} | {hyp2}{mark} |")
        same += 1
    if not same:
        return "The two revisions translate different test sentences (another corpus or direction): no side-by-side table."
    return "\n".join(lines) + "\n\n✱ the translation changed."


def render_curves(plots_json: str, out_dir: Path) -> list[Path]:
    """PNG images of DVC's own plot definitions (vega-lite specs with their data filled in)."""
    import vl_convert as vlc

    out_dir.mkdir(parents=True, exist_ok=True)
    images = []
    for name, plots in json.loads(plots_json).get("data", {}).items():
        for plot in plots:
            if plot.get("type") != "vega":
                continue
            spec = plot["content"]
            stem = re.sub(r"[^A-Za-z0-9]+", "_", name.removeprefix("metrics/train/plots/metrics/").removesuffix(".tsv")).strip("_")
            path = out_dir / f"{stem}.png"
            path.write_bytes(vlc.vegalite_to_png(spec, scale=1.5))
            images.append(path)
    return images


def resolve_revision(name: str, repo: Path) -> str | None:
    """The commit of an experiment as `dvc exp show` names it, or of a git revision; None if neither."""
    refs = set(_git("for-each-ref", "--format=%(objectname)", f"refs/exps/*/*/{name}", cwd=repo).split())
    if len(refs) > 1:
        raise ReportError(f"{len(refs)} experiments are named {name!r}: give the commit instead (`dvc exp show --sha`)")
    try:
        return refs.pop() if refs else _git("rev-parse", "--verify", f"{name}^{{commit}}", cwd=repo).strip()
    except ReportError:
        return None


def _samples_at(rev: str, repo: Path) -> list[tuple[str, str, str]]:
    try:
        return parse_samples(_git("show", f"{rev}:{SAMPLES}", cwd=repo))
    except ReportError:
        return []


def build_report(base: str, out_dir: Path, repo: Path = Path("."), *, head: str | None = None) -> Path:
    """Writes out_dir/report.md (and out_dir/curves/*.png) comparing the workspace, or the
    experiment or revision `head`, with `base`."""
    repo = repo.resolve()
    try:
        _git("rev-parse", "--show-toplevel", cwd=repo)
    except ReportError:
        raise ReportError(f"{repo} is not inside a git repository: run `nmt report` in the project's clone") from None
    base_commit = resolve_revision(base, repo)
    if base_commit is None:
        raise ReportError(f"no such revision {base!r} in {repo} (try a branch, a tag, a commit or an experiment)")
    base_sha = base_commit[:7]
    if head is None:  # the workspace
        head_sha = _git("rev-parse", "--short", "HEAD", cwd=repo).strip()
        dirty = bool(_git("status", "--porcelain", "--untracked-files=no", cwd=repo).strip())
        head_name, revs = f"{head_sha}{' + uncommitted changes' if dirty else ''}", (base,)
    else:
        head_commit = resolve_revision(head, repo)
        if head_commit is None:
            raise ReportError(f"no experiment or revision named {head!r} in {repo} (see `dvc exp show`)")
        head_name, revs = f"{head} ({head_commit[:7]})", (base, head)  # dvc knows experiment names too

    metrics = _md_table_or(_dvc("metrics", "diff", "--md", "--precision", "4", *revs, cwd=repo), "No metric changed.")
    params = _md_table_or(_dvc("params", "diff", "--md", *revs, cwd=repo), "No param changed.")
    out_dir = out_dir.resolve()
    curves_dir = out_dir / "curves"
    images = render_curves(_dvc("plots", "diff", "--json", *revs, cwd=repo), curves_dir)
    base_samples = _samples_at(base_commit, repo)
    if head is None:
        head_file = repo / SAMPLES
        head_samples = parse_samples(head_file.read_text(encoding="utf-8")) if head_file.is_file() else []
        from nmt.attention import sample_pictures

        attention, no_attention = sample_pictures(repo / "models/bundle", [src for src, _, _ in head_samples[:ATTENTION_SAMPLES]], out_dir / "attention")
    else:  # the workspace's bundle is not the experiment's
        head_samples = _samples_at(head_commit, repo)
        attention, no_attention = [], f"No attention pictures for {head}: `dvc exp apply {head}`, then `nmt report` draws them."

    parts = [
        f"# Experiment report: {head_name} against {base} ({base_sha})",
        "",
        "## Metrics",
        "",
        metrics,
        "",
        "## Params",
        "",
        params,
        "",
        "## Training curves",
        "",
        *([f"![{p.stem}]({p.relative_to(out_dir).as_posix()})" for p in images] or ["No training curves in either revision."]),
        "",
        "## Sample test translations",
        "",
        samples_side_by_side(base_samples, head_samples, f"{base} ({base_sha})"),
        "",
        "## Attention (this revision, greedy search)",
        "",
        *([f"![{p.stem}]({p.relative_to(out_dir).as_posix()})" for p in attention] or [no_attention]),
        "",
    ]
    out_dir.mkdir(parents=True, exist_ok=True)
    report = out_dir / "report.md"
    tmp = report.with_suffix(".md.tmp")
    tmp.write_text("\n".join(parts), encoding="utf-8")
    tmp.replace(report)
    return report
