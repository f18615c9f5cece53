"""Max-unpool from the compact position form (``WindowOffsets``: the offset of each maximum
inside its pooling window, one byte per value) against the flat-index path, a plain loop and
PyTorch's ``max_unpool2d``."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import upsamp
from upsamp.errors import ParameterError
from upsamp.methods.pooling import WindowOffsets, check_window_offsets, window_offsets

FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _loop_unpool_offsets(x3, offsets3, stride, out_hw):
    """Plain loops: value ``x[i, j, c]`` goes to ``(i * s_h + k // s_w, j * s_w + k % s_w)``."""
    sh, sw = stride
    out = np.zeros((out_hw[0], out_hw[1], x3.shape[2]))
    for i in range(x3.shape[0]):
        for j in range(x3.shape[1]):
            for c in range(x3.shape[2]):
                k = int(offsets3[i, j, c])
                out[i * sh + k // sw, j * sw + k % sw, c] = x3[i, j, c]
    return out


def test_seed000_offsets_unpool():
    # docs/references.md [seed-000]: flat positions 5, 2, 9, 14 of a 4x4 plane
    offsets = WindowOffsets(np.array([[3, 0], [1, 2]], dtype=np.uint8))
    y = upsamp.max_unpool(np.array([[1.0, 2.0], [3.0, 4.0]]), offsets, 2)
    np.testing.assert_array_equal(y, [[0, 0, 2, 0], [0, 1, 0, 0], [0, 3, 0, 0], [0, 0, 4, 0]])


def test_window_offsets_of_the_seed_indices():
    found = window_offsets(np.array([[5, 2], [9, 14]]), 2, (4, 4))
    assert found is not None and found.offsets.dtype == np.uint8
    np.testing.assert_array_equal(found.offsets, [[3, 0], [1, 2]])


@pytest.mark.parametrize(
    "indices",
    [
        np.array([[2, 2], [9, 14]]),  # the first value points into its neighbour's window
        np.array([[5, 2], [9, 15 + 16]]),  # outside the plane
        np.array([[-1, 2], [9, 14]]),
    ],
)
def test_indices_outside_their_window_have_no_compact_form(indices):
    assert window_offsets(indices, 2, (4, 4)) is None


def test_windows_over_256_positions_have_no_compact_form():
    assert window_offsets(np.zeros((1, 1), dtype=np.int64), (17, 16), (17, 16)) is None


@FAST
@given(
    ph=st.integers(1, 6),
    pw=st.integers(1, 6),
    c=st.sampled_from([1, 2, 3, 4]),
    sh=st.integers(1, 4),
    sw=st.integers(1, 4),
    extra=st.tuples(st.integers(0, 3), st.integers(0, 3)),
    levels=st.sampled_from([2, 3, 256]),
    nan_fraction=st.sampled_from([0.0, 0.3]),
    seed=st.integers(0, 2**32 - 1),
)
def test_offsets_equal_flat_and_loop(ph, pw, c, sh, sw, extra, levels, nan_fraction, seed):
    """Ties (few levels) and NaN (the last NaN wins) give the same positions in both forms; every
    band of output rows equals the same rows of the whole output."""
    rng = np.random.default_rng(seed)
    h, w = ph * sh + min(extra[0], sh - 1), pw * sw + min(extra[1], sw - 1)
    guide = rng.integers(0, levels, size=(h, w, c)).astype(np.float64)
    guide[rng.random(guide.shape) < nan_fraction] = np.nan
    _, idx = upsamp.max_pool(guide, (sh, sw))
    found = window_offsets(idx, (sh, sw), (h, w))
    assert found is not None
    values = rng.standard_normal((ph, pw, c))  # negative values too: zeros must stay +0.0
    values[rng.random(values.shape) < nan_fraction] = np.nan
    flat = upsamp.max_unpool(values, idx, (sh, sw), (h, w))
    compact = upsamp.max_unpool(values, found, (sh, sw), (h, w))
    assert compact.dtype == flat.dtype == np.float64
    np.testing.assert_array_equal(compact, flat)
    np.testing.assert_array_equal(np.signbit(compact), np.signbit(flat))
    np.testing.assert_array_equal(compact, _loop_unpool_offsets(values, found.offsets, (sh, sw),
                                                                (h, w)))
    cut = int(rng.integers(1, h + 1))
    for rows in ((0, cut), (cut - 1, h), (cut - 1, cut)):
        band = upsamp.max_unpool(values, found, (sh, sw), (h, w), rows=rows)
        np.testing.assert_array_equal(band, compact[rows[0] : rows[1]])


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.float32])
def test_offsets_keep_dtype_is_exact(dtype):
    rng = np.random.default_rng(5)
    guide = rng.integers(0, 4, size=(9, 11, 3))
    _, idx = upsamp.max_pool(guide, 2)
    values = rng.integers(-100 if np.dtype(dtype).kind != "u" else 0, 200, size=idx.shape)
    values = values.astype(dtype)
    found = window_offsets(idx, 2, (9, 11))
    for keep in (True, False):
        a = upsamp.max_unpool(values, idx, 2, (9, 11), keep_dtype=keep)
        b = upsamp.max_unpool(values, found, 2, (9, 11), keep_dtype=keep)
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def test_smaller_output_size_cuts_the_last_windows():
    # 3x3 windows, output 5x5: the last window row and column have two of their three lines
    values = np.array([[1.0, 2.0], [3.0, 4.0]])
    inside = np.array([[4, 4], [4, 4]], dtype=np.uint8)  # (1, 1) of each window
    y = upsamp.max_unpool(values, WindowOffsets(inside), 3, (5, 5))
    expected = np.zeros((5, 5))
    expected[1, 1], expected[1, 4], expected[4, 1], expected[4, 4] = 1, 2, 3, 4
    np.testing.assert_array_equal(y, expected)
    flat = np.array([[6, 9], [21, 24]])  # the same positions as h * 5 + w
    np.testing.assert_array_equal(y, upsamp.max_unpool(values, flat, 3, (5, 5)))
    for outside in ([[4, 5], [4, 4]], [[4, 4], [7, 4]]):  # column 5, row 5
        with pytest.raises(ParameterError, match="outside the 5×5 output"):
            upsamp.max_unpool(values, WindowOffsets(np.array(outside, np.uint8)), 3, (5, 5))


