"""Tests of ``upsamp.weights`` (kernels from weight files) and ``upsamp.input_range``.

The reference is PyTorch itself: a ``ConvTranspose2d`` layer is saved the ways people save
weights (state_dict ``.pt``, ``.npz``, ``.safetensors``, an ONNX graph built node by node), read
back, applied with :func:`upsamp.transconv`, and compared with the layer's own output. ONNX
geometry that PyTorch cannot state directly (asymmetric pads, ``auto_pad``, ``output_shape``) is
compared with the operator's definition computed from an unpadded PyTorch result.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import upsamp
from upsamp import weights
from upsamp.errors import KernelError, ParameterError, UpsampError
from upsamp.input_range import (
    INPUT_RANGES,
    from_model_range,
    parse_input_range,
    storage_range,
    to_model_range,
)

torch = pytest.importorskip("torch")

ATOL = 1e-5

#: (name, ConvTranspose2d arguments): bias, groups 1 and 3, padding, output_padding, dilation.
LAYERS = {
    "plain": dict(in_channels=3, out_channels=3, kernel_size=4, stride=2, padding=1),
    "op-bias": dict(
        in_channels=3, out_channels=2, kernel_size=3, stride=2, padding=1, output_padding=1
    ),
    "grouped": dict(
        in_channels=3,
        out_channels=3,
        kernel_size=3,
        stride=(2, 3),
        padding=(1, 2),
        output_padding=(1, 0),
        dilation=2,
        groups=3,
    ),
    "grouped-wide": dict(
        in_channels=3, out_channels=6, kernel_size=(3, 5), stride=3, padding=1, groups=3
    ),
}


def _layer(name: str, *, bias: bool = True) -> torch.nn.ConvTranspose2d:
    torch.manual_seed(sum(map(ord, name)))
    layer = torch.nn.ConvTranspose2d(**LAYERS[name], bias=bias)
    with torch.no_grad():
        if bias:
            layer.bias.uniform_(-0.5, 0.5)  # nonzero, distinct per channel
    return layer.eval()


class _Holder(torch.nn.Module):
    """Gives the layer the state_dict names ``up.weight`` / ``up.bias``, and a neighbour."""

    def __init__(self, layer: torch.nn.Module) -> None:
        super().__init__()
        self.stem = torch.nn.Conv2d(3, 3, 1)
        self.up = layer


def _input(channels: int = 3, seed: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, size=(9, 11, channels)).astype(np.float32)


def _torch_output(layer: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        y = layer(torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None])
    return y[0].numpy().transpose(1, 2, 0)


def _geometry(layer: torch.nn.ConvTranspose2d) -> dict:
    return {
        "stride": layer.stride,
        "padding": layer.padding,
        "output_padding": layer.output_padding,
        "dilation": layer.dilation,
    }


def _apply(found: weights.LayerWeights, x: np.ndarray, **geometry) -> np.ndarray:
    """Run the kernel as the command line will: the file's geometry, else the given one."""
    stated = found.geometry()
    kwargs = {k: stated.get(k, v) for k, v in geometry.items()}
    kwargs["groups"] = stated.get("groups", geometry.get("groups"))
    return upsamp.transconv(x, found.weight, bias=found.bias, **kwargs)


def _save_state_dict(layer, folder: Path, suffix: str) -> Path:
    path = folder / f"model{suffix}"
    torch.save(_Holder(layer).state_dict(), path)
    return path


def _save_npz(layer, folder: Path) -> Path:
    state = {k: v.detach().numpy() for k, v in _Holder(layer).state_dict().items()}
    path = folder / "model.npz"
    np.savez(path, **state)
    return path


def _save_safetensors(layer, folder: Path) -> Path:
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    state = {k: v.detach().numpy().copy() for k, v in _Holder(layer).state_dict().items()}
    path = folder / "model.safetensors"
    safetensors_numpy.save_file(state, str(path))
    return path


