"""The exact integer path for 8/16-bit bilinear enlargement (``bilinear_rounded``), checked
against exact rational arithmetic and against the float path followed by rounding."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import reference_impl as ref
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
    odd = upsamp.bilinear(x, 1.5, keep_dtype=True)  # not an integer factor: exact too
    assert odd.dtype == np.uint8
    np.testing.assert_array_equal(odd, _exact_case(x, scale=1.5)[1])
    wide = x.astype(np.int32)  # other integer dtypes: the float result, rounded
    rounded = np.rint(upsamp.bilinear(wide, 1.5)).astype(np.int32)
    np.testing.assert_array_equal(upsamp.bilinear(wide, 1.5, keep_dtype=True), rounded)
    assert upsamp.bilinear(x.astype(np.float32), 2, keep_dtype=True).dtype == np.float32


def test_float_path_rounded_afterwards_is_not_exact():
    """Why the integer path exists: 0.75 * 0 + 0.25 * 26 = 6.5 exactly (rounds to 6, half to
    even), but bilinear's float32 evaluation gives 6.5000005, which rounds to 7."""
    x = np.array([[0, 26]], dtype=np.uint8)
    floats = upsamp.bilinear(x, (1, 6))
    assert floats.dtype == np.float32 and floats[0, 4] != 6.5
    assert to_storage(floats, "L")[0][0, 4] == 7
    assert bilinear_rounded(x, (1, 6))[0, 4] == 6
    assert upsamp.bilinear(x, (1, 6), keep_dtype=True)[0, 4] == 6
    np.testing.assert_array_equal(bilinear_rounded(x, (1, 6)), exact_bilinear_rounded(x, (1, 6)))


def _exact_case(x, scale=None, size=None, align_corners=False):
    """``bilinear(keep_dtype=True)`` and the exact rational reference for the same request."""
    from fractions import Fraction

    from upsamp.geometry import resolve_output_size

    got = upsamp.bilinear(x, scale, align_corners, size=size, keep_dtype=True)
    (out_h, out_w), _ = resolve_output_size(x.shape[:2], scale, size)
    steps = [None, None]
    if scale is not None:
        pair = scale if isinstance(scale, tuple) else (scale, scale)
        steps = [
            # an axis kept at its length is copied; a scale is the decimal it prints as
            Fraction(1) if out == n else 1 / Fraction(repr(float(s)))
            for n, out, s in zip(x.shape[:2], (out_h, out_w), pair, strict=True)
        ]
    expected = ref.exact_bilinear_rounded(x, out_h, out_w, *steps, align_corners=align_corners)
    return got, expected


@settings(max_examples=60, deadline=None)
@given(
    h=st.integers(1, 6),
    w=st.integers(1, 6),
    request=st.sampled_from(
        [
            dict(scale=1.5),
            dict(scale=(2.5, 1.25)),
            dict(scale=1.1),
            dict(scale=(3.7, 1.3)),
            dict(scale=0.75),
            dict(size=(7, 9)),
            dict(size=(11, 4)),
            dict(size=(13, 13)),
            dict(size=(7, 9), align_corners=True),
            dict(scale=2.0, align_corners=True),
            dict(scale=1.7, align_corners=True),
        ]
    ),
    sixteen=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_non_integer_requests_are_exactly_rounded(h, w, request, sixteen, seed):
    """Scales, sizes and align_corners: the exact rational value rounded half to even, for 8-
    and 16-bit images."""
    dtype = np.uint16 if sixteen else np.uint8
    top = 65535 if sixteen else 255
    x = np.random.default_rng(seed).integers(0, top + 1, (h, w, 2), dtype=dtype)
    try:
        got, expected = _exact_case(x, **request)
    except upsamp.ParameterError:
        return  # an empty output for this shape
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, expected)


# Images where bilinear's float32 result, rounded, misses the exactly rounded value by one.
FLOAT32_MISSES = [
    ([[62, 200, 65], [116, 41, 196], [44, 182, 109]], dict(scale=1.5)),
    ([[251, 215, 25], [7, 12, 218], [35, 89, 141]], dict(scale=(1.0, 2.5))),
]


@pytest.mark.parametrize(("pixels", "request_"), FLOAT32_MISSES)
def test_non_integer_float32_misses_are_exact(pixels, request_):
    x = np.array(pixels, dtype=np.uint8)
    floats = upsamp.bilinear(x, request_["scale"])
    got, expected = _exact_case(x, **request_)
    assert not np.array_equal(np.rint(floats), expected)  # the float32 route misses here
    np.testing.assert_array_equal(got, expected)


def test_cli_bilinear_by_scale_is_exactly_rounded(tmp_path):
    """The command line's integer route gives the same exact values for a non-integer scale."""
    from click.testing import CliRunner
    from PIL import Image

    from upsamp.cli import cli

    pixels = np.array(FLOAT32_MISSES[0][0], dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "in.png")
    out = tmp_path / "out.png"
    arguments = ["enlarge", str(tmp_path / "in.png"), "-m", "bilinear", "--scale", "1.5"]
    result = CliRunner().invoke(cli, [*arguments, "-o", str(out)])
    assert result.exit_code == 0, result.output
    _, expected = _exact_case(pixels, scale=1.5)
    np.testing.assert_array_equal(np.asarray(Image.open(out)), expected)


@pytest.mark.parametrize(
    "request_",
    [dict(size=(5, 9)), dict(size=(7, 4)), dict(scale=1.5), dict(size=(6, 6), align_corners=True)],
)
def test_float64_route_with_exact_ties(monkeypatch, request_):
    """The route for requests whose exact weights do not fit in 64 bits (scales like 1.1):
    float64 values, and those within the error bound of a half recomputed exactly. Forced here
    on requests full of exact halves, it still gives the exact rounding."""
    from upsamp.methods import interpolate

    monkeypatch.setattr(interpolate, "linear_axis", lambda *args: None)
    x = np.random.default_rng(9).integers(0, 65536, (4, 5, 2), dtype=np.uint16)
    got, expected = _exact_case(x, **request_)
    np.testing.assert_array_equal(got, expected)


def test_round_near_halves_recomputes_values_near_a_half():
    """A value given as 6.5 + 1e-12 (float error) whose exact value is 6.5 rounds to 6."""
    from fractions import Fraction

    from upsamp.methods.rounded import round_near_halves

    x = np.array([[0, 26]], dtype=np.uint8)
    steps = (Fraction(1), Fraction(1, 6))
    values = upsamp.bilinear(x.astype(np.float64), (1, 6))
    values[0, 4] = 6.5 + 1e-12
    got = round_near_halves(values, x, steps, False, 0)
    np.testing.assert_array_equal(got, exact_bilinear_rounded(x, (1, 6)))
    assert got[0, 4] == 6


def test_a_scale_is_the_decimal_it_prints_as():
    """At scale 1.1, output 5 sits at u = 5.5 / 1.1 - 0.5 = 4.5: halfway between samples 4 and
    5, so 3 and 6 give 4.5, which rounds to 4 (half to even). Read as the double nearest 1.1,
    u would fall just below 4.5 and the value would round up to 5."""
    x = np.array([[0, 0, 0, 0, 3, 6, 0, 0, 0, 0]], dtype=np.uint8)
    y = upsamp.bilinear(x, (1, 1.1), keep_dtype=True)
    assert y.shape == (1, 11)
    assert y[0, 5] == 4
