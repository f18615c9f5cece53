"""Tests of ``upsamp.kernels``: presets as transposed convolutions, kernel files, normalize.

The presets' central promise is that a transposed convolution with them *is* the classic method:
nearest == pixel replication, bilinear == half-pixel bilinear, bed-of-nails == bed of nails,
bicubic == cubic convolution interpolation (interior), and that they enlarge by exactly s.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import reference_impl as ref
from PIL import Image

import upsamp
from upsamp import kernels
from upsamp.errors import KernelError, ParameterError

ALL_PRESETS = ["nearest", "bilinear", "bicubic", "gaussian", "bed-of-nails", "checkerboard"]
STRIDES = [1, 2, 3, 4, 5]


def _run(x, kernel, **overrides):
    kwargs = kernel.transconv_kwargs()
    kwargs.update(overrides)
    return upsamp.transconv(x, kernel.weight, **kwargs)


def _valid(name, s):
    return not (name == "checkerboard" and s < 2)


def _image(shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).uniform(-1, 2, size=shape).astype(dtype)


# --------------------------------------------------------------------------------------------
# Preset equivalences
# --------------------------------------------------------------------------------------------


def test_preset_names():
    assert set(ALL_PRESETS) <= set(kernels.preset_names())


@pytest.mark.parametrize("s", STRIDES)
@pytest.mark.parametrize("shape", [(4, 5), (1, 3), (3, 4, 3)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_nearest_preset_is_nearest(s, shape, dtype):
    x = _image(shape, seed=s, dtype=dtype)
    y = _run(x, kernels.preset("nearest", s))
    np.testing.assert_array_equal(y, upsamp.nearest(x, s))
    assert y.dtype == dtype


@pytest.mark.parametrize("s", STRIDES)
@pytest.mark.parametrize("shape", [(4, 5), (1, 3), (2, 1), (5, 4, 3), (7, 6)])
def test_bilinear_preset_is_bilinear_everywhere(s, shape):
    """The preset's replicate edge reproduces half-pixel bilinear with clamped edges on every
    pixel: against the plain loop of the definition."""
    k = kernels.preset("bilinear", s)
    assert k.edge == "replicate"
    x = _image(shape, seed=s + 10)
    expected = ref.loop_bilinear(x, shape[0] * s, shape[1] * s)
    np.testing.assert_allclose(_run(x, k), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("s", STRIDES)
@pytest.mark.parametrize("shape", [(4, 5), (1, 3), (2, 1), (5, 4, 3), (7, 6)])
def test_bilinear_preset_is_torch_bilinear(s, shape):
    """... and against PyTorch ``F.interpolate(mode="bilinear", align_corners=False)``."""
    torch = pytest.importorskip("torch")
    k = kernels.preset("bilinear", s)
    x = _image(shape, seed=s + 20)
    x3 = x if x.ndim == 3 else x[:, :, None]
    tx = torch.from_numpy(np.ascontiguousarray(x3.transpose(2, 0, 1)))[None]
    expected = torch.nn.functional.interpolate(
        tx, size=(shape[0] * s, shape[1] * s), mode="bilinear", align_corners=False
    )[0].numpy().transpose(1, 2, 0)
    y = _run(x, k)
    y = y if y.ndim == 3 else y[:, :, None]
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-12)


def test_default_preset_is_the_transconv_default():
    """``transconv`` with no kernel uses the default preset."""
    from upsamp.methods import MethodOptions, get_method

    method = get_method("transconv")
    x = _image((5, 4, 2), seed=4)
    for stride in [(2, 2), (3, 2)]:
        k = kernels.preset(kernels.DEFAULT_PRESET, stride)
        np.testing.assert_array_equal(
            method.upsample(x, MethodOptions(stride=stride)), _run(x, k)
        )
        x8 = (x * 60 + 60).astype(np.uint8)
        rounded = method.upsample_rounded(x8, MethodOptions(stride=stride))
        assert rounded is not None
        np.testing.assert_array_equal(
            rounded, method.upsample_rounded(x8, MethodOptions(stride=stride, kernel=k))
        )


@pytest.mark.parametrize("s", STRIDES)
def test_bilinear_preset_zero_edge_interior(s):
    """With zero edges the preset is still exact bilinear except floor(s/2) pixels per side."""
    x = _image((6, 7, 2), seed=s)
    y = _run(x, kernels.preset("bilinear", s), edge="zero")
    b = upsamp.bilinear(x, s)
    e = s // 2
    inner = (slice(e, y.shape[0] - e), slice(e, y.shape[1] - e))
    np.testing.assert_allclose(y[inner], b[inner], atol=1e-12)
    if e:
        # the border is attenuated: the first pixel of a flat row gets 1 - |u| = 1/2 + 1/(2s)
        flat = _run(np.ones((5, 5)), kernels.preset("bilinear", s), edge="zero")
        factor = 0.5 + 0.5 / s
        assert flat[0, 2 * s] == pytest.approx(factor)
        assert flat[0, 0] == pytest.approx(factor * factor)
        assert flat[-1, -1] == pytest.approx(factor * factor)


@pytest.mark.parametrize(
    ("s", "factor"), [(2, 0.75), (3, 2 / 3), (4, 0.625), (5, 0.6), (8, 0.5625)]
)
def test_bilinear_preset_zero_edge_factors(s, factor):
    """docs/references.md [Long2015-FCN] kernel with zero edges: edge factors 0.75, 0.667, 0.625,
    0.6, 0.5625."""
    row = _run(np.ones((4, 4)), kernels.preset("bilinear", s), edge="zero")[2 * s]
    assert row[0] == pytest.approx(factor)
    assert row[-1] == pytest.approx(factor)


@pytest.mark.parametrize("s", STRIDES)
def test_bilinear_preset_is_fcn_kernel(s):
    """Weights equal FCN's get_upsampling_weight (K = 2s - s%2, f = (K+1)//2, c = (K-1)/2) and
    the padding is Caffe's ceil((s-1)/2)."""
    k = kernels.preset("bilinear", s)
    size = 2 * s - s % 2
    f = (size + 1) // 2
    c = (size - 1) / 2
    taps = np.array([1 - abs(t - c) / f for t in range(size)])
    np.testing.assert_allclose(k.weight, np.outer(taps, taps), atol=1e-15)
    assert k.padding == (math.ceil((s - 1) / 2),) * 2
    assert k.stride == (s, s)