def _save_onnx(layer, folder: Path) -> Path:
    import onnx_models

    p = layer.padding
    attributes = dict(
        strides=list(layer.stride),
        pads=[p[0], p[1], p[0], p[1]],
        output_padding=list(layer.output_padding),
        dilations=list(layer.dilation),
        group=layer.groups,
        kernel_shape=list(layer.kernel_size),
    )
    bias = None if layer.bias is None else layer.bias.detach().numpy()
    return onnx_models.single_conv_transpose(
        folder / "model.onnx", layer.weight.detach().numpy(), bias, **attributes
    )


# --------------------------------------------------------------------------------------------
# Round trips through every format, compared with the layer's own output
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(LAYERS))
@pytest.mark.parametrize("fmt", [".pt", ".pth", ".npz", ".safetensors"])
def test_state_dict_formats_match_pytorch(name, fmt, tmp_path):
    layer = _layer(name)
    if fmt in (".pt", ".pth"):
        path = _save_state_dict(layer, tmp_path, fmt)
    elif fmt == ".npz":
        path = _save_npz(layer, tmp_path)
    else:
        path = _save_safetensors(layer, tmp_path)
    found = weights.read_weights(f"{path}:up.weight")
    np.testing.assert_array_equal(found.weight, layer.weight.detach().numpy())
    np.testing.assert_array_equal(found.bias, layer.bias.detach().numpy())
    # the bias length states the groups: C_out = weight.shape[1] * groups
    assert found.groups == layer.groups
    assert found.stride is None and found.padding is None  # a state_dict states no geometry
    assert found.key == "up.weight" and "up.bias" in found.description
    x = _input()
    got = _apply(found, x, **_geometry(layer))
    np.testing.assert_allclose(got, _torch_output(layer, x), atol=ATOL)


@pytest.mark.parametrize("name", list(LAYERS))
@pytest.mark.parametrize("bias", [True, False])
def test_onnx_node_matches_pytorch(name, bias, tmp_path):
    pytest.importorskip("onnx")
    layer = _layer(name, bias=bias)
    path = _save_onnx(layer, tmp_path)
    for spec in (f"{path}:up", f"{path}:up.weight", str(path)):  # node, initializer, the only one
        found = weights.read_weights(spec)
        assert found.stride == layer.stride
        assert found.padding == layer.padding
        assert found.output_padding == layer.output_padding
        assert found.dilation == layer.dilation
        assert found.groups == layer.groups
        assert (found.bias is None) == (not bias)
        x = _input()
        got = upsamp.transconv(x, found.weight, bias=found.bias, **found.geometry())
        np.testing.assert_allclose(got, _torch_output(layer, x), atol=ATOL)


def test_bias_none_turns_the_file_bias_off(tmp_path):
    layer = _layer("plain")
    path = _save_state_dict(layer, tmp_path, ".pt")
    found = weights.read_weights(f"{path}:up.weight", bias="none")
    assert found.bias is None and found.groups is None
    onnx_path = _save_onnx(layer, tmp_path)
    assert weights.read_weights(f"{onnx_path}:up", bias="none").bias is None


def test_nested_state_dict_and_single_tensor_file(tmp_path):
    layer = _layer("plain", bias=False)
    nested = tmp_path / "ckpt.pt"
    torch.save({"epoch": 3, "generator": _Holder(layer).state_dict()}, nested)
    found = weights.read_weights(f"{nested}:generator.up.weight")
    np.testing.assert_array_equal(found.weight, layer.weight.detach().numpy())
    one = tmp_path / "one.npz"
    np.savez(one, kernel=layer.weight.detach().numpy(), bias=np.zeros(3))
    # one tensor of rank 2 or 4: no KEY needed (the 1-D tensor is not a kernel)
    found = weights.read_weights(one)
    assert found.key == "kernel" and found.bias is None
    npy = tmp_path / "k.npy"
    np.save(npy, layer.weight.detach().numpy())
    assert weights.read_weights(npy).weight.shape == (3, 3, 4, 4)
    bare = tmp_path / "bare.pt"
    torch.save(layer.weight.detach(), bare)  # one tensor, no state_dict around it
    found = weights.read_weights(bare)
    assert found.key == "bare" and found.weight.shape == (3, 3, 4, 4)


