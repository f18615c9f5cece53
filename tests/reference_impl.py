"""Slow, obviously-correct reference implementations, written from the definitions (tests only).

Everything here is a plain loop over output samples, input samples or kernel taps, so it shares
no code and no vectorisation trick with the package. Arrays are channel-last ``(H, W, C)`` unless
stated. References are entries of docs/references.md.

>>> x = np.array([[[1.0], [2.0]], [[3.0], [4.0]]])
>>> scatter_transconv(x, np.full((1, 1, 2, 2), 5.0))[..., 0]
array([[ 5., 15., 10.],
       [20., 50., 30.],
       [15., 35., 20.]])
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

__all__ = [
    "as_pair",
    "scatter_transconv",
    "loop_bilinear",
    "loop_bilinear_align_corners",
    "exact_bilinear_rounded",
    "loop_nearest",
    "keys_cubic",
    "loop_cubic_interp",
    "conv_matrix",
    "strided_correlate",
    "extend_index",
    "extend_image",
]


def as_pair(v) -> tuple[int, int]:
    """``3 -> (3, 3)``; ``(1, 2) -> (1, 2)``."""
    if isinstance(v, (int, np.integer)):
        return int(v), int(v)
    a, b = v
    return int(a), int(b)


def scatter_transconv(
    x: np.ndarray,
    w4: np.ndarray,
    stride=1,
    padding=0,
    output_padding=0,
    dilation=1,
    groups: int = 1,
    bias=None,
    edge: str = "zero",
) -> np.ndarray:
    """Transposed convolution by the scatter definition (PyTorch ``conv_transpose2d``), the
    textbook route: one strided slice accumulation per tap and channel pair.

    ``x``: (H, W, C_in); ``w4``: (C_in, C_out/groups, kH, kW). Every input sample ``x[i, ci]``
    adds ``x * w[ci, co, k]`` at ``o = i*s - p + k*d`` (per axis) for every tap ``k`` (zero taps
    too: ``inf * 0`` is NaN, as IEEE arithmetic gives), and only ``0 <= o < out`` is kept, with
    ``out = (i-1)*s - 2p + d*(k-1) + op + 1`` per axis. The output starts at the bias (or 0).

    ``edge="replicate"``/``"reflect"``: the input is first extended beyond its borders
    (:func:`extend_image`) by a margin ``m`` that covers every input reaching ``[0, out)``, the
    scatter runs with no padding, and ``[m*s + p, m*s + p + out)`` is kept. Returns float64.
    """
    x = np.asarray(x, dtype=np.float64)
    w4 = np.asarray(w4, dtype=np.float64)
    sh, sw = as_pair(stride)
    ph, pw = as_pair(padding)
    oph, opw = as_pair(output_padding)
    dh, dw = as_pair(dilation)
    h, w, c_in = x.shape
    assert w4.shape[0] == c_in and c_in % groups == 0
    c_out_g, kh, kw = w4.shape[1], w4.shape[2], w4.shape[3]
    c_in_g = c_in // groups
    c_out = c_out_g * groups
    out_h = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1
    out_w = (w - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
    if edge == "zero":
        mh = mw = 0
    else:
        # inputs reaching [0, out) lie within (d(k-1) + op)/s samples of the image
        mh = -(-(dh * (kh - 1) + oph) // sh) + 1
        mw = -(-(dw * (kw - 1) + opw) // sw) + 1
        x = extend_image(x, mh, mw, edge)
    start_h, start_w = mh * sh + ph, mw * sw + pw
    # canvas: the full scatter, long enough to hold the cropped window (output_padding may reach
    # past the scatter's end, where only the bias lands)
    full_h = max((x.shape[0] - 1) * sh + dh * (kh - 1) + 1, start_h + out_h)
    full_w = max((x.shape[1] - 1) * sw + dw * (kw - 1) + 1, start_w + out_w)
    y = np.zeros((full_h, full_w, c_out))
    if bias is not None:
        y += np.broadcast_to(np.asarray(bias, dtype=np.float64), (c_out,))
    with np.errstate(invalid="ignore"):  # inf * 0 and inf - inf are NaN, as they should be
        for a in range(kh):
            rows = slice(a * dh, a * dh + (x.shape[0] - 1) * sh + 1, sh)
            for b in range(kw):
                cols = slice(b * dw, b * dw + (x.shape[1] - 1) * sw + 1, sw)
                for ci in range(c_in):
                    g = ci // c_in_g
                    for col in range(c_out_g):
                        y[rows, cols, g * c_out_g + col] += x[:, :, ci] * w4[ci, col, a, b]
    return y[start_h : start_h + out_h, start_w : start_w + out_w]


def _source_linear(o: int, n: int, n_out: int, r: float | None) -> tuple[int, int, float]:
    """Half-pixel source position of output ``o``, clamped to ``[0, n-1]``."""
    u = (o + 0.5) * (n / n_out if r is None else r) - 0.5
    u = min(max(u, 0.0), n - 1.0)
    i0 = int(math.floor(u))
    i1 = min(i0 + 1, n - 1)
    return i0, i1, u - i0


def loop_bilinear(x, out_h: int, out_w: int, rh: float | None = None, rw: float | None = None):
    """Half-pixel bilinear interpolation with edge clamping, one output pixel at a time.

    ``u = (o + 0.5) * r - 0.5`` with ``r = n / n_out`` (or the given ``rh``/``rw``, i.e.
    ``1/scale``), clamped to ``[0, n-1]``. ``x`` may be (H, W) or (H, W, C). Returns float64.
    """
    x = np.asarray(x, dtype=np.float64)
    h, w = x.shape[:2]
    y = np.zeros((out_h, out_w) + x.shape[2:])
    for oh in range(out_h):
        a0, a1, fa = _source_linear(oh, h, out_h, rh)
        for ow in range(out_w):
            b0, b1, fb = _source_linear(ow, w, out_w, rw)
            y[oh, ow] = (
                (1 - fa) * (1 - fb) * x[a0, b0]
                + (1 - fa) * fb * x[a0, b1]
                + fa * (1 - fb) * x[a1, b0]
                + fa * fb * x[a1, b1]
            )
    return y


def loop_bilinear_align_corners(x, out_h: int, out_w: int):
    """Bilinear with ``u = o * (n-1) / (n_out-1)`` (``u = 0`` when ``n_out == 1``)."""
    x = np.asarray(x, dtype=np.float64)
    h, w = x.shape[:2]

    def src(o, n, n_out):
        u = o * (n - 1) / (n_out - 1) if n_out > 1 else 0.0
        i0 = min(int(math.floor(u)), n - 1)
        i1 = min(i0 + 1, n - 1)
        return i0, i1, (u - i0 if i1 != i0 else 0.0)

    y = np.zeros((out_h, out_w) + x.shape[2:])
    for oh in range(out_h):
        a0, a1, fa = src(oh, h, out_h)
        for ow in range(out_w):
            b0, b1, fb = src(ow, w, out_w)
            top = (1 - fb) * x[a0, b0] + fb * x[a0, b1]
            bottom = (1 - fb) * x[a1, b0] + fb * x[a1, b1]
            y[oh, ow] = (1 - fa) * top + fa * bottom
    return y


def exact_bilinear_rounded(
    x, out_h: int, out_w: int, rh=None, rw=None, align_corners: bool = False
) -> np.ndarray:
    """Half-pixel bilinear with clamped edges in exact rational arithmetic, rounded half to even
    into int64. ``rh``/``rw`` (numbers, converted exactly to fractions) are the source steps,
    default ``n / n_out``; ``align_corners`` uses ``u = o (n - 1) / (n_out - 1)``."""
    x = np.asarray(x)
    h, w = x.shape[:2]

    def taps(o: int, n: int, n_out: int, r) -> list[tuple[int, Fraction]]:
        if align_corners:
            u = Fraction(o * (n - 1), n_out - 1) if n_out > 1 else Fraction(0)
        else:
            step = Fraction(n, n_out) if r is None else Fraction(r)
            u = max(Fraction(2 * o + 1, 2) * step - Fraction(1, 2), Fraction(0))
        i0 = min(math.floor(u), n - 1)
        i1 = min(i0 + 1, n - 1)
        f = u - i0 if i1 != i0 else Fraction(0)
        return [(i0, 1 - f), (i1, f)]

    y = np.zeros((out_h, out_w) + x.shape[2:], dtype=np.int64)
    rows = [taps(o, h, out_h, rh) for o in range(out_h)]
    cols = [taps(o, w, out_w, rw) for o in range(out_w)]
    for oh in range(out_h):
        for ow in range(out_w):
            total = np.zeros(x.shape[2:], dtype=object)
            for ih, wh in rows[oh]:
                for iw, ww in cols[ow]:
                    total = total + x[ih, iw].astype(object) * (wh * ww)
            y[oh, ow] = np.vectorize(lambda v: round(Fraction(v)))(total)  # half to even
    return y


def _nearest_index(o: int, n: int, n_out: int, scale: Fraction | None) -> int:
    """``min(floor((o + 1/2) * r), n - 1)`` in exact arithmetic (``r = n/n_out`` or 1/scale)."""
    r = Fraction(n, n_out) if scale is None else 1 / scale
    return min(math.floor((Fraction(2 * o + 1, 2)) * r), n - 1)


def loop_nearest(x, out_h: int, out_w: int, scale_h=None, scale_w=None):
    """Half-pixel nearest neighbour ``min(floor((o + 1/2) * r), n - 1)`` in exact arithmetic.
    PyTorch ``nearest-exact`` (float32 steps) and Pillow NEAREST (fixed point) agree with it
    except at exact ties, where ``(o + 1/2) * r`` is an integer.

    ``scale_h``/``scale_w`` (numbers, converted exactly to fractions) replace ``r = n / n_out``
    by ``1 / scale``.
    """
    x = np.asarray(x)
    h, w = x.shape[:2]
    fh = None if scale_h is None else Fraction(scale_h)
    fw = None if scale_w is None else Fraction(scale_w)
    y = np.zeros((out_h, out_w) + x.shape[2:], dtype=np.float64)
    for oh in range(out_h):
        i = _nearest_index(oh, h, out_h, fh)
        for ow in range(out_w):
            y[oh, ow] = x[i, _nearest_index(ow, w, out_w, fw)]
    return y


def keys_cubic(t: float, a: float = -0.5) -> float:
    """Keys' cubic convolution kernel."""
    t = abs(t)
    if t <= 1:
        return (a + 2) * t**3 - (a + 3) * t**2 + 1
    if t < 2:
        return a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a
    return 0.0


