"""``upsamp enlarge`` through Click's CliRunner (and, once, as a real process).

Covers the seeds' worked examples with ``.npy`` files and ``--show``, the default transconv run,
every method on L/RGB/RGBA images, ``--json``, the geometry options, kernel files and their
overrides, the clipping warning, and image handling (16-bit, palette, EXIF, ICC, DPI).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import upsamp
from upsamp.kernels import preset, same_size_geometry

REPO_ROOT = Path(__file__).resolve().parents[2]
ALL_METHODS = ("nearest", "bilinear", "bed-of-nails", "max-unpool", "transconv")


# ------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------


def shown_tables(stdout: str) -> dict[str, np.ndarray]:
    """Parse the Rich tables ``--show`` prints: ``{"<title>": array}``.

    A title line such as ``output 3×3`` is followed by a boxed table whose data rows are
    ``│ 5 │ 15 │ 10 │``.
    """
    tables: dict[str, np.ndarray] = {}
    title = None
    rows: list[list[float]] = []
    for line in stdout.splitlines():
        text = line.strip()
        if not text:
            continue
        if "│" in text:
            cells = [c.strip() for c in text.strip("│").split("│")]
            rows.append([float(c) for c in cells])
        elif text[0] in "┌├┏┡╭":
            continue
        elif text[0] in "└╰┗":
            assert title is not None, stdout
            tables[title] = np.array(rows)
            title, rows = None, []
        else:
            title = re.sub(r"\s+\d+×\d+$", "", text)
    return tables


def save_npy(path: Path, values) -> Path:
    np.save(path, np.asarray(values, dtype=np.float64))
    return path


def read_image(path: Path) -> tuple[np.ndarray, str]:
    with Image.open(path) as im:
        return np.array(im), im.mode


def assert_ok(result) -> None:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)


# ------------------------------------------------------------------------------------------
# The seeds' worked examples, from the shell with .npy files
# ------------------------------------------------------------------------------------------

X = [[1.0, 2.0], [3.0, 4.0]]


def test_seed_transconv_fives(run_cli, tmp_path):
    save_npy(tmp_path / "x.npy", X)
    save_npy(tmp_path / "fives.npy", np.full((2, 2), 5.0))
    result = run_cli(
        "enlarge", "x.npy", "--method", "transconv", "--kernel", "fives.npy", "--stride", "1",
        "-o", "y.npy", "--show",
    )
    assert_ok(result)
    expected = np.array([[5, 15, 10], [20, 50, 30], [15, 35, 20]], dtype=np.float64)
    y = np.load(tmp_path / "y.npy")
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, expected)
    tables = shown_tables(result.stdout)
    np.testing.assert_array_equal(tables["input"], np.array(X))
    np.testing.assert_array_equal(tables["output"], expected)


def test_seed_nearest(run_cli, tmp_path):
    save_npy(tmp_path / "x.npy", X)
    result = run_cli("enlarge", "x.npy", "--method", "nearest", "--stride", "2", "-o", "n.npy",
                     "--show")
    assert_ok(result)
    expected = np.array([[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]], dtype=float)
    np.testing.assert_array_equal(np.load(tmp_path / "n.npy"), expected)
    np.testing.assert_array_equal(shown_tables(result.stdout)["output"], expected)


def test_seed_bed_of_nails(run_cli, tmp_path):
    save_npy(tmp_path / "x.npy", X)
    result = run_cli("enlarge", "x.npy", "--method", "bed-of-nails", "--stride", "2", "-o",
                     "b.npy", "--show")
    assert_ok(result)
    expected = np.array([[1, 0, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]], dtype=float)
    np.testing.assert_array_equal(np.load(tmp_path / "b.npy"), expected)
    np.testing.assert_array_equal(shown_tables(result.stdout)["output"], expected)


def test_seed_bilinear_table_is_floor_of_exact_result(run_cli, tmp_path):
    save_npy(tmp_path / "t.npy", [[10.0, 20.0], [30.0, 40.0]])
    result = run_cli("enlarge", "t.npy", "--method", "bilinear", "--stride", "2", "-o", "tb.npy",
                     "--show")
    assert_ok(result)
    seed_table = np.array(
        [[10, 12, 17, 20], [15, 17, 22, 25], [25, 27, 32, 35], [30, 32, 37, 40]], dtype=float
    )
    exact = np.load(tmp_path / "tb.npy")
    np.testing.assert_array_equal(np.floor(exact), seed_table)
    assert exact[0, 1] == 12.5 and exact[0, 2] == 17.5  # the exact half-pixel values
    shown = shown_tables(result.stdout)["output"]
    np.testing.assert_array_equal(shown, exact)


def test_seed_max_unpool_round_trip(run_cli, tmp_path):
    m = [[1, 2, 4, 1], [3, 4, 2, 3], [1, 4, 1, 2], [2, 3, 4, 3]]
    save_npy(tmp_path / "m.npy", m)
    save_npy(tmp_path / "x.npy", X)
    pooled = run_cli("pool", "m.npy", "-o", "p.npy", "--stride", "2", "--indices-out", "idx.npz")
    assert_ok(pooled)
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), [[4, 4], [4, 4]])
    with np.load(tmp_path / "idx.npz") as data:
        # the seed's flat positions 5, 2, 9, 14 as offsets (h % 2) * 2 + (w % 2) in their windows
        assert str(data["format"]) == "window-offsets"
        np.testing.assert_array_equal(data["offsets"].reshape(2, 2), [[3, 0], [1, 2]])
    result = run_cli("enlarge", "x.npy", "--method", "max-unpool", "--indices", "idx.npz",
                     "-o", "u.npy", "--show")
    assert_ok(result)
    expected = np.array([[0, 0, 2, 0], [0, 1, 0, 0], [0, 3, 0, 0], [0, 0, 4, 0]], dtype=float)
    np.testing.assert_array_equal(np.load(tmp_path / "u.npy"), expected)
    np.testing.assert_array_equal(shown_tables(result.stdout)["output"], expected)


def test_show_skips_large_arrays_with_a_note_on_stderr(run_cli, tmp_path):
    save_npy(tmp_path / "big.npy", np.arange(20 * 20).reshape(20, 20))
    result = run_cli("enlarge", "big.npy", "-m", "nearest", "-o", "o.npy", "--show")
    assert_ok(result)
    assert "│" not in result.stdout
    assert "16×16" in result.stderr


# ------------------------------------------------------------------------------------------
# The main job: `upsamp enlarge in.png --method transconv --stride 2`
# ------------------------------------------------------------------------------------------


def test_transconv_stride2_just_works_on_a_photo(run_cli, tmp_path, sample_dir):
    pics = tmp_path / "pics"
    pics.mkdir()
    src = pics / "in.png"
    shutil.copy(sample_dir / "chelsea.png", src)
    result = run_cli("enlarge", src, "--method", "transconv", "--stride", "2")
    assert_ok(result)
    out = pics / "in_transconvx2.png"
    assert out.is_file(), sorted(p.name for p in pics.iterdir())
    assert not (tmp_path / "in_transconvx2.png").exists()  # next to the input, not the cwd
    original, _ = read_image(src)
    enlarged, mode = read_image(out)
    assert mode == "RGB"
    assert enlarged.shape == (original.shape[0] * 2, original.shape[1] * 2, 3)
    reference = np.clip(np.rint(upsamp.bilinear(original.astype(np.float64), 2)), 0, 255)
    assert np.abs(enlarged.astype(int) - reference.astype(int)).max() <= 1


def test_transconv_default_keeps_flat_regions_flat_up_to_the_border(run_cli, tmp_path):
    arr = np.full((12, 16), 60, dtype=np.uint8)
    arr[:, 8:] = 200
    Image.fromarray(arr).save(tmp_path / "flat.png")
    result = run_cli("enlarge", "flat.png", "--method", "transconv", "--stride", "2")
    assert_ok(result)
    out, mode = read_image(tmp_path / "flat_transconvx2.png")
    assert mode == "L" and out.shape == (24, 32)
    # far from the step edge every value keeps its level, borders included (no dark frame)
    assert np.all(out[:, :14] == 60)
    assert np.all(out[:, 18:] == 200)


# ------------------------------------------------------------------------------------------
# Every method on L, RGB and RGBA images
# ------------------------------------------------------------------------------------------


def _enlarge_args(method: str, image: Path, tmp_path: Path, out: Path) -> list[str]:
    args = ["enlarge", str(image), "--method", method, "-o", str(out)]
    if method == "max-unpool":
        # a guide at the output size gives the positions (pooled-from image of the same mode)
        with Image.open(image) as im:
            mode, (w, h) = im.mode, im.size
        channels = len(mode)
        rng = np.random.default_rng(7)
        shape = (2 * h, 2 * w) if channels == 1 else (2 * h, 2 * w, channels)
        guide_arr = rng.integers(0, 256, size=shape, dtype=np.uint8)
        if mode == "RGBA":
            guide_arr[:, :, 3] = rng.integers(1, 256, size=(2 * h, 2 * w), dtype=np.uint8)
        guide = tmp_path / f"guide_{image.stem}.png"
        Image.fromarray(guide_arr).save(guide)
        args += ["--guide", str(guide)]
    else:
        args += ["--stride", "2"]
    return args


@pytest.mark.parametrize("method", ALL_METHODS)
@pytest.mark.parametrize("kind", ["small_l", "small_rgb", "small_rgba"])
def test_every_method_keeps_mode_and_doubles_size(run_cli, tmp_path, request, method, kind):
    image: Path = request.getfixturevalue(kind)
    out = tmp_path / f"out_{kind}_{method}.png"
    result = run_cli(*_enlarge_args(method, image, tmp_path, out))
    assert_ok(result)
    with Image.open(image) as src, Image.open(out) as dst:
        assert dst.mode == src.mode
        assert dst.size == (src.size[0] * 2, src.size[1] * 2)


@pytest.mark.parametrize("method", ALL_METHODS)
def test_alpha_survives_and_is_not_mixed_into_colour(run_cli, tmp_path, small_rgba, method):
    rgba, _ = read_image(small_rgba)
    rgb_path = tmp_path / "same_colour.png"
    Image.fromarray(np.ascontiguousarray(rgba[:, :, :3])).save(rgb_path)

    out_a = tmp_path / "a.png"
    out_b = tmp_path / "b.png"
    # --alpha separate: alpha goes through on its own (premultiplied colour is tested in
    # test_enlarge_images.py)
    assert_ok(run_cli(*_enlarge_args(method, small_rgba, tmp_path, out_a), "--alpha", "separate"))
    args_b = _enlarge_args(method, rgb_path, tmp_path, out_b)
    if method == "max-unpool":  # same positions: the RGBA guide's colour channels
        guide_rgba = tmp_path / f"guide_{small_rgba.stem}.png"
        guide_rgb = tmp_path / "guide_rgb_only.png"
        with Image.open(guide_rgba) as g:
            g.convert("RGB").save(guide_rgb)
        args_b[args_b.index("--guide") + 1] = str(guide_rgb)
    assert_ok(run_cli(*args_b))
    a, mode_a = read_image(out_a)
    b, mode_b = read_image(out_b)
    assert (mode_a, mode_b) == ("RGBA", "RGB")
    np.testing.assert_array_equal(a[:, :, :3], b)  # colour does not depend on alpha

    alpha_in = rgba[:, :, 3]
    alpha = a[:, :, 3]
    assert np.all(alpha[:10, :10] == 0)  # the transparent block stays transparent
    if method in ("nearest", "bilinear", "transconv"):
        assert np.all(alpha[14:, :] == 255)  # opaque stays fully opaque
        assert np.all(alpha[:, 14:] == 255)
    elif method == "bed-of-nails":
        np.testing.assert_array_equal(alpha[::2, ::2], alpha_in)
        assert np.all(alpha[1::2, :] == 0) and np.all(alpha[:, 1::2] == 0)
    else:  # max-unpool: each alpha value at one position of its window, zeros elsewhere
        assert np.count_nonzero(alpha == 255) == np.count_nonzero(alpha_in == 255)
        assert set(np.unique(alpha)) <= {0, 255}


def test_fully_opaque_rgba_stays_opaque_with_transconv(run_cli, tmp_path):
    arr = np.random.default_rng(5).integers(0, 256, size=(9, 11, 4), dtype=np.uint8)
    arr[:, :, 3] = 255
    Image.fromarray(arr).save(tmp_path / "opaque.png")
    for kernel in ("bilinear", "bicubic", "gaussian", "nearest"):
        out = tmp_path / f"o_{kernel}.png"
        assert_ok(run_cli("enlarge", "opaque.png", "-m", "transconv", "-k", kernel, "-o", out))
        alpha = read_image(out)[0][:, :, 3]
        assert np.all(alpha == 255), kernel


# ------------------------------------------------------------------------------------------
# --json and the split of stdout / stderr
# ------------------------------------------------------------------------------------------

JSON_KEYS = {
    "input", "output", "method", "parameters", "input_shape", "output_shape",
    "frames", "input_frames", "encoder", "notes", "clipped_fraction", "seconds",
}


def test_json_is_one_object_on_stdout(run_cli, tmp_path, small_rgb):
    result = run_cli("enlarge", small_rgb, "-m", "transconv", "--stride", "2", "-o", "o.png",
                     "--json")
    assert_ok(result)
    lines = [ln for ln in result.stdout.splitlines() if ln.strip()]
    assert len(lines) == 1
    doc = json.loads(lines[0])
    assert set(doc) == JSON_KEYS
    assert doc["input"] == str(small_rgb)
    assert Path(doc["output"]).name == "o.png"
    assert doc["method"] == "transconv"
    assert doc["input_shape"][:2] == [8, 10]
    assert doc["output_shape"][:2] == [16, 20]
    assert doc["parameters"]["stride"] == [2, 2]
    assert doc["parameters"]["kernel"]["name"] == "bilinear"
    assert doc["clipped_fraction"] == 0.0
    assert isinstance(doc["seconds"], float) and doc["seconds"] >= 0
    assert "{" not in result.stderr


def test_human_message_goes_to_stderr_not_stdout(run_cli, small_rgb):
    result = run_cli("enlarge", small_rgb, "-m", "nearest", "-o", "o.png")
    assert_ok(result)
    assert result.stdout == ""
    assert "o.png" in result.stderr


def test_json_with_a_warning_keeps_stdout_clean(run_cli, tmp_path, small_l):
    save_npy(tmp_path / "tens.npy", np.full((2, 2), 10.0))
    result = run_cli("enlarge", small_l, "-m", "transconv", "-k", "tens.npy", "--stride", "2",
                     "-o", "o.png", "--json")
    assert_ok(result)
    doc = json.loads(result.stdout)
    assert doc["clipped_fraction"] > 0.001
    assert "--normalize" in result.stderr


# ------------------------------------------------------------------------------------------
# --scale, --size, --align-corners and options that do not apply
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["nearest", "bilinear"])
def test_scale_1_5(run_cli, tmp_path, small_rgb, method):
    result = run_cli("enlarge", small_rgb, "-m", method, "--scale", "1.5")
    assert_ok(result)
    out = tmp_path / f"small_rgb_{method}x1.5.png"
    with Image.open(out) as im:
        assert im.size == (15, 12)


@pytest.mark.parametrize("method", ["nearest", "bilinear"])
def test_size_is_width_by_height(run_cli, tmp_path, small_rgb, method):
    result = run_cli("enlarge", small_rgb, "-m", method, "--size", "30x20!", "-o", "o.png")
    assert_ok(result)
    with Image.open(tmp_path / "o.png") as im:
        assert im.size == (30, 20)  # PIL size is (width, height)


def test_size_values_match_the_api(run_cli, tmp_path):
    x = np.random.default_rng(3).random((4, 6))
    save_npy(tmp_path / "x.npy", x)
    assert_ok(run_cli("enlarge", "x.npy", "-m", "bilinear", "--size", "9x7!", "-o", "y.npy"))
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), upsamp.bilinear(x, size=(7, 9)))


def test_align_corners(run_cli, tmp_path):
    x = np.random.default_rng(4).random((3, 5))
    save_npy(tmp_path / "x.npy", x)
    assert_ok(run_cli("enlarge", "x.npy", "-m", "bilinear", "--align-corners", "-o", "ac.npy"))
    assert_ok(run_cli("enlarge", "x.npy", "-m", "bilinear", "-o", "hp.npy"))
    ac = np.load(tmp_path / "ac.npy")
    np.testing.assert_allclose(ac, upsamp.bilinear(x, 2, align_corners=True))
    np.testing.assert_allclose(ac[0, 0], x[0, 0])
    np.testing.assert_allclose(ac[-1, -1], x[-1, -1])
    assert not np.allclose(ac, np.load(tmp_path / "hp.npy"))


@pytest.mark.parametrize(
    "args, flag",
    [
        (["-m", "nearest", "--kernel", "bilinear"], "--kernel"),
        (["-m", "bilinear", "--padding", "1"], "--padding"),
        (["-m", "nearest", "--align-corners"], "--align-corners"),
        (["-m", "transconv", "--scale", "1.5"], "--scale"),
        (["-m", "bed-of-nails", "--size", "20x16"], "--size"),
        (["-m", "nearest", "--normalize"], "--normalize"),
        (["-m", "bilinear", "--edge", "replicate"], "--edge"),
        (["-m", "transconv", "--guide", "small_rgb.png"], "--guide"),
    ],
)
def test_option_that_does_not_apply_is_a_usage_error(run_cli, tmp_path, small_rgb, args, flag,
                                                     listing):
    before = listing(tmp_path)
    result = run_cli("enlarge", small_rgb, *args)
    assert result.exit_code == 2
    assert result.stderr.startswith("upsamp: error: ")
    assert flag in result.stderr.splitlines()[0]
    assert result.stdout == ""
    assert listing(tmp_path) == before


def test_scale_and_size_together_is_a_usage_error(run_cli, tmp_path, small_rgb, listing):
    before = listing(tmp_path)
    result = run_cli("enlarge", small_rgb, "-m", "bilinear", "--scale", "2", "--size", "20x16")
    assert result.exit_code == 2
    assert "--scale" in result.stderr and "--size" in result.stderr
    assert listing(tmp_path) == before


# ------------------------------------------------------------------------------------------
# Kernel files, overrides, --padding same, --normalize, --edge
# ------------------------------------------------------------------------------------------


def test_npy_kernel_file(run_cli, tmp_path):
    rng = np.random.default_rng(11)
    x = rng.random((5, 6))
    w = rng.random((3, 3))
    save_npy(tmp_path / "x.npy", x)
    save_npy(tmp_path / "k.npy", w)
    assert_ok(run_cli("enlarge", "x.npy", "-m", "transconv", "-k", "k.npy", "--stride", "2",
                      "-o", "y.npy"))
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), upsamp.transconv(x, w, stride=2))


def test_npy_kernel_file_without_stride_is_used_at_stride_2(run_cli, tmp_path):
    x = np.random.default_rng(12).random((4, 4))
    save_npy(tmp_path / "x.npy", x)
    save_npy(tmp_path / "k.npy", np.ones((2, 2)))
    result = run_cli("enlarge", "x.npy", "-m", "transconv", "-k", "k.npy")
    assert_ok(result)
    y = np.load(tmp_path / "x_transconvx2.npy")
    np.testing.assert_allclose(y, upsamp.nearest(x, 2))


def _json_kernel(tmp_path: Path) -> tuple[Path, np.ndarray]:
    w = np.random.default_rng(13).random((3, 3))
    doc = {
        "weight": w.tolist(), "stride": 2, "padding": 1, "output_padding": [1, 1],
        "bias": [0.25], "edge": "replicate",
    }
    path = tmp_path / "k.json"
    path.write_text(json.dumps(doc))
    return path, w


def test_json_kernel_object_with_geometry_bias_and_edge(run_cli, tmp_path):
    _, w = _json_kernel(tmp_path)
    x = np.random.default_rng(14).random((5, 4))
    save_npy(tmp_path / "x.npy", x)
    result = run_cli("enlarge", "x.npy", "-m", "transconv", "-k", "k.json", "-o", "y.npy",
                     "--json")
    assert_ok(result)
    expected = upsamp.transconv(x, w, stride=2, padding=1, output_padding=1,
                                bias=np.array([0.25]), edge="replicate")
    y = np.load(tmp_path / "y.npy")
    assert y.shape == (10, 8)
    np.testing.assert_allclose(y, expected)
    kernel = json.loads(result.stdout)["parameters"]["kernel"]
    assert kernel["stride"] == [2, 2] and kernel["padding"] == [1, 1]
    assert kernel["edge"] == "replicate" and kernel["bias"] == [0.25]


def test_flags_override_the_kernel_file(run_cli, tmp_path):
    _, w = _json_kernel(tmp_path)
    x = np.random.default_rng(15).random((5, 4))
    save_npy(tmp_path / "x.npy", x)
    result = run_cli("enlarge", "x.npy", "-m", "transconv", "-k", "k.json", "--stride", "3",
                     "--padding", "0", "--output-padding", "0", "--edge", "zero", "-o", "y.npy")
    assert_ok(result)
    expected = upsamp.transconv(x, w, stride=3, bias=np.array([0.25]), edge="zero")
    y = np.load(tmp_path / "y.npy")
    assert y.shape == ((5 - 1) * 3 + 3, (4 - 1) * 3 + 3)
    np.testing.assert_allclose(y, expected)


def test_dilation_flag(run_cli, tmp_path):
    x = np.random.default_rng(16).random((4, 4))
    w = np.random.default_rng(17).random((2, 2))
    save_npy(tmp_path / "x.npy", x)
    save_npy(tmp_path / "k.npy", w)
    assert_ok(run_cli("enlarge", "x.npy", "-m", "transconv", "-k", "k.npy", "--stride", "2",
                      "--dilation", "2", "-o", "y.npy"))
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"),
                               upsamp.transconv(x, w, stride=2, dilation=2))


@pytest.mark.parametrize("k, s", [(3, 2), (4, 2), (5, 3), (2, 2), (7, 4)])
def test_padding_same_enlarges_by_exactly_the_stride(run_cli, tmp_path, k, s):
    x = np.random.default_rng(18).random((5, 7))
    w = np.random.default_rng(19).random((k, k))
    save_npy(tmp_path / "x.npy", x)
    save_npy(tmp_path / "k.npy", w)
    result = run_cli("enlarge", "x.npy", "-m", "transconv", "-k", "k.npy", "--stride", s,
                     "--padding", "same", "-o", "y.npy")
    assert_ok(result)
    y = np.load(tmp_path / "y.npy")
    assert y.shape == (5 * s, 7 * s)
    p, op = same_size_geometry(k, s)
    np.testing.assert_allclose(y, upsamp.transconv(x, w, stride=s, padding=p, output_padding=op))


def _flat_png(tmp_path: Path, level: int = 100, shape=(16, 16)) -> Path:
    path = tmp_path / "flat.png"
    Image.fromarray(np.full(shape, level, dtype=np.uint8)).save(path)
    return path


def test_normalize_keeps_a_flat_image_level(run_cli, tmp_path):
    _flat_png(tmp_path)
    save_npy(tmp_path / "ones.npy", np.ones((3, 3)))
    common = ["enlarge", "flat.png", "-m", "transconv", "-k", "ones.npy", "--stride", "2",
              "--padding", "same", "--edge", "replicate"]
    assert_ok(run_cli(*common, "-o", "raw.npy"))
    assert_ok(run_cli(*common, "--normalize", "-o", "norm.npy"))
    raw = np.load(tmp_path / "raw.npy")
    norm = np.load(tmp_path / "norm.npy")
    assert raw.shape == norm.shape == (32, 32)
    assert raw.mean() == pytest.approx(100 * 9 / 4, rel=1e-4)  # mean phase sum 9/4
    assert norm.mean() == pytest.approx(100, rel=1e-4)


def test_normalize_with_checkerboard_preset_keeps_the_level_on_average(run_cli, tmp_path):
    _flat_png(tmp_path)
    result = run_cli("enlarge", "flat.png", "-m", "transconv", "-k", "checkerboard",
                     "--stride", "2", "--normalize", "-o", "c.npy")
    assert_ok(result)
    y = np.load(tmp_path / "c.npy")
    assert y.shape == (32, 32)
    assert y.mean() == pytest.approx(100, rel=0.01)
    assert y.std() > 1  # the checkerboard pattern itself: uneven overlap makes a grid
    assert "warning" not in result.stderr


def test_edge_zero_darkens_borders_replicate_and_reflect_do_not(run_cli, tmp_path):
    _flat_png(tmp_path)
    outs = {}
    for edge in ("zero", "replicate", "reflect"):
        assert_ok(run_cli("enlarge", "flat.png", "-m", "transconv", "-k", "bilinear",
                          "--edge", edge, "-o", f"{edge}.npy"))
        outs[edge] = np.load(tmp_path / f"{edge}.npy")
    assert outs["zero"][0, 0] < 90 and outs["zero"][-1, -1] < 90
    np.testing.assert_allclose(outs["zero"][4:-4, 4:-4], 100)
    np.testing.assert_allclose(outs["replicate"], 100)
    np.testing.assert_allclose(outs["reflect"], 100)


def test_edge_from_the_json_file_is_used_and_flag_overrides_it(run_cli, tmp_path):
    _flat_png(tmp_path)
    (tmp_path / "k.json").write_text(json.dumps(
        {"weight": preset("bilinear", 2).weight.tolist(), "stride": 2, "padding": 1,
         "edge": "replicate"}))
    assert_ok(run_cli("enlarge", "flat.png", "-m", "transconv", "-k", "k.json", "-o", "f.npy"))
    np.testing.assert_allclose(np.load(tmp_path / "f.npy"), 100)
    assert_ok(run_cli("enlarge", "flat.png", "-m", "transconv", "-k", "k.json", "--edge", "zero",
                      "-o", "z.npy"))
    assert np.load(tmp_path / "z.npy")[0, 0] < 90


# ------------------------------------------------------------------------------------------
# Clipping warning and --range rescale
# ------------------------------------------------------------------------------------------


def test_clipping_warning_names_the_remedies(run_cli, tmp_path, small_l):
    save_npy(tmp_path / "tens.npy", np.full((2, 2), 10.0))
    result = run_cli("enlarge", small_l, "-m", "transconv", "-k", "tens.npy", "--stride", "2",
                     "-o", "o.png")
    assert_ok(result)
    assert "warning" in result.stderr.lower()
    assert "--normalize" in result.stderr
    assert "--range rescale" in result.stderr
    assert result.stdout == ""


def test_clipping_after_a_preset_does_not_suggest_normalize(run_cli, tmp_path):
    """The checkerboard preset is normalised already (mean phase sum 1) yet its heavy phase
    clips a white image: --normalize would change nothing, so only --range rescale is named."""
    Image.fromarray(np.full((12, 12), 255, np.uint8)).save(tmp_path / "white.png")
    result = run_cli("enlarge", "white.png", "-m", "transconv", "-k", "checkerboard", "-o",
                     "o.png")
    assert_ok(result)
    assert "clipped" in result.stderr and "--range rescale" in result.stderr
    assert "--normalize" not in result.stderr


def test_range_rescale_removes_the_warning_and_keeps_values_in_range(run_cli, tmp_path, small_l):
    save_npy(tmp_path / "tens.npy", np.full((2, 2), 10.0))
    common = ["enlarge", small_l, "-m", "transconv", "-k", "tens.npy", "--stride", "2"]
    result = run_cli(*common, "--range", "rescale", "-o", "o.png")
    assert_ok(result)
    assert "warning" not in result.stderr.lower()
    assert_ok(run_cli(*common, "-o", "exact.npy"))
    exact = np.load(tmp_path / "exact.npy")
    out, mode = read_image(tmp_path / "o.png")
    assert mode == "L"
    # the result's range [0, max] is mapped linearly onto [0, 255]
    expected = np.rint(exact * (255.0 / max(255.0, exact.max())))
    np.testing.assert_allclose(out, expected, atol=1)
    assert out.max() == 255 and len(np.unique(out)) > 40  # not saturated


def test_clipping_warning_threshold_is_0_1_percent(run_cli, tmp_path):
    save_npy(tmp_path / "k.npy", np.full((2, 2), 1.01))
    few = np.zeros((40, 40), dtype=np.uint8)
    few[5, 5] = 255  # 4 of 6400 outputs clipped: 0.0625 %
    Image.fromarray(few).save(tmp_path / "few.png")
    many = few.copy()
    many[20, 20] = 255  # 8 of 6400: 0.125 %
    Image.fromarray(many).save(tmp_path / "many.png")
    r1 = run_cli("enlarge", "few.png", "-m", "transconv", "-k", "k.npy", "-o", "a.png")
    r2 = run_cli("enlarge", "many.png", "-m", "transconv", "-k", "k.npy", "-o", "b.png")
    assert_ok(r1)
    assert_ok(r2)
    assert "--normalize" not in r1.stderr
    assert "--normalize" in r2.stderr


# ------------------------------------------------------------------------------------------
# Image handling through the command line
# ------------------------------------------------------------------------------------------


def test_16bit_grayscale_stays_16bit(run_cli, tmp_path):
    arr = np.random.default_rng(21).integers(0, 65536, size=(6, 8), dtype=np.uint16)
    arr[0, 0] = 65535
    arr[0, 1] = 257  # not a multiple of 256: lost if reduced to 8 bits
    Image.fromarray(arr).save(tmp_path / "g16.png")
    assert_ok(run_cli("enlarge", "g16.png", "-m", "nearest", "-o", "o.png"))
    with Image.open(tmp_path / "o.png") as im:
        assert im.mode == "I;16"
        out = np.array(im)
    np.testing.assert_array_equal(out, np.repeat(np.repeat(arr, 2, 0), 2, 1))
    assert_ok(run_cli("enlarge", "g16.png", "-m", "transconv", "-o", "t.png"))
    with Image.open(tmp_path / "t.png") as im:
        assert im.mode == "I;16"
        t = np.array(im).astype(np.float64)
    ref = np.clip(np.rint(upsamp.bilinear(arr.astype(np.float64), 2)), 0, 65535)
    assert np.abs(t - ref).max() <= 1
    assert t.max() > 255


def test_palette_with_transparency_becomes_rgba(run_cli, tmp_path):
    p = Image.new("P", (8, 6))
    p.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    p.putdata([0, 1] * 24)  # alternating red / (transparent) blue
    p.save(tmp_path / "pal.png", transparency=1)
    assert_ok(run_cli("enlarge", "pal.png", "-m", "nearest", "-o", "o.png"))
    out, mode = read_image(tmp_path / "o.png")
    assert mode == "RGBA" and out.shape == (12, 16, 4)
    np.testing.assert_array_equal(out[0, 0], [255, 0, 0, 255])
    np.testing.assert_array_equal(out[0, 2], [0, 0, 255, 0])


def test_exif_rotated_jpeg_comes_out_upright(run_cli, tmp_path):
    stored = np.zeros((20, 40, 3), dtype=np.uint8)  # stored 40 wide, 20 high
    stored[:, :20] = (250, 250, 250)  # left half bright
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    Image.fromarray(stored).save(tmp_path / "rot.jpg", exif=exif.tobytes(), quality=95)
    assert_ok(run_cli("enlarge", "rot.jpg", "-m", "nearest", "-o", "o.png"))
    assert_ok(run_cli("enlarge", "rot.jpg", "-m", "nearest", "-o", "o.jpg"))
    with Image.open(tmp_path / "o.png") as im:
        assert im.size == (40, 80)  # upright: 20 wide, 40 high, doubled
        upright = np.array(im)
    # orientation 6: the stored left half becomes the displayed top half
    assert upright[:30].mean() > 200 and upright[50:].mean() < 50
    with Image.open(tmp_path / "o.jpg") as im:
        assert im.size == (40, 80)
        assert im.getexif().get(0x0112, 1) == 1  # not rotated a second time by viewers


def test_icc_profile_is_kept(run_cli, tmp_path, sample_dir):
    src = sample_dir / "chelsea.png"
    with Image.open(src) as im:
        icc = im.info.get("icc_profile")
    assert icc
    for method in ("nearest", "transconv"):
        out = tmp_path / f"c_{method}.png"
        assert_ok(run_cli("enlarge", src, "-m", method, "-o", out))
        with Image.open(out) as im:
            assert im.info.get("icc_profile") == icc
    assert_ok(run_cli("enlarge", src, "-m", "nearest", "-o", "c.jpg"))
    with Image.open(tmp_path / "c.jpg") as im:
        assert im.info.get("icc_profile") == icc


def test_dpi_is_carried(run_cli, tmp_path):
    Image.fromarray(np.zeros((6, 8), dtype=np.uint8)).save(tmp_path / "d.png", dpi=(300, 150))
    with Image.open(tmp_path / "d.png") as im:
        dpi_in = im.info["dpi"]
    assert_ok(run_cli("enlarge", "d.png", "-m", "nearest", "-o", "o.png"))
    with Image.open(tmp_path / "o.png") as im:
        assert im.info.get("dpi") == pytest.approx(dpi_in, abs=0.01)
    assert_ok(run_cli("enlarge", "d.png", "-m", "nearest", "-o", "o.tif"))
    with Image.open(tmp_path / "o.tif") as im:
        assert tuple(float(v) for v in im.info.get("dpi")) == pytest.approx(dpi_in, abs=0.01)


def test_npy_output_keeps_exact_float_values(run_cli, tmp_path, small_l):
    save_npy(tmp_path / "tens.npy", np.full((2, 2), 10.0))
    assert_ok(run_cli("enlarge", small_l, "-m", "transconv", "-k", "tens.npy", "-o", "y.npy"))
    y = np.load(tmp_path / "y.npy")
    src, _ = read_image(small_l)
    assert y.dtype == np.float32  # uint8 input: float32 results, not rescaled
    np.testing.assert_allclose(y, np.repeat(np.repeat(src * 10.0, 2, 0), 2, 1))
    assert y.max() > 255


def test_npy_output_of_rgba_appends_alpha(run_cli, tmp_path, small_rgba):
    assert_ok(run_cli("enlarge", small_rgba, "-m", "nearest", "-o", "y.npy"))
    y = np.load(tmp_path / "y.npy")
    src, _ = read_image(small_rgba)
    assert y.shape == (20, 24, 4)
    np.testing.assert_array_equal(y, np.repeat(np.repeat(src, 2, 0), 2, 1).astype(y.dtype))


# ------------------------------------------------------------------------------------------
# Default output names
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, name",
    [
        (["-m", "nearest", "--stride", "4"], "small_rgb_nearestx4.png"),
        (["-m", "bilinear"], "small_rgb_bilinearx2.png"),
        (["-m", "bed-of-nails", "--stride", "2,3"], "small_rgb_bed-of-nailsx2x3.png"),
        (["-m", "bilinear", "--scale", "1.5"], "small_rgb_bilinearx1.5.png"),
        (["-m", "nearest", "--size", "30x20!"], "small_rgb_nearest_30x20.png"),
        (["-m", "nearest", "--size", "30x20"], "small_rgb_nearest_25x20.png"),
        (["-m", "transconv", "--stride", "3"], "small_rgb_transconvx3.png"),
    ],
)
def test_default_output_name(run_cli, tmp_path, small_rgb, args, name):
    assert_ok(run_cli("enlarge", small_rgb, *args))
    assert (tmp_path / name).is_file(), sorted(p.name for p in tmp_path.iterdir())


# ------------------------------------------------------------------------------------------
# The command as a real process
# ------------------------------------------------------------------------------------------


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_python_dash_m_upsamp_in_a_subprocess(tmp_path, small_rgb):
    proc = subprocess.run(
        [sys.executable, "-m", "upsamp", "enlarge", str(small_rgb), "--method", "transconv",
         "--stride", "2", "--json"],
        capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    out = tmp_path / "small_rgb_transconvx2.png"
    assert Path(doc["output"]) == out
    with Image.open(out) as im:
        assert im.size == (20, 16) and im.mode == "RGB"


def test_python_dash_m_upsamp_error_in_a_subprocess(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "upsamp", "enlarge", "missing.png"],
        capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=120,
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("upsamp: error: ")
    assert "missing.png" in lines[0]


def test_installed_upsamp_command(tmp_path, small_l):
    exe = shutil.which("upsamp")
    if exe is None:
        pytest.skip("the upsamp console script is not on PATH (package not pip-installed)")
    proc = subprocess.run(
        [exe, "enlarge", str(small_l), "--method", "nearest", "-o", "o.png"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    with Image.open(tmp_path / "o.png") as im:
        assert im.size == (18, 14)


def test_version_option(run_cli):
    result = run_cli("--version")
    assert result.exit_code == 0, result.output
    assert upsamp.__version__ in result.stdout


def test_show_prints_a_16x16_result_readably_in_an_80_column_terminal(run_cli, tmp_path,
                                                                      monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    x = np.random.default_rng(8).random((8, 8)).round(2)
    save_npy(tmp_path / "x.npy", x)
    result = run_cli("enlarge", "x.npy", "-m", "bilinear", "-o", "y.npy", "--show")
    assert_ok(result)
    assert "…" not in result.stdout, result.stdout
    shown = shown_tables(result.stdout)["output"]
    np.testing.assert_allclose(shown, np.load(tmp_path / "y.npy"), rtol=1e-3)


@pytest.mark.parametrize(
    "make, mode_in, mode_out",
    [
        (lambda r: Image.fromarray(r.integers(0, 256, (6, 8, 2), dtype=np.uint8), "LA"), "LA",
         "LA"),
        (lambda r: Image.fromarray(r.integers(0, 2, (6, 8)).astype(bool)), "1", "L"),
        (lambda r: Image.fromarray(r.integers(-5000, 100000, (6, 8)).astype(np.int32), "I"), "I",
         "I"),
        (lambda r: Image.fromarray(r.random((6, 8)).astype(np.float32) * 1000, "F"), "F", "F"),
        (lambda r: Image.fromarray(r.integers(0, 256, (6, 8, 3), dtype=np.uint8)).convert("CMYK"),
         "CMYK", "RGB"),
    ],
    ids=["LA", "1", "I", "F", "CMYK"],
)
def test_other_modes_round_trip(run_cli, tmp_path, make, mode_in, mode_out):
    im = make(np.random.default_rng(9))
    assert im.mode == mode_in
    src = tmp_path / "src.tif"
    im.save(src)
    assert_ok(run_cli("enlarge", src, "-m", "nearest", "-o", "o.tif"))
    with Image.open(tmp_path / "o.tif") as out:
        assert out.mode == mode_out
        assert out.size == (16, 12)
        got = np.array(out)
    expected = np.array(im.convert(mode_out))
    np.testing.assert_array_equal(got, np.repeat(np.repeat(expected, 2, 0), 2, 1))
