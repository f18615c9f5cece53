"""pixel-shuffle, resize-conv, bicubic and Lanczos from the command line: equal to the library
and to the framework calls they are named after, in ``enlarge``, ``batch`` and ``report``;
``kernels convert``; and their bad input (one line, non-zero exit, nothing written)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from upsamp.kernel_convert import pixel_shuffle_to_transconv
from upsamp.kernels import load_kernel
from upsamp.methods.cubic import bicubic
from upsamp.methods.lanczos import lanczos

SAMPLE = Path(__file__).resolve().parents[2] / "sample_images" / "chelsea.png"


def assert_ok(result) -> None:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)


def assert_one_line_error(result, code: int, *words: str) -> None:
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    if code == 1:
        assert len(lines) == 1 and lines[0].startswith("upsamp: error: "), result.stderr
    for word in words:
        assert word in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def crop(tmp_path: Path, name: str = "cat.png", box=(100, 60, 164, 108)) -> Path:
    path = tmp_path / name
    Image.open(SAMPLE).convert("RGB").crop(box).save(path)
    return path


# ------------------------------------------------------------------------------------------
# enlarge equals the library and the other methods
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", ["bilinear", "bicubic", "checkerboard"])
def test_pixel_shuffle_of_a_preset_equals_transconv_with_it(run_cli, tmp_path, preset):
    image = crop(tmp_path)
    for method in ("transconv", "pixel-shuffle"):
        assert_ok(run_cli("enlarge", image, "-m", method, "-k", preset, "--stride", "3",
                          "-o", f"{method}.npy"))
        assert_ok(run_cli("enlarge", image, "-m", method, "-k", preset, "--stride", "3",
                          "-o", f"{method}.png"))
    a, b = np.load(tmp_path / "transconv.npy"), np.load(tmp_path / "pixel-shuffle.npy")
    assert a.shape == b.shape == (48 * 3, 64 * 3, 3)
    np.testing.assert_allclose(b, a, atol=2e-4)  # float32 sums in another order
    png_a = np.asarray(Image.open(tmp_path / "transconv.png"), dtype=int)
    png_b = np.asarray(Image.open(tmp_path / "pixel-shuffle.png"), dtype=int)
    assert np.abs(png_a - png_b).max() <= 1  # a rounding tie at most


def test_bicubic_and_lanczos_through_enlarge_equal_the_library(run_cli, tmp_path):
    x = np.random.default_rng(3).random((9, 13, 2))
    np.save(tmp_path / "x.npy", x)
    runs = {
        "b1.npy": (["-m", "bicubic", "--scale", "1.5"], bicubic(x, 1.5)),
        "b2.npy": (["-m", "bicubic", "--size", "20x11!", "--cubic-a", "-0.5"],
                   bicubic(x, size=(11, 20), cubic_a=-0.5)),
        "b3.npy": (["-m", "bicubic", "--stride", "3", "--align-corners"],
                   bicubic(x, 3, align_corners=True)),
        "l1.npy": (["-m", "lanczos", "--scale", "2.5"], lanczos(x, 2.5)),
        "l2.npy": (["-m", "lanczos", "--size", "17x10!"], lanczos(x, size=(10, 17))),
    }  # fmt: skip
    for name, (args, expected) in runs.items():
        assert_ok(run_cli("enlarge", "x.npy", *args, "-o", name))
        np.testing.assert_array_equal(np.load(tmp_path / name), expected)


def test_bicubic_through_enlarge_equals_pytorch(run_cli, tmp_path):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(4).random((7, 10))
    np.save(tmp_path / "x.npy", x)
    assert_ok(run_cli("enlarge", "x.npy", "-m", "bicubic", "--scale", "2.5", "-o", "y.npy"))
    expected = torch.nn.functional.interpolate(
        torch.from_numpy(x)[None, None], scale_factor=2.5, mode="bicubic", align_corners=False
    )[0, 0].numpy()
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), expected, atol=1e-12)


def test_resize_conv_with_a_weight_file_equals_pytorch(run_cli, tmp_path):
    """A 4-D Conv2d weight with an even size: 'same' padding puts the extra row and column on
    the far side, as PyTorch."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    x = rng.random((6, 8, 3))
    weight = rng.standard_normal((2, 3, 4, 4))
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "w.npy", weight)
    for resize in ("nearest", "bilinear"):
        assert_ok(run_cli("enlarge", "x.npy", "-m", "resize-conv", "-k", "w.npy", "--stride", "2",
                          "--resize", resize, "-o", f"{resize}.npy"))
        t = torch.from_numpy(x).permute(2, 0, 1)[None]
        up = torch.nn.functional.interpolate(
            t, scale_factor=2, mode=resize, **({"align_corners": False} if resize != "nearest"
                                               else {})
        )  # fmt: skip
        expected = torch.nn.functional.conv2d(up, torch.from_numpy(weight), padding="same")
        np.testing.assert_allclose(
            np.load(tmp_path / f"{resize}.npy"), expected[0].permute(1, 2, 0).numpy(), atol=1e-12
        )


