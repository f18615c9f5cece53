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
    bias_vector,
    check_image,
    choice,
    int_pair,
    restore_rank,
    result_dtype,
    row_range,
)
from ..errors import KernelError
from ..kernel_convert import resize_conv_to_transconv, transconv_to_resize_conv
from ..kernels import (
    DEFAULT_PRESET,
    PRESETS,
    SAME,
    Kernel,
    load_kernel,
    preset,
    with_conv_settings,
)
from ..threads import run_in_bands
from .conv2d import conv2d_padding, conv2d_weight, correlate_valid
from .interpolate import bilinear, nearest
from .polyphase import BAND_VALUES, extended_indices
from .registry import Method, MethodOptions, Rows, register

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


# --- the registered method --------------------------------------------------------------


def make_resize_conv_kernel(
    spec: str | None,
    stride: tuple[int, int] | None,
    *,
    edge: str | None = None,
    resize: str | None = None,
    groups: int | None = None,
    bias: str | None = None,
    layout: str | None = None,
) -> Kernel:
    """The kernel of ``--method resize-conv --kernel SPEC``.

    ``groups`` and ``bias`` (one value, or one per output channel of a 4-D weight) as
    :func:`~upsamp.kernels.with_conv_settings` applies them; ``layout`` is the layout of a
    file's plain 4-D ``Conv2d`` array (torch ``(C_out, C_in/groups, kH, kW)``, keras
    ``Conv2D`` ``(kH, kW, C_in/groups, C_out)``, tflite ``CONV_2D`` ``(C_out, kH, kW,
    C_in/groups)``); a preset takes none.

    A transposed-convolution preset gives its resize-convolution form for ``resize`` (when it
    has one: ``nearest`` and ``bilinear`` do, ``checkerboard`` does not); the default is the
    bilinear preset's (a nearest resize then ``[1, 2, 1]/4``-like smoothing with repeated
    edges: the bilinear method). A file holds a ``Conv2d`` weight, 2-D or 4-D, always used
    with ``same`` padding: a file stating other padding, output_padding or dilation is
    refused rather than silently changed.
    """
    mode = resize or "nearest"
    choice(mode, "resize", RESIZE_MODES)
    text = spec if spec is not None else DEFAULT_PRESET
    s = int_pair(stride if stride is not None else 2, "stride", minimum=1)
    drop_bias = isinstance(bias, str) and bias.strip().lower() == "none"
    if text in PRESETS and layout is not None:
        raise KernelError(f"--layout applies to arrays read from files, not to the preset {text!r}")
    if text in PRESETS:
        try:
            kernel = transconv_to_resize_conv(preset(text, s), mode)
        except KernelError:
            raise KernelError(
                f"the {text} preset has no {mode} resize-convolution form: its kernel is not the "
                f"{mode} resize kernel convolved with another"
            ) from None
        kernel = Kernel(
            weight=kernel.weight, stride=s, bias=kernel.bias, edge=kernel.edge, name=text,
            description=f"{mode} resize-convolution form of the {text} preset", source="preset",
        )  # fmt: skip
    else:
        kernel = load_kernel(
            text, transposed=False, layout=layout, bias="none" if drop_bias else "auto"
        )
        w = np.asarray(kernel.weight)
        if w.ndim == 3:
            raise KernelError(
                f"{kernel.source}: a 3-D kernel {w.shape} holds pixel-shuffle phases; a "
                "resize-convolution kernel is 2-D (kH, kW) or 4-D (C_out, C_in/groups, kH, kW)"
            )
        stated = [
            key for key, default in (("padding", SAME), ("output_padding", (0, 0)),
                                     ("dilation", (1, 1)))
            if key in kernel.stated and getattr(kernel, key) != default
        ]  # fmt: skip
        if stated:
            raise KernelError(
                f"{kernel.source}: a resize-convolution always pads 'same'; the file states "
                f"{', '.join(stated)}"
            )
        if stride is not None or "stride" not in kernel.stated:
            kernel = kernel.with_overrides(stride=s)
        kernel = kernel.with_overrides(padding=(0, 0))
    kernel = with_conv_settings(kernel, groups=groups, bias=None if drop_bias else bias)
    return kernel.with_overrides(edge=edge)


def _kernel(options: MethodOptions) -> Kernel:
    if options.kernel is not None:
        return options.kernel
    return make_resize_conv_kernel(None, options.stride, resize=options.resize)


def _resize_conv_backend(x: np.ndarray, options: MethodOptions, rows: Rows = None) -> np.ndarray:
    k = _kernel(options)
    return resize_conv(
        x, k.weight, k.stride, resize=options.resize, bias=k.bias, groups=k.groups, edge=k.edge,
        rows=rows,
    )  # fmt: skip


def _resize_conv_shape(shape: tuple[int, int], options: MethodOptions) -> tuple[int, int]:
    sh, sw = _kernel(options).stride
    return shape[0] * sh, shape[1] * sw


def _resize_conv_channels(channels: int, options: MethodOptions) -> int:
    w = np.asarray(_kernel(options).weight)
    return int(w.shape[0]) if w.ndim == 4 else channels


def _resize_conv_input_channels(options: MethodOptions) -> int | None:
    k = options.kernel
    if k is not None and np.ndim(k.weight) == 4:
        return int(np.shape(k.weight)[1]) * (k.groups or 1)
    return None


def _as_transconv(stride: tuple[int, int]) -> Kernel:
    return resize_conv_to_transconv(make_resize_conv_kernel(None, stride), "nearest")


def _stride_only(stride: tuple[int, int]) -> Kernel:
    return make_resize_conv_kernel(None, stride)


register(
    Method(
        name="resize-conv",
        summary="resize-convolution: nearest or bilinear resize, then a 'same' convolution",
        upsample=_resize_conv_backend,
        supports_rows=True,
        output_shape=_resize_conv_shape,
        uses=frozenset({"stride", "kernel", "resize"}),
        cli_options=frozenset(
            {"stride", "kernel", "edge", "resize", "groups", "bias", "layout", "input_range"}
        ),
        output_channels=_resize_conv_channels,
        per_channel=lambda options: np.ndim(_kernel(options).weight) == 2,
        default_kernel=_stride_only,
        make_kernel=make_resize_conv_kernel,
        kernel_to_transconv=lambda kernel, options: resize_conv_to_transconv(
            kernel, options.resize
        ),
        kernel_from_transconv=lambda kernel, options: transconv_to_resize_conv(
            kernel, options.resize
        ),
        input_channels=_resize_conv_input_channels,
        as_transconv=_as_transconv,
        explain_views=("phases", "matrix"),
    )
)
