"""Every upsampling layer of a model, and whether it makes a checkerboard (``kernels scan``).

For an ONNX model (:func:`scan_model`):

``transposed-conv``
    Every ``ConvTranspose`` node, analysed with its own stride, pads, dilations, group and bias
    (:func:`upsamp.diagnostics.analyze_kernel`: equal phase sums or not).
``sub-pixel``
    Every ``DepthToSpace`` fed by a ``Conv`` (sub-pixel convolution, Shi et al. 2016): each of
    the ``r*r`` output phases has its own filter, the Conv output channel that
    ``DepthToSpace`` moves there. In ``CRD`` mode (PyTorch ``PixelShuffle``) phase ``(i, j)``
    of output channel ``c`` is Conv channel ``c*r*r + i*r + j``; in ``DCR`` mode (the ONNX
    default, TensorFlow's ``depth_to_space``) it is ``(i*r + j)*C + c``. The layer equals a
    transposed convolution at stride ``r`` whose phases are the flipped per-phase filters
    (:func:`upsamp.kernel_convert.pixel_shuffle_to_transconv`); that kernel is analysed, and
    the per-phase biases must be equal too (a flat input ``v`` gives ``v*G[c, i, j] + b[c, i,
    j]``).
``resize-conv``
    Every ``Resize`` (or ``Upsample``) feeding a ``Conv``: interpolation then convolution keeps
    a flat input flat whatever the weights (Odena et al. 2016), so it is clean by construction.
    A ``Resize`` feeding anything else is reported as ``resize``, clean likewise.

For a weight-only file (``.safetensors``, ``.npz``, ``.npy``, ``.pt``, ``.pth``), the 4-D tensors
whose name matches a glob are analysed as ``(C_in, C_out/groups, kH, kW)`` transposed-convolution
weights at the stride given (the file does not say how its tensors are used); ``<prefix>.bias``
is their bias and states the groups (:func:`upsamp.weights.read_weights`).

``phase_spread`` is ``max_c (max F - min F) / |mean F|`` over output channels ``c``, with
``F[c, p, q]`` the value a flat input of 1 gives on output phase ``(p, q)`` (phase sums plus
bias); ``inf`` when a channel's mean is 0. The verdict is ``checkerboard`` when a flat input
does not come out flat (unequal phase sums, or unequal per-phase biases), ``clean`` otherwise,
and ``unknown`` when the layer's weights are not stored in the file.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from . import weights
from ._arrays import int_pair
from .diagnostics import ARTIFACT_TOLERANCE, KernelAnalysis, analyze_kernel
from .errors import KernelError, ParameterError, UpsampError
from .kernel_analysis import kernel_analysis
from .kernel_convert import pixel_shuffle_to_transconv
from .kernels import Kernel

__all__ = [
    "CLEAN",
    "CHECKERBOARD",
    "KINDS",
    "UNKNOWN",
    "LayerFinding",
    "scan_json",
    "crd_order",
    "scan_model",
]

CLEAN, CHECKERBOARD, UNKNOWN = "clean", "checkerboard", "unknown"

#: Kinds of upsampling layer a scan reports.
KINDS = ("transposed-conv", "sub-pixel", "resize-conv", "resize", "tensor")

_RESIZE_OPS = ("Resize", "Upsample")


@dataclass(frozen=True)
class LayerFinding:
    """One upsampling layer of a model and its verdict (see the module docstring).

    Attributes
    ----------
    name : str
        The ONNX node's name (``<op>#<index>`` when it has none) or the tensor's name.
    kind : str
        One of :data:`KINDS`.
    kernel_shape : tuple of int or None
        The weight's shape as stored (``(C_in, C_out/groups, kH, kW)`` for a transposed
        convolution, the Conv's ``(M, C_in/groups, kH, kW)`` for sub-pixel and resize-conv).
    stride : tuple or None
        The upsampling factor ``(h, w)`` (floats for a non-integer Resize); None when unknown.
    padding : tuple of int or None
        ONNX ``[top, left, bottom, right]`` pads of the ConvTranspose or Conv; None when the
        file does not say.
    phase_spread : float or None
        None for resize layers and unknown weights.
    verdict : str
        ``clean``, ``checkerboard`` or ``unknown``.
    explanation, fix : str
        One line each; ``fix`` is empty when the layer is clean.
    """

    name: str
    kind: str
    kernel_shape: tuple[int, ...] | None
    stride: tuple[float, ...] | None
    padding: tuple[int, ...] | None
    phase_spread: float | None
    verdict: str
    explanation: str
    fix: str = ""

    def to_json(self) -> dict[str, Any]:
        """The ``layers[]`` object of ``kernels scan --json`` (an infinite spread is null)."""
        spread = self.phase_spread
        return {
            "name": self.name,
            "kind": self.kind,
            "kernel_shape": None if self.kernel_shape is None else list(self.kernel_shape),
            "stride": None if self.stride is None else list(self.stride),
            "padding": None if self.padding is None else list(self.padding),
            "phase_spread": None if spread is None or not math.isfinite(spread) else spread,
            "verdict": self.verdict,
            "explanation": self.explanation,
            "fix": self.fix,
        }


def scan_json(model: str | Path, findings: Sequence[LayerFinding]) -> dict[str, Any]:
    """``{"model": ..., "layers": [...]}`` for ``kernels scan --json``."""
    return {"model": str(model), "layers": [f.to_json() for f in findings]}


def scan_model(
    path: str | Path,
    *,
    stride: int | Sequence[int] | None = None,
    match: str | None = None,
) -> list[LayerFinding]:
    """The upsampling layers of a model file and their verdicts, in graph (or name) order.

    Parameters
    ----------
    path : str or path
        ``.onnx``, or a weight-only ``.safetensors``, ``.npz``, ``.npy``, ``.pt``, ``.pth``.
    stride : int or (h, w), optional
        Weight-only files: the stride their tensors upsample by (required). An ONNX graph
        states its own strides, so giving one is an error.
    match : str, optional
        ``fnmatch`` glob on layer (ONNX node) or tensor names; default every layer. For
        weight-only files every 4-D tensor matches by default, plain convolutions included:
        narrow it down to the transposed convolutions' names.

    Returns
    -------
    list of LayerFinding
        Empty when the model has no upsampling layer.

    Raises
    ------
    KernelError, ParameterError
        One line: unreadable or unknown file, a missing optional reader, a missing or
        superfluous stride.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        if stride is not None:
            raise ParameterError(
                f"{path}: an ONNX graph states the stride of every layer; --stride is for "
                "weight-only files"
            )
        return _scan_onnx(path, match)
    if suffix not in weights.MODEL_SUFFIXES:
        raise KernelError(
            f"{path}: models must be {', '.join(weights.MODEL_SUFFIXES)}; got "
            f"{suffix or 'no suffix'}"
        )
    if stride is None:
        raise ParameterError(
            f"{path}: a weight file does not say how its tensors are used; give the stride "
            "they upsample by (--stride S)"
        )
    return _scan_weight_file(path, int_pair(stride, "stride", minimum=1), match)


