"""Numeric tests of ``upsamp.transconv`` (PyTorch ``conv_transpose2d`` semantics).

Worked examples come from the seed documents (docs/references.md [seed-000], [seed-002],
[seed-003]) and the test vectors of [d2l-transconv]; the numbers are written out here. General
behaviour is checked against the scatter reference in ``tests/reference_impl.py``, against the
adjoint (forward convolution), and against PyTorch when it is installed.
"""

from __future__ import annotations

import numpy as np
import pytest
import reference_impl as ref
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.signal import correlate2d

import upsamp
from upsamp.errors import KernelError, ParameterError, UpsampError

# --------------------------------------------------------------------------------------------
# Worked examples
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, np.uint8])
def test_seed000_fives(dtype):
    """docs/references.md [seed-000]: [[1,2],[3,4]] scattered with a 2x2 kernel of fives, stride 1,
    no padding."""
    x = np.array([[1, 2], [3, 4]], dtype=dtype)
    y = upsamp.transconv(x, np.full((2, 2), 5.0))
    np.testing.assert_array_equal(y, [[5, 15, 10], [20, 50, 30], [15, 35, 20]])
    assert y.dtype == (np.float64 if dtype == np.float64 else np.float32)
    assert y.shape == (3, 3)


def test_seed000_fives_step_by_step():
    """docs/references.md [seed-000]: its four partial outputs (one per input pixel) add up to the
    result."""
    k = np.full((2, 2), 5.0)
    partial = []
    for i, j, v in [(0, 0, 1), (0, 1, 2), (1, 0, 3), (1, 1, 4)]:
        x = np.zeros((2, 2))
        x[i, j] = v
        partial.append(upsamp.transconv(x, k))
    np.testing.assert_array_equal(partial[0], [[5, 5, 0], [5, 5, 0], [0, 0, 0]])
    np.testing.assert_array_equal(partial[1], [[0, 10, 10], [0, 10, 10], [0, 0, 0]])
    np.testing.assert_array_equal(partial[2], [[0, 0, 0], [15, 15, 0], [15, 15, 0]])
    np.testing.assert_array_equal(partial[3], [[0, 0, 0], [0, 20, 20], [0, 20, 20]])
    np.testing.assert_array_equal(sum(partial), upsamp.transconv([[1.0, 2.0], [3.0, 4.0]], k))


D2L_X = np.array([[0.0, 1.0], [2.0, 3.0]])
D2L_K = np.array([[0.0, 1.0], [2.0, 3.0]])


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, [[0, 0, 1], [0, 4, 6], [4, 12, 9]]),
        ({"stride": 2}, [[0, 0, 0, 1], [0, 0, 2, 3], [0, 2, 0, 3], [4, 6, 6, 9]]),
        ({"padding": 1}, [[4]]),
    ],
    ids=["s1", "s2", "s1p1"],
)
def test_d2l_vectors(kwargs, expected):
    """docs/references.md [d2l-transconv]: its test vectors (no kernel flip)."""
    y = upsamp.transconv(D2L_X, D2L_K, **kwargs)
    np.testing.assert_array_equal(y, np.array(expected, dtype=np.float64))


def test_d2l_vectors_4d_weight_nchw_layout():
    """The same vectors through a (1, 1, 2, 2) weight and a (H, W, 1) input."""
    y = upsamp.transconv(D2L_X[:, :, None], D2L_K[None, None], stride=2)
    assert y.shape == (4, 4, 1)
    np.testing.assert_array_equal(
        y[:, :, 0], [[0, 0, 0, 1], [0, 0, 2, 3], [0, 2, 0, 3], [4, 6, 6, 9]]
    )


# docs/references.md [seed-003]. The seed prints the MXNet outputs; the inputs are only shown in
# spreadsheet figures.
# They are recovered here from the printed outputs (the system is overdetermined and its
# integer solution is unique; the stride example determines the kernel by hand):
#   stride example: input [[3, 3], [1, 1]], kernel [[1, 2, 3], [0, 1, 0], [2, 1, 2]]
#   collecting example: the 4x4 input below with the same kernel.
SEED003_K = np.array([[1.0, 2.0, 3.0], [0.0, 1.0, 0.0], [2.0, 1.0, 2.0]])
SEED003_X4 = np.array([[1, 3, 2, 1], [1, 3, 3, 1], [2, 1, 1, 3], [3, 2, 3, 3]], dtype=np.float64)
SEED003_COLLECT = [
    [1, 5, 11, 14, 8, 3],
    [1, 6, 15, 18, 12, 3],
    [4, 13, 21, 21, 15, 11],
    [5, 17, 28, 27, 25, 11],
    [4, 7, 9, 12, 8, 6],
    [6, 7, 14, 13, 9, 6],
]


def test_seed003_unit_kernel_distribution():
    """docs/references.md [seed-003], mental model 1: 4x4 ones with a 3x3 ones kernel (MXNet
    output)."""
    y = upsamp.transconv(np.ones((4, 4)), np.ones((3, 3)))
    expected = [
        [1, 2, 3, 3, 2, 1],
        [2, 4, 6, 6, 4, 2],
        [3, 6, 9, 9, 6, 3],
        [3, 6, 9, 9, 6, 3],
        [2, 4, 6, 6, 4, 2],
        [1, 2, 3, 3, 2, 1],
    ]
    np.testing.assert_array_equal(y, expected)


