"""Tests of ``upsamp.geometry``: output sizes for a scale, against PyTorch."""

from __future__ import annotations

import math

import numpy as np
import pytest

import upsamp
from upsamp.geometry import resolve_output_size


def _grid() -> list[tuple[int, float]]:
    scales = [float(s) for s in np.round(np.arange(0.5, 4.0, 0.01), 2)]
    scales += [float(s) for s in np.random.default_rng(0).uniform(0.3, 6.0, 200)]
    return [(n, s) for n in range(1, 301) for s in scales if math.floor(n * s) >= 1]


def test_size_for_a_scale_is_the_floor_of_the_double_product():
    """``floor(n * scale)`` with ``n * scale`` rounded to a double: 100 x 1.15 is
    114.99999999999999, so 114 (not 115)."""
    assert resolve_output_size((100, 7), scale=1.15)[0] == (114, 8)
    assert resolve_output_size((10, 3), scale=(0.7, 1.0))[0] == (7, 3)
    assert upsamp.bilinear(np.zeros((100, 2)), (1.15, 1)).shape == (114, 2)
    assert upsamp.nearest(np.zeros((2, 100)), (1, 1.15)).shape == (2, 114)


def test_size_for_a_scale_against_torch():
    """The output size of ``F.interpolate(scale_factor=s)`` (``recompute_scale_factor`` unset)
    over a grid of (n, scale): n = 1..300, scales 0.50..3.99 by 0.01 and 200 random ones."""
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    mismatches = []
    for n, scale in _grid():
        expected = functional.interpolate(
            torch.zeros(1, 1, n), scale_factor=scale, mode="nearest"
        ).shape[-1]
        got = resolve_output_size((n, 1), scale=(scale, 1.0))[0][0]
        if got != expected:
            mismatches.append((n, scale, got, expected))
    assert not mismatches, mismatches[:10]


@pytest.mark.parametrize("n", [7, 100, 113])
def test_methods_use_the_size_rule_against_torch(n):
    """nearest and bilinear produce the size torch does, including the products just below an
    integer (n * 1.15, n * 2.3, ...)."""
    pytest.importorskip("torch")
    import torch

    functional = torch.nn.functional
    x = np.zeros((2, n))
    for scale in (1.15, 2.3, 1.1, 0.7, 3.3, 1.45):
        t = torch.zeros(1, 1, 2, n)
        shape = functional.interpolate(t, scale_factor=(1.0, scale), mode="bilinear").shape
        assert upsamp.bilinear(x, (1, scale)).shape == tuple(shape[2:])
        assert upsamp.nearest(x, (1, scale)).shape == tuple(shape[2:])
