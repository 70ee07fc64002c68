"""Junk after a kill: an atomic write SIGKILLed half-way leaves its temporary folder, and the next
write of the same output removes it (and only it) before it begins."""

import subprocess
import sys

from robust_helpers import env

from nmt.fsutil import atomic_dir, write_text

KILLED_WRITE = """
import os, signal, sys
from nmt.fsutil import atomic_dir
with atomic_dir(sys.argv[1]) as tmp:
    (tmp / "half.txt").write_text("half")
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_write_killed_half_way_is_swept_by_the_next_write_of_that_output(tmp_path):
    out = tmp_path / "bundle"
    (tmp_path / ".other.x1.tmp").mkdir()  # another output's temporary: not ours to remove
    proc = subprocess.run([sys.executable, "-c", KILLED_WRITE, str(out)], env=env(), capture_output=True, timeout=60)
    assert proc.returncode == -9
    left = [p.name for p in tmp_path.iterdir() if p.name.startswith(".bundle.")]
    assert len(left) == 1 and left[0].endswith(".tmp") and not out.exists()
    with atomic_dir(out) as tmp:
        (tmp / "whole.txt").write_text("whole")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.x1.tmp", "bundle"]
    write_text(tmp_path / "m.json", "{}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.x1.tmp", "bundle", "m.json"]