def test_pixel_shuffle_with_a_weight_file_equals_pytorch(run_cli, tmp_path):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    x = rng.random((5, 7, 3))
    weight = rng.standard_normal((3 * 4, 3, 3, 3))
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "w.npy", weight)
    result = run_cli("enlarge", "x.npy", "-m", "pixel-shuffle", "-k", "w.npy", "--stride", "2",
                     "-o", "y.npy", "--json")
    assert_ok(result)
    assert json.loads(result.stdout)["parameters"]["kernel"]["padding"] == "same"
    t = torch.nn.functional.conv2d(torch.from_numpy(x).permute(2, 0, 1)[None],
                                   torch.from_numpy(weight), padding=1)
    expected = torch.nn.functional.pixel_shuffle(t, 2)[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), expected, atol=1e-12)


def test_new_methods_keep_alpha_and_name_their_outputs(run_cli, tmp_path, small_rgba):
    for args, name in [
        (["-m", "pixel-shuffle", "-k", "icnr:bilinear"], "small_rgba_pixel-shufflex2.png"),
        (["-m", "resize-conv", "--stride", "3"], "small_rgba_resize-convx3.png"),
        (["-m", "bicubic", "--scale", "1.5"], "small_rgba_bicubicx1.5.png"),
        (["-m", "lanczos", "--size", "30x25"], "small_rgba_lanczos_30x25.png"),
    ]:
        assert_ok(run_cli("enlarge", small_rgba, *args))
        out = Image.open(tmp_path / name)
        assert out.mode == "RGBA"


def test_no_clipping_warning_for_the_overshoot_of_interpolation(run_cli, tmp_path):
    """A hard black/white edge overshoots with bicubic and Lanczos; that is expected."""
    edge = np.zeros((16, 16), dtype=np.uint8)
    edge[:, 8:] = 255
    Image.fromarray(edge).save(tmp_path / "edge.png")
    for args in (["-m", "bicubic"], ["-m", "lanczos"], ["-m", "transconv", "-k", "bicubic"],
                 ["-m", "pixel-shuffle", "-k", "bicubic"]):
        result = run_cli("enlarge", "edge.png", *args, "-o", "o.png", "--overwrite", "--json")
        assert_ok(result)
        assert json.loads(result.stdout)["clipped_fraction"] > 0.001
        assert "warning" not in result.stderr.lower(), args
    np.save(tmp_path / "tens.npy", np.full((2, 2), 10.0))
    result = run_cli("enlarge", "edge.png", "-m", "transconv", "-k", "tens.npy", "-o", "t.png")
    assert_ok(result)
    assert "warning" in result.stderr.lower()  # a kernel file that clips is still warned about


# ------------------------------------------------------------------------------------------
# batch and report
# ------------------------------------------------------------------------------------------


