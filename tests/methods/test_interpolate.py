"""Numeric tests of ``upsamp.nearest`` and ``upsamp.bilinear`` (half-pixel centres).

References (entries of docs/references.md): [seed-000]'s worked examples, loop implementations
from the definitions (``tests/reference_impl.py``), Pillow, and (when installed) PyTorch and
OpenCV.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import reference_impl as ref
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image

import upsamp
from upsamp.errors import ParameterError

FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _has_tie(n: int, n_out: int) -> bool:
    """True when some ``(o + 1/2) * n / n_out`` is an integer below ``n`` (a nearest tie)."""
    return any(
        (2 * o + 1) * n % (2 * n_out) == 0 and (2 * o + 1) * n // (2 * n_out) < n
        for o in range(n_out)
    )


# --------------------------------------------------------------------------------------------
# docs/references.md [seed-000]
# --------------------------------------------------------------------------------------------


def test_seed000_nearest():
    """docs/references.md [seed-000] 'K-nearest neighbours': [[1,2],[3,4]] duplicated by a factor
    of 2."""
    y = upsamp.nearest(np.array([[1, 2], [3, 4]]), 2)
    np.testing.assert_array_equal(y, [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]])


SEED000_BILINEAR_TABLE = np.array(
    [[10, 12, 17, 20], [15, 17, 22, 25], [25, 27, 32, 35], [30, 32, 37, 40]], dtype=np.float64
)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.uint8, np.int32])
def test_seed000_bilinear_table_is_floor(dtype):
    """docs/references.md [seed-000]: its bilinear table is the floor of the exact half-pixel
    result."""
    x = np.array([[10, 20], [30, 40]], dtype=dtype)
    y = upsamp.bilinear(x, 2)
    np.testing.assert_array_equal(np.floor(y), SEED000_BILINEAR_TABLE)
    exact = np.array(
        [[10, 12.5, 17.5, 20], [15, 17.5, 22.5, 25], [25, 27.5, 32.5, 35], [30, 32.5, 37.5, 40]]
    )
    np.testing.assert_allclose(y, exact, rtol=0, atol=1e-5)
    # weights 3/4 and 1/4 of the two nearest samples, edges clamped
    assert y[0, 1] == pytest.approx(0.75 * 10 + 0.25 * 20)


# --------------------------------------------------------------------------------------------
# Integer factors and the loop references
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sy", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("sx", [1, 2, 3, 5])
def test_nearest_integer_factor_is_repeat(sy, sx):
    rng = np.random.default_rng(sy * 10 + sx)
    x = rng.normal(size=(4, 5, 2))
    y = upsamp.nearest(x, (sy, sx))
    np.testing.assert_array_equal(y, np.repeat(np.repeat(x, sy, axis=0), sx, axis=1))
    if sy == sx:
        np.testing.assert_array_equal(upsamp.nearest(x, sy), y)
        np.testing.assert_array_equal(upsamp.nearest(x, float(sy)), y)
        np.testing.assert_array_equal(upsamp.nearest(x, size=(4 * sy, 5 * sx)), y)


@pytest.mark.parametrize("s", [1, 2, 3, 4, 7])
def test_bilinear_integer_factor_vs_loop(s):
    rng = np.random.default_rng(s)
    x = rng.normal(size=(5, 3, 2))
    y = upsamp.bilinear(x, s)
    np.testing.assert_allclose(y, ref.loop_bilinear(x, 5 * s, 3 * s), atol=1e-12)


def test_bilinear_scale_one_is_identity():
    x = np.random.default_rng(0).normal(size=(4, 6))
    np.testing.assert_array_equal(upsamp.bilinear(x, 1), x)
    np.testing.assert_array_equal(upsamp.nearest(x, 1), x)


@FAST
@given(
    h=st.integers(1, 7),
    w=st.integers(1, 7),
    out_h=st.integers(1, 20),
    out_w=st.integers(1, 20),
    channels=st.sampled_from([0, 1, 3]),
    seed=st.integers(0, 2**32 - 1),
)
def test_bilinear_size_vs_loop(h, w, out_h, out_w, channels, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(h, w) if channels == 0 else (h, w, channels))
    y = upsamp.bilinear(x, size=(out_h, out_w))
    assert y.shape == (out_h, out_w) + x.shape[2:]
    np.testing.assert_allclose(y, ref.loop_bilinear(x, out_h, out_w), atol=1e-12)


def _linear_step(n: int, n_out: int, scale: float) -> float:
    """Bilinear's source step for a scale: 1/scale, or 1 (a copy) on an axis that keeps its
    length, as PyTorch's linear modes do."""
    return 1.0 if n_out == n else 1 / scale


