"""Bicubic (PyTorch ``F.interpolate(mode="bicubic")``, and Pillow BICUBIC with a = -0.5 in the
interior) and Lanczos-3 (Pillow LANCZOS) at integer and non-integer scales and explicit sizes;
a plain-loop reference; banded == whole; bad ``cubic_a``."""

from __future__ import annotations

import math

import numpy as np
import pytest
import reference_impl as ref

from upsamp.errors import ParameterError
from upsamp.methods.cubic import bicubic
from upsamp.methods.lanczos import lanczos


def _torch():
    return pytest.importorskip("torch")


def _nchw(torch, x):
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)[None]))


def _hwc(y):
    return y[0].numpy().transpose(1, 2, 0)


def test_integer_factor_interior_equals_loop_reference():
    """The seeds' cubic convolution loop (Keys, a = -0.5) wherever it is defined."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((7, 8))
    for s in (2, 3):
        expected = ref.loop_cubic_interp(x, s, a=-0.5)
        y = bicubic(x, s, cubic_a=-0.5)
        inside = ~np.isnan(expected)
        assert inside.sum() > 20
        np.testing.assert_allclose(y[inside], expected[inside], atol=1e-12)


def test_flat_image_stays_flat_and_linear_ramp_is_reproduced():
    assert np.allclose(bicubic(np.full((4, 5), 7.0), 2.5), 7.0)
    assert np.allclose(lanczos(np.full((4, 5), 7.0), 2.5), 7.0)
    ramp = np.tile(np.arange(8.0), (3, 1))
    u = (np.arange(16) + 0.5) / 2 - 0.5
    # Keys: only a = -0.5 reproduces straight lines (and quadratics) exactly
    y = bicubic(ramp, size=(3, 16), cubic_a=-0.5)
    np.testing.assert_allclose(y[0, 3:-3], u[3:-3], atol=1e-12)
    assert np.abs(bicubic(ramp, size=(3, 16))[0, 3:-3] - u[3:-3]).max() > 0.01


@pytest.mark.parametrize("scale", [2, 3, 4, 1.5, 2.7, (1.25, 3.5), 0.75])
@pytest.mark.parametrize("align_corners", [False, True])
def test_bicubic_scale_equals_torch(scale, align_corners):
    torch = _torch()
    import torch.nn.functional as F

    rng = np.random.default_rng(1)
    x = rng.standard_normal((9, 11, 2))
    expected = F.interpolate(
        _nchw(torch, x), scale_factor=scale, mode="bicubic", align_corners=align_corners
    )
    y = bicubic(x, scale, align_corners)
    assert y.shape == _hwc(expected).shape
    np.testing.assert_allclose(y, _hwc(expected), atol=1e-12)


@pytest.mark.parametrize("size", [(20, 13), (31, 40), (9, 11), (5, 30)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bicubic_size_equals_torch(size, dtype):
    torch = _torch()
    import torch.nn.functional as F

    rng = np.random.default_rng(2)
    x = rng.standard_normal((9, 11, 3)).astype(dtype)
    for align_corners in (False, True):
        expected = F.interpolate(
            _nchw(torch, x), size=size, mode="bicubic", align_corners=align_corners
        )
        y = bicubic(x, size=size, align_corners=align_corners)
        assert y.dtype == dtype
        # float32: PyTorch also computes the source coordinates in float32
        tol = 1e-12 if dtype == np.float64 else 2e-5
        np.testing.assert_allclose(y, _hwc(expected), atol=tol, rtol=tol)


def _pillow_resize(x, size, name):
    pil = pytest.importorskip("PIL.Image")
    image = pil.fromarray(x.astype(np.float32), mode="F")
    return np.asarray(image.resize((size[1], size[0]), getattr(pil.Resampling, name)))


@pytest.mark.parametrize("size", [(26, 34), (40, 51), (20, 30), (39, 17)])
def test_bicubic_a_half_equals_pillow_in_the_interior(size):
    rng = np.random.default_rng(3)
    x = rng.random((13, 17)).astype(np.float32)
    expected = _pillow_resize(x, size, "BICUBIC")
    y = bicubic(x, size=size, cubic_a=-0.5)
    # Pillow renormalises taps cut off by a border; away from the borders they agree.
    margin = [2 * math.ceil(size[a] / x.shape[a]) + 2 for a in range(2)]
    inner = (slice(margin[0], -margin[0]), slice(margin[1], -margin[1]))
    np.testing.assert_allclose(y[inner], expected[inner], atol=2e-6)
    assert np.abs(y - expected).max() > 1e-3  # ... and the borders do differ


@pytest.mark.parametrize("size", [(26, 34), (40, 51), (20, 30), (13, 17), (7, 9), (100, 3)])
def test_lanczos_equals_pillow(size):
    rng = np.random.default_rng(4)
    x = rng.random((13, 17)).astype(np.float32)
    expected = _pillow_resize(x, size, "LANCZOS")
    np.testing.assert_allclose(lanczos(x, size=size), expected, atol=2e-6)


def test_lanczos_scale_uses_floor_size():
    x = np.random.default_rng(5).random((7, 9))
    assert lanczos(x, 1.5).shape == (10, 13)
    assert bicubic(x, 2.5).shape == (17, 22)


@pytest.mark.parametrize(
    "run",
    [
        lambda x, rows: bicubic(x, 2.5, rows=rows),
        lambda x, rows: bicubic(x, size=(31, 17), align_corners=True, rows=rows),
        lambda x, rows: lanczos(x, 3, rows=rows),
        lambda x, rows: lanczos(x, size=(29, 40), rows=rows),
    ],
)
def test_banded_equals_whole(run):
    x = np.random.default_rng(6).standard_normal((12, 9, 3)).astype(np.float32)
    whole = run(x, None)
    n = whole.shape[0]
    for start, stop in [(0, 1), (2, 9), (n - 4, n), (0, n)]:
        np.testing.assert_array_equal(run(x, (start, stop)), whole[start:stop])


def test_overshoot_is_real():
    step = np.array([[0.0, 0.0, 1.0, 1.0]])
    assert bicubic(step, 2).min() < 0 and bicubic(step, 2).max() > 1
    assert lanczos(step, 2).min() < 0 and lanczos(step, 2).max() > 1


@pytest.mark.parametrize("bad", [0.1, -1.01, float("nan"), float("inf")])
def test_cubic_a_outside_range(bad):
    with pytest.raises(ParameterError, match="cubic_a must be between -1 and 0"):
        bicubic(np.ones((3, 3)), 2, cubic_a=bad)


def test_bad_geometry():
    with pytest.raises(ParameterError, match="exactly one of scale and size"):
        lanczos(np.ones((3, 3)))
    with pytest.raises(ParameterError, match="positive"):
        bicubic(np.ones((3, 3)), -2)
