"""Lanczos-3 resampling at any scale or size, as Pillow's ``Image.resize(..., LANCZOS)``.

Per axis, with ``r = n / n_out`` (or ``1/scale``) and ``f = max(r, 1)`` (the filter widens only
when shrinking), output ``o`` is centred at ``c = (o + 0.5)·r`` in input coordinates and reads the
samples ``i`` in ``[floor(c - 3f + 0.5), floor(c + 3f + 0.5))`` clipped to the image, weighted by

    L((i + 0.5 - c) / f),    L(d) = sinc(d)·sinc(d/3) for -3 <= d < 3, else 0

and divided by the sum of those weights (so taps cut off by a border are renormalised, not
clamped). ``sinc(d) = sin(πd)/(πd)``. This is Pillow's LANCZOS filter and coefficient rule
(``libImaging/Resample.c``), computed here in float64 coefficients.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._arrays import check_image
from ..geometry import resolve_output_size
from .interpolate import resized_shape, scale_or_size
from .registry import Method, MethodOptions, Rows, register, resized_tag
from .resample import AxisTaps, resample_separable

__all__ = ["lanczos", "lanczos_taps", "LOBES"]

#: Lanczos-3: three lobes each side.
LOBES = 3


def lanczos_kernel(d: np.ndarray) -> np.ndarray:
    """``sinc(d)·sinc(d/3)`` on ``[-3, 3)``, zero elsewhere.

    >>> lanczos_kernel(np.array([0., 0.5, 3.])).round(6).tolist()
    [1.0, 0.607927, 0.0]
    """
    inside = (d >= -LOBES) & (d < LOBES)
    return np.where(inside, np.sinc(d) * np.sinc(d / LOBES), 0.0)


def lanczos_taps(n: int, n_out: int, step: float) -> AxisTaps:
    """The normalised Lanczos-3 taps of every output index along an axis of ``n`` samples."""
    widen = max(step, 1.0)
    support = LOBES * widen
    centre = (np.arange(n_out, dtype=np.float64) + 0.5) * step
    first = np.maximum(np.floor(centre - support + 0.5).astype(np.intp), 0)
    last = np.minimum(np.floor(centre + support + 0.5).astype(np.intp), n)
    count = int(max(1, (last - first).max()))
    index = first[:, None] + np.arange(count)
    used = index < last[:, None]
    weight = np.where(used, lanczos_kernel((index + 0.5 - centre[:, None]) / widen), 0.0)
    total = weight.sum(axis=1, keepdims=True)
    weight = np.divide(weight, total, out=np.zeros_like(weight), where=total != 0)
    return AxisTaps(np.minimum(index, n - 1), weight, source=centre - 0.5, edge="renormalise")


def lanczos(
    x: np.ndarray,
    scale: float | Sequence[float] | None = None,
    *,
    size: Sequence[int] | None = None,
    rows: tuple[int, int] | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """Lanczos-3 resampling with Pillow's coefficients (see the module docstring).

    Parameters
    ----------
    x : ndarray, shape (H, W) or (H, W, C)
    scale : number or (sy, sx), optional
        The output is ``floor(n · scale)`` and ``r = 1/scale``.
    size : (out_h, out_w), optional
        Give ``scale`` or ``size``; ``r = n / n_out`` (Pillow's ``resize(size)``).
    rows : (start, stop), optional
        Only these output rows, identical to the same rows of the whole result.

    Notes
    -----
    Lanczos overshoots: near an edge the result may leave the input's range.
    Dtype rule: float64 input gives float64, every other input float32; values are not
    rescaled.

    Examples
    --------
    >>> lanczos(np.array([[0., 0., 1., 1.]]), size=(1, 8)).round(4)
    array([[ 0.0381, -0.055 , -0.0973,  0.2109,  0.7891,  1.0973,  1.055 ,
             0.9619]])
    """
    x = check_image(x)
    (out_h, out_w), (rh, rw) = resolve_output_size(x.shape[:2], scale, size)
    rows_taps = lanczos_taps(x.shape[0], out_h, rh)
    cols_taps = lanczos_taps(x.shape[1], out_w, rw)
    return resample_separable(x, rows_taps, cols_taps, rows=rows, threads=threads)


def _lanczos_taps(
    shape: tuple[int, int], options: MethodOptions
) -> tuple[AxisTaps, AxisTaps]:
    """The taps of every output row and column (``Method.taps``)."""
    scale, size = scale_or_size(options)
    out, steps = resolve_output_size(shape, scale, size)
    rows, cols = (lanczos_taps(shape[axis], out[axis], steps[axis]) for axis in range(2))
    return rows, cols


def _lanczos_backend(x: np.ndarray, options: MethodOptions, rows: Rows = None) -> np.ndarray:
    scale, size = scale_or_size(options)
    return lanczos(x, scale, size=size, rows=rows)


register(
    Method(
        name="lanczos",
        summary="Lanczos-3 resampling at any scale (Pillow's LANCZOS)",
        upsample=_lanczos_backend,
        supports_rows=True,
        output_shape=resized_shape,
        output_tag=resized_tag,
        uses=frozenset({"stride", "scale", "size"}),
        overshoots=lambda options: True,
        taps=_lanczos_taps,
        explain_views=("weights",),
    )
)
