"""Shared fixtures for the test suite: a Click runner, the bundled sample images, small
generated images and helpers to run the ``upsamp`` command line and inspect its output."""

from __future__ import annotations

import struct
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from PIL import Image

from upsamp.cli import cli

REPO_ROOT = Path(__file__).resolve().parent.parent

# Test-support modules (reference_impl, batch_files) live beside this file; with
# --import-mode=importlib the tests folder is not on the path by itself.
sys.path.insert(0, str(Path(__file__).resolve().parent))
SAMPLE_DIR = REPO_ROOT / "sample_images"


@pytest.fixture
def runner() -> CliRunner:
    """A Click runner; Click 8.2+ keeps stdout and stderr apart (result.stdout/.stderr)."""
    return CliRunner()


@pytest.fixture
def run_cli(runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable:
    """Run ``upsamp ARGS...`` in ``tmp_path`` (the working folder) and return the Result.

    Exceptions other than SystemExit propagate (``catch_exceptions=False``): an unexpected
    exception is a test failure with its traceback, never a silent exit code 1.
    """
    monkeypatch.chdir(tmp_path)

    def run(*args: object, catch_exceptions: bool = False) -> Result:
        return runner.invoke(
            cli, [str(a) for a in args], catch_exceptions=catch_exceptions, prog_name="upsamp"
        )

    return run


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """The bundled sample images (part of the repository)."""
    assert SAMPLE_DIR.is_dir(), SAMPLE_DIR
    return SAMPLE_DIR


def _noise(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


@pytest.fixture
def small_rgb(tmp_path: Path) -> Path:
    """A 10×8 (W×H) RGB PNG of random values."""
    path = tmp_path / "small_rgb.png"
    Image.fromarray(_noise((8, 10, 3), 1)).save(path)
    return path


@pytest.fixture
def small_rgba(tmp_path: Path) -> Path:
    """A 12×10 (W×H) RGBA PNG: random colour; alpha 255 except a fully transparent 6×6 block at
    the top-left (rows 0..5, columns 0..5)."""
    path = tmp_path / "small_rgba.png"
    arr = _noise((10, 12, 4), 2)
    arr[:, :, 3] = 255
    arr[:6, :6, 3] = 0
    Image.fromarray(arr).save(path)
    return path


@pytest.fixture
def small_l(tmp_path: Path) -> Path:
    """A 9×7 (W×H) grayscale PNG of random values."""
    path = tmp_path / "small_l.png"
    Image.fromarray(_noise((7, 9), 3)).save(path)
    return path


def _listing(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


@pytest.fixture
def listing() -> Callable[[Path], set[str]]:
    """``listing(folder)``: names of every entry of a folder, hidden (temporary) files included."""
    return _listing


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


@pytest.fixture
def png16_rgb(tmp_path: Path) -> Path:
    """A 5×4 16-bit RGB PNG written byte by byte (Pillow cannot write one)."""
    path = tmp_path / "rgb16.png"
    height, width = 4, 5
    rng = np.random.default_rng(16)
    pixels = rng.integers(0, 65536, size=(height, width, 3), dtype=np.uint16).astype(">u2")
    raw = b"".join(b"\x00" + row.tobytes() for row in pixels)
    ihdr = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(raw))
        + _png_chunk(b"IEND", b"")
    )
    path.write_bytes(data)
    return path
