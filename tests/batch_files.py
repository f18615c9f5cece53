"""Image trees for the batch tests (local and on a cluster): noise images, saving, running the
command line in this process, and a set of slow inputs with the outputs of an uninterrupted run.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import numpy as np
from click.testing import CliRunner, Result
from PIL import Image

from upsamp.cli import cli

#: Arguments that make each image take a noticeable time (for interruption tests).
SLOW_ARGS = ("--method", "transconv", "--kernel", "bicubic", "--stride", "3")


def noise(shape: tuple[int, ...], seed: int, dtype: type = np.uint8) -> np.ndarray:
    """Reproducible random pixels of ``dtype`` (8- or 16-bit)."""
    high = 65536 if dtype == np.uint16 else 256
    return np.random.default_rng(seed).integers(0, high, size=shape).astype(dtype)


def save_image(path: Path, data: np.ndarray | Image.Image, **kwargs: object) -> Path:
    """Save an array or a Pillow image, creating the folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = data if isinstance(data, Image.Image) else Image.fromarray(data)
    image.save(path, **kwargs)
    return path


def run_cli(*args: object) -> Result:
    """``upsamp ARGS`` in this process; unexpected exceptions propagate."""
    return CliRunner().invoke(
        cli, [str(a) for a in args], catch_exceptions=False, prog_name="upsamp"
    )


def json_records(stdout: str) -> list[dict]:
    """Every stdout line as a JSON object."""
    return [json.loads(line) for line in stdout.splitlines()]


def make_slow_inputs(root: Path, count: int, side: int) -> tuple[Path, Path]:
    """``count`` RGB images of ``side``² pixels in ``root/in``, and the outputs of an
    uninterrupted ``-j 1`` run with :data:`SLOW_ARGS` in ``root/reference``."""
    src = root / "in"
    for i in range(count):
        save_image(src / f"img{i:02d}.png", noise((side, side, 3), 1000 + i), compress_level=1)
    reference = root / "reference"
    assert run_cli("batch", src, "-o", reference, "-j", "1", "-q", *SLOW_ARGS).exit_code == 0
    return src, reference


def temp_files(root: Path) -> list[Path]:
    """The temporary files (``*.tmp``) left anywhere under ``root``."""
    return [p for p in root.rglob("*") if p.name.endswith(".tmp")]


def wait_until_writing(process: subprocess.Popen, out: Path, timeout: float) -> None:
    """Wait until ``process`` has written its first output under ``out``, then (for up to
    2 s) until a temporary file is being written, so that a signal strikes mid-write."""
    deadline = time.monotonic() + timeout
    while not (out.is_dir() and any(p.suffix == ".png" for p in out.iterdir())):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no output appeared"
        time.sleep(0.002)
    soon = time.monotonic() + 2
    while not temp_files(out) and time.monotonic() < soon and process.poll() is None:
        time.sleep(0.001)