@pytest.mark.parametrize(("pad", "shape"), [(0, (6, 6)), (1, (4, 4)), (2, (2, 2))])
def test_seed003_gniddap_shapes(pad, shape):
    """docs/references.md [seed-003], 'GNIDDAP': padding shrinks the output 6x6 -> 4x4 -> 2x2,
    keeping the centre."""
    full = upsamp.transconv(np.ones((4, 4)), np.ones((3, 3)))
    y = upsamp.transconv(np.ones((4, 4)), np.ones((3, 3)), padding=pad)
    assert y.shape == shape
    np.testing.assert_array_equal(y, full[pad : 6 - pad, pad : 6 - pad])


def test_seed003_collecting_example():
    """docs/references.md [seed-003], mental model 2 (MXNet output printed in the seed)."""
    y = upsamp.transconv(SEED003_X4, SEED003_K)
    np.testing.assert_array_equal(y, SEED003_COLLECT)


def test_seed003_collecting_equals_flipped_full_correlation():
    """Collecting values: the output is a correlation of the zero-padded input with the
    *flipped* kernel (padding k-1 = 2 on every side)."""
    padded = np.pad(SEED003_X4, 2)
    collected = correlate2d(padded, SEED003_K[::-1, ::-1], mode="valid")
    np.testing.assert_array_equal(upsamp.transconv(SEED003_X4, SEED003_K), collected)


def test_seed003_padding_2_output():
    """docs/references.md [seed-003]: padding=(2, 2) gives the MXNet output [[21, 21], [28, 27]]."""
    y = upsamp.transconv(SEED003_X4, SEED003_K, padding=(2, 2))
    np.testing.assert_array_equal(y, [[21, 21], [28, 27]])


def test_seed003_stride_example():
    """docs/references.md [seed-003], 'SEDIRTS': 2x2 input, 3x3 kernel, strides=(2, 2) gives the
    MXNet 5x5 output."""
    y = upsamp.transconv(np.array([[3.0, 3.0], [1.0, 1.0]]), SEED003_K, stride=(2, 2))
    expected = [
        [3, 6, 12, 6, 9],
        [0, 3, 0, 3, 0],
        [7, 5, 16, 5, 9],
        [0, 1, 0, 1, 0],
        [2, 1, 4, 1, 2],
    ]
    np.testing.assert_array_equal(y, expected)


def test_seed003_multichannel_input_sums_channels():
    """docs/references.md [seed-003], multi-channel: a (3, 5, 5) input (channel-last here) and a
    (3, 1, 3, 3) kernel (C_in, C_out, kH, kW) give one 7x7 output channel, the sum of the
    per-channel results.

    The seed's printed 7x7 values cannot be used: its input and kernel only appear in figures.
    """
    rng = np.random.default_rng(3)
    x = rng.integers(0, 4, size=(5, 5, 3)).astype(np.float64)
    w = rng.integers(0, 4, size=(3, 1, 3, 3)).astype(np.float64)
    y = upsamp.transconv(x, w)
    assert y.shape == (7, 7, 1)
    expected = sum(upsamp.transconv(x[:, :, c], w[c, 0]) for c in range(3))
    np.testing.assert_array_equal(y[:, :, 0], expected)


def test_seed003_multichannel_layout_in_out():
    """Layout (C_in, C_out, kH, kW): output channel co is sum_ci x[ci] scattered by w[ci, co]."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(4, 3, 2))
    w = rng.normal(size=(2, 3, 2, 3))
    y = upsamp.transconv(x, w, stride=2)
    assert y.shape == ((4 - 1) * 2 + 2, (3 - 1) * 2 + 3, 3)
    for co in range(3):
        expected = sum(upsamp.transconv(x[:, :, ci], w[ci, co], stride=2) for ci in range(2))
        np.testing.assert_allclose(y[:, :, co], expected, rtol=1e-12, atol=1e-12)


def test_seed003_mxnet_nchw_transpose():
    """An MXNet/PyTorch NCHW tensor maps to channel-last by transpose(1, 2, 0)."""
    rng = np.random.default_rng(5)
    x_nchw = rng.normal(size=(1, 2, 3, 4))
    w = rng.normal(size=(2, 1, 2, 2))
    y_hwc = upsamp.transconv(x_nchw[0].transpose(1, 2, 0), w)
    y_ref = ref.scatter_transconv(x_nchw[0].transpose(1, 2, 0), w)
    np.testing.assert_allclose(y_hwc, y_ref, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------------------------
# docs/references.md [seed-002]: the matrix view
# --------------------------------------------------------------------------------------------

SEED002_K = np.arange(1.0, 10.0).reshape(3, 3)
SEED002_C = np.array(
    [
        [1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 0, 0, 0, 0],
        [0, 1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 0, 0, 0],
        [0, 0, 0, 0, 1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0],
        [0, 0, 0, 0, 0, 1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9],
    ],
    dtype=np.float64,
)
SEED002_CT = np.array(
    [
        [1, 0, 0, 0],
        [2, 1, 0, 0],
        [3, 2, 0, 0],
        [0, 3, 0, 0],
        [4, 0, 1, 0],
        [5, 4, 2, 1],
        [6, 5, 3, 2],
        [0, 6, 0, 3],
        [7, 0, 4, 0],
        [8, 7, 5, 4],
        [9, 8, 6, 5],
        [0, 9, 0, 6],
        [0, 0, 7, 0],
        [0, 0, 8, 7],
        [0, 0, 9, 8],
        [0, 0, 0, 9],
    ],
    dtype=np.float64,
)
SEED002_AB = np.array(
    [[285, 186, 154, 94], [186, 285, 106, 154], [154, 106, 285, 186], [94, 154, 186, 285]],
    dtype=np.float64,
)
SEED002_BA_FIRST = np.array(
    [
        [1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 0, 0, 0, 0],
        [2, 5, 8, 3, 8, 14, 17, 6, 14, 23, 26, 9, 0, 0, 0, 0],
        [3, 8, 13, 6, 12, 23, 28, 12, 21, 38, 43, 18, 0, 0, 0, 0],
    ],
    dtype=np.float64,
)
SEED002_BA_LAST = np.array(
    [
        [0, 0, 0, 0, 8, 23, 38, 21, 32, 68, 83, 42, 56, 113, 128, 63],
        [0, 0, 0, 0, 9, 26, 43, 24, 36, 77, 94, 48, 63, 128, 145, 72],
        [0, 0, 0, 0, 0, 9, 18, 27, 0, 36, 45, 54, 0, 63, 72, 81],
    ],
    dtype=np.float64,
)


def _transconv_matrix(kernel, in_shape, **kwargs):
    """Matrix of upsamp.transconv, column j = response to the j-th unit input (row-major)."""
    n = in_shape[0] * in_shape[1]
    cols = []
    for j in range(n):
        e = np.zeros(n)
        e[j] = 1.0
        cols.append(upsamp.transconv(e.reshape(in_shape), kernel, **kwargs).ravel())
    return np.stack(cols, axis=1)


def test_seed002_reference_conv_matrix():
    """The reference builder reproduces the seed's 4x16 convolution matrix."""
    np.testing.assert_array_equal(ref.conv_matrix(SEED002_K, (4, 4)), SEED002_C)