def loop_cubic_interp(x, s: int, a: float = -0.5) -> np.ndarray:
    """Cubic convolution interpolation of a 2-D ``x`` by integer factor ``s``.

    Output ``(o_h, o_w)`` samples ``u = (o + 0.5) / s - 0.5`` and sums ``x[i, j] k(u_h - i)
    k(u_w - j)`` over the samples with ``|u - i| < 2``. Only interior samples are used: where one
    of them falls outside the image the result is NaN. Returns float64 ``(H*s, W*s)``.
    """
    x = np.asarray(x, dtype=np.float64)
    h, w = x.shape

    def taps(o, n):
        u = (o + 0.5) / s - 0.5
        out = []
        for i in range(math.floor(u) - 2, math.floor(u) + 3):
            if abs(u - i) < 2:
                if not 0 <= i < n:
                    return None
                out.append((i, keys_cubic(u - i, a)))
        return out

    y = np.full((h * s, w * s), np.nan)
    for oh in range(h * s):
        th = taps(oh, h)
        if th is None:
            continue
        for ow in range(w * s):
            tw = taps(ow, w)
            if tw is None:
                continue
            y[oh, ow] = sum(wi * wj * x[i, j] for i, wi in th for j, wj in tw)
    return y


def conv_matrix(kernel, in_shape: tuple[int, int], stride: int = 1) -> np.ndarray:
    """The matrix ``C`` of the valid, unflipped convolution (cross-correlation) of an image of
    ``in_shape`` with ``kernel`` at ``stride``: row ``r`` (output pixel in row-major order) holds
    the kernel placed at ``(oh*stride, ow*stride)`` in the flattened input
    (docs/references.md [seed-002]).
    """
    k = np.asarray(kernel, dtype=np.float64)
    kh, kw = k.shape
    h, w = in_shape
    out_h = (h - kh) // stride + 1
    out_w = (w - kw) // stride + 1
    c = np.zeros((out_h * out_w, h * w))
    for oh in range(out_h):
        for ow in range(out_w):
            for a in range(kh):
                for b in range(kw):
                    c[oh * out_w + ow, (oh * stride + a) * w + (ow * stride + b)] = k[a, b]
    return c


