"""The GitHub Actions workflows are valid (GitHub's schema) and pass zizmor's security audit."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github/workflows").glob("*.yml"))
BIN = Path(sys.executable).parent


def test_there_is_a_pull_request_report_workflow():
    text = (ROOT / ".github/workflows/experiment-report.yml").read_text()
    assert "pull_request" in text and "nmt report" in text and "cml comment create" in text


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_matches_githubs_schema(workflow):
    proc = subprocess.run([str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(workflow)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_passes_zizmor_audit(workflow):
    proc = subprocess.run([str(BIN / "zizmor"), "--offline", "--min-severity", "medium", str(workflow)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
