"""``upsamp report`` with ``--groups``, ``--bias``, ``--layout``, ``--input-range`` and
``--linear``: the saved outputs against a round trip computed here (mean of each cell, the
textbook transposed convolution or bilinear interpolation, the sRGB formula)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from ..reference_impl import loop_bilinear, scatter_transconv

RNG = np.random.default_rng(12)
TAPS = np.array([0.25, 0.75, 0.75, 0.25])


def smooth_rgb(h: int = 24, w: int = 28) -> np.ndarray:
    """A uint8 RGB image with detail and values well inside 0..255 (nothing clips)."""
    y, x = np.mgrid[0:h, 0:w]
    base = 128 + 50 * np.sin(x / 3.0)[..., None] * np.cos(y / 4.0)[..., None]
    noise = RNG.integers(-20, 21, size=(h, w, 3))
    return np.clip(base + noise + np.array([0, 10, -10]), 0, 255).astype(np.uint8)


def mean_down(image: np.ndarray, s: int) -> np.ndarray:
    h, w, c = image.shape
    return image.astype(np.float64).reshape(h // s, s, w // s, s, c).mean(axis=(1, 3))


def stored(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.int64)


def saved(path) -> np.ndarray:
    return np.asarray(Image.open(path)).astype(np.int64)


@pytest.fixture
def photo(tmp_path):
    image = smooth_rgb()
    Image.fromarray(image).save(tmp_path / "photo.png")
    return image


def depthwise_torch_layout(scales=(1.0, 0.5, 2.0)) -> np.ndarray:
    """(C_in=3, C_out/groups=1, 4, 4): each channel its own (scaled) bilinear kernel."""
    k = np.outer(TAPS, TAPS)
    return np.stack([s * k[None] for s in scales])


def test_groups_bias_and_layout_give_the_textbook_transposed_convolution(run_cli, tmp_path, photo):
    w4 = depthwise_torch_layout()
    np.save(tmp_path / "dw.npy", w4)
    np.save(tmp_path / "dwk.npy", np.transpose(w4, (2, 3, 1, 0)))  # keras (kH, kW, C_out/g, C_in)
    bias = (3.0, -2.0, 5.0)
    common = ("--groups", "3", "--bias", "3,-2,5", "--json")
    torch_run = run_cli(
        "report", "photo.png", "--methods", "transconv:dw.npy", *common, "--save-outputs", "a"
    )
    assert torch_run.exit_code == 0, torch_run.output
    keras_run = run_cli(
        "report", "photo.png", "--methods", "transconv:dwk.npy", *common, "--layout", "keras",
        "--save-outputs", "b",
    )  # fmt: skip
    assert keras_run.exit_code == 0, keras_run.output
    expected = scatter_transconv(mean_down(photo, 2), w4, 2, groups=3, bias=bias)
    assert np.abs(saved(tmp_path / "a" / "transconv_dw.png") - stored(expected)).max() <= 1
    np.testing.assert_array_equal(
        saved(tmp_path / "b" / "transconv_dwk.png"), saved(tmp_path / "a" / "transconv_dw.png")
    )
    a, b = json.loads(torch_run.stdout), json.loads(keras_run.stdout)
    assert a["methods"][0]["psnr"] == pytest.approx(b["methods"][0]["psnr"])


def test_a_depthwise_kernel_without_groups_is_refused(run_cli, tmp_path, photo):
    np.save(tmp_path / "dw.npy", depthwise_torch_layout())
    result = run_cli("report", "photo.png", "--methods", "transconv:dw.npy")
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("upsamp: error: ") and "--groups" in lines[0]


def test_input_range_scales_the_bias_as_in_training(run_cli, tmp_path, photo):
    w4 = depthwise_torch_layout((1.0, 1.0, 1.0))
    np.save(tmp_path / "dw.npy", w4)
    result = run_cli(
        "report", "photo.png", "--methods", "transconv:dw.npy", "--groups", "3", "--bias",
        "0.02", "--input-range", "0..1", "--save-outputs", "out",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "0..255 to 0..1" in result.stderr
    # in 0..1 the bias is 0.02, i.e. 0.02·255 = 5.1 on the image's scale
    x = mean_down(photo, 2) / 255.0
    expected = scatter_transconv(x, w4, 2, groups=3, bias=(0.02,) * 3) * 255.0
    assert np.abs(saved(tmp_path / "out" / "transconv_dw.png") - stored(expected)).max() <= 1


def srgb_to_linear(v):
    v = np.asarray(v, dtype=np.float64) / 255.0
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(lin):
    lin = np.asarray(lin, dtype=np.float64)
    return 255.0 * np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)


def test_linear_runs_the_round_trip_in_linear_light(run_cli, tmp_path, photo):
    lin = run_cli(
        "report", "photo.png", "--methods", "bilinear", "--linear", "--json",
        "--save-outputs", "lin",
    )  # fmt: skip
    assert lin.exit_code == 0, lin.output
    plain = run_cli("report", "photo.png", "--methods", "bilinear", "--json")
    assert plain.exit_code == 0, plain.output
    h, w = photo.shape[:2]
    down = mean_down(srgb_to_linear(photo) * 255.0, 2) / 255.0
    expected = linear_to_srgb(loop_bilinear(down, h, w))
    assert np.abs(saved(tmp_path / "lin" / "bilinear.png") - stored(expected)).max() <= 1
    truth = photo.astype(np.float64)
    mse = np.mean((stored(expected) - truth) ** 2)
    doc = json.loads(lin.stdout)
    assert doc["methods"][0]["psnr"] == pytest.approx(10 * np.log10(255**2 / mse), abs=0.05)
    assert doc["methods"][0]["psnr"] != json.loads(plain.stdout)["methods"][0]["psnr"]
    assert "linear light" in lin.stderr


@pytest.mark.parametrize(
    "args, needle",
    [
        (("photo.png", "--methods", "bilinear", "--groups", "3"), "--groups"),
        (("photo.png", "--methods", "bilinear", "--bias", "0.5"), "--bias"),
        (("photo.png", "--methods", "nearest", "--input-range", "0..1"), "--input-range"),
        (("arr.npy", "--methods", "bilinear", "--linear"), "no sRGB transfer function"),
        (("alpha.png", "--methods", "bilinear", "--linear"), "--alpha separate"),
        (("photo.png", "--layout", "wrong"), "--layout"),
    ],
)
def test_options_that_cannot_apply_are_refused_in_one_line(run_cli, tmp_path, photo, args, needle):
    np.save(tmp_path / "arr.npy", RNG.random((24, 24)))
    rgba = np.dstack([photo, np.full(photo.shape[:2], 200, np.uint8)])
    Image.fromarray(rgba).save(tmp_path / "alpha.png")
    result = run_cli("report", *args)
    assert result.exit_code != 0
    assert "Traceback" not in result.output and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("upsamp: error: ") and needle in lines[0], result.stderr
    assert all(line.startswith("Try ") for line in lines[1:]), result.stderr
    assert not (tmp_path / "out").exists()


def test_linear_with_alpha_separate_reports_the_colour(run_cli, tmp_path, photo):
    rgba = np.dstack([photo, np.full(photo.shape[:2], 200, np.uint8)])
    Image.fromarray(rgba).save(tmp_path / "alpha.png")
    result = run_cli(
        "report", "alpha.png", "--methods", "bilinear", "--linear", "--alpha", "separate",
        "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["methods"][0]["psnr"] is not None
