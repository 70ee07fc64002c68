"""A real S3 API on 127.0.0.1: moto's server mode, started as its own process for a test."""

import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def s3_server(bucket: str):
    """Yields the endpoint URL of a running moto S3 server that holds an empty `bucket`."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(150):
            try:
                urllib.request.urlopen(url + "/moto-api/", timeout=1)  # noqa: S310 - loopback
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(f"moto_server exited with {proc.returncode}") from None
                time.sleep(0.1)
        else:
            raise RuntimeError(f"moto_server did not answer on {url}")
        request = urllib.request.Request(f"{url}/{bucket}", method="PUT")  # CreateBucket; moto does not check signatures
        urllib.request.urlopen(request, timeout=5)  # noqa: S310
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
