"""Hostile input files and sizes (issue 16, findings 3, 4, 5 and 11): FIFOs, malformed kernels
and index files, absurd scales and strides, and sizes that cannot fit are refused up front, in
one line naming the file, before anything big is allocated. The files are generated here."""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import upsamp.resources as resources

REPO_ROOT = Path(__file__).resolve().parents[2]

#: Seconds a process started here may take (a blocked read would otherwise hang the test).
TIMEOUT = 60


def _png(path: Path, shape: tuple[int, ...] = (8, 8, 3), seed: int = 0) -> Path:
    pixels = np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def one_line(stderr: str, *needles: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("upsamp: error: "), stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


# --------------------------------------------------------------------------------------------
# Finding 3: anything but a regular file is refused before it is read
# --------------------------------------------------------------------------------------------

FIFO_CASES = [
    ["enlarge", "fifo.png", "--method", "nearest", "-o", "o.png"],
    ["enlarge", "fifo.npy", "--method", "nearest", "-o", "o.npy"],
    ["enlarge", "small.png", "--method", "max-unpool", "--guide", "fifo.png", "-o", "o.png"],
    ["pool", "fifo.png", "-o", "p.png", "--indices-out", "i.npz"],
    ["pool", "in.png", "-o", "p.png", "--indices-out", "i.npz", "--guide", "fifo.png"],
    ["report", "fifo.png", "--stride", "2"],
]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.parametrize("args", FIFO_CASES, ids=lambda a: "-".join(a[:2]) + str(len(a)))
def test_fifo_input_is_refused(tmp_path, args):
    os.mkfifo(tmp_path / "fifo.png")
    os.mkfifo(tmp_path / "fifo.npy")
    _png(tmp_path / "in.png")
    _png(tmp_path / "small.png", (4, 4, 3))
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "upsamp", *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT,
    )  # fmt: skip
    assert done.returncode == 1
    one_line(done.stderr, "fifo.", "named pipe (FIFO), not a regular file")


def test_device_input_is_refused(run_cli):
    result = run_cli("enlarge", "/dev/zero", "--method", "nearest", "-o", "o.png")
    assert result.exit_code == 1
    one_line(result.stderr, "/dev/zero: is a device")


# --------------------------------------------------------------------------------------------
# Finding 4: malformed kernels, index files and scales are one line naming the file
# --------------------------------------------------------------------------------------------


def _deep_json(path: Path) -> None:
    path.write_text("[" * 10_000 + "1" + "]" * 10_000)


def _huge_integer(path: Path) -> None:
    path.write_text('{"weight": [[1, 2], [3, ' + "9" * 5000 + "]]}")


def _npz_named_npy(path: Path) -> None:
    with open(path, "wb") as fh:
        np.savez(fh, weight=np.ones((2, 2)))


KERNEL_FILES = [
    ("deep.json", _deep_json, "nested too deeply"),
    ("digits.json", _huge_integer, "digits.json: "),
    ("archive.npy", _npz_named_npy, "an .npz archive, not a .npy array"),
]


@pytest.mark.parametrize("name, make, needle", KERNEL_FILES, ids=[c[0] for c in KERNEL_FILES])
@pytest.mark.parametrize("command", ["enlarge", "show", "fix"])
def test_malformed_kernel_file(run_cli, tmp_path, name, make, needle, command):
    make(tmp_path / name)
    _png(tmp_path / "in.png")
    args = {
        "enlarge": ["enlarge", "in.png", "--method", "transconv", "--kernel", name, "-o", "o.png"],
        "show": ["kernels", "show", name, "--stride", "2"],
        "fix": ["kernels", "fix", name, "--stride", "2", "--how", "hold", "-o", "f.json"],
    }[command]
    result = run_cli(*args)
    assert result.exit_code == 1, result.output
    one_line(result.stderr, name, needle)


def _npz(path: Path, **members: object) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, value in members.items():
            if isinstance(value, bytes):
                archive.writestr(f"{name}.npy", value)
            else:
                buffer = io.BytesIO()
                np.save(buffer, value)
                archive.writestr(f"{name}.npy", buffer.getvalue())


GOOD = {
    "indices": np.zeros((4, 4, 3), np.int64),
    "input_shape": np.array([8, 8]),
    "stride": np.array([2, 2]),
}

INDEX_FILES = [
    ("npy-named-npz", lambda p: np.save(open(p, "wb"), np.zeros((4, 4))), "a .npy array"),
    (
        "pickled-member",
        lambda p: _npz(p, **{**GOOD, "indices": pickle.dumps({"x": 1})}),
        "not a numpy array",
    ),
    (
        "2-D-input-shape",
        lambda p: _npz(p, **{**GOOD, "input_shape": np.array([[8, 8], [8, 8]])}),
        "input_shape must be two integers",
    ),
    ("scalar-stride", lambda p: _npz(p, **{**GOOD, "stride": np.array(2)}), "stride must be two"),
    (
        "float-stride",
        lambda p: _npz(p, **{**GOOD, "stride": np.array([2.5, 2.0])}),
        "stride must be two",
    ),
]


