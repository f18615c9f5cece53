"""Numeric tests of sub-pixel convolution (pixel shuffle), resize-convolution and the conv2d they
share: against PyTorch (``F.pixel_shuffle(F.conv2d(...))``, ``F.conv2d(F.interpolate(...))``,
``nn.Conv2d(padding_mode=...)``) over random shapes, strides 2-4, channels, groups, bias and
dtypes; against plain loops written here from the definitions; banded == whole; presets through
pixel shuffle equal the transposed convolution; every error path.
"""

from __future__ import annotations

import numpy as np
import pytest

import upsamp
from upsamp.errors import KernelError, ParameterError
from upsamp.kernel_convert import icnr, transconv_to_pixel_shuffle
from upsamp.kernels import preset
from upsamp.methods.conv2d import conv2d, conv2d_padding
from upsamp.methods.pixel_shuffle import depth_to_space, pixel_shuffle
from upsamp.methods.resize_conv import resize_conv

# --------------------------------------------------------------------------------------------
# Plain-loop references (tests only)
# --------------------------------------------------------------------------------------------


def loop_conv2d_same_zero(x, w4, bias=None, groups=1):
    """Cross-correlation with PyTorch 'same' zero padding, one output value at a time."""
    h, w, c_in = x.shape
    c_out, c_in_g, kh, kw = w4.shape
    top, left = (kh - 1) // 2, (kw - 1) // 2
    c_out_g = c_out // groups
    y = np.zeros((h, w, c_out))
    for co in range(c_out):
        g = co // c_out_g
        for oh in range(h):
            for ow in range(w):
                total = 0.0 if bias is None else float(bias[co])
                for ci in range(c_in_g):
                    for th in range(kh):
                        for tw in range(kw):
                            ih, iw = oh + th - top, ow + tw - left
                            if 0 <= ih < h and 0 <= iw < w:
                                total += x[ih, iw, g * c_in_g + ci] * w4[co, ci, th, tw]
                y[oh, ow, co] = total
    return y


def loop_shuffle(conv, s):
    """Output (h*s + i, w*s + j, c) = conv[h, w, c*s*s + i*s + j]."""
    h, w, c = conv.shape
    y = np.zeros((h * s, w * s, c // (s * s)))
    for hh in range(h):
        for ww in range(w):
            for ch in range(c):
                cc, phase = divmod(ch, s * s)
                i, j = divmod(phase, s)
                y[hh * s + i, ww * s + j, cc] = conv[hh, ww, ch]
    return y


def test_seed_like_example_by_hand():
    """Four 1x1 filters 1..4 on [[1, 10]]: each pixel's cell holds its four multiples."""
    y = pixel_shuffle(np.array([[1.0, 10.0]]), np.arange(1.0, 5.0).reshape(4, 1, 1), 2)
    np.testing.assert_array_equal(y, [[1, 2, 10, 20], [3, 4, 30, 40]])


def test_pixel_shuffle_matches_loops():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 6, 4))
    w4 = rng.standard_normal((2 * 9, 2, 3, 3))
    b = rng.standard_normal(18)
    expected = loop_shuffle(loop_conv2d_same_zero(x, w4, b, groups=2), 3)
    np.testing.assert_allclose(pixel_shuffle(x, w4, 3, bias=b, groups=2), expected, atol=1e-12)


def test_resize_conv_matches_loops():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 5, 2))
    w4 = rng.standard_normal((3, 2, 4, 4))  # even: the extra padding row goes to the bottom
    z = np.repeat(np.repeat(x, 2, axis=0), 2, axis=1)
    expected = loop_conv2d_same_zero(z, w4)
    np.testing.assert_allclose(resize_conv(x, w4, 2), expected, atol=1e-12)


def test_depth_to_space_matches_loop():
    y = np.arange(2 * 3 * 8.0).reshape(2, 3, 8)
    np.testing.assert_array_equal(depth_to_space(y, 2), loop_shuffle(y, 2))


def test_same_padding_pads_the_far_side_for_even_kernels():
    assert conv2d_padding((4, 2), "same") == ((1, 2), (0, 1))
    assert conv2d_padding((5, 3), "same") == ((2, 2), (1, 1))


# --------------------------------------------------------------------------------------------
# Against PyTorch
# --------------------------------------------------------------------------------------------


def _torch():
    return pytest.importorskip("torch")


def _nchw(torch, x):
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)[None]))


