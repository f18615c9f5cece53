"""Tests of ``upsamp.measure`` and ``upsamp measure``.

A real photograph (``sample_images/chelsea.png``) must score below its baseline's bound, and the
same photograph with a faint period-2 grid (±1 grey level) added must be flagged; the
checkerboard energy of both is checked against an FFT computed here.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import upsamp
from upsamp.errors import ParameterError
from upsamp.measure import (
    BASELINES,
    NATURAL_MARGIN,
    baseline_image,
    checkerboard_energy,
    measure_image,
)


def _photo(sample_dir: Path) -> np.ndarray:
    return np.asarray(Image.open(sample_dir / "chelsea.png").convert("RGB"))


def _gridded(photo: np.ndarray, amplitude: float = 1.0) -> np.ndarray:
    """The photo plus ``amplitude * (-1)^(i+j)`` on every channel, saved as 8-bit again."""
    i, j = np.mgrid[0 : photo.shape[0], 0 : photo.shape[1]]
    grid = amplitude * (-1.0) ** (i + j)
    return np.clip(np.rint(photo + grid[:, :, None]), 0, 255).astype(np.uint8)


def _fft_energy(image: np.ndarray, s: int) -> float:
    """Share of the non-DC spectral energy at the bins k*N/s, largest over channels."""
    h, w = image.shape[0] // s * s, image.shape[1] // s * s
    shares = []
    for c in range(image.shape[2]):
        power = np.abs(np.fft.fft2(image[:h, :w, c].astype(np.float64))) ** 2
        on_grid = sum(
            power[k1 * h // s, k2 * w // s]
            for k1 in range(s)
            for k2 in range(s)
            if (k1, k2) != (0, 0)
        )
        shares.append(on_grid / (power.sum() - power[0, 0]))
    return max(shares)


# --------------------------------------------------------------------------------------------
# The photograph and the faint grid
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("baseline", BASELINES)
def test_photograph_is_clean_and_a_faint_grid_is_flagged(sample_dir, baseline):
    photo = _photo(sample_dir)
    clean = measure_image(photo, 2, baseline)
    assert clean["bound"] == pytest.approx(clean["baseline"]["cb_rel"] + NATURAL_MARGIN)
    assert clean["cb_rel"] < clean["bound"]
    assert clean["verdict"] == "clean"
    assert 0.01 < clean["cb_rel"] < 0.05  # a photograph alone is not at 0
    gridded = measure_image(_gridded(photo), 2, baseline)
    assert gridded["cb_rel"] > gridded["bound"]
    assert gridded["verdict"] == "checkerboard"
    # the baseline of the gridded image is the photograph's: the cell mean removes the grid
    assert gridded["baseline"]["cb_rel"] == pytest.approx(clean["baseline"]["cb_rel"], abs=2e-3)


@pytest.mark.parametrize("amplitude", [0.0, 1.0, 3.0])
def test_checkerboard_energy_against_an_fft(sample_dir, amplitude):
    image = _gridded(_photo(sample_dir), amplitude)
    expected = _fft_energy(image, 2)
    assert checkerboard_energy(image, 2) == pytest.approx(expected, rel=1e-9)
    assert measure_image(image, 2)["checkerboard_energy"] == pytest.approx(expected, rel=1e-9)


def test_grid_raises_the_energy_by_what_the_fft_says(sample_dir):
    photo = _photo(sample_dir)
    base, grid = checkerboard_energy(photo, 2), checkerboard_energy(_gridded(photo), 2)
    assert grid > 10 * base
    assert grid == pytest.approx(_fft_energy(_gridded(photo), 2), rel=1e-9)


@pytest.mark.parametrize("s", [2, 3, 4])
def test_checkerboard_energy_of_synthetic_patterns(s):
    rng = np.random.default_rng(s)
    pattern = rng.normal(size=(s, s))
    tiled = np.tile(pattern, (7, 9))[:, :, None]
    assert checkerboard_energy(tiled, s) == pytest.approx(1.0, rel=1e-12)  # all on the grid
    ramp = np.add.outer(np.arange(20.0), np.arange(24.0))
    assert checkerboard_energy(ramp, s) == pytest.approx(_fft_energy(ramp[:, :, None], s))
    assert checkerboard_energy(np.full((9, 9), 3.0), s) == 0.0
    # an odd size is cropped to a multiple of the stride, as the FFT above does
    odd = rng.normal(size=(4 * s + 1, 5 * s + s - 1, 2))
    assert checkerboard_energy(odd, s) == pytest.approx(_fft_energy(odd, s), rel=1e-9)


def test_transposed_convolution_checkerboard_is_flagged(sample_dir):
    photo = _photo(sample_dir).astype(np.float64)
    small = photo[::2, ::2]
    kernel = upsamp.kernels.preset("checkerboard", 2)
    out = upsamp.transconv(small, kernel.weight, **kernel.transconv_kwargs())
    assert measure_image(out, 2, "bicubic")["verdict"] == "checkerboard"
    smooth = upsamp.kernels.preset("bicubic", 2)
    out = upsamp.transconv(small, smooth.weight, **smooth.transconv_kwargs())
    assert measure_image(out, 2, "bicubic")["verdict"] == "clean"


# --------------------------------------------------------------------------------------------
# The numbers and the baseline
# --------------------------------------------------------------------------------------------


def test_measure_image_fields():
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 255, size=(37, 41, 3))
    result = measure_image(image, (2, 3))
    assert result["stride"] == (2, 3)
    assert result["baseline"] is None and result["bound"] is None and result["verdict"] is None
    crop = image[:36, :39]
    expected = np.array([[crop[p::2, q::3].mean(axis=(0, 1)) for q in range(3)] for p in range(2)])
    np.testing.assert_allclose(result["phase_means"], expected)
    assert result["phase_means"].shape == (2, 3, 3)
    stats = upsamp.diagnostics.checkerboard_stats(image, stride=(2, 3))
    assert result["cb_rel"] == stats.cb_rel and result["tile_max"] == stats.cb_rel_tile_max
    assert measure_image(image[:10, :10], 2)["tile_max"] is None  # no whole 16x16 tile


def test_baseline_image_methods():
    rng = np.random.default_rng(1)
    image = rng.uniform(size=(13, 10, 2))
    cells = image[:12, :10].reshape(6, 2, 5, 2, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(
        baseline_image(image, 2, "nearest"), np.repeat(np.repeat(cells, 2, 0), 2, 1)
    )
    np.testing.assert_allclose(
        baseline_image(image, 2, "bilinear"), upsamp.bilinear(cells, 2), atol=1e-12
    )
    assert baseline_image(image, 2, "bicubic").shape == (12, 10, 2)
    with pytest.raises(ParameterError, match="baseline must be one of nearest, bilinear, bicubic"):
        baseline_image(image, 2, "lanczos")


def test_measure_errors():
    with pytest.raises(ParameterError, match="too small"):
        measure_image(np.zeros((5, 5)), 2)
    with pytest.raises(ParameterError, match="numeric"):
        measure_image(np.array([["a"]]), 2)
    with pytest.raises(ParameterError, match="NaN"):
        measure_image(np.full((8, 8), np.nan), 2)
    with pytest.raises(ParameterError, match=r"\(H, W\) or \(H, W, C\)"):
        measure_image(np.zeros((8, 8, 3, 1)), 2)
    with pytest.raises(ParameterError, match="stride"):
        measure_image(np.zeros((8, 8)), 0)
    with pytest.raises(ParameterError, match="baseline must be one of"):
        measure_image(np.zeros((8, 8)), 2, "box")


# --------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------


@pytest.fixture
def photos(tmp_path, sample_dir) -> Path:
    """photos/chelsea.png, photos/sub/gridded.png, photos/sub/.hidden.png, photos/notes.txt."""
    root = tmp_path / "photos"
    (root / "sub").mkdir(parents=True)
    shutil.copy(sample_dir / "chelsea.png", root / "chelsea.png")
    Image.fromarray(_gridded(_photo(sample_dir))).save(root / "sub" / "gridded.png")
    shutil.copy(sample_dir / "chelsea.png", root / "sub" / ".hidden.png")
    (root / "notes.txt").write_text("not an image")
    return root


def test_cli_folder_table(run_cli, photos):
    result = run_cli("measure", photos, "--stride", "2", "--baseline", "bicubic")
    assert result.exit_code == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if "photos" in line]
    assert len(lines) == 2  # recursive, hidden files and non-images left out
    assert "chelsea.png" in lines[0] and "clean" in lines[0]
    assert "gridded.png" in lines[1] and "checkerboard" in lines[1]
    assert ".hidden" not in result.stdout


def test_cli_json(run_cli, photos):
    result = run_cli("measure", photos, "--stride", "2", "--baseline", "bilinear", "--json")
    assert result.exit_code == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [Path(r["input"]).name for r in records] == ["chelsea.png", "gridded.png"]
    for record in records:
        assert {"input", "stride", "cb_rel", "tile_max", "checkerboard_energy", "baseline"} <= set(
            record
        )
        assert record["stride"] == [2, 2]
        assert set(record["baseline"]) == {"method", "cb_rel", "tile_max", "checkerboard_energy"}
    assert [r["verdict"] for r in records] == ["clean", "checkerboard"]
    photo = np.asarray(Image.open(photos / "chelsea.png").convert("RGB"))
    assert records[0]["checkerboard_energy"] == pytest.approx(_fft_energy(photo, 2), rel=1e-9)


def test_cli_without_baseline_gives_no_verdict(run_cli, photos):
    result = run_cli("measure", photos / "chelsea.png", "--stride", "2", "--json")
    assert result.exit_code == 0
    record = json.loads(result.stdout)
    assert record["baseline"] is None and record["verdict"] is None
    result = run_cli("measure", photos / "chelsea.png", "--stride", "2")
    assert "no verdict without --baseline" in result.stderr


def test_cli_bad_inputs(run_cli, photos, tmp_path):
    tiny = tmp_path / "tiny.png"
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tiny)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    result = run_cli(
        "measure", photos / "chelsea.png", tiny, broken, tmp_path / "missing.png", "--stride", "2"
    )
    assert result.exit_code == 1
    errors = result.stderr.strip().splitlines()
    errors = [e for e in errors if e.startswith("upsamp: error: ")]
    assert len(errors) == 3
    assert any("missing.png: no such file or folder" in e for e in errors)
    assert any("tiny.png" in e and "too small" in e for e in errors)
    assert any("broken.png" in e for e in errors)
    assert "chelsea.png" in result.stdout  # the good image is still measured
    result = run_cli("measure", photos)
    assert result.exit_code == 2 and "--stride" in result.stderr
    result = run_cli("measure", "--stride", "2")
    assert result.exit_code == 2


def test_cli_figures(run_cli, photos, tmp_path):
    figures = tmp_path / "figs"
    args = ("measure", photos, "--stride", "2", "--baseline", "bicubic", "--figures", figures)
    result = run_cli(*args)
    assert result.exit_code == 0, result.stderr
    names = sorted(p.name for p in figures.iterdir())
    assert names == ["photos__chelsea_measure.png", "photos__sub__gridded_measure.png"]
    with Image.open(figures / names[0]) as im:
        assert im.format == "PNG" and im.mode == "RGB" and im.size[0] > 500
    before = (figures / names[0]).read_bytes()
    result = run_cli(*args)  # nothing replaced without --overwrite, and nothing measured
    assert result.exit_code == 1 and "exists; use --overwrite" in result.stderr
    assert result.stdout == "" and (figures / names[0]).read_bytes() == before
    result = run_cli(*args, "--overwrite")
    assert result.exit_code == 0
    assert not [p for p in figures.iterdir() if p.name.startswith(".")]  # no temporary files