def strided_correlate(x2, k2, stride=1, padding=0, dilation=1) -> np.ndarray:
    """Forward convolution (cross-correlation, as Conv2d) of one plane, by loops:
    ``y[o] = sum_k x[o*s - p + k*d] * w[k]`` with zeros outside the input."""
    x2 = np.asarray(x2, dtype=np.float64)
    k2 = np.asarray(k2, dtype=np.float64)
    sh, sw = as_pair(stride)
    ph, pw = as_pair(padding)
    dh, dw = as_pair(dilation)
    h, w = x2.shape
    kh, kw = k2.shape
    out_h = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    out_w = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((out_h, out_w))
    for oh in range(out_h):
        for ow in range(out_w):
            acc = 0.0
            for a in range(kh):
                ih = oh * sh - ph + a * dh
                if not 0 <= ih < h:
                    continue
                for b in range(kw):
                    iw = ow * sw - pw + b * dw
                    if 0 <= iw < w:
                        acc += x2[ih, iw] * k2[a, b]
            y[oh, ow] = acc
    return y


def extend_index(i: int, n: int, mode: str) -> int:
    """Index into a length-``n`` axis extended beyond its ends: ``replicate`` clamps,
    ``reflect`` mirrors about the end samples without repeating them (period ``2(n-1)``)."""
    if mode == "replicate" or n == 1:
        return min(max(i, 0), n - 1)
    assert mode == "reflect"
    period = 2 * (n - 1)
    j = i % period
    return j if j < n else period - j


def extend_image(x, margin_h: int, margin_w: int, mode: str) -> np.ndarray:
    """``x`` (H, W, C) extended by ``margin`` samples per side with :func:`extend_index`."""
    x = np.asarray(x)
    h, w = x.shape[:2]
    rows = [extend_index(i, h, mode) for i in range(-margin_h, h + margin_h)]
    cols = [extend_index(j, w, mode) for j in range(-margin_w, w + margin_w)]
    return x[np.ix_(rows, cols)]
