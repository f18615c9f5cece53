"""Nearest-neighbour and bilinear interpolation (half-pixel centres).

For output index ``o`` along an axis of input length ``n`` the source coordinate is
``u = (o + 0.5) * r - 0.5`` with ``r = 1 / scale`` when a scale is given, else ``r = n / n_out``
(PyTorch ``align_corners=False``, Pillow, OpenCV, TF2: docs/references.md [PyTorch-interpolate],
[Pillow-resize]). ``align_corners=True`` uses ``u = o * (n - 1) / (n_out - 1)`` as PyTorch does.

Bilinear enlargement by an integer factor ``s`` is a transposed convolution with the kernel of
:func:`bilinear_transconv` (docs/references.md [Long2015-FCN]); this module evaluates it with the
polyphase engine, and exactly in integers for 8/16-bit images (:mod:`upsamp.methods.rounded`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from .._arrays import as_planes, check_image, int_pair, restore_rank, result_dtype, row_range
from ..geometry import (
    Scale,
    bilinear_taps,
    half_pixel_padding,
    resolve_output_size,
    scale_pair,
    whole_factor,
)
from ..kernels import Kernel, preset
from .polyphase import full_window, run_in_bands
from .registry import Method, MethodOptions, Rows, register, resized_tag
from .resample import AxisTaps
from .rounded import (
    ROUNDED_DTYPES,
    bilinear_rounded,
    linear_axis,
    linear_rounded,
    round_near_halves,
)

__all__ = ["nearest", "bilinear", "bilinear_transconv"]


def _nearest_index(n: int, n_out: int, scale: float | None) -> np.ndarray:
    """Source index of every output sample, as PyTorch ``nearest-exact`` computes it for float32
    and uint8 tensors, in float32 steps:

    ``r = float32(1 / scale)`` (or ``float32(n) / float32(n_out)`` for a size),
    ``u = max(r * (o + 1/2) - 1/2, 0)`` in float32, index ``min(floor(float32(u + 1/2)), n - 1)``.
    """
    f32 = np.float32
    r = f32(1.0 / scale) if scale is not None else f32(n) / f32(n_out)
    u = (r * (np.arange(n_out) + 0.5).astype(f32)).astype(f32) - f32(0.5)
    np.maximum(u, f32(0), out=u)
    index = np.floor((u.astype(np.float64) + 0.5).astype(f32)).astype(np.int64)
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
    (``r = 1/scale``, or ``n / n_out`` for a size), evaluated in float32 steps exactly as PyTorch
    ``nearest-exact`` does for float32 and uint8 tensors: ``r32 = float32(1/scale)`` (or
    ``float32(n) / float32(n_out)``), ``u = max(r32 * (o + 0.5) - 0.5, 0)`` in float32, index
    ``min(floor(float32(u + 0.5)), n - 1)``. The float32 steps only matter at exact ties, where
    ``(o + 0.5) * r`` is an integer ``k``: there they pick ``k`` or ``k - 1`` as PyTorch does.

    So ``nearest`` equals ``F.interpolate(mode="nearest-exact")`` on float32 and uint8 tensors
    (on float64 tensors PyTorch computes in double precision and can differ at exact ties).
    Pillow NEAREST evaluates the same formula in 16.16 fixed point and differs at exact ties
    (640 -> 960: 111 of the 320 tied columns). For an integer factor every variant is exact
    pixel replication, ``np.repeat`` along both axes. See docs/references.md
    [PyTorch-interpolate], [Pillow-resize].

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
    (out_h, out_w), _ = resolve_output_size(x.shape[:2], scale, size)
    r0, r1 = row_range(rows, out_h)
    dtype = x.dtype if keep_dtype else result_dtype(x)
    scales = (None, None) if size is not None else scale_pair(scale)  # type: ignore[arg-type]
    src_rows = _nearest_index(x.shape[0], out_h, scales[0])[r0:r1]
    src_cols = _nearest_index(x.shape[1], out_w, scales[1])
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


def _bilinear_geometry(
    shape: tuple[int, int], scale: Scale | None, size: Sequence[int] | None
) -> tuple[tuple[int, int], tuple[float, float]]:
    """:func:`upsamp.geometry.resolve_output_size`, except that an axis keeping its
    length is copied (source step 1), as PyTorch's linear modes do."""
    out, steps = resolve_output_size(shape, scale, size)
    return out, (
        1.0 if out[0] == shape[0] else steps[0],
        1.0 if out[1] == shape[1] else steps[1],
    )


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
    other. This is PyTorch's ``bilinear`` (``align_corners=False``), and the float result of Pillow
    BILINEAR and OpenCV INTER_LINEAR when upsampling, to float rounding (not bit for bit: the
    order of the operations differs). ``align_corners=True`` uses
    ``u = o * (n - 1) / (n_out - 1)`` as PyTorch.

    An axis whose length a ``scale`` keeps (``floor(n * scale) == n``, e.g. 2 rows at 1.25) is
    copied, as PyTorch does: ``r = 1`` there, not ``1 / scale``.

    ``rows=(start, stop)`` computes only those output rows (banded processing). For an integer
    factor (and ``align_corners=False``) the same formula is evaluated as the transposed
    convolution of :func:`bilinear_transconv` by the polyphase engine; it agrees with the
    two-pass form to rounding.

    ``keep_dtype=True`` returns an integer image in its own dtype, rounded half to even. For an
    8/16-bit image the result is exact for every request (integer factors, scales, sizes,
    ``align_corners``): the exact value of the formula, a scale read as the decimal it prints
    as (1.1 is 11/10), rounded half to even (:mod:`upsamp.methods.rounded`). Rounding this
    function's float32 result instead can miss it by one where float32 moves a value across a
    half. Other integer dtypes get the float result rounded and clipped to the dtype's range.

    Notes
    -----
    Dtype rule: float64 input gives float64, every other input float32 (unless ``keep_dtype``);
    values are not rescaled.

    Examples
    --------
    The bilinear table of docs/references.md [seed-000] is the floor of this exact result:

    >>> bilinear(np.array([[10., 20.], [30., 40.]]), 2)
    array([[10. , 12.5, 17.5, 20. ],
           [15. , 17.5, 22.5, 25. ],
           [25. , 27.5, 32.5, 35. ],
           [30. , 32.5, 37.5, 40. ]])
    """
    x = check_image(x)
    if keep_dtype and x.dtype.kind in "iu":
        return _bilinear_integer(x, scale, align_corners, size, rows)
    (out_h, out_w), (rh, rw) = _bilinear_geometry(x.shape[:2], scale, size)
    r0, r1 = row_range(rows, out_h)
    dtype = result_dtype(x)
    factor = whole_factor(x.shape[:2], (out_h, out_w), (rh, rw))
    if not align_corners and factor is not None:
        return _bilinear_whole_factor(x, factor, (r0, r1), dtype)
    return _bilinear_two_pass(x, (out_h, out_w), (rh, rw), align_corners, (r0, r1), dtype)


def _bilinear_two_pass(
    x: np.ndarray,
    out: tuple[int, int],
    steps: tuple[float, float],
    align_corners: bool,
    rows: tuple[int, int],
    dtype: np.dtype,
) -> np.ndarray:
    """Rows ``rows`` of the half-pixel formula in ``dtype``: rows first, then columns."""
    r0, r1 = rows
    i0, i1, f = _linear_weights(x.shape[0], out[0], steps[0], align_corners)
    i0, i1, f = i0[r0:r1], i1[r0:r1], f[r0:r1]
    f = f.astype(dtype).reshape((-1,) + (1,) * (x.ndim - 1))
    top, bottom = x[i0].astype(dtype, copy=False), x[i1].astype(dtype, copy=False)
    band = top * (1 - f) + bottom * f
    j0, j1, g = _linear_weights(x.shape[1], out[1], steps[1], align_corners)
    g = g.astype(dtype).reshape((1, -1) + (1,) * (x.ndim - 2))
    return band[:, j0] * (1 - g) + band[:, j1] * g


def bilinear_transconv(stride: int | tuple[int, int]) -> tuple[np.ndarray, dict[str, Any]]:
    """``(weight, keywords)`` of the transposed convolution that is bilinear enlargement by the
    integer factor ``stride``: ``transconv(x, weight, **keywords)`` gives ``bilinear(x, stride)``.

    The weight is ``outer(bilinear_taps(s_h), bilinear_taps(s_w))``; padding ``floor(s/2)`` places
    output ``o`` at ``u = (o + 0.5)/s - 0.5`` and replicated edges clamp ``u`` as bilinear does.
    """
    sh, sw = int_pair(stride, "stride", minimum=1)
    weight = np.outer(bilinear_taps(sh), bilinear_taps(sw))
    return weight, {
        "stride": (sh, sw),
        "padding": (half_pixel_padding(1, sh), half_pixel_padding(1, sw)),
        "output_padding": (0, 0),
        "dilation": (1, 1),
        "groups": None,
        "bias": None,
        "edge": "replicate",
    }


def _bilinear_whole_factor(
    x: np.ndarray, factor: tuple[int, int], rows: tuple[int, int], dtype: np.dtype
) -> np.ndarray:
    """Rows ``rows`` of ``bilinear(x, factor)``: the kernel of :func:`bilinear_transconv` run by
    the polyphase engine (two 1-D passes), which is the fastest way to the same formula."""
    weight, geometry = bilinear_transconv(factor)
    x3, was_2d = as_planes(x)
    y = full_window(
        x3,
        weight.astype(dtype)[None, None],
        groups=x3.shape[2],
        depthwise=True,
        stride=geometry["stride"],
        dilation=geometry["dilation"],
        origin=geometry["padding"],
        out_shape=(x.shape[0] * factor[0], x.shape[1] * factor[1]),
        rows=rows,
        dtype=dtype,
        edge=geometry["edge"],
    )
    return restore_rank(y, was_2d)


def _bilinear_integer(
    x: np.ndarray,
    scale: Scale | None,
    align_corners: bool,
    size: Sequence[int] | None,
    rows: tuple[int, int] | None,
) -> np.ndarray:
    """``bilinear(..., keep_dtype=True)`` for an integer image: exact for 8/16-bit images."""
    out, steps = _bilinear_geometry(x.shape[:2], scale, size)
    r0, r1 = row_range(rows, out[0])
    if x.dtype not in ROUNDED_DTYPES:
        floats = bilinear(x, scale, align_corners, size=size, rows=rows)
        info = np.iinfo(x.dtype)
        return np.clip(np.rint(floats), info.min, info.max).astype(x.dtype)
    factor = whole_factor(x.shape[:2], out, steps)
    if factor is not None and not align_corners:
        return bilinear_rounded(x, factor, rows=rows)
    exact = _exact_steps(x.shape[:2], out, scale, size, align_corners)
    axes = (
        linear_axis(x.shape[0], out[0], exact[0], align_corners),
        linear_axis(x.shape[1], out[1], exact[1], align_corners),
    )
    if axes[0] is not None and axes[1] is not None:
        result = linear_rounded(x, (axes[0], axes[1]), rows=(r0, r1))
        if result is not None:
            return result
    floats = _bilinear_two_pass(x, out, steps, align_corners, (r0, r1), np.dtype(np.float64))
    return round_near_halves(floats, x, exact, align_corners, r0)


def _exact_steps(
    shape: tuple[int, int],
    out: tuple[int, int],
    scale: Scale | None,
    size: Sequence[int] | None,
    align_corners: bool,
) -> tuple[Fraction, Fraction]:
    """The source step of each axis as an exact fraction: ``(n - 1) / (n_out - 1)`` with
    ``align_corners``, ``n / n_out`` for a size, 1 on an axis a scale keeps at its length, else
    ``1 / scale`` with the scale read as the decimal it prints as (1.1 is 11/10, not the
    nearest double, whose 52-bit denominator would turn the ties of 11/10 into near-ties)."""
    scales = scale_pair(scale) if size is None else (None, None)  # type: ignore[arg-type]
    steps = []
    for n, n_out, axis_scale in zip(shape, out, scales, strict=True):
        if align_corners:
            steps.append(Fraction(n - 1, n_out - 1) if n_out > 1 else Fraction(0))
        elif axis_scale is None:
            steps.append(Fraction(n, n_out))
        else:
            steps.append(Fraction(1) if n_out == n else 1 / Fraction(repr(axis_scale)))
    return steps[0], steps[1]


def scale_or_size(options: MethodOptions) -> tuple[Scale | None, tuple[int, int] | None]:
    """``(scale, size)`` of an any-scale method's options: the size when given, else the
    scale, else the integer stride."""
    if options.size is not None:
        return None, options.size
    return (options.scale if options.scale is not None else options.stride), None


def _nearest_backend(x: np.ndarray, options: MethodOptions, rows: Rows = None) -> np.ndarray:
    scale, size = scale_or_size(options)
    return nearest(x, scale, size=size, rows=rows, keep_dtype=options.keep_dtype)


def _bilinear_backend(x: np.ndarray, options: MethodOptions, rows: Rows = None) -> np.ndarray:
    scale, size = scale_or_size(options)
    return bilinear(x, scale, options.align_corners, size=size, rows=rows)


def _source_coordinates(
    n: int, n_out: int, step: float, align_corners: bool
) -> np.ndarray:
    """``u = (o + 0.5)·step − 0.5``, or ``o·(n − 1)/(n_out − 1)`` with ``align_corners``."""
    o = np.arange(n_out, dtype=np.float64)
    if align_corners:
        return o * ((n - 1) / (n_out - 1)) if n_out > 1 else np.zeros_like(o)
    return (o + 0.5) * step - 0.5


def _nearest_taps(
    shape: tuple[int, int], options: MethodOptions
) -> tuple[AxisTaps, AxisTaps]:
    """One tap of weight 1 per output index: the pixel :func:`nearest` copies."""
    scale, size = scale_or_size(options)
    out, steps = resolve_output_size(shape, scale, size)
    scales = (None, None) if size is not None else scale_pair(scale)  # type: ignore[arg-type]
    return tuple(  # type: ignore[return-value]
        AxisTaps(
            _nearest_index(shape[axis], out[axis], scales[axis])[:, None],
            np.ones((out[axis], 1)),
            source=_source_coordinates(shape[axis], out[axis], steps[axis], False),
            edge="clamp",
        )
        for axis in range(2)
    )


def _bilinear_taps(
    shape: tuple[int, int], options: MethodOptions
) -> tuple[AxisTaps, AxisTaps]:
    """Two taps per output index, ``(i0, 1 − f)`` and ``(i1, f)``, as :func:`bilinear` reads."""
    scale, size = scale_or_size(options)
    out, steps = _bilinear_geometry(shape, scale, size)
    axes = []
    for axis in range(2):
        i0, i1, f = _linear_weights(shape[axis], out[axis], steps[axis], options.align_corners)
        axes.append(
            AxisTaps(
                np.stack([i0, i1], axis=1),
                np.stack([1 - f, f], axis=1),
                source=_source_coordinates(
                    shape[axis], out[axis], steps[axis], options.align_corners
                ),
                edge="clamp",
            )
        )
    return axes[0], axes[1]


def _bilinear_rounded_backend(
    x: np.ndarray, options: MethodOptions, rows: Rows = None
) -> np.ndarray | None:
    """For an 8/16-bit image: the exactly rounded result (``keep_dtype``); else None."""
    if x.dtype not in ROUNDED_DTYPES:
        return None
    scale, size = scale_or_size(options)
    return bilinear(x, scale, options.align_corners, size=size, rows=rows, keep_dtype=True)


def resized_shape(shape: tuple[int, int], options: MethodOptions) -> tuple[int, int]:
    """The output size of an any-scale method (stride, scale or size)."""
    scale, size = scale_or_size(options)
    return resolve_output_size(shape, scale, size)[0]


def _preset_kernel(name: str) -> Callable[[tuple[int, int]], Kernel]:
    """The method as a transposed convolution: the preset ``name`` at the given stride."""

    def build(stride: tuple[int, int]) -> Kernel:
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
        output_shape=resized_shape,
        output_tag=resized_tag,
        uses=frozenset({"stride", "scale", "size"}),
        explain_views=("weights", *TRANSCONV_VIEWS),
        as_transconv=_preset_kernel("nearest"),
        taps=_nearest_taps,
    )
)
register(
    Method(
        name="bilinear",
        summary="bilinear interpolation, half-pixel centres, edges clamped",
        upsample=_bilinear_backend,
        supports_rows=True,
        upsample_rounded=_bilinear_rounded_backend,
        output_shape=resized_shape,
        output_tag=resized_tag,
        uses=frozenset({"stride", "scale", "size", "align_corners"}),
        explain_views=("weights", *TRANSCONV_VIEWS),
        as_transconv=_preset_kernel("bilinear"),
        taps=_bilinear_taps,
    )
)