def test_seed002_transconv_is_transposed_matrix():
    """docs/references.md [seed-002]: the transposed convolution of a 2x2 image is the seed's 16x4
    matrix C^T."""
    b = _transconv_matrix(SEED002_K, (2, 2))
    np.testing.assert_array_equal(b, SEED002_CT)
    np.testing.assert_array_equal(b, SEED002_C.T)


def test_seed002_products_not_identity():
    """docs/references.md [seed-002]: AB and BA (with B built from upsamp.transconv) are the
    printed matrices."""
    b = _transconv_matrix(SEED002_K, (2, 2))
    a = b.T
    np.testing.assert_array_equal(a @ b, SEED002_AB)
    ba = b @ a
    np.testing.assert_array_equal(ba[:3], SEED002_BA_FIRST)
    np.testing.assert_array_equal(ba[-3:], SEED002_BA_LAST)


def test_seed002_random_y_matches_ct_y():
    rng = np.random.default_rng(2)
    c = ref.conv_matrix(SEED002_K, (4, 4))
    for _ in range(10):
        y = rng.normal(size=4)
        np.testing.assert_allclose(
            upsamp.transconv(y.reshape(2, 2), SEED002_K),
            (c.T @ y).reshape(4, 4),
            rtol=1e-12,
            atol=1e-12,
        )


@pytest.mark.parametrize(("stride", "in_shape"), [(2, (5, 5)), (2, (7, 5)), (3, (6, 9))])
def test_strided_matrix_view(stride, in_shape):
    """Strided variant: transconv(y, K, stride=s) == C_s^T y for the stride-s valid conv C_s."""
    rng = np.random.default_rng(stride)
    k = rng.normal(size=(3, 3))
    c = ref.conv_matrix(k, in_shape, stride=stride)
    out_h = (in_shape[0] - 3) // stride + 1
    out_w = (in_shape[1] - 3) // stride + 1
    y = rng.normal(size=out_h * out_w)
    got = upsamp.transconv(y.reshape(out_h, out_w), k, stride=stride)
    # transconv's output is (out-1)*s + 3, which may be shorter than in_shape (conv drops rows)
    full = (c.T @ y).reshape(in_shape)
    assert got.shape == ((out_h - 1) * stride + 3, (out_w - 1) * stride + 3)
    np.testing.assert_allclose(got, full[: got.shape[0], : got.shape[1]], atol=1e-12)
    assert np.all(full[got.shape[0] :] == 0) and np.all(full[:, got.shape[1] :] == 0)


def _forward_conv(x3, w4, groups, stride, padding, dilation, out_hw):
    """Forward Conv2d (the adjoint of conv_transpose2d), via scipy.signal.correlate2d.

    x3: (H_big, W_big, C_out); returns (h, w, C_in)."""
    sh, sw = ref.as_pair(stride)
    ph, pw = ref.as_pair(padding)
    dh, dw = ref.as_pair(dilation)
    c_in, c_out_g, kh, kw = w4.shape
    c_in_g = c_in // groups
    h, w = out_hw
    z = np.zeros((h, w, c_in))
    for ci in range(c_in):
        g = ci // c_in_g
        for col in range(c_out_g):
            co = g * c_out_g + col
            kd = np.zeros((dh * (kh - 1) + 1, dw * (kw - 1) + 1))
            kd[::dh, ::dw] = w4[ci, col]
            xp = np.pad(x3[:, :, co], ((ph, ph + sh * h), (pw, pw + sw * w)))
            full = correlate2d(xp, kd, mode="valid")[::sh, ::sw]
            z[:, :, ci] += full[:h, :w]
    return z


