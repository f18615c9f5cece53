"""Tests of upsamp.diagnostics: checkerboard metrics of kernels and images, PSNR and SSIM.

Reference values are worked examples of the definitions in docs/references.md [Odena2016] and
[Sugawara2019] (phase sums, flat probes) and [Wang2004] (PSNR, SSIM), hard-coded here as
an independent check; kernel phase sums are also measured by brute force with
:func:`upsamp.transconv` on flat images, which does not use the phase formula.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from upsamp import bed_of_nails, transconv
from upsamp.diagnostics import (
    ARTIFACT_TOLERANCE,
    analyze_kernel,
    checkerboard_energy_ratio,
    checkerboard_stats,
    constant_probe,
    fix_kernel_hold,
    fix_kernel_phases,
    hold_geometry,
    phase_means,
    phase_means_fft,
    psnr,
    quantize,
    ssim,
)
from upsamp.errors import ParameterError
from upsamp.kernels import preset

INTERPOLATING = ("nearest", "bilinear", "bicubic", "gaussian")
STRIDES = (2, 3, 4)


# --------------------------------------------------------------------------------------------
# helpers (independent of the module under test)
# --------------------------------------------------------------------------------------------


def flat_response_phases(
    weight, *, stride, padding=0, dilation=1, groups=None, bias=None, channels=None
):
    """Phase values of ``transconv`` on a flat image of ones, read far from the borders.

    Returns ``(values, peak_to_peak)`` with values of shape (C_out, s, s) indexed by the
    absolute output phase, and the largest spread inside one phase (0 when the crop is interior).
    """
    w = np.asarray(weight, dtype=np.float64)
    c_in = 1 if w.ndim == 2 else w.shape[0]
    if channels is not None:
        c_in = channels
    k = max(w.shape[-2:])
    margin = dilation * (k - 1) + padding + 2 * stride
    size = 2 * margin + 8  # input pixels: the output keeps >= 8 interior rows
    x = np.ones((size, size, c_in))
    y = transconv(x, w, stride=stride, padding=padding, dilation=dilation, groups=groups, bias=bias)
    if y.ndim == 2:
        y = y[:, :, None]
    rows = np.arange(y.shape[0])
    cols = np.arange(y.shape[1])
    inside_r = (rows >= margin) & (rows < y.shape[0] - margin)
    inside_c = (cols >= margin) & (cols < y.shape[1] - margin)
    values = np.empty((y.shape[2], stride, stride))
    spread = 0.0
    for p in range(stride):
        for q in range(stride):
            block = y[np.ix_(inside_r & (rows % stride == p), inside_c & (cols % stride == q))]
            values[:, p, q] = block[0, 0]
            spread = max(spread, float(np.ptp(block, axis=(0, 1)).max()))
    return values, spread


def box_full(y, s):
    """Full 2-D convolution of ``y`` (H, W) with ones(s, s) / s^2 (size H+s-1)."""
    out = np.zeros((y.shape[0] + s - 1, y.shape[1] + s - 1))
    for a in range(s):
        for b in range(s):
            out[a : a + y.shape[0], b : b + y.shape[1]] += y
    return out / (s * s)


def reference_pair():
    """Images A (a smooth sinusoid) and B (A plus a ±4 checkerboard): the PSNR/SSIM example."""
    i, j = np.mgrid[0:64, 0:64]
    a = np.round(127.5 + 100 * np.sin(2 * np.pi * i / 32) * np.cos(2 * np.pi * j / 16))
    a = a.astype(np.uint8)
    b = np.clip(a.astype(int) + 4 * (-1) ** (i + j), 0, 255).astype(np.uint8)
    return a, b


def real_like(shape, seed, *, dtype=np.float64):
    """Smooth random field plus noise, scaled to [0, 1] (or 0..255 for uint8)."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    field = gaussian_filter(rng.standard_normal(shape), sigma=(3, 3) + (0,) * (len(shape) - 2))
    field = (field - field.min()) / (np.ptp(field) + 1e-12)
    image = np.clip(field + 0.05 * rng.standard_normal(shape), 0, 1)
    if dtype == np.uint8:
        return np.round(image * 255).astype(np.uint8)
    return image.astype(dtype)


# --------------------------------------------------------------------------------------------
# analyze_kernel
# --------------------------------------------------------------------------------------------


def test_ones_3x3_at_stride_2_has_phase_sums_4_2_2_1():
    a = analyze_kernel(np.ones((3, 3)), stride=2)
    np.testing.assert_array_equal(a.phase_sums, [[[4, 2], [2, 1]]])
    np.testing.assert_array_equal(a.tap_counts, [[[4, 2], [2, 1]]])
    assert a.tap_counts.dtype.kind == "i"
    assert (a.overlap_min, a.overlap_max) == (1, 4)
    assert a.phase_spread == pytest.approx(3 / 2.25)
    assert a.phase_sums.max() / a.phase_sums.min() == 4  # the Distill "factor of four"
    assert not a.artifact_free


def test_ones_4x4_at_stride_2_is_artifact_free():
    a = analyze_kernel(np.ones((4, 4)), stride=2)
    np.testing.assert_array_equal(a.phase_sums, np.full((1, 2, 2), 4.0))
    assert a.phase_spread == 0 and a.artifact_free
    assert (a.overlap_min, a.overlap_max) == (4, 4)


