"""``upsamp report``, ``upsamp enlarge --report`` and ``upsamp kernels show/fix`` analysis, through
Click's CliRunner.

Reference values (see docs/references.md [Odena2016], [Sugawara2019]): an all-ones 3×3
kernel at stride 2 gives
cb_dc = 0.48432 (phase means 4:2:2:1), nearest and bilinear 0, bed of nails sqrt(3). PSNR is
recomputed from the saved images with a plain numpy formula.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from upsamp.diagnostics import analyze_kernel
from upsamp.kernels import PRESETS, load_kernel, preset

BUILTINS = [
    "nearest", "bilinear", "bicubic", "lanczos", "bed-of-nails", "max-unpool", "transconv",
    "pixel-shuffle", "resize-conv",
]  # fmt: skip
#: The methods whose kernel is analysed phase by phase (a transposed-convolution form).
KERNEL_METHODS = ("transconv", "pixel-shuffle", "resize-conv")
CLEAN_PRESETS = {"nearest", "bilinear", "bicubic", "gaussian"}
METHOD_KEYS = {
    "name",
    "output_shape",
    "psnr",
    "ssim",
    "cb_dc",
    "cb_rel",
    "cb_rel_tile_max",
    "artifact_free",
    "kernel",
}
KERNEL_KEYS = {"phase_sums", "phase_spread", "overlap_min", "overlap_max"}


def assert_ok(result) -> None:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)


def assert_one_line_error(result, code: int = 1) -> str:
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("upsamp: error: "), result.stderr
    return lines[0]


def one_json(result) -> dict:
    assert_ok(result)
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    return json.loads(lines[0])


def methods_of(doc: dict) -> dict[str, dict]:
    return {m["name"]: m for m in doc["methods"]}


def table_rows(stdout: str) -> dict[str, list[str]]:
    """``{method: cells}`` of the report table (rows are ``│ name │ ... │ verdict │``)."""
    rows = {}
    for line in stdout.splitlines():
        if line.startswith("│"):
            cells = [c.strip() for c in line.strip().strip("│").split("│")]
            rows[cells[0]] = cells
    return rows


def psnr_numpy(a: np.ndarray, b: np.ndarray, peak: float) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(peak**2 / mse))


@pytest.fixture
def camera_crop(tmp_path: Path, sample_dir: Path) -> Path:
    """A 64×64 grayscale crop of camera.png."""
    with Image.open(sample_dir / "camera.png") as im:
        crop = im.convert("L").crop((200, 100, 264, 164))
    path = tmp_path / "cam.png"
    crop.save(path)
    return path


@pytest.fixture
def cat_crop(tmp_path: Path, sample_dir: Path) -> Path:
    """A 65×49 (W×H) RGB crop of chelsea.png (odd sides: the report crops to 64×48)."""
    with Image.open(sample_dir / "chelsea.png") as im:
        crop = im.convert("RGB").crop((170, 90, 235, 139))
    path = tmp_path / "cat.png"
    crop.save(path)
    return path


@pytest.fixture
def ones_3x3(tmp_path: Path) -> Path:
    path = tmp_path / "ones3.npy"
    np.save(path, np.ones((3, 3)))
    return path


# --------------------------------------------------------------------------------------------
# reference values and verdicts
# --------------------------------------------------------------------------------------------


def test_reference_cb_dc_values(run_cli, camera_crop, ones_3x3):
    doc = one_json(run_cli("report", camera_crop, "--stride", "2", "--kernel", ones_3x3, "--json"))
    m = methods_of(doc)
    assert list(m) == [*BUILTINS, "transconv:ones3"]
    assert m["transconv:ones3"]["cb_dc"] == pytest.approx(0.48432, abs=5e-6)
    assert m["transconv:ones3"]["kernel"]["phase_sums"] == [[4.0, 2.0], [2.0, 1.0]]
    assert m["transconv:ones3"]["output_shape"] == [65, 65]  # padding 0: 2*32 + 1
    for name in ("nearest", "bilinear", "transconv"):
        assert abs(m[name]["cb_dc"]) < 1e-12, name
    for name in ("bed-of-nails", "max-unpool"):
        assert m[name]["cb_dc"] == pytest.approx(math.sqrt(3), rel=1e-12), name


@pytest.mark.parametrize("stride", [2, 3])
def test_every_preset_verdict_through_the_kernel_option(run_cli, camera_crop, stride):
    args = ["report", camera_crop, "--stride", stride, "--methods", "nearest", "--json"]
    for name in PRESETS:
        args += ["--kernel", name]
    m = methods_of(one_json(run_cli(*args)))
    for name in PRESETS:
        row = m[f"transconv:{name}"]
        expected = "clean" if name in CLEAN_PRESETS else "checkerboard"
        assert row["verdict"] == expected, name
        assert row["artifact_free"] is (expected == "clean"), name
        spread = row["kernel"]["phase_spread"]
        assert (spread <= 1e-9) is (expected == "clean"), name


def test_table_colours_nothing_when_piped_and_explains_each_grid(run_cli, camera_crop):
    result = run_cli("report", camera_crop, "--stride", "2", "--kernel", "checkerboard")
    assert_ok(result)
    rows = table_rows(result.stdout)
    assert set(rows) == {*BUILTINS, "transconv:checkerboard"}
    for name in ("nearest", "bilinear", "transconv"):
        assert rows[name][-1] == "clean", rows[name]
    for name in ("bed-of-nails", "max-unpool", "transconv:checkerboard"):
        assert rows[name][-1] == "checkerboard", rows[name]
    assert rows["transconv:checkerboard"][1] == "64×64"
    assert rows["transconv:checkerboard"][4] == "0.4843"  # cb_dc
    assert rows["transconv:checkerboard"][7] == "1.333"  # spread
    assert rows["transconv:checkerboard"][8] == "1–4"  # overlap
    assert rows["nearest"][7] == "—"
    assert "\x1b[" not in result.stdout
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith("transconv:checkerboard:")]
    assert len(lines) == 1
    assert "1:2:2:4" in lines[0] and "fix:" in lines[0] and "4×4" in lines[0]
    bed = [ln for ln in result.stdout.splitlines() if ln.startswith("bed-of-nails:")]
    assert len(bed) == 1 and "3 of 4 phases are empty" in bed[0]
    assert not any(ln.startswith("nearest:") for ln in result.stdout.splitlines())


def test_psnr_and_ssim_are_in_the_table_for_a_round_trip_only(run_cli, camera_crop):
    rows = table_rows(run_cli("report", camera_crop, "--methods", "nearest").stdout)
    assert float(rows["nearest"][2]) > 15 and 0 < float(rows["nearest"][3]) <= 1
    result = run_cli("report", camera_crop, "--methods", "nearest", "--no-roundtrip")
    rows = table_rows(result.stdout)
    assert rows["nearest"][2] == "—" and rows["nearest"][3] == "—"
    assert rows["nearest"][1] == "128×128"


# --------------------------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------------------------


def test_json_schema_with_round_trip(run_cli, cat_crop):
    doc = one_json(run_cli("report", cat_crop, "--kernel", "checkerboard", "--json"))
    assert {"image", "stride", "roundtrip", "methods"} <= set(doc)
    assert doc["image"].endswith("cat.png") and doc["stride"] == [2, 2]
    assert doc["roundtrip"] is True
    for m in doc["methods"]:
        assert METHOD_KEYS <= set(m), m
        assert m["output_shape"] == [48, 64, 3]
        assert isinstance(m["psnr"], float) and isinstance(m["ssim"], float)
        assert isinstance(m["cb_dc"], float) and isinstance(m["cb_rel"], float)
        assert isinstance(m["cb_rel_tile_max"], float)
        assert isinstance(m["artifact_free"], bool)
        if m["name"].startswith(KERNEL_METHODS):
            assert KERNEL_KEYS <= set(m["kernel"])
            assert isinstance(m["kernel"]["overlap_min"], int)
        else:
            assert m["kernel"] is None
    assert any("cropped from 65×49 to 64×48" in n for n in doc["notes"])


def test_json_without_round_trip_has_null_psnr_and_ssim(run_cli, camera_crop):
    doc = one_json(run_cli("report", camera_crop, "--stride", "3", "--no-roundtrip", "--json"))
    assert doc["roundtrip"] is False and doc["stride"] == [3, 3]
    for m in doc["methods"]:
        assert m["psnr"] is None and m["ssim"] is None
        assert m["output_shape"] == [192, 192]
        assert isinstance(m["cb_dc"], float)


def test_json_on_stdout_only(run_cli, camera_crop, tmp_path):
    result = run_cli("report", camera_crop, "--methods", "nearest", "--json", "--figures", "figs")
    doc = one_json(result)
    assert "┃" not in result.stdout and "│" not in result.stdout
    assert "figs" in result.stderr
    assert doc["methods"][0]["name"] == "nearest"


# --------------------------------------------------------------------------------------------
# figures and outputs
# --------------------------------------------------------------------------------------------


def test_figures_are_written_and_not_blank(run_cli, cat_crop, tmp_path):
    result = run_cli("report", cat_crop, "--kernel", "checkerboard", "--figures", "out/figs")
    assert_ok(result)
    folder = tmp_path / "out" / "figs"
    assert sorted(p.name for p in folder.iterdir()) == [
        "contact_sheet.png",
        "phase_means.png",
        "spectra.png",
    ]
    for path in folder.iterdir():
        with Image.open(path) as im:
            assert im.format == "PNG" and im.mode == "RGB"
            assert im.width >= 700 and im.height >= 250, (path.name, im.size)
            arr = np.asarray(im)
        assert arr.std() > 20, path.name
        packed = (arr[..., 0].astype(np.int64) << 16) | (arr[..., 1] << 8) | arr[..., 2]
        assert len(np.unique(packed)) > 30, path.name


def test_figures_and_outputs_are_never_replaced_without_overwrite(run_cli, camera_crop, tmp_path):
    assert_ok(
        run_cli(
            "report",
            camera_crop,
            "--methods",
            "nearest",
            "--figures",
            "figs",
            "--save-outputs",
            "outs",
        )
    )
    sheet = (tmp_path / "figs" / "contact_sheet.png").read_bytes()
    (tmp_path / "outs" / "nearest.png").write_bytes(b"precious")
    result = run_cli(
        "report", camera_crop, "--methods", "nearest", "--figures", "figs", "--save-outputs", "outs"
    )
    line = assert_one_line_error(result)
    assert "exists" in line and "--overwrite" in line
    assert result.stdout == ""  # refused before anything was printed or written
    assert (tmp_path / "outs" / "nearest.png").read_bytes() == b"precious"
    assert_ok(
        run_cli(
            "report",
            camera_crop,
            "--methods",
            "nearest",
            "--figures",
            "figs",
            "--save-outputs",
            "outs",
            "--overwrite",
        )
    )
    with Image.open(tmp_path / "outs" / "nearest.png") as im:
        assert im.size == (64, 64)
    assert (tmp_path / "figs" / "contact_sheet.png").read_bytes() == sheet  # same drawing


@pytest.mark.parametrize("fixture, peak", [("cat_crop", 255), ("camera_crop", 255)])
def test_saved_outputs_give_the_reported_psnr(run_cli, request, tmp_path, fixture, peak):
    image = request.getfixturevalue(fixture)
    doc = one_json(
        run_cli(
            "report",
            image,
            "--kernel",
            "checkerboard",
            "--kernel",
            "bicubic",
            "--save-outputs",
            "outs",
            "--json",
        )
    )
    folder = tmp_path / "outs"
    with Image.open(folder / "ground-truth.png") as im:
        truth = np.array(im)
    with Image.open(image) as im:
        original = np.array(im)
    np.testing.assert_array_equal(truth, original[: truth.shape[0], : truth.shape[1]])
    for m in doc["methods"]:
        name = m["name"].replace(":", "_")
        with Image.open(folder / f"{name}.png") as im:
            saved = np.array(im)
        assert list(saved.shape) == m["output_shape"]
        assert psnr_numpy(truth, saved, peak) == pytest.approx(m["psnr"], abs=1e-9), name
    assert len(list(folder.iterdir())) == len(doc["methods"]) + 1


# --------------------------------------------------------------------------------------------
# options and errors
# --------------------------------------------------------------------------------------------


def test_methods_list_and_transconv_colon_preset(run_cli, camera_crop):
    doc = one_json(
        run_cli("report", camera_crop, "--methods", "bilinear, transconv:bicubic", "--json")
    )
    assert [m["name"] for m in doc["methods"]] == ["bilinear", "transconv:bicubic"]


def test_unknown_method_is_a_usage_error(run_cli, camera_crop):
    result = run_cli("report", camera_crop, "--methods", "nearest,lanczos-5")
    assert result.exit_code == 2
    assert "lanczos" in result.stderr and "bilinear" in result.stderr


def test_unknown_kernel_and_missing_image_are_one_line_errors(run_cli, camera_crop):
    line = assert_one_line_error(run_cli("report", camera_crop, "--kernel", "lanczos"))
    assert "lanczos" in line
    line = assert_one_line_error(run_cli("report", "nope.png"))
    assert "nope.png" in line


def test_too_small_image_is_a_one_line_error(run_cli, tmp_path):
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "tiny.png")
    line = assert_one_line_error(run_cli("report", "tiny.png"))
    assert "too small" in line


def test_too_small_for_a_round_trip_suggests_no_roundtrip(run_cli, tmp_path):
    """A 10×10 image is too small for a round trip at stride 2 (it needs 11×11)
    and large enough for the artifact metrics alone: the error says --no-roundtrip, which works."""
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(tmp_path / "tiny.png")
    line = assert_one_line_error(run_cli("report", "tiny.png", "--methods", "nearest"))
    assert "too small for a round trip" in line and "--no-roundtrip" in line
    assert_ok(run_cli("report", "tiny.png", "--methods", "nearest", "--no-roundtrip"))


def test_alpha_is_noted_on_stderr(run_cli, small_rgba):
    result = run_cli("report", small_rgba, "--methods", "nearest", "--no-roundtrip")
    assert_ok(result)
    assert "alpha" in result.stderr


# --------------------------------------------------------------------------------------------
# enlarge --report
# --------------------------------------------------------------------------------------------


def test_enlarge_report_prints_the_diagnostics_of_the_result(run_cli, camera_crop, tmp_path):
    result = run_cli(
        "enlarge", camera_crop, "-m", "transconv", "-k", "checkerboard", "-o", "big.png", "--report"
    )
    assert_ok(result)
    assert (tmp_path / "big.png").exists()
    rows = table_rows(result.stdout)
    assert list(rows) == ["transconv:checkerboard"]
    row = rows["transconv:checkerboard"]
    assert row[1] == "128×128" and row[2] == "—" and row[4] == "0.4843"
    assert row[-1] == "checkerboard"
    assert "1:2:2:4" in result.stdout
    assert "big.png" in result.stderr


def test_enlarge_report_json_has_a_report_key(run_cli, camera_crop):
    doc = one_json(
        run_cli("enlarge", camera_crop, "-m", "bed-of-nails", "-o", "b.png", "--report", "--json")
    )
    assert doc["output"] == "b.png"
    report = doc["report"]
    assert report["roundtrip"] is False and report["stride"] == [2, 2]
    (m,) = report["methods"]
    assert METHOD_KEYS <= set(m)
    assert m["name"] == "bed-of-nails" and m["psnr"] is None
    assert m["cb_dc"] == pytest.approx(math.sqrt(3))
    assert m["verdict"] == "checkerboard"


def test_enlarge_report_of_max_unpool_with_indices(run_cli, camera_crop):
    assert_ok(
        run_cli("pool", camera_crop, "-o", "small.png", "--stride", "2", "--indices-out", "idx.npz")
    )
    doc = one_json(
        run_cli(
            "enlarge",
            "small.png",
            "-m",
            "max-unpool",
            "--indices",
            "idx.npz",
            "-o",
            "back.png",
            "--report",
            "--json",
        )
    )
    (m,) = doc["report"]["methods"]
    assert m["output_shape"] == [64, 64]
    assert m["cb_dc"] == pytest.approx(math.sqrt(3))


def test_enlarge_report_needs_an_integer_stride(run_cli, camera_crop, tmp_path):
    result = run_cli("enlarge", camera_crop, "--scale", "1.5", "-o", "x.png", "--report")
    assert result.exit_code == 2
    assert "--report" in result.stderr
    assert not (tmp_path / "x.png").exists()


def test_enlarge_without_report_prints_no_table(run_cli, camera_crop):
    result = run_cli("enlarge", camera_crop, "-o", "y.png")
    assert_ok(result)
    assert result.stdout == ""


# --------------------------------------------------------------------------------------------
# kernels show / fix
# --------------------------------------------------------------------------------------------


def test_kernels_show_prints_the_analysis_under_the_weights(run_cli):
    result = run_cli("kernels", "show", "checkerboard", "--stride", "2")
    assert_ok(result)
    out = result.stdout
    assert out.index("weight") < out.index("phase sums")
    lines = out[out.index("phase sums") :].splitlines()
    assert not any("│" in ln for ln in lines)  # plain lines: the weight table stays the last
    assert "taps per phase: 1  2" in out
    assert "phase spread 1.3333" in out and "overlap 1–4 taps" in out and "checkerboard" in out
    assert "why: 3×3 at stride 2: phases receive 1:2:2:4 taps" in out
    assert "fix: use a kernel size divisible by the stride (4×4)" in out


def test_kernels_show_of_a_clean_kernel(run_cli):
    result = run_cli("kernels", "show", "bilinear", "--stride", "3")
    assert_ok(result)
    assert "artifact-free" in result.stdout
    assert "fix:" not in result.stdout
    assert "every phase sums to 1" in result.stdout


def test_kernels_show_json_has_the_analysis(run_cli, ones_3x3):
    doc = one_json(run_cli("kernels", "show", ones_3x3, "--json"))
    analysis = doc["analysis"]
    assert analysis["phase_sums"] == [[4.0, 2.0], [2.0, 1.0]]
    assert analysis["tap_counts"] == [[4, 2], [2, 1]]
    assert analysis["artifact_free"] is False
    assert analysis["phase_spread"] == pytest.approx(4 / 3)
    assert "4:2:2:1" in analysis["explanation"] and analysis["fix"]
    assert doc["weight"] == np.ones((3, 3)).tolist()


@pytest.mark.parametrize("stride", [2, 3])
@pytest.mark.parametrize("how", ["normalize-phases", "hold"])
def test_kernels_fix_turns_the_checkerboard_preset_artifact_free(
    run_cli, camera_crop, tmp_path, how, stride
):
    result = run_cli(
        "kernels", "fix", "checkerboard", "--stride", stride, "--how", how, "-o", "fixed.json"
    )
    assert_ok(result)
    out = result.stdout
    before, after = out.split(f"after --how {how}")
    assert "checkerboard" in before.split("before", 1)[1] and "fix:" in before
    assert "artifact-free" in after and "fix:" not in after
    kernel = load_kernel(tmp_path / "fixed.json")
    original = preset("checkerboard", stride)
    assert kernel.stride == (stride, stride)
    analysis = analyze_kernel(
        kernel.weight, stride=kernel.stride, padding=kernel.padding, dilation=kernel.dilation
    )
    assert analysis.artifact_free
    if how == "hold":
        assert kernel.weight.shape == (2 * stride, 2 * stride)
        # the new geometry keeps the output size: 2p - op grows by s - 1
        grow = 2 * np.array(kernel.padding) - np.array(kernel.output_padding)
        old = 2 * np.array(original.padding) - np.array(original.output_padding)
        np.testing.assert_array_equal(grow - old, stride - 1)
    else:
        assert kernel.padding == original.padding
    doc = one_json(
        run_cli(
            "report",
            camera_crop,
            "--stride",
            stride,
            "--methods",
            "nearest",
            "--kernel",
            "fixed.json",
            "--json",
        )
    )
    row = methods_of(doc)["transconv:fixed"]
    assert row["verdict"] == "clean" and row["cb_dc"] < 1e-9
    assert row["output_shape"] == [64 // stride * stride] * 2


def test_kernels_fix_to_npy_prints_the_geometry_to_use(run_cli, tmp_path, camera_crop):
    result = run_cli("kernels", "fix", "checkerboard", "--how", "hold", "-o", "held.npy")
    assert_ok(result)
    held = np.load(tmp_path / "held.npy")
    assert held.shape == (4, 4)
    assert "--padding 1,1" in result.stderr and "--stride 2,2" in result.stderr
    assert "--edge replicate" in result.stderr
    assert "--output-padding" not in result.stderr  # 0 after the hold at stride 2
    # the note's flags reproduce the held kernel: same output as the .json route
    assert_ok(run_cli("kernels", "fix", "checkerboard", "--how", "hold", "-o", "held.json"))
    assert_ok(
        run_cli(
            "enlarge",
            camera_crop,
            "-m",
            "transconv",
            "-k",
            "held.npy",
            "--stride",
            "2",
            "--padding",
            "1",
            "--edge",
            "replicate",
            "-o",
            "a.npy",
        )
    )
    assert_ok(run_cli("enlarge", camera_crop, "-m", "transconv", "-k", "held.json", "-o", "b.npy"))
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))


def test_kernels_fix_errors(run_cli, tmp_path):
    line = assert_one_line_error(
        run_cli("kernels", "fix", "bed-of-nails", "--how", "normalize-phases", "-o", "k.npy")
    )
    assert "hold" in line
    assert not (tmp_path / "k.npy").exists()
    result = run_cli("kernels", "fix", "checkerboard", "--how", "hold", "-o", "k.txt")
    assert result.exit_code == 2
    result = run_cli("kernels", "fix", "checkerboard", "--how", "blur", "-o", "k.npy")
    assert result.exit_code == 2
    (tmp_path / "k.json").write_text("precious")
    line = assert_one_line_error(
        run_cli("kernels", "fix", "checkerboard", "--how", "hold", "-o", "k.json")
    )
    assert "exists" in line
    assert (tmp_path / "k.json").read_text() == "precious"
