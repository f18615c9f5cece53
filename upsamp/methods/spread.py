"""Copying each pixel into its cell of an integer-factor enlargement: nearest-neighbour
replication and bed of nails at the speed of memory copies.

For factors ``(s_h, s_w)`` output pixel ``(o_r, o_c)`` lies in the cell of input pixel
``(o_r // s_h, o_c // s_w)`` at phase ``(o_r % s_h, o_c % s_w)``. Nearest-neighbour fills the
whole cell with the pixel, bed of nails only phase ``(0, 0)`` (zeros elsewhere). Both are built
the same way: the input rows a band needs are spread along the row once (one strided copy per
column phase, per channel unless a pixel's bytes fit one machine word), then every output row is
a contiguous copy of its input row's spread row (or zeros). Indexing ``(H, W, C)`` arrays
directly instead runs an inner loop of ``C`` values per pixel, several times slower.
"""

from __future__ import annotations

import numpy as np

from .._arrays import row_range
from ..threads import run_in_bands

__all__ = ["spread"]

_WORDS = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def spread(
    x: np.ndarray,
    factor: tuple[int, int],
    *,
    corner_only: bool = False,
    rows: tuple[int, int] | None = None,
    dtype: np.dtype | type | None = None,
) -> np.ndarray:
    """Output rows ``rows`` of ``x`` (``(H, W)`` or ``(H, W, C)``) enlarged by the integer
    ``factor``: each pixel copied into its whole cell, or with ``corner_only`` into the cell's
    top-left position only, zeros elsewhere. The result has ``dtype`` (default ``x``'s).

    >>> spread(np.array([[1, 2]]), (2, 2)).tolist()
    [[1, 1, 2, 2], [1, 1, 2, 2]]
    >>> spread(np.array([[1, 2]]), (2, 2), corner_only=True).tolist()
    [[1, 0, 2, 0], [0, 0, 0, 0]]
    """
    sh, sw = int(factor[0]), int(factor[1])
    out_dtype = np.dtype(dtype if dtype is not None else x.dtype)
    x3 = x if x.ndim == 3 else x[:, :, None]
    height, width, channels = x3.shape
    r0, r1 = row_range(rows, height * sh)
    out = np.empty((r1 - r0, width * sw, channels), dtype=out_dtype)
    pixel_bytes = channels * out_dtype.itemsize
    whole_pixels = out_dtype == x.dtype and pixel_bytes in _WORDS and x3.flags.c_contiguous
    row_bytes = max(1, out.shape[1] * pixel_bytes)

    def band(start: int, stop: int) -> None:
        i0, i1 = start // sh, (stop - 1) // sh + 1
        aligned = start % sh == 0 and stop % sh == 0
        if aligned:  # whole cells: written in place
            cells = out[start - r0 : stop - r0].reshape(i1 - i0, sh, width, sw, channels)
        else:
            cells = np.empty((i1 - i0, sh, width, sw, channels), dtype=out_dtype)
        first = cells[:, 0]  # the cells' first rows, (n, W, s_w, C)
        if corner_only:
            cells[...] = 0  # contiguous, unlike the positions between the corners
        phases = 1 if corner_only else sw
        if whole_pixels:  # one machine word per pixel: one copy per column phase
            word = _WORDS[pixel_bytes]
            source = x3[i0:i1].reshape(i1 - i0, width * channels).view(word)
            target = first.view(np.uint8).reshape(i1 - i0, width, sw * pixel_bytes).view(word)
            for phase in range(phases):
                target[:, :, phase] = source
        else:
            for phase in range(phases):
                for channel in range(channels):
                    first[:, :, phase, channel] = x3[i0:i1, :, channel]
        if sh > 1 and not corner_only:  # the other rows of each cell: copies of its first
            cells[:, 1:] = first[:, None]
        if not aligned:
            whole = cells.reshape((i1 - i0) * sh, width * sw, channels)
            out[start - r0 : stop - r0] = whole[start - i0 * sh : stop - i0 * sh]

    rows_per_band = sh * max(1, (1 << 20) // (row_bytes * sh))
    run_in_bands(band, r0, r1, rows_per_band=rows_per_band)
    return out if x.ndim == 3 else out[:, :, 0]