@pytest.mark.parametrize("s", STRIDES)
@pytest.mark.parametrize("stride_pair", [False, True])
def test_bed_of_nails_preset(s, stride_pair):
    x = _image((3, 4, 2), seed=s)
    y = _run(x, kernels.preset("bed-of-nails", s))
    np.testing.assert_array_equal(y, upsamp.bed_of_nails(x, (s, s) if stride_pair else s))


@pytest.mark.parametrize("s", STRIDES)
@pytest.mark.parametrize("edge", ["preset", "zero"])
def test_bicubic_preset_is_cubic_interpolation_interior(s, edge):
    x = _image((7, 6), seed=s)
    k = kernels.preset("bicubic", s)
    y = _run(x, k) if edge == "preset" else _run(x, k, edge="zero")
    expected = ref.loop_cubic_interp(x, s)
    interior = ~np.isnan(expected)
    assert interior.sum() > 0
    np.testing.assert_allclose(y[interior], expected[interior], atol=1e-12)


@pytest.mark.parametrize("s", [2, 3, 4, 5])
def test_bicubic_preset_matches_pillow_interior(s):
    """Pillow BICUBIC (a = -0.5) renormalizes weights only at the edges: interior agrees."""
    x = _image((7, 6), seed=s, dtype=np.float32)
    pil = np.asarray(Image.fromarray(x).resize((6 * s, 7 * s), Image.BICUBIC))
    y = _run(x, kernels.preset("bicubic", s))
    interior = ~np.isnan(ref.loop_cubic_interp(x, s))
    np.testing.assert_allclose(y[interior], pil[interior], rtol=0, atol=1e-4)


@pytest.mark.parametrize("name", ALL_PRESETS)
@pytest.mark.parametrize("s", STRIDES)
@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (4, 2, 3)])
def test_presets_enlarge_by_exactly_s(name, s, shape):
    if not _valid(name, s):
        with pytest.raises(ParameterError):
            kernels.preset(name, s)
        return
    y = _run(_image(shape), kernels.preset(name, s))
    assert y.shape == (shape[0] * s, shape[1] * s) + shape[2:]


@pytest.mark.parametrize("name", ALL_PRESETS)
@pytest.mark.parametrize("s", STRIDES)
def test_mean_phase_sum(name, s):
    if not _valid(name, s):
        return
    k = kernels.preset(name, s)
    mean_phase = k.weight.sum() / s**2
    if name == "bed-of-nails":
        assert mean_phase == pytest.approx(1 / s**2)
    else:
        assert mean_phase == pytest.approx(1.0)


