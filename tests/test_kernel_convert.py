"""``upsamp.kernel_convert``: every round trip A -> B -> A, and equivalence of the converted
kernel through the real methods on random float64 inputs (difference ~1e-12)."""

from __future__ import annotations

import numpy as np
import pytest

from upsamp.errors import KernelError, ParameterError
from upsamp.kernel_conversion import apply_form, convert, max_difference
from upsamp.kernel_convert import (
    icnr,
    pixel_shuffle_to_transconv,
    resize_conv_to_transconv,
    transconv_to_pixel_shuffle,
    transconv_to_resize_conv,
)
from upsamp.kernels import Kernel, preset

PRESETS = ["nearest", "bilinear", "bicubic", "gaussian", "bed-of-nails", "checkerboard"]


def _random_transconv(rng: np.random.Generator) -> Kernel:
    s = int(rng.integers(1, 5))
    kh, kw = (int(v) for v in rng.integers(1, 8, 2))
    dilation = (int(rng.integers(1, 3)), 1)
    padding = (int(rng.integers(0, 3)), int(rng.integers(0, 3)))
    output_padding = (int(rng.integers(0, max(s, dilation[0]))), int(rng.integers(0, s)))
    depthwise = bool(rng.random() < 0.5)
    groups = int(rng.choice([1, 2]))
    weight = rng.standard_normal((kh, kw) if depthwise else (2 * groups, 3, kh, kw))
    return Kernel(
        weight=weight,
        stride=(s, s),
        padding=padding,
        output_padding=output_padding,
        dilation=dilation,
        groups=None if depthwise else groups,
        bias=None if depthwise else rng.standard_normal(3 * groups),
        edge=str(rng.choice(["zero", "replicate", "reflect"])),
    )


@pytest.mark.parametrize("name", PRESETS)
@pytest.mark.parametrize("s", [2, 3, 4])
def test_presets_transconv_pixel_shuffle_transconv(name, s):
    kernel = preset(name, s)
    ps = transconv_to_pixel_shuffle(kernel)
    diff, shape_a, shape_b = max_difference(kernel, "transconv", ps, "pixel-shuffle")
    assert shape_a == shape_b and diff < 1e-12
    back = pixel_shuffle_to_transconv(ps)
    diff, shape_a, shape_b = max_difference(kernel, "transconv", back, "transconv")
    assert shape_a == shape_b and diff < 1e-12
    if name != "bed-of-nails":  # [1, 0] with op 0 comes back as the same [1] with op 1
        np.testing.assert_allclose(back.weight, kernel.weight, atol=1e-15)
        assert (back.padding, back.output_padding) == (kernel.padding, kernel.output_padding)


