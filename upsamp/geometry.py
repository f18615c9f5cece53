"""Pure geometry shared by the kernels and the engines: output sizes, padding rules and the
checks of the size parameters. No arrays are computed here beyond index grids and tap positions.

Transposed convolution (docs/references.md [PyTorch-ConvTranspose2d], [Dumoulin2016-guide]):

    H_out = (H - 1) * s - 2 * p + d * (k - 1) + op + 1

Interpolation by a scale or to a size (docs/references.md [PyTorch-interpolate]): the source step
``r`` per axis is ``1 / scale`` or ``n / n_out``, and output index ``o`` sits at source coordinate
``u = (o + 0.5) * r - 0.5`` (half-pixel centres).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from ._arrays import int_pair
from .errors import EmptyOutputError, ParameterError, ShrinkingError

__all__ = [
    "IntOrPair",
    "Scale",
    "bilinear_taps",
    "check_enlarging",
    "check_output_size",
    "check_transconv_params",
    "format_size",
    "half_pixel_padding",
    "half_pixel_taps",
    "resolve_output_size",
    "same_size_geometry",
    "scale_pair",
    "transconv_output_size",
    "whole_factor",
]

IntOrPair = int | Iterable[int]
Scale = float | int | Sequence[float]


def format_size(shape: Sequence[int]) -> str:
    """An image size for messages, width first as image tools print it: ``W×H`` for an array
    shape ``(H, W, ...)``. Every message that names an image size uses this.

    >>> format_size((1080, 1920, 3)), format_size((0, 5))
    ('1920×1080', '5×0')
    """
    return f"{int(shape[1])}×{int(shape[0])}"


def check_output_size(
    out_hw: Sequence[int], in_hw: Sequence[int], cause: str = "the options leave no output"
) -> tuple[int, int]:
    """``(out_h, out_w)`` as ints when both are at least 1; else
    :class:`~upsamp.errors.EmptyOutputError`: ``output size would be W×H: <cause> for a W×H
    input``. The one check of an empty or negative output size, for every method and command;
    it comes before any message that prints the output's size or pixel count. A side that
    works out negative (more padding than image) is shown as 0: nothing of it is left.

    >>> check_output_size((4, 6), (2, 3))
    (4, 6)
    >>> check_output_size((-15, 3), (1, 1), "too much padding")
    Traceback (most recent call last):
    upsamp.errors.EmptyOutputError: output size would be 3×0: too much padding for a 1×1 input
    """
    out = (int(out_hw[0]), int(out_hw[1]))
    if min(out) < 1:
        shown = (max(out[0], 0), max(out[1], 0))
        raise EmptyOutputError(
            f"output size would be {format_size(shown)}: {cause} for a {format_size(in_hw)} input"
        )
    return out


def check_enlarging(
    in_hw: Sequence[int], *, scale: Scale | None = None, size: Sequence[int] | None = None
) -> None:
    """Refuse (:class:`~upsamp.errors.ShrinkingError`) a scale below 1 on either axis, or an
    output ``size`` ``(h, w)`` smaller than the input ``in_hw`` on either axis: the command line
    enlarges, and these methods shrink without antialiasing. A size equal to the input on one
    axis is allowed.

    >>> check_enlarging((4, 6), scale=(1, 1.5), size=(4, 9))
    """
    if scale is not None:
        pair = scale_pair(scale)
        if min(pair) < 1:
            raise ShrinkingError(
                f"scale {format_scale(scale)} would shrink the image; upsamp enlarges "
                "(factors of at least 1)"
            )
    if size is not None and (int(size[0]) < int(in_hw[0]) or int(size[1]) < int(in_hw[1])):
        raise ShrinkingError(
            f"size {format_size(size)} is smaller than the {format_size(in_hw)} input; upsamp "
            "enlarges (at least the input's size on each axis)"
        )


def format_scale(scale: Scale) -> str:
    """``0.25`` or ``0.5,2`` (as typed after ``--scale``).

    >>> format_scale(0.25), format_scale((0.5, 2.0))
    ('0.25', '0.5,2')
    """
    if isinstance(scale, (int, float, np.integer, np.floating)):
        return f"{float(scale):g}"
    return ",".join(f"{float(v):g}" for v in scale)


def transconv_output_size(
    size: int,
    kernel: int,
    *,
    stride: int,
    padding: int = 0,
    output_padding: int = 0,
    dilation: int = 1,
) -> int:
    """Output length of a transposed convolution along one axis.

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

    >>> check_transconv_params(2, (1, 0), 0, 1)
    ((2, 2), (1, 0), (0, 0), (1, 1))
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