def test_forward_conv_helper_matches_loop():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(7, 8))
    k = rng.normal(size=(3, 2))
    z = _forward_conv(x[:, :, None], k[None, None], 1, (2, 3), (1, 0), (2, 1), (3, 3))
    np.testing.assert_allclose(
        z[:, :, 0], ref.strided_correlate(x, k, (2, 3), (1, 0), (2, 1))[:3, :3], atol=1e-12
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_adjoint_of_forward_conv(data):
    """<conv(x), y> == <x, transconv(y)> for every geometry (transconv is conv's adjoint)."""
    draw = data.draw
    groups = draw(st.integers(1, 2))
    c_in = groups * draw(st.integers(1, 2))
    c_out_g = draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    op = tuple(draw(st.integers(0, max(s[a], d[a]) - 1)) for a in range(2))
    h, w = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    p = tuple(draw(st.integers(0, 2)) for _ in range(2))
    out = [
        (n - 1) * s[a] - 2 * p[a] + d[a] * (k - 1) + op[a] + 1
        for a, (n, k) in enumerate([(h, kh), (w, kw)])
    ]
    if min(out) < 1:
        p = (0, 0)
        out = [
            (n - 1) * s[a] + d[a] * (k - 1) + op[a] + 1
            for a, (n, k) in enumerate([(h, kh), (w, kw)])
        ]
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    wt = rng.normal(size=(c_in, c_out_g, kh, kw))
    y = rng.normal(size=(h, w, c_in))
    x = rng.normal(size=(out[0], out[1], c_out_g * groups))
    ty = upsamp.transconv(y, wt, stride=s, padding=p, output_padding=op, dilation=d, groups=groups)
    assert ty.shape == x.shape
    cx = _forward_conv(x, wt, groups, s, p, d, (h, w))
    assert np.vdot(cx, y) == pytest.approx(np.vdot(x, ty), rel=1e-9, abs=1e-9)


# --------------------------------------------------------------------------------------------
# Property test against the loop reference
# --------------------------------------------------------------------------------------------


@st.composite
def transconv_cases(draw, edge_modes=("zero",)):
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    two_d_weight = draw(st.booleans())
    channels = draw(st.integers(1, 4))
    two_d_input = channels == 1 and draw(st.booleans())
    h, w = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    if two_d_weight:
        groups = None
        c_out = channels
        wshape = (kh, kw)
    else:
        groups = draw(st.sampled_from([g for g in range(1, channels + 1) if channels % g == 0]))
        c_out_g = draw(st.integers(1, 3))
        c_out = c_out_g * groups
        wshape = (channels, c_out_g, kh, kw)
    scalar_stride = draw(st.booleans())
    if scalar_stride:
        s0 = draw(st.integers(1, 3))
        d0 = draw(st.integers(1, 2))
        s, d = (s0, s0), (d0, d0)
    else:
        s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
        d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    op = tuple(draw(st.integers(0, max(s[a], d[a]) - 1)) for a in range(2))
    full = [
        (n - 1) * s[a] + d[a] * (k - 1) + op[a] + 1 for a, (n, k) in enumerate([(h, kh), (w, kw)])
    ]
    p = tuple(draw(st.integers(0, (full[a] - 1) // 2)) for a in range(2))
    bias_kind = draw(st.sampled_from(["none", "scalar", "vector"]))
    seed = draw(st.integers(0, 2**32 - 1))
    edge = draw(st.sampled_from(list(edge_modes)))
    # separable (outer-product) kernels and kernels with zero taps take other engine paths
    weight_kind = draw(st.sampled_from(["dense", "dense", "outer", "sparse"]))
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(h, w) if two_d_input else (h, w, channels)).astype(dtype)
    if weight_kind == "outer":
        weight = np.outer(rng.normal(size=kh), rng.normal(size=kw))
        if len(wshape) == 4:
            weight = rng.normal(size=wshape[:2] + (1, 1)) * weight
    else:
        weight = rng.normal(size=wshape)
        if weight_kind == "sparse":
            weight[rng.random(wshape) < 0.5] = 0.0
    bias = {"none": None, "scalar": float(rng.normal()), "vector": rng.normal(size=c_out)}[
        bias_kind
    ]
    kwargs = dict(
        stride=s if not scalar_stride else s[0],
        padding=p,
        output_padding=op,
        dilation=d if not scalar_stride else d[0],
        groups=groups,
        bias=bias,
        edge=edge,
    )
    return x, weight, kwargs


def _reference(x, weight, kwargs):
    """The scatter reference for any edge mode, with the output size it promises."""
    x3 = np.asarray(x, dtype=np.float64)
    if x3.ndim == 2:
        x3 = x3[:, :, None]
    channels = x3.shape[2]
    w = np.asarray(weight, dtype=np.float64)
    if w.ndim == 2:
        w4 = np.broadcast_to(w, (channels, 1) + w.shape).copy()
        groups = channels
    else:
        w4 = w
        groups = kwargs["groups"] or 1
    s = ref.as_pair(kwargs["stride"])
    p = ref.as_pair(kwargs["padding"])
    op = ref.as_pair(kwargs["output_padding"])
    d = ref.as_pair(kwargs["dilation"])
    k = w4.shape[2:]
    out = [(x3.shape[a] - 1) * s[a] - 2 * p[a] + d[a] * (k[a] - 1) + op[a] + 1 for a in range(2)]
    y = ref.scatter_transconv(x3, w4, s, p, op, d, groups, kwargs["bias"], edge=kwargs["edge"])
    return y, out


def _check_against_reference(x, weight, kwargs):
    y = upsamp.transconv(x, weight, **kwargs)
    expected, out = _reference(x, weight, kwargs)
    assert expected.shape[:2] == tuple(out)
    assert y.dtype == (np.float64 if x.dtype == np.float64 else np.float32)
    c_out = expected.shape[2]
    if x.ndim == 2 and c_out == 1:
        assert y.shape == tuple(out)
        y = y[:, :, None]
    else:
        assert y.shape == (out[0], out[1], c_out)
    tol = 1e-10 if x.dtype == np.float64 else 2e-5
    scale = 1.0 + np.abs(expected).max()
    np.testing.assert_allclose(y, expected, rtol=tol, atol=tol * scale)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=transconv_cases())
def test_matches_loop_reference(case):
    _check_against_reference(*case)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=transconv_cases(edge_modes=("replicate", "reflect")))
def test_edge_modes_match_extended_input_reference(case):
    _check_against_reference(*case)


@pytest.mark.parametrize("edge", ["replicate", "reflect"])
def test_edge_modes_explicit(edge):
    """A fixed case: the edge modes equal the zero mode on a hand-extended input, cropped."""
    x = np.array([[1.0, 2.0, 4.0], [3.0, 5.0, 7.0]])
    k = np.array([[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]])
    y = upsamp.transconv(x, k, stride=2, padding=1, output_padding=1, edge=edge)
    if edge == "replicate":
        xe = np.pad(x, 2, mode="edge")
    else:
        xe = np.pad(x, 2, mode="reflect")
    full = upsamp.transconv(xe, k, stride=2)
    assert y.shape == (4, 6)
    np.testing.assert_allclose(y, full[5:9, 5:11], atol=1e-12)


def test_edge_replicate_keeps_flat_image_flat():
    """With a kernel whose every phase sums to 1, replicate keeps a flat image flat up to the
    border, while zero edges darken it."""
    k = np.outer([0.25, 0.75, 0.75, 0.25], [0.25, 0.75, 0.75, 0.25])  # bilinear, s=2
    x = np.full((3, 4), 7.0)
    y = upsamp.transconv(x, k, stride=2, padding=1, edge="replicate")
    np.testing.assert_allclose(y, 7.0, atol=1e-12)
    yz = upsamp.transconv(x, k, stride=2, padding=1)
    assert yz[0, 0] == pytest.approx(7.0 * 0.75 * 0.75)


def test_output_padding_rows_hold_real_contributions():
    """output_padding extends with real scatter values (and the bias), not zeros (#8816)."""
    x = np.ones((2, 2))
    k = np.ones((3, 3))
    y = upsamp.transconv(x, k, stride=2, padding=1, output_padding=1, bias=0.5)
    assert y.shape == (4, 4)
    full = upsamp.transconv(x, k, stride=2)  # 5x5
    np.testing.assert_array_equal(y, full[1:5, 1:5] + 0.5)
    y2 = upsamp.transconv(x, k, stride=3, padding=0, output_padding=2, bias=0.5)
    assert y2.shape == (3 + 3 + 2, 3 + 3 + 2)
    np.testing.assert_array_equal(y2[-2:], 0.5)  # beyond the scatter: only the bias


def test_bias_vector_per_channel():
    x = np.zeros((2, 3, 2))
    w = np.zeros((2, 3, 1, 1))
    y = upsamp.transconv(x, w, bias=np.array([1.0, -2.0, 3.5]))
    assert y.shape == (2, 3, 3)
    np.testing.assert_array_equal(y[0, 0], [1.0, -2.0, 3.5])
    np.testing.assert_array_equal(y[..., 1], -2.0)


def test_2d_weight_is_depthwise_and_keeps_rank():
    rng = np.random.default_rng(11)
    x = rng.normal(size=(3, 4, 3))
    k = rng.normal(size=(2, 3))
    y = upsamp.transconv(x, k, stride=2)
    for c in range(3):
        np.testing.assert_allclose(
            y[:, :, c], upsamp.transconv(x[:, :, c], k, stride=2), atol=1e-12
        )
    assert upsamp.transconv(x[:, :, 0], k).ndim == 2
    # an explicit groups equal to the channel count is accepted for a 2-D kernel
    np.testing.assert_array_equal(upsamp.transconv(x, k, groups=3), upsamp.transconv(x, k))


def test_2d_input_4d_weight_with_several_outputs_is_3d():
    y = upsamp.transconv(np.ones((2, 2)), np.ones((1, 3, 2, 2)))
    assert y.shape == (3, 3, 3)


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stride", "dilation", "op"),
    [(1, 1, 1), (2, 1, 2), (2, 2, 2), ((2, 3), 1, (0, 3)), (1, 2, 2)],
)
def test_output_padding_too_large(stride, dilation, op):
    with pytest.raises(ParameterError, match="output_padding"):
        upsamp.transconv(
            np.ones((3, 3)), np.ones((3, 3)), stride=stride, dilation=dilation, output_padding=op
        )


