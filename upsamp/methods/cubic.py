"""Bicubic interpolation at any scale or size, as ``F.interpolate(mode="bicubic")``.

Per axis, output ``o`` samples the input at ``u = (o + 0.5)·r - 0.5`` (half-pixel centres,
``r = 1/scale`` for a scale, ``n / n_out`` for a size) or ``u = o·(n - 1)/(n_out - 1)``
(``align_corners``). With ``i = floor(u)`` and ``t = u - i`` it reads the four samples
``i - 1 .. i + 2``, their indices clamped into the image, weighted by Keys' cubic convolution
kernel with parameter ``a``:

    k(d) = (a + 2)|d|³ - (a + 3)|d|² + 1           for |d| <= 1
    k(d) = a|d|³ - 5a|d|² + 8a|d| - 4a              for 1 < |d| < 2

``a = -0.75`` is PyTorch's (and OpenCV's) choice; ``a = -0.5`` is Keys' and Pillow's, and then
the result equals Pillow's BICUBIC enlargement away from the borders (Pillow renormalises the
taps that fall outside the image instead of clamping them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .._arrays import check_image
from ..errors import ParameterError
from ..geometry import resolve_output_size
from .interpolate import resized_shape, scale_or_size
from .registry import Method, MethodOptions, Rows, register, resized_tag
from .resample import AxisTaps, resample_separable

__all__ = ["bicubic", "cubic_taps", "check_cubic_a", "DEFAULT_CUBIC_A"]

#: PyTorch's ``A`` in ``upsample_bicubic2d``.
DEFAULT_CUBIC_A = -0.75


def check_cubic_a(a: float) -> float:
    """``a`` as a float in ``[-1, 0]`` (the range where the kernel is a sensible interpolator).

    >>> check_cubic_a(-0.5)
    -0.5
    """
    value = float(a)
    if not (math.isfinite(value) and -1.0 <= value <= 0.0):
        raise ParameterError(f"cubic_a must be between -1 and 0, got {a!r}")
    return value


def keys_kernel(d: np.ndarray, a: float) -> np.ndarray:
    """Keys' cubic convolution kernel ``k(d)`` (zero for ``|d| >= 2``).

    >>> keys_kernel(np.array([0., 1., 0.5]), -0.5).tolist()
    [1.0, 0.0, 0.5625]
    """
    d = np.abs(d)
    near = ((a + 2) * d - (a + 3)) * d * d + 1
    far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    return np.where(d <= 1, near, np.where(d < 2, far, 0.0))


def cubic_taps(n: int, n_out: int, step: float, *, a: float, align_corners: bool) -> AxisTaps:
    """The four taps of every output index along an axis of ``n`` samples.

    >>> taps = cubic_taps(3, 6, 0.5, a=-0.75, align_corners=False)
    >>> taps.index[2].tolist(), taps.weight[2].round(6).tolist()
    ([0, 0, 1, 2], [-0.035156, 0.261719, 0.878906, -0.105469])
    """
    o = np.arange(n_out, dtype=np.float64)
    if align_corners:
        u = o * ((n - 1) / (n_out - 1)) if n_out > 1 else np.zeros_like(o)
    else:
        u = (o + 0.5) * step - 0.5
    i = np.floor(u)
    t = (u - i)[:, None]
    offsets = np.arange(-1, 3)
    index = np.clip(i.astype(np.intp)[:, None] + offsets, 0, n - 1)
    weight = keys_kernel(t - offsets, a)
    return AxisTaps(index, weight, source=u, edge="replicate")


def bicubic(
    x: np.ndarray,
    scale: float | Sequence[float] | None = None,
    align_corners: bool = False,
    *,
    size: Sequence[int] | None = None,
    cubic_a: float = DEFAULT_CUBIC_A,
    rows: tuple[int, int] | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """Bicubic interpolation with PyTorch's semantics (see the module docstring).

    Parameters
    ----------
    x : ndarray, shape (H, W) or (H, W, C)
    scale : number or (sy, sx), optional
        The output is ``floor(n · scale)`` and ``r = 1/scale`` (``F.interpolate(scale_factor=)``).
    size : (out_h, out_w), optional
        Give ``scale`` or ``size``; ``r = n / n_out``.
    align_corners : bool
        ``u = o·(n - 1)/(n_out - 1)``, as PyTorch's ``align_corners=True``.
    cubic_a : float in [-1, 0]
        The kernel parameter: -0.75 PyTorch (default), -0.5 Keys/Pillow.
    rows : (start, stop), optional
        Only these output rows, identical to the same rows of the whole result.

    Notes
    -----
    Bicubic overshoots: near an edge the result may leave the input's range.
    Dtype rule: float64 input gives float64, every other input float32; values are not
    rescaled.

    Examples
    --------
    >>> bicubic(np.array([[0., 1.]]), 2)
    array([[-0.10546875,  0.2265625 ,  0.7734375 ,  1.10546875],
           [-0.10546875,  0.2265625 ,  0.7734375 ,  1.10546875]])
    """
    x = check_image(x)
    a = check_cubic_a(cubic_a)
    (out_h, out_w), (rh, rw) = resolve_output_size(x.shape[:2], scale, size)
    rows_taps = cubic_taps(x.shape[0], out_h, rh, a=a, align_corners=align_corners)
    cols_taps = cubic_taps(x.shape[1], out_w, rw, a=a, align_corners=align_corners)
    return resample_separable(x, rows_taps, cols_taps, rows=rows, threads=threads)


def _bicubic_taps(
    shape: tuple[int, int], options: MethodOptions
) -> tuple[AxisTaps, AxisTaps]:
    """The taps of every output row and column (``Method.taps``)."""
    scale, size = scale_or_size(options)
    a = check_cubic_a(options.cubic_a)
    out, steps = resolve_output_size(shape, scale, size)
    rows, cols = (
        cubic_taps(shape[axis], out[axis], steps[axis], a=a, align_corners=options.align_corners)
        for axis in range(2)
    )
    return rows, cols


def _bicubic_backend(x: np.ndarray, options: MethodOptions, rows: Rows = None) -> np.ndarray:
    scale, size = scale_or_size(options)
    return bicubic(
        x, scale, options.align_corners, size=size, cubic_a=options.cubic_a, rows=rows
    )


register(
    Method(
        name="bicubic",
        summary="bicubic interpolation at any scale (PyTorch; --cubic-a -0.5 for Pillow's)",
        upsample=_bicubic_backend,
        supports_rows=True,
        output_shape=resized_shape,
        output_tag=resized_tag,
        uses=frozenset({"stride", "scale", "size", "align_corners", "cubic_a"}),
        overshoots=lambda options: True,
        taps=_bicubic_taps,
        explain_views=("weights",),
    )
)