@FAST
@given(
    h=st.integers(1, 7),
    w=st.integers(1, 7),
    sy=st.sampled_from([1.25, 1.5, 1.75, 2.5, 3.0, 3.25, 0.5, 0.75]),
    sx=st.sampled_from([1.25, 1.5, 2.0, 2.5, 4.0, 0.625]),
    seed=st.integers(0, 2**32 - 1),
)
def test_noninteger_scale_vs_loop(h, w, sy, sx, seed):
    """With a scale the output is floor(n * scale) and the source step is 1/scale (dyadic scales
    here, so n * scale is exact); bilinear copies an axis that keeps its length."""
    out_h, out_w = int(np.floor(h * sy)), int(np.floor(w * sx))
    if min(out_h, out_w) < 1:
        with pytest.raises(ParameterError):
            upsamp.bilinear(np.zeros((h, w)), (sy, sx))
        return
    x = np.random.default_rng(seed).normal(size=(h, w))
    y = upsamp.bilinear(x, (sy, sx))
    assert y.shape == (out_h, out_w)
    steps = _linear_step(h, out_h, sy), _linear_step(w, out_w, sx)
    np.testing.assert_allclose(y, ref.loop_bilinear(x, out_h, out_w, *steps), atol=1e-12)
    yn = upsamp.nearest(x, (sy, sx))
    np.testing.assert_array_equal(yn, ref.loop_nearest(x, out_h, out_w, sy, sx))


@FAST
@given(
    h=st.integers(1, 9),
    w=st.integers(1, 9),
    out_h=st.integers(1, 30),
    out_w=st.integers(1, 30),
    seed=st.integers(0, 2**32 - 1),
)
def test_nearest_size_vs_exact_loop_without_ties(h, w, out_h, out_w, seed):
    """Nearest with an explicit size equals min(floor((o + 1/2) n / n_out), n - 1) computed in
    exact arithmetic (sizes where that value is never exactly an integer)."""
    if _has_tie(h, out_h) or _has_tie(w, out_w):
        return
    x = np.random.default_rng(seed).integers(0, 1000, size=(h, w, 2))
    y = upsamp.nearest(x, size=(out_h, out_w))
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, ref.loop_nearest(x, out_h, out_w))


# Exact ties: (o + 1/2) * n / n_out is an integer k. PyTorch's nearest-exact (on float32 and
# uint8 tensors) decides them in float32 arithmetic, and upsamp with it: below, the pairs of
# n < 40, n_out <= 4n + 2 where that gives k - 1 (the exact rule would give k), and pairs where
# it gives k. Found by scanning; the torch comparison over a grid is further down.
NEAREST_TIE_CASES = [
    (12, 37, 18, 6, 5),
    (14, 23, 11, 7, 6),
    (16, 41, 20, 8, 7),
    (12, 47, 23, 6, 6),
    (14, 55, 27, 7, 7),
    (20, 77, 38, 10, 10),
]