def test_output_padding_allowed_below_dilation():
    """PyTorch accepts op >= stride when op < dilation."""
    y = upsamp.transconv(np.ones((2, 2)), np.ones((2, 2)), stride=1, dilation=3, output_padding=2)
    assert y.shape == (1 + 3 + 2 + 1,) * 2


@pytest.mark.parametrize(
    "kwargs",
    [
        {"stride": 0},
        {"stride": (1, 0)},
        {"stride": -1},
        {"dilation": 0},
        {"padding": -1},
        {"padding": (0, -2)},
        {"output_padding": -1},
        {"stride": 1.5},
        {"stride": (1, 2, 3)},
    ],
)
def test_bad_geometry(kwargs):
    with pytest.raises(ParameterError):
        upsamp.transconv(np.ones((3, 3)), np.ones((2, 2)), **kwargs)


def test_padding_too_large():
    # out = (3-1)*1 - 2*2 + 2 + 1 = 1 is fine, padding 3 gives -1
    assert upsamp.transconv(np.ones((3, 3)), np.ones((3, 3)), padding=2).shape == (1, 1)
    with pytest.raises(ParameterError):
        upsamp.transconv(np.ones((3, 3)), np.ones((3, 3)), padding=3)
    with pytest.raises(ParameterError):
        upsamp.transconv(np.ones((3, 3)), np.ones((3, 3)), padding=(0, 3))