def test_batch_dry_run_plans_the_new_methods(run_cli, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    crop(folder, "a.png")
    for args, suffix in [
        (["-m", "pixel-shuffle", "-k", "icnr:bicubic"], "_pixel-shufflex2.png"),
        (["-m", "resize-conv", "--resize", "bilinear", "--stride", "3"], "_resize-convx3.png"),
        (["-m", "bicubic", "--scale", "1.5", "--cubic-a", "-0.5"], "_bicubicx1.5.png"),
        (["-m", "lanczos", "--size", "100x80"], "_lanczos_100x80.png"),
    ]:
        result = run_cli("batch", folder, "-o", tmp_path / "out", *args, "--dry-run")
        assert_ok(result)
        assert "a" + suffix in result.stdout
    assert not (tmp_path / "out").exists()
    result = run_cli("batch", folder, "-o", tmp_path / "out", "-m", "bicubic", "-j", "1", "-q")
    assert_ok(result)
    assert (tmp_path / "out" / "a_bicubicx2.png").is_file()


def test_report_lists_the_new_methods_and_judges_sub_pixel_kernels_per_phase(run_cli, tmp_path):
    image = crop(tmp_path, box=(100, 60, 196, 132))
    rng = np.random.default_rng(7)
    np.save(tmp_path / "random.npy", rng.random((4, 3, 3)))  # random phases: unequal sums
    np.save(tmp_path / "filter.npy", rng.random((3, 3)))  # ICNR of it: every phase the same
    result = run_cli(
        "report", image, "--json", "--methods",
        "bicubic,lanczos,pixel-shuffle,resize-conv,pixel-shuffle:icnr:filter.npy,"
        "pixel-shuffle:random.npy,resize-conv:bilinear",
    )  # fmt: skip
    assert_ok(result)
    rows = {m["name"]: m for m in json.loads(result.stdout)["methods"]}
    assert set(rows) == {
        "bicubic", "lanczos", "pixel-shuffle", "resize-conv", "pixel-shuffle:icnr:filter.npy",
        "pixel-shuffle:random", "resize-conv:bilinear",
    }  # fmt: skip
    icnr, random = rows["pixel-shuffle:icnr:filter.npy"], rows["pixel-shuffle:random"]
    assert icnr["verdict"] == "clean" and icnr["artifact_free"]
    assert icnr["kernel"]["phase_spread"] < 1e-12  # the four phases sum alike
    assert random["verdict"] == "checkerboard" and not random["artifact_free"]
    assert random["kernel"]["phase_spread"] > 0.05
    assert len(random["kernel"]["phase_sums"]) == 2  # one row per phase row (s_h × s_w)
    for name in ("bicubic", "lanczos", "pixel-shuffle", "resize-conv", "resize-conv:bilinear"):
        assert rows[name]["verdict"] == "clean", name
        assert rows[name]["psnr"] > 20
    # the default pixel-shuffle and resize-conv kernels are bilinear enlargement
    # (equal to 1e-15; a few rounding ties of the quantized outputs may go either way)
    assert rows["pixel-shuffle"]["psnr"] == pytest.approx(rows["resize-conv"]["psnr"], abs=0.01)


def test_banded_equals_whole_through_the_pipeline():
    """Every new method, run by the pipeline in bands of a few rows, equals one whole call."""
    from upsamp.imageio import LoadedImage
    from upsamp.methods import MethodOptions, get_method
    from upsamp.pipeline import EnlargeSettings, iter_bands

    rng = np.random.default_rng(8)
    image = LoadedImage(rng.random((11, 9, 3)), rng.random((11, 9)), "RGBA", "RGBA", "PNG")
    cases = [
        ("pixel-shuffle", MethodOptions(
            stride=(3, 3), kernel=get_method("pixel-shuffle").build_kernel("icnr:gaussian", (3, 3))
        )),
        ("resize-conv", MethodOptions(stride=(2, 2), resize="bilinear")),
        ("bicubic", MethodOptions(scale=1.7, cubic_a=-0.6)),
        ("lanczos", MethodOptions(size=(25, 13))),
    ]  # fmt: skip
    for name, options in cases:
        settings = EnlargeSettings(method=name, options=options)
        whole = list(iter_bands(image, settings, band_values=1 << 40))
        bands = list(iter_bands(image, settings, band_values=60))
        assert len(whole) == 1 and len(bands) > 3, name
        np.testing.assert_array_equal(np.concatenate([b[2] for b in bands]), whole[0][2])
        np.testing.assert_array_equal(np.concatenate([b[3] for b in bands]), whole[0][3])


# ------------------------------------------------------------------------------------------
# kernels convert
# ------------------------------------------------------------------------------------------


def test_convert_resize_conv_to_transconv_and_back(run_cli, tmp_path):
    np.save(tmp_path / "k.npy", np.random.default_rng(9).standard_normal((3, 3)))
    result = run_cli("kernels", "convert", "k.npy", "--from", "resize-conv", "--to", "transconv",
                     "--stride", "2", "-o", "tc.json")
    assert_ok(result)
    assert "maximum difference on a random input" in result.stdout
    difference = float(result.stdout.split("random input: ")[1].split()[0])
    assert difference < 1e-12
    tc = load_kernel(tmp_path / "tc.json")
    assert tc.weight.shape == (4, 4) and tc.stride == (2, 2)
    result = run_cli("kernels", "convert", "tc.json", "--from", "transconv", "--to",
                     "resize-conv", "-o", "back.npy", "--json")
    assert_ok(result)
    doc = json.loads(result.stdout)
    assert doc["max_difference"] < 1e-12
    np.testing.assert_allclose(np.load(tmp_path / "back.npy"), np.load(tmp_path / "k.npy"),
                               atol=1e-12)


def test_convert_transconv_to_pixel_shuffle_runs_as_pixel_shuffle(run_cli, tmp_path):
    result = run_cli("kernels", "convert", "gaussian", "--from", "transconv", "--to",
                     "pixel-shuffle", "--stride", "3", "-o", "ps.json")
    assert_ok(result)
    ps = load_kernel(tmp_path / "ps.json")
    assert ps.weight.ndim == 3 and ps.weight.shape[0] == 9
    back = pixel_shuffle_to_transconv(ps)
    x = np.random.default_rng(10).random((6, 5))
    from upsamp import transconv
    from upsamp.kernels import preset

    g = preset("gaussian", 3)
    np.testing.assert_allclose(transconv(x, back.weight, **back.transconv_kwargs()),
                               transconv(x, g.weight, **g.transconv_kwargs()), atol=1e-12)
    crop(tmp_path)
    for method, args in (("pixel-shuffle", ["-k", "ps.json"]),
                         ("transconv", ["-k", "gaussian", "--stride", "3"])):
        assert_ok(run_cli("enlarge", "cat.png", "-m", method, *args, "-o", f"{method}.npy"))
    np.testing.assert_allclose(np.load(tmp_path / "pixel-shuffle.npy"),
                               np.load(tmp_path / "transconv.npy"), atol=2e-4)


# ------------------------------------------------------------------------------------------
# Bad input: one line, non-zero exit, nothing written
# ------------------------------------------------------------------------------------------


def test_pixel_shuffle_kernel_not_a_multiple_of_s_squared(run_cli, tmp_path):
    crop(tmp_path)
    np.save(tmp_path / "w.npy", np.ones((6, 3, 3, 3)))
    result = run_cli("enlarge", "cat.png", "-m", "pixel-shuffle", "-k", "w.npy", "--stride", "2",
                     "-o", "o.png")
    assert_one_line_error(result, 1, "w.npy", "not a multiple of", "4")
    assert not (tmp_path / "o.png").exists()


def test_cubic_a_outside_its_range_is_a_usage_error(run_cli, tmp_path):
    crop(tmp_path)
    for value in ("-1.5", "0.25", "nan"):
        result = run_cli("enlarge", "cat.png", "-m", "bicubic", "--cubic-a", value, "-o", "o.png")
        assert_one_line_error(result, 2, "--cubic-a")
    result = run_cli("enlarge", "cat.png", "-m", "lanczos", "--cubic-a", "-0.5", "-o", "o.png")
    assert_one_line_error(result, 2, "--cubic-a does not apply to lanczos")
    result = run_cli("enlarge", "cat.png", "-m", "bilinear", "--resize", "nearest", "-o", "o.png")
    assert_one_line_error(result, 2, "--resize does not apply to bilinear")
    result = run_cli("enlarge", "cat.png", "-m", "resize-conv", "--padding", "1", "-o", "o.png")
    assert_one_line_error(result, 2, "--padding does not apply to resize-conv")
    assert list(tmp_path.iterdir()) == [tmp_path / "cat.png"]


def test_resize_conv_even_kernel_is_centred_on_the_far_side_not_refused(run_cli, tmp_path):
    """The documented choice for an even kernel: PyTorch's 'same' (extra padding after)."""
    x = np.zeros((5, 5))
    x[2, 2] = 1.0
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "k.npy", np.array([[0.0, 0.0], [0.0, 1.0]]))  # picks the next pixel
    assert_ok(run_cli("enlarge", "x.npy", "-m", "resize-conv", "-k", "k.npy", "--stride", "1",
                      "-o", "y.npy"))
    y = np.load(tmp_path / "y.npy")
    assert y[1, 1] == 1.0 and y.sum() == 1.0  # output (1, 1) reads input (2, 2): tap (1, 1)


