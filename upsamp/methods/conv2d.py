"""Ordinary 2-D convolution with ``torch.nn.functional.conv2d`` semantics, channel-last and banded.

The building block of sub-pixel convolution and resize-convolution. A cross-correlation (no
kernel flip), stride 1, dilation 1:

    y[oh, ow, co] = b[co] + sum over ci in co's group, th, tw of
                    x_ext[oh + th - p_top, ow + tw - p_left, ci] * w[co, ci_local, th, tw]

where ``x_ext`` is ``x`` extended beyond its borders by ``edge`` (zeros as ``F.conv2d``, or edge
pixels repeated or mirrored as ``nn.Conv2d(padding_mode="replicate" | "reflect")``). The output
is ``H + p_top + p_bottom - kH + 1`` rows (likewise columns). ``padding="same"`` keeps the size:
``p_top = (kH - 1) // 2`` and the remaining ``kH - 1 - p_top`` go to the bottom (PyTorch's rule
for ``padding="same"``: an even kernel gets the extra row on the far side).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._arrays import (
    EDGE_MODES,
    as_planes,
    bias_vector,
    check_image,
    check_weight,
    choice,
    restore_rank,
    result_dtype,
)
from ..errors import KernelError, ParameterError
from ..geometry import format_size
from ..threads import run_in_bands
from .polyphase import BAND_VALUES, extended_take

__all__ = ["conv2d", "conv2d_padding", "conv2d_output_size", "Conv2dWeight", "conv2d_weight"]

#: Side padding per axis: ``((top, bottom), (left, right))``.
SidePadding = tuple[tuple[int, int], tuple[int, int]]


def conv2d_padding(kernel_size: tuple[int, int], padding: object) -> SidePadding:
    """Expand ``padding`` (``"same"``, ``"valid"``, an int or an ``(h, w)`` pair) into the rows
    and columns added before and after each axis.

    >>> conv2d_padding((3, 4), "same")
    ((1, 1), (1, 2))
    >>> conv2d_padding((3, 3), (2, 0))
    ((2, 2), (0, 0))
    """
    if isinstance(padding, str):
        choice(padding, "padding", ("same", "valid"))
        if padding == "valid":
            return (0, 0), (0, 0)
        sides = []
        for k in kernel_size:
            before = (k - 1) // 2
            sides.append((before, k - 1 - before))
        return sides[0], sides[1]
    if isinstance(padding, (int, np.integer)) and not isinstance(padding, bool):
        pair = (int(padding), int(padding))
    else:
        try:
            ph, pw = padding  # type: ignore[misc]
            pair = (int(ph), int(pw))
        except (TypeError, ValueError):
            raise ParameterError(
                f"padding must be 'same', 'valid', an int or an (h, w) pair, got {padding!r}"
            ) from None
    if min(pair) < 0:
        raise ParameterError(f"padding must be >= 0, got {padding!r}")
    return (pair[0], pair[0]), (pair[1], pair[1])


def conv2d_output_size(
    shape: tuple[int, int], kernel_size: tuple[int, int], padding: object
) -> tuple[int, int]:
    """``(H + top + bottom - kH + 1, W + left + right - kW + 1)``.

    >>> conv2d_output_size((5, 6), (3, 4), "same")
    (5, 6)
    """
    (top, bottom), (left, right) = conv2d_padding(kernel_size, padding)
    return (
        shape[0] + top + bottom - kernel_size[0] + 1,
        shape[1] + left + right - kernel_size[1] + 1,
    )


@dataclass(frozen=True)
class Conv2dWeight:
    """A checked convolution weight.

    ``w4`` is ``(C_out, C_in/groups, kH, kW)``; ``depthwise`` marks a 2-D kernel applied to
    every channel on its own (then ``w4`` is ``(1, 1, kH, kW)`` and ``C_out`` is the image's
    channel count).
    """

    w4: np.ndarray
    groups: int
    depthwise: bool

    @property
    def kernel_size(self) -> tuple[int, int]:
        return int(self.w4.shape[2]), int(self.w4.shape[3])

    def out_channels(self, in_channels: int) -> int:
        return in_channels if self.depthwise else int(self.w4.shape[0])


def conv2d_weight(weight: object, channels: int, groups: int | None = None) -> Conv2dWeight:
    """Check a convolution weight against an image of ``channels`` channels.

    ``weight`` is 2-D ``(kH, kW)`` (each channel alone) or 4-D ``(C_out, C_in/groups, kH, kW)``
    (PyTorch's ``Conv2d`` layout); ``groups`` defaults to 1 for a 4-D weight.
    """
    w = check_weight(weight, channels, groups)
    if w.ndim == 2:
        return Conv2dWeight(w.astype(np.float64)[None, None], channels, True)
    if w.ndim != 4:
        raise KernelError(
            f"kernel must be 2-D (kH, kW) or 4-D (C_out, C_in/groups, kH, kW), got shape {w.shape}"
        )
    g = 1 if groups is None else int(groups)
    if g < 1:
        raise KernelError(f"groups must be >= 1, got {groups}")
    if channels % g or w.shape[0] % g:
        raise KernelError(
            f"groups={g} must divide the {channels} input channels and the {w.shape[0]} output "
            "channels"
        )
    if w.shape[1] * g != channels:
        raise KernelError(
            f"kernel takes {w.shape[1] * g} input channels (shape {w.shape}, groups={g}) but the "
            f"image has {channels}"
        )
    return Conv2dWeight(w.astype(np.float64), g, False)


def extended_block(
    x: np.ndarray,
    rows: tuple[int, int],
    cols: tuple[int, int],
    edge: str,
    dtype: np.dtype,
) -> np.ndarray:
    """``x_ext[rows[0]:rows[1], cols[0]:cols[1]]`` as ``dtype``: ``x`` extended beyond its
    borders with zeros, or its edge pixels repeated (``replicate``) or mirrored (``reflect``)."""
    block = extended_take(x, rows[0], rows[1], 0, edge, dtype)
    return extended_take(block, cols[0], cols[1], 1, edge, dtype)


def correlate_valid(block: np.ndarray, weight: Conv2dWeight, dtype: np.dtype) -> np.ndarray:
    """The valid cross-correlation of an already extended ``(h, w, C_in)`` block:
    ``(h - kH + 1, w - kW + 1, C_out)``."""
    kh, kw = weight.kernel_size
    out_h, out_w = block.shape[0] - kh + 1, block.shape[1] - kw + 1
    if weight.depthwise:
        w2 = weight.w4[0, 0].astype(dtype)
        out = np.zeros((out_h, out_w, block.shape[2]), dtype=dtype)
        scratch = np.empty_like(out)
        for th in range(kh):
            for tw in range(kw):
                if w2[th, tw] != 0:
                    np.multiply(block[th : th + out_h, tw : tw + out_w], w2[th, tw], out=scratch)
                    out += scratch
        return out
    c_in = block.shape[2]
    c_out = weight.w4.shape[0]
    # Every tap's shifted copy of the input side by side along the channel axis, then one
    # matrix product (tap, input channel) -> output channel; groups are blocks of the matrix.
    stacked = np.empty((out_h, out_w, kh * kw * c_in), dtype=dtype)
    for th in range(kh):
        for tw in range(kw):
            n = th * kw + tw
            stacked[:, :, n * c_in : (n + 1) * c_in] = block[th : th + out_h, tw : tw + out_w]
    matrix = np.zeros((kh, kw, c_in, c_out), dtype=np.float64)
    c_in_g, c_out_g = c_in // weight.groups, c_out // weight.groups
    for g in range(weight.groups):
        ci = slice(g * c_in_g, (g + 1) * c_in_g)
        co = slice(g * c_out_g, (g + 1) * c_out_g)
        matrix[:, :, ci, co] = weight.w4[co].transpose(2, 3, 1, 0)
    return np.matmul(stacked, matrix.reshape(-1, c_out).astype(dtype))


def conv2d(
    x: np.ndarray,
    weight: np.ndarray,
    *,
    bias: np.ndarray | float | None = None,
    padding: object = 0,
    groups: int | None = None,
    edge: str = "zero",
    rows: tuple[int, int] | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """2-D convolution (cross-correlation) of a channel-last image, as ``F.conv2d``.

    Parameters
    ----------
    x : ndarray, shape (H, W) or (H, W, C)
    weight : ndarray, shape (kH, kW) or (C_out, C_in/groups, kH, kW)
        A 2-D kernel is applied to each channel on its own.
    bias : float or ndarray of shape (C_out,), optional
    padding : "same", "valid", int or (h, w)
        ``same``: ``(k - 1) // 2`` before and the rest after, per axis (PyTorch).
    groups : int, optional
        Channel groups of a 4-D weight (default 1).
    edge : {"zero", "replicate", "reflect"}
        What the padding holds: zeros (``F.conv2d``) or the edge pixels repeated or mirrored
        (``nn.Conv2d`` ``padding_mode``).
    rows : (start, stop), optional
        Only these output rows, identical to the same rows of the whole result.

    Notes
    -----
    Dtype rule: float64 input gives float64, every other input float32; values are not
    rescaled.

    Examples
    --------
    >>> conv2d(np.array([[1., 2.], [3., 4.]]), np.array([[1., 1.], [1., 1.]]), padding="same")
    array([[10.,  6.],
           [ 7.,  4.]])
    """
    x = check_image(x)
    choice(edge, "edge", EDGE_MODES)
    x3, was_2d = as_planes(x)
    h, w, c = x3.shape
    cw = conv2d_weight(weight, c, groups)
    (top, bottom), (left, right) = conv2d_padding(cw.kernel_size, padding)
    kh, kw = cw.kernel_size
    out_h, out_w = h + top + bottom - kh + 1, w + left + right - kw + 1
    if out_h < 1 or out_w < 1:
        raise ParameterError(
            f"a {format_size((kh, kw))} kernel with this padding leaves no output for a "
            f"{format_size((h, w))} input"
        )
    c_out = cw.out_channels(c)
    b = bias_vector(bias, c_out)
    dtype = result_dtype(x)
    r0, r1 = (0, out_h) if rows is None else (int(rows[0]), int(rows[1]))
    if not 0 <= r0 < r1 <= out_h:
        raise ParameterError(f"rows must satisfy 0 <= start < stop <= {out_h}, got {rows}")
    out = np.empty((r1 - r0, out_w, c_out), dtype=dtype)

    def work(a: int, bnd: int) -> None:
        block = extended_block(x3, (a - top, bnd + kh - 1 - top), (-left, w + right), edge, dtype)
        out[a - r0 : bnd - r0] = correlate_valid(block, cw, dtype)

    # The stacked copies of a channel-mixing band hold kH*kW*C values per output pixel.
    per_row = out_w * (c_out if cw.depthwise else max(c_out, kh * kw * c))
    band = max(4, BAND_VALUES // max(1, per_row))
    run_in_bands(work, r0, r1, rows_per_band=band, threads=threads)
    if b is not None:
        out += b.astype(dtype)
    return restore_rank(out, was_2d and c_out == 1)


def ceil_div(a: int, b: int) -> int:
    """``ceil(a / b)`` for integers.

    >>> ceil_div(5, 2)
    3
    """
    return -(-a // b)