def test_wrong_channel_count():
    with pytest.raises(KernelError):
        upsamp.transconv(np.ones((3, 3, 3)), np.ones((2, 1, 2, 2)))
    with pytest.raises(KernelError):
        upsamp.transconv(np.ones((3, 3)), np.ones((2, 1, 2, 2)))


def test_groups_must_divide_channels():
    with pytest.raises(KernelError):
        upsamp.transconv(np.ones((3, 3, 3)), np.ones((3, 1, 2, 2)), groups=2)
    with pytest.raises(KernelError):
        upsamp.transconv(np.ones((3, 3, 3)), np.ones((2, 2)), groups=1)


@pytest.mark.parametrize(
    "weight",
    [
        np.ones((3, 3, 3)),
        np.ones(3),
        np.ones((1, 1, 1, 2, 2)),
        np.array([[1.0, np.nan], [1.0, 1.0]]),
        np.array([[1.0, np.inf], [1.0, 1.0]]),
        np.ones((0, 2)),
        np.array([["a", "b"], ["c", "d"]]),
    ],
    ids=["3d", "1d", "5d", "nan", "inf", "empty", "strings"],
)
def test_bad_weight(weight):
    with pytest.raises(KernelError):
        upsamp.transconv(np.ones((3, 3)), weight)


def test_bad_bias():
    with pytest.raises(KernelError):
        upsamp.transconv(np.ones((3, 3, 2)), np.ones((2, 2)), bias=[1.0, 2.0, 3.0])
    with pytest.raises(KernelError):
        upsamp.transconv(np.ones((3, 3)), np.ones((2, 2)), bias=np.nan)


def test_bad_edge_name_lists_allowed():
    with pytest.raises(ParameterError) as info:
        upsamp.transconv(np.ones((3, 3)), np.ones((2, 2)), edge="wrap")
    msg = str(info.value)
    for allowed in ("zero", "replicate", "reflect"):
        assert allowed in msg


@pytest.mark.parametrize(
    "x", [np.ones(4), np.ones((2, 2, 2, 2)), np.ones((0, 3)), np.array([["a"]])]
)
def test_bad_input(x):
    with pytest.raises(UpsampError):
        upsamp.transconv(x, np.ones((2, 2)))


# --------------------------------------------------------------------------------------------
# PyTorch
# --------------------------------------------------------------------------------------------


