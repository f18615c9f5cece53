"""Size and scale forms against their arithmetic."""

from fractions import Fraction

import pytest

from upsamp.errors import ParameterError
from upsamp.sizespec import SizeSpec, parse_scale, parse_size, resolve_size


def _round_half_up(x: Fraction) -> int:
    return int(x + Fraction(1, 2))


@pytest.mark.parametrize(
    "text, spec",
    [
        ("1920x", SizeSpec(1920, None)),
        ("x1080", SizeSpec(None, 1080)),
        ("1920x1080", SizeSpec(1920, 1080)),
        ("1920X1080!", SizeSpec(1920, 1080, True)),
        (" 7 x 5 ", SizeSpec(7, 5)),
    ],
)
def test_parse_size(text, spec):
    assert parse_size(text) == spec


@pytest.mark.parametrize("text", ["x", "1920", "axb", "0x5", "1920x!", "x1080!", "-3x4"])
def test_parse_size_refuses(text):
    with pytest.raises(ParameterError):
        parse_size(text)


def test_parse_scale():
    assert parse_scale("200%") == 2.0
    assert parse_scale("1.5") == 1.5
    assert parse_scale("150%,2") == (1.5, 2.0)
    for bad in ["", "%", "-5%", "0", "abc", "1,2,3", "inf"]:
        with pytest.raises(ParameterError):
            parse_scale(bad)


@pytest.mark.parametrize("hw", [(2000, 3000), (3000, 2000), (1080, 1920), (7, 13), (1, 1)])
@pytest.mark.parametrize("box", [(1920, 1080), (100, 100), (13, 7), (1, 1000)])
def test_fit_inside_against_arithmetic(hw, box):
    h, w = hw
    bw, bh = box
    out_h, out_w = resolve_size(SizeSpec(bw, bh), hw)
    assert out_w <= bw and out_h <= bh
    ratio = min(Fraction(bw, w), Fraction(bh, h))
    assert out_w == max(1, min(bw, _round_half_up(w * ratio)))
    assert out_h == max(1, min(bh, _round_half_up(h * ratio)))
    assert out_w == bw or out_h == bh  # one side meets the box


def test_one_side_and_exact():
    assert resolve_size(parse_size("1920x"), (2000, 3000)) == (1280, 1920)
    assert resolve_size(parse_size("x1080"), (2000, 3000)) == (1080, 1620)
    assert resolve_size(parse_size("1920x1080"), (2000, 3000)) == (1080, 1620)
    assert resolve_size(parse_size("1920x1080!"), (2000, 3000)) == (1080, 1920)
    assert resolve_size(parse_size("3x"), (1, 1000)) == (1, 3)  # never 0
    assert str(parse_size("x5")) == "x5"