def _torch_nearest_index(n: int, n_out: int, scale: float | None = None) -> np.ndarray:
    """PyTorch nearest-exact's source index for float32/uint8 tensors, in its float32 steps:
    ``r = float32(1/scale)`` or ``float32(n) / float32(n_out)``, ``u = max(r * (o + 1/2) - 1/2,
    0)`` in float32, ``min(floor(float32(u + 1/2)), n - 1)``."""
    f32 = np.float32
    r = f32(1.0 / scale) if scale is not None else f32(n) / f32(n_out)
    u = np.maximum((r * (np.arange(n_out) + 0.5).astype(f32)).astype(f32) - f32(0.5), f32(0))
    return np.minimum(np.floor((u.astype(np.float64) + 0.5).astype(f32)).astype(int), n - 1)


@pytest.mark.parametrize(("n", "n_out", "o", "k", "index"), NEAREST_TIE_CASES)
def test_nearest_size_exact_ties(n, n_out, o, k, index):
    """At an exact tie (o + 0.5) * n / n_out is the integer k; nearest takes the sample PyTorch's
    float32 arithmetic gives (k or k - 1), checked here without torch installed."""
    assert (2 * o + 1) * n == 2 * n_out * k  # the tie is exact
    x = np.arange(n, dtype=np.float64)[None, :]
    y = upsamp.nearest(x, size=(1, n_out))
    np.testing.assert_array_equal(y[0], _torch_nearest_index(n, n_out))
    assert y[0, o] == index


# A non-integer scale whose output happens to be a whole multiple of the input:
# floor(n * scale) == f * n, yet the source step is 1/scale, not 1/f.
#   n=3, scale 2.3 -> 6 outputs, u = (o + 0.5) / 2.3 = 0.22, 0.65, 1.09, 1.52, 1.96, 2.39
#   n=4, scale 1.2 -> 4 outputs, u = 0.42, 1.25, 2.08, 2.92
SCALE_MULTIPLE_CASES = [(3, 2.3, [0, 0, 1, 1, 1, 2]), (4, 1.2, [0, 1, 2, 2]), (5, 3.1, None)]


@pytest.mark.parametrize(("n", "scale", "expected"), SCALE_MULTIPLE_CASES)
def test_nearest_scale_giving_whole_multiple_uses_one_over_scale(n, scale, expected):
    x = np.arange(float(n))[None, :]
    out = math.floor(n * scale)
    want = ref.loop_nearest(x, 1, out, 1, scale)
    if expected is not None:
        np.testing.assert_array_equal(want, [expected])
    np.testing.assert_array_equal(upsamp.nearest(x, (1, scale)), want)
    np.testing.assert_array_equal(upsamp.nearest(x.T, (scale, 1)), want.T)
    np.testing.assert_allclose(
        upsamp.bilinear(x, (1, scale)),
        ref.loop_bilinear(x, 1, out, 1.0, _linear_step(n, out, scale)),
        atol=1e-12,
    )


@pytest.mark.parametrize(("n", "scale", "expected"), SCALE_MULTIPLE_CASES)
def test_torch_scale_giving_whole_multiple(n, scale, expected):
    pytest.importorskip("torch")
    x = np.arange(float(n))[None, :]
    tn = _torch_interp(x, scale_factor=(1.0, scale), mode="nearest-exact")[:, :, 0]
    np.testing.assert_array_equal(upsamp.nearest(x, (1, scale)), tn)


@FAST
@given(
    h=st.integers(1, 8),
    w=st.integers(1, 8),
    sy=st.floats(0.6, 4.0),
    sx=st.floats(0.6, 4.0),
)
def test_arbitrary_float_scale_vs_loop(h, w, sy, sx):
    """Any float scale: size floor(n * scale) and source step exactly 1/scale on both methods."""
    if min(h * sy, w * sx) < 1:
        return
    # At (or within float32 rounding of) an exact tie, (o + 0.5) / scale an integer, nearest
    # follows PyTorch's float32 steps and the exact-fraction reference may not: such scales are
    # left to the torch comparisons.
    for n, scale in ((h, sy), (w, sx)):
        ratios = (np.arange(int(n * scale) + 1) + 0.5) / scale
        assume(np.all(np.abs(ratios - np.round(ratios)) > 1e-4))
    x = np.random.default_rng(h * 10 + w).normal(size=(h, w))
    y = upsamp.nearest(x, (sy, sx))
    out_h, out_w = y.shape
    assert h * sy - 1 < out_h <= h * sy + 1e-6 and w * sx - 1 < out_w <= w * sx + 1e-6
    np.testing.assert_array_equal(y, ref.loop_nearest(x, out_h, out_w, sy, sx))
    yb = upsamp.bilinear(x, (sy, sx))
    steps = _linear_step(h, out_h, sy), _linear_step(w, out_w, sx)
    np.testing.assert_allclose(yb, ref.loop_bilinear(x, out_h, out_w, *steps), atol=1e-12)