@pytest.mark.parametrize(
    ("offsets", "match"),
    [
        (np.array([[4, 0], [0, 0]], dtype=np.uint8), r"\[0, 4\)"),
        (np.array([[0, 0], [0, 0]], dtype=np.int64), "uint8"),
        (np.zeros((2, 2, 1, 1), dtype=np.uint8), "uint8"),
    ],
)
def test_bad_offsets_are_refused(offsets, match):
    with pytest.raises(ParameterError, match=match):
        check_window_offsets(offsets, (2, 2), (4, 4))


def test_offsets_shape_must_match_the_input():
    with pytest.raises(ParameterError, match="shape"):
        upsamp.max_unpool(np.ones((2, 2)), WindowOffsets(np.zeros((2, 3), np.uint8)), 2)


def test_a_band_reads_and_checks_only_its_windows():
    """A bad offset in window row 3 fails the bands that hold it, not the others."""
    offsets = np.zeros((4, 2), dtype=np.uint8)
    offsets[3, 0] = 9
    x = np.ones((4, 2))
    np.testing.assert_array_equal(
        upsamp.max_unpool(x, WindowOffsets(offsets), 2, rows=(0, 6)), np.tile([[1, 0], [0, 0]],
                                                                               (3, 2))
    )
    with pytest.raises(ParameterError, match=r"\[0, 4\)"):
        upsamp.max_unpool(x, WindowOffsets(offsets), 2, rows=(5, 7))


@pytest.mark.parametrize("s", [(2, 2), (3, 2), (2, 3)])
def test_against_torch_max_unpool(s):
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    rng = np.random.default_rng(11)
    sh, sw = s
    h, w = 4 * sh + sh - 1, 5 * sw
    x = rng.integers(0, 3, size=(h, w, 3)).astype(np.float32)  # many ties
    nchw = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1))[None])
    pooled, ti = functional.max_pool2d(nchw, s, stride=s, return_indices=True)
    values = rng.standard_normal(pooled.shape).astype(np.float32)
    ref = functional.max_unpool2d(torch.from_numpy(values), ti, s, stride=s, output_size=(h, w))
    ref = ref[0].numpy().transpose(1, 2, 0)
    found = window_offsets(ti[0].numpy().transpose(1, 2, 0), s, (h, w))
    assert found is not None
    ours = upsamp.max_unpool(values[0].transpose(1, 2, 0), found, s, (h, w))
    np.testing.assert_array_equal(ours, ref)
