"""Bad inputs, bad kernels, bad outputs: every error is one line on stderr with the documented
exit code (1 failure, 2 usage, 130 interrupted), never a traceback, and no file is left behind.
``--debug`` shows the traceback instead."""

from __future__ import annotations

import json
import os
import re
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


def assert_usage_error(result, *needles: str) -> str:
    """Exit 2, nothing on stdout, stderr one ``upsamp: error:`` line holding every needle and at
    most a second line ``Try 'upsamp COMMAND --help'`` (as the README's exit codes say)."""
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 2, result.stderr
    assert lines[0].startswith("upsamp: error: "), lines[0]
    if len(lines) == 2:
        assert lines[1].startswith("Try 'upsamp") and lines[1].endswith(" --help'"), lines[1]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


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


# ------------------------------------------------------------------------------------------
# Options that leave no output: one line, exit 2, in every command
# ------------------------------------------------------------------------------------------

EMPTY = "output size would be 0×0: padding 3 is too large for a 4×4 input"


@pytest.fixture
def no_output_case(tmp_path):
    """A 4×4 array and a 3×3 kernel: at stride 1, padding 3 leaves a 0×0 output."""
    np.save(tmp_path / "in4.npy", np.arange(16.0).reshape(4, 4))
    (tmp_path / "k3.json").write_text(json.dumps(np.ones((3, 3)).tolist()))
    return ["-m", "transconv", "-k", "k3.json", "--stride", "1", "--padding", "3"]


@pytest.mark.parametrize("output", ["zz.npy", "zz.png"])
def test_padding_that_leaves_no_output_enlarge(check, no_output_case, output):
    check(["enlarge", "in4.npy", *no_output_case, "-o", output], 2, EMPTY)


def test_padding_that_leaves_no_output_scheduler(check, no_output_case):
    pytest.importorskip("distributed")
    check(["enlarge", "in4.npy", *no_output_case, "-o", "zz.png", "--scheduler", "local"], 2,
          EMPTY)


def test_padding_that_leaves_no_output_batch(run_cli, tmp_path, no_output_case):
    (tmp_path / "src").mkdir()
    (tmp_path / "in4.npy").rename(tmp_path / "src" / "in4.npy")
    result = run_cli("batch", "src", "-o", "out", *no_output_case, "--json")
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["status"], r["reason"]) for r in records] == [("failed", EMPTY)]
    assert "Traceback" not in result.output and not list((tmp_path / "out").rglob("*.png"))


def test_padding_that_leaves_no_output_report(check, tmp_path):
    np.save(tmp_path / "in12.npy", np.random.default_rng(0).random((24, 24)))
    (tmp_path / "kpad.json").write_text(json.dumps({"weight": np.ones((3, 3)).tolist(),
                                                    "padding": 20}))
    check(["report", "in12.npy", "--methods", "transconv:kpad.json"], 2,
          "output size would be 0×0: padding 20 is too large for a 12×12 input")


HUGE_PADDING = ["-m", "transconv", "-k", "k3.json", "--stride", "2", "--padding", "1000000"]
HUGE_EMPTY = "output size would be 0×0: padding 1000000 is too large for a 4×4 input"


@pytest.mark.parametrize(
    "extra",
    [[], ["--max-output-pixels", "10"], ["--report"], ["--json"], ["--show"]],
    ids=["plain", "pixel-limit", "report", "json", "show"],
)
def test_huge_padding_never_prints_a_negative_size(check, no_output_case, extra):
    """Padding far larger than the image: one size check comes first, and no message prints a
    negative size or a pixel count worked out from one."""
    result = check(["enlarge", "in4.npy", *HUGE_PADDING, *extra, "-o", "zz.png"], 2, HUGE_EMPTY)
    assert not re.search(r"-\d", result.stderr), result.stderr
    assert "pixels" not in result.stderr


def test_huge_padding_in_batch_never_prints_a_negative_size(run_cli, tmp_path, no_output_case):
    (tmp_path / "src").mkdir()
    (tmp_path / "in4.npy").rename(tmp_path / "src" / "in4.npy")
    result = run_cli("batch", "src", "-o", "out", *HUGE_PADDING, "--json")
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["status"], r["reason"]) for r in records] == [("failed", HUGE_EMPTY)]
    assert not re.search(r"-\d", result.output), result.output


def test_output_budget_checks_the_size_first() -> None:
    """The pixel limit's message is never reached with a negative size (whose product of two
    negative sides would look like a huge output)."""
    from upsamp.errors import EmptyOutputError
    from upsamp.resources import check_output_budget

    with pytest.raises(EmptyOutputError, match="output size would be 0×0") as caught:
        check_output_budget((4, 4), (-1999934, -1999902), 10)
    assert not re.search(r"-\d", str(caught.value)) and "pixels" not in str(caught.value)


def test_padding_that_leaves_no_output_explain(check, tmp_path):
    check(["explain", "transconv", "--input", "1 2 3 4; 1 2 3 4; 1 2 3 4; 1 2 3 4", "--kernel",
           "[[1,1,1],[1,1,1],[1,1,1]]", "--stride", "1", "--padding", "3"], 2,
          "output size would be 0×0: the padding is too large for a 4×4 input")


def test_a_method_that_leaves_no_output_is_refused_before_any_band(tmp_path):
    """The pipeline refuses an empty output for any method (a plugin's too), up front."""
    from upsamp.errors import EmptyOutputError
    from upsamp.methods import Method
    from upsamp.methods.registry import registered
    from upsamp.pipeline import EnlargeSettings, enlarge_file

    def never(x, options, rows=None):
        raise AssertionError("no band may be computed")

    empty = Method("empty-demo", "demo", never, lambda shape, o: (0, shape[1]),
                   supports_rows=True)
    np.save(tmp_path / "in.npy", np.zeros((4, 6)))
    with registered(empty), pytest.raises(EmptyOutputError, match="6×0: empty-demo with"):
        enlarge_file(tmp_path / "in.npy", tmp_path / "out.png",
                     EnlargeSettings(method="empty-demo"))
    assert EmptyOutputError.exit_code == 2


