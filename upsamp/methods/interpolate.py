"""Nearest-neighbour and bilinear interpolation (half-pixel centres).

For output index ``o`` along an axis of input length ``n`` the source coordinate is
``u = (o + 0.5) * r - 0.5`` with ``r = 1 / scale`` when a scale is given, else ``r = n / n_out``
(PyTorch ``align_corners=False``, Pillow, OpenCV, TF2). ``align_corners=True`` uses
``u = o * (n - 1) / (n_out - 1)`` as PyTorch does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .._arrays import check_image, int_pair, result_dtype, row_range
from ..errors import ParameterError
from .polyphase import run_in_bands
from .registry import Method, MethodOptions, Rows, register, resized_tag

__all__ = ["nearest", "bilinear", "resolve_output_size"]

Scale = float | int | Sequence[float]


def _scale_pair(scale: Scale) -> tuple[float, float]:
    if isinstance(scale, (int, float, np.integer, np.floating)) and not isinstance(scale, bool):
        pair = (float(scale), float(scale))
    else:
        try:
            sy, sx = scale  # type: ignore[misc]
            pair = (float(sy), float(sx))
        except (TypeError, ValueError):
            raise ParameterError(
                f"scale must be a number or an (sy, sx) pair, got {scale!r}"
            ) from None
    if not all(math.isfinite(v) and v > 0 for v in pair):
        raise ParameterError(f"scale must be positive and finite, got {scale!r}")
    return pair


def resolve_output_size(
    shape: tuple[int, int], scale: Scale | None = None, size: Sequence[int] | None = None
) -> tuple[tuple[int, int], tuple[float, float]]:
    """Return ``((out_h, out_w), (r_h, r_w))``: the output size and the source step ``r`` per axis.

    With ``scale`` the size is ``floor(n * scale)`` and ``r = 1 / scale`` (PyTorch's rule for
    ``scale_factor``); with ``size`` (``(h, w)``) ``r = n / n_out``. Exactly one must be given.

    >>> resolve_output_size((2, 3), scale=2)
    ((4, 6), (0.5, 0.5))
    >>> resolve_output_size((2, 3), size=(3, 3))
    ((3, 3), (0.6666666666666666, 1.0))
    """
    if (scale is None) == (size is None):
        raise ParameterError("give exactly one of scale and size")
    if size is not None:
        out = int_pair(tuple(size), "size", minimum=1)
        return out, (shape[0] / out[0], shape[1] / out[1])
    sy, sx = _scale_pair(scale)  # type: ignore[arg-type]
    out = (int(math.floor(shape[0] * sy + 1e-9)), int(math.floor(shape[1] * sx + 1e-9)))
    if min(out) < 1:
        raise ParameterError(
            f"scale {scale!r} gives an empty output for a {shape[0]}x{shape[1]} input"
        )
    return out, (1.0 / sy, 1.0 / sx)


def whole_factor(
    shape: tuple[int, int], out: tuple[int, int], step: tuple[float, float]
) -> tuple[int, int] | None:
    """``(s_h, s_w)`` when the output is exactly ``s`` times the input on each axis with source
    step ``r = 1/s`` (an integer enlargement), else None."""
    factor = (out[0] // shape[0], out[1] // shape[1])
    for axis in range(2):
        if factor[axis] < 1 or out[axis] != factor[axis] * shape[axis]:
            return None
        if abs(step[axis] * factor[axis] - 1) >= 1e-12:
            return None
    return factor


def _nearest_index(n: int, n_out: int, r: float, by_size: bool) -> np.ndarray:
    """``min(floor((o + 0.5) * r), n - 1)``: PyTorch ``nearest-exact`` / Pillow NEAREST.

    With an explicit size ``r = n / n_out`` is rational and the floor is taken exactly,
    ``((2o + 1) * n) // (2 * n_out)``, so ties are not lost to rounding.
    """
    o = np.arange(n_out, dtype=np.int64)
    if by_size:
        index = ((2 * o + 1) * n) // (2 * n_out)
    else:
        index = np.floor((o + 0.5) * r).astype(np.int64)
    return np.minimum(index, n - 1).astype(np.intp)


def nearest(
    x: np.ndarray,
    scale: Scale | None = None,
    *,
    size: Sequence[int] | None = None,
    rows: tuple[int, int] | None = None,
    keep_dtype: bool = False,
) -> np.ndarray:
    """Nearest-neighbour upsampling with half-pixel centres.

    Output pixel ``o`` copies input pixel ``min(floor((o + 0.5) * r), n - 1)`` on each axis
    (see :func:`resolve_output_size` for ``r``). For an integer factor this is exact pixel
    replication, ``np.repeat`` along both axes.

    Parameters
    ----------
    x : ndarray, shape (H, W) or (H, W, C)
    scale : int, float or (sy, sx), optional
    size : (out_h, out_w), optional
        Give ``scale`` or ``size``.
    rows : (start, stop), optional
        Compute only these output rows (banded processing).
    keep_dtype : bool
        Return the input's dtype instead of float: exact, since values are only copied.

    Notes
    -----
    Dtype rule: float64 input gives float64, every other input float32 (unless ``keep_dtype``);
    values are not rescaled.

    Examples
    --------
    >>> nearest(np.array([[1, 2], [3, 4]]), 2)
    array([[1., 1., 2., 2.],
           [1., 1., 2., 2.],
           [3., 3., 4., 4.],
           [3., 3., 4., 4.]], dtype=float32)
    """
    x = check_image(x)
    (out_h, out_w), (rh, rw) = resolve_output_size(x.shape[:2], scale, size)
    r0, r1 = row_range(rows, out_h)
    dtype = x.dtype if keep_dtype else result_dtype(x)
    src_rows = _nearest_index(x.shape[0], out_h, rh, size is not None)[r0:r1]
    src_cols = _nearest_index(x.shape[1], out_w, rw, size is not None)
    return gather_pixels(x, src_rows, src_cols).astype(dtype, copy=False)


def gather_pixels(x: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``x[rows][:, cols]`` computed as two ``np.take`` calls over whole pixels.

    The columns are gathered first, on just the input rows needed, with the channels folded
    into the row (``(H, W*C)``) so each step moves contiguous memory; the rows are then copied
    whole. (Indexing ``(H, W, C)`` directly runs an inner loop of ``C`` values per pixel.) Both
    steps run in bands of rows on every thread.
    """
    channels = x.shape[2] if x.ndim == 3 else 1
    first, last = int(rows.min()), int(rows.max()) + 1
    flat = x[first:last].reshape(last - first, x.shape[1] * channels)
    if channels > 1:
        cols = (cols[:, None] * channels + np.arange(channels)).ravel()
    wide = np.empty((flat.shape[0], len(cols)), dtype=x.dtype)

    def gather_columns(a: int, b: int) -> None:
        np.take(flat[a:b], cols, axis=1, out=wide[a:b])

    run_in_bands(
        gather_columns, 0, flat.shape[0], rows_per_band=max(16, (1 << 20) // max(1, len(cols)))
    )
    out = np.empty((len(rows), wide.shape[1]), dtype=x.dtype)
    local = rows - first

    def copy_rows(a: int, b: int) -> None:
        np.take(wide, local[a:b], axis=0, out=out[a:b])

    run_in_bands(copy_rows, 0, len(rows), rows_per_band=max(16, (1 << 20) // max(1, out.shape[1])))
    return out.reshape((len(rows), -1) + x.shape[2:])


def _linear_weights(
    n: int, n_out: int, r: float, align_corners: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(i0, i1, f)``: ``y[o] = (1 - f) * x[i0] + f * x[i1]`` along one axis."""
    o = np.arange(n_out, dtype=np.float64)
    if align_corners:
        u = o * ((n - 1) / (n_out - 1)) if n_out > 1 else np.zeros_like(o)
    else:
        u = np.maximum((o + 0.5) * r - 0.5, 0.0)
    i0 = np.minimum(np.floor(u).astype(np.intp), n - 1)
    i1 = np.minimum(i0 + 1, n - 1)
    f = u - i0
    f[i0 == i1] = 0.0
    return i0, i1, f


def bilinear(
    x: np.ndarray,
    scale: Scale | None = None,
    align_corners: bool = False,
    *,
    size: Sequence[int] | None = None,
    rows: tuple[int, int] | None = None,
    keep_dtype: bool = False,
) -> np.ndarray:
    """Bilinear upsampling with half-pixel centres and edge clamping.

    Per axis ``u = max((o + 0.5) * r - 0.5, 0)``, ``i0 = floor(u)``, ``i1 = min(i0 + 1, n - 1)``,
    ``y[o] = (1 - (u - i0)) * x[i0] + (u - i0) * x[i1]``; the two axes are applied one after the
    other. This is PyTorch ``bilinear`` (``align_corners=False``) and the float result of Pillow
    BILINEAR and OpenCV INTER_LINEAR when upsampling. ``align_corners=True`` uses
    ``u = o * (n - 1) / (n_out - 1)`` as PyTorch.

    ``rows=(start, stop)`` computes only those output rows (banded processing). For an integer
    factor the same formula is evaluated by the polyphase engine (the bilinear kernel preset with
    replicated edges), which agrees to rounding.

    ``keep_dtype=True`` returns an integer image in its own dtype, rounded half to even and
    clipped to the dtype's range; for an 8/16-bit image and an integer factor this is computed
    exactly in integer arithmetic (:func:`bilinear_rounded`).

    Notes
    -----
    Dtype rule: float64 input gives float64, every other input float32 (unless ``keep_dtype``);
    values are not rescaled.

    Examples
    --------
    Seed 000's table is the floor of this exact result:

    >>> bilinear(np.array([[10., 20.], [30., 40.]]), 2)
    array([[10. , 12.5, 17.5, 20. ],
           [15. , 17.5, 22.5, 25. ],
           [25. , 27.5, 32.5, 35. ],
           [30. , 32.5, 37.5, 40. ]])
    """
    x = check_image(x)
    if keep_dtype and x.dtype.kind in "iu":
        return _bilinear_integer(x, scale, align_corners, size, rows)
    (out_h, out_w), (rh, rw) = resolve_output_size(x.shape[:2], scale, size)
    r0, r1 = row_range(rows, out_h)
    dtype = result_dtype(x)
    factor = whole_factor(x.shape[:2], (out_h, out_w), (rh, rw))
    if not align_corners and factor is not None:
        # Integer factor: the bilinear preset with replicated edges is this same formula
        # (see upsamp.kernels), and the polyphase engine computes it fastest.
        from ..kernels import preset
        from .transconv import transconv

        kernel = preset("bilinear", factor)
        return transconv(x, kernel.weight, **kernel.transconv_kwargs(), rows=(r0, r1))
    i0, i1, f = _linear_weights(x.shape[0], out_h, rh, align_corners)
    i0, i1, f = i0[r0:r1], i1[r0:r1], f[r0:r1]
    f = f.astype(dtype).reshape((-1,) + (1,) * (x.ndim - 1))
    top, bottom = x[i0].astype(dtype, copy=False), x[i1].astype(dtype, copy=False)
    band = top * (1 - f) + bottom * f
    j0, j1, g = _linear_weights(x.shape[1], out_w, rw, align_corners)
    g = g.astype(dtype).reshape((1, -1) + (1,) * (x.ndim - 2))
    return band[:, j0] * (1 - g) + band[:, j1] * g


def _bilinear_integer(
    x: np.ndarray,
    scale: Scale | None,
    align_corners: bool,
    size: Sequence[int] | None,
    rows: tuple[int, int] | None,
) -> np.ndarray:
    """``bilinear(..., keep_dtype=True)`` for an integer image."""
    (out_h, out_w), (rh, rw) = resolve_output_size(x.shape[:2], scale, size)
    factor = whole_factor(x.shape[:2], (out_h, out_w), (rh, rw))
    if factor is not None and not align_corners and x.dtype in (np.uint8, np.uint16):
        return bilinear_rounded(x, factor, rows=rows)
    floats = bilinear(x, scale, align_corners, size=size, rows=rows)
    info = np.iinfo(x.dtype)
    return np.clip(np.rint(floats), info.min, info.max).astype(x.dtype)


def bilinear_rounded(
    x: np.ndarray, factor: tuple[int, int], *, rows: tuple[int, int] | None = None
) -> np.ndarray:
    """Bilinear upsampling of an 8- or 16-bit image by an integer factor, rounded half to even
    into the input's dtype, computed exactly in integer arithmetic.

    For factor ``s`` the weights of the half-pixel formula are multiples of ``1/(2s)`` per axis:
    the bilinear preset's taps are ``(2s - |2t - (K - 1)|) / (2s)`` with ``K = 2s - s % 2``. The
    sum ``N = sum w_h w_w x`` is accumulated in integers (no rounding error) and
    ``y = N / (2 s_h · 2 s_w)`` is rounded half to even, so the result equals
    ``to_storage(bilinear(x, s))`` exactly, in a fraction of the memory traffic.
    """
    from .polyphase import full_window, run_in_bands

    if x.dtype not in (np.uint8, np.uint16):
        raise ParameterError(f"bilinear_rounded needs uint8 or uint16 input, got {x.dtype}")
    sh, sw = int_pair(factor, "factor", minimum=1)
    taps = []
    for s in (sh, sw):
        size = 2 * s - s % 2
        taps.append(2 * s - np.abs(2 * np.arange(size) - (size - 1)))
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


def _factor(options: MethodOptions) -> tuple[Scale | None, tuple[int, int] | None]:
    if options.size is not None:
        return None, options.size
    return (options.scale if options.scale is not None else options.stride), None


def _nearest_backend(x: np.ndarray, options: MethodOptions, rows: Rows = None) -> np.ndarray:
    scale, size = _factor(options)
    return nearest(x, scale, size=size, rows=rows, keep_dtype=options.keep_dtype)


def _bilinear_backend(x: np.ndarray, options: MethodOptions, rows: Rows = None) -> np.ndarray:
    scale, size = _factor(options)
    return bilinear(x, scale, options.align_corners, size=size, rows=rows)


def integer_factor(shape: tuple[int, int], options: MethodOptions) -> tuple[int, int] | None:
    """The integer enlargement ``options`` asks of nearest/bilinear for ``shape``, or None."""
    scale, size = _factor(options)
    (out_h, out_w), (rh, rw) = resolve_output_size(shape, scale, size)
    return whole_factor(shape, (out_h, out_w), (rh, rw))


def _bilinear_rounded_backend(
    x: np.ndarray, options: MethodOptions, rows: Rows = None
) -> np.ndarray | None:
    factor = integer_factor(x.shape[:2], options)
    if factor is None or options.align_corners or x.dtype not in (np.uint8, np.uint16):
        return None
    return bilinear_rounded(x, factor, rows=rows)


def _resized_shape(shape: tuple[int, int], options: MethodOptions) -> tuple[int, int]:
    scale, size = _factor(options)
    return resolve_output_size(shape, scale, size)[0]


def _preset_kernel(name: str):  # -> Callable[[stride], upsamp.kernels.Kernel]
    def build(stride: tuple[int, int]):
        from ..kernels import preset  # kernels builds on this module's functions

        return preset(name, stride)

    return build


#: The views of ``upsamp explain`` that apply to a method equal to a transposed convolution.
TRANSCONV_VIEWS = ("scatter", "gather", "matrix", "phases", "size")

register(
    Method(
        name="nearest",
        summary="nearest neighbour: each pixel repeated (half-pixel centres for other factors)",
        upsample=_nearest_backend,
        supports_rows=True,
        copies_values=True,
        output_shape=_resized_shape,
        output_tag=resized_tag,
        uses=frozenset({"stride", "scale", "size"}),
        explain_views=("weights", *TRANSCONV_VIEWS),
        as_transconv=_preset_kernel("nearest"),
    )
)
register(
    Method(
        name="bilinear",
        summary="bilinear interpolation, half-pixel centres, edges clamped",
        upsample=_bilinear_backend,
        supports_rows=True,
        upsample_rounded=_bilinear_rounded_backend,
        output_shape=_resized_shape,
        output_tag=resized_tag,
        uses=frozenset({"stride", "scale", "size", "align_corners"}),
        explain_views=("weights", *TRANSCONV_VIEWS),
        as_transconv=_preset_kernel("bilinear"),
    )
)