def test_nearest_downsampling_picks_centres():
    x = np.arange(12.0).reshape(1, 12)
    np.testing.assert_array_equal(upsamp.nearest(x, size=(1, 4)), [[1, 4, 7, 10]])
    np.testing.assert_array_equal(upsamp.nearest(x, size=(1, 3)), [[2, 6, 10]])


def test_bilinear_downsampling_by_two_averages_pairs():
    x = np.arange(8.0).reshape(2, 4)
    np.testing.assert_allclose(upsamp.bilinear(x, size=(1, 2)), [[2.5, 4.5]], atol=1e-12)


# --------------------------------------------------------------------------------------------
# align_corners
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("h", "w", "out_h", "out_w"), [(2, 2, 3, 3), (3, 4, 7, 10), (4, 3, 9, 5), (2, 3, 1, 5)]
)
def test_align_corners_formula(h, w, out_h, out_w):
    rng = np.random.default_rng(h * 100 + w)
    x = rng.normal(size=(h, w, 2))
    y = upsamp.bilinear(x, align_corners=True, size=(out_h, out_w))
    np.testing.assert_allclose(y, ref.loop_bilinear_align_corners(x, out_h, out_w), atol=1e-12)
    if out_h > 1 and out_w > 1:
        for r, c in [(0, 0), (0, -1), (-1, 0), (-1, -1)]:
            np.testing.assert_array_equal(y[r, c], x[r, c])  # corners kept exactly


def test_align_corners_example():
    """[[0, 3]] to width 4 with align_corners: u = o * (1/3) * ... gives 0, 1, 2, 3."""
    y = upsamp.bilinear(np.array([[0.0, 3.0]]), align_corners=True, size=(1, 4))
    np.testing.assert_allclose(y, [[0, 1, 2, 3]], atol=1e-12)
    y2 = upsamp.bilinear(np.array([[0.0, 3.0]]), size=(1, 4))
    np.testing.assert_allclose(y2, [[0, 0.75, 2.25, 3]], atol=1e-12)


# --------------------------------------------------------------------------------------------
# Dtype rule and errors
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [
        (np.float64, np.float64),
        (np.float32, np.float32),
        (np.float16, np.float32),
        (np.uint8, np.float32),
        (np.uint16, np.float32),
        (np.int32, np.float32),
        (np.int64, np.float32),
        (np.bool_, np.float32),
    ],
)
@pytest.mark.parametrize("method", ["nearest", "bilinear"])
def test_dtype_rule(dtype, expected, method):
    x = (np.arange(12).reshape(3, 4) % 2).astype(dtype)
    y = getattr(upsamp, method)(x, 2)
    assert y.dtype == expected
    y2 = getattr(upsamp, method)(x, size=(5, 7))
    assert y2.dtype == expected


def test_values_not_rescaled():
    x = np.array([[0, 255], [255, 0]], dtype=np.uint8)
    assert upsamp.nearest(x, 2).max() == 255.0
    assert upsamp.bilinear(x, 2).max() == 255.0


@pytest.mark.parametrize("method", ["nearest", "bilinear"])
@pytest.mark.parametrize("scale", [0, -1, -2.5, 0.0, float("nan"), float("inf"), (2, 0), (1, -1)])
def test_bad_scale(method, scale):
    with pytest.raises(ParameterError):
        getattr(upsamp, method)(np.ones((3, 3)), scale)