# --------------------------------------------------------------------------------------------
# Layouts
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["plain", "op-bias"])
@pytest.mark.parametrize("container", [".npy", ".npz"])
def test_keras_and_tflite_layouts_give_the_same_result(name, container, tmp_path):
    layer = _layer(name)
    w = layer.weight.detach().numpy()  # (C_in, C_out, kH, kW)
    # Keras Conv2DTranspose kernel[kh, kw, co, ci]; TFLite TRANSPOSE_CONV weights[co, kh, kw, ci]
    arrays = {
        "torch": w,
        "keras": np.einsum("iohw->hwoi", w),
        "tflite": np.einsum("iohw->ohwi", w),
    }
    x = _input()
    expected = _torch_output(layer, x)
    for layout, array in arrays.items():
        if container == ".npy":
            path = tmp_path / f"{layout}.npy"
            np.save(path, array)
            spec = str(path)
        else:
            path = tmp_path / f"{layout}.npz"
            np.savez(path, **{"up.weight": array, "up.bias": layer.bias.detach().numpy()})
            spec = f"{path}:up.weight"
        found = weights.read_weights(spec, layout=layout)
        np.testing.assert_array_equal(found.weight, w)
        bias = found.bias if found.bias is not None else layer.bias.detach().numpy()
        got = upsamp.transconv(x, found.weight, bias=bias, **_geometry(layer))
        np.testing.assert_allclose(got, expected, atol=ATOL)


def test_to_torch_layout_shapes_and_errors():
    w = np.arange(2 * 3 * 4 * 5, dtype=float).reshape(2, 3, 4, 5)  # torch (C_in, C_out, kH, kW)
    keras = np.einsum("iohw->hwoi", w)
    tflite = np.einsum("iohw->ohwi", w)
    np.testing.assert_array_equal(weights.to_torch_layout(keras, "keras"), w)
    np.testing.assert_array_equal(weights.to_torch_layout(tflite, "tflite"), w)
    np.testing.assert_array_equal(weights.to_torch_layout(w, "onnx"), w)
    two_d = np.ones((3, 3))
    assert weights.to_torch_layout(two_d, "keras") is two_d
    with pytest.raises(KernelError, match="must be 4-D"):
        weights.to_torch_layout(np.ones((2, 3, 4)), "tflite")
    with pytest.raises(KernelError, match="layout must be one of torch, onnx, keras, tflite"):
        weights.to_torch_layout(w, "caffe")


def test_check_channel_fit():
    assert weights.check_channel_fit(np.zeros((3, 3, 3, 3)), channels=3) == 1
    assert weights.check_channel_fit(np.zeros((3, 1, 3, 3)), channels=3, groups=3) == 3
    assert weights.check_channel_fit(np.zeros((3, 1, 3, 3)), channels=3, groups=1) == 1
    assert weights.check_channel_fit(np.ones((3, 3)), channels=3) == 1
    # a depthwise kernel without --groups would mix RGB into one channel: refused
    with pytest.raises(KernelError, match="--groups 3") as info:
        weights.check_channel_fit(np.zeros((3, 1, 3, 3)), channels=3, origin="k.npy")
    assert "mix the channels" in str(info.value) and str(info.value).startswith("k.npy:")
    # a Keras-layout array read as torch: the message suggests --layout
    with pytest.raises(KernelError, match="--layout keras"):
        weights.check_channel_fit(np.zeros((4, 4, 3, 3)), channels=3)
    with pytest.raises(KernelError, match="takes 2 input channels") as info:
        weights.check_channel_fit(np.zeros((2, 2, 3, 4)), channels=3)
    assert "--layout" not in str(info.value)
    with pytest.raises(KernelError, match="groups=2 does not divide the 3 channels"):
        weights.check_channel_fit(np.zeros((3, 1, 3, 3)), channels=3, groups=2)
    with pytest.raises(KernelError, match="pass --groups"):
        weights.check_channel_fit(np.zeros((3, 2, 3, 3)), channels=3)


# --------------------------------------------------------------------------------------------
# ONNX geometry that PyTorch does not state directly
# --------------------------------------------------------------------------------------------