# --------------------------------------------------------------------------------------------
# Shared analysis
# --------------------------------------------------------------------------------------------


def _flat_spread(flat: np.ndarray) -> float:
    """``max_c (max - min) / |mean|`` of ``flat[c, p, q]``; inf when a mean is 0."""
    worst = 0.0
    for plane in flat:
        mean = float(plane.mean())
        scale = float(np.abs(plane).max())
        if scale == 0 or abs(mean) <= 1e-12 * scale:
            return math.inf
        worst = max(worst, float((plane.max() - plane.min()) / abs(mean)))
    return worst


def _kernel_finding(
    name: str,
    kind: str,
    analysis: KernelAnalysis,
    *,
    kernel_shape: tuple[int, ...],
    padding: tuple[int, ...] | None,
) -> LayerFinding:
    return LayerFinding(
        name=name,
        kind=kind,
        kernel_shape=kernel_shape,
        stride=analysis.stride,
        padding=padding,
        # a flat input's phases: the weights' phase sums (the analysis) plus the bias
        phase_spread=(
            analysis.phase_spread
            if analysis.bias is None
            else _flat_spread(analysis.phase_sums + analysis.bias[:, None, None])
        ),
        verdict=CLEAN if analysis.artifact_free else CHECKERBOARD,
        explanation=analysis.explain(),
        fix=analysis.suggest_fix(),
    )