def _hwc(y):
    return y[0].detach().numpy().transpose(1, 2, 0)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pixel_shuffle_equals_torch(seed, dtype):
    torch = _torch()
    import torch.nn.functional as F

    rng = np.random.default_rng(seed)
    s = int(rng.integers(2, 5))
    groups = int(rng.choice([1, 2]))
    c_in = 2 * groups
    c_out = int(rng.integers(1, 3)) * groups
    k = int(rng.integers(1, 6))
    x = rng.standard_normal((int(rng.integers(3, 9)), int(rng.integers(3, 9)), c_in)).astype(dtype)
    w = rng.standard_normal((s * s * c_out, c_in // groups, k, k)).astype(dtype)
    b = rng.standard_normal(s * s * c_out).astype(dtype) if seed % 2 else None
    padding = "same" if seed % 3 else int(rng.integers(0, 3))
    expected = F.pixel_shuffle(
        F.conv2d(
            _nchw(torch, x),
            torch.from_numpy(w),
            None if b is None else torch.from_numpy(b),
            padding=padding,
            groups=groups,
        ),
        s,
    )
    y = pixel_shuffle(x, w, s, bias=b, padding=padding, groups=groups)
    tol = 1e-12 if dtype == np.float64 else 2e-5
    assert y.dtype == dtype
    np.testing.assert_allclose(y, _hwc(expected), atol=tol, rtol=tol)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("resize", ["nearest", "bilinear"])
def test_resize_conv_equals_torch(seed, resize):
    torch = _torch()
    import torch.nn.functional as F

    rng = np.random.default_rng(100 + seed)
    s = int(rng.integers(2, 5))
    groups = int(rng.choice([1, 3]))
    c_in = 3
    c_out = 3 * int(rng.integers(1, 3))
    k = int(rng.integers(1, 6))
    dtype = np.float32 if seed % 2 else np.float64
    x = rng.standard_normal((int(rng.integers(3, 8)), int(rng.integers(3, 8)), c_in)).astype(dtype)
    w = rng.standard_normal((c_out, c_in // groups, k, k)).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype)
    extra = {} if resize == "nearest" else {"align_corners": False}
    z = F.interpolate(_nchw(torch, x), scale_factor=s, mode=resize, **extra)
    expected = F.conv2d(z, torch.from_numpy(w), torch.from_numpy(b), padding="same", groups=groups)
    y = resize_conv(x, w, s, resize=resize, bias=b, groups=groups)
    tol = 1e-12 if dtype == np.float64 else 3e-5
    np.testing.assert_allclose(y, _hwc(expected), atol=tol, rtol=tol)


@pytest.mark.parametrize("edge", ["replicate", "reflect"])
@pytest.mark.parametrize("k", [2, 3, 4])
def test_padding_modes_equal_torch_conv2d_module(edge, k):
    torch = _torch()
    import torch.nn.functional as F

    rng = np.random.default_rng(k)
    x = rng.standard_normal((6, 7, 2))
    w = rng.standard_normal((8, 2, k, k))
    conv = torch.nn.Conv2d(2, 8, k, padding="same", padding_mode=edge, bias=False).double()
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(w))
        expected = F.pixel_shuffle(conv(_nchw(torch, x)), 2)
        expected_rc = conv(F.interpolate(_nchw(torch, x), scale_factor=2, mode="nearest"))
    np.testing.assert_allclose(pixel_shuffle(x, w, 2, edge=edge), _hwc(expected), atol=1e-12)
    w_rc = w[:3]
    with torch.no_grad():
        conv3 = torch.nn.Conv2d(2, 3, k, padding="same", padding_mode=edge, bias=False).double()
        conv3.weight.copy_(torch.from_numpy(w_rc))
        expected_rc = conv3(F.interpolate(_nchw(torch, x), scale_factor=2, mode="nearest"))
    np.testing.assert_allclose(resize_conv(x, w_rc, 2, edge=edge), _hwc(expected_rc), atol=1e-12)


def test_conv2d_depthwise_equals_torch():
    torch = _torch()
    import torch.nn.functional as F

    rng = np.random.default_rng(9)
    x = rng.standard_normal((7, 8, 3))
    w2 = rng.standard_normal((3, 4))
    expected = F.conv2d(
        _nchw(torch, x), torch.from_numpy(np.tile(w2, (3, 1, 1, 1))), padding="same", groups=3
    )
    np.testing.assert_allclose(conv2d(x, w2, padding="same"), _hwc(expected), atol=1e-12)


# --------------------------------------------------------------------------------------------
# Presets through pixel shuffle, ICNR, banded processing
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["nearest", "bilinear", "bicubic", "gaussian", "checkerboard"])
@pytest.mark.parametrize("s", [2, 3, 4])
def test_presets_through_pixel_shuffle_equal_transconv(name, s):
    rng = np.random.default_rng(s)
    x = rng.standard_normal((9, 11, 3))
    kernel = preset(name, s)
    ps = transconv_to_pixel_shuffle(kernel)
    y = pixel_shuffle(x, ps.weight, s, padding=ps.padding, edge=ps.edge)
    expected = upsamp.transconv(x, kernel.weight, **kernel.transconv_kwargs())
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, atol=1e-12)


def test_icnr_is_nearest_resize_of_the_convolution():
    """ICNR: every phase the same filter -> nearest upsampling of conv2d with that filter."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 7, 2))
    filt = rng.standard_normal((3, 2, 3, 3))
    y = pixel_shuffle(x, icnr(filt, 3), 3)
    expected = upsamp.nearest(conv2d(x, filt, padding="same"), 3)
    np.testing.assert_allclose(y, expected, atol=1e-12)
    # a random sub-pixel kernel is not constant over the cells
    w = rng.standard_normal((27, 2, 3, 3))
    z = pixel_shuffle(x, w, 3)
    assert not np.allclose(z, upsamp.nearest(z[::3, ::3], 3))


@pytest.mark.parametrize(
    "run",
    [
        lambda x, rows: pixel_shuffle(x, np.ones((9, 2, 3, 3)) / 9, 3, rows=rows),
        lambda x, rows: pixel_shuffle(
            x, np.arange(4 * 25.0).reshape(4, 5, 5), 2, edge="reflect", rows=rows
        ),
        lambda x, rows: resize_conv(x, np.arange(1.0, 17).reshape(4, 4), 3, rows=rows),
        lambda x, rows: resize_conv(
            x, np.ones((2, 2, 3, 3)), 2, resize="bilinear", edge="replicate", rows=rows
        ),
        lambda x, rows: resize_conv(x, np.ones((5, 5)), 2, edge="reflect", rows=rows),
    ],
)
def test_banded_equals_whole(run):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((13, 10, 2))
    whole = run(x, None)
    n = whole.shape[0]
    for start, stop in [(0, 1), (1, 5), (4, 11), (n - 3, n), (5, 6), (0, n)]:
        np.testing.assert_array_equal(run(x, (start, stop)), whole[start:stop])


def test_uint8_input_follows_the_dtype_rule():
    x = np.arange(12, dtype=np.uint8).reshape(3, 4)
    y = pixel_shuffle(x, np.ones((4, 1, 1)), 2)
    assert y.dtype == np.float32 and y.shape == (6, 8)
    assert resize_conv(x, np.ones((3, 3)), 2).dtype == np.float32


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------


def test_output_channels_not_a_multiple_of_s_squared():
    with pytest.raises(KernelError, match=r"6 output channels, not a multiple of stride² = 4"):
        pixel_shuffle(np.ones((4, 4, 1)), np.ones((6, 1, 3, 3)), 2)


def test_three_d_kernel_needs_one_filter_per_phase():
    with pytest.raises(KernelError, match="one filter per phase: 9"):
        pixel_shuffle(np.ones((4, 4)), np.ones((4, 3, 3)), 3)


def test_channel_mismatch_and_groups():
    with pytest.raises(KernelError, match="input channels"):
        pixel_shuffle(np.ones((4, 4, 3)), np.ones((4, 2, 3, 3)), 2)
    with pytest.raises(KernelError, match="groups=2 must divide"):
        resize_conv(np.ones((4, 4, 3)), np.ones((2, 1, 3, 3)), 2, groups=2)


def test_bad_resize_edge_padding_and_stride():
    with pytest.raises(ParameterError, match="resize must be one of nearest, bilinear"):
        resize_conv(np.ones((4, 4)), np.ones((3, 3)), 2, resize="bicubic")
    with pytest.raises(ParameterError, match="edge must be one of"):
        pixel_shuffle(np.ones((4, 4)), np.ones((4, 3, 3)), 2, edge="wrap")
    with pytest.raises(ParameterError, match="padding must be"):
        pixel_shuffle(np.ones((4, 4)), np.ones((4, 3, 3)), 2, padding="full")
    with pytest.raises(ParameterError, match="one stride for both axes"):
        pixel_shuffle(np.ones((4, 4)), np.ones((4, 3, 3)), (2, 3))
    with pytest.raises(KernelError, match="NaN"):
        resize_conv(np.ones((4, 4)), np.array([[np.nan]]), 2)
    with pytest.raises(ParameterError, match="leaves no output"):
        pixel_shuffle(np.ones((2, 2)), np.ones((4, 5, 5)), 2, padding=0)
