"""A real `nmt serve` in a subprocess on 127.0.0.1, and a small HTTP client for it (tests and benchmark)."""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Server:
    proc: subprocess.Popen
    url: str  # http://127.0.0.1:<port>
    log: Path  # its stderr

    def post(self, path: str, body, timeout: float = 60) -> tuple[int, dict]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
        return request(self.url + path, data, timeout)

    def get(self, path: str, timeout: float = 30) -> tuple[int, dict]:
        return request(self.url + path, None, timeout)


def request(url: str, data: bytes | None, timeout: float) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"} if data is not None else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@contextmanager
def running_server(bundle: Path, log_dir: Path, *args: str, timeout: float = 300):
    """`nmt serve --model bundle --port 0 *args`, up and warmed up; terminated (SIGTERM) on exit."""
    log = log_dir / f"serve-{os.getpid()}-{id(args)}.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    with open(log, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "nmt.cli", "serve", "--model", str(bundle), "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=env,
            cwd=ROOT,
        )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: lines.put(proc.stdout.readline()), daemon=True).start()
    try:
        try:
            first = lines.get(timeout=timeout)
        except queue.Empty:
            first = ""
        m = re.search(r"(http://[\d.]+:\d+)/", first)
        assert m, f"the server did not start: {first!r}\n{log.read_text()[-3000:]}"
        yield Server(proc, m.group(1), log)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(60)
        proc.stdout.close()
