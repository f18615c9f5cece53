"""upsamp.colour against plain-Python formulas written here."""

import math

import numpy as np
import pytest

from upsamp.colour import flatten, linear_to_srgb, premultiply, srgb_to_linear, unpremultiply


def _decode(v: float) -> float:  # IEC 61966-2-1, written out for one value
    return v / 12.92 if v <= 0.04045 else math.pow((v + 0.055) / 1.055, 2.4)


def _encode(v: float) -> float:
    return 12.92 * v if v <= 0.0031308 else 1.055 * math.pow(v, 1 / 2.4) - 0.055


@pytest.mark.parametrize("scale", [255, 65535])
def test_srgb_curve_against_its_formula(scale):
    codes = np.arange(0, scale + 1, max(1, scale // 1000), dtype=np.float64)
    got = srgb_to_linear(codes, scale=scale)
    want = np.array([_decode(c / scale) * scale for c in codes])
    assert np.max(np.abs(got - want)) < 1e-9 * scale
    back = linear_to_srgb(want, scale=scale)
    assert np.array_equal(np.rint(back), codes)
    enc = np.array([_encode(v / scale) * scale for v in want])
    assert np.max(np.abs(back - enc)) < 1e-9 * scale


def test_srgb_dtypes_and_known_points():
    x = np.array([0, 10, 128, 255], np.uint8)
    out = srgb_to_linear(x, scale=255)
    assert out.dtype == np.float32
    assert srgb_to_linear(x.astype(np.float64), scale=255).dtype == np.float64
    # 10/255 is on the linear segment; 128/255 is the familiar 21.6 % grey
    assert out[1] == pytest.approx(10 / 12.92, rel=1e-6)
    assert out[2] / 255 == pytest.approx(0.21586, abs=1e-5)
    with pytest.raises(ValueError, match="scale"):
        srgb_to_linear(x, scale=0)


def test_premultiply_unpremultiply():
    colour = np.array([[[200, 100, 50], [255, 255, 255]]], np.uint8)
    alpha = np.array([[51, 0]], np.uint8)
    pre = premultiply(colour, alpha, alpha_max=255)
    assert pre.dtype == np.float32
    assert np.allclose(pre, [[[40, 20, 10], [0, 0, 0]]])
    back = unpremultiply(pre, alpha, alpha_max=255)
    assert np.allclose(back, [[[200, 100, 50], [0, 0, 0]]])
    gray = unpremultiply(np.array([[3.0]]), np.array([[0.0]]), alpha_max=65535)
    assert gray.tolist() == [[0.0]]
    with pytest.raises(ValueError, match="does not fit"):
        premultiply(colour, np.zeros((2, 2)), alpha_max=255)


def test_flatten_is_over():
    colour = np.array([[[255.0, 0.0, 0.0]]])
    alpha = np.array([[255 * 0.25]])
    out = flatten(colour, alpha, (0.0, 0.0, 255.0), alpha_max=255)
    assert np.allclose(out, [[[63.75, 0.0, 191.25]]])
    with pytest.raises(ValueError, match="background"):
        flatten(colour, alpha, (1.0,), alpha_max=255)


def test_linear_light_keeps_the_light_of_stripes():
    """1-px black/white stripes enlarged x1.5 with bilinear: the mean of the linear light is
    kept to < 1 % in linear light, and lost by resampling the sRGB values."""
    from upsamp.methods import get_method
    from upsamp.methods.registry import MethodOptions

    stripes = np.zeros((16, 64), np.uint8)
    stripes[:, ::2] = 255
    bilinear = get_method("bilinear")
    opts = MethodOptions(scale=1.5)
    want = srgb_to_linear(stripes, scale=255).astype(np.float64).mean()
    linear = linear_to_srgb(bilinear.upsample(srgb_to_linear(stripes, scale=255), opts),
                            scale=255)  # fmt: skip
    got = srgb_to_linear(np.clip(np.rint(linear), 0, 255), scale=255).astype(np.float64).mean()
    assert abs(got - want) / want < 0.01
    plain = bilinear.upsample(stripes.astype(np.float32), opts)
    plain_light = srgb_to_linear(np.clip(np.rint(plain), 0, 255), scale=255).mean()
    assert abs(plain_light - want) / want > 0.2