def test_divisibility_is_neither_necessary_nor_sufficient():
    linear = analyze_kernel(np.array([[0.5, 1.0, 0.5]]), stride=(1, 2))
    assert linear.artifact_free
    np.testing.assert_array_equal(linear.tap_counts, [[[2, 1]]])
    uneven = analyze_kernel(np.array([[0.2, 0.9, 0.6, 0.3]]), stride=(1, 2))
    np.testing.assert_allclose(uneven.phase_sums, [[[0.8, 1.2]]])
    assert not uneven.artifact_free
    assert uneven.phase_spread == pytest.approx(0.4)


def test_fcn_bilinear_kernel_has_unit_phase_sums():
    taps = np.array([1.0, 3.0, 3.0, 1.0]) / 4
    a = analyze_kernel(np.outer(taps, taps), stride=2)
    np.testing.assert_allclose(a.phase_sums, np.ones((1, 2, 2)), atol=1e-15)
    assert a.artifact_free


@pytest.mark.parametrize("stride", STRIDES)
@pytest.mark.parametrize("name", INTERPOLATING)
def test_interpolating_presets_are_artifact_free(name, stride):
    k = preset(name, stride)
    a = analyze_kernel(k.weight, stride=k.stride, padding=k.padding, dilation=k.dilation)
    assert a.artifact_free, a.explain()
    assert a.phase_spread <= ARTIFACT_TOLERANCE
    np.testing.assert_allclose(a.phase_sums, 1.0, atol=1e-12)  # presets keep the level
    assert a.suggest_fix() == ""


@pytest.mark.parametrize("stride", STRIDES)
def test_bed_of_nails_preset_is_not_artifact_free(stride):
    k = preset("bed-of-nails", stride)
    a = analyze_kernel(k.weight, stride=stride, padding=k.padding)
    expected = np.zeros((1, stride, stride))
    expected[0, 0, 0] = 1.0
    np.testing.assert_array_equal(a.phase_sums, expected)
    assert (a.overlap_min, a.overlap_max) == (0, 1)
    assert not a.artifact_free
    assert a.phase_spread == pytest.approx(stride**2)
    assert "hold" in a.suggest_fix() and "normalize-phases" not in a.suggest_fix()


@pytest.mark.parametrize("stride", STRIDES)
def test_checkerboard_preset_is_not_artifact_free(stride):
    k = preset("checkerboard", stride)
    a = analyze_kernel(k.weight, stride=stride, padding=k.padding)
    assert not a.artifact_free
    assert a.phase_spread > 1
    assert a.overlap_min == 1 and a.overlap_max == 4
    assert f"({2 * stride}×{2 * stride})" in a.suggest_fix()


def test_explanation_of_ones_3x3():
    a = analyze_kernel(np.ones((3, 3)), stride=2)
    assert a.explain().startswith("3×3 at stride 2: phases receive 4:2:2:1 taps")
    fix = a.suggest_fix()
    assert "divisible by the stride (4×4)" in fix
    assert "upsamp kernels fix --how normalize-phases|hold" in fix


def test_explanation_reduces_phase_sums_and_reports_free_kernels():
    uneven = analyze_kernel(np.array([[0.2, 0.9, 0.6, 0.3]]), stride=(1, 2))
    assert "every phase receives 2 taps but they sum to 2:3" in uneven.explain()
    assert uneven.suggest_fix() == "`upsamp kernels fix --how normalize-phases|hold`"
    free = analyze_kernel(np.ones((4, 4)), stride=2)
    assert "every phase receives 4 taps" in free.explain()
    assert "flat input stays flat" in free.explain()
    linear = analyze_kernel(np.array([[0.5, 1.0, 0.5]]), stride=(1, 2))
    assert "phases receive 2:1 taps but every phase sums to 1" in linear.explain()
    assert "stride 1×2" in linear.explain()


def test_zero_mean_phase_sums_give_inf_and_not_artifact_free():
    a = analyze_kernel(np.array([[1.0, -1.0]]), stride=(1, 2))
    assert math.isinf(a.phase_spread) and not a.artifact_free
    assert "inf" in a.explain()
    all_zero = analyze_kernel(np.zeros((3, 3)), stride=2)
    assert math.isinf(all_zero.phase_spread) and not all_zero.artifact_free


def test_bias_is_reported_apart_from_the_phase_sums():
    """The bias adds the same to every phase: the analysis reads the weights (phase sums
    4:2:2:1, spread 3/2.25) whatever the bias, and reports the bias on its own."""
    plain = analyze_kernel(np.ones((3, 3)), stride=2)
    for bias in (1.0, 2.0, -2.25):
        a = analyze_kernel(np.ones((3, 3)), stride=2, bias=bias)
        np.testing.assert_array_equal(a.phase_sums, [[[4, 2], [2, 1]]])
        assert a.phase_spread == pytest.approx(3 / 2.25) == plain.phase_spread
        assert not a.artifact_free
        np.testing.assert_array_equal(a.bias, [bias])
    assert plain.bias is None