def test_against_torch_conv_transpose2d():
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    rng = np.random.default_rng(12345)
    for case in range(80):
        dtype = np.float64 if case % 2 else np.float32
        groups = int(rng.integers(1, 4))
        c_in = groups * int(rng.integers(1, 3))
        c_out_g = int(rng.integers(1, 3))
        kh, kw = (int(v) for v in rng.integers(1, 5, size=2))
        s = tuple(int(v) for v in rng.integers(1, 4, size=2))
        d = tuple(int(v) for v in rng.integers(1, 3, size=2))
        op = tuple(int(rng.integers(0, max(s[a], d[a]))) for a in range(2))
        h, w = (int(v) for v in rng.integers(1, 8, size=2))
        full = [
            (h - 1) * s[0] + d[0] * (kh - 1) + op[0] + 1,
            (w - 1) * s[1] + d[1] * (kw - 1) + op[1] + 1,
        ]
        p = tuple(int(rng.integers(0, (full[a] - 1) // 2 + 1)) for a in range(2))
        x = rng.normal(size=(h, w, c_in)).astype(dtype)
        wt = rng.normal(size=(c_in, c_out_g, kh, kw)).astype(dtype)
        b = rng.normal(size=c_out_g * groups).astype(dtype) if case % 3 else None
        expected = (
            functional.conv_transpose2d(
                torch.from_numpy(x.transpose(2, 0, 1)[None].copy()),
                torch.from_numpy(wt),
                None if b is None else torch.from_numpy(b),
                stride=s,
                padding=p,
                output_padding=op,
                groups=groups,
                dilation=d,
            )[0]
            .numpy()
            .transpose(1, 2, 0)
        )
        got = upsamp.transconv(
            x, wt, stride=s, padding=p, output_padding=op, dilation=d, groups=groups, bias=b
        )
        assert got.dtype == dtype
        assert got.shape == expected.shape, (case, s, p, op, d)
        tol = 1e-10 if dtype == np.float64 else 1e-5
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * (1 + np.abs(expected).max()))


def test_torch_rejects_what_we_reject():
    """PyTorch's output_padding rule is the same as ours."""
    torch = pytest.importorskip("torch")
    x = torch.ones(1, 1, 3, 3)
    w = torch.ones(1, 1, 3, 3)
    with pytest.raises(RuntimeError):
        torch.nn.functional.conv_transpose2d(x, w, stride=2, output_padding=2)
    with pytest.raises(ParameterError):
        upsamp.transconv(np.ones((3, 3)), np.ones((3, 3)), stride=2, output_padding=2)
    y = torch.nn.functional.conv_transpose2d(x, w, stride=1, dilation=3, output_padding=2)
    assert upsamp.transconv(
        np.ones((3, 3)), np.ones((3, 3)), dilation=3, output_padding=2
    ).shape == tuple(y.shape[2:])


# --------------------------------------------------------------------------------------------
# Banded / threaded evaluation: any band of rows equals the same rows of the whole output
# --------------------------------------------------------------------------------------------


def _accepts(func, name):
    import inspect

    return name in inspect.signature(func).parameters


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=transconv_cases(edge_modes=("zero", "replicate", "reflect")), data=st.data())
def test_rows_band_equals_full_output(case, data):
    if not _accepts(upsamp.transconv, "rows"):
        pytest.skip("transconv has no rows= argument")
    x, weight, kwargs = case
    full = upsamp.transconv(x, weight, **kwargs)
    r0 = data.draw(st.integers(0, full.shape[0] - 1))
    r1 = data.draw(st.integers(r0 + 1, full.shape[0]))
    band = upsamp.transconv(x, weight, **kwargs, rows=(r0, r1))
    assert band.dtype == full.dtype
    np.testing.assert_array_equal(band, full[r0:r1])


def test_rows_out_of_range():
    if not _accepts(upsamp.transconv, "rows"):
        pytest.skip("transconv has no rows= argument")
    for rows in [(0, 0), (2, 1), (-1, 2), (0, 4)]:
        with pytest.raises(ParameterError):
            upsamp.transconv(np.ones((2, 2)), np.ones((2, 2)), rows=rows)


@pytest.mark.parametrize("edge", ["zero", "replicate", "reflect"])
@pytest.mark.parametrize("kind", ["outer", "dense", "mixing"])
def test_many_small_bands_and_threads(monkeypatch, edge, kind):
    """Force the engine to split the output into many row bands (run on 2 threads): the result
    must not depend on the band boundaries."""
    polyphase = pytest.importorskip("upsamp.methods.polyphase")
    if not hasattr(polyphase, "BAND_VALUES") or not _accepts(upsamp.transconv, "threads"):
        pytest.skip("no banded engine")
    rng = np.random.default_rng(42)
    x = rng.normal(size=(23, 9, 2))
    if kind == "outer":
        w = np.outer(rng.normal(size=4), rng.normal(size=3))
    elif kind == "dense":
        w = rng.normal(size=(4, 3))
    else:
        w = rng.normal(size=(2, 3, 4, 3))
    kwargs = dict(stride=(3, 2), padding=(2, 1), output_padding=(1, 1), edge=edge, bias=0.25)
    monkeypatch.setattr(polyphase, "BAND_VALUES", 1)
    y = upsamp.transconv(x, w, **kwargs, threads=2)
    expected, _ = _reference(x, w, dict(kwargs, dilation=1, groups=None))
    np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-10)
    y1 = upsamp.transconv(x, w, **kwargs, threads=1)
    np.testing.assert_array_equal(y, y1)


# --------------------------------------------------------------------------------------------
# NaN and infinity: the scatter definition in IEEE arithmetic
# --------------------------------------------------------------------------------------------


def _assert_same_ieee(got, expected, tol):
    """Same NaN positions, same infinities (with sign), finite values close."""
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    assert got.shape == expected.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_array_equal(np.isposinf(got), np.isposinf(expected))
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(expected))
    finite = np.isfinite(expected)
    scale = 1.0 + np.abs(expected[finite]).max(initial=0.0)
    np.testing.assert_allclose(got[finite], expected[finite], rtol=tol, atol=tol * scale)


def _sprinkle(x, rng, fraction):
    """``x`` with a random ``fraction`` of its values replaced by NaN, +inf or -inf."""
    x = x.copy()
    mask = rng.random(x.shape) < fraction
    x[mask] = rng.choice([np.nan, np.inf, -np.inf], size=int(mask.sum()))
    return x


def _torch_transconv(torch, x, w4, bias, groups, **kwargs):
    return (
        torch.nn.functional.conv_transpose2d(
            torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1))[None]),
            torch.from_numpy(np.ascontiguousarray(w4)),
            None if bias is None else torch.from_numpy(bias),
            groups=groups,
            **kwargs,
        )[0]
        .numpy()
        .transpose(1, 2, 0)
    )


