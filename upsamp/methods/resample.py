"""Separable resampling with a table of taps per output index (any scale, any size).

Along one axis, output ``o`` is ``sum_t weight[o, t] * x[index[o, t]]``: each interpolation
method only builds its :class:`AxisTaps` (bicubic, Lanczos); this module applies them, columns
first on just the input rows a band of output rows needs, then rows, in bands of output rows on
every thread. A band's rows are computed exactly as the same rows of the whole result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._arrays import as_planes, check_image, restore_rank, result_dtype, row_range
from ..threads import run_in_bands
from .polyphase import BAND_VALUES

__all__ = ["EDGE_RULES", "AxisTaps", "resample_separable"]


#: What happens to a source coordinate past the ends of an axis (:attr:`AxisTaps.edge`).
EDGE_RULES = ("clamp", "replicate", "renormalise")


@dataclass(frozen=True)
class AxisTaps:
    """Output ``o`` of one axis reads ``index[o, t]`` with weight ``weight[o, t]``
    (both ``(n_out, T)``; unused taps have weight 0 and any valid index).

    ``source[o]`` (optional) is the input coordinate output ``o`` samples, before any edge
    rule; ``edge`` says what happens past the ends: ``"clamp"`` the coordinate is clamped into
    ``[0, n - 1]``, ``"replicate"`` taps past the ends read the edge sample, ``"renormalise"``
    taps past the ends are dropped and the others rescaled to sum to 1.
    """

    index: np.ndarray
    weight: np.ndarray
    source: np.ndarray | None = None
    edge: str = "replicate"

    @property
    def size(self) -> int:
        return int(self.index.shape[0])


def _apply(
    x: np.ndarray, taps: AxisTaps, axis: int, outputs: slice, offset: int, dtype: np.dtype
) -> np.ndarray:
    """``sum_t weight[o, t] * x[index[o, t] - offset]`` along ``axis`` for the ``outputs``."""
    index = taps.index[outputs] - offset
    weight = taps.weight[outputs].astype(dtype)
    shape = [1] * x.ndim
    shape[axis] = index.shape[0]
    out = None
    for t in range(index.shape[1]):
        term = np.take(x, index[:, t], axis=axis)
        term *= weight[:, t].reshape(shape)
        if out is None:
            out = term
        else:
            out += term
    assert out is not None
    return out


def resample_separable(
    x: np.ndarray,
    rows_taps: AxisTaps,
    cols_taps: AxisTaps,
    *,
    rows: tuple[int, int] | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """Resample ``x`` (``(H, W)`` or ``(H, W, C)``) with per-axis tap tables.

    Returns rows ``rows`` (default all) of the ``(rows_taps.size, cols_taps.size)`` result,
    float64 for float64 input and float32 otherwise.
    """
    x = check_image(x)
    x3, was_2d = as_planes(x)
    dtype = result_dtype(x)
    out_h, out_w = rows_taps.size, cols_taps.size
    r0, r1 = row_range(rows, out_h)
    out = np.empty((r1 - r0, out_w, x3.shape[2]), dtype=dtype)
    all_cols = slice(0, out_w)

    def work(a: int, b: int) -> None:
        needed = rows_taps.index[a:b]
        lo, hi = int(needed.min()), int(needed.max()) + 1
        across = _apply(x3[lo:hi].astype(dtype, copy=False), cols_taps, 1, all_cols, 0, dtype)
        out[a - r0 : b - r0] = _apply(across, rows_taps, 0, slice(a, b), lo, dtype)

    band = max(8, BAND_VALUES // max(1, out_w * x3.shape[2]))
    run_in_bands(work, r0, r1, rows_per_band=band, threads=threads)
    return restore_rank(out, was_2d)
