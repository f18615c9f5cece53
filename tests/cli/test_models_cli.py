"""Kernels from weight files on the command line: ``enlarge``, ``batch``-style options, ``report``
over several images, ``kernels show|fix`` and ``explain``.

The reference is PyTorch: a ``ConvTranspose2d`` (bias, groups 1 and 3, padding, output_padding,
dilation) saved as a state_dict ``.pt``, ``.npz``, ``.safetensors`` and an ONNX graph built with
``onnx.helper`` is applied by ``upsamp enlarge`` to a float ``.npy`` and compared with the layer's
own output. ``--input-range`` is checked against the layer applied to the normalised image.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")

from test_weights import (  # noqa: E402  (helpers shared with the library tests)
    LAYERS,
    _geometry,
    _layer,
    _save_npz,
    _save_onnx,
    _save_safetensors,
    _save_state_dict,
    _torch_output,
)

from upsamp import imageio, pipeline  # noqa: E402
from upsamp.kernels import build_kernel  # noqa: E402
from upsamp.methods import MethodOptions  # noqa: E402

ATOL = 1e-4


def _pair(value) -> str:
    return f"{value[0]},{value[1]}"


def _save(layer, folder: Path, fmt: str) -> Path:
    if fmt == ".onnx":
        pytest.importorskip("onnx")
        return _save_onnx(layer, folder)
    if fmt == ".npz":
        return _save_npz(layer, folder)
    if fmt == ".safetensors":
        return _save_safetensors(layer, folder)
    return _save_state_dict(layer, folder, fmt)


def _one_error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("upsamp: error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def _rgb_png(path: Path, seed: int = 3, size=(9, 11)) -> np.ndarray:
    pixels = np.random.default_rng(seed).integers(0, 256, size=(*size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return pixels


# --------------------------------------------------------------------------------------------
# enlarge with every weight format, compared with the layer itself
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(LAYERS))
@pytest.mark.parametrize("fmt", [".pt", ".npz", ".safetensors", ".onnx"])
def test_enlarge_applies_the_layer_as_pytorch_does(name, fmt, run_cli, tmp_path):
    layer = _layer(name)
    path = _save(layer, tmp_path, fmt)
    x = np.random.default_rng(5).uniform(-1, 1, size=(9, 11, 3)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    args = ["enlarge", "x.npy", "-o", "y.npy", "-m", "transconv", "-k"]
    if fmt == ".onnx":
        args.append(f"{path.name}:up")  # the node states every geometry parameter
    else:
        geometry = _geometry(layer)
        args += [f"{path.name}:up.weight", "--stride", _pair(geometry["stride"])]
        args += ["--padding", _pair(geometry["padding"])]
        args += ["--output-padding", _pair(geometry["output_padding"])]
        args += ["--dilation", _pair(geometry["dilation"])]
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    got = np.load(tmp_path / "y.npy")
    expected = _torch_output(layer, x)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=ATOL)


def test_command_line_geometry_overrides_the_onnx_node(run_cli, tmp_path):
    layer = _layer("plain")  # kernel 4, stride 2, padding 1
    path = _save(layer, tmp_path, ".onnx")
    x = np.random.default_rng(6).uniform(size=(6, 7, 3)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    result = run_cli("enlarge", "x.npy", "-o", "y.npy", "-m", "transconv", "-k",
                     f"{path.name}:up", "--padding", "0")  # fmt: skip
    assert result.exit_code == 0, result.output
    with torch.no_grad():
        expected = torch.nn.functional.conv_transpose2d(
            torch.from_numpy(x.transpose(2, 0, 1).copy())[None], layer.weight, layer.bias,
            stride=2, padding=0,
        )[0].numpy().transpose(1, 2, 0)  # fmt: skip
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), expected, atol=ATOL)


@pytest.mark.parametrize("layout", ["keras", "tflite"])
def test_keras_and_tflite_arrays_with_layout(layout, run_cli, tmp_path):
    layer = _layer("plain")
    w = layer.weight.detach().numpy()  # (C_in, C_out, kH, kW)
    c_in, c_out, kh, kw = w.shape
    stored = np.empty((kh, kw, c_out, c_in) if layout == "keras" else (c_out, kh, kw, c_in))
    for ci in range(c_in):  # written element by element in the documented index order
        for co in range(c_out):
            for i in range(kh):
                for j in range(kw):
                    if layout == "keras":
                        stored[i, j, co, ci] = w[ci, co, i, j]
                    else:
                        stored[co, i, j, ci] = w[ci, co, i, j]
    np.save(tmp_path / "k.npy", stored)
    bias = ",".join(repr(float(v)) for v in layer.bias.detach().numpy())
    x = np.random.default_rng(8).uniform(size=(7, 6, 3)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    result = run_cli("enlarge", "x.npy", "-o", "y.npy", "-m", "transconv", "-k", "k.npy",
                     "--layout", layout, "--bias", bias, "--padding", "1")  # fmt: skip
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), _torch_output(layer, x), atol=ATOL)


# --------------------------------------------------------------------------------------------
# groups and the channel-mix refusal on an RGB image
# --------------------------------------------------------------------------------------------


def test_depthwise_kernel_with_groups_on_an_rgb_image(run_cli, tmp_path):
    pixels = _rgb_png(tmp_path / "photo.png")
    w = np.random.default_rng(2).uniform(0, 0.5, size=(3, 1, 4, 4))
    np.save(tmp_path / "dw.npy", w)
    result = run_cli("enlarge", "photo.png", "-o", "out.npy", "-m", "transconv", "-k", "dw.npy",
                     "--groups", "3", "--padding", "1")  # fmt: skip
    assert result.exit_code == 0, result.output
    with torch.no_grad():
        expected = torch.nn.functional.conv_transpose2d(
            torch.from_numpy(pixels.astype(np.float64).transpose(2, 0, 1).copy())[None],
            torch.from_numpy(w), stride=2, padding=1, groups=3,
        )[0].numpy().transpose(1, 2, 0)  # fmt: skip
    got = np.load(tmp_path / "out.npy")
    assert got.shape == expected.shape == (18, 22, 3)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-3)


def test_depthwise_kernel_without_groups_is_refused(run_cli, tmp_path):
    _rgb_png(tmp_path / "photo.png")
    np.save(tmp_path / "dw.npy", np.full((3, 1, 4, 4), 0.25))
    result = run_cli("enlarge", "photo.png", "-o", "out.png", "-m", "transconv", "-k", "dw.npy")
    assert result.exit_code != 0
    line = _one_error_line(result)
    assert "--groups 3" in line and "mix" in line
    assert not (tmp_path / "out.png").exists()


def test_groups_option_is_refused_by_methods_without_a_kernel(run_cli, tmp_path):
    _rgb_png(tmp_path / "photo.png")
    result = run_cli("enlarge", "photo.png", "-m", "nearest", "--groups", "3")
    assert result.exit_code == 2
    assert "--groups does not apply to nearest" in result.stderr


# --------------------------------------------------------------------------------------------
# --input-range
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, low, high", [("0..1", 0.0, 1.0), ("-1..1", -1.0, 1.0)])
def test_input_range_gives_the_layer_its_training_range(text, low, high, run_cli, tmp_path):
    pixels = _rgb_png(tmp_path / "photo.png")
    layer = _layer("plain")  # a bias of ±0.5 trained on normalised inputs
    path = _save(layer, tmp_path, ".safetensors")
    args = ["enlarge", "photo.png", "-m", "transconv", "-k", f"{path.name}:up.weight",
            "--padding", "1"]  # fmt: skip
    result = run_cli(*args, "-o", "mapped.npy", "--input-range", text)
    assert result.exit_code == 0, result.output
    normalised = low + pixels.astype(np.float32) / 255 * (high - low)
    expected = (_torch_output(layer, normalised) - low) / (high - low) * 255
    np.testing.assert_allclose(np.load(tmp_path / "mapped.npy"), expected, atol=2e-3)
    # without it the bias is added to 0..255 values: a different image
    result = run_cli(*args, "-o", "plain.npy")
    assert result.exit_code == 0, result.output
    plain = np.load(tmp_path / "plain.npy")
    np.testing.assert_allclose(plain, _torch_output(layer, pixels.astype(np.float32)), atol=2e-3)
    assert np.abs(plain - expected).max() > 1.0


def test_input_range_leaves_float_images_as_they_are(run_cli, tmp_path):
    layer = _layer("plain")
    path = _save(layer, tmp_path, ".safetensors")
    x = np.random.default_rng(4).uniform(size=(6, 5, 3)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    args = ["enlarge", "x.npy", "-m", "transconv", "-k", f"{path.name}:up.weight", "--padding", "1"]
    assert run_cli(*args, "-o", "a.npy", "--input-range", "-1..1").exit_code == 0
    assert run_cli(*args, "-o", "b.npy").exit_code == 0
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))


def test_input_range_bands_and_row_chunks_equal_the_whole_result(tmp_path):
    _rgb_png(tmp_path / "photo.png", size=(40, 23))
    image = imageio.load_input(tmp_path / "photo.png")
    kernel = build_kernel("checkerboard", stride=(2, 2), bias="0.3")
    settings = pipeline.EnlargeSettings(
        method="transconv", options=MethodOptions(stride=(2, 2), kernel=kernel),
        input_range=(-1.0, 1.0),
    )  # fmt: skip
    whole = next(iter(pipeline.iter_bands(image, settings, band_values=1 << 40)))[2]
    banded = np.concatenate(
        [band[2] for band in pipeline.iter_bands(image, settings, band_values=200)]
    )
    np.testing.assert_array_equal(banded, whole)
    stored, _ = pipeline.enlarge_to_storage(image, settings, "RGB")
    chunks = [
        pipeline.enlarge_to_storage(image, settings, "RGB", rows=rows)[0]
        for rows in ((0, 17), (17, 50), (50, 80))
    ]  # how a distributed run computes and gathers the rows
    np.testing.assert_array_equal(np.concatenate(chunks), stored)
    # and the mapping is real: y = bias mapped back, not the bias itself
    plain = pipeline.replace(settings, input_range=None)
    assert not np.array_equal(pipeline.enlarge_image(image, plain)[0], whole)


# --------------------------------------------------------------------------------------------
# report over several images; kernels show|fix and explain with weight files
# --------------------------------------------------------------------------------------------


def test_report_over_a_folder_and_files(run_cli, tmp_path):
    (tmp_path / "photos" / "more").mkdir(parents=True)
    _rgb_png(tmp_path / "photos" / "a.png", seed=1, size=(16, 16))
    _rgb_png(tmp_path / "photos" / "more" / "a.png", seed=2, size=(16, 16))
    _rgb_png(tmp_path / "b.png", seed=3, size=(16, 16))
    args = ["report", "photos", "b.png", "--methods", "nearest,transconv:checkerboard"]
    result = run_cli(*args, "--figures", "figs", "--save-outputs", "outs")
    assert result.exit_code == 0, result.output
    assert result.stdout.count("· stride 2 ·") == 3  # one table per image
    assert "all 3 images · mean and worst per method" in result.stdout
    assert "3/3" in result.stdout and "0/3" in result.stdout  # checkerboard verdict counts
    # one subfolder per image stem; the two a.png do not share one
    assert sorted(p.name for p in (tmp_path / "outs").iterdir()) == ["a", "a-2", "b"]
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == ["a", "a-2", "b"]
    assert (tmp_path / "outs" / "a-2" / "transconv_checkerboard.png").is_file()
    assert (tmp_path / "figs" / "b" / "contact_sheet.png").is_file()

    result = run_cli(*args, "--json")
    assert result.exit_code == 0, result.output
    docs = json.loads(result.stdout)
    assert isinstance(docs, list) and len(docs) == 3
    assert {Path(d["image"]).name for d in docs} == {"a.png", "b.png"}
    assert all([m["name"] for m in d["methods"]] == ["nearest", "transconv:checkerboard"]
               for d in docs)  # fmt: skip

    # the aggregate is the mean and the worst of the per-image numbers
    psnr = [d["methods"][0]["psnr"] for d in docs]
    text = run_cli(*args).stdout
    row = next(line for line in text.splitlines()[::-1] if line.startswith("│ nearest"))
    cells = [c.strip() for c in row.strip("│").split("│")]
    assert cells[1] == f"{np.mean(psnr):.2f}" and cells[2] == f"{min(psnr):.2f}"

    # nothing replaced without --overwrite
    again = run_cli(*args, "--figures", "figs")
    assert again.exit_code != 0 and "exists" in _one_error_line(again)


def test_report_with_a_weight_file_kernel_and_a_bad_image(run_cli, tmp_path):
    (tmp_path / "photos").mkdir()
    _rgb_png(tmp_path / "photos" / "a.png", size=(16, 16))
    (tmp_path / "photos" / "broken.png").write_bytes(b"not a png")
    path = _save(_layer("plain"), tmp_path, ".safetensors")
    result = run_cli("report", "photos", "--methods", f"transconv:{path.name}:up.weight", "--json")
    assert result.exit_code == 1
    docs = json.loads(result.stdout)
    assert [m["name"] for m in docs[0]["methods"]] == ["transconv:up.weight"]
    errors = [line for line in result.stderr.splitlines() if line.startswith("upsamp: error:")]
    assert len(errors) == 1 and "broken.png" in errors[0], result.stderr


def test_kernels_show_and_fix_read_weight_files(run_cli, tmp_path):
    layer = _layer("grouped")
    path = _save(layer, tmp_path, ".onnx")
    result = run_cli("kernels", "show", f"{path.name}:up", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["groups"] == 3 and doc["stride"] == [2, 3] and doc["dilation"] == [2, 2]
    np.testing.assert_allclose(doc["bias"], layer.bias.detach().numpy(), rtol=1e-6)
    result = run_cli("kernels", "fix", f"{path.name}:up", "--how", "hold", "-o", "fixed.json")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "fixed.json").read_text())["groups"] == 3


def test_explain_reads_a_2d_kernel_from_a_weight_file(run_cli, tmp_path):
    np.savez(tmp_path / "w.npz", up=np.full((3, 3), 1.0), other=np.zeros((2, 2, 2)))
    result = run_cli("explain", "transconv", "-k", "w.npz:up", "--stride", "2", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["kernel"] == [[1.0] * 3] * 3


# --------------------------------------------------------------------------------------------
# bad input: one line, non-zero exit, nothing written
# --------------------------------------------------------------------------------------------


def _bad_sources(tmp_path: Path, monkeypatch) -> dict[str, tuple[list[str], str]]:
    np.savez(tmp_path / "two.npz", **{"a.weight": np.ones((3, 3, 2, 2)), "b.weight": np.ones((3, 3, 4, 4))})  # noqa: E501
    np.savez(tmp_path / "rank.npz", cube=np.ones((3, 2, 2)))
    (tmp_path / "bad.onnx").write_bytes(b"\x08\x07garbage that is not a model")
    np.save(tmp_path / "pickled.npy", np.array([{"weight": 1}], dtype=object), allow_pickle=True)
    np.save(tmp_path / "torch_layout.npy", np.ones((3, 3, 4, 4)))
    _save_state_dict(_layer("plain"), tmp_path, ".pt")
    return {
        "missing key": (["-k", "two.npz"], "a.weight, b.weight"),
        "unknown key": (["-k", "two.npz:c.weight"], "no tensor 'c.weight'; it has: a.weight"),
        "wrong rank": (["-k", "rank.npz:cube"], "shape (3, 2, 2)"),
        "onnx": (["-k", "bad.onnx:up"], "bad.onnx"),
        "no torch": (["-k", "model.pt:up.weight"], "needs PyTorch"),
        "pickled": (["-k", "pickled.npy"], "pickled.npy"),
        "layout": (["-k", "torch_layout.npy", "--layout", "keras"], "input channels"),
    }


@pytest.mark.parametrize(
    "case", ["missing key", "unknown key", "wrong rank", "onnx", "no torch", "pickled", "layout"]
)
def test_bad_kernel_sources(case, run_cli, tmp_path, monkeypatch):
    _rgb_png(tmp_path / "photo.png")
    args, expected = _bad_sources(tmp_path, monkeypatch)[case]
    if case == "no torch":
        monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    result = run_cli("enlarge", "photo.png", "-o", "out.png", "-m", "transconv", *args)
    assert result.exit_code != 0
    assert expected in _one_error_line(result)
    assert not (tmp_path / "out.png").exists()


def test_pixel_shuffle_reads_a_conv2d_state_dict_with_its_bias(run_cli, tmp_path):
    """A Conv2d's bias has C_out = weight.shape[0] values: it states no groups here."""
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    torch.manual_seed(11)
    conv = torch.nn.Conv2d(3, 12, 3, padding=1)
    state = {f"sub.{k}": v.detach().numpy().copy() for k, v in conv.state_dict().items()}
    safetensors_numpy.save_file(state, str(tmp_path / "sr.safetensors"))
    x = np.random.default_rng(9).uniform(size=(7, 8, 3)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    result = run_cli("enlarge", "x.npy", "-o", "y.npy", "-m", "pixel-shuffle", "-k",
                     "sr.safetensors:sub.weight", "--input-range", "0..1")  # fmt: skip
    assert result.exit_code == 0, result.output
    with torch.no_grad():
        expected = torch.nn.functional.pixel_shuffle(
            conv(torch.from_numpy(x.transpose(2, 0, 1).copy())[None]), 2
        )[0].numpy().transpose(1, 2, 0)
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), expected, atol=ATOL)
    # the same Conv2d weight stored as Keras Conv2D (kH, kW, C_in/groups, C_out), bias apart
    np.save(tmp_path / "keras.npy", state["sub.weight"].transpose(2, 3, 1, 0))
    result = run_cli("enlarge", "x.npy", "-o", "z.npy", "-m", "pixel-shuffle", "-k",
                     "keras.npy", "--layout", "keras", "--bias", "sr.safetensors:sub.bias",
                     "--input-range", "0..1")  # fmt: skip
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(np.load(tmp_path / "z.npy"), expected, atol=ATOL)