def test_non_finite_examples():
    """A zero tap times NaN is NaN (the separable path skipped it); a position no tap reaches
    stays 0 (the channel-mixing path multiplied inf by the zeros of absent taps)."""
    assert np.isnan(upsamp.transconv(np.array([[np.nan]]), np.array([[1.0, 0.0]]))).all()
    y = upsamp.transconv(np.array([[np.inf, 0.0]]), np.array([[1.0, 2.0], [3.0, 5.0]]), stride=3)
    np.testing.assert_array_equal(y, [[np.inf, np.inf, 0, 0, 0], [np.inf, np.inf, 0, 0, 0]])
    y = upsamp.transconv(np.array([[np.inf, -np.inf]]), np.array([[1.0, 1.0]]), bias=2.0)
    np.testing.assert_array_equal(y, [[np.inf, np.nan, -np.inf]])
    y = upsamp.transconv(np.array([[np.inf, -np.inf]]), np.array([[1.0, -1.0]]), bias=2.0)
    np.testing.assert_array_equal(y, [[np.inf, -np.inf, np.inf]])


@pytest.mark.parametrize("kind", ["separable", "dense", "mixing", "grouped"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_non_finite_against_torch(kind, dtype):
    """Float images with NaN/inf masks, kernels with zero taps, on every engine path."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng({"separable": 1, "dense": 2, "mixing": 3, "grouped": 4}[kind])
    for case in range(40):
        s = tuple(int(v) for v in rng.integers(1, 4, size=2))
        d = tuple(int(v) for v in rng.integers(1, 3, size=2))
        kh, kw = (int(v) for v in rng.integers(1, 5, size=2))
        channels, groups = {"separable": (2, 2), "dense": (3, 3), "mixing": (2, 1)}.get(
            kind, (4, 2)
        )
        if kind == "separable":
            u, v = rng.integers(-2, 3, size=kh), rng.integers(-2, 3, size=kw)
            u[0], v[-1] = 1, 0  # a zero column, and a non-zero kernel
            weight = np.outer(u, v).astype(np.float64)
        elif kind == "dense":
            weight = rng.integers(-2, 3, size=(kh, kw)).astype(np.float64)
            weight[0, 0] = 3.0
        else:
            weight = rng.integers(-2, 3, size=(channels, 2, kh, kw)).astype(np.float64)
        w4 = np.broadcast_to(weight, (channels, 1, kh, kw)) if weight.ndim == 2 else weight
        op = tuple(int(rng.integers(0, max(s[a], d[a]))) for a in range(2))
        h, w = (int(v) for v in rng.integers(1, 7, size=2))
        full = [(h - 1) * s[0] + d[0] * (kh - 1) + 1, (w - 1) * s[1] + d[1] * (kw - 1) + 1]
        p = tuple(int(rng.integers(0, (full[a] - 1) // 2 + 1)) for a in range(2))
        x = _sprinkle(rng.normal(size=(h, w, channels)), rng, 0.15).astype(dtype)
        bias = rng.normal(size=w4.shape[1] * groups).astype(dtype) if case % 2 else None
        kwargs = dict(stride=s, padding=p, output_padding=op, dilation=d)
        expected = _torch_transconv(torch, x, w4.astype(dtype), bias, groups, **kwargs)
        got = upsamp.transconv(
            x, weight, **kwargs, groups=groups if weight.ndim == 4 else None, bias=bias
        )
        _assert_same_ieee(got, expected, 1e-10 if dtype == np.float64 else 1e-5)
        # the scatter reference (the oracle of the edge modes below) agrees with torch too
        oracle = ref.scatter_transconv(x, w4, s, p, op, d, groups, bias)
        _assert_same_ieee(oracle, expected, 1e-10 if dtype == np.float64 else 1e-5)


@pytest.mark.parametrize("edge", ["replicate", "reflect"])
@pytest.mark.parametrize("kind", ["separable", "dense", "mixing"])
def test_non_finite_edge_modes_and_bands(monkeypatch, edge, kind):
    """The edge modes (no torch equivalent) against the scatter reference, in many bands."""
    from upsamp.methods import polyphase

    rng = np.random.default_rng(7)
    x = _sprinkle(rng.normal(size=(9, 7, 2)), rng, 0.1)
    x[0, 0, 0], x[-1, 3, 1] = np.nan, -np.inf  # on the borders, so the edge modes copy them
    if kind == "separable":
        weight = np.outer([1.0, 0.0, 2.0], [0.5, 1.0, 0.0, -1.0])
    elif kind == "dense":
        weight = rng.integers(-1, 2, size=(3, 4)).astype(np.float64)
    else:
        weight = rng.integers(-1, 2, size=(2, 3, 3, 4)).astype(np.float64)
    kwargs = dict(stride=(2, 3), padding=(1, 2), output_padding=(1, 0), edge=edge, bias=0.5)
    expected, _ = _reference(x, weight, dict(kwargs, dilation=1, groups=None))
    _assert_same_ieee(upsamp.transconv(x, weight, **kwargs), expected, 1e-10)
    monkeypatch.setattr(polyphase, "BAND_VALUES", 1)
    whole = upsamp.transconv(x, weight, **kwargs, threads=2)
    _assert_same_ieee(whole, expected, 1e-10)
    band = upsamp.transconv(x, weight, **kwargs, rows=(3, 11))
    np.testing.assert_array_equal(band, whole[3:11])