def _onnx_definition(x, w, b, *, stride, begin, end, op):
    """ConvTranspose by its definition: the full scatter (PyTorch, no padding), extended by
    ``output_padding`` samples at the end, cropped by ``begin`` and ``end``, plus the bias."""
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]
    full = torch.nn.functional.conv_transpose2d(xt, torch.from_numpy(w), stride=stride)[0].numpy()
    full = np.pad(full, ((0, 0), (0, op[0]), (0, op[1])))
    h, w_ = full.shape[1:]
    out = full[:, begin[0] : h - end[0], begin[1] : w_ - end[1]]
    return out.transpose(1, 2, 0) + b


@pytest.mark.parametrize(
    "attributes, begin, end, op",
    [
        (dict(pads=[1, 1, 0, 0]), (1, 1), (0, 0), (0, 0)),  # top/left > bottom/right
        (dict(pads=[2, 1, 1, 1], output_padding=[0, 1]), (2, 1), (1, 1), (0, 1)),
        (dict(auto_pad="SAME_LOWER"), (1, 1), (0, 0), (0, 0)),  # total 1: extra at the start
        (dict(auto_pad="VALID"), (0, 0), (0, 0), (0, 0)),
    ],
)
def test_onnx_asymmetric_padding_is_mapped_exactly(attributes, begin, end, op, tmp_path):
    import onnx_models

    rng = np.random.default_rng(3)
    w = rng.uniform(-1, 1, size=(2, 3, 3, 3)).astype(np.float32)
    b = rng.uniform(-1, 1, size=3).astype(np.float32)
    path = onnx_models.single_conv_transpose(
        tmp_path / "m.onnx", w, b, strides=[2, 2], **attributes
    )
    found = weights.read_weights(f"{path}:up")
    x = _input(2)
    got = upsamp.transconv(x, found.weight, bias=found.bias, **found.geometry())
    expected = _onnx_definition(x, w, b, stride=2, begin=begin, end=end, op=op)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=ATOL)
    if attributes.get("auto_pad") == "SAME_LOWER":
        assert got.shape[:2] == (2 * x.shape[0], 2 * x.shape[1])


def test_onnx_auto_pad_same_upper_and_output_shape(tmp_path):
    import onnx_models

    rng = np.random.default_rng(4)
    w = rng.uniform(-1, 1, size=(2, 2, 4, 4)).astype(np.float32)
    upper = onnx_models.single_conv_transpose(
        tmp_path / "upper.onnx", w, strides=[2, 2], auto_pad="SAME_UPPER"
    )
    found = weights.read_weights(upper)
    assert found.padding == (1, 1) and found.output_padding == (0, 0)
    # output_shape with the input size stated in the graph: total padding 2, split 1/1
    shaped = onnx_models.single_conv_transpose(
        tmp_path / "shaped.onnx", w, strides=[2, 2], output_shape=[18, 22],
        input_shape=[1, 2, 9, 11],
    )  # fmt: skip
    found = weights.read_weights(shaped)
    x = _input(2)
    got = upsamp.transconv(x, found.weight, **found.geometry())
    expected = _onnx_definition(x, w, 0.0, stride=2, begin=(1, 1), end=(1, 1), op=(0, 0))
    assert got.shape == (18, 22, 2)
    np.testing.assert_allclose(got, expected, atol=ATOL)


@pytest.mark.parametrize(
    "attributes, message",
    [
        (dict(pads=[0, 0, 1, 1]), "crop more at the end of the height"),
        (dict(auto_pad="SAME_UPPER"), "crop more at the end"),  # 3x3, stride 2: extra at the end
        (dict(pads=[2, 0, 0, 0]), "crop less at the end of the height"),
        (dict(output_shape=[18, 22]), "does not state"),  # input size unknown
    ],
)
def test_onnx_geometry_without_pytorch_equivalent_is_refused(attributes, message, tmp_path):
    import onnx_models

    w = np.ones((1, 1, 3, 3), dtype=np.float32)
    path = onnx_models.single_conv_transpose(tmp_path / "m.onnx", w, strides=[2, 2], **attributes)
    with pytest.raises(KernelError, match=message) as info:
        weights.read_weights(path)
    assert str(info.value).startswith(f"{path}:up:")
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------------------------
# Sources and listings
# --------------------------------------------------------------------------------------------