def test_single_tap_lands_on_the_phase_of_padding_and_dilation():
    # tap (1, 2) with d=2, p=1, s=3 lands on ((1*2-1) % 3, (2*2-1) % 3) = (1, 0)
    w = np.zeros((3, 3))
    w[1, 2] = 1.0
    a = analyze_kernel(w, stride=3, padding=1, dilation=2)
    expected = np.zeros((1, 3, 3))
    expected[0, 1, 0] = 1.0
    np.testing.assert_array_equal(a.phase_sums, expected)
    measured, ptp = flat_response_phases(w, stride=3, padding=1, dilation=2)
    np.testing.assert_allclose(measured, expected, atol=1e-12)
    assert ptp < 1e-12


def test_padding_cyclically_shifts_the_phases():
    w = np.arange(1.0, 10.0).reshape(3, 3)
    base = analyze_kernel(w, stride=2).phase_sums[0]
    shifted = analyze_kernel(w, stride=2, padding=1).phase_sums[0]
    np.testing.assert_allclose(shifted, np.roll(base, (-1, -1), axis=(0, 1)))
    assert not np.allclose(shifted, base)


@pytest.mark.parametrize(
    "name,stride",
    [(n, s) for n in INTERPOLATING + ("bed-of-nails", "checkerboard") for s in (2, 3)],
)
def test_preset_phase_sums_match_a_brute_force_flat_response(name, stride):
    k = preset(name, stride)
    a = analyze_kernel(k.weight, stride=stride, padding=k.padding[0])
    measured, ptp = flat_response_phases(k.weight, stride=stride, padding=k.padding[0])
    assert ptp < 1e-12
    np.testing.assert_allclose(a.phase_sums, measured, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    stride=st.integers(1, 4),
    k=st.integers(1, 6),
    padding=st.integers(0, 3),
    dilation=st.integers(1, 3),
)
def test_random_kernel_phase_sums_match_brute_force(seed, stride, k, padding, dilation):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(k, k))
    w[rng.random((k, k)) < 0.3] = 0.0
    a = analyze_kernel(w, stride=stride, padding=padding, dilation=dilation)
    measured, ptp = flat_response_phases(w, stride=stride, padding=padding, dilation=dilation)
    assert ptp < 1e-9
    np.testing.assert_allclose(a.phase_sums, measured, atol=1e-9)
    # every tap lands somewhere: tap counts add up to the nonzero taps
    assert a.tap_counts.sum() == np.count_nonzero(w)


def test_four_d_weight_with_groups_and_bias_matches_brute_force():
    rng = np.random.default_rng(7)
    w = rng.uniform(0.1, 1.0, size=(4, 3, 3, 3))  # C_in 4, groups 2 -> C_out 6
    bias = np.arange(6.0)
    a = analyze_kernel(w, stride=2, padding=1, groups=2, bias=bias)
    assert a.phase_sums.shape == (6, 2, 2) and a.tap_counts.shape == (6, 2, 2)
    measured, ptp = flat_response_phases(w, stride=2, padding=1, groups=2, bias=bias)
    assert ptp < 1e-12
    # a flat input of 1 gives the weights' phase sums plus the bias
    np.testing.assert_allclose(a.phase_sums + bias[:, None, None], measured, atol=1e-12)
    np.testing.assert_array_equal(a.bias, bias)
    assert a.channel_spreads.shape == (6,)
    assert a.phase_spread == a.channel_spreads.max()


def test_tap_counts_of_a_four_d_weight_count_positions_used_by_any_input_channel():
    w = np.zeros((2, 1, 2, 2))
    w[0, 0, 0, 0] = 1.0
    w[1, 0, 0, 0] = 1.0  # same position: one tap
    w[1, 0, 1, 1] = 1.0
    a = analyze_kernel(w, stride=2)
    np.testing.assert_array_equal(a.tap_counts, [[[1, 0], [0, 1]]])
    np.testing.assert_array_equal(a.phase_sums, [[[2, 0], [0, 1]]])


def test_phase_sums_match_torch_conv_transpose2d():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    w = rng.normal(size=(4, 2, 3, 5))
    bias = rng.normal(size=4)
    s, p, d = (3, 2), (1, 2), (2, 1)
    a = analyze_kernel(w, stride=s, padding=p, dilation=d, groups=2, bias=bias)
    x = torch.ones((1, 4, 20, 20), dtype=torch.float64)
    y = torch.nn.functional.conv_transpose2d(
        x, torch.from_numpy(w), torch.from_numpy(bias), stride=s, padding=p, dilation=d, groups=2
    )[0].numpy()
    rows, cols = np.arange(y.shape[1]), np.arange(y.shape[2])
    for o in range(4):
        for pr in range(s[0]):
            for pc in range(s[1]):
                r = rows[(rows % s[0] == pr) & (rows >= 12) & (rows < y.shape[1] - 12)][0]
                c = cols[(cols % s[1] == pc) & (cols >= 12) & (cols < y.shape[2] - 12)][0]
                # the flat response is the weights' phase sum plus the bias
                assert a.phase_sums[o, pr, pc] + bias[o] == pytest.approx(y[o, r, c], abs=1e-10)


# --------------------------------------------------------------------------------------------
# kernel repair
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stride", STRIDES)
def test_fix_kernel_phases_makes_the_checkerboard_preset_artifact_free(stride):
    k = preset("checkerboard", stride)
    fixed = fix_kernel_phases(k.weight, stride=stride, padding=k.padding)
    assert fixed.shape == k.weight.shape
    before = analyze_kernel(k.weight, stride=stride, padding=k.padding)
    after = analyze_kernel(fixed, stride=stride, padding=k.padding)
    assert not before.artifact_free and after.artifact_free
    np.testing.assert_allclose(after.phase_sums, before.phase_sums.mean(), rtol=1e-12)
    measured, _ = flat_response_phases(fixed, stride=stride, padding=k.padding[0])
    assert np.ptp(measured) < 1e-12


