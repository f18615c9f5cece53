"""The exact integer path for 8/16-bit bilinear enlargement (``bilinear_rounded``), checked
against exact rational arithmetic and against the float path followed by rounding."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import upsamp
from upsamp.imageio import to_storage
from upsamp.methods.rounded import bilinear_rounded


def exact_bilinear_rounded(x: np.ndarray, s: tuple[int, int]) -> np.ndarray:
    """Half-pixel bilinear with clamped edges in Fractions, then round half to even."""
    h, w = x.shape[:2]
    out = np.zeros((h * s[0], w * s[1]) + x.shape[2:], dtype=np.int64)

    def taps(n: int, o: int, factor: int) -> list[tuple[int, Fraction]]:
        u = max(Fraction(2 * o + 1, 2 * factor) - Fraction(1, 2), Fraction(0))
        i0 = min(int(u), n - 1)
        i1 = min(i0 + 1, n - 1)
        f = u - i0 if i1 != i0 else Fraction(0)
        return [(i0, 1 - f), (i1, f)]

    for oh in range(out.shape[0]):
        for ow in range(out.shape[1]):
            total = np.zeros(x.shape[2:], dtype=object)
            for ih, wh in taps(h, oh, s[0]):
                for iw, ww in taps(w, ow, s[1]):
                    total = total + x[ih, iw].astype(object) * (wh * ww)
            out[oh, ow] = np.vectorize(lambda v: round(Fraction(v)))(total)  # half to even
    return out


@settings(max_examples=60, deadline=None)
@given(
    h=st.integers(1, 5),
    w=st.integers(1, 5),
    channels=st.sampled_from([None, 2, 3, 4]),
    sh=st.integers(1, 4),
    sw=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_equals_exact_rational_rounding(h, w, channels, sh, sw, seed):
    shape = (h, w) if channels is None else (h, w, channels)
    x = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    got = bilinear_rounded(x, (sh, sw))
    assert got.dtype == np.uint8 and got.shape == (h * sh, w * sw) + shape[2:]
    np.testing.assert_array_equal(got, exact_bilinear_rounded(x, (sh, sw)))


def test_ties_round_half_to_even():
    # 10 and 15 at x2: 0.75*10 + 0.25*15 = 11.25 -> 11 and 13.75 -> 14 (no ties).
    x = np.array([[10, 15]], dtype=np.uint8)
    assert bilinear_rounded(x, (1, 2)).tolist() == [[10, 11, 14, 15]]
    x = np.array([[11, 14]], dtype=np.uint8)  # 11.75 -> 12, 13.25 -> 13
    assert bilinear_rounded(x, (1, 2)).tolist() == [[11, 12, 13, 14]]
    x = np.array([[0, 2]], dtype=np.uint8)  # exact ties: 0.5 -> 0, 1.5 -> 2 (to even)
    assert bilinear_rounded(x, (1, 2)).tolist() == [[0, 0, 2, 2]]


@pytest.mark.parametrize("factor", [(2, 2), (3, 3), (2, 3), (8, 8)])
def test_sixteen_bit_and_bands_match_the_float_path(factor):
    rng = np.random.default_rng(3)
    x = rng.integers(0, 65536, (9, 7), dtype=np.uint16)
    whole = bilinear_rounded(x, factor)
    floats = upsamp.bilinear(x.astype(np.float64), factor)
    # away from exact ties the float path rounds the same way
    clear = np.abs(floats - np.floor(floats) - 0.5) > 1e-6
    np.testing.assert_array_equal(whole[clear], to_storage(floats, "I;16")[0][clear])
    band = bilinear_rounded(x, factor, rows=(5, 11))
    np.testing.assert_array_equal(band, whole[5:11])


def test_full_range_does_not_overflow():
    x = np.full((3, 4, 3), 255, dtype=np.uint8)
    assert (bilinear_rounded(x, (8, 8)) == 255).all()
    x16 = np.full((3, 4), 65535, dtype=np.uint16)
    assert (bilinear_rounded(x16, (5, 5)) == 65535).all()


def test_refuses_float_input():
    with pytest.raises(upsamp.ParameterError):
        bilinear_rounded(np.zeros((2, 2)), (2, 2))


def test_cli_output_is_the_rounded_float_result(tmp_path):
    """The banded CLI path (which uses the integer route) writes round(bilinear(x))."""
    from click.testing import CliRunner
    from PIL import Image

    from upsamp.cli import cli

    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 256, (23, 31, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "in.png")
    for method in ("bilinear", "transconv"):
        out = tmp_path / f"{method}.png"
        result = CliRunner().invoke(
            cli, ["enlarge", str(tmp_path / "in.png"), "-m", method, "-o", str(out)]
        )
        assert result.exit_code == 0, result.output
        np.testing.assert_array_equal(
            np.asarray(Image.open(out)), exact_bilinear_rounded(pixels, (2, 2))
        )


def test_keep_dtype_api():
    rng = np.random.default_rng(11)
    x = rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)
    got = upsamp.bilinear(x, 2, keep_dtype=True)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, exact_bilinear_rounded(x, (2, 2)))
    odd = upsamp.bilinear(x, 1.5, keep_dtype=True)  # not an integer factor: float path, rounded
    assert odd.dtype == np.uint8
    np.testing.assert_array_equal(odd, np.rint(upsamp.bilinear(x, 1.5)).astype(np.uint8))
    assert upsamp.bilinear(x.astype(np.float32), 2, keep_dtype=True).dtype == np.float32