@pytest.mark.parametrize("method", ["nearest", "bilinear"])
def test_scale_xor_size(method):
    f = getattr(upsamp, method)
    with pytest.raises(ParameterError):
        f(np.ones((3, 3)))
    with pytest.raises(ParameterError):
        f(np.ones((3, 3)), 2, size=(6, 6))


@pytest.mark.parametrize("method", ["nearest", "bilinear"])
@pytest.mark.parametrize("size", [(0, 3), (3, -1), (1, 2, 3)])
def test_bad_size(method, size):
    with pytest.raises(ParameterError):
        getattr(upsamp, method)(np.ones((3, 3)), size=size)


@pytest.mark.parametrize("method", ["nearest", "bilinear"])
def test_scale_giving_empty_output(method):
    with pytest.raises(ParameterError):
        getattr(upsamp, method)(np.ones((3, 3)), 0.2)


# --------------------------------------------------------------------------------------------
# Pillow (a project dependency)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("h", "w", "out_h", "out_w"),
    [(4, 5, 8, 10), (4, 5, 12, 15), (3, 3, 7, 11), (5, 4, 13, 9), (6, 7, 17, 10), (2, 9, 5, 20)],
)
def test_pillow_bilinear_mode_f(h, w, out_h, out_w):
    rng = np.random.default_rng(h * w + out_h)
    x = rng.uniform(0, 100, size=(h, w)).astype(np.float32)
    pil = np.asarray(Image.fromarray(x).resize((out_w, out_h), Image.BILINEAR))
    y = upsamp.bilinear(x, size=(out_h, out_w))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, pil, rtol=0, atol=1e-4)


@pytest.mark.parametrize("s", [2, 3, 4, 5])
def test_pillow_nearest_integer_factor(s):
    x = np.random.default_rng(s).integers(0, 256, size=(5, 7), dtype=np.uint8)
    pil = np.asarray(Image.fromarray(x).resize((7 * s, 5 * s), Image.NEAREST))
    np.testing.assert_array_equal(upsamp.nearest(x, size=(5 * s, 7 * s)), pil)
    np.testing.assert_array_equal(upsamp.nearest(x, s), pil)


@pytest.mark.parametrize(
    ("h", "w", "out_h", "out_w"),
    [(3, 5, 7, 8), (5, 3, 8, 11), (7, 9, 10, 12), (9, 5, 20, 22), (6, 10, 4, 14), (9, 7, 4, 3)],
)
def test_pillow_nearest_non_integer(h, w, out_h, out_w):
    """Pillow's 16.16 fixed-point NEAREST breaks exact ties either way, so only sizes without a
    tie are compared (they are checked to have none)."""
    assert not _has_tie(h, out_h) and not _has_tie(w, out_w)
    x = np.random.default_rng(out_h).integers(0, 256, size=(h, w), dtype=np.uint8)
    pil = np.asarray(Image.fromarray(x).resize((out_w, out_h), Image.NEAREST))
    np.testing.assert_array_equal(upsamp.nearest(x, size=(out_h, out_w)), pil)


# --------------------------------------------------------------------------------------------
# PyTorch and OpenCV (optional)
# --------------------------------------------------------------------------------------------


def _torch_interp(x, **kwargs):
    torch = pytest.importorskip("torch")
    t = torch.from_numpy(np.ascontiguousarray(np.moveaxis(np.atleast_3d(x), 2, 0))[None])
    out = torch.nn.functional.interpolate(t, **kwargs)[0].numpy()
    return np.moveaxis(out, 0, 2)


@pytest.mark.parametrize("scale", [2, 3, 4, 1.5, 2.5, 1.25, 3.5, 1.7, (2, 3), (1.5, 2.5)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_torch_scale_factor(scale, dtype):
    pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 6, 2)).astype(dtype)
    sf = scale if isinstance(scale, tuple) else (scale, scale)
    tb = _torch_interp(x, scale_factor=sf, mode="bilinear", align_corners=False)
    tn = _torch_interp(x, scale_factor=sf, mode="nearest-exact")
    yb = upsamp.bilinear(x, scale)
    yn = upsamp.nearest(x, scale)
    assert yb.shape == tb.shape and yn.shape == tn.shape
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(yb, tb, rtol=0, atol=tol)
    np.testing.assert_array_equal(yn, tn)