def test_fix_kernel_phases_small_example():
    fixed = fix_kernel_phases(np.ones((3, 3)), stride=2)
    # phase sums 4, 2, 2, 1 -> each scaled to 2.25
    expected = 2.25 / np.array([[4.0, 2.0, 4.0], [2.0, 1.0, 2.0], [4.0, 2.0, 4.0]])
    np.testing.assert_allclose(fixed, expected)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    stride=st.integers(1, 4),
    k=st.integers(1, 7),
    padding=st.integers(0, 3),
    dilation=st.integers(1, 3),
)
def test_fix_kernel_phases_equalizes_random_positive_kernels(seed, stride, k, padding, dilation):
    rng = np.random.default_rng(seed)
    c_in, c_out_g, groups = 2, 3, 2
    w = rng.uniform(0.05, 1.0, size=(c_in * groups, c_out_g, k, k))
    analysis = analyze_kernel(w, stride=stride, padding=padding, dilation=dilation, groups=groups)
    if np.any(analysis.tap_counts == 0):  # a phase no tap reaches cannot be rescaled
        with pytest.raises(ParameterError):
            fix_kernel_phases(w, stride=stride, padding=padding, dilation=dilation, groups=groups)
        return
    fixed = fix_kernel_phases(w, stride=stride, padding=padding, dilation=dilation, groups=groups)
    after = analyze_kernel(fixed, stride=stride, padding=padding, dilation=dilation, groups=groups)
    assert after.artifact_free
    np.testing.assert_allclose(
        after.phase_sums.mean(axis=(1, 2)), analysis.phase_sums.mean(axis=(1, 2)), rtol=1e-12
    )


def test_fix_kernel_phases_refuses_empty_or_zero_mean_phases():
    with pytest.raises(ParameterError, match="hold"):
        fix_kernel_phases(preset("bed-of-nails", 2).weight, stride=2)
    with pytest.raises(ParameterError, match="average 0"):
        fix_kernel_phases(np.array([[1.0, -1.0]]), stride=(1, 2))
    with pytest.raises(ParameterError, match="opposite sign"):
        fix_kernel_phases(np.array([[2.0, -0.5]]), stride=(1, 2))


@pytest.mark.parametrize("stride", STRIDES)
def test_fix_kernel_hold_makes_the_checkerboard_preset_artifact_free(stride):
    k = preset("checkerboard", stride)
    held = fix_kernel_hold(
        k.weight, stride=stride, padding=k.padding, output_padding=k.output_padding
    )
    assert held.weight.shape == (2 * stride, 2 * stride)
    assert held.dilation == (1, 1)
    after = analyze_kernel(held.weight, stride=stride, padding=held.padding)
    assert after.artifact_free
    # the level is kept: every phase sums to the original mean phase sum (1 for presets)
    np.testing.assert_allclose(after.phase_sums, 1.0, rtol=1e-12)
    x = np.random.default_rng(0).random((9, 7))
    y_before = transconv(x, k.weight, **k.transconv_kwargs())
    y_after = transconv(
        x, held.weight, stride=stride, padding=held.padding, output_padding=held.output_padding
    )
    assert y_after.shape == y_before.shape == (9 * stride, 7 * stride)


@settings(max_examples=50, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    stride=st.integers(2, 4),
    kh=st.integers(1, 6),
    kw=st.integers(1, 6),
    dilation=st.integers(1, 3),
)
def test_hold_makes_any_random_kernel_artifact_free(seed, stride, kh, kw, dilation):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(kh, kw))
    w += (1.0 - w.sum()) / w.size  # any kernel with a nonzero sum (here 1)
    held = fix_kernel_hold(w, stride=stride, dilation=dilation)
    assert held.weight.shape == (dilation * (kh - 1) + stride, dilation * (kw - 1) + stride)
    a = analyze_kernel(held.weight, stride=stride, padding=held.padding)
    assert a.artifact_free
    np.testing.assert_allclose(a.phase_sums, 1.0 / stride**2, atol=1e-12)


@pytest.mark.parametrize("stride,padding,dilation", [(2, 0, 1), (3, 1, 1), (2, 1, 2), (3, 2, 2)])
def test_held_kernel_equals_kernel_followed_by_box(stride, padding, dilation):
    rng = np.random.default_rng(stride * 10 + padding)
    w = rng.normal(size=(3, 4))
    x = rng.normal(size=(6, 5))
    held = fix_kernel_hold(w, stride=stride, padding=padding, dilation=dilation)
    y = transconv(
        x, held.weight, stride=stride, padding=held.padding, output_padding=held.output_padding
    )
    original = transconv(x, w, stride=stride, padding=padding, dilation=dilation)
    assert y.shape == original.shape
    full = transconv(x, w, stride=stride, dilation=dilation)  # no padding: the full scatter
    boxed = np.zeros((full.shape[0] + 2 * stride, full.shape[1] + 2 * stride))
    boxed[: full.shape[0] + stride - 1, : full.shape[1] + stride - 1] = box_full(full, stride)
    p_h, p_w = held.padding
    np.testing.assert_allclose(y, boxed[p_h : p_h + y.shape[0], p_w : p_w + y.shape[1]], atol=1e-12)


