"""The views of ``upsamp explain`` against independent computations written here (and PyTorch or
the ONNX reference evaluator when installed)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference_impl import conv_matrix, loop_bilinear, scatter_transconv, strided_correlate

import upsamp
from upsamp.diagnostics import analyze_kernel
from upsamp.explain import ALL_VIEWS, applicable_views
from upsamp.explain.arrays import parse_array
from upsamp.explain.views import (
    Geometry,
    ViewMismatch,
    explain,
    gather,
    keras_candidates,
    matrix,
    onnx_alternatives,
    scatter,
)
from upsamp.kernels import Kernel, preset

SEED_X = np.array([[1.0, 2.0], [3.0, 4.0]])


def kernel_of(weight, stride=1, padding=0, output_padding=0, dilation=1) -> Kernel:
    return Kernel(weight=np.asarray(weight, dtype=np.float64)).with_overrides(
        stride=stride, padding=padding, output_padding=output_padding, dilation=dilation
    )


def reference(x, weight, g: Geometry) -> np.ndarray:
    """The plain-loop scatter of tests/reference_impl.py (one channel)."""
    return scatter_transconv(
        x[:, :, None], np.asarray(weight)[None, None], g.stride, g.padding, g.output_padding,
        g.dilation,
    )[:, :, 0]  # fmt: skip


def evaluate(formula: str) -> tuple[float, float]:
    """``(sum of the terms, the value after the last '=')`` of a gather formula."""
    _, rest = formula.split(" = ", 1)
    terms, result = rest.rsplit(" = ", 1)
    total = 0.0
    for term in terms.split(" + "):
        a, b = term.split("·")
        total += float(a.strip("()")) * float(b.strip("()"))
    return total, float(result.strip("()"))


@st.composite
def geometries(draw):
    """A small input, kernel and valid transposed-convolution geometry (output >= 1)."""
    h, w = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    op = tuple(draw(st.integers(0, max(s[a], d[a]) - 1)) for a in range(2))
    full = ((h - 1) * s[0] + d[0] * (kh - 1) + 1, (w - 1) * s[1] + d[1] * (kw - 1) + 1)
    p = tuple(draw(st.integers(0, (full[a] + op[a] - 1) // 2)) for a in range(2))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    x = rng.integers(-4, 6, size=(h, w)).astype(np.float64)
    k = rng.integers(-3, 5, size=(kh, kw)).astype(np.float64)
    return x, k, Geometry(s, p, op, d)


def explain_transconv(x, k, g: Geometry, **kw) -> dict:
    kernel = kernel_of(k, g.stride, g.padding, g.output_padding, g.dilation)
    return explain("transconv", x, kernel=kernel, **kw)


# --------------------------------------------------------------------------------------------
# scatter
# --------------------------------------------------------------------------------------------


def test_scatter_reproduces_the_fives_example_partial_by_partial():
    doc = explain_transconv(SEED_X, np.full((2, 2), 5.0), Geometry())
    partials = doc["scatter"]["partials"]
    # 000_fa2b601cadd88f57.txt: 1·K at the top left, 2·K shifted right, 3·K down, 4·K both
    assert [p["partial"] for p in partials] == [
        [[5, 5, 0], [5, 5, 0], [0, 0, 0]],
        [[0, 10, 10], [0, 10, 10], [0, 0, 0]],
        [[0, 0, 0], [15, 15, 0], [15, 15, 0]],
        [[0, 0, 0], [0, 20, 20], [0, 20, 20]],
    ]
    assert doc["scatter"]["full"] == [[5, 15, 10], [20, 50, 30], [15, 35, 20]]
    assert doc["output"] == doc["scatter"]["full"]
    assert doc["scatter"]["crop"] == [0, 0, 0, 0]


@settings(max_examples=60, deadline=None)
@given(geometries())
def test_scatter_partials_sum_and_crop_to_the_result(case):
    x, k, g = case
    doc = explain_transconv(x, k, g, views=["scatter"])
    view = doc["scatter"]
    partials = np.array([p["partial"] for p in view["partials"]], dtype=np.float64)
    assert len(view["partials"]) == x.size
    for item, partial in zip(view["partials"], partials, strict=True):
        i, j = item["at"]
        assert item["value"] == x[i, j]
        assert item["offset"] == [i * g.stride[0], j * g.stride[1]]
        # exactly x[i,j]·K (dilated) at the offset, nothing elsewhere
        expected = np.zeros_like(partial)
        for a in range(k.shape[0]):
            for b in range(k.shape[1]):
                expected[i * g.stride[0] + a * g.dilation[0], j * g.stride[1] + b * g.dilation[1]] \
                    += x[i, j] * k[a, b]
        np.testing.assert_array_equal(partial, expected)
    full = partials.sum(axis=0)
    np.testing.assert_array_equal(np.array(view["full"], dtype=np.float64), full)
    top, left, bottom, right = view["crop"]
    assert (top, left) == g.padding
    assert (bottom, right) == tuple(g.padding[a] - g.output_padding[a] for a in range(2))
    # crop by hand: rows top .. len - bottom, zeros past the end when bottom < 0
    pad_rows, pad_cols = max(-bottom, 0), max(-right, 0)
    grown = np.pad(full, ((0, pad_rows), (0, pad_cols)))
    cropped = grown[top : grown.shape[0] - max(bottom, 0), left : grown.shape[1] - max(right, 0)]
    ref = reference(x, k, g)
    np.testing.assert_allclose(cropped, ref, atol=1e-9)
    np.testing.assert_allclose(np.array(doc["output"], dtype=np.float64), ref, atol=1e-9)


# --------------------------------------------------------------------------------------------
# gather
# --------------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(geometries())
def test_gather_formulas_evaluate_to_the_result(case):
    x, k, g = case
    doc = explain_transconv(x, k, g, views=["gather"])
    view = doc["gather"]
    ref = reference(x, k, g)
    assert len(view["formulas"]) == ref.size
    values = []
    for n, formula in enumerate(view["formulas"]):
        r, c = divmod(n, ref.shape[1])
        assert formula.startswith(f"y[{r},{c}] = ")
        assert formula.count("·") == k.size
        total, shown = evaluate(formula)
        assert math.isclose(total, shown, rel_tol=1e-9, abs_tol=1e-9)
        values.append(total)
    np.testing.assert_allclose(np.reshape(values, ref.shape), ref, atol=1e-9)
    assert view["flipped_kernel"] == k[::-1, ::-1].tolist()
    # the expanded input correlated (stride 1, dilation d) with the flipped kernel is the result
    expanded = np.array(view["expanded_input"], dtype=np.float64)
    again = strided_correlate(expanded, k[::-1, ::-1], 1, 0, g.dilation)
    np.testing.assert_allclose(again, ref, atol=1e-9)


def test_gather_expanded_input_of_the_seed_stride_two_example():
    # 003_69796fc647406eca.txt: stride 2 puts one zero between the input values; a 3×3 kernel
    # without padding adds two rows/columns of zeros around them
    x = np.array([[3.0, 3.0], [1.0, 1.0]])
    k = np.array([[1.0, 2.0, 3.0], [0.0, 1.0, 0.0], [2.0, 1.0, 2.0]])
    view = explain_transconv(x, k, Geometry(stride=(2, 2)), views=["gather"])["gather"]
    expected = np.zeros((7, 7))
    expected[2, 2], expected[2, 4], expected[4, 2], expected[4, 4] = 3, 3, 1, 1
    assert view["expanded_input"] == expected.astype(int).tolist()
    assert view["pad"] == [2, 2, 2, 2]
    assert evaluate(view["formulas"][0]) == (3.0, 3.0)


# --------------------------------------------------------------------------------------------
# matrix
# --------------------------------------------------------------------------------------------


def one_hot_matrix(in_shape, k, g: Geometry) -> np.ndarray:
    """C built by feeding one-hot inputs through upsamp.transconv: row n is the output of e_n."""
    rows = []
    for n in range(in_shape[0] * in_shape[1]):
        e = np.zeros(in_shape)
        e.flat[n] = 1.0
        y = upsamp.transconv(e, k, stride=g.stride, padding=g.padding,
                             output_padding=g.output_padding, dilation=g.dilation)
        rows.append(y.ravel())
    return np.array(rows)


@settings(max_examples=40, deadline=None)
@given(geometries())
def test_matrix_equals_one_hot_responses_and_gives_y(case):
    x, k, g = case
    view = explain_transconv(x, k, g, views=["matrix"], products=True)["matrix"]
    c = np.array(view["C"], dtype=np.float64)
    np.testing.assert_allclose(c, one_hot_matrix(x.shape, k, g), atol=1e-12)
    np.testing.assert_array_equal(np.array(view["C_T"], dtype=np.float64), c.T)
    np.testing.assert_allclose(c.T @ x.ravel(), reference(x, k, g).ravel(), atol=1e-9)
    np.testing.assert_allclose(np.array(view["CC_T"], dtype=np.float64), c @ c.T, atol=1e-9)
    np.testing.assert_allclose(np.array(view["C_TC"], dtype=np.float64), c.T @ c, atol=1e-9)


def test_matrix_reproduces_the_seed_convolution_matrix_and_products():
    k = np.arange(1.0, 10.0).reshape(3, 3)
    view = explain_transconv(np.ones((2, 2)), k, Geometry(), views=["matrix"], products=True)
    c = np.array(view["matrix"]["C"])
    # 002_cd11aa5df4666d0d.txt: the convolution of a 4×4 image with this kernel, as printed
    printed_c = [
        [1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 0, 0, 0, 0],
        [0, 1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 0, 0, 0],
        [0, 0, 0, 0, 1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0],
        [0, 0, 0, 0, 0, 1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9],
    ]
    assert c.tolist() == printed_c
    np.testing.assert_array_equal(c, conv_matrix(k, (4, 4)))
    assert np.array(view["matrix"]["C_T"]).T.tolist() == printed_c
    # "AB" (C·Cᵀ) in full, and the rows of "BA" (Cᵀ·C) that the seed prints
    assert view["matrix"]["CC_T"] == [
        [285, 186, 154, 94],
        [186, 285, 106, 154],
        [154, 106, 285, 186],
        [94, 154, 186, 285],
    ]
    ba = view["matrix"]["C_TC"]
    assert ba[0] == [1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 0, 0, 0, 0]
    assert ba[1] == [2, 5, 8, 3, 8, 14, 17, 6, 14, 23, 26, 9, 0, 0, 0, 0]
    assert ba[2] == [3, 8, 13, 6, 12, 23, 28, 12, 21, 38, 43, 18, 0, 0, 0, 0]
    assert ba[13] == [0, 0, 0, 0, 8, 23, 38, 21, 32, 68, 83, 42, 56, 113, 128, 63]
    assert ba[14] == [0, 0, 0, 0, 9, 26, 43, 24, 36, 77, 94, 48, 63, 128, 145, 72]
    assert ba[15] == [0, 0, 0, 0, 0, 9, 18, 27, 0, 36, 45, 54, 0, 63, 72, 81]


# --------------------------------------------------------------------------------------------
# phases
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "stride", "padding", "dilation"),
    [((3, 3), 2, 0, 1), ((4, 4), 2, 1, 1), ((3, 5), 3, 1, 1), ((3, 3), 2, 0, 2), ((2, 2), 3, 0, 1)],
)
def test_phase_sums_equal_the_analysis_and_a_flat_input(shape, stride, padding, dilation):
    rng = np.random.default_rng(sum(shape) + stride)
    k = rng.integers(1, 9, size=shape).astype(np.float64)
    g = Geometry((stride, stride), (padding, padding), (0, 0), (dilation, dilation))
    doc = explain_transconv(np.ones((2, 2)), k, g, views=["phases"])
    items = doc["phases"]
    assert [item["phase"] for item in items] == [
        [p, q] for p in range(stride) for q in range(stride)
    ]
    analysis = analyze_kernel(k, stride=stride, padding=padding, dilation=dilation)
    # a flat input far from the borders: output (r, c) is the sum of phase (r mod s, c mod s)
    flat = upsamp.transconv(np.ones((12, 12)), k, stride=stride, padding=padding,
                            dilation=dilation)
    for item in items:
        p, q = item["phase"]
        sub = np.array(item["kernel"], dtype=np.float64).reshape(len(item["rows"]),
                                                                 len(item["cols"]))
        np.testing.assert_array_equal(sub, k[np.ix_(item["rows"], item["cols"])])
        assert math.isclose(item["sum"], sub.sum())
        assert math.isclose(item["sum"], analysis.phase_sums[0, p, q])
        r = 3 * stride * dilation + p
        c = 3 * stride * dilation + q
        assert math.isclose(flat[r, c], item["sum"])
    verdict = doc["phase_verdict"]
    assert verdict["artifact_free"] == analysis.artifact_free
    assert verdict["explanation"] == analysis.explain()


def test_checkerboard_verdict_in_words():
    doc = explain_transconv(np.ones((2, 2)), np.ones((3, 3)), Geometry(stride=(2, 2)),
                            views=["phases"])
    assert [item["sum"] for item in doc["phases"]] == [4, 2, 2, 1]
    assert doc["phase_verdict"]["artifact_free"] is False
    assert "4:2:2:1" in doc["phase_verdict"]["explanation"]
    clean = explain_transconv(np.ones((2, 2)), np.ones((4, 4)), Geometry(stride=(2, 2)),
                              views=["phases"])
    assert clean["phase_verdict"]["artifact_free"] is True


# --------------------------------------------------------------------------------------------
# size
# --------------------------------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(geometries())
def test_size_equals_the_real_output_shape(case):
    x, k, g = case
    view = explain_transconv(x, k, g, views=["size"])["size"]
    real = upsamp.transconv(x, k, stride=g.stride, padding=g.padding,
                            output_padding=g.output_padding, dilation=g.dilation).shape
    assert tuple(view["output_shape"]) == real
    for axis, line in enumerate(view["formula"].split("; ")):
        assert line.endswith(f"= {real[axis]}")
    # the ordinary convolution back down returns to the input size (output_padding < stride)
    for axis, line in enumerate(view["conv_formula"].split("; ")):
        if g.output_padding[axis] < g.stride[axis]:
            assert line.endswith(f"= {x.shape[axis]}")


def test_size_of_the_seed_examples():
    # 000_fa2b601cadd88f57.txt: (2 − 1)·1 − 2·0 + 2 = 3, and back: 1 + (5 − 3 + 0)/1 = 3
    view = explain_transconv(SEED_X, np.full((2, 2), 5.0), Geometry(), views=["size"])["size"]
    assert view["formula"].endswith("= 3") and view["output_shape"] == [3, 3]
    down = explain_transconv(np.ones((3, 3)), np.ones((3, 3)), Geometry(), views=["size"])
    assert down["size"]["conv_formula"] == (
        "H = W = 1 + ⌊(H_out − k + 2p)/s⌋ = 1 + ⌊(5 − 3 + 2·0)/1⌋ = 3"
    )


@settings(max_examples=40, deadline=None)
@given(geometries())
def test_pytorch_setting_gives_the_same_result(case):
    torch = pytest.importorskip("torch")
    x, k, g = case
    doc = explain_transconv(x, k, g, views=["size"])
    layer = eval(  # noqa: S307 - the setting is the tested output
        doc["size"]["frameworks"]["pytorch"].split(" with ")[0], {"torch": torch}
    ).double()
    with torch.no_grad():
        layer.weight[0, 0] = torch.from_numpy(k)
        y = layer(torch.from_numpy(x)[None, None])[0, 0].numpy()
    assert list(y.shape) == doc["size"]["output_shape"]
    np.testing.assert_allclose(y, np.array(doc["output"], dtype=np.float64), atol=1e-9)


def _onnx_run(x, k, attributes):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper
    from onnx.reference import ReferenceEvaluator

    node = helper.make_node("ConvTranspose", ["X", "W"], ["Y"], **attributes)
    graph = helper.make_graph(
        [node],
        "explain",
        [
            helper.make_tensor_value_info("X", TensorProto.DOUBLE, [1, 1, *x.shape]),
            helper.make_tensor_value_info("W", TensorProto.DOUBLE, [1, 1, *k.shape]),
        ],
        [helper.make_tensor_value_info("Y", TensorProto.DOUBLE, ["n", "c", "h", "w"])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    assert onnx.checker.check_model(model) is None
    return ReferenceEvaluator(model).run(None, {"X": x[None, None], "W": k[None, None]})[0][0, 0]


@pytest.mark.parametrize(
    ("in_shape", "k_shape", "g"),
    [
        ((2, 2), (2, 2), Geometry()),
        ((3, 3), (3, 3), Geometry((2, 2), (1, 1), (1, 1))),
        ((3, 3), (4, 4), Geometry((2, 2), (1, 1))),
        ((2, 3), (3, 2), Geometry((2, 3), (1, 0), (0, 2))),
        ((3, 2), (3, 3), Geometry((3, 2), (2, 1), (1, 1), (1, 2))),
        ((4, 4), (3, 3), Geometry(padding=(2, 2))),
    ],
)
def test_every_onnx_setting_gives_the_same_result(in_shape, k_shape, g):
    pytest.importorskip("onnx")
    rng = np.random.default_rng(7)
    x = rng.integers(0, 5, size=in_shape).astype(np.float64)
    k = rng.integers(0, 5, size=k_shape).astype(np.float64)
    expected = reference(x, k, g)
    found = onnx_alternatives(in_shape, k_shape, g)
    assert "pads" in found[0]
    for attributes in found:
        np.testing.assert_allclose(_onnx_run(x, k, attributes), expected, atol=1e-9)


def test_keras_settings_follow_the_documented_crops():
    # k=4, s=2, p=1: PyTorch and TF/Keras SAME agree (output 2i, op = 0)
    assert ("same", None) in keras_candidates(5, 4, 2, 1, 0, 1)
    # k=3, s=2, p=1, op=1 gives 2i too, but SAME crops full[0:2i] where PyTorch takes
    # full[1:2i+1]: no 'same' setting may be offered
    assert not [c for c in keras_candidates(5, 3, 2, 1, 1, 1) if c[0] == "same"]
    # no padding: 'valid' (Keras crops nothing)
    assert ("valid", None) in keras_candidates(2, 2, 1, 0, 0, 1)


# --------------------------------------------------------------------------------------------
# weights
# --------------------------------------------------------------------------------------------


def apply_weights(x: np.ndarray, view: dict) -> np.ndarray:
    out = np.zeros((len(view["rows"]), len(view["cols"])))
    for r, row in enumerate(view["rows"]):
        for c, col in enumerate(view["cols"]):
            out[r, c] = sum(a * b * x[i, j] for i, a in row["taps"] for j, b in col["taps"])
    return out


@pytest.mark.parametrize("stride", [2, 3, 4])
@pytest.mark.parametrize("shape", [(2, 2), (3, 5), (1, 4)])
def test_bilinear_weights_applied_by_hand_equal_bilinear(stride, shape):
    x = np.random.default_rng(stride).integers(0, 50, size=shape).astype(np.float64)
    view = explain("bilinear", x, stride=stride)["weights"]
    np.testing.assert_allclose(apply_weights(x, view), upsamp.bilinear(x, stride), atol=1e-9)
    np.testing.assert_allclose(
        apply_weights(x, view), loop_bilinear(x, shape[0] * stride, shape[1] * stride),
        atol=1e-9,
    )
    for item in view["rows"]:
        assert math.isclose(sum(w for _, w in item["taps"]), 1.0)
        assert math.isclose(item["source"], (item["out"] + 0.5) / stride - 0.5)


def test_bilinear_weights_at_x2_are_three_quarters_and_a_quarter():
    view = explain("bilinear", np.array([[10.0, 20.0], [30.0, 40.0]]), stride=2)["weights"]
    assert [item["taps"] for item in view["cols"]] == [
        [[0, 1]],
        [[0, 0.75], [1, 0.25]],
        [[0, 0.25], [1, 0.75]],
        [[1, 1]],
    ]
    assert [item["source"] for item in view["cols"]] == [-0.25, 0.25, 0.75, 1.25]


def test_align_corners_weights_equal_pytorch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(3).integers(0, 50, size=(3, 4)).astype(np.float64)
    view = explain("bilinear", x, stride=2, align_corners=True)["weights"]
    expected = torch.nn.functional.interpolate(
        torch.from_numpy(x)[None, None], scale_factor=2, mode="bilinear", align_corners=True
    )[0, 0].numpy()
    np.testing.assert_allclose(apply_weights(x, view), expected, atol=1e-9)
    assert view["rows"][-1]["source"] == 2


def test_nearest_weights_and_scatter_equal_nearest():
    x = np.random.default_rng(5).integers(0, 9, size=(3, 2)).astype(np.float64)
    doc = explain("nearest", x, stride=3)
    expected = np.repeat(np.repeat(x, 3, axis=0), 3, axis=1)
    np.testing.assert_array_equal(apply_weights(x, doc["weights"]), expected)
    np.testing.assert_array_equal(np.array(doc["scatter"]["full"]), expected)
    assert doc["kernel"] == np.ones((3, 3)).tolist()


def test_bed_of_nails_is_a_transposed_convolution_with_one_tap():
    doc = explain("bed-of-nails", SEED_X, stride=2)
    assert doc["output"] == [[1, 0, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]]
    assert doc["kernel"] == [[1, 0], [0, 0]]
    assert [item["sum"] for item in doc["phases"]] == [1, 0, 0, 0]
    assert doc["phase_verdict"]["artifact_free"] is False


# --------------------------------------------------------------------------------------------
# pool
# --------------------------------------------------------------------------------------------

SEED_GUIDE = np.array([[1.0, 2, 4, 1], [3, 4, 2, 3], [1, 4, 1, 2], [2, 3, 4, 3]])


def test_pool_view_of_the_seed_example():
    doc = explain("max-unpool", SEED_X, guide=SEED_GUIDE, stride=2)
    view = doc["pool"]
    # 000_fa2b601cadd88f57.txt: the maxima (all 4) and where they were, then the unpooled array
    assert view["pooled"] == [[4, 4], [4, 4]]
    assert view["mask"] == [[0, 0, 1, 0], [0, 1, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]
    assert view["indices"] == [[5, 2], [9, 14]]
    assert doc["output"] == [[0, 0, 2, 0], [0, 1, 0, 0], [0, 3, 0, 0], [0, 0, 4, 0]]
    assert view["unpooled"] == doc["output"]


@pytest.mark.parametrize("stride", [2, 3])
def test_pool_view_equals_torch_max_pool_with_indices(stride):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(stride)
    guide = rng.integers(0, 4, size=(7, 8)).astype(np.float64)  # many ties, ragged edges
    view = explain("max-unpool", guide=guide, stride=stride)["pool"]
    pooled, indices = torch.nn.functional.max_pool2d(
        torch.from_numpy(guide)[None, None], stride, return_indices=True
    )
    assert view["pooled"] == pooled[0, 0].numpy().tolist()
    assert view["indices"] == indices[0, 0].numpy().tolist()
    mask = np.zeros(guide.size, dtype=int)
    mask[indices[0, 0].numpy().ravel()] = 1
    assert view["mask"] == mask.reshape(guide.shape).tolist()


# --------------------------------------------------------------------------------------------
# the whole explanation, and its self-checks
# --------------------------------------------------------------------------------------------


def test_views_detect_a_wrong_result():
    x, k = SEED_X, np.full((2, 2), 5.0)
    wrong = upsamp.transconv(x, k) + np.eye(3)
    with pytest.raises(ViewMismatch):
        scatter(x, k, Geometry(), wrong)
    with pytest.raises(ViewMismatch):
        gather(x, k, Geometry(), wrong)
    with pytest.raises(ViewMismatch):
        matrix(x, k, Geometry(), wrong)


#: Built-in methods explain has no view for (none now: bicubic and Lanczos have weights).
WITHOUT_VIEWS: set[str] = set()


def test_applicable_views_cover_every_built_in_method():
    for name in upsamp.available_methods():
        plan = applicable_views(name)
        if name in WITHOUT_VIEWS:
            assert not plan.views
            with pytest.raises(upsamp.ParameterError, match="no views"):
                explain(name, SEED_X)
            continue
        assert plan.views, name
        assert set(plan.views) <= set(ALL_VIEWS)
        doc = explain(name, SEED_X, guide=SEED_GUIDE if "pool" in plan.views else None)
        assert set(plan.views) <= set(doc)
        if plan.as_transconv is not None:
            kernel = plan.as_transconv((2, 2))
            np.testing.assert_allclose(
                upsamp.transconv(SEED_X, kernel.weight, **kernel.transconv_kwargs()),
                np.array(doc["output"]),
            )


@pytest.mark.parametrize("edge", ["replicate", "reflect"])
@pytest.mark.parametrize(
    ("shape", "k_shape", "g"),
    [
        ((2, 2), (4, 4), Geometry((2, 2), (1, 1))),
        ((3, 2), (3, 3), Geometry((2, 2), (1, 1), (1, 1))),
        ((2, 3), (3, 2), Geometry((3, 1), (0, 1), (2, 0), (1, 2))),
        ((3, 3), (2, 2), Geometry((1, 1))),
    ],
)
def test_edge_modes_are_explained_on_the_extended_input(edge, shape, k_shape, g):
    rng = np.random.default_rng(11)
    x = rng.integers(0, 9, size=shape).astype(np.float64)
    k = rng.integers(1, 5, size=k_shape).astype(np.float64)
    kernel = kernel_of(k, g.stride, g.padding, g.output_padding, g.dilation).with_overrides(
        edge=edge
    )
    doc = explain("transconv", x, kernel=kernel, products=True)
    expected = upsamp.transconv(x, k, **kernel.transconv_kwargs())
    np.testing.assert_allclose(np.array(doc["output"], dtype=float), expected, atol=1e-9)
    m = doc["edge"]["margin"]
    extended = np.pad(x, ((m[0], m[0]), (m[1], m[1])), mode="edge" if edge == "replicate"
                      else "reflect")
    assert doc["edge"]["input"] == extended.tolist()
    wide = Geometry(g.stride, tuple(doc["edge"]["padding"]), g.output_padding, g.dilation)
    np.testing.assert_allclose(reference(extended, k, wide), expected, atol=1e-9)
    c = np.array(doc["matrix"]["C"], dtype=float)
    np.testing.assert_allclose(c.T @ extended.ravel(), expected.ravel(), atol=1e-9)
    for formula, value in zip(doc["gather"]["formulas"], expected.ravel(), strict=True):
        assert math.isclose(evaluate(formula)[0], value, abs_tol=1e-9)


def test_bilinear_is_explained_as_its_transposed_convolution():
    x = np.array([[10.0, 20.0], [30.0, 40.0]])
    doc = explain("bilinear", x, stride=2)
    assert {"weights", "scatter", "gather", "matrix", "phases", "size"} <= set(doc)
    assert doc["kernel"] == preset("bilinear", 2).weight.tolist()
    assert doc["edge"]["mode"] == "replicate"
    assert [item["sum"] for item in doc["phases"]] == [1, 1, 1, 1]
    corners = explain("bilinear", x, stride=2, align_corners=True)
    assert "scatter" not in corners and "weights" in corners
    with pytest.raises(upsamp.ParameterError, match="not a transposed convolution"):
        explain("bilinear", x, stride=2, align_corners=True, views=["scatter"])


def test_a_view_that_does_not_apply_is_refused():
    with pytest.raises(upsamp.ParameterError, match="pool view does not apply to bilinear"):
        explain("bilinear", SEED_X, views=["pool"])
    with pytest.raises(upsamp.ParameterError, match="scatter view does not apply to max-unpool"):
        explain("max-unpool", SEED_X, guide=SEED_GUIDE, views=["scatter"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[1,2],[3,4]]", [[1, 2], [3, 4]]),
        ("1 2; 3 4", [[1, 2], [3, 4]]),
        ("1,2;3,4;", [[1, 2], [3, 4]]),
        ("[1.5, -2]", [[1.5, -2]]),
        ("7", [[7]]),
    ],
)
def test_parse_array_inline(text, expected):
    assert parse_array(text).tolist() == expected


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[[1,2],[3]]", "ragged"),
        ("1 2; 3", "ragged"),
        ("[[1,'a']]", "JSON"),
        ('[[1,"a"]]', "not a number"),
        ("1 x; 3 4", "not a number"),
        ("[]", "empty"),
        ("[[]]", "empty"),
        (";", "empty"),
        ("[[1, true]]", "not a number"),
        ("[[[1]]]", "2-D"),
        ("[[NaN, 1]]", "finite"),
        ("[" + ",".join(["[" + ",".join(["1"] * 17) + "]"] * 2) + "]", "up to 16×16"),
    ],
)
def test_parse_array_errors_are_one_line(text, needle):
    with pytest.raises(upsamp.InputError) as info:
        parse_array(text, name="--input")
    message = str(info.value)
    assert needle in message and "\n" not in message and message.startswith("--input")


def test_parse_array_files(tmp_path):
    np.save(tmp_path / "a.npy", np.array([[1, 2], [3, 4]], dtype=np.int16))
    (tmp_path / "a.json").write_text("[[1, 2], [3, 4]]")
    (tmp_path / "a.csv").write_text("1,2\n3,4\n")
    (tmp_path / "a.txt").write_text("1 2\n\n3 4\n")
    for name in ("a.npy", "a.json", "a.csv", "a.txt"):
        assert parse_array(str(tmp_path / name)).tolist() == [[1, 2], [3, 4]], name
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(upsamp.InputError, match="not a readable .npy"):
        parse_array(str(tmp_path / "obj.npy"))
    with pytest.raises(upsamp.InputError, match="no such file"):
        parse_array(str(tmp_path / "missing.csv"))
