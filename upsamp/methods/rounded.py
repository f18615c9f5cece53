"""Exact integer bilinear interpolation of 8- and 16-bit images: the exact value of the
half-pixel formula, rounded half to even.

Integer factors (:func:`bilinear_rounded`): for factor ``s`` the weights are multiples of
``1/(2s)`` per axis, the integer taps ``2s - |2t - (K - 1)|`` (``K = 2s - s % 2``, the FCN
bilinear kernel of docs/references.md [Long2015-FCN]) over ``2s``, applied as a transposed
convolution with stride ``s``, padding ``floor(s/2)`` and replicated edges. The sum is
accumulated in integers and divided by ``2 s_h · 2 s_w`` with rounding half to even.

Any other request (:func:`linear_rounded`): the source coordinate ``u`` of every output sample
is a rational number with a common denominator ``D`` per axis (``2 n_out`` for a size, ``2p``
for a scale ``p/q``, ``n_out - 1`` with ``align_corners``), so the weights are integers over
``D`` and the same exact evaluation applies while ``max|x| · D_h · D_w`` fits in 62 bits.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from .._arrays import int_pair, row_range
from ..errors import ParameterError
from ..threads import run_in_bands
from .polyphase import full_window

__all__ = [
    "ROUNDED_DTYPES",
    "LinearAxis",
    "bilinear_rounded",
    "integer_bilinear_taps",
    "linear_axis",
    "linear_rounded",
    "round_near_halves",
]

#: The input dtypes :func:`bilinear_rounded` takes.
ROUNDED_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16))


def integer_bilinear_taps(s: int) -> np.ndarray:
    """The bilinear taps for factor ``s`` times ``2s``: ``2s - |2t - (K - 1)|``, ``K = 2s - s%2``.

    >>> integer_bilinear_taps(2).tolist(), integer_bilinear_taps(3).tolist()
    ([1, 3, 3, 1], [2, 4, 6, 4, 2])
    """
    size = 2 * s - s % 2
    return 2 * s - np.abs(2 * np.arange(size) - (size - 1))


def bilinear_rounded(
    x: np.ndarray, factor: tuple[int, int], *, rows: tuple[int, int] | None = None
) -> np.ndarray:
    """Bilinear upsampling of an 8- or 16-bit image by an integer factor, rounded half to even
    into the input's dtype, computed exactly in integer arithmetic.

    The result is the exact half-pixel bilinear value (edges clamped) rounded half to even: with
    ``N = sum w_h w_w x`` accumulated in integers (the taps of :func:`integer_bilinear_taps`),
    ``y = round_half_even(N / (2 s_h · 2 s_w))``. ``rows=(start, stop)`` computes only those
    output rows.

    >>> bilinear_rounded(np.array([[0, 2]], dtype=np.uint8), (1, 2))
    array([[0, 0, 2, 2]], dtype=uint8)
    """
    if x.dtype not in ROUNDED_DTYPES:
        raise ParameterError(f"bilinear_rounded needs uint8 or uint16 input, got {x.dtype}")
    sh, sw = int_pair(factor, "factor", minimum=1)
    taps = [integer_bilinear_taps(sh), integer_bilinear_taps(sw)]
    denominator = (2 * sh) * (2 * sw)
    peak = int(np.iinfo(x.dtype).max) * denominator + denominator  # room for rounding
    work = np.dtype(np.uint16 if peak < 2**16 else np.uint32 if peak < 2**32 else np.uint64)
    x3 = x if x.ndim == 3 else x[:, :, None]
    out_h, out_w = x.shape[0] * sh, x.shape[1] * sw
    packed = (
        x.dtype == np.uint8
        and 1 < x3.shape[2] <= 4
        and peak < 2**16
        and denominator & (denominator - 1) == 0
    )
    if packed:
        # Several 8-bit channels share one uint64, 16 bits each ("SIMD within a register"): the
        # passes then move whole pixels as single numbers, and no 16-bit lane can overflow.
        lanes = np.zeros(x3.shape[:2] + (1,), dtype=np.uint64)
        _lane_bytes(lanes, x3.shape[2])[...] = x3  # channel c -> low byte of lane c
        x3, work = lanes, np.dtype(np.uint64)
    weight = np.outer(taps[0], taps[1]).astype(np.float64)[None, None]
    factors = (taps[0].astype(np.float64), taps[1].astype(np.float64))
    r0, r1 = row_range(rows, out_h)
    result = np.empty((r1 - r0, out_w) + x.shape[2:], dtype=x.dtype)

    def band(start: int, stop: int) -> None:
        total = full_window(
            x3,
            weight,
            groups=1,
            depthwise=True,
            stride=(sh, sw),
            dilation=(1, 1),
            origin=(sh // 2, sw // 2),
            out_shape=(out_h, out_w),
            rows=(start, stop),
            dtype=work,
            edge="replicate",
            threads=1,
            factors=factors,
        )
        if packed:
            values = _unpack_rounded(total[:, :, 0], denominator, x.shape[2])
        else:
            values = _divide_half_even(total, denominator).astype(x.dtype)
            values = values if x.ndim == 3 else values[:, :, 0]
        result[start - r0 : stop - r0] = values

    # Every step (passes, rounding, unpacking) runs band by band on all threads; numpy
    # releases the GIL in each of them.
    run_in_bands(band, r0, r1, rows_per_band=max(8, (1 << 20) // max(1, out_w)))
    return result


#: ``(i0, i1, w1, D)`` of one axis: ``y[o] = ((D - w1[o]) x[i0[o]] + w1[o] x[i1[o]]) / D``.
LinearAxis = tuple[np.ndarray, np.ndarray, np.ndarray, int]


def linear_axis(n: int, n_out: int, step: Fraction, align_corners: bool) -> LinearAxis | None:
    """The exact half-pixel weights of one axis as integers over a common denominator ``D``.

    ``u = max((o + 1/2) * step - 1/2, 0)`` (or ``u = o * step`` with ``align_corners``),
    ``i0 = min(floor(u), n - 1)``, ``i1 = min(i0 + 1, n - 1)``, ``w1 = (u - i0) * D`` (0 where
    ``i1 == i0``). None when ``D`` or the numerators would not fit comfortably in 64 bits.

    >>> i0, i1, w1, d = linear_axis(2, 3, Fraction(2, 3), False)
    >>> i0.tolist(), i1.tolist(), w1.tolist(), d
    ([0, 0, 1], [1, 1, 1], [0, 3, 0], 6)
    """
    a, b = step.numerator, step.denominator
    if align_corners:
        numerator, denominator = [o * a for o in range(n_out)], b
    else:
        numerator = [max((2 * o + 1) * a - b, 0) for o in range(n_out)]
        denominator = 2 * b
    if denominator > 2**31 or max(numerator, default=0) > 2**62:
        return None
    u = np.array(numerator, dtype=np.int64)
    i0 = np.minimum(u // denominator, n - 1)
    i1 = np.minimum(i0 + 1, n - 1)
    w1 = np.where(i1 == i0, 0, u - i0 * denominator)
    return i0.astype(np.intp), i1.astype(np.intp), w1, denominator


def linear_rounded(
    x: np.ndarray, axes: tuple[LinearAxis, LinearAxis], *, rows: tuple[int, int] | None = None
) -> np.ndarray | None:
    """Bilinear interpolation of an 8- or 16-bit image with the exact weights ``axes`` (rows,
    then columns; see :func:`linear_axis`), rounded half to even into ``x``'s dtype: the sum
    ``N = sum (D_h - w1) ... x`` is accumulated in int64 and divided by ``D_h D_w``. None when
    ``max|x| · D_h · D_w`` does not fit in 62 bits.

    >>> rows = linear_axis(1, 1, Fraction(1), False)
    >>> cols = linear_axis(2, 4, Fraction(1, 2), False)
    >>> linear_rounded(np.array([[0, 3]], dtype=np.uint8), (rows, cols))
    array([[0, 1, 2, 3]], dtype=uint8)
    """
    if x.dtype not in ROUNDED_DTYPES:
        raise ParameterError(f"linear_rounded needs uint8 or uint16 input, got {x.dtype}")
    (r_i0, r_i1, r_w1, r_den), (c_i0, c_i1, c_w1, c_den) = axes
    denominator = r_den * c_den
    if int(np.iinfo(x.dtype).max) * denominator >= 2**62:
        return None
    r0, r1 = row_range(rows, len(r_i0))
    out_w = len(c_i0)
    result = np.empty((r1 - r0, out_w) + x.shape[2:], dtype=x.dtype)
    tail = (1,) * (x.ndim - 2)

    def band(start: int, stop: int) -> None:
        w1 = r_w1[start:stop].reshape((-1, 1) + tail)
        top = x[r_i0[start:stop]].astype(np.int64)
        bottom = x[r_i1[start:stop]].astype(np.int64)
        both = top * (r_den - w1) + bottom * w1
        v1 = c_w1.reshape((1, -1) + tail)
        total = both[:, c_i0] * (c_den - v1) + both[:, c_i1] * v1
        result[start - r0 : stop - r0] = _divide_half_even(total, denominator)

    run_in_bands(band, r0, r1, rows_per_band=max(8, (1 << 18) // max(1, out_w)))
    return result


def round_near_halves(
    values: np.ndarray,
    x: np.ndarray,
    steps: tuple[Fraction, Fraction],
    align_corners: bool,
    first_row: int,
) -> np.ndarray:
    """Round float64 bilinear results of ``x`` (output rows ``first_row`` on, source steps
    ``steps`` as exact fractions) half to even into ``x``'s dtype, exactly.

    The float64 evaluation of the half-pixel formula errs by less than
    ``E = max|x| (H + W + 2) 2^-48`` (``u`` carries at most ``n 2^-50``, each weighted sum a few
    rounding errors of ``max|x| 2^-53``; the bound has a factor 4 to spare). A value farther
    than ``E`` from a half therefore rounds as the exact value does; the few within ``E`` are
    recomputed in rational arithmetic. For the requests :func:`linear_axis` cannot hold in 64
    bits (scales such as 1.1, whose double has a 52-bit denominator) exact halves do not occur
    in practice, so this costs one float64 pass.
    """
    h, w = x.shape[:2]
    bound = float(np.iinfo(x.dtype).max) * (h + w + 2) * 2.0**-48
    rounded = np.rint(values)
    near = np.abs(values - np.floor(values) - 0.5) <= bound
    for index in zip(*np.nonzero(near), strict=True):
        oh, ow, channel = int(index[0]) + first_row, int(index[1]), index[2:]
        total = Fraction(0)
        for ih, weight_h in _exact_taps(oh, h, steps[0], align_corners):
            for iw, weight_w in _exact_taps(ow, w, steps[1], align_corners):
                total += weight_h * weight_w * int(x[(ih, iw, *channel)])
        rounded[index] = round(total)  # half to even
    return rounded.astype(x.dtype)


def _exact_taps(
    o: int, n: int, step: Fraction, align_corners: bool
) -> list[tuple[int, Fraction]]:
    """``[(i0, 1 - f), (i1, f)]`` of output ``o`` in rational arithmetic, as in
    :func:`linear_axis`."""
    if align_corners:
        u = o * step
    else:
        u = max((2 * o + 1) * step / 2 - Fraction(1, 2), Fraction(0))
    i0 = min(u.numerator // u.denominator, n - 1)
    i1 = min(i0 + 1, n - 1)
    f = u - i0 if i1 != i0 else Fraction(0)
    return [(i0, 1 - f), (i1, f)]


def _unpack_rounded(total: np.ndarray, denominator: int, channels: int) -> np.ndarray:
    """Round every 16-bit lane of ``total`` half to even after dividing by ``denominator``
    (a power of two ``2**k``, ``k <= 8``) and unpack the lanes into uint8 channels.

    Per lane: ``(v + D/2 - 1 + ((v >> k) & 1)) >> k``. Shifting the whole word moves each
    lane's low ``k`` bits into the top of the lane below, above its low 8 bits, which are the
    only ones kept.
    """
    shift = np.uint64(denominator.bit_length() - 1)
    ones = np.uint64(sum(1 << (16 * c) for c in range(4)))
    rounded = total >> shift
    rounded &= ones
    rounded += np.uint64(denominator // 2 - 1) * ones
    rounded += total
    rounded >>= shift
    return np.ascontiguousarray(_lane_bytes(rounded[:, :, None], channels))


def _lane_bytes(lanes: np.ndarray, channels: int) -> np.ndarray:
    """View ``(H, W, 1)`` uint64 words as ``(H, W, channels)`` bytes: the low byte of each
    16-bit lane (bytes 0, 2, 4, 6 of a little-endian word)."""
    words = lanes.astype(lanes.dtype.newbyteorder("<"), copy=False)
    return words.view(np.uint8).reshape(lanes.shape[:2] + (8,))[:, :, 0 : 2 * channels : 2]


def _divide_half_even(total: np.ndarray, denominator: int) -> np.ndarray:
    """``total / denominator`` rounded half to even, in place, for non-negative integers.

    With ``q = total // D``, ``r = total % D``: ``q + 1`` when ``2r > D`` or when ``2r == D``
    and ``q`` is odd. For ``D = 2**k`` this is ``(total + D/2 - 1 + (q & 1)) >> k``.
    """
    if denominator & (denominator - 1) == 0:
        shift = denominator.bit_length() - 1
        if shift == 0:
            return total
        odd = total >> shift
        odd &= 1
        odd += denominator // 2 - 1
        odd += total
        odd >>= shift
        return odd
    quotient, remainder = np.divmod(total, total.dtype.type(denominator))
    remainder *= 2
    quotient += (remainder > denominator) | ((remainder == denominator) & (quotient % 2 == 1))
    return quotient