def test_odd_stride_hold_keeps_alignment():
    from scipy.ndimage import uniform_filter

    k = preset("bilinear", 3)
    x = np.random.default_rng(5).random((10, 10))
    original = transconv(x, k.weight, stride=3, padding=k.padding)
    held = fix_kernel_hold(k.weight, stride=3, padding=k.padding)
    y = transconv(
        x, held.weight, stride=3, padding=held.padding, output_padding=held.output_padding
    )
    centred = uniform_filter(original, size=3)
    np.testing.assert_allclose(y[3:-3, 3:-3], centred[3:-3, 3:-3], atol=1e-12)


def test_hold_geometry_keeps_two_p_minus_op_plus_s_minus_1():
    assert hold_geometry(stride=2) == ((1, 1), (1, 1))
    assert hold_geometry(stride=2, padding=1) == ((2, 2), (1, 1))
    assert hold_geometry(stride=3, padding=(1, 0)) == ((2, 1), (0, 0))
    assert hold_geometry(stride=1, padding=2) == ((2, 2), (0, 0))
    for s in range(1, 6):
        for p in range(4):
            for op in range(s):
                (p2, _), (op2, _) = hold_geometry(stride=s, padding=p, output_padding=op)
                assert 2 * p2 - op2 == 2 * p - op + s - 1
                assert 0 <= op2 < max(s, 1) or s == 1


def test_hold_of_bed_of_nails_is_nearest():
    held = fix_kernel_hold(preset("bed-of-nails", 2).weight, stride=2)
    np.testing.assert_allclose(held.weight[:2, :2], 0.25)
    assert analyze_kernel(held.weight, stride=2).artifact_free


def test_hold_of_a_four_d_weight_holds_every_slice():
    w = np.random.default_rng(1).normal(size=(2, 3, 3, 3))
    held = fix_kernel_hold(w, stride=2)
    assert held.weight.shape == (2, 3, 4, 4)
    np.testing.assert_allclose(held.weight[1, 2], box_full(w[1, 2], 2))


# --------------------------------------------------------------------------------------------
# constant probe
# --------------------------------------------------------------------------------------------


def test_probe_ones_3x3_gives_the_reference_cb_dc():
    result = constant_probe(lambda x: transconv(x, np.ones((3, 3)), stride=2), stride=2)
    np.testing.assert_allclose(result.phase_means, [[4, 2], [2, 1]], atol=1e-12)
    assert result.cb_dc == pytest.approx(0.48432, abs=5e-6)
    assert result.ripple == pytest.approx(3 / 2.25)
    assert result.border == 8 and result.level == 1.0


def test_probe_one_dimensional_ones_3_gives_one_third():
    result = constant_probe(lambda x: transconv(x, np.ones((1, 3)), stride=(1, 2)), stride=(1, 2))
    assert result.phase_means.shape == (1, 2)
    np.testing.assert_allclose(result.phase_means, [[2, 1]], atol=1e-12)
    assert result.cb_dc == pytest.approx(1 / 3, abs=1e-12)


@pytest.mark.parametrize("stride", (2, 3))
@pytest.mark.parametrize("name", INTERPOLATING)
def test_probe_of_interpolating_presets_is_zero(name, stride):
    k = preset(name, stride)
    result = constant_probe(
        lambda x: transconv(x, k.weight, **k.transconv_kwargs()), stride=stride, level=0.7
    )
    assert result.cb_dc < 1e-12
    np.testing.assert_allclose(result.phase_means, 0.7, atol=1e-12)


def test_probe_of_bed_of_nails_is_sqrt_3():
    k = preset("bed-of-nails", 2)
    via_kernel = constant_probe(lambda x: transconv(x, k.weight, **k.transconv_kwargs()), stride=2)
    assert via_kernel.cb_dc == pytest.approx(math.sqrt(3), abs=1e-12)
    via_method = constant_probe(lambda x: bed_of_nails(x, 2), stride=2, level=3.0)
    assert via_method.cb_dc == pytest.approx(math.sqrt(3), abs=1e-12)
    np.testing.assert_allclose(via_method.phase_means, [[3, 0], [0, 0]])


def test_probe_checkerboard_preset_agrees_with_kernel_analysis():
    k = preset("checkerboard", 3)
    result = constant_probe(
        lambda x: transconv(
            x, k.weight, stride=3, padding=k.padding, output_padding=k.output_padding
        ),
        stride=3,
    )
    sums = analyze_kernel(k.weight, stride=3, padding=k.padding).phase_sums[0]
    np.testing.assert_allclose(result.phase_means, sums, atol=1e-12)
    assert result.cb_dc == pytest.approx(sums.std() / sums.mean())


def test_probe_with_channels_reports_the_worst_channel():
    w = np.ones((3, 3, 3, 3)) * 0.1
    w[:, 1] = 0.0
    w[0, 1, 1, 1] = 1.0  # channel 1 is a bed of nails
    result = constant_probe(lambda x: transconv(x, w, stride=2), stride=2, channels=3)
    assert result.phase_means.shape == (2, 2, 3)
    assert result.cb_dc == pytest.approx(math.sqrt(3))


def test_probe_zero_response_is_inf():
    result = constant_probe(lambda x: np.zeros((64, 64)), stride=2)
    assert math.isinf(result.cb_dc)


