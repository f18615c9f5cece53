"""Numeric tests of ``bed_of_nails``, ``max_pool`` and ``max_unpool`` (PyTorch conventions)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import upsamp
from upsamp.errors import ParameterError

FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SEED000_POOL_INPUT = np.array([[1, 2, 4, 1], [3, 4, 2, 3], [1, 4, 1, 2], [2, 3, 4, 3]])


def _loop_max_pool(x3, sh, sw):
    """Max pool by loops: scan each window row-major, keep ``v > best or isnan(v)`` (PyTorch)."""
    h, w, c = x3.shape
    ph, pw = h // sh, w // sw
    pooled = np.zeros((ph, pw, c))
    idx = np.zeros((ph, pw, c), dtype=np.int64)
    for i in range(ph):
        for j in range(pw):
            for ch in range(c):
                best, best_idx = -np.inf, (i * sh) * w + j * sw
                for a in range(sh):
                    for b in range(sw):
                        v = x3[i * sh + a, j * sw + b, ch]
                        if v > best or np.isnan(v):
                            best, best_idx = v, (i * sh + a) * w + (j * sw + b)
                pooled[i, j, ch] = best
                idx[i, j, ch] = best_idx
    return pooled, idx


# --------------------------------------------------------------------------------------------
# docs/references.md [seed-000]
# --------------------------------------------------------------------------------------------


def test_seed000_max_pool():
    pooled, idx = upsamp.max_pool(SEED000_POOL_INPUT, 2)
    np.testing.assert_array_equal(pooled, [[4, 4], [4, 4]])
    np.testing.assert_array_equal(idx, [[5, 2], [9, 14]])
    assert idx.dtype == np.int64
    assert pooled.dtype == np.float32
    # the maxima the seed marks: (1,1), (0,2), (2,1), (3,2)
    marked = np.zeros((4, 4), dtype=bool)
    marked.flat[idx.ravel()] = True
    np.testing.assert_array_equal(np.argwhere(marked), [[0, 2], [1, 1], [2, 1], [3, 2]])


def test_seed000_max_unpool():
    y = upsamp.max_unpool(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[5, 2], [9, 14]]), 2)
    np.testing.assert_array_equal(y, [[0, 0, 2, 0], [0, 1, 0, 0], [0, 3, 0, 0], [0, 0, 4, 0]])


def test_seed000_max_unpool_with_pooled_indices():
    _, idx = upsamp.max_pool(SEED000_POOL_INPUT, 2)
    y = upsamp.max_unpool(np.array([[1.0, 2.0], [3.0, 4.0]]), idx, 2)
    np.testing.assert_array_equal(y, [[0, 0, 2, 0], [0, 1, 0, 0], [0, 3, 0, 0], [0, 0, 4, 0]])


def test_seed000_bed_of_nails():
    y = upsamp.bed_of_nails(np.array([[1, 2], [3, 4]]), 2)
    np.testing.assert_array_equal(y, [[1, 0, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]])
    assert y.dtype == np.float32


@pytest.mark.parametrize("stride", [1, 3, (2, 3), (3, 1)])
def test_bed_of_nails_general(stride):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4, 2))
    y = upsamp.bed_of_nails(x, stride)
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    assert y.shape == (3 * sh, 4 * sw, 2)
    for i in range(3 * sh):
        for j in range(4 * sw):
            expected = x[i // sh, j // sw] if (i % sh == 0 and j % sw == 0) else 0.0
            np.testing.assert_array_equal(y[i, j], expected)


@pytest.mark.parametrize("stride", [0, -1, (2, 0), 1.5])
def test_bed_of_nails_bad_stride(stride):
    with pytest.raises(ParameterError):
        upsamp.bed_of_nails(np.ones((2, 2)), stride)


# --------------------------------------------------------------------------------------------
# max_pool conventions
# --------------------------------------------------------------------------------------------


def test_ties_go_to_first_in_row_major():
    x = np.array([[7.0, 7.0, 1.0, 2.0], [7.0, 7.0, 2.0, 2.0]])
    pooled, idx = upsamp.max_pool(x, 2)
    np.testing.assert_array_equal(pooled, [[7.0, 2.0]])
    np.testing.assert_array_equal(idx, [[0, 3]])  # (0,0) and (0,3): top-most, then left-most


def test_tie_top_row_beats_left_column():
    x = np.array([[0.0, 5.0], [5.0, 0.0]])
    _, idx = upsamp.max_pool(x, 2)
    assert idx[0, 0] == 1  # (0, 1) comes before (1, 0) in row-major order


def test_nan_wins_last_nan():
    x = np.array([[1.0, np.nan, 9.0], [np.nan, 3.0, 1.0], [0.0, 0.0, 0.0]])
    pooled, idx = upsamp.max_pool(x, (2, 3))
    assert np.isnan(pooled[0, 0])
    assert idx[0, 0] == 3  # the last NaN in row-major order (1, 0)
    x2 = np.array([[np.nan, 9.0], [1.0, 2.0]])
    pooled2, idx2 = upsamp.max_pool(x2, 2)
    assert np.isnan(pooled2[0, 0]) and idx2[0, 0] == 0


def test_all_minus_inf_window_takes_first():
    x = np.full((2, 2), -np.inf)
    pooled, idx = upsamp.max_pool(x, 2)
    assert pooled[0, 0] == -np.inf and idx[0, 0] == 0


def test_odd_sizes_drop_rows_and_columns():
    x = np.arange(35.0).reshape(5, 7)
    pooled, idx = upsamp.max_pool(x, 2)
    assert pooled.shape == (2, 3)
    np.testing.assert_array_equal(pooled, [[8, 10, 12], [22, 24, 26]])
    # indices use the full row width 7 of the pooled-from plane
    np.testing.assert_array_equal(idx, [[8, 10, 12], [22, 24, 26]])
    pooled3, _ = upsamp.max_pool(x, 3)
    np.testing.assert_array_equal(pooled3, [[16, 19]])


def test_channels_are_independent():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, 4, 3))
    pooled, idx = upsamp.max_pool(x, 2)
    assert pooled.shape == idx.shape == (3, 2, 3)
    for c in range(3):
        p_c, i_c = upsamp.max_pool(x[:, :, c], 2)
        np.testing.assert_array_equal(pooled[:, :, c], p_c)
        np.testing.assert_array_equal(idx[:, :, c], i_c)
        np.testing.assert_array_equal(x[:, :, c].ravel()[i_c], p_c)


@FAST
@given(
    h=st.integers(1, 9),
    w=st.integers(1, 9),
    c=st.integers(1, 3),
    sh=st.integers(1, 4),
    sw=st.integers(1, 4),
    levels=st.integers(2, 5),
    nan_fraction=st.sampled_from([0.0, 0.0, 0.2]),
    seed=st.integers(0, 2**32 - 1),
)
def test_max_pool_vs_loop(h, w, c, sh, sw, levels, nan_fraction, seed):
    """Few distinct levels make ties common; some NaNs test the NaN rule."""
    if h < sh or w < sw:
        with pytest.raises(ParameterError):
            upsamp.max_pool(np.zeros((h, w, c)), (sh, sw))
        return
    rng = np.random.default_rng(seed)
    x = rng.integers(0, levels, size=(h, w, c)).astype(np.float64)
    x[rng.random(x.shape) < nan_fraction] = np.nan
    pooled, idx = upsamp.max_pool(x, (sh, sw))
    exp_pooled, exp_idx = _loop_max_pool(x, sh, sw)
    np.testing.assert_array_equal(idx, exp_idx)
    np.testing.assert_array_equal(pooled, exp_pooled)  # NaNs compare equal here
    assert pooled.dtype == np.float64


@FAST
@given(
    h=st.integers(1, 9),
    w=st.integers(1, 9),
    c=st.sampled_from([0, 1, 3]),
    s=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_roundtrip_keeps_maxima_in_place(h, w, c, s, seed):
    if h < s or w < s:
        return
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(h, w) if c == 0 else (h, w, c))
    pooled, idx = upsamp.max_pool(x, s)
    y = upsamp.max_unpool(pooled, idx, s, output_size=x.shape[:2])
    assert y.shape == x.shape
    x3 = x if x.ndim == 3 else x[:, :, None]
    y3 = y if y.ndim == 3 else y[:, :, None]
    for ch in range(x3.shape[2]):
        keep = np.zeros(h * w, dtype=bool)
        keep[np.asarray(idx).reshape(idx.shape[0], idx.shape[1], -1)[:, :, ch].ravel()] = True
        keep = keep.reshape(h, w)
        np.testing.assert_array_equal(y3[:, :, ch][keep], x3[:, :, ch][keep])
        assert np.all(y3[:, :, ch][~keep] == 0)
        # every kept value is the maximum of its window
        for i in range(h // s):
            for j in range(w // s):
                win = x3[i * s : (i + 1) * s, j * s : (j + 1) * s, ch]
                assert y3[i * s : (i + 1) * s, j * s : (j + 1) * s, ch].max() == win.max() or (
                    win.max() <= 0
                )
    # default output size (no output_size) when the shape is a multiple of s
    if h % s == 0 and w % s == 0:
        np.testing.assert_array_equal(upsamp.max_unpool(pooled, idx, s), y)


def test_unpool_output_size_for_odd_input():
    x = np.arange(35.0).reshape(5, 7)
    pooled, idx = upsamp.max_pool(x, 2)
    y = upsamp.max_unpool(pooled, idx, 2, output_size=(5, 7))
    expected = np.zeros((5, 7))
    for v in [8, 10, 12, 22, 24, 26]:
        expected.flat[v] = v
    np.testing.assert_array_equal(y, expected)


def test_unpool_channels_use_their_own_indices():
    x = np.array([[[1.0, 10.0]]])  # 1x1x2
    idx = np.array([[[3, 0]]])
    y = upsamp.max_unpool(x, idx, 2)
    np.testing.assert_array_equal(y[:, :, 0], [[0, 0], [0, 1]])
    np.testing.assert_array_equal(y[:, :, 1], [[10, 0], [0, 0]])


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [(np.float64, np.float64), (np.float32, np.float32), (np.uint8, np.float32)],
)
def test_pooling_dtype_rule(dtype, expected):
    x = SEED000_POOL_INPUT.astype(dtype)
    pooled, idx = upsamp.max_pool(x, 2)
    assert pooled.dtype == expected and idx.dtype == np.int64
    assert upsamp.max_unpool(pooled, idx, 2).dtype == expected
    assert upsamp.bed_of_nails(x, 2).dtype == expected


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


def test_unpool_indices_shape_mismatch():
    with pytest.raises(ParameterError):
        upsamp.max_unpool(np.ones((2, 2)), np.zeros((2, 3), dtype=np.int64), 2)
    with pytest.raises(ParameterError):
        upsamp.max_unpool(np.ones((2, 2, 3)), np.zeros((2, 2), dtype=np.int64), 2)


def test_unpool_indices_must_be_integers():
    with pytest.raises(ParameterError):
        upsamp.max_unpool(np.ones((2, 2)), np.zeros((2, 2)), 2)


@pytest.mark.parametrize("bad", [16, 100, -1])
def test_unpool_out_of_range_index(bad):
    idx = np.array([[0, 1], [2, bad]])
    with pytest.raises(ParameterError):
        upsamp.max_unpool(np.ones((2, 2)), idx, 2)


def test_unpool_index_range_follows_output_size():
    idx = np.array([[0, 1], [2, 15]])
    with pytest.raises(ParameterError):  # 3x5 = 15 positions: 15 is outside
        upsamp.max_unpool(np.ones((2, 2)), idx, 2, output_size=(3, 5))
    assert upsamp.max_unpool(np.ones((2, 2)), idx, 2, output_size=(4, 5)).shape == (4, 5)


@pytest.mark.parametrize(
    ("output_size", "ok"),
    [
        ((4, 4), True),
        ((5, 5), True),
        ((3, 3), True),
        ((2, 4), False),  # default - s
        ((6, 4), False),  # default + s
        ((4, 6), False),
        ((4, 2), False),
    ],
)
def test_unpool_output_size_strictly_inside(output_size, ok):
    x = np.ones((2, 2))
    idx = np.array([[0, 1], [2, 3]])
    if ok:
        assert upsamp.max_unpool(x, idx, 2, output_size=output_size).shape == output_size
    else:
        with pytest.raises(ParameterError):
            upsamp.max_unpool(x, idx, 2, output_size=output_size)


def test_pool_window_larger_than_image():
    with pytest.raises(ParameterError):
        upsamp.max_pool(np.ones((2, 5)), 3)


@pytest.mark.parametrize("size", [0, -2, (1, 0)])
def test_pool_bad_size(size):
    with pytest.raises(ParameterError):
        upsamp.max_pool(np.ones((4, 4)), size)


# --------------------------------------------------------------------------------------------
# PyTorch
# --------------------------------------------------------------------------------------------


def _nchw(torch, x3):
    return torch.from_numpy(np.ascontiguousarray(x3.transpose(2, 0, 1))[None])


@pytest.mark.parametrize("s", [1, 2, 3, (2, 3)])
@pytest.mark.parametrize("shape", [(4, 4, 1), (6, 9, 2), (7, 5, 3)])
def test_against_torch_pool_and_unpool(s, shape):
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    rng = np.random.default_rng(sum(shape))
    x = rng.integers(0, 3, size=shape).astype(np.float64)  # many ties
    x[rng.random(shape) < 0.05] = np.nan
    sh, sw = (s, s) if isinstance(s, int) else s
    tp, ti = functional.max_pool2d(_nchw(torch, x), (sh, sw), stride=(sh, sw), return_indices=True)
    pooled, idx = upsamp.max_pool(x, s)
    np.testing.assert_array_equal(idx, ti[0].numpy().transpose(1, 2, 0))
    np.testing.assert_array_equal(pooled, tp[0].numpy().transpose(1, 2, 0))
    values = rng.normal(size=pooled.shape)
    tu = (
        functional.max_unpool2d(
            _nchw(torch, values), ti, (sh, sw), stride=(sh, sw), output_size=shape[:2]
        )[0]
        .numpy()
        .transpose(1, 2, 0)
    )
    np.testing.assert_array_equal(upsamp.max_unpool(values, idx, s, output_size=shape[:2]), tu)
