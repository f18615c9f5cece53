"""Bed of nails, max pooling with indices, and max unpooling (PyTorch conventions,
docs/references.md [PyTorch-MaxUnpool2d]).

An index is the flat position ``h * W + w`` of the maximum within its channel plane of the
pooled-from image (``H x W``), stored as int64 with the shape of the pooled array. Windows are
``s x s`` with stride ``s`` and no padding; rows/columns that do not fill a window are dropped, as
``max_pool2d`` does. Ties go to the first maximum in row-major order; a NaN always wins (the last
NaN of the window, as PyTorch's ``val > maxval || isnan(val)`` update rule keeps).

The compact form of the same positions, :class:`WindowOffsets`, keeps only the offset inside each
pooling window, ``(row % s_h) * s_w + (col % s_w)``, one byte per value: max-unpool then writes the
values of each of the ``s_h * s_w`` offsets with one strided copy, reading one byte per value
instead of eight.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .._arrays import (
    as_float_image,
    as_planes,
    check_image,
    int_pair,
    restore_rank,
    result_dtype,
    row_range,
)
from ..errors import ParameterError
from ..geometry import format_size
from ..kernels import Kernel, preset
from ..threads import run_in_bands
from .registry import Method, MethodOptions, Rows, register
from .spread import spread

__all__ = [
    "WindowOffsets",
    "bed_of_nails",
    "check_window_offsets",
    "max_pool",
    "max_unpool",
    "unpool_output_size",
    "window_offsets",
]

#: The largest window whose offsets fit in one byte.
MAX_WINDOW = 256


@dataclass(frozen=True)
class WindowOffsets:
    """Max-pooling positions as offsets inside each ``s_h x s_w`` window (uint8).

    ``offsets[i, j, c] = dy * s_w + dx`` names position ``(i * s_h + dy, j * s_w + dx)``; the
    same positions as the flat index ``(i * s_h + dy) * W + j * s_w + dx``.
    """

    offsets: np.ndarray  # (H', W'[, C]) uint8

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.offsets.shape)


def window_offsets(
    indices: np.ndarray, stride: int | Iterable[int], output_size: Sequence[int]
) -> WindowOffsets | None:
    """The compact form of flat (PyTorch-layout) ``indices`` for an ``output_size`` plane, or
    None when some index lies outside its own window (or a window has more than 256 positions):
    such indices can only be scattered.

    Examples
    --------
    >>> window_offsets(np.array([[5, 2], [9, 14]]), 2, (4, 4)).offsets
    array([[3, 0],
           [1, 2]], dtype=uint8)
    """
    sh, sw = int_pair(stride, "stride", minimum=1)
    out_w = int(output_size[1])
    idx = np.asarray(indices)
    if idx.dtype.kind not in "iu" or idx.ndim not in (2, 3) or sh * sw > MAX_WINDOW:
        return None
    i3, was_2d = as_planes(idx.astype(np.int64, copy=False))
    rows, cols = np.divmod(i3, out_w)
    dy = rows - np.arange(i3.shape[0])[:, None, None] * sh
    dx = cols - np.arange(i3.shape[1])[None, :, None] * sw
    if i3.size and (dy.min() < 0 or dy.max() >= sh or dx.min() < 0 or dx.max() >= sw):
        return None
    offsets = (dy * sw + dx).astype(np.uint8)
    return WindowOffsets(restore_rank(offsets, was_2d))



def bed_of_nails(
    x: np.ndarray,
    stride: int | Iterable[int],
    *,
    rows: tuple[int, int] | None = None,
    keep_dtype: bool = False,
) -> np.ndarray:
    """Place each value at the top-left of its ``s x s`` cell, zeros elsewhere.

    ``y[i * s_h, j * s_w] = x[i, j]`` and ``y = 0`` elsewhere; output ``(H*s_h, W*s_w)``.
    ``rows=(start, stop)`` computes only those output rows; ``keep_dtype`` returns the input's
    dtype (exact: values are only copied).

    Notes
    -----
    Dtype rule: float64 input gives float64, every other input float32 (unless ``keep_dtype``);
    values are not rescaled.

    Examples
    --------
    >>> bed_of_nails(np.array([[1., 2.], [3., 4.]]), 2)
    array([[1., 0., 2., 0.],
           [0., 0., 0., 0.],
           [3., 0., 4., 0.],
           [0., 0., 0., 0.]])
    """
    x = check_image(x)
    sh, sw = int_pair(stride, "stride", minimum=1)
    r0, r1 = row_range(rows, x.shape[0] * sh)
    dtype = x.dtype if keep_dtype else result_dtype(x)
    return spread(x, (sh, sw), corner_only=True, rows=(r0, r1), dtype=dtype)


def max_pool(x: np.ndarray, size: int | Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
    """Max-pool with ``size x size`` windows and stride ``size``, returning the argmax indices.

    Returns
    -------
    pooled : ndarray, shape (H // s_h, W // s_w[, C])
    indices : int64 ndarray, same shape
        ``h * W + w`` of each window's maximum in the pooled-from plane (PyTorch convention).

    Notes
    -----
    Dtype rule: float64 input gives float64, every other input float32.

    Examples
    --------
    The example of docs/references.md [seed-000]:

    >>> x = np.array([[1, 2, 4, 1], [3, 4, 2, 3], [1, 4, 1, 2], [2, 3, 4, 3]])
    >>> pooled, idx = max_pool(x, 2)
    >>> pooled
    array([[4., 4.],
           [4., 4.]], dtype=float32)
    >>> idx
    array([[ 5,  2],
           [ 9, 14]])
    """
    x = as_float_image(x)
    sh, sw = int_pair(size, "size", minimum=1)
    x3, was_2d = as_planes(x)
    h, w, c = x3.shape
    ph, pw = h // sh, w // sw
    if ph < 1 or pw < 1:
        raise ParameterError(
            f"a {format_size((h, w))} image is smaller than one {format_size((sh, sw))} "
            "pooling window"
        )
    windows = (
        x3[: ph * sh, : pw * sw]
        .reshape(ph, sh, pw, sw, c)
        .transpose(0, 2, 4, 1, 3)
        .reshape(ph, pw, c, sh * sw)
    )
    flat = np.argmax(windows, axis=-1)  # first maximum; numpy also returns the first NaN
    nan_mask = np.isnan(windows)
    if nan_mask.any():
        last_nan = sh * sw - 1 - np.argmax(nan_mask[..., ::-1], axis=-1)
        flat = np.where(nan_mask.any(axis=-1), last_nan, flat)
    pooled = np.take_along_axis(windows, flat[..., None], axis=-1)[..., 0]
    wy, wx = np.divmod(flat, sw)
    rows = np.arange(ph)[:, None, None] * sh + wy
    cols = np.arange(pw)[None, :, None] * sw + wx
    indices = (rows * w + cols).astype(np.int64)
    return restore_rank(pooled, was_2d), restore_rank(indices, was_2d)


def unpool_output_size(
    shape: tuple[int, int], stride: tuple[int, int], output_size: Sequence[int] | None
) -> tuple[int, int]:
    """Output size of :func:`max_unpool`: ``H * s`` by default, or a checked ``output_size``.

    ``output_size`` must lie strictly between ``default - s`` and ``default + s`` per axis
    (PyTorch's rule), which admits every size that pools back to ``shape``.
    """
    default = (shape[0] * stride[0], shape[1] * stride[1])
    if output_size is None:
        return default
    size = int_pair(tuple(output_size), "output_size", minimum=1)
    for axis in range(2):
        lo, hi = default[axis] - stride[axis], default[axis] + stride[axis]
        if not lo < size[axis] < hi:
            raise ParameterError(
                f"output_size {format_size(size)} does not fit a {format_size(shape)} input at "
                f"stride {stride[0]},{stride[1]}: the width must lie strictly between "
                f"{default[1] - stride[1]}..{default[1] + stride[1]} and the height between "
                f"{default[0] - stride[0]}..{default[0] + stride[0]}"
            )
    return size


def max_unpool(
    x: np.ndarray,
    indices: np.ndarray | WindowOffsets,
    stride: int | Iterable[int],
    output_size: Sequence[int] | None = None,
    *,
    rows: tuple[int, int] | None = None,
    keep_dtype: bool = False,
) -> np.ndarray:
    """Scatter each value to the position its index names; zeros elsewhere.

    ``y.reshape(H_out * W_out, C)[indices[i, j, c], c] = x[i, j, c]`` with ``(H_out, W_out)``
    from :func:`unpool_output_size`. When two indices coincide (overlapping windows) the last
    write in row-major order wins.

    Parameters
    ----------
    x : ndarray, shape (H, W) or (H, W, C)
    indices : integer ndarray or WindowOffsets, same shape as ``x``
        Flat positions ``h * W_out + w`` from :func:`max_pool`, or the same positions as
        offsets inside each window (:func:`window_offsets`; the faster form).
    stride : int or (h, w)
    output_size : (h, w), optional
        The pooled-from size when it was not a multiple of the stride.
    rows : (start, stop), optional
        Compute only these output rows (banded processing).
    keep_dtype : bool
        Return the input's dtype instead of float (exact: values are only copied).

    Notes
    -----
    Dtype rule: float64 input gives float64, every other input float32.

    Examples
    --------
    The example of docs/references.md [seed-000]:

    >>> idx = np.array([[5, 2], [9, 14]])
    >>> max_unpool(np.array([[1., 2.], [3., 4.]]), idx, 2)
    array([[0., 0., 2., 0.],
           [0., 1., 0., 0.],
           [0., 3., 0., 0.],
           [0., 0., 4., 0.]])
    """
    x = check_image(x)
    s = int_pair(stride, "stride", minimum=1)
    if isinstance(indices, WindowOffsets):
        return _unpool_offsets(x, indices.offsets, s, output_size, rows, keep_dtype)
    idx = np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise ParameterError(f"indices must be integers, got dtype {idx.dtype}")
    if idx.shape != x.shape:
        raise ParameterError(f"indices have shape {idx.shape} but the input has shape {x.shape}")
    out_h, out_w = unpool_output_size(x.shape[:2], s, output_size)
    x3, was_2d = as_planes(x)
    i3, _ = as_planes(idx.astype(np.int64, copy=False))
    if i3.min() < 0 or i3.max() >= out_h * out_w:
        raise ParameterError(
            f"indices must lie in [0, {out_h * out_w}) for a {format_size((out_h, out_w))} output; "
            f"found {int(i3.min())}..{int(i3.max())}"
        )
    r0, r1 = row_range(rows, out_h)
    c = x3.shape[2]
    dtype = x.dtype if keep_dtype else result_dtype(x)
    y = np.zeros((r1 - r0) * out_w * c, dtype=dtype)
    # One flat index per value: (position * C + channel), relative to the band's first row.
    flat = i3 * c + np.arange(c) - r0 * out_w * c
    if (r0, r1) == (0, out_h):
        y[flat.ravel()] = x3.ravel()
    else:
        inside = (flat >= 0) & (flat < y.size)
        y[flat[inside]] = x3[inside]
    return restore_rank(y.reshape(r1 - r0, out_w, c), was_2d)


def check_window_offsets(
    offsets: np.ndarray,
    stride: tuple[int, int],
    output_size: tuple[int, int],
    *,
    window_rows: tuple[int, int] | None = None,
) -> None:
    """Raise :class:`ParameterError` unless ``offsets`` (uint8, ``(H', W'[, C])``) name positions
    inside their ``stride`` windows and inside the ``output_size`` plane; ``window_rows``
    ``(start, stop)`` checks the values of those rows of windows only (one band's)."""
    sh, sw = stride
    if offsets.dtype != np.uint8 or offsets.ndim not in (2, 3):
        raise ParameterError(
            f"window offsets must be a 2-D or 3-D uint8 array, got {offsets.ndim}-D {offsets.dtype}"
        )
    if sh * sw > MAX_WINDOW:
        raise ParameterError(f"a {format_size(stride)} window has more than {MAX_WINDOW} positions")
    unpool_output_size(offsets.shape[:2], stride, output_size)
    o3, _ = as_planes(offsets)
    ph, pw = o3.shape[:2]
    a, b = window_rows if window_rows is not None else (0, ph)
    o3 = o3[a:b]
    if o3.size and int(o3.max()) >= sh * sw:
        raise ParameterError(
            f"window offsets must lie in [0, {sh * sw}) for {format_size(stride)} windows; "
            f"found {int(o3.max())}"
        )
    # A window cut by a smaller output_size must not name a position outside the output.
    sizes = ((ph, sh, output_size[0]), (pw, sw, output_size[1]))
    for axis, (count, step, size) in enumerate(sizes):
        cut = size - (count - 1) * step  # positions of the last window inside the output
        if cut < step and o3.size and (axis == 1 or b == ph):
            edge = o3[-1] if axis == 0 else o3[:, -1]
            if not ((edge // sw if axis == 0 else edge % sw) < cut).all():
                raise ParameterError(
                    "window offsets name positions outside the "
                    f"{format_size(output_size)} output"
                )


def _unpool_offsets(
    x: np.ndarray,
    offsets: np.ndarray,
    stride: tuple[int, int],
    output_size: Sequence[int] | None,
    rows: tuple[int, int] | None,
    keep_dtype: bool,
) -> np.ndarray:
    """:func:`max_unpool` from window offsets: for each offset ``k = dy * s_w + dx``,
    ``y[dy::s_h, dx::s_w] = x where offsets == k else 0``, over the band's windows only."""
    sh, sw = stride
    if offsets.shape != x.shape:
        raise ParameterError(
            f"window offsets have shape {offsets.shape} but the input has shape {x.shape}"
        )
    out_h, out_w = unpool_output_size(x.shape[:2], stride, output_size)
    r0, r1 = row_range(rows, out_h)
    x3, was_2d = as_planes(x)
    o3, _ = as_planes(offsets)
    ph, pw, c = x3.shape
    stop = min(r1, out_h)
    first_window, last_window = r0 // sh, min(ph, -(-stop // sh))
    # Only the band's windows are read, so only they are checked.
    check_window_offsets(offsets, stride, (out_h, out_w), window_rows=(first_window, last_window))
    dtype = x.dtype if keep_dtype else result_dtype(x)
    y = np.zeros((r1 - r0, out_w, c), dtype=dtype)
    # Multiplying by the match keeps integers exact; floats need a select (NaN * 0 is NaN and a
    # negative value times 0 is -0.0).
    exact_product = x3.dtype.kind in "biu"

    def windows(a: int, b: int) -> None:
        """Write the output rows of window rows ``[a, b)`` that lie in the band."""
        for dy in range(sh):
            i0 = max(a, -((dy - r0) // sh))  # first window whose row i * sh + dy >= r0
            i1 = min(b, -((dy - stop) // sh))  # past the last with i * sh + dy < stop
            if i1 <= i0:
                continue
            first = i0 * sh + dy - r0
            out_rows = slice(first, first + (i1 - i0 - 1) * sh + 1, sh)
            for dx in range(sw):
                j1 = min(pw, -((dx - out_w) // sw))
                if j1 <= 0:
                    continue
                values, match = x3[i0:i1, :j1], o3[i0:i1, :j1] == dy * sw + dx
                kept = values * match if exact_product else np.where(match, values, 0)
                target = y[out_rows, dx : dx + (j1 - 1) * sw + 1 : sw]
                if c == 1:
                    target[:, :, 0] = kept[:, :, 0]
                else:  # one channel at a time: a long inner loop instead of one of C values
                    for channel in range(c):
                        target[:, :, channel] = kept[:, :, channel]

    window_bytes = max(1, pw * c * sh * sw * y.itemsize)
    run_in_bands(
        windows,
        first_window,
        max(first_window, last_window),
        rows_per_band=max(1, (1 << 20) // window_bytes),
    )
    return restore_rank(y, was_2d)


def _bed_of_nails_backend(x: np.ndarray, options: MethodOptions, rows: Rows = None) -> np.ndarray:
    return bed_of_nails(x, options.stride, rows=rows, keep_dtype=options.keep_dtype)


def _max_unpool_backend(x: np.ndarray, options: MethodOptions, rows: Rows = None) -> np.ndarray:
    if options.indices is None:
        raise ParameterError(
            "max-unpool needs the positions of the maxima: pass --indices FILE.npz "
            "(written by 'upsamp pool ... --indices-out FILE.npz') or --guide IMAGE"
        )
    return max_unpool(
        x,
        options.indices,
        options.stride,
        options.output_size,
        rows=rows,
        keep_dtype=options.keep_dtype,
    )


def _scaled_shape(shape: tuple[int, int], options: MethodOptions) -> tuple[int, int]:
    return (shape[0] * options.stride[0], shape[1] * options.stride[1])


def _unpool_shape(shape: tuple[int, int], options: MethodOptions) -> tuple[int, int]:
    return unpool_output_size(shape, options.stride, options.output_size)


def _bed_of_nails_kernel(stride: tuple[int, int]) -> Kernel:
    return preset("bed-of-nails", stride)


def _pooled_ground_truth(
    truth: np.ndarray, stride: tuple[int, int], options: MethodOptions
) -> tuple[np.ndarray, MethodOptions]:
    """The report's round trip for max-unpool: the max-pooled ground truth and its positions."""
    pooled, idx = max_pool(truth, stride)
    return pooled, options.replace(indices=idx, output_size=truth.shape[:2])


def _flat_positions(
    shape: Sequence[int], stride: tuple[int, int], options: MethodOptions
) -> MethodOptions:
    """Options with the positions of the maxima of a flat ``(H*s_h, W*s_w)`` image max-pooled
    by ``stride``: every tie goes to the first position of its window, the top-left."""
    h, w = int(shape[0]), int(shape[1])
    _, idx = max_pool(np.zeros((h * stride[0], w * stride[1])), stride)
    if len(shape) == 3:
        idx = np.repeat(idx[:, :, None], int(shape[2]), axis=2)
    return options.replace(indices=idx, output_size=None)


register(
    Method(
        name="bed-of-nails",
        summary="each value at the top-left of its stride×stride cell, zeros elsewhere",
        upsample=_bed_of_nails_backend,
        supports_rows=True,
        copies_values=True,
        output_shape=_scaled_shape,
        explain_views=("scatter", "gather", "matrix", "phases", "size"),
        as_transconv=_bed_of_nails_kernel,
    )
)
register(
    Method(
        name="max-unpool",
        summary="each value back where max-pooling found it (needs indices or a guide)",
        upsample=_max_unpool_backend,
        supports_rows=True,
        copies_values=True,
        output_shape=_unpool_shape,
        uses=frozenset({"stride", "indices", "output_size"}),
        needs_positions=True,
        roundtrip_input=_pooled_ground_truth,
        probe_options=_flat_positions,
        explain_views=("pool",),
    )
)
