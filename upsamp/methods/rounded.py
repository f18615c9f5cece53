"""Exact integer bilinear enlargement of 8- and 16-bit images by integer factors.

For factor ``s`` the half-pixel bilinear weights are multiples of ``1/(2s)`` per axis: they are
the integer taps ``2s - |2t - (K - 1)|`` (``K = 2s - s % 2``, the FCN bilinear kernel of
docs/references.md [Long2015-FCN]) over ``2s``, applied as a transposed convolution with stride
``s``, padding ``floor(s/2)`` and replicated edges. Here that sum is accumulated in integers
(no rounding error) and divided by ``2 s_h · 2 s_w`` with rounding half to even.
"""

from __future__ import annotations

import numpy as np

from .._arrays import int_pair, row_range
from ..errors import ParameterError
from ..threads import run_in_bands
from .polyphase import full_window

__all__ = ["ROUNDED_DTYPES", "bilinear_rounded", "integer_bilinear_taps"]

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