@pytest.mark.parametrize("name", ALL_PRESETS)
@pytest.mark.parametrize("s", STRIDES)
def test_presets_are_separable_and_symmetric_outer_products(name, s):
    if not _valid(name, s):
        return
    w = kernels.preset(name, s).weight
    assert w.ndim == 2 and w.shape[0] == w.shape[1]
    np.testing.assert_allclose(w, w.T, atol=1e-15)
    assert np.linalg.matrix_rank(w) == 1


@pytest.mark.parametrize("name", ["nearest", "bilinear", "bicubic", "gaussian"])
@pytest.mark.parametrize("s", STRIDES)
def test_flat_stays_flat(name, s):
    k = kernels.preset(name, s)
    x = np.full((12, 13), 3.25)
    y = _run(x, k)
    if k.edge == "replicate" or name == "nearest":
        np.testing.assert_allclose(y, 3.25, rtol=0, atol=1e-12)
    # with zero edges: flat away from the border (kernel reach = ceil(kH / s) input pixels)
    yz = _run(x, k, edge="zero")
    m = k.weight.shape[0]
    inner = yz[m : yz.shape[0] - m, m : yz.shape[1] - m]
    assert inner.size > 0
    np.testing.assert_allclose(inner, 3.25, rtol=0, atol=1e-12)


@pytest.mark.parametrize("edge", ["preset", "zero"])
def test_checkerboard_preset_is_not_flat(edge):
    """3x3 constant at stride 2: output rows receive 1 or 2 taps, so a flat image gives the
    phase pattern 4:2:2:1 (Odena et al.); the preset's constant is 2/3 per axis."""
    k = kernels.preset("checkerboard", 2)
    assert k.weight.shape == (3, 3)
    x = np.ones((6, 6))
    y = _run(x, k) if edge == "preset" else _run(x, k, edge="zero")
    assert y.shape == (12, 12)
    inner = y[2:-2, 2:-2]
    assert np.ptp(inner) > 0.5  # not flat
    taps = np.array([2 if o % 2 else 1 for o in range(12)])  # (o + p) even -> k in {0, 2}
    expected = (2 / 3) ** 2 * np.outer(taps, taps)
    np.testing.assert_allclose(inner, expected[2:-2, 2:-2], atol=1e-12)
    assert inner.mean() == pytest.approx(1.0)
    assert y[3, 3] / y[2, 2] == pytest.approx(4.0)
    assert y[3, 2] / y[2, 2] == pytest.approx(2.0)


def test_checkerboard_unnormalized_ones_kernel_pattern():
    """Before normalization: the 3x3 ones kernel gives interior phase sums 4, 2, 2, 1 and
    normalizing it gives the preset's weight."""
    y = upsamp.transconv(np.ones((5, 5)), np.ones((3, 3)), stride=2, padding=1, output_padding=1)
    inner = y[2:-2, 2:-2]
    assert sorted({float(v) for v in inner.ravel()}) == [1.0, 2.0, 4.0]
    assert y[3, 3] == 4 and y[3, 4] == 2 and y[4, 3] == 2 and y[4, 4] == 1
    normalized = kernels.normalize(kernels.Kernel(weight=np.ones((3, 3)), stride=(2, 2)))
    np.testing.assert_allclose(
        normalized.weight, kernels.preset("checkerboard", 2).weight, atol=1e-15
    )


@pytest.mark.parametrize("s", [2, 3, 4])
def test_checkerboard_preset_general_stride(s):
    """(s+1) taps at stride s: one phase gets 2 taps per axis, the others 1."""
    k = kernels.preset("checkerboard", s)
    assert k.weight.shape == (s + 1, s + 1)
    y = _run(np.ones((6, 6)), k)
    row = y[y.shape[0] // 2]
    assert np.ptp(row) > 0.1
    assert sorted(set(np.round(row / row.min(), 12))) == [1.0, 2.0]


def test_preset_errors():
    with pytest.raises(KernelError) as info:
        kernels.preset("lanczos", 2)
    assert "bilinear" in str(info.value)  # lists the presets
    for bad in (0, -1, 2.5):
        with pytest.raises(ParameterError):
            kernels.preset("bilinear", bad)


# --------------------------------------------------------------------------------------------
# same_size_geometry and resolve_kernel
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("s", [1, 2, 3, 4])
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 6, 7, 8])
@pytest.mark.parametrize("d", [1, 2])
def test_same_size_geometry(s, k, d):
    k_e = d * (k - 1) + 1
    excess = k_e - s
    if excess < 0 or (excess % 2 and s == 1 and d == 1):
        with pytest.raises(ParameterError):
            kernels.same_size_geometry(k_e, s, d)
        return
    p, op = kernels.same_size_geometry(k_e, s, d)
    assert p >= 0 and 0 <= op and (op < s or op < d)
    for h in (1, 2, 5):
        y = upsamp.transconv(
            np.ones((h, h + 1)), np.ones((k, k)), stride=s, padding=p, output_padding=op, dilation=d
        )
        assert y.shape == (h * s, (h + 1) * s)