@pytest.mark.parametrize(("out_h", "out_w"), [(10, 12), (7, 9), (13, 20), (6, 7), (3, 4), (1, 9)])
def test_torch_size(out_h, out_w):
    pytest.importorskip("torch")
    rng = np.random.default_rng(out_h)
    x = rng.normal(size=(5, 6, 3))
    tb = _torch_interp(x, size=(out_h, out_w), mode="bilinear", align_corners=False)
    np.testing.assert_allclose(upsamp.bilinear(x, size=(out_h, out_w)), tb, rtol=0, atol=1e-12)
    ta = _torch_interp(x, size=(out_h, out_w), mode="bilinear", align_corners=True)
    np.testing.assert_allclose(
        upsamp.bilinear(x, align_corners=True, size=(out_h, out_w)), ta, rtol=0, atol=1e-12
    )
    if not _has_tie(5, out_h) and not _has_tie(6, out_w):
        tn = _torch_interp(x, size=(out_h, out_w), mode="nearest-exact")
        np.testing.assert_array_equal(upsamp.nearest(x, size=(out_h, out_w)), tn)


@pytest.mark.parametrize("scale", [2, 3, 2.5])
def test_torch_align_corners_scale(scale):
    pytest.importorskip("torch")
    x = np.random.default_rng(1).normal(size=(4, 5))
    out = (int(4 * scale), int(5 * scale))
    ta = _torch_interp(x, size=out, mode="bilinear", align_corners=True)[:, :, 0]
    np.testing.assert_allclose(upsamp.bilinear(x, scale, align_corners=True), ta, atol=1e-12)


