"""Output sizes written as ImageMagick users type them: ``200%``, ``1920x``, ``x1080``,
``1920x1080`` (fit inside, keeping the aspect ratio) and ``1920x1080!`` (exactly that size).

Pure functions, no I/O. Sizes are ``(height, width)`` tuples like every shape in the package;
the text forms are ``WIDTHxHEIGHT`` as users write them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from .errors import ParameterError

__all__ = ["SizeSpec", "parse_size", "parse_scale", "resolve_size"]

_SIZE = re.compile(r"^\s*(\d*)\s*[xX×]\s*(\d*)\s*(!?)\s*$")


@dataclass(frozen=True)
class SizeSpec:
    """A requested output size.

    ``width``/``height`` may be None (that side follows the aspect ratio); with both given,
    ``exact`` says whether the image is stretched to exactly that size (``WxH!``) or fitted
    inside the box keeping its aspect ratio (``WxH``).
    """

    width: int | None
    height: int | None
    exact: bool = False

    def __str__(self) -> str:
        w = "" if self.width is None else str(self.width)
        h = "" if self.height is None else str(self.height)
        return f"{w}x{h}{'!' if self.exact else ''}"


def parse_size(text: str) -> SizeSpec:
    """Parse ``WxH``, ``WxH!``, ``Wx`` or ``xH`` (``×`` also accepted).

    Examples
    --------
    >>> parse_size("1920x")
    SizeSpec(width=1920, height=None, exact=False)
    >>> parse_size("1920x1080!")
    SizeSpec(width=1920, height=1080, exact=True)
    """
    match = _SIZE.match(str(text))
    if match is None:
        raise ParameterError(
            f"{text!r} is not a size: use WxH (fit inside), WxH! (exactly), Wx or xH"
        )
    w_text, h_text, bang = match.groups()
    if not w_text and not h_text:
        raise ParameterError(f"{text!r} gives neither a width nor a height")
    width = int(w_text) if w_text else None
    height = int(h_text) if h_text else None
    if (width is not None and width < 1) or (height is not None and height < 1):
        raise ParameterError(f"{text!r}: width and height must be at least 1")
    if bang and (width is None or height is None):
        raise ParameterError(f"{text!r}: '!' (exact size) needs both a width and a height")
    return SizeSpec(width, height, bool(bang))


def parse_scale(text: str) -> float | tuple[float, float]:
    """Parse a scale factor: ``1.5``, ``150%``, or ``SY,SX`` (each may be a percentage).

    Examples
    --------
    >>> parse_scale("200%")
    2.0
    >>> parse_scale("1.5,50%")
    (1.5, 0.5)
    """
    parts = str(text).split(",")
    if len(parts) not in (1, 2):
        raise ParameterError(f"{text!r} must be one factor or an SY,SX pair")
    values = []
    for part in parts:
        item = part.strip()
        percent = item.endswith("%")
        try:
            value = float(item[:-1] if percent else item)
        except ValueError:
            raise ParameterError(f"{text!r} is not a scale (e.g. 1.5, 150% or SY,SX)") from None
        if percent:
            value /= 100.0
        if not 0 < value < float("inf"):
            raise ParameterError(f"{text!r}: a scale must be a positive number")
        values.append(value)
    return values[0] if len(values) == 1 else (values[0], values[1])


def _scaled(length: int, num: int, den: int) -> int:
    """``round(length * num / den)`` with halves rounded up, and at least 1."""
    return max(1, (2 * length * num + den) // (2 * den))


def resolve_size(spec: SizeSpec, input_hw: tuple[int, int]) -> tuple[int, int]:
    """The ``(height, width)`` a :class:`SizeSpec` asks for, given the input's size.

    * ``Wx``: width ``W``, height ``round(h * W / w)``; ``xH`` likewise.
    * ``WxH``: the largest size with the input's aspect ratio inside the box: the side whose
      ratio ``W / w`` or ``H / h`` is smaller is met exactly, the other is
      ``round(side * ratio)`` (halves up; never below 1).
    * ``WxH!``: exactly ``(H, W)``.

    Examples
    --------
    >>> resolve_size(parse_size("1920x1080"), (2000, 3000))
    (1080, 1620)
    >>> resolve_size(parse_size("x1080"), (2000, 3000))
    (1080, 1620)
    """
    h, w = int(input_hw[0]), int(input_hw[1])
    if spec.width is not None and spec.height is not None:
        if spec.exact:
            return spec.height, spec.width
        if Fraction(spec.width, w) <= Fraction(spec.height, h):
            return min(spec.height, _scaled(h, spec.width, w)), spec.width
        return spec.height, min(spec.width, _scaled(w, spec.height, h))
    if spec.width is not None:
        return _scaled(h, spec.width, w), spec.width
    assert spec.height is not None
    return spec.height, _scaled(w, spec.height, h)