def test_resolve_kernel(tmp_path):
    k = kernels.resolve_kernel("bicubic", 3)
    assert k.stride == (3, 3)
    np.testing.assert_array_equal(k.weight, kernels.preset("bicubic", 3).weight)
    path = tmp_path / "mine.npy"
    np.save(path, np.ones((2, 2)))
    loaded = kernels.resolve_kernel(str(path), 4)
    np.testing.assert_array_equal(loaded.weight, np.ones((2, 2)))
    with pytest.raises(KernelError):
        kernels.resolve_kernel("no-such-preset", 2)
    with pytest.raises(KernelError) as info:
        kernels.resolve_kernel(str(tmp_path / "missing.json"), 2)
    assert "missing.json" in str(info.value)


# --------------------------------------------------------------------------------------------
# Kernel files
# --------------------------------------------------------------------------------------------


def test_load_npy_2d(tmp_path):
    w = np.arange(6.0).reshape(2, 3)
    path = tmp_path / "k.npy"
    np.save(path, w)
    k = kernels.load_kernel(path)
    np.testing.assert_array_equal(k.weight, w)
    assert k.weight.dtype == np.float64
    assert k.stride == (1, 1) and k.padding == (0, 0) and k.edge == "zero"
    assert k.name == "k"


def test_load_npy_4d_int(tmp_path):
    w = np.arange(2 * 3 * 2 * 2).reshape(2, 3, 2, 2)
    path = tmp_path / "k4.npy"
    np.save(path, w)
    k = kernels.load_kernel(str(path))
    np.testing.assert_array_equal(k.weight, w)
    y = _run(np.ones((2, 2, 2)), k)
    assert y.shape == (3, 3, 3)


def test_load_json_bare_list(tmp_path):
    path = tmp_path / "k.json"
    path.write_text("[[1, 2], [3, 4.5]]")
    k = kernels.load_kernel(path)
    np.testing.assert_array_equal(k.weight, [[1, 2], [3, 4.5]])
    path4 = tmp_path / "k4.json"
    path4.write_text(json.dumps(np.ones((1, 2, 2, 2)).tolist()))
    assert kernels.load_kernel(path4).weight.shape == (1, 2, 2, 2)


def test_load_json_object_with_geometry(tmp_path):
    doc = {
        "weight": [[1, 1, 1], [1, 1, 1], [1, 1, 1]],
        "stride": 2,
        "padding": [1, 0],
        "output_padding": 1,
        "dilation": [1, 1],
        "bias": [0.5],
        "edge": "reflect",
    }
    path = tmp_path / "geo.json"
    path.write_text(json.dumps(doc))
    k = kernels.load_kernel(path)
    assert k.stride == (2, 2)
    assert k.padding == (1, 0)
    assert k.output_padding == (1, 1)
    assert k.dilation == (1, 1)
    assert k.edge == "reflect"
    np.testing.assert_array_equal(k.bias, [0.5])
    x = _image((3, 4), seed=1)
    y = _run(x, k)
    expected = upsamp.transconv(
        x, np.ones((3, 3)), stride=2, padding=(1, 0), output_padding=1, bias=0.5, edge="reflect"
    )
    np.testing.assert_array_equal(y, expected)
    assert y.shape == (2 * 2 - 2 + 2 + 1 + 1, 3 * 2 + 2 + 1 + 1)


