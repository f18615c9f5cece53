"""Small ONNX models built node by node with ``onnx.helper``, for the weight-file and scan tests.

Every builder returns the serialized model's path. The graphs are NCHW float32 with one batch;
they are checked by ``onnx.checker`` so a broken builder fails loudly instead of testing nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

OPSET = 17


def initializer(name: str, array: np.ndarray) -> Any:
    return numpy_helper.from_array(np.asarray(array, dtype=np.float32), name=name)


def conv_transpose_node(
    name: str,
    x: str,
    weight: str,
    out: str,
    *,
    bias: str | None = None,
    **attributes: Any,
) -> Any:
    inputs = [x, weight] + ([bias] if bias else [])
    return helper.make_node("ConvTranspose", inputs, [out], name=name, **attributes)


def save_model(
    path: Path,
    nodes: list[Any],
    initializers: list[Any],
    *,
    inputs: list[tuple[str, list[Any]]],
    outputs: list[tuple[str, list[Any] | None]],
    check: bool = True,
) -> Path:
    graph = helper.make_graph(
        nodes,
        "test",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [
            helper.make_tensor_value_info(
                n, TensorProto.FLOAT, s if s is not None else [f"{n}_d{i}" for i in range(4)]
            )
            for n, s in outputs
        ],
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    if check:
        onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def single_conv_transpose(
    path: Path,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    *,
    input_shape: list[Any] | None = None,
    node_name: str = "up",
    weight_name: str = "up.weight",
    **attributes: Any,
) -> Path:
    """``y = ConvTranspose(x, W[, B])`` with the given attributes."""
    inits = [initializer(weight_name, weight)]
    bias_name = None
    if bias is not None:
        bias_name = "up.bias"
        inits.append(initializer(bias_name, bias))
    node = conv_transpose_node(node_name, "x", weight_name, "y", bias=bias_name, **attributes)
    shape = input_shape or ["N", int(weight.shape[0]), "H", "W"]
    out_shape = [f"y{i}" for i in range(len(shape))]
    return save_model(path, [node], inits, inputs=[("x", shape)], outputs=[("y", out_shape)])