def test_split_source(tmp_path):
    assert weights.split_source("a.npz:x.weight") == (Path("a.npz"), "x.weight")
    assert weights.split_source("a.onnx:conv/kernel:0") == (Path("a.onnx"), "conv/kernel:0")
    assert weights.split_source("bilinear") == (Path("bilinear"), None)
    odd = tmp_path / "w.npz:v2.npz"  # a file name with a colon after a suffix
    np.savez(odd, k=np.ones((2, 2)))
    assert weights.split_source(str(odd)) == (odd, None)
    assert weights.split_source(f"{odd}:k") == (odd, "k")
    assert weights.is_weight_source("m.safetensors")
    assert weights.is_weight_source("m.npy:x")
    assert not weights.is_weight_source("m.npy")
    assert not weights.is_weight_source("m.json")


def test_list_tensors(tmp_path):
    path = _save_npz(_layer("plain"), tmp_path)
    names = [(t.name, t.shape) for t in weights.list_tensors(path)]
    assert names == [
        ("stem.bias", (3,)),
        ("stem.weight", (3, 3, 1, 1)),
        ("up.bias", (3,)),
        ("up.weight", (3, 3, 4, 4)),
    ]


def test_read_all_weights(tmp_path):
    path = _save_safetensors(_layer("plain"), tmp_path)
    found = weights.read_all_weights(path, match="up.*")
    assert [f.key for f in found] == ["up.weight"]
    assert found[0].bias is not None
    assert [f.key for f in weights.read_all_weights(path)] == ["stem.weight", "up.weight"]


def test_read_bias_forms(tmp_path):
    assert weights.read_bias("none") is None
    np.testing.assert_array_equal(weights.read_bias("0.5"), [0.5])
    np.testing.assert_array_equal(weights.read_bias("1,-2,3e-1"), [1.0, -2.0, 0.3])
    (tmp_path / "b.json").write_text("[0.1, 0.2, 0.3]")
    np.testing.assert_array_equal(weights.read_bias(str(tmp_path / "b.json")), [0.1, 0.2, 0.3])
    np.save(tmp_path / "b.npy", np.array([1.0, 2.0], dtype=np.float32))
    np.testing.assert_array_equal(weights.read_bias(str(tmp_path / "b.npy")), [1.0, 2.0])
    path = _save_npz(_layer("plain"), tmp_path)
    np.testing.assert_allclose(
        weights.read_bias(f"{path}:up.bias"), _layer("plain").bias.detach().numpy()
    )
    with pytest.raises(KernelError, match="must be 0-D or 1-D"):
        weights.read_bias(f"{path}:up.weight")
    with pytest.raises(KernelError, match="finite"):
        weights.read_bias("nan")
    with pytest.raises(KernelError, match="not 'none', numbers, nor"):
        weights.read_bias("bias.txt")
    (tmp_path / "bad.json").write_text('{"a": 1}')
    with pytest.raises(KernelError, match="not a JSON list of numbers"):
        weights.read_bias(str(tmp_path / "bad.json"))


# --------------------------------------------------------------------------------------------
# Bad input: one line naming the file and the problem
# --------------------------------------------------------------------------------------------


def _one_line(info: pytest.ExceptionInfo, path: Path | str) -> str:
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(str(path)), text
    assert isinstance(info.value, UpsampError)
    return text


def test_several_tensors_without_key_lists_them_sorted(tmp_path):
    state = {f"block{i}.up.weight": np.ones((2, 2, 3, 3)) for i in range(15)}
    state["head.bias"] = np.ones(2)
    path = tmp_path / "g.npz"
    np.savez(path, **state)
    with pytest.raises(KernelError) as info:
        weights.read_weights(path)
    text = _one_line(info, path)
    assert "holds 15 tensors" in text and f"{path}:KEY" in text
    listed = sorted(state)[:12]  # head.bias is 1-D: not listed as a kernel
    assert "block0.up.weight, block1.up.weight, block10.up.weight" in text
    assert "(and 3 more)" in text and "head.bias" not in text
    assert listed[0] in text