def test_load_json_4d_with_groups_and_scalar_bias(tmp_path):
    w = np.random.default_rng(0).normal(size=(4, 1, 2, 2))
    path = tmp_path / "g.json"
    path.write_text(json.dumps({"weight": w.tolist(), "groups": 2, "bias": 1.0, "stride": [2, 2]}))
    k = kernels.load_kernel(path)
    assert k.groups == 2
    np.testing.assert_array_equal(k.bias, [1.0])
    x = _image((3, 3, 4), seed=2)
    y = upsamp.transconv(x, k.weight, stride=k.stride, groups=k.groups, bias=1.0)
    assert y.shape == (6, 6, 2)


def _write(tmp_path, name, content):
    path = tmp_path / name
    if isinstance(content, np.ndarray):
        np.save(path, content)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


BAD_FILES = {
    "npy_1d": ("k.npy", np.ones(3)),
    "npy_5d": ("k.npy", np.ones((1, 1, 1, 2, 2))),
    "npy_strings": ("k.npy", np.array([["a", "b"], ["c", "d"]])),
    "npy_empty": ("k.npy", np.zeros((0, 3))),
    "npy_nan": ("k.npy", np.array([[1.0, np.nan], [1.0, 1.0]])),
    "npy_inf": ("k.npy", np.array([[1.0, -np.inf], [1.0, 1.0]])),
    "npy_corrupt": ("k.npy", b"this is not an npy file"),
    "json_1d": ("k.json", "[1, 2, 3]"),
    "json_5d": ("k.json", "[[[[[1, 2], [3, 4]]]]]"),
    "json_padding_word": ("k.json", '{"weight": [[1, 1], [1, 1]], "padding": "valid"}'),
    "json_strings": ("k.json", '[["a", "b"], ["c", "d"]]'),
    "json_ragged": ("k.json", "[[1, 2], [3]]"),
    "json_empty_list": ("k.json", "[]"),
    "json_empty_rows": ("k.json", "[[]]"),
    "json_nan": ("k.json", "[[1, NaN], [1, 1]]"),
    "json_inf": ("k.json", '{"weight": [[1, Infinity], [1, 1]]}'),
    "json_unknown_key": ("k.json", '{"weight": [[1, 1], [1, 1]], "strides": 2}'),
    "json_invalid": ("k.json", '{"weight": [[1, 1], [1, 1]'),
    "json_no_weight": ("k.json", '{"stride": 2}'),
    "json_scalar": ("k.json", "3"),
    "json_op_ge_stride": (
        "k.json",
        '{"weight": [[1, 1], [1, 1]], "stride": 2, "output_padding": 2}',
    ),
    "json_op_ge_stride_pair": (
        "k.json",
        '{"weight": [[1, 1], [1, 1]], "stride": [2, 3], "output_padding": [1, 3]}',
    ),
    "json_stride_zero": ("k.json", '{"weight": [[1, 1], [1, 1]], "stride": 0}'),
    "json_negative_padding": ("k.json", '{"weight": [[1, 1], [1, 1]], "padding": -1}'),
    "json_bad_edge": ("k.json", '{"weight": [[1, 1], [1, 1]], "edge": "wrap"}'),
    "json_bad_groups": ("k.json", '{"weight": [[[[1]]]], "groups": 0}'),
    "json_bad_stride_type": ("k.json", '{"weight": [[1, 1], [1, 1]], "stride": "2"}'),
    "json_nan_bias": ("k.json", '{"weight": [[1, 1], [1, 1]], "bias": [NaN]}'),
    "wrong_suffix": ("k.txt", "[[1, 2], [3, 4]]"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_kernel_files(tmp_path, case):
    name, content = BAD_FILES[case]
    path = _write(tmp_path, name, content)
    with pytest.raises(KernelError) as info:
        kernels.load_kernel(path)
    message = str(info.value)
    assert str(path) in message
    assert "\n" not in message


def test_3d_weights_load_but_are_no_transposed_convolution(tmp_path):
    """A 3-D weight is a pixel-shuffle kernel (S², kH, kW): a file holds it, build_kernel (the
    transposed convolution's builder) refuses it naming the file."""
    path = _write(tmp_path, "k.json", "[[[1, 2], [3, 4]]]")
    assert kernels.load_kernel(path).weight.shape == (1, 2, 2)
    with pytest.raises(KernelError, match="3-D kernel") as info:
        kernels.build_kernel(str(path), stride=2)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_json_padding_same_is_the_same_size_geometry(tmp_path):
    """``"padding": "same"`` in a file is what --padding same does on the command line."""
    path = _write(tmp_path, "k.json", '{"weight": [[1, 2, 1], [2, 4, 2], [1, 2, 1]], '
                  '"stride": 2, "padding": "same"}')
    loaded = kernels.load_kernel(path)
    assert loaded.padding == "same" and "padding" in loaded.stated
    built = kernels.build_kernel(str(path), stride=None)
    flag = kernels.build_kernel(str(path), stride=None, padding="same")
    assert built.padding == flag.padding and built.output_padding == flag.output_padding
    x = np.arange(20.0).reshape(4, 5)
    assert upsamp.transconv(x, built.weight, **built.transconv_kwargs()).shape == (8, 10)
    assert kernels.save_kernel(loaded, "k.json")["padding"] == "same"


def test_missing_kernel_file(tmp_path):
    path = tmp_path / "absent.npy"
    with pytest.raises(KernelError) as info:
        kernels.load_kernel(path)
    assert str(path) in str(info.value)
    with pytest.raises(KernelError):
        kernels.load_kernel(tmp_path)  # a directory


def test_json_op_below_dilation_is_fine(tmp_path):
    path = _write(
        tmp_path, "k.json", '{"weight": [[1, 1], [1, 1]], "dilation": 3, "output_padding": 2}'
    )
    k = kernels.load_kernel(path)
    assert k.output_padding == (2, 2) and k.dilation == (3, 3)


# --------------------------------------------------------------------------------------------
# normalize
# --------------------------------------------------------------------------------------------


def _interior_period_mean(y, s, margin):
    """Mean of an s x s block (one full set of phases) away from the borders, per channel."""
    block = y[margin : margin + s, margin : margin + s]
    return block.reshape(s * s, -1).mean(axis=0)


@pytest.mark.parametrize("s", [1, 2, 3])
def test_normalize_2d(s):
    w = np.random.default_rng(s).uniform(0.1, 1.0, size=(s + 2, s + 1))
    k = kernels.normalize(kernels.Kernel(weight=w, stride=(s, s)))
    assert k.weight.sum() / s**2 == pytest.approx(1.0)
    np.testing.assert_allclose(k.weight / w, (k.weight / w).flat[0])  # only rescaled
    assert k.stride == (s, s)
    y = upsamp.transconv(np.ones((9, 9)), k.weight, stride=s)
    assert _interior_period_mean(y, s, 3 * s)[0] == pytest.approx(1.0)


def test_normalize_rectangular_stride():
    w = np.ones((4, 6))
    k = kernels.normalize(kernels.Kernel(weight=w, stride=(2, 3)))
    assert k.weight.sum() == pytest.approx(6.0)


def test_normalize_4d_with_groups():
    rng = np.random.default_rng(5)
    w = rng.uniform(0.1, 1.0, size=(4, 3, 3, 3))  # C_in = 4, groups = 2 -> C_out = 6
    s = 2
    k = kernels.normalize(kernels.Kernel(weight=w, stride=(s, s), groups=2))
    nw = k.weight
    assert nw.shape == w.shape
    for co in range(6):
        g, col = divmod(co, 3)
        assert nw[2 * g : 2 * g + 2, col].sum() == pytest.approx(s * s)
    # functional check: a flat 4-channel image gives mean 1 over a period on every channel
    y = upsamp.transconv(np.ones((8, 8, 4)), nw, stride=s, groups=2)
    np.testing.assert_allclose(_interior_period_mean(y, s, 6), 1.0, atol=1e-12)


def test_normalize_4d_default_groups():
    w = np.ones((2, 2, 2, 2))
    w[:, 1] *= 3.0
    k = kernels.normalize(kernels.Kernel(weight=w, stride=(2, 2)))
    np.testing.assert_allclose(k.weight[:, 0].sum(), 4.0)
    np.testing.assert_allclose(k.weight[:, 1].sum(), 4.0)


def test_normalize_zero_sum():
    with pytest.raises(KernelError):
        kernels.normalize(
            kernels.Kernel(weight=np.array([[1.0, -1.0], [2.0, -2.0]]), stride=(2, 2))
        )
    w = np.ones((2, 2, 2, 2))
    w[:, 1] = np.array([[1.0, -1.0], [1.0, -1.0]])
    with pytest.raises(KernelError):
        kernels.normalize(kernels.Kernel(weight=w, stride=(2, 2)))


def test_normalize_presets_is_idempotent():
    for name in ["bilinear", "bicubic", "gaussian", "nearest"]:
        k = kernels.preset(name, 3)
        np.testing.assert_allclose(kernels.normalize(k).weight, k.weight, atol=1e-12)