# ------------------------------------------------------------------------------------------
# Shrinking is refused: upsamp enlarges
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", ["0.25", "1,0.5", "0.99"])
def test_scale_below_1_is_a_usage_error(check, small_rgb, scale):
    check(["enlarge", small_rgb.name, "--scale", scale, "-o", "o.png"], 2, "--scale",
          "would shrink the image")
    check(["batch", ".", "-o", "out", "--scale", scale], 2, "--scale", "would shrink the image")


@pytest.mark.parametrize(
    ("size", "resolved"),
    [("9x8!", "9×8"), ("10x7!", "10×7"), ("5x100!", "5×100"), ("9x100", "9×7"), ("x7", "9×7")],
)
def test_size_smaller_than_the_input_is_refused(check, small_rgb, size, resolved):
    """small_rgb is 10×8: a size (as resolved: a box keeps the aspect ratio) narrower or lower
    than the input on either axis is refused, exit 2."""
    check(["enlarge", small_rgb.name, "-m", "nearest", "--size", size, "-o", "o.png"], 2,
          f"size {resolved} is smaller than the 10×8 input")


def test_size_smaller_than_the_input_fails_that_file_in_batch(run_cli, tmp_path, small_rgb):
    (tmp_path / "src").mkdir()
    small_rgb.rename(tmp_path / "src" / small_rgb.name)
    result = run_cli("batch", "src", "-o", "out", "--size", "9x20!", "--json")
    [record] = [json.loads(line) for line in result.stdout.splitlines()]
    assert record["status"] == "failed"
    assert record["reason"].startswith("size 9×20 is smaller than the 10×8 input")


@pytest.mark.parametrize(
    "args", [["--scale", "1"], ["--scale", "1,1.5"], ["--size", "10x9!"], ["--size", "20x"]]
)
def test_equal_or_larger_sizes_are_fine(run_cli, small_rgb, args):
    result = run_cli("enlarge", small_rgb.name, "-m", "bilinear", *args, "-o", "o.png")
    assert result.exit_code == 0, result.stderr


def test_the_pipeline_refuses_shrinking_settings(small_rgb):
    from upsamp.errors import ShrinkingError
    from upsamp.methods import MethodOptions
    from upsamp.pipeline import EnlargeSettings, output_shape

    for options in (MethodOptions(scale=0.5), MethodOptions(size=(4, 20))):
        with pytest.raises(ShrinkingError):
            output_shape((8, 10, 3), EnlargeSettings(method="bilinear", options=options))
    assert ShrinkingError.exit_code == 2


def test_stride_0_is_a_usage_error(check, small_rgb):
    check(["enlarge", small_rgb.name, "--stride", "0"], 2, "--stride")


@pytest.mark.parametrize(
    ("args", "first", "second"),
    [
        (["enlarge", "small_rgb.png", "--stride", "0"], "upsamp: error: --stride: ",
         "Try 'upsamp enlarge --help'"),
        (["enlarge", "small_rgb.png", "--bogus"], "upsamp: error: No such option '--bogus'",
         "Try 'upsamp enlarge --help'"),
        (["--bogus"], "upsamp: error: No such option '--bogus'", "Try 'upsamp --help'"),
        (["kernels", "show"], "upsamp: error: Missing argument 'NAME|FILE",
         "Try 'upsamp kernels show --help'"),
        (["enlarge", "small_rgb.png", "-m", "nearest", "--normalize"],
         "upsamp: error: --normalize does not apply to nearest", "Try 'upsamp enlarge --help'"),
    ],
)
def test_usage_errors_are_one_line_and_a_hint(run_cli, small_rgb, args, first, second):
    """Click's three lines (usage, hint, ``Error:``) become the one-line error and the hint."""
    result = run_cli(*args)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [result.stderr.splitlines()[0], second]
    assert result.stderr.startswith(first), result.stderr


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


def test_channels_first_array_error_says_arrays_are_read_as_hwc(check, tmp_path):
    """A (3, 5, 5) channels-first array is read as 5 wide, 3 high, 5 channels: say so."""
    np.save(tmp_path / "cf.npy", np.random.default_rng(0).random((3, 5, 5)))
    np.save(tmp_path / "k4.npy", np.ones((3, 3, 2, 2)))
    check(["enlarge", "cf.npy", "-m", "transconv", "-k", "k4.npy", "-o", "o.npy"], 1,
          "k4.npy", "but the image has 5", "arrays are read as (H, W, C)", "(3, 5, 5) array is 5×3",
          "np.moveaxis(a, 0, -1)")
    check(["enlarge", "cf.npy", "-m", "nearest", "-o", "o.png"], 1,
          "the result has 5 channels", "arrays are read as (H, W, C)")


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
    monkeypatch.setattr(upsamp_imageio, "PngWriter", lambda *a, **k: broken_save(None))
    check(["enlarge", small_rgb.name, "-o", "o.png"], 1, "o.png")


def test_interrupt_exits_130_and_leaves_no_temporary_file(check, monkeypatch, small_rgb):
    def interrupted_save(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", interrupted_save)
    monkeypatch.setattr(upsamp_imageio, "write_png", lambda *a, **k: interrupted_save(None))
    monkeypatch.setattr(upsamp_imageio, "PngWriter", lambda *a, **k: interrupted_save(None))
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
