"""Where `nmt translate` gets its sentences: arguments, a file, a pipe, or a person at a terminal.

Input is checked before the model loads, so a missing file, a folder, a closed stdin or a file
that is not UTF-8 fails at once, in one line. Lines are split at "\\n" only (a stray "\\r" stays
inside its line, "\\r\\n" endings are fine), the same for files and pipes. From a pipe, lines are
batched only as far as they have already arrived: a slow producer gets each translation as
soon as its line is in, a fast one still gets full batches.
"""

from __future__ import annotations

import os
import select
import stat
import sys
from collections.abc import Iterator

from nmt.errors import UserError

NOT_READY = object()  # `LineReader.next_line(wait=False)`: no whole line has arrived yet


class InputError(UserError):
    """Input that cannot be read as sentences: the message names the source and the line."""


def decode_line(raw: bytes, source: str, number: int) -> str:
    """One line's bytes (without its "\\n") as text: strict UTF-8, a "\\r\\n" ending and a BOM dropped."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(
            f"{source} line {number} is not UTF-8 text (byte 0x{raw[e.start]:02x} at byte {e.start + 1} of the line); "
            "convert it first, e.g. `iconv -f latin1 -t utf-8`"
        ) from None
    if number == 1:
        text = text.removeprefix("\ufeff")
    return text.removesuffix("\r")


class LineReader:
    """The lines of an open file descriptor, read with os.read (no hidden buffer), split at b"\\n"."""

    def __init__(self, fd: int, source: str):
        self.fd, self.source = fd, source
        self.buffer, self.pos, self.eof, self.number = bytearray(), 0, False, 0

    def _fill(self, wait: bool) -> None:
        while self.buffer.find(b"\n", self.pos) < 0 and not self.eof:
            if not wait and not select.select([self.fd], [], [], 0)[0]:
                return
            chunk = os.read(self.fd, 1 << 16)
            del self.buffer[: self.pos]
            self.pos = 0
            self.buffer += chunk
            self.eof = not chunk

    def next_line(self, wait: bool = True):
        """The next line as text; None at the end; NOT_READY when `wait` is false and none has arrived."""
        self._fill(wait)
        end = self.buffer.find(b"\n", self.pos)
        if end < 0 and not self.eof:
            return NOT_READY
        if end < 0 and self.pos >= len(self.buffer):
            return None
        end = len(self.buffer) if end < 0 else end  # the last line may lack its "\n"
        raw, self.pos = bytes(self.buffer[self.pos : end]), end + 1
        self.number += 1
        return decode_line(raw, self.source, self.number)


def batches(reader: LineReader, size: int) -> Iterator[list[str]]:
    """Up to `size` lines at a time: waits for a first line, then takes only those already there.

    A line that cannot be read ends the input, after the lines before it have been yielded."""
    batch: list[str] = []
    try:
        while (line := reader.next_line(wait=not batch)) is not None:
            if line is not NOT_READY:
                batch.append(line)
            if batch and (line is NOT_READY or len(batch) == size):
                yield batch
                batch = []
    except InputError:
        if batch:
            yield batch
        raise
    if batch:
        yield batch


def _check_utf8(path: str) -> None:
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            decode_line(raw.removesuffix(b"\n"), path, number)


def open_file(path: str) -> LineReader:
    """A reader over --file. A regular file is read through once first, so that a line that is
    not UTF-8 fails before the model loads; a pipe (`--file <(cmd)`) is read as it comes."""
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISDIR(mode):
            raise InputError(f"--file {path} is a folder, not a file of sentences")
        if stat.S_ISREG(mode):
            _check_utf8(path)
        return LineReader(os.open(path, os.O_RDONLY), path)
    except OSError as e:
        raise InputError(f"cannot read --file {path}: {e.strerror or e}") from None


def open_stdin() -> LineReader:
    if sys.stdin is None:  # started with stdin closed (`<&-`)
        raise InputError("no input: standard input is closed; give sentences as arguments, with --file, or on stdin")
    return LineReader(sys.stdin.fileno(), "stdin")


def is_terminal() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def typed_lines(prompt: str) -> Iterator[str]:
    """Lines a person types, with line editing and history (readline) when stdout is the terminal too.

    The prompt goes to stderr when stdout is redirected, so that the output file holds only translations."""
    editing = sys.stdout.isatty()
    if editing:
        try:
            import readline  # noqa: F401  (importing it gives input() line editing and history)
        except ImportError:  # not on every platform
            editing = False
    keys = "arrow keys edit and recall; " if editing else ""
    print(f"Type a sentence and press Enter ({keys}Ctrl-D quits).", file=sys.stderr)
    while True:
        try:
            if editing:
                line = input(prompt)
            else:
                print(prompt, end="", file=sys.stderr, flush=True)
                line = sys.stdin.readline()
                if not line:
                    raise EOFError
                line = line.removesuffix("\n").removesuffix("\r")
        except EOFError:  # Ctrl-D
            print(file=sys.stderr)
            return
        except UnicodeDecodeError:
            print("error: that line is not UTF-8 text; check the terminal's character encoding", file=sys.stderr)
            continue
        yield line