def test_unknown_key_lists_what_is_there(tmp_path):
    path = _save_npz(_layer("plain"), tmp_path)
    with pytest.raises(KernelError) as info:
        weights.read_weights(f"{path}:down.weight")
    text = _one_line(info, path)
    assert "no tensor 'down.weight'" in text
    assert "stem.bias, stem.weight, up.bias, up.weight" in text


def test_unknown_onnx_node_lists_the_nodes(tmp_path):
    path = _save_onnx(_layer("plain"), tmp_path)
    with pytest.raises(KernelError) as info:
        weights.read_weights(f"{path}:down")
    assert "no tensor 'down'; it has: up" in _one_line(info, path)


@pytest.mark.parametrize(
    "key, shape, message",
    [
        ("k3", (2, 3, 3), "must be 2-D or 4-D, got shape (2, 3, 3)"),
        ("up.bias", (3,), "must be 2-D or 4-D, got shape (3,)"),
        ("k5", (1, 1, 1, 3, 3), "must be 2-D or 4-D"),
    ],
)
def test_wrong_rank(key, shape, message, tmp_path):
    path = tmp_path / "w.npz"
    np.savez(path, **{key: np.ones(shape)})
    with pytest.raises(KernelError) as info:
        weights.read_weights(f"{path}:{key}")
    assert message in _one_line(info, path)


def test_no_kernel_shaped_tensor(tmp_path):
    path = tmp_path / "w.npz"
    np.savez(path, a=np.ones(3), b=np.ones((1, 2, 3)))
    with pytest.raises(KernelError) as info:
        weights.read_weights(path)
    assert "holds no 2-D or 4-D tensor; it has: a, b" in _one_line(info, path)


def test_npz_with_a_member_that_is_not_an_array(tmp_path):
    import zipfile

    path = tmp_path / "w.npz"
    np.savez(path, k=np.ones((3, 3)))
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("README.txt", "notes")
    assert [t.name for t in weights.list_tensors(path)] == ["README.txt", "k"]
    np.testing.assert_array_equal(weights.read_weights(path).weight, np.ones((3, 3)))
    with pytest.raises(KernelError, match="must be numeric"):
        weights.read_weights(f"{path}:README.txt")


def test_pickled_npy_and_npz_are_refused(tmp_path):
    path = tmp_path / "obj.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(KernelError) as info:
        weights.read_weights(path)
    assert "nothing is ever unpickled" in _one_line(info, path)
    archive = tmp_path / "obj.npz"
    np.savez(archive, k=np.array([None, 1], dtype=object))
    with pytest.raises(KernelError) as info:
        weights.read_weights(f"{archive}:k")
    assert "nothing is ever unpickled" in _one_line(info, archive)


def test_pickled_pt_is_refused(tmp_path):
    path = tmp_path / "module.pt"
    torch.save(_Holder(_layer("plain")), path)  # a whole module: needs unpickling code
    with pytest.raises(KernelError) as info:
        weights.read_weights(f"{path}:up.weight")
    assert "never unpickled" in _one_line(info, path)


def test_pt_without_torch(tmp_path, monkeypatch):
    path = _save_state_dict(_layer("plain"), tmp_path, ".pt")
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    with pytest.raises(KernelError) as info:
        weights.read_weights(f"{path}:up.weight")
    text = _one_line(info, path)
    assert "needs PyTorch" in text and "weights_only=True" in text


@pytest.mark.parametrize("module, suffix", [("safetensors", ".safetensors"), ("onnx", ".onnx")])
def test_missing_optional_reader_names_the_extra(module, suffix, tmp_path, monkeypatch):
    path = tmp_path / f"m{suffix}"
    path.write_bytes(b"whatever")
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(KernelError) as info:
        weights.read_weights(path)
    assert 'pip install "upsamp[models]"' in _one_line(info, path)