def _unknown(name: str, kind: str, why: str, **fields: Any) -> LayerFinding:
    values: dict[str, Any] = dict(kernel_shape=None, stride=None, padding=None)
    values.update(fields)
    return LayerFinding(
        name=name, kind=kind, phase_spread=None, verdict=UNKNOWN, explanation=why, **values
    )


# --------------------------------------------------------------------------------------------
# Weight-only files
# --------------------------------------------------------------------------------------------


def _scan_weight_file(path: Path, stride: tuple[int, int], match: str | None) -> list[LayerFinding]:
    problems: list[tuple[str, str]] = []
    found = weights.read_all_weights(path, match=match, errors=problems)
    findings = []
    for layer in found:
        name = layer.key or path.stem
        try:
            analysis = analyze_kernel(
                layer.weight, stride=stride, groups=layer.groups, bias=layer.bias
            )
        except UpsampError as exc:
            findings.append(
                _unknown(name, "tensor", str(exc), kernel_shape=tuple(layer.weight.shape))
            )
            continue
        findings.append(
            _kernel_finding(
                name, "tensor", analysis, kernel_shape=tuple(layer.weight.shape), padding=None
            )
        )
    for name, message in problems:
        findings.append(_unknown(name, "tensor", message))
    return sorted(findings, key=lambda f: f.name)


# --------------------------------------------------------------------------------------------
# ONNX graphs
# --------------------------------------------------------------------------------------------


def _scan_onnx(path: Path, match: str | None) -> list[LayerFinding]:
    graph = weights.load_onnx_graph(path)
    findings: list[LayerFinding] = []
    labels = {id(node): weights.node_label(node, i) for i, node in enumerate(graph.graph.node)}
    for node in graph.graph.node:
        label = labels[id(node)]
        if match is not None and not fnmatch.fnmatchcase(label, match):
            continue
        if node.op_type == "ConvTranspose":
            findings.append(_transposed_finding(graph, node, label))
        elif node.op_type == "DepthToSpace":
            findings.append(_sub_pixel_finding(graph, node, label, labels))
        elif node.op_type in _RESIZE_OPS:
            findings += _resize_findings(graph, node, label, labels)
    return findings


