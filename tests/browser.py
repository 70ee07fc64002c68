"""A real headless browser for the tests: Debian's chromium, offline, on a fresh profile.

Without chromium the calling test is skipped on a workstation and fails in CI (CI=true): a page
check must not pass by not running. `colour_pixels` reads chromium's PNG screenshot with zlib
alone (8-bit RGB/RGBA, as chromium writes them), so the check needs no imaging library.
"""

import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

# Without the background-networking flags chromium keeps trying this machine's closed network.
HEADLESS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
FLAGS = [*HEADLESS, "--virtual-time-budget=10000"]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (apt-get install -y chromium chromium-driver); CI must run this check")
        pytest.skip("chromium is not installed (apt-get install -y chromium chromium-driver)")
    return found


def render(page: Path, tmp: Path, size: str = "1300,900") -> tuple[str, Path]:
    """(the DOM after the page's scripts ran, a screenshot PNG) of a local page."""
    browser, url = chromium(), page.resolve().as_uri()
    shot = tmp / "screenshot.png"
    runs = [
        [f"--user-data-dir={tmp / 'profile-dom'}", "--dump-dom"],
        [f"--user-data-dir={tmp / 'profile-shot'}", f"--window-size={size}", f"--screenshot={shot}"],
    ]
    outputs = [subprocess.run([browser, *FLAGS, *extra, url], capture_output=True, text=True, timeout=180, cwd=tmp) for extra in runs]
    for proc in outputs:
        assert proc.returncode == 0, proc.stderr[-2000:]
    return outputs[0].stdout, shot


def _pixels(png: bytes) -> tuple[int, int, int, bytes]:
    """(width, height, bytes per pixel, unfiltered rows) of an 8-bit RGB/RGBA non-interlaced PNG."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos : pos + 8])
        data = png[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", data)
        elif kind == b"IDAT":
            idat += data
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    bpp = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    out, prev = bytearray(), bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out += line
        prev = line
    return width, height, bpp, bytes(out)


def colour_pixels(png: Path) -> int:
    """How many pixels are clearly coloured (not white, grey or black): drawn marks, not text or axes."""
    _, _, bpp, data = _pixels(png.read_bytes())
    return sum(1 for i in range(0, len(data), bpp) if max(data[i : i + 3]) - min(data[i : i + 3]) > 60)


def ink_pixels(png: Path) -> int:
    """How many pixels are not (nearly) white: anything drawn, text included."""
    _, _, bpp, data = _pixels(png.read_bytes())
    return sum(1 for i in range(0, len(data), bpp) if min(data[i : i + 3]) < 230)
