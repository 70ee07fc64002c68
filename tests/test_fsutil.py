"""Atomic writes: an output appears whole or not at all, and a failure names the path."""

import resource
import signal
import subprocess
import sys
import textwrap

import pytest

from nmt.fsutil import OutputError, atomic_dir, read_lines, write_lines, write_text


def test_write_text_replaces_whole_files(tmp_path):
    target = tmp_path / "out" / "metrics.json"
    write_text(target, "first\n")
    write_text(target, "second\n")
    assert target.read_text() == "second\n"
    assert [p.name for p in target.parent.iterdir()] == ["metrics.json"]


def test_lines_round_trip_including_empty_ones(tmp_path):
    lines = ["a", "", "  b", "c\u2028d"]  # \u2028 would split a str.splitlines() reader
    write_lines(tmp_path / "h.txt", lines)
    assert read_lines(tmp_path / "h.txt") == lines
    write_lines(tmp_path / "none.txt", [])
    assert read_lines(tmp_path / "none.txt") == []


def test_a_disk_that_fills_up_mid_write_keeps_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "hypotheses.txt"
    target.write_text("old\n")

    def full_disk():  # writes past 64 KiB fail with EFBIG, as on a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))

    code = textwrap.dedent(f"""
        from nmt.fsutil import OutputError, write_text
        try:
            write_text({str(target)!r}, "x" * 1_000_000)
        except OutputError as e:
            print(e)
    """)
    out = subprocess.run([sys.executable, "-c", code], preexec_fn=full_disk, capture_output=True, text=True)
    assert out.stdout.strip() == f"cannot write {target}: File too large", out.stderr
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["hypotheses.txt"]


def test_a_folder_that_fails_midway_leaves_the_old_one_whole(tmp_path):
    bundle = tmp_path / "bundle"
    with atomic_dir(bundle) as tmp:
        (tmp / "a").write_text("1")
    with pytest.raises(RuntimeError), atomic_dir(bundle) as tmp:
        (tmp / "a").write_text("2")
        raise RuntimeError("killed halfway")
    assert (bundle / "a").read_text() == "1"
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]


def test_an_output_under_a_file_is_an_output_error_naming_it(tmp_path):
    (tmp_path / "models").write_text("not a folder")
    with pytest.raises(OutputError, match=r"cannot write .*models/bundle: "):
        with atomic_dir(tmp_path / "models" / "bundle"):
            pass
    with pytest.raises(OutputError, match=r"cannot write .*models/eval.json: "):
        write_text(tmp_path / "models" / "eval.json", "{}")