def _transposed_finding(graph: weights.OnnxGraph, node: Any, label: str) -> LayerFinding:
    kind = "transposed-conv"
    weight = graph.constant(node.input[1]) if len(node.input) > 1 else None
    if weight is None:
        return _unknown(label, kind, "the weight is computed when the model runs, not stored")
    shape = tuple(int(v) for v in weight.shape)
    if weight.ndim != 4:
        return _unknown(
            label, kind, f"only 2-D transposed convolutions are analysed (weight {shape})",
            kernel_shape=shape,
        )  # fmt: skip
    attrs = weights.node_attributes(node)
    origin = f"{graph.path}:{label}"
    input_size = None
    if attrs.get("output_shape") is not None:
        input_size = graph.static_input_size(node.input[0])
    try:
        geometry = weights.onnx_pads(
            attrs, (shape[2], shape[3]), input_size=input_size, origin=origin
        )
        pads: tuple[int, ...] | None = tuple(geometry["pads"])
    except KernelError:
        # output_shape without a known input size: the pads are unknown, but padding only
        # relabels the phases, so the verdict and the spread do not depend on it
        geometry = weights.onnx_pads(
            {k: v for k, v in attrs.items() if k != "output_shape"}, (shape[2], shape[3])
        )
        pads = None
    bias = graph.constant(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    try:
        analysis = analyze_kernel(
            weight.astype(np.float64),
            stride=geometry["stride"],
            padding=tuple(geometry["pads"][:2]),
            dilation=geometry["dilation"],
            groups=geometry["groups"],
            bias=None if bias is None else bias.astype(np.float64).reshape(-1),
        )
    except UpsampError as exc:
        return _unknown(label, kind, str(exc), kernel_shape=shape, stride=geometry["stride"])
    return _kernel_finding(label, kind, analysis, kernel_shape=shape, padding=pads)


def crd_order(conv_weight: np.ndarray, *, block: int, mode: str) -> np.ndarray:
    """The Conv weight with its output channels in ``CRD`` order (PyTorch's ``PixelShuffle``).

    DepthToSpace moves Conv output channel ``m`` to phase ``(i, j)`` of output channel ``c``
    with ``m = c*r*r + i*r + j`` in ``CRD`` mode and ``m = (i*r + j)*C + c`` in ``DCR`` mode
    (``C = M / r**2``). The result's channel ``c*r*r + i*r + j`` is the one that lands on
    ``(c, i, j)``, whatever ``mode`` was, so the sub-pixel convolution can be handed to
    :func:`upsamp.kernel_convert.pixel_shuffle_to_transconv`.

    >>> w = np.arange(8.0).reshape(8, 1, 1, 1)  # C = 2, r = 2
    >>> crd_order(w, block=2, mode="DCR")[:, 0, 0, 0]
    array([0., 2., 4., 6., 1., 3., 5., 7.])
    """
    if mode not in ("DCR", "CRD"):
        raise ParameterError(f"mode must be one of DCR, CRD; got {mode!r}")
    w = np.asarray(conv_weight, dtype=np.float64)
    r = int(block)
    if r < 1 or w.shape[0] % (r * r):
        raise ParameterError(
            f"the Conv has {w.shape[0]} output channels: not a multiple of blocksize² = {r * r}"
        )
    c_out = w.shape[0] // (r * r)
    order = [
        _phase_channel(c, i, j, block=r, channels=c_out, mode=mode)
        for c in range(c_out)
        for i in range(r)
        for j in range(r)
    ]
    return w[order]


def _phase_channel(c: int, i: int, j: int, *, block: int, channels: int, mode: str) -> int:
    """The Conv output channel DepthToSpace moves to phase ``(i, j)`` of output channel ``c``."""
    if mode == "DCR":
        return (i * block + j) * channels + c
    return c * block * block + i * block + j


def _dense(weight: np.ndarray, groups: int) -> np.ndarray:
    """A grouped Conv weight ``(M, C_in/g, kH, kW)`` as the dense ``(M, C_in, kH, kW)`` one."""
    w = np.asarray(weight, dtype=np.float64)
    if groups == 1:
        return w
    m, per_group = w.shape[:2]
    if m % groups:
        raise ParameterError(f"group={groups} does not divide the Conv's {m} output channels")
    dense = np.zeros((m, per_group * groups) + w.shape[2:])
    per_out = m // groups
    for g in range(groups):
        rows = slice(g * per_out, (g + 1) * per_out)
        dense[rows, g * per_group : (g + 1) * per_group] = w[rows]
    return dense


def _phase_biases(bias: np.ndarray, c_out: int, r: int, mode: str) -> np.ndarray:
    """``B[c, i, j]``: the Conv bias each phase of each output channel receives."""
    out = np.empty((c_out, r, r))
    for c in range(c_out):
        for i in range(r):
            for j in range(r):
                out[c, i, j] = bias[_phase_channel(c, i, j, block=r, channels=c_out, mode=mode)]
    return out


def _sub_pixel_finding(
    graph: weights.OnnxGraph, node: Any, label: str, labels: dict[int, str]
) -> LayerFinding:
    kind = "sub-pixel"
    attrs = weights.node_attributes(node)
    r = int(attrs.get("blocksize", 0) or 0)
    mode = attrs.get("mode", b"DCR")
    mode = mode.decode() if isinstance(mode, bytes) else str(mode)
    stride = (r, r) if r > 0 else None
    conv = graph.upstream(node.input[0])
    if conv is None or conv.op_type != "Conv":
        source = "a graph input" if conv is None else f"a {conv.op_type} node"
        return _unknown(
            label, kind,
            f"its input comes from {source}, not straight from a Conv, so the phase filters "
            "are not known",
            stride=stride,
        )  # fmt: skip
    weight = graph.constant(conv.input[1]) if len(conv.input) > 1 else None
    if weight is None or weight.ndim != 4 or r < 1 or mode not in ("DCR", "CRD"):
        why = (
            "the Conv's weight is computed when the model runs, not stored"
            if weight is None
            else f"cannot analyse a {weight.ndim}-D Conv with blocksize {r}, mode {mode}"
        )
        return _unknown(label, kind, why, stride=stride)
    shape = tuple(int(v) for v in weight.shape)
    conv_attrs = weights.node_attributes(conv)
    conv_pads = conv_attrs.get("pads")
    padding = tuple(int(v) for v in conv_pads) if conv_pads is not None else None
    dilation = tuple(int(v) for v in conv_attrs.get("dilations", [1, 1]))[:2]
    groups = int(conv_attrs.get("group", 1) or 1)
    conv_label = labels[id(conv)]
    try:
        # DCR interleaves the groups' channels: make the Conv dense first (zeros off its groups)
        crd = crd_order(_dense(weight, groups), block=r, mode=mode)
        if dilation != (1, 1):  # the converter takes plain taps: put the zeros in
            d_h, d_w = dilation
            spaced = np.zeros(crd.shape[:2] + (d_h * (shape[2] - 1) + 1, d_w * (shape[3] - 1) + 1))
            spaced[:, :, ::d_h, ::d_w] = crd
            crd = spaced
        c_out = shape[0] // (r * r)
        stored_bias = (
            graph.constant(conv.input[2]) if len(conv.input) > 2 and conv.input[2] else None
        )
        bias = np.zeros(shape[0]) if stored_bias is None else stored_bias.astype(np.float64).ravel()
        phase_bias = _phase_biases(bias, c_out, r, mode)
        begin = (padding[0], padding[1]) if padding is not None and len(padding) == 4 else (0, 0)
        transposed = pixel_shuffle_to_transconv(Kernel(weight=crd, stride=(r, r), padding=begin))
        # one bias per output channel (the mean of its phases); unequal ones are checked below
        analysis = kernel_analysis(replace(transposed, bias=phase_bias.mean(axis=(1, 2))))
    except UpsampError as exc:
        return _unknown(label, kind, str(exc), kernel_shape=shape, stride=stride, padding=padding)
    weight_sums = analysis.phase_sums  # the weights' alone (the bias is reported apart)
    flat = weight_sums + phase_bias
    spread = _flat_spread(flat)
    scale = np.abs(flat).max(axis=(1, 2)) + 1e-300
    bias_range = (phase_bias.max(axis=(1, 2)) - phase_bias.min(axis=(1, 2))) / scale
    biases_equal = bool(np.all(bias_range <= ARTIFACT_TOLERANCE))
    conv_stride = tuple(int(v) for v in conv_attrs.get("strides", [1, 1]))
    if conv_stride in ((1, 1), (1,)):
        head = f"{conv_label} ({shape[2]}×{shape[3]} Conv) + DepthToSpace({r}, {mode}) acts as a "
    else:  # the flat-input phase sums are the same whatever the Conv's stride
        head = (
            f"{conv_label} ({shape[2]}×{shape[3]} Conv, stride {conv_stride[0]}) + "
            f"DepthToSpace({r}, {mode}) has the phase sums of a "
        )
    box = f"{r}×{r}"
    fix = (
        f"tie the {r * r} phase filters and biases (ICNR initialisation), or follow with a {box} "
        "box filter (zero-order hold, Sugawara et al.)"
    )
    if not analysis.artifact_free:
        explanation = head + analysis.explain()
        verdict = CHECKERBOARD
    elif not biases_equal:
        worst = int(np.argmax(bias_range))
        ratio = ":".join(f"{v:.3g}" for v in phase_bias[worst].ravel())
        explanation = (
            head + analysis.explain() + f", but the per-phase biases differ (output channel "
            f"{worst}: {ratio}), so a flat input comes out as a grid"
        )
        verdict = CHECKERBOARD
    else:
        explanation = head + analysis.explain()
        if stored_bias is not None:
            explanation += ", and the per-phase biases are equal"
        verdict, fix = CLEAN, ""
    return LayerFinding(
        name=label,
        kind=kind,
        kernel_shape=shape,
        stride=(r, r),
        padding=padding,
        phase_spread=spread,
        verdict=verdict,
        explanation=explanation,
        fix=fix,
    )


def _resize_scales(graph: weights.OnnxGraph, node: Any) -> tuple[float, ...] | None:
    """The spatial scales of a Resize/Upsample node when they are stored, else None."""
    index = 1 if node.op_type == "Upsample" else 2
    if len(node.input) <= index or not node.input[index]:
        stated = weights.node_attributes(node).get("scales")  # Upsample before opset 9
        scales = None if stated is None else np.asarray(stated, dtype=np.float64)
    else:
        scales = graph.constant(node.input[index])
    if scales is None or scales.size < 2:
        return None
    values = [float(v) for v in scales.ravel()[-2:]]
    return tuple(int(v) if float(v).is_integer() else v for v in values)


def _resize_findings(
    graph: weights.OnnxGraph, node: Any, label: str, labels: dict[int, str]
) -> list[LayerFinding]:
    scales = _resize_scales(graph, node)
    if scales is not None and max(scales) <= 1:
        return []  # a downscale
    attrs = weights.node_attributes(node)
    mode = attrs.get("mode", b"nearest")
    mode = mode.decode() if isinstance(mode, bytes) else str(mode)
    convs = [n for n in graph.downstream(node.output[0]) if n.op_type == "Conv"]
    if not convs:
        return [
            LayerFinding(
                name=label,
                kind="resize",
                kernel_shape=None,
                stride=scales,
                padding=None,
                phase_spread=None,
                verdict=CLEAN,
                explanation=(
                    f"{node.op_type} ({mode}) interpolates: a flat input stays flat (no kernel "
                    "overlaps unevenly)"
                ),
            )
        ]
    findings = []
    for conv in convs:
        weight = graph.constant(conv.input[1]) if len(conv.input) > 1 else None
        shape = None if weight is None else tuple(int(v) for v in weight.shape)
        conv_attrs = weights.node_attributes(conv)
        pads = conv_attrs.get("pads")
        size = "" if shape is None or len(shape) != 4 else f"{shape[2]}×{shape[3]} "
        findings.append(
            LayerFinding(
                name=label,
                kind="resize-conv",
                kernel_shape=shape,
                stride=scales,
                padding=None if pads is None else tuple(int(v) for v in pads),
                phase_spread=None,
                verdict=CLEAN,
                explanation=(
                    f"{node.op_type} ({mode}) then {size}Conv {labels[id(conv)]}: every output "
                    "pixel of a flat input gets the same weighted sum, so it stays flat "
                    "(resize-convolution, clean by construction)"
                ),
            )
        )
    return findings