@pytest.mark.parametrize(
    "suffix, content, message",
    [
        (".onnx", b"\x08\x07garbage that is not protobuf", "not a readable ONNX model"),
        (".safetensors", b"garbage123456789", "not a readable .safetensors file"),
        (".npz", b"PK\x03\x04 broken", "not a readable .npz archive"),
        (".npy", b"\x93NUMPY broken", "not a readable .npy array"),
        (".pt", b"not a zip nor a pickle", "not a readable PyTorch weight file"),
    ],
)
def test_files_that_do_not_parse(suffix, content, message, tmp_path):
    if suffix == ".onnx":
        pytest.importorskip("onnx")
    if suffix == ".safetensors":
        pytest.importorskip("safetensors")
    path = tmp_path / f"bad{suffix}"
    path.write_bytes(content)
    with pytest.raises(KernelError) as info:
        weights.read_weights(path)
    assert message in _one_line(info, path)


def test_missing_file_unknown_suffix_and_npy_key(tmp_path):
    with pytest.raises(KernelError, match="no such file"):
        weights.read_weights(tmp_path / "nope.safetensors:up.weight")
    (tmp_path / "w.h5").write_bytes(b"")
    with pytest.raises(KernelError, match="weight files must be"):
        weights.read_weights(tmp_path / "w.h5")
    np.save(tmp_path / "k.npy", np.ones((3, 3)))
    with pytest.raises(KernelError, match="holds one array; drop ':up'"):
        weights.read_weights(f"{tmp_path / 'k.npy'}:up")
    path = _save_npz(_layer("plain"), tmp_path)
    with pytest.raises(KernelError, match="empty KEY"):
        weights.read_weights(f"{path}:")
    with pytest.raises(KernelError, match="layout must be one of"):
        weights.read_weights(path, layout="nchw")
    with pytest.raises(KernelError, match="bias must be one of auto, none"):
        weights.read_weights(path, bias="zero")


def test_non_finite_and_non_numeric_tensors(tmp_path):
    path = tmp_path / "w.npz"
    np.savez(path, nan=np.full((2, 2), np.nan), text=np.array([["a", "b"], ["c", "d"]]))
    with pytest.raises(KernelError, match="NaN or infinite"):
        weights.read_weights(f"{path}:nan")
    with pytest.raises(KernelError, match="must be numeric"):
        weights.read_weights(f"{path}:text")


def test_bias_that_does_not_fit_the_weight(tmp_path):
    path = tmp_path / "w.npz"
    np.savez(path, **{"up.weight": np.ones((3, 2, 3, 3)), "up.bias": np.ones(5)})
    with pytest.raises(KernelError, match="a bias of 5 values does not fit"):
        weights.read_weights(f"{path}:up.weight")


def test_layout_that_does_not_fit_the_array(tmp_path):
    path = tmp_path / "w.npy"
    np.save(path, np.ones((3, 4, 4)))
    with pytest.raises(KernelError, match="must be 2-D or 4-D"):
        weights.read_weights(path, layout="keras")
    onnx_path = _save_onnx(_layer("plain"), tmp_path)
    with pytest.raises(KernelError, match="apply to plain arrays|applies to plain arrays"):
        weights.read_weights(onnx_path, layout="keras")


def test_onnx_nodes_that_cannot_be_read(tmp_path):
    import onnx_models
    from onnx import helper

    # the weight is computed by the graph (a Mul of two inputs), not stored
    nodes = [
        helper.make_node("Mul", ["w0", "w1"], ["w"], name="scale"),
        onnx_models.conv_transpose_node("up", "x", "w", "y", strides=[2, 2]),
    ]
    path = onnx_models.save_model(
        tmp_path / "computed.onnx",
        nodes,
        [],
        inputs=[("x", [1, 1, 4, 4]), ("w0", [1, 1, 3, 3]), ("w1", [1, 1, 3, 3])],
        outputs=[("y", None)],
    )
    with pytest.raises(KernelError, match="the output of a Mul node, computed when the model"):
        weights.read_weights(path)
    # a 1-D transposed convolution (weight of rank 3)
    path = onnx_models.single_conv_transpose(
        tmp_path / "one_d.onnx", np.ones((1, 1, 3), dtype=np.float32), strides=[2],
        input_shape=[1, 1, 8],
    )  # fmt: skip
    with pytest.raises(KernelError, match="only 2-D transposed convolutions"):
        weights.read_weights(path)
    # a model without any ConvTranspose
    relu = onnx_models.save_model(
        tmp_path / "relu.onnx",
        [helper.make_node("Relu", ["x"], ["y"])],
        [],
        inputs=[("x", [1, 1, 4, 4])],
        outputs=[("y", None)],
    )
    with pytest.raises(KernelError, match="has no ConvTranspose node"):
        weights.read_weights(relu)


