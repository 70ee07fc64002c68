"""`nmt` as a user runs it: real subprocesses (and a pseudo-terminal for the interactive mode)
over a tiny untrained bundle. The environment is a user's: no TF_* variables set."""

import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import tiny_bundle

from nmt.cli_input import LineReader, batches
from nmt.config import ModelParams

ROOT = Path(__file__).resolve().parents[1]
NMT = [sys.executable, "-m", "nmt.cli"]
LONG = " ".join(["tea"] * 401)  # past the 400 tokens Translator keeps


def user_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


def nmt(*args, stdin=None, env=None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*NMT, *args], input=stdin, capture_output=True, env=env or user_env(), cwd=ROOT, timeout=300, check=False, **kwargs)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    import keras

    keras.utils.set_random_seed(3)
    path = tmp_path_factory.mktemp("cli") / "bundle"
    tiny_bundle(path, ModelParams(embedding_dim=8, units=16))
    return str(path)


def test_translating_prints_one_line_per_sentence_and_nothing_on_stderr(model):
    done = nmt("translate", "--model", model, "i like tea .", "", "you like coffee .", text=True)
    assert done.returncode == 0 and done.stderr == ""  # no TensorFlow start-up lines
    lines = done.stdout.split("\n")
    assert len(lines) == 4 and lines[0] and lines[1] == "" and lines[2] and lines[3] == ""


def test_version_and_help_need_no_model():
    version = nmt("--version", text=True)
    assert version.returncode == 0 and re.fullmatch(r"nmt \S+\n", version.stdout)
    bare = nmt(text=True)
    assert bare.returncode == 0 and "usage: nmt" in bare.stdout and "translate" in bare.stdout and bare.stderr == ""


IMPORTED = """
import sys
from nmt.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(*sorted(m for m in ("tensorflow", "keras", "pandas", "dvc", "sacrebleu") if m in sys.modules))
"""


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["translate", "--help"], []])
def test_help_and_version_import_no_tensorflow(args):
    # They answer at once: nothing heavy is imported before a command needs it.
    done = subprocess.run([sys.executable, "-c", IMPORTED, *args], capture_output=True, text=True, env=user_env(), cwd=ROOT, timeout=60, check=True)
    assert done.stdout.splitlines()[-1] == ""


@pytest.mark.parametrize(
    "args, status, message",
    [
        (["--file", "no-such-file.txt"], 1, "error: cannot read --file no-such-file.txt: No such file or directory"),
        (["--file", "/"], 1, "error: --file / is a folder, not a file of sentences"),
        (["--file", "NOT_UTF8"], 1, "error: {NOT_UTF8} line 2 is not UTF-8 text (byte 0xe9 at byte 4 of the line)"),
        # Usage mistakes: argparse's usage line, then the error.
        (["--file", "NOT_UTF8", "a sentence"], 2, "nmt translate: error: give sentences as arguments or with --file, not both"),
        (["--beam", "65", "x"], 2, "nmt translate: error: --beam 65 is more than 64"),
        (["--beam", "2", "--n-best", "3", "x"], 2, "nmt translate: error: --n-best 3 needs --beam 3 or more (got --beam 2)"),
        (["--beam", "many", "x"], 2, "nmt translate: error: argument --beam: must be a whole number, got 'many'"),
    ],
)
def test_input_mistakes_fail_before_the_model_loads_in_one_line(tmp_path, args, status, message):
    not_utf8 = tmp_path / "latin1.txt"
    not_utf8.write_bytes("good morning .\nun été .\n".encode("latin-1"))
    args = [str(not_utf8) if a == "NOT_UTF8" else a for a in args]
    # No bundle there: had the model been loaded first, this would be a bundle error.
    done = nmt("translate", "--model", str(tmp_path / "no-bundle"), *args, text=True)
    assert done.returncode == status and done.stdout == "" and "Traceback" not in done.stderr
    *usage, last = done.stderr.splitlines()
    assert last.startswith(message.format(NOT_UTF8=not_utf8)) and "bundle" not in last
    assert usage[0].startswith("usage: nmt translate") if status == 2 else usage == []