def test_conversions_that_do_not_exist(run_cli, tmp_path):
    np.save(tmp_path / "random.npy", np.random.default_rng(11).standard_normal((4, 4)))
    result = run_cli("kernels", "convert", "random.npy", "--from", "transconv", "--to",
                     "resize-conv", "--stride", "2", "-o", "rc.npy")
    assert_one_line_error(result, 1, "no nearest resize-convolution", "does not exist")
    result = run_cli("kernels", "convert", "checkerboard", "--from", "resize-conv", "--to",
                     "transconv", "-o", "x.json")
    assert_one_line_error(result, 1, "checkerboard preset has no nearest resize-convolution")
    result = run_cli("kernels", "convert", "bilinear", "--from", "transconv", "--to", "lanczos",
                     "-o", "x.json")
    assert_one_line_error(result, 2, "'lanczos' is not one of")
    result = run_cli("kernels", "convert", "bilinear", "--from", "transconv", "--to",
                     "transconv", "-o", "x.json")
    assert_one_line_error(result, 2, "nothing to convert")
    result = run_cli("kernels", "convert", "bilinear", "--from", "transconv", "--to",
                     "pixel-shuffle", "-o", "x.txt")
    assert_one_line_error(result, 2, ".npy or .json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["random.npy"]


def test_convert_does_not_overwrite_without_overwrite(run_cli, tmp_path):
    (tmp_path / "ps.json").write_text("keep")
    args = ["kernels", "convert", "bilinear", "--from", "transconv", "--to", "pixel-shuffle",
            "-o", "ps.json"]
    assert_one_line_error(run_cli(*args), 1, "ps.json", "--overwrite")
    assert (tmp_path / "ps.json").read_text() == "keep"
    assert_ok(run_cli(*args, "--overwrite"))
    assert load_kernel(tmp_path / "ps.json").weight.shape == (4, 3, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ps.json"]  # no temporary left


def test_transconv_refuses_a_3d_kernel_in_one_line(run_cli, tmp_path):
    crop(tmp_path)
    np.save(tmp_path / "phases.npy", np.ones((4, 3, 3)))
    result = run_cli("enlarge", "cat.png", "-m", "transconv", "-k", "phases.npy", "-o", "o.png")
    assert_one_line_error(result, 1, "phases.npy", "3-D", "pixel-shuffle")
    assert not (tmp_path / "o.png").exists()


def test_channel_mixing_kernel_against_the_image_channels(run_cli, tmp_path):
    crop(tmp_path)
    np.save(tmp_path / "w.npy", np.ones((4, 2, 3, 3)))  # takes 2 channels; the image has 3
    for method in ("pixel-shuffle", "resize-conv"):
        result = run_cli("enlarge", "cat.png", "-m", method, "-k", "w.npy", "-o", "o.png")
        assert_one_line_error(result, 1, "w.npy", "2 input channels", "has 3")
    assert not (tmp_path / "o.png").exists()
