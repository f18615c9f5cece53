"""Transposed convolution with ``torch.nn.functional.conv_transpose2d`` semantics
(docs/references.md [PyTorch-ConvTranspose2d], [MXNet-Deconvolution], [ONNX-ConvTranspose]).

The scatter form (no kernel flip): every input pixel ``x[ih, iw, ci]`` adds
``x * w[ci, co, kh, kw]`` to the output position

    oh = ih * s_h - p_h + kh * d_h,    ow = iw * s_w - p_w + kw * d_w

and contributions that land outside ``[0, H_out) x [0, W_out)`` are dropped, with

    H_out = (H - 1) * s_h - 2 * p_h + d_h * (kH - 1) + op_h + 1      (likewise W_out).

``padding`` therefore crops ``p`` samples from each side of the full scatter (of length
``(H - 1) * s_h + d_h * (kH - 1) + 1``) and ``output_padding`` extends the bottom/right end by
``op`` samples: those hold the scatter's own contributions where it reaches them (``op <= p``)
and only the bias beyond its end (``op > p``).

The computation is the polyphase engine of :mod:`upsamp.methods.polyphase`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._arrays import (
    EDGE_MODES,
    as_planes,
    check_image,
    choice,
    restore_rank,
    result_dtype,
    row_range,
)
from ..errors import KernelError, ParameterError
from ..geometry import IntOrPair, check_transconv_params, transconv_output_size
from ..kernels import DEFAULT_PRESET, Kernel, preset
from .interpolate import bilinear_transconv
from .polyphase import full_window
from .registry import Method, MethodOptions, Rows, register
from .rounded import ROUNDED_DTYPES, bilinear_rounded

__all__ = ["transconv"]


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
    """The checked arguments of one transposed convolution."""

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
        Channel groups of a 4-D kernel (default 1). A 2-D kernel is depthwise: ``groups`` must
        then be None or ``C``.
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
        Threads for this call (default :func:`upsamp.threads.image_threads`: ``$UPSAMP_THREADS``
        or every CPU this process may use). The result does not depend on it.

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
    The worked example of docs/references.md [seed-000] (2x2 input, 2x2 kernel of fives,
    stride 1):

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


def _weight_and_geometry(options: MethodOptions) -> tuple[np.ndarray, dict[str, Any]]:
    """The weight and :func:`transconv` keywords of ``options.kernel`` (an
    :class:`upsamp.kernels.Kernel`); without one, bilinear enlargement by ``options.stride``,
    which is also the default preset (``upsamp.kernels.DEFAULT_PRESET``)."""
    if options.kernel is None:
        return bilinear_transconv(options.stride)
    return options.kernel.weight, options.kernel.transconv_kwargs()


def _transconv_backend(x: np.ndarray, options: MethodOptions, rows: Rows = None) -> np.ndarray:
    weight, geometry = _weight_and_geometry(options)
    return transconv(x, weight, **geometry, rows=rows)


def _transconv_rounded_backend(
    x: np.ndarray, options: MethodOptions, rows: Rows = None
) -> np.ndarray | None:
    """For an 8/16-bit image and the kernel of bilinear enlargement (same weight and geometry as
    :func:`upsamp.methods.interpolate.bilinear_transconv`, no bias): the exactly rounded integer
    result of :func:`upsamp.methods.rounded.bilinear_rounded`; else None."""
    weight, geometry = _weight_and_geometry(options)
    if x.dtype not in ROUNDED_DTYPES or geometry["bias"] is not None:
        return None
    bilinear_weight, bilinear_geometry = bilinear_transconv(geometry["stride"])
    same = (
        weight.shape == bilinear_weight.shape
        and np.array_equal(weight, bilinear_weight)
        and all(
            tuple(geometry[key]) == bilinear_geometry[key]
            for key in ("padding", "output_padding", "dilation")
        )
        and geometry["edge"] == bilinear_geometry["edge"]
    )
    return bilinear_rounded(x, geometry["stride"], rows=rows) if same else None


def _transconv_shape(shape: tuple[int, int], options: MethodOptions) -> tuple[int, int]:
    weight, geometry = _weight_and_geometry(options)
    s, p, op, d = check_transconv_params(
        geometry["stride"], geometry["padding"], geometry["output_padding"], geometry["dilation"]
    )
    kh, kw = weight.shape[-2:]
    return (
        transconv_output_size(
            shape[0], kh, stride=s[0], padding=p[0], output_padding=op[0], dilation=d[0]
        ),
        transconv_output_size(
            shape[1], kw, stride=s[1], padding=p[1], output_padding=op[1], dilation=d[1]
        ),
    )


def _default_kernel(stride: tuple[int, int]) -> Kernel:
    return preset(DEFAULT_PRESET, stride)


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
