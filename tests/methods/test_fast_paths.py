"""The fast integer-factor paths equal the plain paths exactly: factor-2 uint8 bilinear against
the separable-engine integer path, nearest and bed of nails against gathering by index and
their definitions, on whole images and on every kind of row band."""

from __future__ import annotations

import numpy as np
import pytest

from upsamp.methods.interpolate import _nearest_index, gather_pixels, nearest
from upsamp.methods.pooling import bed_of_nails
from upsamp.methods.rounded import _bilinear_rounded_window, bilinear_rounded
from upsamp.methods.spread import spread

RNG = np.random.default_rng(11)
SHAPES = [(7, 5, 3), (9, 4), (13, 11, 4), (5, 6, 2), (1, 1, 3), (2, 3), (1, 7), (31, 17, 3)]


def _bands(height: int):
    """Every band of 1 to 5 rows starting at every row, and the whole."""
    yield 0, height
    for start in range(height):
        for stop in range(start + 1, min(height, start + 5) + 1):
            yield start, stop


@pytest.mark.parametrize("shape", SHAPES)
def test_bilinear_x2_uint8_equals_the_engine_path(shape):
    x = RNG.integers(0, 256, shape).astype(np.uint8)
    plain = _bilinear_rounded_window(x, (2, 2), None)
    assert np.array_equal(bilinear_rounded(x, 2), plain)
    for start, stop in _bands(plain.shape[0]):
        assert np.array_equal(bilinear_rounded(x, 2, rows=(start, stop)), plain[start:stop])


@pytest.mark.parametrize("value", [0, 1, 127, 128, 254, 255])
def test_bilinear_x2_uint8_extremes_and_halves(value):
    x = np.full((4, 5, 3), value, np.uint8)
    x[1, 2] = 255 - value  # sums landing on exact halves of 16 around one pixel
    assert np.array_equal(bilinear_rounded(x, 2), _bilinear_rounded_window(x, (2, 2), None))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("shape", [(7, 5, 3), (9, 4), (13, 11, 4), (5, 6, 2), (4, 3, 5)])
@pytest.mark.parametrize("factor", [(2, 2), (3, 3), (1, 2), (2, 3), (4, 1)])
def test_nearest_and_bed_of_nails_equal_their_plain_forms(dtype, shape, factor):
    x = (RNG.random(shape) * 200).astype(dtype)
    out_h, out_w = shape[0] * factor[0], shape[1] * factor[1]
    rows = _nearest_index(shape[0], out_h, float(factor[0]))
    cols = _nearest_index(shape[1], out_w, float(factor[1]))
    for keep in (True, False):
        dtype_out = x.dtype if keep else (np.float64 if dtype == np.float64 else np.float32)
        gathered = gather_pixels(x, rows, cols).astype(dtype_out)
        nails = np.zeros_like(gathered)
        nails[:: factor[0], :: factor[1]] = x
        got = nearest(x, factor, keep_dtype=keep)
        assert got.dtype == gathered.dtype and np.array_equal(got, gathered)
        assert np.array_equal(bed_of_nails(x, factor, keep_dtype=keep), nails)
        for start, stop in _bands(out_h):
            band = (start, stop)
            near = nearest(x, factor, rows=band, keep_dtype=keep)
            assert np.array_equal(near, gathered[start:stop])
            placed = bed_of_nails(x, factor, rows=band, keep_dtype=keep)
            assert np.array_equal(placed, nails[start:stop])


def test_spread_of_a_non_contiguous_view():
    x = RNG.integers(0, 256, (6, 8, 3)).astype(np.uint8)[:, ::2]
    expected = np.repeat(np.repeat(x, 2, axis=0), 3, axis=1)
    assert np.array_equal(spread(x, (2, 3)), expected)


def test_nearest_at_a_non_integer_scale_still_gathers():
    x = RNG.integers(0, 256, (5, 7, 3)).astype(np.uint8)
    got = nearest(x, 1.5, keep_dtype=True)
    rows = _nearest_index(5, got.shape[0], 1.5)
    cols = _nearest_index(7, got.shape[1], 1.5)
    assert np.array_equal(got, x[rows][:, cols])
