"""The ``weights`` view of ``upsamp explain`` for bicubic and Lanczos (and the tap tables every
separable method declares), against taps computed here from the kernels' formulas, the
library's own results and PyTorch's bicubic interpolation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from upsamp.explain.views import explain
from upsamp.methods import MethodOptions, get_method
from upsamp.methods.cubic import bicubic
from upsamp.methods.lanczos import lanczos

from .reference_impl import keys_cubic


def apply_taps(x: np.ndarray, view: dict) -> np.ndarray:
    """``y[r, c] = Σ a·b·x[i, j]`` over the row's taps ``(i, a)`` and the column's ``(j, b)``."""
    y = np.zeros((len(view["rows"]), len(view["cols"])))
    for r, row in enumerate(view["rows"]):
        for c, col in enumerate(view["cols"]):
            y[r, c] = sum(a * b * x[i, j] for i, a in row["taps"] for j, b in col["taps"])
    return y


def cubic_axis(n: int, n_out: int, step: float, a: float, align_corners: bool) -> list[dict]:
    """Per output: Keys' weights of the four samples around ``u``, indices clamped into the
    image and equal indices added (PyTorch's ``upsample_bicubic2d`` access rule)."""
    entries = []
    for o in range(n_out):
        if align_corners:
            u = o * (n - 1) / (n_out - 1) if n_out > 1 else 0.0
        else:
            u = (o + 0.5) * step - 0.5
        base = math.floor(u)
        taps: dict[int, float] = {}
        for i in range(base - 1, base + 3):
            j = min(max(i, 0), n - 1)
            taps[j] = taps.get(j, 0.0) + keys_cubic(u - i, a)
        entries.append({"out": o, "source": u, "taps": sorted(taps.items())})
    return entries


def lanczos_axis(n: int, n_out: int, step: float) -> list[dict]:
    """Per output centred at ``c = (o + 0.5)·r``: ``sinc(d)·sinc(d/3)`` at ``d = i + 0.5 − c``
    over the samples within 3 of ``c`` that lie in the image, divided by their sum."""

    def lanczos3(d: float) -> float:
        if not -3 <= d < 3:
            return 0.0
        if d == 0:
            return 1.0
        return 3 * math.sin(math.pi * d) * math.sin(math.pi * d / 3) / (math.pi * d) ** 2

    entries = []
    for o in range(n_out):
        c = (o + 0.5) * step
        first = max(math.floor(c - 3 + 0.5), 0)
        last = min(math.floor(c + 3 + 0.5), n)
        raw = {i: lanczos3(i + 0.5 - c) for i in range(first, last)}
        total = sum(raw.values())
        entries.append(
            {"out": o, "source": c - 0.5, "taps": [(i, w / total) for i, w in raw.items()]}
        )
    return entries


def assert_same_axis(view_axis: list[dict], expected: list[dict]) -> None:
    assert len(view_axis) == len(expected)
    for got, want in zip(view_axis, expected, strict=True):
        assert got["out"] == want["out"]
        assert got["source"] == pytest.approx(want["source"], abs=1e-12)
        nonzero = [(i, w) for i, w in want["taps"] if abs(w) > 1e-15]
        assert [i for i, _ in got["taps"]] == [i for i, _ in nonzero]
        assert [w for _, w in got["taps"]] == pytest.approx([w for _, w in nonzero], abs=1e-12)


RNG = np.random.default_rng(11)
SHAPES = [(1, 5), (4, 1), (3, 4), (2, 3)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("a", [-0.75, -0.5, -1.0])
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize(
    "factor", [{"stride": 2}, {"stride": (3, 2)}, {"scale": 1.5}, {"scale": (2.5, 1.25)}]
)
def test_bicubic_weights_are_keys_taps_and_give_the_result(shape, a, align_corners, factor):
    x = RNG.normal(size=shape)
    doc = explain(
        "bicubic", x, views=["weights"], align_corners=align_corners, cubic_a=a, **factor
    )
    view = doc["weights"]
    scale = factor.get("scale", factor.get("stride"))
    sy, sx = scale if isinstance(scale, tuple) else (scale, scale)
    out_h, out_w = math.floor(shape[0] * sy), math.floor(shape[1] * sx)
    assert_same_axis(view["rows"], cubic_axis(shape[0], out_h, 1 / sy, a, align_corners))
    assert_same_axis(view["cols"], cubic_axis(shape[1], out_w, 1 / sx, a, align_corners))
    expected = bicubic(x, (sy, sx), align_corners, cubic_a=a)
    np.testing.assert_allclose(apply_taps(x, view), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(doc["output"], expected, rtol=0, atol=1e-12)
    assert doc["cubic_a"] == a


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    "factor", [{"stride": 2}, {"stride": (2, 4)}, {"scale": 1.5}, {"scale": (3.5, 1.25)}]
)
def test_lanczos_weights_are_lanczos3_taps_and_give_the_result(shape, factor):
    x = RNG.normal(size=shape)
    doc = explain("lanczos", x, views=["weights"], **factor)
    view = doc["weights"]
    scale = factor.get("scale", factor.get("stride"))
    sy, sx = scale if isinstance(scale, tuple) else (scale, scale)
    out_h, out_w = math.floor(shape[0] * sy), math.floor(shape[1] * sx)
    assert_same_axis(view["rows"], lanczos_axis(shape[0], out_h, 1 / sy))
    assert_same_axis(view["cols"], lanczos_axis(shape[1], out_w, 1 / sx))
    expected = lanczos(x, (sy, sx))
    np.testing.assert_allclose(apply_taps(x, view), expected, rtol=0, atol=1e-12)
    assert view["edge"] == "renormalise"


@pytest.mark.parametrize("shape", [(1, 4), (3, 1), (3, 4)])
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("factor", [{"stride": 2}, {"stride": 3}, {"scale": 1.5}])
def test_bicubic_weights_applied_by_hand_equal_torch(shape, align_corners, factor):
    torch = pytest.importorskip("torch")
    x = RNG.normal(size=shape)
    doc = explain("bicubic", x, views=["weights"], align_corners=align_corners, **factor)
    scale = float(factor.get("scale", factor.get("stride")))
    expected = torch.nn.functional.interpolate(
        torch.from_numpy(x)[None, None],
        scale_factor=scale,
        mode="bicubic",
        align_corners=align_corners,
    )[0, 0].numpy()
    np.testing.assert_allclose(apply_taps(x, doc["weights"]), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ["nearest", "bilinear", "bicubic", "lanczos"])
def test_every_method_with_the_weights_view_declares_taps_that_give_its_result(name):
    method = get_method(name)
    assert "weights" in method.explain_views and method.taps is not None
    x = RNG.normal(size=(3, 5))
    for options in (MethodOptions(stride=(2, 3)), MethodOptions(scale=(1.5, 2.25))):
        rows, cols = method.taps(x.shape, options)
        by_table = np.einsum("rt,rtc->rc", rows.weight, x[rows.index])
        by_table = np.einsum("cu,rcu->rc", cols.weight, by_table[:, cols.index])
        np.testing.assert_allclose(by_table, method.upsample(x, options), rtol=0, atol=1e-12)


def test_nearest_and_bilinear_views_are_unchanged():
    view = explain("bilinear", np.array([[10.0, 20.0], [30.0, 40.0]]), views=["weights"])
    assert view["weights"]["rows"][0] == {"out": 0, "source": -0.25, "taps": [[0, 1]]}
    assert view["weights"]["rows"][1] == {"out": 1, "source": 0.25, "taps": [[0, 0.75], [1, 0.25]]}
    assert view["weights"]["edge"] == "clamp"
    near = explain("nearest", np.array([[1.0, 2.0, 3.0]]), views=["weights"], scale=1.5)
    # floor((o + 0.5)·2/3) for o = 0..3: 0, 1, 1, 2
    assert [c["taps"] for c in near["weights"]["cols"]] == [[[0, 1]], [[1, 1]], [[1, 1]], [[2, 1]]]


# ------------------------------------------------------------------------------------------------
# From the command line
# ------------------------------------------------------------------------------------------------


def test_cli_json_structure(run_cli):
    result = run_cli(
        "explain", "bicubic", "--input", "1 2 3; 4 5 6", "--scale", "1.5", "--json"
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert set(doc["weights"]) >= {"rows", "cols"}
    assert len(doc["weights"]["rows"]) == 3 and len(doc["weights"]["cols"]) == 4
    for axis in ("rows", "cols"):
        for item in doc["weights"][axis]:
            assert set(item) == {"out", "source", "taps"}
            assert all(len(tap) == 2 and isinstance(tap[0], int) for tap in item["taps"])
            assert sum(w for _, w in item["taps"]) == pytest.approx(1.0)
    x = np.array(doc["input"], dtype=float)
    np.testing.assert_allclose(apply_taps(x, doc["weights"]), doc["output"], atol=1e-12)
    assert doc["scale"] == 1.5 and doc["cubic_a"] == -0.75 and "stride" not in doc


def test_cli_prints_the_taps(run_cli):
    result = run_cli(
        "explain", "bicubic", "--input", "1 2 3; 4 5 6", "--stride", "2", "--view", "weights"
    )
    assert result.exit_code == 0, result.output
    # u = 0.25 at ×2, a = -0.75: Keys' weights 99/128 and 29/128 after the clamped taps merge
    assert "row 1: u = 0.25 → 99/128·x[0,:] + 29/128·x[1,:]" in result.stdout
    lanczos = run_cli("explain", "lanczos", "--input", "1 2 3 4", "--stride", "2")
    assert lanczos.exit_code == 0, lanczos.output
    assert "weights renormalised" in lanczos.stdout


@pytest.mark.parametrize(
    "args, needle",
    [
        (("lanczos", "--cubic-a", "-0.5"), "--cubic-a does not apply to lanczos"),
        (("lanczos", "--align-corners"), "--align-corners does not apply to lanczos"),
        (("bicubic", "--view", "phases"), "the phases view does not apply to bicubic"),
        (("bicubic", "--cubic-a", "0.5"), "--cubic-a"),
        (("bicubic", "--scale", "1.5", "--stride", "2"), "not both"),
        (("transconv", "--scale", "1.5"), "--scale does not apply to transconv"),
        (("bilinear", "--scale", "1.5", "--view", "gather"), "not a transposed convolution"),
    ],
)
def test_cli_bad_input_is_one_line(run_cli, args, needle):
    result = run_cli("explain", *args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    # one error line (Click's usage errors add the "Try 'upsamp explain --help'" hint)
    assert lines[0].startswith("upsamp: error: "), result.stderr
    assert all(line.startswith("Try ") for line in lines[1:]), result.stderr
    assert needle in lines[0]
