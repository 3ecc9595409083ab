"""The README's screenshots (issue 14): the script that makes them imports, its size
limit works, and the four PNGs it made are committed, valid and under 300 KB. The
browser is not started here (``python docs/screenshots.py`` does that)."""
from __future__ import annotations

import importlib.util
import os
import struct
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "docs" / "screenshots.py"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def screenshots():
    spec = importlib.util.spec_from_file_location("docs_screenshots", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_script_helpers_import(screenshots):
    for name in ("build_database", "serve", "start_chromium", "login", "shrink",
                 "pdf_first_page", "fetch_with_session", "take", "main"):
        assert callable(getattr(screenshots, name)), name
    assert screenshots.SHOTS == ("screen-roster.png", "screen-person.png",
                                 "screen-registration-pdf.png", "screen-dashboard.png")
    env = screenshots.environment(Path("/tmp/x"))
    assert env["DATABASE_URL"] == "sqlite:////tmp/x/screens.db"


def noise_png(width: int, height: int) -> bytes:
    """A PNG of random RGB pixels: it does not compress, so it is far over the limit."""
    raw = b"".join(b"\x00" + os.urandom(width * 3) for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def test_shrink_brings_a_big_png_under_the_limit(screenshots):
    big = noise_png(600, 400)
    assert len(big) > 300 * 1024
    small = screenshots.shrink(big)
    assert small.startswith(PNG_SIGNATURE) and len(small) < 300 * 1024
    tiny = noise_png(8, 8)
    assert screenshots.shrink(tiny) == tiny


@pytest.mark.parametrize("name", ["screen-roster.png", "screen-person.png",
                                  "screen-registration-pdf.png", "screen-dashboard.png"])
def test_readme_screenshot_is_a_valid_png_under_300_kb(name):
    path = ROOT / "docs" / name
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE), name
    assert data[12:16] == b"IHDR" and data.rstrip().endswith(b"IEND\xaeB`\x82"), name
    width, height = struct.unpack(">II", data[16:24])
    assert width >= 600 and height >= 600, (name, width, height)
    assert len(data) < 300 * 1024, (name, len(data))
    assert f"]({path.relative_to(ROOT)})" in (ROOT / "README.md").read_text(encoding="utf-8")
