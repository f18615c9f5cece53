"""Bad inputs, bad kernels, bad outputs: every error is one line on stderr with the documented
exit code (1 failure, 2 usage, 130 interrupted), never a traceback, and no file is left behind.
``--debug`` shows the traceback instead."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import upsamp.imageio as upsamp_imageio
from upsamp.errors import InputError, UpsampError

REPO_ROOT = Path(__file__).resolve().parents[2]


def assert_one_line_error(result, code: int = 1, *needles: str) -> str:
    """Exit ``code``, stderr exactly one ``upsamp: error:`` line holding every needle,
    nothing on stdout, no traceback."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("upsamp: error: "), line
    for needle in needles:
        assert needle in line, (needle, line)
    return line


def assert_usage_error(result, *needles: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.output
    assert "Usage:" in result.stderr and "Error:" in result.stderr
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr)


@pytest.fixture
def check(run_cli, tmp_path, listing):
    """``check(args, code, *needles)``: run, check the error, and that the folder is unchanged."""

    def run(args, code=1, *needles):
        before = listing(tmp_path)
        result = run_cli(*args)
        if code == 2:
            assert_usage_error(result, *needles)
        else:
            assert_one_line_error(result, code, *needles)
        assert listing(tmp_path) == before, "files left behind"
        return result

    return run


# ------------------------------------------------------------------------------------------
# Bad inputs
# ------------------------------------------------------------------------------------------


def test_missing_input(check):
    check(["enlarge", "missing.png"], 1, "missing.png")


def test_missing_npy_input(check):
    check(["enlarge", "missing.npy", "-o", "o.npy"], 1, "missing.npy")


def test_directory_as_input(check, tmp_path):
    (tmp_path / "folder.png").mkdir()
    check(["enlarge", "folder.png", "-o", "o.png"], 1, "folder.png", "directory")


