"""Outputs that must not destroy anything (issue 16, findings 10, 13 and part of 15): no file a
command reads is ever replaced, even with ``--overwrite``; ``pool`` replaces its two outputs
only when both are complete; every I/O error names its file."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import upsamp.pool_job as pool_job


def _png(path: Path, shape: tuple[int, ...], seed: int = 0) -> Path:
    pixels = np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def _one_line(result, *needles: str) -> str:
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("upsamp: error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


# --------------------------------------------------------------------------------------------
# Finding 13: every file a command reads is protected
# --------------------------------------------------------------------------------------------


@pytest.fixture
def inputs(tmp_path):
    """Files every case reads: images, a kernel in both formats, a guide, the report's inputs
    named like its outputs."""
    _png(tmp_path / "in.png", (8, 8, 3), 1)
    _png(tmp_path / "small.png", (4, 4, 3), 2)
    _png(tmp_path / "g.png", (8, 8, 3), 3)
    np.save(tmp_path / "k.npy", np.ones((2, 2)))
    (tmp_path / "k.json").write_text(json.dumps({"weight": [[1, 1], [1, 1]], "stride": 2}))
    for name in ("ground-truth.png", "nearest.png", "contact_sheet.png", "bilinear.png"):
        _png(tmp_path / name, (24, 24, 3), 4)
    return tmp_path


PROTECTED = [
    ("k.npy", ["enlarge", "in.png", "-o", "k.npy", "--method", "transconv", "--kernel", "k.npy"]),
    ("k.npy", ["enlarge", "in.png", "-o", "./k.npy", "--method", "transconv", "--kernel", "k.npy"]),
    (
        "g.png",
        ["enlarge", "small.png", "-o", "g.png", "--method", "max-unpool", "--guide", "g.png"],
    ),
    ("g.png", ["pool", "in.png", "-o", "g.png", "--guide", "g.png", "--indices-out", "i.npz"]),
    ("k.npy", ["kernels", "fix", "k.npy", "--stride", "2", "--how", "hold", "-o", "k.npy"]),
    ("k.json", ["kernels", "fix", "k.json", "--how", "normalize-phases", "-o", "k.json"]),
    ("k.json", ["kernels", "show", "k.json", "--save", "k.json"]),
    (
        "k.npy",
        [
            "kernels",
            "convert",
            "k.npy",
            "--from",
            "transconv",
            "--to",
            "pixel-shuffle",
            "--stride",
            "2",
            "-o",
            "k.npy",
        ],
    ),
    ("ground-truth.png", ["report", "ground-truth.png", "--stride", "2", "--save-outputs", "."]),
    ("nearest.png", ["report", "nearest.png", "--stride", "2", "--save-outputs", "."]),
    ("bilinear.png", ["report", "bilinear.png", "--stride", "2", "--save-outputs", "."]),
    ("contact_sheet.png", ["report", "contact_sheet.png", "--stride", "2", "--figures", "."]),
]


@pytest.mark.parametrize("overwrite", [False, True], ids=["plain", "overwrite"])
@pytest.mark.parametrize("read, args", PROTECTED, ids=lambda v: v if isinstance(v, str) else None)
def test_files_read_are_never_replaced(run_cli, inputs, listing, read, args, overwrite):
    before = (inputs / read).read_bytes()
    names = listing(inputs)
    result = run_cli(*args, *(["--overwrite"] if overwrite else []))
    assert result.exit_code == 1, result.output
    line = _one_line(result)
    assert "refusing to overwrite" in line or (not overwrite and "exists" in line), line
    assert (inputs / read).read_bytes() == before
    assert listing(inputs) == names  # nothing else written either


def test_report_names_of_two_kernels_never_collide(run_cli, tmp_path):
    """Kernels ``a_b.npy`` and ``a:b.npy`` give the method names ``transconv:a_b`` and
    ``transconv:a:b``, whose files (``:`` becomes ``_``) would be one: each gets its own."""
    _png(tmp_path / "img.png", (24, 24, 3))
    np.save(tmp_path / "a_b.npy", np.ones((2, 2)))
    np.save(tmp_path / "a:b.npy", np.full((2, 2), 0.5))
    result = run_cli(
        "report", "img.png", "--stride", "2", "--methods",
        "transconv:a_b.npy,transconv:a:b.npy", "--save-outputs", "out",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    saved = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert saved == ["ground-truth.png", "transconv_a_b-2.png", "transconv_a_b.png"], saved
    first, second = (np.asarray(Image.open(tmp_path / "out" / n)) for n in saved[1:])
    assert not np.array_equal(first, second)


# --------------------------------------------------------------------------------------------
# Finding 10: pool replaces its outputs only when both are complete
# --------------------------------------------------------------------------------------------


@pytest.fixture
def previous_run(run_cli, tmp_path):
    """A finished ``pool`` run: p.png and i.npz exist; return their bytes."""
    _png(tmp_path / "in.png", (8, 8, 3), 1)
    assert run_cli("pool", "in.png", "-o", "p.png", "--indices-out", "i.npz").exit_code == 0
    _png(tmp_path / "in.png", (8, 8, 3), 2)  # the next run has other pixels
    return {name: (tmp_path / name).read_bytes() for name in ("p.png", "i.npz")}


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def _interrupted(*args, **kwargs):
    raise KeyboardInterrupt


@pytest.mark.parametrize("failure", [_disk_full, _interrupted], ids=["disk-full", "ctrl-c"])
@pytest.mark.parametrize("output", ["p.png", "p.npy"])
def test_pool_overwrite_keeps_the_old_outputs(
    run_cli, tmp_path, monkeypatch, listing, previous_run, failure, output
):
    if output == "p.npy":
        np.save(tmp_path / "p.npy", np.zeros((4, 4, 3)))
        previous_run["p.npy"] = (tmp_path / "p.npy").read_bytes()
    names = listing(tmp_path)
    monkeypatch.setattr(pool_job.np, "savez_compressed", failure)
    result = run_cli("pool", "in.png", "-o", output, "--indices-out", "i.npz", "--overwrite")
    if failure is _disk_full:
        assert result.exit_code == 1
        _one_line(result, "i.npz", "No space left on device")
    else:
        assert result.exit_code == 130
    for name in (output, "i.npz"):
        assert (tmp_path / name).read_bytes() == previous_run[name], f"{name} was replaced"
    assert listing(tmp_path) == names, "a temporary file was left"


def test_pool_overwrite_replaces_both_when_both_complete(run_cli, tmp_path, previous_run):
    result = run_cli("pool", "in.png", "-o", "p.png", "--indices-out", "i.npz", "--overwrite")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "p.png").read_bytes() != previous_run["p.png"]
    assert (tmp_path / "i.npz").read_bytes() != previous_run["i.npz"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["i.npz", "in.png", "p.png"]


def test_pool_image_write_error_names_the_output(run_cli, tmp_path, monkeypatch, previous_run):
    import upsamp.imageio as imageio

    def failing(*args, **kwargs):
        raise imageio.OutputError(f"{args[0]}: cannot write PNG (No space left on device)")

    monkeypatch.setattr(imageio, "save_image", failing)
    result = run_cli("pool", "in.png", "-o", "p.png", "--indices-out", "i.npz", "--overwrite")
    assert result.exit_code == 1
    line = _one_line(result, "p.png: cannot write")
    assert ".staged" not in line
    assert (tmp_path / "p.png").read_bytes() == previous_run["p.png"]