def test_probe_errors():
    identity = lambda x: np.repeat(np.repeat(x, 2, axis=0), 2, axis=1)  # noqa: E731
    with pytest.raises(ParameterError, match="too small"):
        constant_probe(identity, stride=2, size=8)
    with pytest.raises(ParameterError, match="stride"):
        constant_probe(identity, stride=0)
    with pytest.raises(ParameterError, match="size"):
        constant_probe(identity, stride=2, size=0)
    with pytest.raises(ParameterError, match="border"):
        constant_probe(identity, stride=2, border=-1)
    with pytest.raises(ParameterError, match="NaN"):
        constant_probe(lambda x: identity(x) * np.nan, stride=2)
    with pytest.raises(ParameterError, match="channels"):
        constant_probe(identity, stride=2, channels=0)


# --------------------------------------------------------------------------------------------
# checkerboard_stats (M3)
# --------------------------------------------------------------------------------------------


def test_ramp_has_no_checkerboard_but_raw_phase_means_do():
    i, j = np.mgrid[0:64, 0:64].astype(np.float64)
    ramp = 0.5 * i + 0.25 * j
    stats = checkerboard_stats(ramp, stride=2)
    assert stats.cb_rms == pytest.approx(0.0, abs=1e-12)
    assert stats.cb_rel == 0.0  # the residual of a ramp is constant: std 0
    raw = phase_means(ramp, stride=2)
    assert np.sqrt(np.mean((raw - raw.mean()) ** 2)) == pytest.approx(0.2795, abs=1e-4)


@pytest.mark.parametrize("a", [0.1, 3.0, 17.5])
def test_ramp_plus_alternating_pattern_gives_cb_rms_a(a):
    i, j = np.mgrid[0:64, 0:64].astype(np.float64)
    y = 0.5 * i + 0.25 * j + a * (-1.0) ** (i + j)
    stats = checkerboard_stats(y, stride=2)
    assert stats.cb_rms == pytest.approx(a, rel=1e-12)
    assert stats.cb_rel == pytest.approx(1.0, rel=1e-12)
    assert stats.cb_rel_tile_max == pytest.approx(1.0, rel=1e-12)
    assert stats.phase_means.shape == (2, 2)


def test_period_three_pattern_is_recovered_at_stride_3():
    i, j = np.mgrid[0:60, 0:60].astype(np.float64)
    pattern = np.array([[2.0, -1.0, -1.0], [-1.0, 2.0, -1.0], [-1.0, -1.0, 2.0]])
    y = 0.3 * i - 0.7 * j + pattern[(i % 3).astype(int), (j % 3).astype(int)]
    stats = checkerboard_stats(y, stride=3)
    assert stats.cb_rms == pytest.approx(np.sqrt(np.mean(pattern**2)), rel=1e-12)  # 1.41421
    np.testing.assert_allclose(stats.phase_means - stats.phase_means.mean(), pattern, atol=1e-12)


def test_tiles_find_a_grid_that_cancels_globally():
    i, j = np.mgrid[0:68, 0:68].astype(np.float64)
    sign = np.where(j < 34, 1.0, -1.0)
    y = 10.0 + sign * (-1.0) ** (i + j)
    stats = checkerboard_stats(y, stride=2)  # crop 64x64 -> 4x4 tiles of 16
    assert stats.tiles == 16
    assert stats.cb_rel < 0.1
    assert stats.cb_rel_tile_max > 0.9


def test_stats_per_channel_report_the_largest_and_tile_nan_without_tiles():
    i, j = np.mgrid[0:18, 0:18].astype(np.float64)  # crop 14x14: no whole 16x16 tile
    y = np.stack([0.1 * i, 0.1 * i + 0.5 * (-1.0) ** (i + j)], axis=-1)
    stats = checkerboard_stats(y, stride=2)
    assert stats.phase_means.shape == (2, 2, 2)
    assert stats.cb_rms == pytest.approx(0.5)
    assert stats.tiles == 0 and math.isnan(stats.cb_rel_tile_max)
    small_tiles = checkerboard_stats(y, stride=2, tile=4)
    assert small_tiles.tiles == 9 and small_tiles.cb_rel_tile_max == pytest.approx(1.0)


def test_stats_of_real_upsampling_separate_good_and_bad_kernels():
    x = real_like((40, 40), 11)
    good = preset("bilinear", 2)
    bad = np.ones((3, 3)) / 2.25
    clean = checkerboard_stats(transconv(x, good.weight, **good.transconv_kwargs()), stride=2)
    grid = checkerboard_stats(transconv(x, bad, stride=2, padding=1, output_padding=1), stride=2)
    assert clean.cb_rel < 0.05
    assert grid.cb_rel > 0.5


def test_stats_errors():
    y = np.zeros((32, 32))
    with pytest.raises(ParameterError, match="multiple of the stride"):
        checkerboard_stats(y, stride=2, tile=5)
    with pytest.raises(ParameterError, match="too small"):
        checkerboard_stats(np.zeros((5, 32)), stride=2)
    with pytest.raises(ParameterError, match="stride"):
        checkerboard_stats(y, stride=0)
    with pytest.raises(ParameterError, match="2-D or 3-D"):
        checkerboard_stats(np.zeros(32), stride=2)
    with pytest.raises(ParameterError, match="NaN"):
        checkerboard_stats(np.full((32, 32), np.inf), stride=2)