def test_onnx_weight_through_identity_and_constant(tmp_path):
    import onnx_models
    from onnx import helper, numpy_helper

    w = np.random.default_rng(1).uniform(size=(1, 1, 4, 4)).astype(np.float32)
    constant = helper.make_node(
        "Constant", [], ["w_const"], value=numpy_helper.from_array(w, "w_value")
    )
    identity = helper.make_node("Identity", ["w_const"], ["w"])
    node = onnx_models.conv_transpose_node("up", "x", "w", "y", strides=[2, 2], pads=[1, 1, 1, 1])
    path = onnx_models.save_model(
        tmp_path / "const.onnx",
        [constant, identity, node],
        [],
        inputs=[("x", [1, 1, 5, 5])],
        outputs=[("y", None)],
    )
    found = weights.read_weights(path)
    np.testing.assert_array_equal(found.weight, w)
    assert found.padding == (1, 1)


# --------------------------------------------------------------------------------------------
# --input-range maths
# --------------------------------------------------------------------------------------------


def test_input_range_exact_values():
    v = np.array([0, 51, 102, 255], dtype=np.uint8)
    np.testing.assert_array_equal(
        to_model_range(v, (0, 255), (0, 1)), np.array([0, 0.2, 0.4, 1], dtype=np.float32)
    )
    np.testing.assert_allclose(
        to_model_range(v, (0, 255), (-1, 1)), [-1, -0.6, -0.2, 1], rtol=0, atol=1e-7
    )
    u = to_model_range(v.astype(np.float64), (0, 255), (-1, 1))
    assert u.dtype == np.float64
    np.testing.assert_allclose(from_model_range(u, (0, 255), (-1, 1)), v, rtol=0, atol=1e-12)
    w = np.array([0, 65535], dtype=np.uint16)
    np.testing.assert_array_equal(to_model_range(w, storage_range(w.dtype), (0, 1)), [0, 1])


def test_input_range_round_trip_of_a_model():
    """A weight trained on [-1, 1] inputs gives its training-time answer on 8-bit pixels."""
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(6, 7, 3)).astype(np.uint8)
    w = rng.normal(size=(3, 3, 4, 4)) / 10
    b = rng.normal(size=3)
    storage, model = storage_range(pixels.dtype), parse_input_range("-1..1")
    normalised = pixels.astype(np.float64) / 127.5 - 1.0  # how the model saw its inputs
    expected = (upsamp.transconv(normalised, w, stride=2, padding=1, bias=b) + 1.0) * 127.5
    mapped = to_model_range(pixels.astype(np.float64), storage, model)
    got = from_model_range(upsamp.transconv(mapped, w, stride=2, padding=1, bias=b), storage, model)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)


def test_input_range_parsing_and_errors():
    assert list(INPUT_RANGES) == ["0..255", "0..1", "-1..1"]
    assert parse_input_range(" 0..1 ") == (0.0, 1.0)
    with pytest.raises(ParameterError, match="one of 0..255, 0..1, -1..1"):
        parse_input_range("0..65535")
    assert storage_range(np.float32) is None and storage_range(bool) == (0.0, 1.0)
    assert storage_range(np.int32) == (-(2.0**31), 2.0**31 - 1)
    with pytest.raises(ParameterError, match="low < high"):
        to_model_range(np.zeros(2), (1, 1), (0, 1))
    with pytest.raises(ParameterError, match="numeric"):
        to_model_range(np.array(["a"]), (0, 1), (0, 1))
    with pytest.raises(ParameterError, match="numeric"):
        storage_range(np.dtype("U2"))
