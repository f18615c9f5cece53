"""Transposed convolution with exactly ``torch.nn.functional.conv_transpose2d`` semantics.

The scatter form (no kernel flip): every input pixel ``x[ih, iw, ci]`` adds
``x * w[ci, co, kh, kw]`` to the output position

    oh = ih * s_h - p_h + kh * d_h,    ow = iw * s_w - p_w + kw * d_w

and contributions that land outside ``[0, H_out) x [0, W_out)`` are dropped, with

    H_out = (H - 1) * s_h - 2 * p_h + d_h * (kH - 1) + op_h + 1      (likewise W_out).

``padding`` therefore crops ``p`` samples from each side of the full scatter and ``output_padding``
extends the bottom/right end (the extra rows hold real contributions or the bias, not zeros).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from .._arrays import (
    EDGE_MODES,
    as_float_image,
    as_planes,
    check_image,
    choice,
    int_pair,
    restore_rank,
    result_dtype,
    row_range,
)
from ..errors import KernelError, ParameterError
from .polyphase import full_window
from .registry import Method, MethodOptions, Rows, register

__all__ = [
    "EDGE_MODES",
    "transconv",
    "transconv_plain",
    "transconv_output_size",
    "check_transconv_params",
]

IntOrPair = int | Iterable[int]


def transconv_output_size(
    size: int,
    kernel: int,
    *,
    stride: int,
    padding: int = 0,
    output_padding: int = 0,
    dilation: int = 1,
) -> int:
    """Output length along one axis.

    ``(size-1)*stride - 2*padding + dilation*(kernel-1) + output_padding + 1``

    >>> transconv_output_size(2, 2, stride=1)
    3
    >>> transconv_output_size(3, 4, stride=2, padding=1)
    6
    """
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def check_transconv_params(
    stride: IntOrPair, padding: IntOrPair, output_padding: IntOrPair, dilation: IntOrPair
) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int]]:
    """Validate and expand the four geometry parameters to ``(h, w)`` pairs, as PyTorch checks them.

    Raises :class:`~upsamp.errors.ParameterError` when stride or dilation < 1, padding or
    output_padding < 0, or output_padding is not smaller than either stride or dilation.
    """
    s = int_pair(stride, "stride", minimum=1)
    p = int_pair(padding, "padding", minimum=0)
    op = int_pair(output_padding, "output_padding", minimum=0)
    d = int_pair(dilation, "dilation", minimum=1)
    for axis in range(2):
        if not (op[axis] < s[axis] or op[axis] < d[axis]):
            raise ParameterError(
                f"output_padding must be smaller than either stride or dilation "
                f"(got output_padding={op[axis]}, stride={s[axis]}, dilation={d[axis]})"
            )
    return s, p, op, d


def _as_weight(
    weight: np.ndarray, channels: int, groups: int | None
) -> tuple[np.ndarray, int, bool]:
    """Return ``(w4, groups, depthwise)`` with ``w4`` of layout ``(C_in, C_out/groups, kH, kW)``."""
    w = np.asarray(weight)
    if w.dtype.kind not in "biuf":
        raise KernelError(f"kernel must be numeric, got dtype {w.dtype}")
    if w.size == 0:
        raise KernelError(f"kernel must not be empty, got shape {w.shape}")
    if not np.all(np.isfinite(w)):
        raise KernelError("kernel contains NaN or infinite values")
    if w.ndim == 2:
        if groups not in (None, channels):
            raise KernelError(f"a 2-D kernel acts on each channel alone; groups must be {channels}")
        return w[None, None, :, :], channels, True
    if w.ndim != 4:
        raise KernelError(
            f"kernel must be 2-D (kH, kW) or 4-D (C_in, C_out/groups, kH, kW), got shape {w.shape}"
        )
    g = 1 if groups is None else int(groups)
    if g < 1:
        raise KernelError(f"groups must be >= 1, got {groups}")
    if w.shape[0] != channels:
        raise KernelError(
            f"kernel has {w.shape[0]} input channels (shape {w.shape}) but the image has {channels}"
        )
    if channels % g:
        raise KernelError(f"groups={g} does not divide the {channels} input channels")
    return w, g, False


@dataclass(frozen=True)
class _Call:
    """The checked arguments of one transposed convolution (shared by both engines)."""

    x3: np.ndarray
    was_2d: bool
    w4: np.ndarray
    groups: int
    depthwise: bool
    stride: tuple[int, int]
    padding: tuple[int, int]
    output_padding: tuple[int, int]
    dilation: tuple[int, int]
    out_h: int
    out_w: int
    c_out: int
    bias: np.ndarray | None
    dtype: np.dtype

    @classmethod
    def check(
        cls,
        x: np.ndarray,
        weight: np.ndarray,
        stride: IntOrPair,
        padding: IntOrPair,
        output_padding: IntOrPair,
        dilation: IntOrPair,
        groups: int | None,
        bias: np.ndarray | float | None,
        edge: str,
    ) -> _Call:
        x = check_image(x)
        choice(edge, "edge", EDGE_MODES)
        s, p, op, d = check_transconv_params(stride, padding, output_padding, dilation)
        x3, was_2d = as_planes(x)
        h, w, c = x3.shape
        w4, g, depthwise = _as_weight(weight, c, groups)
        kh, kw = w4.shape[2:]
        out_h = transconv_output_size(
            h, kh, stride=s[0], padding=p[0], output_padding=op[0], dilation=d[0]
        )
        out_w = transconv_output_size(
            w, kw, stride=s[1], padding=p[1], output_padding=op[1], dilation=d[1]
        )
        if out_h < 1 or out_w < 1:
            raise ParameterError(
                f"output size would be {out_h}x{out_w}: padding {p} is too large for a {h}x{w} "
                "input"
            )
        c_out = c if depthwise else w4.shape[1] * g
        return cls(
            x3, was_2d, w4, g, depthwise, s, p, op, d, out_h, out_w, c_out,
            _bias_vector(bias, c_out), result_dtype(x),
        )  # fmt: skip


def transconv(
    x: np.ndarray,
    weight: np.ndarray,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
    output_padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
    groups: int | None = None,
    bias: np.ndarray | float | None = None,
    edge: str = "zero",
    *,
    rows: tuple[int, int] | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """Transposed convolution of a channel-last image (``conv_transpose2d`` semantics).

    Parameters
    ----------
    x : ndarray, shape (H, W) or (H, W, C)
        Input image (channel-last).
    weight : ndarray, shape (kH, kW) or (C_in, C_out/groups, kH, kW)
        A 2-D kernel is applied to each channel on its own (depthwise). A 4-D kernel uses the
        PyTorch/MXNet layout; ``C_in`` must equal ``C``.
    stride, padding, output_padding, dilation : int or (h, w)
        As in PyTorch. ``output_padding`` must be smaller than stride or dilation.
    groups : int, optional
        Channel groups of a 4-D kernel (default 1). Ignored for 2-D kernels.
    bias : float or ndarray of shape (C_out,), optional
        Added to every output position of its channel.
    edge : {"zero", "replicate", "reflect"}
        ``zero`` is the framework behaviour. ``replicate``/``reflect`` pad the input by enough edge
        pixels, run the same operation and crop back to the same output size, so the implicit zeros
        beyond the border do not darken it.
    rows : (start, stop), optional
        Compute only these output rows (for banded processing); the result is identical to the
        same rows of the whole output.
    threads : int, optional
        Threads for this call (default: every CPU this process may use).

    Returns
    -------
    ndarray, shape (H_out, W_out) or (H_out, W_out, C_out)
        ``H_out = (H-1)*s - 2p + d*(kH-1) + op + 1`` (likewise ``W_out``);
        ``C_out = weight.shape[1] * groups`` for a 4-D kernel. A 2-D input gives a 2-D output when
        ``C_out`` is 1.

    Notes
    -----
    Scatter form, no kernel flip:
    ``y[ih*s - p + kh*d, iw*s - p + kw*d, co] += x[ih, iw, ci] * w[ci, co, kh, kw]``.
    Dtype rule: float64 input gives float64, every other input float32; values are not rescaled.

    Examples
    --------
    The worked example of seed 000 (2x2 input, 2x2 kernel of fives, stride 1):

    >>> transconv(np.array([[1., 2.], [3., 4.]]), np.full((2, 2), 5.))
    array([[ 5., 15., 10.],
           [20., 50., 30.],
           [15., 35., 20.]])
    """
    call = _Call.check(x, weight, stride, padding, output_padding, dilation, groups, bias, edge)
    y = full_window(
        call.x3,
        call.w4.astype(call.dtype, copy=False),
        groups=call.groups,
        depthwise=call.depthwise,
        stride=call.stride,
        dilation=call.dilation,
        origin=call.padding,
        out_shape=(call.out_h, call.out_w),
        rows=row_range(rows, call.out_h),
        dtype=call.dtype,
        edge=edge,
        threads=threads,
    )
    if call.bias is not None:
        y += call.bias.astype(call.dtype)
    return restore_rank(y, call.was_2d and call.c_out == 1)


def transconv_plain(
    x: np.ndarray,
    weight: np.ndarray,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
    output_padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
    groups: int | None = None,
    bias: np.ndarray | float | None = None,
    edge: str = "zero",
) -> np.ndarray:
    """The same operation as :func:`transconv` by the textbook route: pad the input for the edge
    mode, accumulate one strided slice per tap into the full scatter, then crop. Slower; kept as
    a second, independent engine for tests and benchmarks."""
    call = _Call.check(
        as_float_image(x), weight, stride, padding, output_padding, dilation, groups, bias, edge
    )
    x3, w4, g, depthwise, dtype = call.x3, call.w4, call.groups, call.depthwise, call.dtype
    s, p, op, d = call.stride, call.padding, call.output_padding, call.dilation
    out_h, out_w, c_out, bias_vec, was_2d = (
        call.out_h,
        call.out_w,
        call.c_out,
        call.bias,
        call.was_2d,
    )
    kh, kw = w4.shape[2:]
    if edge != "zero":
        margin = tuple(math.ceil((d[a] * ((kh, kw)[a] - 1) + op[a]) / s[a]) + 1 for a in range(2))
        mode = "edge" if edge == "replicate" else "reflect"
        x3 = np.pad(x3, ((margin[0], margin[0]), (margin[1], margin[1]), (0, 0)), mode=mode)
        offset = (margin[0] * s[0], margin[1] * s[1])
    else:
        offset = (0, 0)
    y = _scatter(x3, w4.astype(dtype, copy=False), g, depthwise, s, d, dtype)
    y = _crop(y, (p[0] + offset[0], p[1] + offset[1]), (out_h, out_w))
    if bias_vec is not None:
        y += bias_vec.astype(dtype)
    return restore_rank(y, was_2d and c_out == 1)


def _bias_vector(bias: np.ndarray | float | None, c_out: int) -> np.ndarray | None:
    if bias is None:
        return None
    b = np.asarray(bias, dtype=np.float64)
    if b.ndim == 0:
        b = np.full(c_out, float(b))
    if b.shape != (c_out,):
        raise KernelError(
            f"bias must have one value per output channel ({c_out}), got shape {b.shape}"
        )
    if not np.all(np.isfinite(b)):
        raise KernelError("bias contains NaN or infinite values")
    return b


def _scatter(
    x3: np.ndarray,
    w4: np.ndarray,
    groups: int,
    depthwise: bool,
    s: tuple[int, int],
    d: tuple[int, int],
    dtype: np.dtype,
) -> np.ndarray:
    """Full (uncropped) scatter of ``x3`` (H, W, C): one strided accumulation per tap."""
    h, w, c = x3.shape
    kh, kw = w4.shape[2:]
    full_h = (h - 1) * s[0] + d[0] * (kh - 1) + 1
    full_w = (w - 1) * s[1] + d[1] * (kw - 1) + 1
    c_in_g = c // groups
    c_out_g = w4.shape[1]
    c_out = c if depthwise else c_out_g * groups
    y = np.zeros((full_h, full_w, c_out), dtype=dtype)
    for i in range(kh):
        rows = slice(i * d[0], i * d[0] + (h - 1) * s[0] + 1, s[0])
        for j in range(kw):
            cols = slice(j * d[1], j * d[1] + (w - 1) * s[1] + 1, s[1])
            if depthwise:
                tap = w4[0, 0, i, j]
                if tap != 0:
                    y[rows, cols, :] += x3 * tap
                continue
            for gi in range(groups):
                x_g = x3[:, :, gi * c_in_g : (gi + 1) * c_in_g]
                w_g = w4[gi * c_in_g : (gi + 1) * c_in_g, :, i, j]
                y[rows, cols, gi * c_out_g : (gi + 1) * c_out_g] += x_g @ w_g
    return y


def _crop(y: np.ndarray, start: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """Take ``y[start : start+size]`` per axis, zero-extending past the end (output_padding)."""
    out = np.zeros((size[0], size[1], y.shape[2]), dtype=y.dtype)
    h_avail = max(0, min(size[0], y.shape[0] - start[0]))
    w_avail = max(0, min(size[1], y.shape[1] - start[1]))
    out[:h_avail, :w_avail] = y[start[0] : start[0] + h_avail, start[1] : start[1] + w_avail]
    return out


def _kernel_for(options: MethodOptions):  # -> upsamp.kernels.Kernel
    if options.kernel is not None:
        return options.kernel
    from ..kernels import DEFAULT_PRESET, preset  # kernels imports this module

    return preset(DEFAULT_PRESET, options.stride)


def _transconv_backend(x: np.ndarray, options: MethodOptions, rows: Rows = None) -> np.ndarray:
    kernel = _kernel_for(options)
    return transconv(x, kernel.weight, **kernel.transconv_kwargs(), rows=rows)


def _transconv_rounded_backend(
    x: np.ndarray, options: MethodOptions, rows: Rows = None
) -> np.ndarray | None:
    """The bilinear preset with replicated edges is bilinear interpolation (upsamp.kernels):
    for 8/16-bit images it is computed exactly in integers."""
    from ..kernels import preset
    from .interpolate import bilinear_rounded

    kernel = _kernel_for(options)
    if x.dtype not in (np.uint8, np.uint16) or kernel.bias is not None:
        return None
    reference = preset("bilinear", kernel.stride)
    same = (
        kernel.weight.shape == reference.weight.shape
        and np.array_equal(kernel.weight, reference.weight)
        and kernel.padding == reference.padding
        and kernel.output_padding == reference.output_padding
        and kernel.dilation == (1, 1)
        and kernel.edge == "replicate"
    )
    return bilinear_rounded(x, kernel.stride, rows=rows) if same else None


def _transconv_shape(shape: tuple[int, int], options: MethodOptions) -> tuple[int, int]:
    kernel = _kernel_for(options)
    s, p, op, d = check_transconv_params(
        kernel.stride, kernel.padding, kernel.output_padding, kernel.dilation
    )
    kh, kw = kernel.weight.shape[-2:]
    return (
        transconv_output_size(
            shape[0], kh, stride=s[0], padding=p[0], output_padding=op[0], dilation=d[0]
        ),
        transconv_output_size(
            shape[1], kw, stride=s[1], padding=p[1], output_padding=op[1], dilation=d[1]
        ),
    )


def _default_kernel(stride: tuple[int, int]):  # -> upsamp.kernels.Kernel
    return _kernel_for(MethodOptions(stride=stride))


def _transconv_channels(channels: int, options: MethodOptions) -> int:
    """A 4-D kernel gives ``C_out = weight.shape[1] * groups`` channels; a 2-D one keeps them."""
    kernel = options.kernel
    if kernel is not None and np.ndim(kernel.weight) == 4:
        return int(kernel.weight.shape[1] * (kernel.groups or 1))
    return channels


register(
    Method(
        name="transconv",
        summary="transposed convolution with a preset or a kernel file (PyTorch semantics)",
        upsample=_transconv_backend,
        supports_rows=True,
        upsample_rounded=_transconv_rounded_backend,
        output_shape=_transconv_shape,
        uses=frozenset({"stride", "kernel"}),
        output_channels=_transconv_channels,
        per_channel=lambda options: options.kernel is None or np.ndim(options.kernel.weight) == 2,
        default_kernel=_default_kernel,
        explain_views=("scatter", "gather", "matrix", "phases", "size"),
        as_transconv=_default_kernel,
    )
)