def test_a_closed_stdin_is_one_line(tmp_path):
    done = subprocess.run(
        ["bash", "-c", 'exec "$@" <&-', "bash", *NMT, "translate", "--model", str(tmp_path)],
        capture_output=True,
        text=True,
        env=user_env(),
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert done.returncode == 1 and done.stderr == ("error: no input: standard input is closed; give sentences as arguments, with --file, or on stdin\n")


def test_invalid_utf8_on_stdin_stops_there_after_translating_the_lines_before(model):
    done = nmt("translate", "--model", model, stdin=b"i like tea .\n\xff\xfe abc\nyou like coffee .\n", env=user_env(PYTHONIOENCODING="utf-8"))
    assert done.returncode == 1 and done.stdout.count(b"\n") == 1
    assert done.stderr.decode() == (
        "error: stdin line 2 is not UTF-8 text (byte 0xff at byte 1 of the line); convert it first, e.g. `iconv -f latin1 -t utf-8`\n"
    )


def test_file_and_stdin_split_lines_only_at_newlines_and_count_them_alike(model, tmp_path):
    # A stray carriage return stays inside its line; a Windows "\r\n" ending is one line end.
    data = f"good morning .\rthank you .\ni like tea .\r\n{LONG}".encode()
    (tmp_path / "in.txt").write_bytes(data)
    from_file = nmt("translate", "--model", model, "--batch-size", "2", "--file", str(tmp_path / "in.txt"), text=True)
    from_stdin = nmt("translate", "--model", model, "--batch-size", "2", stdin=data.decode(), text=True)
    assert from_file.returncode == from_stdin.returncode == 0
    assert from_file.stdout.count("\n") == 3 and from_file.stdout == from_stdin.stdout
    # The README's promise: an over-long sentence is cut to 400 tokens, with a warning naming its
    # line, counted across batches (of 2 here).
    assert from_file.stderr == from_stdin.stderr == "warning: sentence 3 has 401 tokens; translating its first 400\n"


def test_a_file_translates_alike_with_one_batch_at_a_time_and_several_at_once(model, tmp_path):
    lines = ["i like tea .", "you like coffee .", "", "good morning .", "thank you .", "tea tea tea tea tea tea ."] * 4
    (tmp_path / "in.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    outputs = [
        nmt("translate", "--model", model, "--batch-size", "2", "--workers", w, "--beam", "2", "--n-best", "2", "--file", str(tmp_path / "in.txt"), text=True)
        for w in ("1", "3")
    ]
    assert all(done.returncode == 0 and done.stderr == "" for done in outputs)
    assert outputs[0].stdout.count("\n") == 2 * len(lines) - lines.count("") and outputs[1].stdout == outputs[0].stdout
    refused = nmt("translate", "--model", model, "--workers", "0", "x", text=True)
    assert refused.returncode == 2 and "--workers: must be at least 1, got 0" in refused.stderr


def test_n_best_lists_are_in_moses_format(model):
    done = nmt("translate", "--model", model, "--beam", "3", "--n-best", "2", "--length-penalty", "0.5", "i like tea .", "", "you like coffee .", text=True)
    assert done.returncode == 0 and done.stderr == ""
    rows = [line.split(" ||| ") for line in done.stdout.splitlines()]
    assert all(len(r) == 4 for r in rows) and [r[0] for r in rows] == ["0", "0", "1", "2", "2"]
    assert rows[2] == ["1", "", "logprob= 0.0000 length= 0", "0.0000"]  # the empty line
    for _, text, features, score in rows[:2] + rows[3:]:
        logprob, length = re.fullmatch(r"logprob= (\S+) length= (\d+)", features).groups()
        assert text and abs(float(logprob) / int(length) ** 0.5 - float(score)) < 1e-3
    assert float(rows[0][3]) >= float(rows[1][3]) and float(rows[3][3]) >= float(rows[4][3])  # best first


def test_a_slow_pipe_gets_each_translation_as_its_line_arrives(model):
    proc = subprocess.Popen(
        [*NMT, "translate", "--model", model], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=user_env(), cwd=ROOT
    )
    try:
        proc.stdin.write(b"i like tea .\n")
        proc.stdin.flush()
        # The second line is sent only once the first translation is out: waiting for more input deadlocks.
        assert select.select([proc.stdout], [], [], 120)[0], "no translation while the input stays open"
        first = proc.stdout.readline()
        proc.stdin.write(b"you like coffee .\n")
        proc.stdin.close()
        assert first.strip() and proc.stdout.readline().strip() and proc.wait(120) == 0
    finally:
        proc.kill()
        proc.wait()


def test_lines_already_in_the_pipe_are_batched_and_a_slow_producer_is_not_waited_for():
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)  # a read that would wait fails the test instead of hanging it
    try:
        os.write(write_fd, b"".join(b"line %d\n" % i for i in range(150)))
        got = batches(LineReader(read_fd, "stdin"), 64)
        assert [len(next(got)) for _ in range(3)] == [64, 64, 22]  # then nothing more has arrived: no waiting
        os.write(write_fd, b"a\nb")
        os.close(write_fd)
        write_fd = None
        assert list(got) == [["a", "b"]]
    finally:
        os.close(read_fd)
        if write_fd is not None:
            os.close(write_fd)


