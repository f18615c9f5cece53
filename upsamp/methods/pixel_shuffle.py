"""Sub-pixel convolution: a convolution then pixel shuffle (depth-to-space), as PyTorch.

``y = F.pixel_shuffle(F.conv2d(x, W, b, padding=p), S)``: the convolution makes ``S²·C_out``
channels at the input resolution and the shuffle moves channel ``c·S² + i·S + j`` to output
channel ``c``, row phase ``i`` and column phase ``j``:

    y[h·S + i, w·S + j, c] = conv[h, w, c·S² + i·S + j]

(Shi et al. 2016). Every transposed convolution has this form, with the flipped sub-filters of
its kernel as the phases (:mod:`upsamp.kernel_convert`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .._arrays import as_planes, check_image, int_pair, restore_rank, result_dtype, row_range
from ..errors import KernelError, ParameterError
from ..kernel_convert import (
    pixel_shuffle_to_transconv,
    subpixel_kernel,
    transconv_to_pixel_shuffle,
)
from ..kernels import DEFAULT_PRESET, Kernel, expects_overshoot, with_conv_settings
from .conv2d import ceil_div, conv2d, conv2d_output_size
from .registry import Method, MethodOptions, Rows, register

__all__ = ["pixel_shuffle", "depth_to_space", "pixel_shuffle_output_size", "subpixel_weight"]


def depth_to_space(y: np.ndarray, stride: int) -> np.ndarray:
    """``F.pixel_shuffle`` on a channel-last ``(h, w, S²·C)`` array: ``(h·S, w·S, C)``.

    >>> depth_to_space(np.arange(4.).reshape(1, 1, 4), 2)[..., 0]
    array([[0., 1.],
           [2., 3.]])
    """
    s = int(stride)
    h, w, c = y.shape
    if c % (s * s):
        raise KernelError(f"{c} channels cannot be shuffled by {s}: not a multiple of {s * s}")
    c_out = c // (s * s)
    phases = y.reshape(h, w, c_out, s, s).transpose(0, 3, 1, 4, 2)
    return phases.reshape(h * s, w * s, c_out)


def subpixel_weight(weight: object, stride: int, channels: int) -> tuple[np.ndarray, int | None]:
    """The 4-D ``Conv2d`` weight and groups for ``weight`` on an image of ``channels``.

    ``weight`` is 4-D ``(S²·C_out, C_in/groups, kH, kW)`` (returned as is, groups from the
    caller) or 3-D ``(S², kH, kW)``: one set of phase filters applied to each channel on its own,
    returned as the grouped 4-D weight ``(C·S², 1, kH, kW)`` with ``groups = C``.
    """
    w = np.asarray(weight)
    s2 = int(stride) ** 2
    if w.ndim == 3:
        if w.shape[0] != s2:
            raise KernelError(
                f"a 3-D pixel-shuffle kernel holds one filter per phase: {s2} at stride "
                f"{stride}, got shape {w.shape}"
            )
        return np.tile(w[None], (channels, 1, 1, 1)).reshape(channels * s2, 1, *w.shape[1:]), (
            channels
        )
    if w.ndim != 4:
        raise KernelError(
            "a pixel-shuffle kernel is 4-D (S²·C_out, C_in/groups, kH, kW) or 3-D (S², kH, kW), "
            f"got shape {w.shape}"
        )
    if w.shape[0] % s2:
        raise KernelError(
            f"pixel-shuffle kernel has {w.shape[0]} output channels, not a multiple of "
            f"stride² = {s2} (shape {w.shape})"
        )
    return w, None


def pixel_shuffle_output_size(
    shape: tuple[int, int], kernel_size: tuple[int, int], stride: int, padding: object = "same"
) -> tuple[int, int]:
    """``S`` times the convolution's output size.

    >>> pixel_shuffle_output_size((5, 7), (3, 3), 2)
    (10, 14)
    """
    h, w = conv2d_output_size(shape, kernel_size, padding)
    return h * int(stride), w * int(stride)


def pixel_shuffle(
    x: np.ndarray,
    weight: np.ndarray,
    stride: int,
    *,
    bias: np.ndarray | float | None = None,
    padding: object = "same",
    groups: int | None = None,
    edge: str = "zero",
    rows: tuple[int, int] | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """Sub-pixel convolution: ``F.pixel_shuffle(F.conv2d(x, W, bias, padding), S)``.

    Parameters
    ----------
    x : ndarray, shape (H, W) or (H, W, C_in)
    weight : ndarray, shape (S²·C_out, C_in/groups, kH, kW) or (S², kH, kW)
        PyTorch's ``Conv2d`` layout: channel ``c·S² + i·S + j`` becomes output channel ``c``
        at row phase ``i`` and column phase ``j``. A 3-D weight holds the ``S²`` phase filters
        applied to every channel on its own.
    stride : int
        The shuffle factor ``S``.
    bias : float or ndarray of shape (S²·C_out,), optional
        The convolution's bias (one per convolution channel, as ``Conv2d``).
    padding : "same", "valid", int or (h, w)
        ``same`` (default): ``(k - 1) // 2`` before and the rest after (``k // 2`` each side
        for an odd kernel), so the output is exactly ``S`` times the input.
    groups : int, optional
        Channel groups of a 4-D weight (default 1).
    edge : {"zero", "replicate", "reflect"}
        What the convolution's padding holds (``Conv2d`` ``padding_mode``).
    rows : (start, stop), optional
        Only these output rows, identical to the same rows of the whole result.

    Returns
    -------
    ndarray, shape (S·H_c, S·W_c) or (S·H_c, S·W_c, C_out)
        ``H_c = H + p_top + p_bottom - kH + 1`` is the convolution's height.

    Notes
    -----
    Dtype rule: float64 input gives float64, every other input float32; values are not
    rescaled.

    Examples
    --------
    Four 1×1 phase filters 1, 2, 3, 4 put each pixel's four multiples in its 2×2 cell:

    >>> pixel_shuffle(np.array([[1., 10.]]), np.array([[[1.]], [[2.]], [[3.]], [[4.]]]), 2)
    array([[ 1.,  2., 10., 20.],
           [ 3.,  4., 30., 40.]])
    """
    x = check_image(x)
    s = int_pair(stride, "stride", minimum=1)
    if s[0] != s[1]:
        raise ParameterError(f"pixel shuffle needs one stride for both axes, got {stride!r}")
    s_int = s[0]
    x3, was_2d = as_planes(x)
    w4, implied_groups = subpixel_weight(weight, s_int, x3.shape[2])
    if implied_groups is not None:
        if groups not in (None, implied_groups):
            raise KernelError(
                f"a 3-D pixel-shuffle kernel acts on each channel alone; groups must be "
                f"{implied_groups}"
            )
        if bias is not None and np.ndim(bias) != 0:
            raise KernelError("a 3-D pixel-shuffle kernel takes a single bias value")
    out_h, _ = pixel_shuffle_output_size(x3.shape[:2], w4.shape[2:], s_int, padding)
    r0, r1 = row_range(rows, max(out_h, 1))
    conv_rows = (r0 // s_int, ceil_div(r1, s_int))
    if implied_groups is not None:
        # One filter per phase, each channel alone: S² depthwise correlations written
        # straight into their phase of the output (no grouped matrix of mostly zeros).
        phases = np.asarray(weight)
        parts = [
            conv2d(x3, phases[n], bias=bias, padding=padding, edge=edge, rows=conv_rows,
                   threads=threads)
            for n in range(s_int * s_int)
        ]  # fmt: skip
        conv = np.stack(parts, axis=3).reshape(parts[0].shape[:2] + (-1,))
    else:
        conv = conv2d(
            x3, w4, bias=bias, padding=padding, groups=groups, edge=edge, rows=conv_rows,
            threads=threads,
        )  # fmt: skip
    y = depth_to_space(conv, s_int)
    start = conv_rows[0] * s_int
    y = y[r0 - start : r1 - start].astype(result_dtype(x), copy=False)
    return restore_rank(y, was_2d and y.shape[2] == 1)


# --- the registered method --------------------------------------------------------------


def make_subpixel_kernel(
    spec: str | None,
    stride: tuple[int, int] | None,
    *,
    padding: tuple[int, int] | str | None = None,
    edge: str | None = None,
    groups: int | None = None,
    bias: str | None = None,
    layout: str | None = None,
) -> Kernel:
    """The kernel of ``--method pixel-shuffle --kernel SPEC`` (:func:`~upsamp.kernel_convert.
    subpixel_kernel`: a preset's sub-pixel form, ``icnr:PRESET``, ``icnr:FILE`` or a weight
    file), with ``--stride``, ``--padding`` (default: the kernel's own, ``same`` for a file
    that states none), ``--edge``, ``--groups``, ``--bias`` (one value, or one per convolution
    channel ``S²·C_out``; :func:`~upsamp.kernels.with_conv_settings`) and ``--layout`` (of a
    file's plain ``Conv2d`` array: torch, keras ``Conv2D``, tflite ``CONV_2D``) applied; its
    output channels are checked against S²."""
    drop_bias = isinstance(bias, str) and bias.strip().lower() == "none"
    kernel = subpixel_kernel(
        spec if spec is not None else DEFAULT_PRESET,
        stride or (2, 2),
        layout=layout,
        bias="none" if drop_bias else "auto",
    )
    if stride is not None and tuple(stride) != tuple(kernel.stride):
        kernel = replace(kernel, stride=tuple(stride))
    if kernel.stride[0] != kernel.stride[1]:
        raise ParameterError(
            f"pixel shuffle needs one stride for both axes, got {kernel.stride[0]},"
            f"{kernel.stride[1]}"
        )
    kernel = kernel.with_overrides(padding=padding, edge=edge)
    kernel = with_conv_settings(kernel, groups=groups, bias=None if drop_bias else bias)
    s = kernel.stride[0]
    w = np.asarray(kernel.weight)
    origin = kernel.name if kernel.source == "preset" else kernel.source
    if w.ndim == 2:
        raise KernelError(
            f"{origin}: a pixel-shuffle kernel is 3-D (S², kH, kW) or 4-D "
            f"(S²·C_out, C_in/groups, kH, kW), got a 2-D {w.shape}; use icnr:FILE for ICNR of "
            "a 2-D filter"
        )
    try:
        subpixel_weight(w, s, 1 if w.ndim == 3 else int(w.shape[1]) * (kernel.groups or 1))
    except KernelError as exc:
        raise KernelError(f"{origin}: {exc}") from None
    return kernel


def _kernel(options: MethodOptions) -> Kernel:
    if options.kernel is not None:
        return options.kernel
    return make_subpixel_kernel(None, options.stride)


def _pixel_shuffle_backend(x: np.ndarray, options: MethodOptions, rows: Rows = None) -> np.ndarray:
    k = _kernel(options)
    return pixel_shuffle(
        x, k.weight, k.stride[0], bias=k.bias, padding=k.padding, groups=k.groups, edge=k.edge,
        rows=rows,
    )  # fmt: skip


def _pixel_shuffle_shape(shape: tuple[int, int], options: MethodOptions) -> tuple[int, int]:
    k = _kernel(options)
    return pixel_shuffle_output_size(shape, k.spatial_shape, k.stride[0], k.padding)


def _pixel_shuffle_channels(channels: int, options: MethodOptions) -> int:
    """A 4-D weight gives ``weight.shape[0] / S²`` channels; a 3-D one keeps them."""
    w = np.asarray(_kernel(options).weight)
    s = _kernel(options).stride[0]
    return int(w.shape[0]) // (s * s) if w.ndim == 4 else channels


def _pixel_shuffle_input_channels(options: MethodOptions) -> int | None:
    k = options.kernel
    if k is not None and np.ndim(k.weight) == 4:
        return int(np.shape(k.weight)[1]) * (k.groups or 1)
    return None


def _as_transconv(stride: tuple[int, int]) -> Kernel:
    return pixel_shuffle_to_transconv(make_subpixel_kernel(None, stride))


register(
    Method(
        name="pixel-shuffle",
        summary="sub-pixel convolution: a convolution to S² phases, then pixel shuffle (PyTorch)",
        upsample=_pixel_shuffle_backend,
        supports_rows=True,
        output_shape=_pixel_shuffle_shape,
        uses=frozenset({"stride", "kernel"}),
        cli_options=frozenset(
            {"stride", "kernel", "padding", "edge", "groups", "bias", "layout", "input_range"}
        ),
        output_channels=_pixel_shuffle_channels,
        per_channel=lambda options: np.ndim(_kernel(options).weight) == 3,
        default_kernel=lambda stride: make_subpixel_kernel(None, stride),
        make_kernel=make_subpixel_kernel,
        kernel_to_transconv=lambda kernel, options: pixel_shuffle_to_transconv(kernel),
        kernel_from_transconv=lambda kernel, options: transconv_to_pixel_shuffle(kernel),
        overshoots=lambda options: expects_overshoot(_kernel(options)),
        input_channels=_pixel_shuffle_input_channels,
        as_transconv=_as_transconv,
        explain_views=("phases", "matrix"),
    )
)
