"""Premultiplied alpha: premultiply -> resample -> divide, against Pillow's resize (which
premultiplies RGBA) and against a plain numpy reference written here.

The halo case of the issue: a white disc with an anti-aliased edge on transparent black,
enlarged x4 with bilinear and composited over 50 % grey.
"""

from __future__ import annotations

import numpy as np
import pytest

from upsamp.colour import premultiply, unpremultiply
from upsamp.methods import get_method
from upsamp.methods.registry import MethodOptions

STRIDE = 4


def _disc(size: int = 24) -> np.ndarray:
    """RGBA uint8: white disc, anti-aliased by 4x4 supersampling, on transparent black."""
    sub = 4
    yy, xx = np.mgrid[0 : size * sub, 0 : size * sub]
    inside = ((yy + 0.5) / sub - size / 2) ** 2 + ((xx + 0.5) / sub - size / 2) ** 2 < (
        size * 0.35
    ) ** 2
    coverage = inside.reshape(size, sub, size, sub).mean(axis=(1, 3))
    rgba = np.zeros((size, size, 4), np.uint8)
    rgba[..., :3] = 255
    rgba[..., :3][coverage == 0] = 0  # transparent pixels are black
    rgba[..., 3] = np.rint(coverage * 255).astype(np.uint8)
    return rgba


def _bilinear(x: np.ndarray) -> np.ndarray:
    return get_method("bilinear").upsample(x, MethodOptions(stride=(STRIDE, STRIDE)))


def _enlarge(rgba: np.ndarray, premultiplied: bool) -> tuple[np.ndarray, np.ndarray]:
    colour, alpha = rgba[..., :3], rgba[..., 3]
    big_alpha = _bilinear(alpha)
    if premultiplied:
        big = _bilinear(premultiply(colour, alpha, alpha_max=255))
        return unpremultiply(big, big_alpha, alpha_max=255), big_alpha
    return _bilinear(colour), big_alpha


def _stored(colour: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.clip(np.rint(colour), 0, 255), np.clip(np.rint(alpha), 0, 255)


def _over(colour: np.ndarray, alpha: np.ndarray, background: float) -> np.ndarray:
    a = alpha[..., None] / 255.0
    return colour * a + background * (1 - a)


def _reference(rgba: np.ndarray, background: float) -> np.ndarray:
    """The enlarged composite: composite first, then enlarge (bilinear is linear)."""
    flat = _over(rgba[..., :3].astype(np.float64), rgba[..., 3].astype(np.float64), background)
    return _bilinear(flat)


def _halo(premultiplied: bool, background: float = 127.5) -> float:
    rgba = _disc()
    colour, alpha = _stored(*_enlarge(rgba, premultiplied))
    return float(np.abs(_over(colour, alpha, background) - _reference(rgba, background)).max())


def test_halo_figure():
    before, after = _halo(False), _halo(True)
    assert before > 20  # the dark fringe of straight-alpha resampling
    assert after <= 1.0  # rounding of the stored colour and alpha only


@pytest.mark.parametrize("background", [0.0, 64.0, 127.5, 255.0])
def test_composites_equal_enlarged_composite(background):
    assert _halo(True, background) <= 1.0


def test_against_plain_numpy_reference():
    """premultiply -> resample -> divide, with every step written out here."""
    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, (7, 9, 4)).astype(np.float64)
    rgba[2:4, 3:6, 3] = 0
    a = rgba[..., 3:] / 255.0
    pre = rgba[..., :3] * a
    big_pre = np.stack([_bilinear(pre[..., c]) for c in range(3)], axis=2)
    big_a = _bilinear(rgba[..., 3]) / 255.0
    want = np.where(big_a[..., None] > 0, big_pre / np.maximum(big_a[..., None], 1e-300), 0)
    got, got_alpha = _enlarge(rgba.astype(np.uint8), True)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(got_alpha / 255.0, big_a, atol=1e-6)


def test_against_pillow_premultiplied_resize():
    Image = pytest.importorskip("PIL.Image")
    rgba = _disc()
    h, w = rgba.shape[:2]
    pil = np.array(
        Image.fromarray(rgba).resize((w * STRIDE, h * STRIDE), Image.Resampling.BILINEAR)
    ).astype(np.float64)
    colour, alpha = _stored(*_enlarge(rgba, True))
    inner = (slice(STRIDE, -STRIDE), slice(STRIDE, -STRIDE))  # edges: Pillow's own border rule
    for background in (0.0, 127.5, 255.0):
        ours = _over(colour, alpha, background)[inner]
        theirs = _over(pil[..., :3], pil[..., 3], background)[inner]
        assert np.abs(ours - theirs).max() <= 2.0