# --------------------------------------------------------------------------------------------
# FFT identity
# --------------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    s_h=st.integers(1, 4),
    s_w=st.integers(1, 4),
    m_h=st.integers(1, 8),
    m_w=st.integers(1, 8),
)
def test_fft_identity_energy_ratio_equals_phase_mean_variance(seed, s_h, s_w, m_h, m_w):
    assume(s_h * m_h * s_w * m_w > 1)  # one pixel has no variance
    rng = np.random.default_rng(seed)
    y = rng.normal(size=(s_h * m_h, s_w * m_w))
    y += rng.normal() * (-1.0) ** np.add.outer(np.arange(y.shape[0]), np.arange(y.shape[1]))
    mu = np.array([[y[p::s_h, q::s_w].mean() for q in range(s_w)] for p in range(s_h)])
    direct = mu.var() / y.var()
    assert checkerboard_energy_ratio(y, stride=(s_h, s_w)) == pytest.approx(direct, abs=1e-12)
    np.testing.assert_allclose(phase_means_fft(y, stride=(s_h, s_w)), mu, atol=1e-12)
    np.testing.assert_allclose(phase_means(y, stride=(s_h, s_w)), mu, atol=1e-12)


def test_fft_identity_on_a_checkerboard_output():
    x = real_like((16, 16), 4)
    y = transconv(x, np.ones((3, 3)), stride=2, padding=1, output_padding=1)  # 32x32
    ratio = checkerboard_energy_ratio(y, stride=2)
    mu = phase_means(y, stride=2)
    assert ratio == pytest.approx(mu.var() / y.var(), rel=1e-12)
    assert ratio > 0.01


def test_fft_helpers_errors_and_constant_image():
    assert checkerboard_energy_ratio(np.ones((4, 4)), stride=2) == 0.0
    with pytest.raises(ParameterError, match="multiple of the stride"):
        checkerboard_energy_ratio(np.ones((5, 4)), stride=2)
    with pytest.raises(ParameterError, match="2-D"):
        phase_means_fft(np.ones((4, 4, 3)), stride=2)
    with pytest.raises(ParameterError, match="smaller than the stride"):
        phase_means(np.ones((1, 4)), stride=2)


# --------------------------------------------------------------------------------------------
# quantize, PSNR, SSIM
# --------------------------------------------------------------------------------------------


def test_quantize_rounds_half_to_even_and_clips():
    q = quantize(np.array([-3.0, 0.5, 1.5, 2.5, 254.5, 255.5, 300.0]), np.uint8)
    assert q.dtype == np.uint8
    np.testing.assert_array_equal(q, [0, 0, 2, 2, 254, 255, 255])
    q16 = quantize(np.array([-40000.0, -0.5, 40000.0]), np.int16)
    np.testing.assert_array_equal(q16, [-32768, 0, 32767])
    floats = np.array([0.123456789, -5.0, 1e6])
    np.testing.assert_array_equal(quantize(floats, np.float64), floats)
    assert quantize(floats, np.float32).dtype == np.float32
    np.testing.assert_array_equal(quantize(np.array([-5, 300]), np.uint8), [0, 255])


def test_quantize_errors():
    with pytest.raises(ParameterError, match="NaN"):
        quantize(np.array([np.nan]), np.uint8)
    with pytest.raises(ParameterError, match="dtype"):
        quantize(np.array([1.0]), np.complex128)
    with pytest.raises(ParameterError, match="dtype"):
        quantize(np.array([1.0]), "not-a-dtype")
    with pytest.raises(ParameterError, match="numeric"):
        quantize(np.array(["a"]), np.uint8)


def test_psnr_reference_values_of_the_note():
    a, b = reference_pair()
    assert np.mean((a.astype(float) - b.astype(float)) ** 2) == 16.0
    assert psnr(a, b, data_range=255) == pytest.approx(36.0896038, abs=1e-7)
    assert psnr(a / 255, b / 255, data_range=1.0) == pytest.approx(36.0896038, abs=1e-7)
    assert psnr(a, a, data_range=255) == math.inf


def test_psnr_does_not_wrap_uint8():
    a = np.zeros((4, 4), np.uint8)
    b = np.full((4, 4), 255, np.uint8)
    assert psnr(a, b, data_range=255) == pytest.approx(0.0)


def test_psnr_with_quantize_to():
    truth = np.full((4, 4), 100, np.uint8)
    output = np.full((4, 4), 101.4)  # saved as 101
    assert psnr(truth, output, data_range=255, quantize_to=np.uint8) == pytest.approx(
        10 * np.log10(255**2)
    )
    assert psnr(truth, output, data_range=255) == pytest.approx(10 * np.log10(255**2 / 1.96))


def test_psnr_matches_skimage():
    metrics = pytest.importorskip("skimage.metrics")
    for seed, shape in enumerate([(17, 23), (32, 32, 3)]):
        truth = real_like(shape, seed, dtype=np.uint8)
        output = quantize(truth + np.random.default_rng(seed).normal(0, 6, shape), np.uint8)
        expected = metrics.peak_signal_noise_ratio(truth, output, data_range=255)
        assert psnr(truth, output, data_range=255) == pytest.approx(expected, abs=1e-10)


