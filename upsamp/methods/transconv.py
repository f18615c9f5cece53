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

import dataclasses
from dataclasses import dataclass
from typing import Any

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
    row_range,
)
from ..errors import KernelError
from ..geometry import (
    IntOrPair,
    check_output_size,
    check_transconv_params,
    transconv_output_size,
)
from ..kernels import DEFAULT_PRESET, Kernel, expects_overshoot, preset
from ..weights import check_channel_fit
from .interpolate import bilinear_transconv
from .polyphase import extended_indices, full_window
from .registry import Method, MethodOptions, Rows, register
from .rounded import ROUNDED_DTYPES, bilinear_rounded

__all__ = ["transconv"]


def _as_weight(
    weight: np.ndarray, channels: int, groups: int | None
) -> tuple[np.ndarray, int, bool]:
    """Return ``(w4, groups, depthwise)`` with ``w4`` of layout ``(C_in, C_out/groups, kH, kW)``."""
    w = check_weight(weight, channels, groups)
    if w.ndim == 2:
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
        out_h, out_w = _output_hw((h, w), w4.shape[2:], s, p, op, d)
        c_out = c if depthwise else w4.shape[1] * g
        return cls(
            x3, was_2d, w4, g, depthwise, s, p, op, d, out_h, out_w, c_out,
            bias_vector(bias, c_out), result_dtype(x),
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
    NaN and infinite inputs follow that definition in IEEE arithmetic, as
    ``conv_transpose2d`` does: every tap of the kernel contributes, a zero one too
    (``inf * 0`` is NaN), and an output position that no tap reaches is not affected.
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
    band = row_range(rows, call.out_h)
    w4 = call.w4.astype(call.dtype, copy=False)
    hits = _non_finite_hits(call, w4, band, edge)
    y = full_window(
        call.x3,
        w4,
        groups=call.groups,
        depthwise=call.depthwise,
        stride=call.stride,
        dilation=call.dilation,
        origin=call.padding,
        out_shape=(call.out_h, call.out_w),
        rows=band,
        dtype=call.dtype,
        edge=edge,
        threads=threads,
        zero_non_finite=hits is not None,
    )
    if call.bias is not None:
        y += call.bias.astype(call.dtype)
    if hits is not None:
        nan, plus, minus = hits
        y[plus] = np.inf
        y[minus] = -np.inf
        y[nan | (plus & minus)] = np.nan
    return restore_rank(y, call.was_2d and call.c_out == 1)


def _inputs_read(band: tuple[int, int], k: int, s: int, p: int, d: int) -> range:
    """The input positions ``i`` (unbounded: beyond the image the edge mode decides) with a tap
    landing in ``[band[0], band[1])`` (``band[0] <= i*s - p + t*d < band[1]``, ``0 <= t < k``),
    widened by two on each side to cover every position the engine reads for the band."""
    return range(-((d * (k - 1) - p - band[0]) // s) - 2, (band[1] - 1 + p) // s + 3)


def _non_finite_hits(
    call: _Call, w4: np.ndarray, band: tuple[int, int], edge: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Where NaN and infinite inputs land in output rows ``band``, by the scatter definition in
    IEEE arithmetic, or None when the engine reads none for the band.

    Every tap of the kernel, zero or not, carries ``x * w`` to its output position: NaN for a
    NaN input or an infinite one times a zero weight, else an infinity of the product's sign;
    positions no tap reaches get nothing. Returns boolean ``(nan, plus, minus)`` masks of the
    band's shape: a position is NaN when ``nan`` or both infinities reach it, else ``±inf``.
    Finite contributions cannot change those values, so the engine runs on the input with its
    non-finite values read as 0 and these masks are applied afterwards.
    """
    x3 = call.x3
    if x3.dtype.kind != "f":
        return None
    (s_h, s_w), (p_h, p_w), (d_h, d_w) = call.stride, call.padding, call.dilation
    kh, kw = w4.shape[2:]
    rows = _inputs_read(band, kh, s_h, p_h, d_h)
    cols = _inputs_read((0, call.out_w), kw, s_w, p_w, d_w)
    if edge == "zero":
        rows = range(max(rows.start, 0), min(rows.stop, x3.shape[0]))
        cols = range(max(cols.start, 0), min(cols.stop, x3.shape[1]))
        source_rows = np.arange(rows.start, rows.stop)
        source_cols = np.arange(cols.start, cols.stop)
    else:
        source_rows = extended_indices(rows.start, rows.stop, x3.shape[0], edge)
        source_cols = extended_indices(cols.start, cols.stop, x3.shape[1], edge)
    if source_rows.size == 0 or source_cols.size == 0:
        return None
    rows_read = slice(source_rows.min(), source_rows.max() + 1)
    if np.isfinite(x3[rows_read, source_cols.min() : source_cols.max() + 1]).all():
        return None  # the usual case, checked on a view without copying the input
    block = x3[np.ix_(source_rows, source_cols)]
    bad = ~np.isfinite(block)
    if not bad.any():
        return None
    i, j, ci = np.nonzero(bad)
    value = block[i, j, ci]
    is_nan, is_plus = np.isnan(value), value > 0
    i, j = i + rows.start, j + cols.start
    shape = (band[1] - band[0], call.out_w, call.c_out)
    nan, plus, minus = (np.zeros(shape, dtype=bool) for _ in range(3))
    c_in_g = x3.shape[2] // call.groups
    c_out_g = 1 if call.depthwise else w4.shape[1]
    for a in range(kh):
        oh = i * s_h - p_h + a * d_h - band[0]
        for b in range(kw):
            ow = j * s_w - p_w + b * d_w
            inside = (oh >= 0) & (oh < shape[0]) & (ow >= 0) & (ow < shape[1])
            for col in range(c_out_g):
                if call.depthwise:
                    co, weight = ci, np.full(ci.shape, w4[0, 0, a, b])
                else:
                    co, weight = ci // c_in_g * c_out_g + col, w4[ci, col, a, b]
                at = np.stack([oh[inside], ow[inside], co[inside]])
                w_in, nan_in, plus_in = weight[inside], is_nan[inside], is_plus[inside]
                # several inputs may land on one position: set, never overwrite with False
                for mask, lands in (
                    (nan, nan_in | (w_in == 0)),
                    (plus, ~nan_in & (w_in != 0) & (plus_in == (w_in > 0))),
                    (minus, ~nan_in & (w_in != 0) & (plus_in == (w_in < 0))),
                ):
                    mask[tuple(at[:, lands])] = True
    return nan, plus, minus


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


def _output_hw(
    in_hw: tuple[int, int],
    kernel_hw: tuple[int, int],
    s: tuple[int, int],
    p: tuple[int, int],
    op: tuple[int, int],
    d: tuple[int, int],
) -> tuple[int, int]:
    """The output size, refused (:func:`~upsamp.geometry.check_output_size`) when a side would
    be empty: the padding is then too large for the input."""
    out = tuple(
        transconv_output_size(
            in_hw[a], kernel_hw[a], stride=s[a], padding=p[a], output_padding=op[a],
            dilation=d[a],
        )
        for a in range(2)
    )  # fmt: skip
    padding = f"{p[0]}" if p[0] == p[1] else f"{p[0]},{p[1]}"
    return check_output_size(out, in_hw, f"padding {padding} is too large")


def _transconv_shape(shape: tuple[int, int], options: MethodOptions) -> tuple[int, int]:
    weight, geometry = _weight_and_geometry(options)
    s, p, op, d = check_transconv_params(
        geometry["stride"], geometry["padding"], geometry["output_padding"], geometry["dilation"]
    )
    return _output_hw((int(shape[0]), int(shape[1])), weight.shape[-2:], s, p, op, d)


def _default_kernel(stride: tuple[int, int]) -> Kernel:
    return preset(DEFAULT_PRESET, stride)


def _transconv_channels(channels: int, options: MethodOptions) -> int:
    """A 4-D kernel gives ``C_out = weight.shape[1] * groups`` channels; a 2-D one keeps them."""
    kernel = options.kernel
    if kernel is not None and np.ndim(kernel.weight) == 4:
        return int(kernel.weight.shape[1] * (kernel.groups or 1))
    return channels


def _transconv_input_channels(options: MethodOptions) -> int | None:
    """A 4-D kernel ``(C_in, C_out/groups, kH, kW)`` takes ``C_in`` channels."""
    kernel = options.kernel
    if kernel is not None and np.ndim(kernel.weight) == 4:
        return int(kernel.weight.shape[0])
    return None


def _transconv_fit_channels(channels: int, options: MethodOptions) -> MethodOptions:
    """A 4-D kernel must take the image's ``channels`` and, without ``groups``, give as many:
    a ``(C, 1, k, k)`` kernel read with one group would mix every channel into one
    (:func:`upsamp.weights.check_channel_fit`). Returns the options with the groups stated."""
    kernel = options.kernel
    if kernel is None or np.ndim(kernel.weight) != 4:
        return options
    groups = check_channel_fit(
        kernel.weight, channels=channels, groups=kernel.groups, origin=kernel.source
    )
    if groups == kernel.groups:
        return options
    return options.replace(kernel=dataclasses.replace(kernel, groups=groups))


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
        kernel_to_transconv=lambda kernel, options: kernel,
        kernel_from_transconv=lambda kernel, options: kernel,
        overshoots=lambda options: expects_overshoot(options.kernel),
        input_channels=_transconv_input_channels,
        fit_channels=_transconv_fit_channels,
    )
)