@pytest.mark.parametrize(
    "make, needle", [c[1:] for c in INDEX_FILES], ids=[c[0] for c in INDEX_FILES]
)
def test_malformed_indices_file(run_cli, tmp_path, make, needle):
    make(tmp_path / "idx.npz")
    _png(tmp_path / "small.png", (4, 4, 3))
    result = run_cli(
        "enlarge", "small.png", "--method", "max-unpool", "--indices", "idx.npz", "-o", "o.png"
    )
    assert result.exit_code == 1, result.output
    one_line(result.stderr, "idx.npz", needle)


@pytest.mark.parametrize("method", ["nearest", "bilinear"])
@pytest.mark.parametrize("scale", ["1e308", "1e300", "inf"])
def test_absurd_scale(run_cli, tmp_path, method, scale):
    _png(tmp_path / "in.png")
    result = run_cli("enlarge", "in.png", "--method", method, "--scale", scale, "-o", "o.png")
    assert "Traceback" not in result.output
    if result.exit_code == 2:  # refused by the option itself (Click's usage message)
        assert "--scale" in result.stderr
    else:
        assert result.exit_code == 1, result.output
        one_line(result.stderr, "too large to represent")


# --------------------------------------------------------------------------------------------
# Findings 5 and 11: sizes are estimated before anything is built
# --------------------------------------------------------------------------------------------

HUGE_KERNELS = [
    ["kernels", "fix", "checkerboard", "--stride", "5000", "--how", "hold", "-o", "f.json"],
    ["kernels", "show", "bilinear", "--stride", "5000"],
    ["kernels", "show", "k1e9.json"],
    ["kernels", "fix", "k1e9.json", "--how", "normalize-phases", "-o", "f.json"],
    ["kernels", "fix", "big.npy", "--stride", "4000", "--how", "hold", "-o", "f.json"],
    ["enlarge", "in.png", "--method", "transconv", "--stride", "100000", "-o", "o.png"],
    ["enlarge", "in.png", "--method", "transconv", "--kernel", "k1e9.json", "-o", "o.png"],
    ["enlarge", "in.png", "--method", "transconv", "--kernel", "huge.json", "-o", "o.png"],
    ["report", "in.png", "--stride", "9000"],
]


@pytest.mark.parametrize("args", HUGE_KERNELS, ids=lambda a: "-".join(a[:3]))
def test_huge_kernels_are_refused_before_they_are_built(run_cli, tmp_path, args):
    _png(tmp_path / "in.png")
    (tmp_path / "k1e9.json").write_text(json.dumps({"weight": [[1, 1], [1, 1]], "stride": 10**9}))
    np.save(tmp_path / "big.npy", np.ones((64, 64)))
    with open(tmp_path / "huge.json", "w") as fh:  # 17 MB of JSON
        fh.write("[[" + ",".join(["0.5"] * 4_300_000) + "]]")
    result = run_cli(*args)
    assert result.exit_code in (1, 2), result.output
    assert "Traceback" not in result.output
    line = result.stderr.strip().splitlines()[-1]
    assert "more than upsamp handles" in line or "larger than a kernel" in line, line
    assert "GiB" not in line  # refused by size, before any memory was asked for


def test_report_refuses_an_image_that_would_not_fit(run_cli, tmp_path, monkeypatch):
    _png(tmp_path / "in.png", (64, 64, 3))
    monkeypatch.setattr(resources, "available_memory", lambda: 2**20)
    result = run_cli("report", "in.png", "--stride", "2")
    assert result.exit_code == 1
    one_line(result.stderr, "in.png", "GiB of memory")


def test_indices_that_expand_beyond_memory_are_refused(run_cli, tmp_path, monkeypatch):
    """A small compressed .npz whose members would fill the memory is refused from the sizes
    in its directory, before it is decompressed."""
    with open(tmp_path / "bomb.npz", "wb") as fh:
        np.savez_compressed(
            fh,
            indices=np.zeros((512, 512, 3), np.int64),
            input_shape=np.array([1024, 1024]),
            stride=np.array([2, 2]),
        )
    assert (tmp_path / "bomb.npz").stat().st_size < 100_000
    _png(tmp_path / "small.png", (512, 512, 3))
    monkeypatch.setattr(resources, "available_memory", lambda: 4 * 2**20)
    result = run_cli(
        "enlarge", "small.png", "--method", "max-unpool", "--indices", "bomb.npz", "-o", "o.png"
    )
    assert result.exit_code == 1
    one_line(result.stderr, "bomb.npz", "expands to")


# --------------------------------------------------------------------------------------------
# Finding 15: a folder tree deeper than Python's recursion limit
# --------------------------------------------------------------------------------------------


def test_batch_walks_a_tree_deeper_than_the_recursion_limit(run_cli, tmp_path):
    deep = tmp_path / "in"
    deep.mkdir()
    for _ in range(sys.getrecursionlimit() + 200):
        deep = deep / "d"
        deep.mkdir()
    _png(deep / "x.png", (2, 2))
    try:
        result = run_cli("batch", "in", "-o", "out", "-r", "--method", "nearest", "--dry-run")
    finally:  # pytest's own clean-up is recursive too: take the tree down from the bottom
        (deep / "x.png").unlink()
        while deep != tmp_path:
            deep.rmdir()
            deep = deep.parent
    assert result.exit_code == 0, result.output[-500:]
    assert "1 to enlarge" in result.stderr
