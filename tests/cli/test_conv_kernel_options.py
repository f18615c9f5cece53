"""``--groups``, ``--bias`` and ``--layout`` for pixel-shuffle and resize-conv, through
``upsamp enlarge``, against PyTorch's ``conv2d`` (+ ``pixel_shuffle`` / ``interpolate``)."""

from __future__ import annotations

import numpy as np
import pytest

from upsamp.methods import get_method

RNG = np.random.default_rng(13)

#: Conv2d weight (C_out, C_in/groups, kH, kW) stored in each framework's layout.
TO_LAYOUT = {
    "torch": lambda w: w,
    "keras": lambda w: np.transpose(w, (2, 3, 1, 0)),  # Conv2D (kH, kW, C_in/groups, C_out)
    "tflite": lambda w: np.transpose(w, (0, 2, 3, 1)),  # CONV_2D (C_out, kH, kW, C_in/groups)
}


def run_enlarge(run_cli, tmp_path, x, weight, method, *options):
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "w.npy", weight)
    result = run_cli(
        "enlarge", "x.npy", "-m", method, "-k", "w.npy", *options, "-o", "y.npy", "--overwrite"
    )
    assert result.exit_code == 0, result.output
    return np.load(tmp_path / "y.npy")


def torch_nchw(x):
    torch = pytest.importorskip("torch")
    return torch.from_numpy(np.ascontiguousarray(np.transpose(x, (2, 0, 1))))[None]


def to_hwc(t):
    return t[0].permute(1, 2, 0).numpy()


@pytest.mark.parametrize("layout", ["torch", "keras", "tflite"])
@pytest.mark.parametrize("groups, c_in, c_out", [(1, 3, 2), (2, 4, 2), (3, 3, 3)])
@pytest.mark.parametrize("stride", [2, 3])
def test_pixel_shuffle_with_groups_bias_and_layout_equals_torch(
    run_cli, tmp_path, layout, groups, c_in, c_out, stride
):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = RNG.random((5, 6, c_in))
    w = RNG.normal(size=(stride * stride * c_out, c_in // groups, 3, 3))
    b = RNG.normal(size=w.shape[0])
    bias_text = ",".join(repr(float(v)) for v in b)
    y = run_enlarge(
        run_cli, tmp_path, x, TO_LAYOUT[layout](w), "pixel-shuffle", "--stride", stride,
        "--groups", groups, "--bias", bias_text, "--layout", layout,
    )  # fmt: skip
    conv = F.conv2d(torch_nchw(x), torch.from_numpy(w), torch.from_numpy(b), padding=1,
                    groups=groups)  # fmt: skip
    expected = to_hwc(F.pixel_shuffle(conv, stride))
    np.testing.assert_allclose(y.reshape(expected.shape), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("layout", ["torch", "keras", "tflite"])
@pytest.mark.parametrize("resize", ["nearest", "bilinear"])
@pytest.mark.parametrize("groups, c_in, c_out", [(1, 3, 2), (3, 3, 6)])
def test_resize_conv_with_groups_bias_and_layout_equals_torch(
    run_cli, tmp_path, layout, resize, groups, c_in, c_out
):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = RNG.random((4, 5, c_in))
    w = RNG.normal(size=(c_out, c_in // groups, 3, 3))
    b = RNG.normal(size=c_out)
    np.save(tmp_path / "b.npy", b)
    y = run_enlarge(
        run_cli, tmp_path, x, TO_LAYOUT[layout](w), "resize-conv", "--stride", "2",
        "--resize", resize, "--groups", groups, "--bias", "b.npy", "--layout", layout,
    )  # fmt: skip
    mode = {"nearest": "nearest", "bilinear": "bilinear"}[resize]
    extra = {} if mode == "nearest" else {"align_corners": False}
    up = F.interpolate(torch_nchw(x), scale_factor=2, mode=mode, **extra)
    expected = to_hwc(F.conv2d(up, torch.from_numpy(w), torch.from_numpy(b), padding=1,
                               groups=groups))  # fmt: skip
    np.testing.assert_allclose(y.reshape(expected.shape), expected, rtol=0, atol=1e-12)


def test_one_bias_value_goes_to_every_channel_and_none_drops_the_files(run_cli, tmp_path):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = RNG.random((4, 4, 2))
    w = RNG.normal(size=(8, 2, 3, 3))
    y = run_enlarge(run_cli, tmp_path, x, w, "pixel-shuffle", "--bias", "0.5")
    conv = F.conv2d(torch_nchw(x), torch.from_numpy(w), torch.full((8,), 0.5, dtype=torch.float64),
                    padding=1)  # fmt: skip
    np.testing.assert_allclose(y, to_hwc(F.pixel_shuffle(conv, 2)), rtol=0, atol=1e-12)
    plain = run_enlarge(run_cli, tmp_path, x, w, "pixel-shuffle", "--bias", "none")
    conv = F.conv2d(torch_nchw(x), torch.from_numpy(w), padding=1)
    np.testing.assert_allclose(plain, to_hwc(F.pixel_shuffle(conv, 2)), rtol=0, atol=1e-12)


def test_the_registry_declares_the_options():
    for name in ("pixel-shuffle", "resize-conv", "transconv"):
        assert {"groups", "bias", "layout"} <= get_method(name).cli_options
    for name in ("nearest", "bilinear", "bicubic", "lanczos"):
        assert not {"groups", "bias", "layout"} & get_method(name).cli_options


@pytest.mark.parametrize(
    "method, weight_shape, options, needle",
    [
        ("pixel-shuffle", (8, 3, 3, 3), ("--bias", "1,2,3"), "--bias has 3 values"),
        ("pixel-shuffle", (8, 1, 3, 3), ("--groups", "3"), "groups=3 does not divide"),
        ("resize-conv", (3, 3, 3, 3), ("--bias", "1,2"), "--bias has 2 values"),
        ("resize-conv", (3, 3), ("--bias", "1,2"), "give one value"),
        # keras (kH, kW, C_in/groups, C_out) = (3, 3, 2, 3): 2 input channels, not the image's 3
        ("resize-conv", (3, 3, 2, 3), ("--layout", "keras"), "2 input channels"),
    ],
)
def test_bad_settings_are_one_line(run_cli, tmp_path, method, weight_shape, options, needle):
    np.save(tmp_path / "x.npy", RNG.random((4, 4, 3)))
    np.save(tmp_path / "w.npy", RNG.normal(size=weight_shape))
    result = run_cli("enlarge", "x.npy", "-m", method, "-k", "w.npy", *options, "-o", "y.npy")
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("upsamp: error: "), result.stderr
    assert needle in lines[0], lines[0]
    assert not (tmp_path / "y.npy").exists()


def test_layout_with_a_preset_is_refused(run_cli, tmp_path):
    np.save(tmp_path / "x.npy", RNG.random((4, 4)))
    for method in ("pixel-shuffle", "resize-conv"):
        result = run_cli(
            "enlarge", "x.npy", "-m", method, "-k", "bilinear", "--layout", "keras", "-o", "y.npy"
        )
        assert result.exit_code != 0
        assert "not to the preset 'bilinear'" in result.stderr