@pytest.mark.parametrize(("out_h", "out_w"), [(8, 10), (12, 15), (7, 13), (11, 6), (20, 21)])
def test_opencv_inter_linear_float32(out_h, out_w):
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(out_w)
    x = rng.uniform(0, 1, size=(4, 5, 3)).astype(np.float32)
    cv = cv2.resize(x, (out_w, out_h), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_allclose(upsamp.bilinear(x, size=(out_h, out_w)), cv, rtol=0, atol=1e-5)


@pytest.mark.parametrize("s", [2, 3, 4, 5])
def test_opencv_nearest_integer_factor(s):
    cv2 = pytest.importorskip("cv2")
    x = np.random.default_rng(s).integers(0, 256, size=(5, 6), dtype=np.uint8)
    for flag in (cv2.INTER_NEAREST, cv2.INTER_NEAREST_EXACT):
        cv = cv2.resize(x, (6 * s, 5 * s), interpolation=flag)
        np.testing.assert_array_equal(upsamp.nearest(x, s), cv)


def test_skimage_nearest_and_linear():
    transform = pytest.importorskip("skimage.transform")
    x = np.random.default_rng(9).uniform(size=(4, 6))
    sk0 = transform.resize(x, (12, 18), order=0, mode="edge", anti_aliasing=False)
    np.testing.assert_array_equal(upsamp.nearest(x, 3), sk0)
    sk1 = transform.resize(x, (12, 18), order=1, mode="edge", anti_aliasing=False)
    np.testing.assert_allclose(upsamp.bilinear(x, 3), sk1, atol=1e-12)


# --------------------------------------------------------------------------------------------
# Banded evaluation (rows=) and keep_dtype, where supported
# --------------------------------------------------------------------------------------------


def _accepts(func, name):
    import inspect

    return name in inspect.signature(func).parameters


@FAST
@given(
    h=st.integers(1, 6),
    w=st.integers(1, 6),
    scale=st.sampled_from([1, 2, 3, (2, 3), 1.5, 2.5]),
    size=st.sampled_from([None, (7, 5), (12, 3)]),
    align=st.booleans(),
    data=st.data(),
)
def test_rows_band_equals_full(h, w, scale, size, align, data):
    if not _accepts(upsamp.nearest, "rows") or not _accepts(upsamp.bilinear, "rows"):
        pytest.skip("no rows= argument")
    x = np.random.default_rng(h * 7 + w).normal(size=(h, w, 2)).astype(np.float32)
    kw = {"size": size} if size is not None else {}
    sc = None if size is not None else scale
    full_n = upsamp.nearest(x, sc, **kw)
    full_b = upsamp.bilinear(x, sc, align, **kw)
    r0 = data.draw(st.integers(0, full_n.shape[0] - 1))
    r1 = data.draw(st.integers(r0 + 1, full_n.shape[0]))
    np.testing.assert_array_equal(upsamp.nearest(x, sc, **kw, rows=(r0, r1)), full_n[r0:r1])
    np.testing.assert_array_equal(upsamp.bilinear(x, sc, align, **kw, rows=(r0, r1)), full_b[r0:r1])


def test_nearest_keep_dtype():
    if not _accepts(upsamp.nearest, "keep_dtype"):
        pytest.skip("no keep_dtype argument")
    x = np.array([[0, 255], [7, 65535]], dtype=np.uint16)
    for args, kw in [((2,), {}), ((), {"size": (3, 5)})]:
        y = upsamp.nearest(x, *args, **kw, keep_dtype=True)
        assert y.dtype == np.uint16
        np.testing.assert_array_equal(y, upsamp.nearest(x, *args, **kw).astype(np.uint16))


def test_bilinear_axis_that_keeps_its_length_is_copied():
    """``floor(n * scale) == n``: the axis is copied, as PyTorch does (not resampled with
    ``r = 1/scale``)."""
    np.testing.assert_array_equal(upsamp.bilinear(np.array([[0.0], [1.0]]), 1.25), [[0.0], [1.0]])
    x = np.arange(6.0).reshape(2, 3)
    y = upsamp.bilinear(x, (1.25, 2))
    np.testing.assert_array_equal(y, upsamp.bilinear(x, (1, 2)))
    np.testing.assert_array_equal(y[:, 0], x[:, 0])
    x8 = (x * 40).astype(np.uint8)
    np.testing.assert_array_equal(
        upsamp.bilinear(x8, (1.25, 2), keep_dtype=True),
        upsamp.bilinear(x8, (1, 2), keep_dtype=True),
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_torch_bilinear_axis_that_keeps_its_length(dtype):
    """Every (n, scale) with ``floor(n * scale) == n`` on one axis, the other axis enlarged."""
    pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    checked = 0
    for n in range(1, 13):
        for scale in np.arange(1.01, 2.0, 0.04):
            if int(n * scale) != n:
                continue
            for other in (2.0, 1.5):
                x = rng.normal(size=(n, 4, 2)).astype(dtype)
                expected = _torch_interp(
                    x, scale_factor=(float(scale), other), mode="bilinear", align_corners=False
                )
                got = upsamp.bilinear(x, (float(scale), other))
                assert got.shape == expected.shape
                tol = 1e-12 if dtype == np.float64 else 1e-5
                np.testing.assert_allclose(got, expected, rtol=0, atol=tol)
                got_t = upsamp.bilinear(np.swapaxes(x, 0, 1), (other, float(scale)))
                np.testing.assert_allclose(got_t, np.swapaxes(expected, 0, 1), rtol=0, atol=tol)
                checked += 1
    assert checked > 100


@pytest.mark.parametrize("dtype", [np.float32, np.uint8])
def test_torch_nearest_exact_grid(dtype):
    """nearest equals ``F.interpolate(mode="nearest-exact")`` on float32 and uint8 tensors for
    every size n -> n_out (n < 40, n_out <= 4n + 2) and every scale 1.01..3.99 (step 0.01) on
    n < 40, exact ties included."""
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    wrong = []
    for n in range(1, 40):
        x = (np.arange(n) * 7 % 251).astype(dtype)[None, :]
        t = torch.from_numpy(x)[None]
        cases = [dict(size=n_out) for n_out in range(1, 4 * n + 3)]
        cases += [dict(scale_factor=float(s)) for s in np.round(np.arange(1.01, 4.0, 0.01), 2)]
        for kwargs in cases:
            expected = functional.interpolate(t, mode="nearest-exact", **kwargs)[0].numpy()
            if "size" in kwargs:
                got = upsamp.nearest(x, size=(1, kwargs["size"]), keep_dtype=True)
            else:
                got = upsamp.nearest(x, (1.0, kwargs["scale_factor"]), keep_dtype=True)
            if got.shape != expected.shape or not np.array_equal(got, expected):
                wrong.append((n, kwargs))
    assert not wrong, wrong[:10]


def test_torch_nearest_exact_2d_channels_last():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(6).integers(0, 256, (12, 16, 3), dtype=np.uint8)
    t = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]
    t = t.contiguous(memory_format=torch.channels_last)
    for kwargs in (dict(size=(37, 47)), dict(scale_factor=(3.7, 2.9))):
        expected = torch.nn.functional.interpolate(t, mode="nearest-exact", **kwargs)
        expected = expected[0].numpy().transpose(1, 2, 0)
        if "size" in kwargs:
            got = upsamp.nearest(x, size=kwargs["size"], keep_dtype=True)
        else:
            got = upsamp.nearest(x, kwargs["scale_factor"], keep_dtype=True)
        np.testing.assert_array_equal(got, expected)


def test_nearest_issue_example_n6_scale_3_7():
    """n=6 at scale 3.7 (22 outputs): output 18 is a tie (18.5 / 3.7 = 5). In float64,
    18.5 * (1 / 3.7) = 4.999... gives sample 4; PyTorch's float32 steps give 5, and so does
    nearest."""
    assert int(np.floor(18.5 * (1 / 3.7))) == 4
    y = upsamp.nearest(np.arange(6.0)[None, :], (1, 3.7))
    assert y.shape == (1, 22)
    assert y[0, 18] == _torch_nearest_index(6, 22, 3.7)[18] == 5


@pytest.mark.parametrize(("n", "n_out"), [(640, 960), (12, 37), (5, 8), (9, 20)])
def test_pillow_nearest_differs_only_at_exact_ties(n, n_out):
    """Pillow NEAREST evaluates the same formula in 16.16 fixed point: it agrees everywhere but
    at exact ties ((o + 1/2) * n / n_out an integer), where either sample may be taken."""
    x = (np.arange(n) % 256).astype(np.uint8)[None, :].repeat(2, axis=0)
    pil = np.asarray(Image.fromarray(x).resize((n_out, 2), Image.NEAREST))[0]
    ours = upsamp.nearest(x, size=(2, n_out), keep_dtype=True)[0]
    o = np.arange(n_out)
    tie = (2 * o + 1) * n % (2 * n_out) == 0
    np.testing.assert_array_equal(ours[~tie], pil[~tie])
    if (n, n_out) == (640, 960):
        assert tie.sum() == 320 and 0 < (ours != pil).sum() <= 320


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("factor", [1, 2, 3, 4, (2, 3), (5, 1)])
def test_bilinear_transconv_gives_bilinear(dtype, factor):
    """``transconv(x, weight, **keywords)`` with ``bilinear_transconv(s)`` equals ``bilinear(x,
    s)`` exactly (same kernel, same engine); both agree with the plain loop."""
    from upsamp.methods.interpolate import bilinear_transconv

    x = np.random.default_rng(2).normal(size=(5, 7, 2)).astype(dtype)
    weight, keywords = bilinear_transconv(factor)
    y = upsamp.transconv(x, weight, **keywords)
    np.testing.assert_array_equal(y, upsamp.bilinear(x, factor))
    sh, sw = (factor, factor) if isinstance(factor, int) else factor
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(y, ref.loop_bilinear(x, 5 * sh, 7 * sw), rtol=0, atol=tol)