def test_ssim_reference_values_of_the_note():
    a, b = reference_pair()
    assert ssim(a, b, data_range=255) == pytest.approx(0.9889291297, abs=1e-9)
    assert ssim(a / 255, b / 255, data_range=1.0) == pytest.approx(0.9889291297, abs=1e-9)
    assert ssim(a, a, data_range=255) == 1.0


@pytest.mark.parametrize(
    "shape,dtype",
    [
        ((11, 11), np.float64),
        ((37, 53), np.float64),
        ((64, 48), np.uint8),
        ((29, 31, 3), np.float64),
        ((40, 40, 3), np.uint8),
        ((33, 20, 3), np.float32),
    ],
)
def test_ssim_matches_skimage_with_wang_settings(shape, dtype):
    metrics = pytest.importorskip("skimage.metrics")
    truth = real_like(shape, sum(shape), dtype=dtype)
    noise = np.random.default_rng(len(shape)).normal(0, 0.04, shape)
    if dtype == np.uint8:
        output, data_range = quantize(truth + 255 * noise, np.uint8), 255
    else:
        output, data_range = np.clip(truth + noise, 0, 1).astype(dtype), 1.0
    expected = metrics.structural_similarity(
        truth,
        output,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=data_range,
        channel_axis=-1 if len(shape) == 3 else None,
    )
    value = ssim(truth, output, data_range=data_range)
    assert value == pytest.approx(expected, abs=1e-4)
    assert value < 0.999  # the noise is visible: the comparison is not trivial


def test_ssim_of_three_channels_is_the_mean_of_channels():
    truth = real_like((30, 30, 3), 1)
    output = truth.copy()
    output[:, :, 2] = np.clip(output[:, :, 2] + 0.2 * real_like((30, 30), 2), 0, 1)
    per_channel = [ssim(truth[:, :, c], output[:, :, c], data_range=1.0) for c in range(3)]
    assert per_channel[0] == per_channel[1] == 1.0 and per_channel[2] < 1
    assert ssim(truth, output, data_range=1.0) == pytest.approx(np.mean(per_channel), abs=1e-15)


def test_quality_error_paths():
    a = np.zeros((16, 16))
    with pytest.raises(ParameterError, match="shapes differ"):
        psnr(a, np.zeros((16, 17)), data_range=1.0)
    with pytest.raises(ParameterError, match="shapes differ"):
        ssim(a, np.zeros((16, 16, 3)), data_range=1.0)
    with pytest.raises(ParameterError, match="data_range"):
        psnr(a, a, data_range=0)
    with pytest.raises(ParameterError, match="data_range"):
        ssim(a, a, data_range=-1.0)
    with pytest.raises(ParameterError, match="data_range"):
        psnr(a, a, data_range=float("nan"))
    with pytest.raises(ParameterError, match="11×11"):
        ssim(np.zeros((10, 30)), np.zeros((10, 30)), data_range=1.0)
    with pytest.raises(ParameterError, match="NaN"):
        psnr(a, np.full((16, 16), np.nan), data_range=1.0)
    with pytest.raises(ParameterError, match="empty"):
        psnr(np.zeros((0, 4)), np.zeros((0, 4)), data_range=1.0)


# --------------------------------------------------------------------------------------------
# error paths of the kernel functions
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda: analyze_kernel(np.ones((3, 3)), stride=0),
        lambda: analyze_kernel(np.ones((3, 3)), stride=(2, -1)),
        lambda: analyze_kernel(np.ones((3, 3)), stride=2, padding=-1),
        lambda: analyze_kernel(np.ones((3, 3)), stride=2, dilation=0),
        lambda: fix_kernel_phases(np.ones((3, 3)), stride=0),
        lambda: fix_kernel_hold(np.ones((3, 3)), stride=0),
        lambda: hold_geometry(stride=0),
        lambda: phase_means(np.ones((4, 4)), stride=0),
        lambda: checkerboard_energy_ratio(np.ones((4, 4)), stride=0),
    ],
)
def test_out_of_range_geometry_is_rejected(call):
    with pytest.raises(ParameterError, match="must be >= "):
        call()


def test_kernel_argument_errors():
    with pytest.raises(ParameterError, match="2-D or 4-D"):
        analyze_kernel(np.ones((3, 3, 3)), stride=2)
    with pytest.raises(ParameterError, match="empty"):
        analyze_kernel(np.ones((0, 3)), stride=2)
    with pytest.raises(ParameterError, match="NaN"):
        analyze_kernel(np.array([[1.0, np.nan]]), stride=2)
    with pytest.raises(ParameterError, match="does not divide"):
        analyze_kernel(np.ones((3, 1, 2, 2)), stride=2, groups=2)
    with pytest.raises(ParameterError, match="groups"):
        analyze_kernel(np.ones((2, 2)), stride=2, groups=2)
    with pytest.raises(ParameterError, match="groups"):
        analyze_kernel(np.ones((2, 1, 2, 2)), stride=2, groups=0)
    with pytest.raises(ParameterError, match="one value per output channel"):
        analyze_kernel(np.ones((2, 3, 2, 2)), stride=2, bias=[1.0, 2.0])
    with pytest.raises(ParameterError, match="numeric"):
        analyze_kernel(np.array([["a"]]), stride=2)
    with pytest.raises(ParameterError, match="output_padding"):
        hold_geometry(stride=2, padding=0, output_padding=3)
