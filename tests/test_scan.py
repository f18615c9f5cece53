"""Tests of ``upsamp.scan`` and ``upsamp kernels scan``.

The model under test is built node by node with ``onnx.helper``: a clean transposed convolution,
a checkerboarding one, a Conv -> DepthToSpace (sub-pixel) and a Resize -> Conv. Every number the
scan reports for a layer is compared with the layer itself run in PyTorch on a flat input
(the phase means of its interior), not with onnx's own evaluator.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import upsamp
from upsamp.errors import KernelError, ParameterError
from upsamp.kernel_convert import pixel_shuffle_to_transconv
from upsamp.kernels import Kernel
from upsamp.scan import LayerFinding, crd_order, scan_json, scan_model

torch = pytest.importorskip("torch")
onnx_models = pytest.importorskip("onnx_models")
from onnx import helper  # noqa: E402

F = torch.nn.functional
RNG = np.random.default_rng(12)
TAPS = np.array([0.25, 0.75, 0.75, 0.25])  # bilinear at stride 2: every phase sums to 1


def _f32(values) -> np.ndarray:
    """The float64 values a float32 ONNX initializer holds (so PyTorch sees the same numbers)."""
    return np.asarray(values, dtype=np.float32).astype(np.float64)


CLEAN_W = _f32(np.einsum("io,hw->iohw", np.eye(3), np.outer(TAPS, TAPS)))
CHECKER_W = _f32(np.ones((3, 3, 3, 3)) / 9)
CHECKER_B = _f32([0.1, 0.2, 0.3])
SUBPIXEL_W = _f32(RNG.normal(size=(12, 3, 3, 3)) / 9)
SUBPIXEL_B = _f32(RNG.normal(size=12) / 10)
AFTER_W = _f32(RNG.normal(size=(3, 3, 3, 3)) / 9)


def _model(path: Path, mode: str = "CRD", names: dict | None = None) -> Path:
    """x -> ConvTranspose (clean) -> ConvTranspose (3x3, stride 2) -> Conv -> DepthToSpace ->
    Resize (x2, nearest) -> Conv -> y."""
    n = {"clean": "up_clean", "checker": "up_checker", "shuffle": "shuffle", "resize": "resize"}
    n.update(names or {})
    init = onnx_models.initializer
    inits = [
        init("clean.weight", CLEAN_W),
        init("checker.weight", CHECKER_W),
        init("checker.bias", CHECKER_B),
        init("sp.weight", SUBPIXEL_W),
        init("sp.bias", SUBPIXEL_B),
        init("scales", np.array([1, 1, 2, 2])),
        init("after.weight", AFTER_W),
    ]
    nodes = [
        onnx_models.conv_transpose_node(
            n["clean"], "x", "clean.weight", "a", strides=[2, 2], pads=[1, 1, 1, 1]
        ),
        onnx_models.conv_transpose_node(
            n["checker"],
            "a",
            "checker.weight",
            "b",
            bias="checker.bias",
            strides=[2, 2],
            pads=[1, 1, 1, 1],
            output_padding=[1, 1],
        ),  # fmt: skip
        helper.make_node(
            "Conv", ["b", "sp.weight", "sp.bias"], ["c"], name="conv_sp", pads=[1] * 4
        ),
        helper.make_node("DepthToSpace", ["c"], ["d"], name=n["shuffle"], blocksize=2, mode=mode),
        helper.make_node("Resize", ["d", "", "scales"], ["e"], name=n["resize"], mode="nearest"),
        helper.make_node("Conv", ["e", "after.weight"], ["y"], name="conv_after", pads=[1] * 4),
    ]
    return onnx_models.save_model(
        path, nodes, inits, inputs=[("x", [1, 3, 8, 8])], outputs=[("y", None)]
    )


def _flat_phase_means(output: torch.Tensor, stride: int, border: int) -> np.ndarray:
    """``(C, s, s)`` phase means of the interior of a ``(1, C, H, W)`` output of a flat input."""
    y = output[0].detach().numpy().astype(np.float64)
    y = y[:, border : y.shape[1] - border, border : y.shape[2] - border]
    return np.stack(
        [
            np.array(
                [[y[c, p::stride, q::stride].mean() for q in range(stride)] for p in range(stride)]
            )
            for c in range(y.shape[0])
        ]
    )


def _spread(means: np.ndarray) -> float:
    return max(float((m.max() - m.min()) / abs(m.mean())) for m in means)


def _depth_to_space_dcr(x: np.ndarray, r: int) -> np.ndarray:
    """ONNX DepthToSpace, DCR mode, transcribed from the operator's documented reshape."""
    b, c, h, w = x.shape
    tmp = x.reshape(b, r, r, c // (r * r), h, w).transpose(0, 3, 4, 1, 5, 2)
    return tmp.reshape(b, c // (r * r), h * r, w * r)


def _sub_pixel_torch(x: torch.Tensor, weight, bias, mode: str, **conv) -> torch.Tensor:
    y = F.conv2d(
        x, torch.from_numpy(weight), None if bias is None else torch.from_numpy(bias), **conv
    )
    if mode == "CRD":
        return F.pixel_shuffle(y, 2)  # PyTorch's PixelShuffle is DepthToSpace CRD
    return torch.from_numpy(_depth_to_space_dcr(y.numpy(), 2))


# --------------------------------------------------------------------------------------------
# The sub-pixel equivalence
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["CRD", "DCR"])
def test_crd_order_turns_any_mode_into_a_pixel_shuffle(mode):
    """Conv + DepthToSpace in either mode == the transposed convolution of the CRD-ordered
    weight (:func:`upsamp.kernel_convert.pixel_shuffle_to_transconv`), exactly."""
    rng = np.random.default_rng(5)
    w = rng.normal(size=(3 * 4, 2, 3, 3))
    x = rng.normal(size=(1, 2, 7, 9))
    expected = _sub_pixel_torch(torch.from_numpy(x), w, None, mode, padding=1)[0].numpy()
    kernel = pixel_shuffle_to_transconv(
        Kernel(weight=crd_order(w, block=2, mode=mode), stride=(2, 2), padding=(1, 1))
    )
    got = upsamp.transconv(x[0].transpose(1, 2, 0), kernel.weight, **kernel.transconv_kwargs())
    np.testing.assert_allclose(got, expected.transpose(1, 2, 0), atol=1e-12)


def test_crd_order_errors():
    with pytest.raises(ParameterError, match="not a multiple of blocksize"):
        crd_order(np.ones((6, 1, 3, 3)), block=2, mode="CRD")
    with pytest.raises(ParameterError, match="mode must be one of DCR, CRD"):
        crd_order(np.ones((4, 1, 3, 3)), block=2, mode="XYZ")


@pytest.mark.parametrize("mode", ["CRD", "DCR"])
@pytest.mark.parametrize("groups, dilation", [(3, 1), (1, 2), (3, 2)])
def test_grouped_and_dilated_sub_pixel_against_pytorch(mode, groups, dilation, tmp_path):
    rng = np.random.default_rng(groups + 10 * dilation)
    w = _f32(rng.uniform(0.1, 1.0, size=(12, 3 // groups, 3, 3)))
    b = _f32(rng.normal(size=12) / 10)
    init = onnx_models.initializer
    conv = helper.make_node(
        "Conv", ["x", "w", "b"], ["c"], name="conv",
        pads=[dilation] * 4, dilations=[dilation] * 2, group=groups,
    )  # fmt: skip
    d2s = helper.make_node("DepthToSpace", ["c"], ["y"], name="d2s", blocksize=2, mode=mode)
    path = onnx_models.save_model(
        tmp_path / "m.onnx", [conv, d2s], [init("w", w), init("b", b)],
        inputs=[("x", [1, 3, 8, 8])], outputs=[("y", None)],
    )  # fmt: skip
    [finding] = scan_model(path)
    ones = torch.ones((1, 3, 16, 16), dtype=torch.float64)
    y = _sub_pixel_torch(ones, w, b, mode, padding=dilation, dilation=dilation, groups=groups)
    assert finding.phase_spread == pytest.approx(_spread(_flat_phase_means(y, 2, 6)), rel=1e-9)
    assert finding.verdict == "checkerboard"


# --------------------------------------------------------------------------------------------
# Verdicts on the small model, checked against the layers run in PyTorch
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["CRD", "DCR"])
def test_scan_verdicts_and_numbers(mode, tmp_path):
    findings = scan_model(_model(tmp_path / "m.onnx", mode))
    assert [(f.name, f.kind, f.verdict) for f in findings] == [
        ("up_clean", "transposed-conv", "clean"),
        ("up_checker", "transposed-conv", "checkerboard"),
        ("shuffle", "sub-pixel", "checkerboard"),
        ("resize", "resize-conv", "clean"),
    ]
    clean, checker, shuffle, resize = findings
    ones = torch.ones((1, 3, 24, 24), dtype=torch.float64)

    # transposed convolutions: the spread of a flat input's phase means, in PyTorch
    y = F.conv_transpose2d(ones, torch.from_numpy(CLEAN_W), stride=2, padding=1)
    assert clean.phase_spread == pytest.approx(_spread(_flat_phase_means(y, 2, 4)), abs=1e-12)
    assert clean.phase_spread == pytest.approx(0.0, abs=1e-12)
    assert clean.fix == "" and "a flat input stays flat" in clean.explanation
    y = F.conv_transpose2d(
        ones, torch.from_numpy(CHECKER_W), torch.from_numpy(CHECKER_B),
        stride=2, padding=1, output_padding=1,
    )  # fmt: skip
    assert checker.phase_spread == pytest.approx(_spread(_flat_phase_means(y, 2, 4)), rel=1e-12)
    assert checker.kernel_shape == (3, 3, 3, 3) and checker.stride == (2, 2)
    assert checker.padding == (1, 1, 1, 1)
    assert "1:2:2:4 taps" in checker.explanation and "divisible by the stride" in checker.fix

    # sub-pixel: the flat-input phase means of Conv + DepthToSpace, per output channel
    y = _sub_pixel_torch(ones, SUBPIXEL_W, SUBPIXEL_B, mode, padding=1)
    assert shuffle.phase_spread == pytest.approx(_spread(_flat_phase_means(y, 2, 2)), rel=1e-9)
    assert shuffle.kernel_shape == (12, 3, 3, 3) and shuffle.stride == (2, 2)
    assert f"DepthToSpace(2, {mode})" in shuffle.explanation and "ICNR" in shuffle.fix

    assert resize.stride == (2, 2) and resize.kernel_shape == (3, 3, 3, 3)
    assert resize.phase_spread is None and "clean by construction" in resize.explanation
    # Resize -> Conv really keeps a flat input flat
    y = F.conv2d(F.interpolate(ones, scale_factor=2, mode="nearest"), torch.from_numpy(AFTER_W))
    assert _spread(_flat_phase_means(y, 2, 2)) == pytest.approx(0.0, abs=1e-12)


def _sub_pixel_model(path: Path, weight: np.ndarray, bias: np.ndarray | None, mode="CRD") -> Path:
    init = onnx_models.initializer
    inits = [init("w", weight)] + ([init("b", bias)] if bias is not None else [])
    conv = helper.make_node(
        "Conv", ["x", "w"] + (["b"] if bias is not None else []), ["c"], name="conv", pads=[1] * 4
    )
    d2s = helper.make_node("DepthToSpace", ["c"], ["y"], name="d2s", blocksize=2, mode=mode)
    return onnx_models.save_model(
        path, [conv, d2s], inits, inputs=[("x", [1, 2, 8, 8])], outputs=[("y", None)]
    )


@pytest.mark.parametrize("mode", ["CRD", "DCR"])
def test_icnr_tied_sub_pixel_is_clean_and_untied_biases_are_not(mode, tmp_path):
    rng = np.random.default_rng(8)
    base = _f32(rng.uniform(0.1, 1.0, size=(1, 2, 3, 3)))  # one output channel (C = 1), 2 inputs
    tied = np.repeat(base, 4, axis=0)  # every phase the same filter: ICNR
    [finding] = scan_model(_sub_pixel_model(tmp_path / "tied.onnx", tied, np.full(4, 0.5), mode))
    assert finding.verdict == "clean" and finding.phase_spread == pytest.approx(0, abs=1e-12)
    assert "the per-phase biases are equal" in finding.explanation
    path = _sub_pixel_model(tmp_path / "bias.onnx", tied, np.array([0.0, 0.5, 0.5, 0.0]), mode)
    [finding] = scan_model(path)
    assert finding.verdict == "checkerboard"
    assert "per-phase biases differ (output channel 0: 0:0.5:0.5:0)" in finding.explanation
    ones = torch.ones((1, 2, 12, 12), dtype=torch.float64)
    y = _sub_pixel_torch(ones, tied, np.array([0.0, 0.5, 0.5, 0.0]), mode, padding=1)
    assert finding.phase_spread == pytest.approx(_spread(_flat_phase_means(y, 2, 2)), rel=1e-12)


def test_layers_that_cannot_be_analysed_are_unknown(tmp_path):
    # DepthToSpace of a graph input; ConvTranspose whose weight is a graph input
    nodes = [
        helper.make_node("DepthToSpace", ["x"], ["a"], name="d2s", blocksize=2),
        onnx_models.conv_transpose_node("up", "a", "w", "y", strides=[2, 2]),
    ]
    path = onnx_models.save_model(
        tmp_path / "m.onnx",
        nodes,
        [],
        inputs=[("x", [1, 4, 4, 4]), ("w", [1, 1, 3, 3])],
        outputs=[("y", None)],
    )
    d2s, up = scan_model(path)
    assert d2s.verdict == up.verdict == "unknown"
    assert "not straight from a Conv" in d2s.explanation
    assert "computed when the model runs" in up.explanation
    assert d2s.to_json()["phase_spread"] is None


def test_model_without_upsampling_layers(tmp_path):
    relu = onnx_models.save_model(
        tmp_path / "relu.onnx",
        [helper.make_node("Relu", ["x"], ["y"], name="relu")],
        [],
        inputs=[("x", [1, 1, 4, 4])],
        outputs=[("y", None)],
    )
    assert scan_model(relu) == []
    assert scan_json(relu, []) == {"model": str(relu), "layers": []}


def test_match_filters_onnx_layers(tmp_path):
    path = _model(tmp_path / "m.onnx")
    assert [f.name for f in scan_model(path, match="up_*")] == ["up_clean", "up_checker"]


def test_weight_only_files(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    path = tmp_path / "g.safetensors"
    state = {
        "dec.up1.weight": CLEAN_W.astype(np.float32),
        "dec.up2.weight": CHECKER_W.astype(np.float32),
        "dec.up2.bias": CHECKER_B.astype(np.float32),
        "dec.head.bias": np.zeros(3, np.float32),
    }
    safetensors_numpy.save_file(state, str(path))
    findings = scan_model(path, stride=2, match="dec.up*")
    assert [(f.name, f.kind, f.verdict) for f in findings] == [
        ("dec.up1.weight", "tensor", "clean"),
        ("dec.up2.weight", "tensor", "checkerboard"),
    ]
    assert findings[0].padding is None and findings[1].stride == (2, 2)
    assert scan_model(path, stride=2, match="nothing*") == []
    with pytest.raises(ParameterError, match="--stride S"):
        scan_model(path)
    with pytest.raises(ParameterError, match="--stride is for weight-only files"):
        scan_model(_model(tmp_path / "m.onnx"), stride=2)
    with pytest.raises(KernelError, match="models must be"):
        scan_model(tmp_path / "m.h5", stride=2)


def test_finding_json_shape():
    finding = LayerFinding("a", "tensor", (1, 1, 3, 3), (2, 2), None, float("inf"), "x", "why")
    assert finding.to_json() == {
        "name": "a",
        "kind": "tensor",
        "kernel_shape": [1, 1, 3, 3],
        "stride": [2, 2],
        "padding": None,
        "phase_spread": None,
        "verdict": "x",
        "explanation": "why",
        "fix": "",
    }


# --------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------


def test_cli_table_and_exit_codes(run_cli, tmp_path):
    path = _model(tmp_path / "m.onnx")
    result = run_cli("kernels", "scan", path)
    assert result.exit_code == 0, result.stderr
    for name in ("up_clean", "up_checker", "shuffle", "resize", "checkerboard", "clean"):
        assert name in result.stdout
    assert "fix:" in result.stdout and result.stderr == ""
    result = run_cli("kernels", "scan", path, "--fail-on", "checkerboard")
    assert result.exit_code == 1
    assert "2 of 4 layer(s) make a checkerboard" in result.stderr
    assert "up_checker" in result.stdout  # the table is still printed


def test_cli_fail_on_with_only_clean_layers(run_cli, tmp_path):
    path = _model(tmp_path / "m.onnx")
    result = run_cli("kernels", "scan", path, "--fail-on", "checkerboard", "--match", "up_clean")
    assert result.exit_code == 0, result.stderr


def test_cli_json(run_cli, tmp_path):
    path = _model(tmp_path / "m.onnx")
    result = run_cli("kernels", "scan", path, "--json", "--fail-on", "checkerboard")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["model"] == str(path)
    assert [layer["verdict"] for layer in doc["layers"]] == [
        "clean",
        "checkerboard",
        "checkerboard",
        "clean",
    ]
    keys = {"name", "kind", "kernel_shape", "stride", "padding", "phase_spread", "verdict"}
    assert set(doc["layers"][0]) == keys | {"explanation", "fix"}
    assert doc["layers"][1]["kernel_shape"] == [3, 3, 3, 3]


def test_cli_no_upsampling_layers(run_cli, tmp_path):
    relu = onnx_models.save_model(
        tmp_path / "relu.onnx",
        [helper.make_node("Relu", ["x"], ["y"], name="relu")],
        [],
        inputs=[("x", [1, 1, 4, 4])],
        outputs=[("y", None)],
    )
    result = run_cli("kernels", "scan", relu, "--fail-on", "checkerboard")
    assert result.exit_code == 0
    assert result.stdout == "" and "no upsampling layers" in result.stderr
    result = run_cli("kernels", "scan", relu, "--json")
    assert json.loads(result.stdout)["layers"] == []


def test_cli_escapes_names(run_cli, tmp_path):
    names = {"checker": "[bold red]up[/bold red]", "clean": "[link=x]c[/link]"}
    path = _model(tmp_path / "m.onnx", names=names)
    result = run_cli("kernels", "scan", path)
    assert result.exit_code == 0, result.stderr
    assert "[bold red]up[/bold red]" in result.stdout and "[link=x]c[/link]" in result.stdout


def test_cli_bad_inputs(run_cli, tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07 not an onnx model")
    result = run_cli("kernels", "scan", bad)
    assert result.exit_code == 1
    assert result.stderr.startswith("upsamp: error: ") and result.stderr.count("\n") == 1
    assert "not a readable ONNX model" in result.stderr
    result = run_cli("kernels", "scan", tmp_path / "missing.onnx")
    assert result.exit_code == 1 and "no such file" in result.stderr
    weights_file = tmp_path / "w.npz"
    np.savez(weights_file, **{"up.weight": CHECKER_W})
    result = run_cli("kernels", "scan", weights_file)
    assert result.exit_code == 2 and "--stride S" in result.stderr
    result = run_cli("kernels", "scan", weights_file, "--stride", "2", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["layers"][0]["verdict"] == "checkerboard"
    result = run_cli("kernels", "scan", _model(tmp_path / "m.onnx"), "--stride", "2")
    assert result.exit_code == 2 and "--stride is for weight-only files" in result.stderr


def test_lone_and_downscaling_resize(tmp_path):
    init = onnx_models.initializer
    nodes = [
        helper.make_node("Resize", ["x", "", "up"], ["a"], name="grow", mode="linear"),
        helper.make_node("Resize", ["a", "", "down"], ["y"], name="shrink", mode="linear"),
    ]
    path = onnx_models.save_model(
        tmp_path / "m.onnx",
        nodes,
        [init("up", np.array([1, 1, 3, 1.5])), init("down", np.array([1, 1, 0.5, 0.5]))],
        inputs=[("x", [1, 1, 4, 4])],
        outputs=[("y", None)],
    )
    [finding] = scan_model(path)  # the downscale is not an upsampling layer
    assert (finding.name, finding.kind, finding.verdict) == ("grow", "resize", "clean")
    assert finding.stride == (3, 1.5) and finding.kernel_shape is None
    assert "Resize (linear)" in finding.explanation