@pytest.mark.parametrize("seed", range(40))
def test_random_transconv_round_trip(seed):
    rng = np.random.default_rng(seed)
    kernel = _random_transconv(rng)
    ps = convert(kernel, "transconv", "pixel-shuffle")
    diff, shape_tc, shape_ps = max_difference(kernel, "transconv", ps, "pixel-shuffle", seed=seed)
    s = kernel.stride[0]
    # the sub-pixel form makes whole cells: ceil(L / s) * s, its top-left L x L is the same
    assert all(-(-a // s) * s == b for a, b in zip(shape_tc[:2], shape_ps[:2], strict=True))
    assert diff < 1e-12
    back = convert(ps, "pixel-shuffle", "transconv")
    diff, _, _ = max_difference(kernel, "transconv", back, "transconv", seed=seed)
    assert diff < 1e-12
    again = convert(back, "transconv", "pixel-shuffle")
    assert again.weight.shape == ps.weight.shape and again.padding == ps.padding
    np.testing.assert_array_equal(again.weight, ps.weight)


@pytest.mark.parametrize("seed", range(20))
def test_random_pixel_shuffle_round_trip(seed):
    rng = np.random.default_rng(1000 + seed)
    s = int(rng.integers(2, 5))
    k = int(rng.choice([1, 3, 5]))
    groups = int(rng.choice([1, 2]))
    weight = rng.standard_normal((s * s * 2 * groups, 2, k, k))
    bias = np.repeat(rng.standard_normal(2 * groups), s * s)
    kernel = Kernel(weight=weight, stride=(s, s), padding=(k // 2, k // 2), groups=groups,
                    bias=bias, edge=str(rng.choice(["zero", "replicate"])))  # fmt: skip
    tc = convert(kernel, "pixel-shuffle", "transconv")
    diff, a, b = max_difference(kernel, "pixel-shuffle", tc, "transconv", seed=seed)
    assert a == b and diff < 1e-12
    back = convert(tc, "transconv", "pixel-shuffle")
    assert back.padding == kernel.padding
    np.testing.assert_allclose(back.weight, weight, atol=1e-15)
    np.testing.assert_allclose(back.bias, bias)


def test_even_same_padding_sub_pixel_kernel_converts():
    rng = np.random.default_rng(7)
    kernel = Kernel(weight=rng.standard_normal((4, 2, 2)), stride=(2, 2), padding="same")
    tc = convert(kernel, "pixel-shuffle", "transconv")
    diff, a, b = max_difference(kernel, "pixel-shuffle", tc, "transconv")
    assert a == b and diff < 1e-12


@pytest.mark.parametrize("seed", range(30))
@pytest.mark.parametrize("resize", ["nearest", "bilinear"])
def test_resize_conv_round_trips(seed, resize):
    rng = np.random.default_rng(seed)
    s = int(rng.integers(1, 5))
    k = int(rng.integers(1, 6))
    depthwise = bool(rng.random() < 0.5)
    groups = int(rng.choice([1, 2]))
    weight = (
        rng.standard_normal((k, k + int(rng.integers(0, 2))))
        if depthwise
        else rng.standard_normal((3 * groups, 2, k, k))
    )
    edge = "replicate" if resize == "bilinear" else str(rng.choice(["zero", "replicate"]))
    kernel = Kernel(
        weight=weight,
        stride=(s, s),
        groups=None if depthwise else groups,
        bias=None if depthwise else rng.standard_normal(3 * groups),
        edge=edge,
    )
    tc = convert(kernel, "resize-conv", "transconv", resize=resize)
    diff, a, b = max_difference(kernel, "resize-conv", tc, "transconv", resize=resize, seed=seed)
    assert a == b and diff < 1e-12
    ps = convert(kernel, "resize-conv", "pixel-shuffle", resize=resize)
    diff, a, b = max_difference(kernel, "resize-conv", ps, "pixel-shuffle", resize=resize)
    assert a == b and diff < 1e-12
    back = convert(tc, "transconv", "resize-conv", resize=resize)
    assert back.weight.shape == weight.shape
    np.testing.assert_allclose(back.weight, weight, atol=1e-9)
    back2 = convert(ps, "pixel-shuffle", "resize-conv", resize=resize)
    np.testing.assert_allclose(back2.weight, weight, atol=1e-9)


def test_nearest_resize_conv_is_box_convolved_with_flipped_kernel():
    k = np.array([[1.0, 2.0, 3.0]])
    tc = resize_conv_to_transconv(Kernel(weight=k, stride=(2, 2)))
    # box_2 (2x2 ones) ⊛ flip(k) = [[3, 5, 3, 1], [3, 5, 3, 1]]
    np.testing.assert_array_equal(tc.weight, [[3, 5, 3, 1], [3, 5, 3, 1]])
    assert tc.padding == (0, 1) and tc.output_padding == (0, 0)


def test_nearest_preset_is_a_resize_conv_with_the_identity():
    rc = transconv_to_resize_conv(preset("nearest", 3))
    np.testing.assert_array_equal(rc.weight, [[1.0]])


def test_bilinear_preset_is_a_bilinear_resize_conv_with_the_identity():
    rc = transconv_to_resize_conv(preset("bilinear", 2), "bilinear")
    np.testing.assert_allclose(rc.weight, [[1.0]], atol=1e-12)


def test_icnr_kernel_converts_to_a_nearest_resize_conv():
    rng = np.random.default_rng(8)
    filt = rng.standard_normal((3, 3))
    kernel = Kernel(weight=icnr(filt, 2), stride=(2, 2), padding=(1, 1))
    x = rng.standard_normal((6, 6, 3))
    rc = convert(kernel, "pixel-shuffle", "resize-conv")
    # ICNR = conv then nearest; as resize-conv its kernel is not filt (conv and resize do not
    # commute), but the operation is the same
    np.testing.assert_allclose(
        apply_form(x, rc, "resize-conv"), apply_form(x, kernel, "pixel-shuffle"), atol=1e-12
    )


# --------------------------------------------------------------------------------------------
# Conversions that do not exist
# --------------------------------------------------------------------------------------------


def test_arbitrary_transconv_has_no_resize_conv_form():
    with pytest.raises(KernelError, match="does not exist"):
        transconv_to_resize_conv(preset("checkerboard", 2))
    rng = np.random.default_rng(9)
    with pytest.raises(KernelError, match="no nearest resize-convolution"):
        convert(Kernel(weight=rng.standard_normal((4, 4)), stride=(2, 2), padding=(1, 1)),
                "transconv", "resize-conv")  # fmt: skip


def test_bilinear_with_zero_padding_has_no_transconv_form():
    with pytest.raises(KernelError, match="zero padding has no transposed-convolution form"):
        resize_conv_to_transconv(Kernel(weight=np.ones((3, 3)), stride=(2, 2)), "bilinear")
    with pytest.raises(KernelError, match="reflect padding"):
        resize_conv_to_transconv(Kernel(weight=np.ones((3, 3)), stride=(2, 2), edge="reflect"))


def test_phase_dependent_bias_has_no_transconv_form():
    kernel = Kernel(weight=np.ones((4, 1, 1, 1)), stride=(2, 2), padding=(0, 0),
                    bias=np.arange(4.0))  # fmt: skip
    with pytest.raises(KernelError, match="bias differs between the phases"):
        pixel_shuffle_to_transconv(kernel)


def test_bad_sub_pixel_shapes_and_forms():
    with pytest.raises(KernelError, match="not a multiple of stride² = 4"):
        pixel_shuffle_to_transconv(Kernel(weight=np.ones((6, 1, 3, 3)), stride=(2, 2)))
    with pytest.raises(KernelError, match="one factor for both axes"):
        transconv_to_pixel_shuffle(Kernel(weight=np.ones((3, 3)), stride=(2, 3)))
    with pytest.raises(ParameterError, match="nothing to convert"):
        convert(preset("bilinear", 2), "transconv", "transconv")
    with pytest.raises(ParameterError, match="from must be one of"):
        convert(preset("bilinear", 2), "deconv", "transconv")


def test_subpixel_kernel_specs(tmp_path):
    from upsamp.kernel_convert import subpixel_kernel

    bil = subpixel_kernel("bilinear", 2)
    assert bil.weight.shape == (4, 3, 3) and bil.edge == "replicate"
    flat = subpixel_kernel("icnr:bilinear", 2)
    assert all(np.array_equal(flat.weight[0], flat.weight[n]) for n in range(4))
    assert flat.weight[0].sum() == pytest.approx(1.0)
    np.save(tmp_path / "f.npy", np.ones((2, 3, 3, 3)))
    from_file = subpixel_kernel(f"icnr:{tmp_path / 'f.npy'}", 3)
    assert from_file.weight.shape == (18, 3, 3, 3) and from_file.padding == "same"
    np.save(tmp_path / "w.npy", np.ones((8, 3, 1, 1)))
    plain = subpixel_kernel(str(tmp_path / "w.npy"), 2)
    assert plain.padding == "same" and plain.stride == (2, 2)
    with pytest.raises(KernelError, match="no such kernel file"):
        subpixel_kernel("icnr:nothing", 2)