def same_size_geometry(effective_size: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """Return ``(padding, output_padding)`` giving ``H_out = H * stride`` for a kernel of
    effective size ``k_e = d*(k-1)+1``: we need ``2p - op = k_e - s`` with ``0 <= op < s``.

    >>> same_size_geometry(4, 2)
    (1, 0)
    >>> same_size_geometry(3, 2)
    (1, 1)
    """
    excess = effective_size - stride
    if excess < 0:
        raise ParameterError(
            f"a kernel of effective size {effective_size} cannot enlarge by exactly {stride} "
            "(it must be at least as large as the stride)"
        )
    padding = (excess + 1) // 2
    output_padding = 2 * padding - excess
    if output_padding and not (output_padding < stride or output_padding < dilation):
        raise ParameterError(
            f"a kernel of effective size {effective_size} cannot enlarge by exactly {stride}"
        )
    return padding, output_padding


def half_pixel_taps(profile: Callable[[np.ndarray], np.ndarray], radius: int, s: int) -> np.ndarray:
    """Sample ``profile(t)`` (support ``|t| < radius`` input pixels) for factor ``s``.

    ``K = 2*radius*s - s%2`` taps, centred at ``c = (K-1)/2``: ``w[t] = profile((t - c) / s)``.
    With stride ``s`` and padding :func:`half_pixel_padding` the transposed convolution then
    evaluates ``y[o] = sum_i x[i] * profile(u - i)`` at ``u = (o + 0.5)/s - 0.5``, the half-pixel
    interpolation formula, and the output is exactly ``n * s`` long.

    >>> half_pixel_taps(lambda t: 1 - abs(t), 1, 2).tolist()
    [0.25, 0.75, 0.75, 0.25]
    """
    size = 2 * radius * s - s % 2
    t = np.arange(size, dtype=np.float64)
    return profile((t - (size - 1) / 2) / s)


def half_pixel_padding(radius: int, s: int) -> int:
    """The padding that goes with :func:`half_pixel_taps`: ``floor(s/2) + (radius-1)*s``.

    >>> half_pixel_padding(1, 3), half_pixel_padding(2, 4)
    (1, 6)
    """
    return s // 2 + (radius - 1) * s


def scale_pair(scale: Scale) -> tuple[float, float]:
    """``(sy, sx)`` from a number or a pair, checked positive and finite.

    >>> scale_pair(1.5), scale_pair((2, 3))
    ((1.5, 1.5), (2.0, 3.0))
    """
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

    With ``scale`` the size is ``floor(n * scale)``, the product taken in double precision (so
    ``100 * 1.15 = 114.99999999999999`` gives 114), and ``r = 1 / scale``: PyTorch's rule for
    ``F.interpolate(scale_factor=...)`` with ``recompute_scale_factor`` unset
    (docs/references.md [PyTorch-interpolate]). With ``size`` (``(h, w)``) ``r = n / n_out``.
    Exactly one must be given.

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
    sy, sx = scale_pair(scale)  # type: ignore[arg-type]
    exact = (shape[0] * sy, shape[1] * sx)
    if not all(math.isfinite(v) and v < 2**62 for v in exact):
        raise ParameterError(f"scale {scale!r} gives an output too large to represent")
    out = (math.floor(exact[0]), math.floor(exact[1]))
    if min(out) < 1:
        raise ParameterError(
            f"scale {scale!r} gives an empty output for a {format_size(shape)} input"
        )
    return out, (1.0 / sy, 1.0 / sx)


def whole_factor(
    shape: tuple[int, int], out: tuple[int, int], step: tuple[float, float]
) -> tuple[int, int] | None:
    """``(s_h, s_w)`` when the output is exactly ``s`` times the input on each axis with source
    step ``r = 1/s`` (an integer enlargement), else None.

    >>> whole_factor((3, 4), (6, 12), (0.5, 1 / 3)), whole_factor((3, 4), (6, 12), (0.5, 0.3))
    ((2, 3), None)
    """
    factor = (out[0] // shape[0], out[1] // shape[1])
    for axis in range(2):
        if factor[axis] < 1 or out[axis] != factor[axis] * shape[axis]:
            return None
        if abs(step[axis] * factor[axis] - 1) >= 1e-12:
            return None
    return factor


def _triangle(t: np.ndarray) -> np.ndarray:
    return np.maximum(0.0, 1.0 - np.abs(t))


def bilinear_taps(s: int) -> np.ndarray:
    """The 1-D bilinear kernel for an integer factor ``s``: ``K = 2s - s%2`` samples of the
    triangle ``max(0, 1 - |t|)`` at ``t = (k - (K-1)/2) / s`` (the FCN bilinear kernel,
    docs/references.md [Long2015-FCN]).

    >>> bilinear_taps(2).tolist()
    [0.25, 0.75, 0.75, 0.25]
    """
    return half_pixel_taps(_triangle, 1, s)