# ---- the interactive mode, in a pseudo-terminal ------------------------------------------------
# In a new session, take the terminal on stdin as the controlling one (so that ^C is SIGINT), then run nmt.
# The child takes the pseudo-terminal as its terminal and gets Ctrl-C's default disposition back,
# as from an interactive shell: a test run in the background of a non-interactive shell inherits
# SIGINT ignored, and Python then never turns Ctrl-C into KeyboardInterrupt.
TAKE_TERMINAL = (
    "import fcntl, os, signal, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
)


def spawn_in_terminal(args):
    """`nmt args` with a new pseudo-terminal as its terminal; returns the process and our side of the terminal."""
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-c", TAKE_TERMINAL, *args], stdin=slave, stdout=slave, stderr=slave, start_new_session=True, cwd=ROOT, env=user_env(TERM="xterm")
    )
    os.close(slave)
    return proc, master


def read_until(fd: int, text: str, timeout: float = 240) -> str:
    seen, deadline = b"", time.monotonic() + timeout
    while text.encode() not in seen:
        ready = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]
        chunk = os.read(fd, 4096) if ready else b""
        if not chunk:
            raise AssertionError(f"waited for {text!r}; the terminal shows {seen.decode(errors='replace')!r}")
        seen += chunk
    return seen.decode()


def read_while_running(proc, fd: int, timeout: float) -> str:
    """What the terminal shows until `proc` exits (read as it comes, so that a full terminal buffer
    never blocks it); fails, showing it, if `proc` still runs after `timeout` seconds."""
    seen, deadline = b"", time.monotonic() + timeout
    while proc.poll() is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"still running {timeout:.0f} s after Ctrl-C; the terminal shows {seen.decode(errors='replace')!r}")
        if select.select([fd], [], [], 0.2)[0]:
            try:
                seen += os.read(fd, 4096)
            except OSError:  # EIO: the other side closed
                time.sleep(0.05)
    return seen.decode(errors="replace") + read_rest(fd)


def read_rest(fd: int) -> str:
    seen = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        seen += chunk
    return seen.decode(errors="replace")


def test_typing_at_a_terminal_has_a_language_prompt_line_editing_and_history(model):
    proc, term = spawn_in_terminal(["-m", "nmt.cli", "translate", "--model", model])
    try:
        read_until(term, "en→ja> ")
        os.write(term, b"i like tea .\r")
        first = read_until(term, "en→ja> ").splitlines()[1]  # the echoed line, then its translation
        os.write(term, b"\x1b[A")  # arrow up: the last line back, not "^[[A"
        time.sleep(0.2)
        os.write(term, b"\r")
        again = read_until(term, "en→ja> ")
        assert "i like tea ." in again and "^[" not in again and again.splitlines()[1] == first
        os.write(term, b"\x04")  # Ctrl-D
        assert proc.wait(60) == 0
        assert "Traceback" not in read_rest(term)
    finally:
        proc.kill()
        proc.wait()
        os.close(term)


def test_ctrl_c_while_the_model_loads_quits_without_a_traceback(model):
    proc, term = spawn_in_terminal(["-m", "nmt.cli", "translate", "--model", model])
    try:
        shown = read_until(term, "(Ctrl-C to cancel)")
        os.write(term, b"\x03")
        shown += read_while_running(proc, term, 120)
        assert proc.returncode == 130, shown
        assert "Traceback" not in shown and "KeyboardInterrupt" not in shown and "en→ja>" not in shown
    finally:
        proc.kill()
        proc.wait()
        os.close(term)