def test_truncated_png(check, tmp_path, small_rgb):
    data = small_rgb.read_bytes()
    (tmp_path / "trunc.png").write_bytes(data[: len(data) // 2])
    check(["enlarge", "trunc.png", "-o", "o.png"], 1, "trunc.png")


def test_text_file_named_png(check, tmp_path):
    (tmp_path / "text.png").write_text("this is not an image\n")
    check(["enlarge", "text.png", "-o", "o.png"], 1, "text.png")


def test_empty_file(check, tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    check(["enlarge", "empty.png", "-o", "o.png"], 1, "empty.png")


def test_corrupt_npy(check, tmp_path):
    (tmp_path / "bad.npy").write_bytes(b"\x93NUMPY garbage")
    check(["enlarge", "bad.npy", "-o", "o.npy"], 1, "bad.npy")


def test_npy_of_the_wrong_rank(check, tmp_path):
    np.save(tmp_path / "v.npy", np.arange(5.0))
    check(["enlarge", "v.npy", "-o", "o.npy"], 1, "v.npy")


def test_decompression_bomb_max_pixels(check, small_rgb):
    check(["enlarge", small_rgb.name, "--max-pixels", "10", "-o", "o.png"], 1,
          "small_rgb.png", "--max-pixels")


def test_max_pixels_applies_to_npy_inputs(check, tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((5, 5)))
    check(["enlarge", "x.npy", "--max-pixels", "10", "-o", "o.npy"], 1, "x.npy")


def test_max_pixels_applies_to_pool(check, small_rgb):
    check(["pool", small_rgb.name, "--max-pixels", "10", "-o", "p.png", "--indices-out",
           "i.npz"], 1, "small_rgb.png")


def test_max_output_pixels(check, small_rgb):
    check(["enlarge", small_rgb.name, "--max-output-pixels", "10", "-o", "o.png"], 1,
          "--max-output-pixels")


@pytest.mark.parametrize("method", ["nearest", "bilinear", "bed-of-nails", "transconv"])
def test_max_output_pixels_every_method(check, small_rgb, method):
    check(["enlarge", small_rgb.name, "-m", method, "--max-output-pixels", "100", "-o",
           "o.png"], 1, "--max-output-pixels")


def test_max_output_pixels_with_max_unpool_indices(run_cli, check, small_rgb):
    assert run_cli("pool", small_rgb.name, "-o", "p.png", "--indices-out", "i.npz").exit_code == 0
    check(["enlarge", "p.png", "-m", "max-unpool", "--indices", "i.npz",
           "--max-output-pixels", "10", "-o", "u.png"], 1, "--max-output-pixels")


def test_max_output_pixels_with_max_unpool_guide(check, tmp_path, small_rgb):
    Image.fromarray(np.zeros((4, 5, 3), dtype=np.uint8)).save(tmp_path / "s.png")
    check(["enlarge", "s.png", "-m", "max-unpool", "--guide", small_rgb.name,
           "--max-output-pixels", "10", "-o", "u.png"], 1, "--max-output-pixels")


def test_stride_0_is_a_usage_error(check, small_rgb):
    check(["enlarge", small_rgb.name, "--stride", "0"], 2, "--stride")


def test_negative_padding_is_a_usage_error(check, small_rgb):
    check(["enlarge", small_rgb.name, "-m", "transconv", "--padding", "-1"], 2, "--padding")


def test_pool_stride_0_is_a_usage_error(check, small_rgb):
    check(["pool", small_rgb.name, "--stride", "0", "-o", "p.png", "--indices-out", "i.npz"], 2,
          "--stride")


def test_bad_size_is_a_usage_error(check, small_rgb):
    check(["enlarge", small_rgb.name, "--size", "30by20"], 2, "--size")


def test_unknown_method_is_a_usage_error(check, small_rgb):
    check(["enlarge", small_rgb.name, "--method", "lanczos-5"], 2, "lanczos-5", "transconv")


def test_output_padding_not_smaller_than_stride(check, small_rgb):
    check(["enlarge", small_rgb.name, "-m", "transconv", "--output-padding", "2", "-o",
           "o.png"], 1, "output_padding")


def test_16bit_rgb_png_is_enlarged_exactly(run_cli, png16_rgb):
    from png_reference import decode_plain

    result = run_cli("enlarge", png16_rgb.name, "-m", "nearest", "-o", "o.png")
    assert result.exit_code == 0, result.stderr
    source = decode_plain(png16_rgb.read_bytes())
    out = decode_plain((png16_rgb.parent / "o.png").read_bytes())
    assert source.dtype == out.dtype == np.uint16
    np.testing.assert_array_equal(out, source.repeat(2, axis=0).repeat(2, axis=1))


def test_unreadable_file(check, tmp_path, small_rgb):
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        pytest.skip("root can read files without permission")
    small_rgb.chmod(0)
    try:
        check(["enlarge", small_rgb.name, "-o", "o.png"], 1, "small_rgb.png")
    finally:
        small_rgb.chmod(0o644)


# ------------------------------------------------------------------------------------------
# Bad kernel files
# ------------------------------------------------------------------------------------------


def _kernel_case(tmp_path: Path, case: str) -> str:
    if case == "rank3.npy":
        np.save(tmp_path / case, np.ones((2, 2, 2)))
    elif case == "rank1.json":
        (tmp_path / case).write_text("[1, 2, 3]")
    elif case == "nan.npy":
        np.save(tmp_path / case, np.array([[1.0, np.nan], [1.0, 1.0]]))
    elif case == "inf.json":
        (tmp_path / case).write_text('{"weight": [[1, 1e999], [1, 1]]}')
    elif case == "text.json":
        (tmp_path / case).write_text('[["a", "b"], ["c", "d"]]')
    elif case == "ragged.json":
        (tmp_path / case).write_text("[[1, 2], [3]]")
    elif case == "empty.json":
        (tmp_path / case).write_text("[[]]")
    elif case == "broken.json":
        (tmp_path / case).write_text("{not json")
    elif case == "unknown_key.json":
        (tmp_path / case).write_text('{"weight": [[1, 1], [1, 1]], "strides": 2}')
    elif case == "bad_stride.json":
        (tmp_path / case).write_text('{"weight": [[1, 1], [1, 1]], "stride": 0}')
    elif case == "strings.npy":
        np.save(tmp_path / case, np.array([["a", "b"], ["c", "d"]]))
    elif case == "garbage.npy":
        (tmp_path / case).write_bytes(b"not an npy file")
    elif case == "missing.npy":
        pass
    else:  # pragma: no cover
        raise AssertionError(case)
    return case


@pytest.mark.parametrize(
    "case",
    ["rank3.npy", "rank1.json", "nan.npy", "inf.json", "text.json", "ragged.json", "empty.json",
     "broken.json", "unknown_key.json", "bad_stride.json", "strings.npy", "garbage.npy",
     "missing.npy"],
)
def test_bad_kernel_file_names_the_file(check, tmp_path, small_rgb, case):
    name = _kernel_case(tmp_path, case)
    check(["enlarge", small_rgb.name, "-m", "transconv", "-k", name, "-o", "o.png"], 1, name)


def test_bad_kernel_file_in_kernels_show(check, tmp_path):
    name = _kernel_case(tmp_path, "nan.npy")
    check(["kernels", "show", name], 1, name, "NaN")


def test_unknown_kernel_name(check, small_rgb):
    line = check(["enlarge", small_rgb.name, "-m", "transconv", "-k", "lanczos", "-o", "o.png"],
                 1, "lanczos").stderr
    assert "bilinear" in line  # lists the presets


def test_4d_kernel_with_the_wrong_channel_count_names_the_file(check, tmp_path, small_rgb):
    np.save(tmp_path / "k4.npy", np.ones((2, 1, 2, 2)))  # 2 input channels; the image has 3
    check(["enlarge", small_rgb.name, "-m", "transconv", "-k", "k4.npy", "-o", "o.png"], 1,
          "k4.npy", "channels")


def test_4d_kernel_json_with_the_wrong_channel_count_names_the_file(check, tmp_path, small_l):
    (tmp_path / "k4.json").write_text(json.dumps({"weight": np.ones((3, 3, 2, 2)).tolist()}))
    check(["enlarge", small_l.name, "-m", "transconv", "-k", "k4.json", "-o", "o.png"], 1,
          "k4.json", "channels")


def test_4d_kernel_with_the_right_channel_count_works(run_cli, tmp_path, small_rgb):
    w = np.zeros((3, 3, 2, 2))
    for c in range(3):
        w[c, 2 - c] = 1.0  # reverse the channels, replicate each pixel 2×2
    np.save(tmp_path / "k4.npy", w)
    result = run_cli("enlarge", small_rgb.name, "-m", "transconv", "-k", "k4.npy", "-o", "o.png")
    assert result.exit_code == 0, result.stderr
    src = np.array(Image.open(small_rgb))
    out = np.array(Image.open(tmp_path / "o.png"))
    np.testing.assert_array_equal(out, np.repeat(np.repeat(src[:, :, ::-1], 2, 0), 2, 1))


def test_normalize_a_kernel_summing_to_zero(check, tmp_path, small_rgb):
    np.save(tmp_path / "zero.npy", np.array([[1.0, -1.0], [1.0, -1.0]]))
    check(["enlarge", small_rgb.name, "-m", "transconv", "-k", "zero.npy", "--normalize", "-o",
           "o.png"], 1, "zero")


# ------------------------------------------------------------------------------------------
# Outputs
# ------------------------------------------------------------------------------------------


def test_existing_output_is_untouched(check, tmp_path, small_rgb):
    target = tmp_path / "o.png"
    target.write_bytes(b"precious bytes")
    check(["enlarge", small_rgb.name, "-o", "o.png"], 1, "o.png", "--overwrite")
    assert target.read_bytes() == b"precious bytes"


def test_existing_default_output_is_untouched(check, tmp_path, small_rgb):
    target = tmp_path / "small_rgb_bilinearx2.png"
    target.write_bytes(b"precious bytes")
    check(["enlarge", small_rgb.name], 1, target.name)
    assert target.read_bytes() == b"precious bytes"


def test_existing_npy_output_is_untouched(check, tmp_path):
    np.save(tmp_path / "x.npy", np.ones((2, 2)))
    (tmp_path / "y.npy").write_bytes(b"precious bytes")
    check(["enlarge", "x.npy", "-o", "y.npy"], 1, "y.npy")
    assert (tmp_path / "y.npy").read_bytes() == b"precious bytes"


def test_overwrite_replaces(run_cli, tmp_path, small_rgb, listing):
    target = tmp_path / "o.png"
    target.write_bytes(b"old")
    result = run_cli("enlarge", small_rgb.name, "-o", "o.png", "--overwrite")
    assert result.exit_code == 0, result.stderr
    with Image.open(target) as im:
        assert im.size == (20, 16)
    assert not any(name.endswith(".tmp") for name in listing(tmp_path))


@pytest.mark.parametrize("overwrite", [False, True])
def test_output_equal_to_input_is_refused(check, tmp_path, small_rgb, overwrite):
    original = small_rgb.read_bytes()
    args = ["enlarge", small_rgb.name, "-o", small_rgb.name] + (["--overwrite"] if overwrite
                                                                 else [])
    check(args, 1, "small_rgb.png")
    assert small_rgb.read_bytes() == original


def test_output_equal_to_input_by_another_spelling_is_refused(check, tmp_path, small_rgb):
    original = small_rgb.read_bytes()
    (tmp_path / "sub").mkdir()
    check(["enlarge", small_rgb.name, "-o", f"sub/../{small_rgb.name}", "--overwrite"], 1,
          "small_rgb.png")
    assert small_rgb.read_bytes() == original


def test_output_through_a_symlink_to_the_input_is_refused(check, tmp_path, small_rgb):
    original = small_rgb.read_bytes()
    (tmp_path / "link.png").symlink_to(small_rgb)
    check(["enlarge", small_rgb.name, "-o", "link.png", "--overwrite"], 1, "link.png")
    assert small_rgb.read_bytes() == original


def test_pool_output_equal_to_input_is_refused(check, small_rgb):
    original = small_rgb.read_bytes()
    check(["pool", small_rgb.name, "-o", small_rgb.name, "--indices-out", "i.npz",
           "--overwrite"], 1, "small_rgb.png")
    assert small_rgb.read_bytes() == original


def test_output_folder_missing(check, small_rgb):
    check(["enlarge", small_rgb.name, "-o", "nowhere/o.png"], 1, "nowhere")


def test_unknown_output_extension(check, small_rgb):
    check(["enlarge", small_rgb.name, "-o", "o.xyz"], 1, "o.xyz")


def test_jpeg_output_of_rgba(check, small_rgba):
    line = check(["enlarge", small_rgba.name, "-o", "o.jpg"], 1, "o.jpg").stderr
    assert "alpha" in line


def test_16bit_output_as_jpeg(check, tmp_path):
    Image.fromarray(np.full((4, 4), 1000, dtype=np.uint16)).save(tmp_path / "g16.png")
    check(["enlarge", "g16.png", "-o", "o.jpg"], 1, "o.jpg", "16-bit")


def test_multichannel_npy_as_png(check, tmp_path):
    np.save(tmp_path / "x.npy", np.ones((3, 3, 5)))
    check(["enlarge", "x.npy", "-o", "o.png"], 1, ".npy")


def test_write_failure_leaves_no_temporary_file(check, monkeypatch, small_rgb):
    def broken_save(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    monkeypatch.setattr(upsamp_imageio, "write_png", lambda *a, **k: broken_save(None))
    check(["enlarge", small_rgb.name, "-o", "o.png"], 1, "o.png")


def test_interrupt_exits_130_and_leaves_no_temporary_file(check, monkeypatch, small_rgb):
    def interrupted_save(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", interrupted_save)
    monkeypatch.setattr(upsamp_imageio, "write_png", lambda *a, **k: interrupted_save(None))
    check(["enlarge", small_rgb.name, "-o", "o.png"], 130, "interrupted")


# ------------------------------------------------------------------------------------------
# --debug
# ------------------------------------------------------------------------------------------


def test_debug_lets_the_exception_through(run_cli):
    with pytest.raises(InputError, match="missing.png"):
        run_cli("--debug", "enlarge", "missing.png")


def test_debug_kernel_error(run_cli, tmp_path, small_rgb):
    np.save(tmp_path / "nan.npy", np.array([[np.nan]]))
    with pytest.raises(UpsampError, match="nan.npy"):
        run_cli("--debug", "enlarge", small_rgb.name, "-m", "transconv", "-k", "nan.npy")


def test_debug_shows_a_traceback_in_a_subprocess(tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    plain = subprocess.run(
        [sys.executable, "-m", "upsamp", "enlarge", "missing.png"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )
    debug = subprocess.run(
        [sys.executable, "-m", "upsamp", "--debug", "enlarge", "missing.png"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )
    assert plain.returncode == 1 and "Traceback" not in plain.stderr
    assert debug.returncode != 0
    assert "Traceback" in debug.stderr
    assert "InputError" in debug.stderr and "missing.png" in debug.stderr
