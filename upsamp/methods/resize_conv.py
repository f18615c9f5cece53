"""Resize-convolution: interpolate by an integer factor, then an ordinary convolution.

``y = F.conv2d(F.interpolate(x, scale_factor=S, mode=resize), W, b, padding="same")`` with
``resize`` ``nearest`` or ``bilinear`` (``align_corners=False``): the upsampler Odena et al.
(Distill 2016) recommend against the checkerboard artifacts of transposed convolution. The
``same`` padding follows PyTorch: ``(k - 1) // 2`` before and the rest after, so an even
kernel has its extra row and column of padding on the far (bottom, right) side, and the output
is exactly ``S`` times the input.

A nearest resize followed by a convolution with ``k`` is a transposed convolution with kernel
``box_S ⊛ flip(k)`` (:mod:`upsamp.kernel_convert`).
"""

from __future__ import annotations

import numpy as np

from .._arrays import (
    EDGE_MODES,
    as_planes,
    check_image,
    choice,
    int_pair,
    restore_rank,
    result_dtype,
    row_range,
)
from .conv2d import bias_vector, conv2d_padding, conv2d_weight, correlate_valid
from .interpolate import bilinear, nearest
from .polyphase import BAND_VALUES, extended_indices, run_in_bands

__all__ = ["resize_conv", "RESIZE_MODES"]

#: The interpolations a resize-convolution may start with.
RESIZE_MODES = ("nearest", "bilinear")


def _resized_rows(
    x3: np.ndarray, resize: str, stride: tuple[int, int], start: int, stop: int
) -> np.ndarray:
    """Rows ``[start, stop)`` (inside the resized image) of the interpolated image."""
    if resize == "nearest":
        return nearest(x3, stride, rows=(start, stop))
    return bilinear(x3, stride, rows=(start, stop))


def resize_conv(
    x: np.ndarray,
    weight: np.ndarray,
    stride: int | tuple[int, int],
    *,
    resize: str = "nearest",
    bias: np.ndarray | float | None = None,
    groups: int | None = None,
    edge: str = "zero",
    rows: tuple[int, int] | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """Interpolate by ``stride``, then ``conv2d(·, weight, bias, padding="same")``.

    Parameters
    ----------
    x : ndarray, shape (H, W) or (H, W, C_in)
    weight : ndarray, shape (kH, kW) or (C_out, C_in/groups, kH, kW)
        A 2-D kernel is applied to each channel on its own; a 4-D kernel is PyTorch's
        ``Conv2d`` layout.
    stride : int or (h, w)
        The integer interpolation factor.
    resize : {"nearest", "bilinear"}
        ``F.interpolate`` mode (half-pixel centres, clamped edges for bilinear).
    bias : float or ndarray of shape (C_out,), optional
    groups : int, optional
        Channel groups of a 4-D weight (default 1).
    edge : {"zero", "replicate", "reflect"}
        What the convolution's padding holds (``Conv2d`` ``padding_mode``; ``zero`` is
        ``F.conv2d``).
    rows : (start, stop), optional
        Only these output rows, identical to the same rows of the whole result.

    Returns
    -------
    ndarray, shape (H·S_h, W·S_w) or (H·S_h, W·S_w, C_out)

    Notes
    -----
    An even kernel is centred as PyTorch's ``padding="same"`` centres it: ``k/2 - 1`` rows of
    padding before and ``k/2`` after, so the output pixel sits over tap ``k/2 - 1``.
    Dtype rule: float64 input gives float64, every other input float32; values are not
    rescaled.

    Examples
    --------
    >>> resize_conv(np.array([[1., 2.]]), np.array([[0.5, 0.5]]), 2)
    array([[1. , 1.5, 2. , 1. ],
           [1. , 1.5, 2. , 1. ]])
    """
    x = check_image(x)
    choice(resize, "resize", RESIZE_MODES)
    choice(edge, "edge", EDGE_MODES)
    sh, sw = int_pair(stride, "stride", minimum=1)
    x3, was_2d = as_planes(x)
    h, w, c = x3.shape
    cw = conv2d_weight(weight, c, groups)
    kh, kw = cw.kernel_size
    (top, _), (left, right) = conv2d_padding((kh, kw), "same")
    out_h, out_w = h * sh, w * sw
    c_out = cw.out_channels(c)
    b = bias_vector(bias, c_out)
    dtype = result_dtype(x)
    r0, r1 = row_range(rows, out_h)
    out = np.empty((r1 - r0, out_w, c_out), dtype=dtype)
    col_source = extended_indices(-left, out_w + right, out_w, edge)

    def work(a: int, stop: int) -> None:
        span = (a - top, stop + kh - 1 - top)
        row_source = extended_indices(span[0], span[1], out_h, edge)
        if row_source is None:  # zeros beyond the resized image
            lo, hi = max(span[0], 0), min(span[1], out_h)
            z = np.zeros((span[1] - span[0], out_w + left + right, c), dtype=dtype)
            inner = _resized_rows(x3, resize, (sh, sw), lo, hi).astype(dtype, copy=False)
            z[lo - span[0] : hi - span[0], left : left + out_w] = inner
        else:
            lo, hi = int(row_source.min()), int(row_source.max()) + 1
            inner = _resized_rows(x3, resize, (sh, sw), lo, hi).astype(dtype, copy=False)
            z = np.take(inner[row_source - lo], col_source, axis=1)
        out[a - r0 : stop - r0] = correlate_valid(z, cw, dtype)

    per_row = out_w * (c_out if cw.depthwise else max(c_out, kh * kw * c))
    run_in_bands(work, r0, r1, rows_per_band=max(4, BAND_VALUES // max(1, per_row)),
                 threads=threads)  # fmt: skip
    if b is not None:
        out += b.astype(dtype)
    return restore_rank(out, was_2d and c_out == 1)
