"""Helpers for tests that run the real pipeline in a temporary copy of this repository."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def venv_env() -> dict:
    """The environment of an activated virtualenv: `python` in dvc.yaml is this interpreter."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", "TF_CPP_MIN_LOG_LEVEL": "2"}


def run(cmd: list[str], cwd: Path, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=venv_env(), capture_output=True, text=True, **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def dvc(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    return run([str(Path(sys.executable).parent / "dvc"), *args], cwd, check)


def merge(base: dict, over: dict) -> dict:
    return {k: merge(base[k], v) if isinstance(v, dict) else v for k, v in over.items()} | {k: v for k, v in base.items() if k not in over}


def copy_repo(dest: Path, overrides: dict) -> Path:
    """The files git tracks (what a fresh clone has), as a new git repository with params overridden."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split("\0")
    for f in filter(None, files):
        if (ROOT / f).is_file():
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, dest / f)
    for generated in ("dvc.lock", "metrics"):  # a fresh start, not the committed run
        shutil.rmtree(dest / generated, ignore_errors=True) if (dest / generated).is_dir() else (dest / generated).unlink(missing_ok=True)
    params = merge(yaml.safe_load((dest / "params.yaml").read_text()), overrides)
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"]):
        run(cmd, dest)
    return dest


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def checkpoints(repo: Path) -> list[str]:
    """The checkpoints of the one run in models/checkpoints/ (a folder per run fingerprint)."""
    runs = [p for p in (repo / "models/checkpoints").iterdir() if not p.name.startswith(".")]
    assert len(runs) == 1, runs
    return sorted(p.name for p in runs[0].iterdir())


def resumed_from(out: str, epoch: int) -> bool:
    """Whether the training log says it resumed from its own checkpoint of `epoch`."""
    import re

    return re.search(rf"resuming from models/checkpoints/[0-9a-f]{{16}}/epoch-{epoch:04d} \(epoch {epoch}\)", out) is not None
