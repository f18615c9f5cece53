"""Kernels and biases read out of weight files: NumPy, safetensors, ONNX and PyTorch.

A *kernel source* is ``FILE`` or ``FILE:KEY``:

``FILE.npy``
    One array (read with pickling disabled); no KEY.
``FILE.npz:KEY``
    The array ``KEY`` of the archive (pickling disabled).
``FILE.safetensors:KEY``
    The tensor ``KEY`` (a JSON header and raw little-endian tensors, read by the
    ``safetensors`` package).
``FILE.onnx:NAME``
    A ``ConvTranspose`` node, named by the node's name or by its weight initializer's name.
    The geometry (``strides``, ``pads``, ``output_padding``, ``dilations``, ``group``,
    ``auto_pad``, ``output_shape``) and the bias come from the node.
``FILE.pt:KEY``, ``FILE.pth:KEY``
    A tensor of a PyTorch state_dict, loaded with ``torch.load(..., weights_only=True)`` (only
    tensors and plain containers; nothing else is unpickled). Needs PyTorch.

A file holding one kernel-shaped tensor (2-D or 4-D) needs no KEY; with several, the error
lists them. With a KEY ending in ``.weight`` (or the KEY ``weight`` of a single layer's
state_dict), the tensor ``<prefix>.bias`` (``bias``) is the bias when it
exists (``bias="none"`` turns that off), and a bias whose length is a multiple of the weight's
second axis states the number of groups (``C_out = weight.shape[1] * groups``).

Layouts
-------
The weight comes back in the PyTorch/ONNX layout ``(C_in, C_out/groups, kH, kW)``. A plain
array may be stored in another framework's layout (:func:`to_torch_layout`):

``torch``, ``onnx``
    ``(C_in, C_out/groups, kH, kW)`` (``torch.nn.ConvTranspose2d.weight``, ONNX
    ``ConvTranspose`` input ``W``).
``keras``
    ``(kH, kW, C_out, C_in)`` (Keras ``Conv2DTranspose.kernel``, ``tf.nn.conv2d_transpose``
    filters; no groups).
``tflite``
    ``(C_out, kH, kW, C_in)`` (TFLite ``TRANSPOSE_CONV`` weights; no groups).

All four scatter input pixel ``i`` to output ``i*s - p + k*d`` with tap ``k`` (no kernel flip),
so converting is an axis permutation only. A 2-D ``(kH, kW)`` array has no channel axes and is
the same in every layout.

Optional readers (``pip install "upsamp[models]"``): ``safetensors`` and ``onnx`` are imported
inside the functions that need them, so that ``upsamp --help`` and plain ``.npy`` kernels do not
pay for them; a missing one is a one-line error naming the extra.

Every failure raises :class:`~upsamp.errors.KernelError` with one line naming the file and the
problem.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import KernelError

__all__ = [
    "BIAS_MODES",
    "LAYOUTS",
    "MODEL_SUFFIXES",
    "LayerWeights",
    "TensorInfo",
    "check_channel_fit",
    "groups_from_bias",
    "is_weight_source",
    "OnnxGraph",
    "list_tensors",
    "load_onnx_graph",
    "node_attributes",
    "node_label",
    "onnx_pads",
    "read_all_weights",
    "onnx_transposed_geometry",
    "read_bias",
    "read_tensor",
    "read_weights",
    "split_source",
    "to_torch_layout",
]

Pair = tuple[int, int]

#: Layouts a plain array may be stored in (see the module docstring).
LAYOUTS = ("torch", "onnx", "keras", "tflite")

#: ``bias=`` values of :func:`read_weights`: use the file's bias, or none.
BIAS_MODES = ("auto", "none")

#: File suffixes this module reads.
MODEL_SUFFIXES = (".npy", ".npz", ".safetensors", ".onnx", ".pt", ".pth")

#: Suffixes that only this module reads (``.npy`` is also a plain kernel file).
_CONTAINER_SUFFIXES = (".npz", ".safetensors", ".onnx", ".pt", ".pth")

#: How many names an error message lists before "and N more".
_LISTED = 12

_EXTRA_HINT = 'pip install "upsamp[models]"'


# --------------------------------------------------------------------------------------------
# Value objects
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LayerWeights:
    """A kernel read from a weight file, in the PyTorch layout, with what the file says of it.

    Attributes
    ----------
    weight : ndarray, float64, shape (kH, kW) or (C_in, C_out/groups, kH, kW)
    bias : ndarray, float64, shape (C_out,), or None
    stride, padding, output_padding, dilation : (h, w) pairs, or None
        The geometry the file states (ONNX nodes state all four); None where it says nothing.
        ``padding`` and ``output_padding`` follow PyTorch (``conv_transpose2d``); ONNX pads are
        converted exactly (see :func:`onnx_transposed_geometry`).
    groups : int or None
        From the ONNX ``group`` attribute, or implied by the bias length; None otherwise.
    source : str
        ``FILE`` or ``FILE:KEY`` as it was resolved.
    key : str or None
        The tensor or node that was read.
    description : str
        One line for messages, e.g. ``model.onnx:up1 (ConvTranspose, stride 2,2, ...)``.
    """

    weight: np.ndarray
    bias: np.ndarray | None = None
    stride: Pair | None = None
    padding: Pair | None = None
    output_padding: Pair | None = None
    dilation: Pair | None = None
    groups: int | None = None
    source: str = ""
    key: str | None = None
    description: str = ""

    def geometry(self) -> dict[str, Any]:
        """The geometry the file states: ``{"stride": (h, w), ..., "groups": g}`` without the
        entries it does not state (ready for :meth:`upsamp.kernels.Kernel.with_overrides`)."""
        values = {
            "stride": self.stride,
            "padding": self.padding,
            "output_padding": self.output_padding,
            "dilation": self.dilation,
            "groups": self.groups,
        }
        return {k: v for k, v in values.items() if v is not None}


@dataclass(frozen=True)
class TensorInfo:
    """A tensor of a weight file, without its values: ``name``, ``shape`` and ``dtype`` (the
    file's own dtype name, e.g. ``float32`` or ``F32``)."""

    name: str
    shape: tuple[int, ...]
    dtype: str = ""


@dataclass
class _Container:
    """The tensors of one file: names, shapes and a reader for each."""

    path: Path
    infos: dict[str, TensorInfo]
    read: Callable[[str], np.ndarray]
    kind: str
    extra: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Sources: FILE[:KEY]
# --------------------------------------------------------------------------------------------


def split_source(spec: str | Path) -> tuple[Path, str | None]:
    """Split ``FILE[:KEY]`` into the path and the key.

    The split is at the first ``:`` that follows one of :data:`MODEL_SUFFIXES` (any case) and
    leaves an existing file before it, else at the first such ``:``; a whole ``spec`` that is
    an existing file has no key (so file names with colons work). Keys may contain ``:``
    (TensorFlow-style names such as ``conv/kernel:0``).

    >>> split_source("gen.safetensors:up.0.weight")
    (PosixPath('gen.safetensors'), 'up.0.weight')
    >>> split_source("model.onnx")
    (PosixPath('model.onnx'), None)
    """
    text = str(spec)
    if Path(text).is_file():
        return Path(text), None
    candidates = [
        i
        for i, char in enumerate(text)
        if char == ":" and text[:i].lower().endswith(MODEL_SUFFIXES)
    ]
    for i in candidates:
        if Path(text[:i]).is_file():
            return Path(text[:i]), text[i + 1 :]
    if candidates:
        i = candidates[0]
        return Path(text[:i]), text[i + 1 :]
    return Path(text), None


def is_weight_source(spec: str | Path) -> bool:
    """True when ``spec`` names a container this module reads (``.npz``, ``.safetensors``,
    ``.onnx``, ``.pt``, ``.pth``, with or without ``:KEY``), or a ``.npy`` with a ``:KEY``.

    A bare ``.npy`` is False: it is also a plain kernel file (:func:`upsamp.kernels.load_kernel`).

    >>> is_weight_source("g.pth:up.weight"), is_weight_source("k.npy"), is_weight_source("bilinear")
    (True, False, False)
    """
    path, key = split_source(spec)
    suffix = path.suffix.lower()
    return suffix in _CONTAINER_SUFFIXES or (suffix == ".npy" and key is not None)


def _names_text(names: Iterable[str]) -> str:
    """Sorted names, the first :data:`_LISTED` of them, then ``(and N more)``."""
    ordered = sorted(names)
    if not ordered:
        return "nothing"
    shown = ", ".join(ordered[:_LISTED])
    rest = len(ordered) - _LISTED
    return f"{shown} (and {rest} more)" if rest > 0 else shown


def _first_line(exc: BaseException) -> str:
    for line in str(exc).splitlines():
        line = re.sub(r"\x1b\[[0-9;]*m", "", line).strip()
        if line:
            return line
    return type(exc).__name__


# --------------------------------------------------------------------------------------------
# Readers, one per format
# --------------------------------------------------------------------------------------------


def _check_file(path: Path) -> None:
    if not path.exists():
        raise KernelError(f"{path}: no such file")
    if not path.is_file():
        raise KernelError(f"{path}: not a file")


def _numeric(array: Any, origin: str) -> np.ndarray:
    arr = np.asarray(array)
    if arr.dtype.kind not in "iuf":
        raise KernelError(f"{origin}: tensor must be numeric, got dtype {arr.dtype}")
    if arr.size == 0:
        raise KernelError(f"{origin}: tensor is empty (shape {arr.shape})")
    out = arr.astype(np.float64)
    if not np.all(np.isfinite(out)):
        raise KernelError(f"{origin}: tensor contains NaN or infinite values")
    return out


def _npy_container(path: Path) -> _Container:
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise KernelError(
                f"{path}: holds Python objects (a pickled array); only numeric arrays are read "
                "and nothing is ever unpickled"
            ) from None
        raise KernelError(f"{path}: not a readable .npy array ({_first_line(exc)})") from None
    except (OSError, EOFError) as exc:
        raise KernelError(f"{path}: not a readable .npy array ({_first_line(exc)})") from None
    if not isinstance(array, np.ndarray):
        raise KernelError(f"{path}: not a .npy array (an .npz archive? name it FILE.npz:KEY)")
    name = path.stem
    info = TensorInfo(name, tuple(int(v) for v in array.shape), array.dtype.name)
    return _Container(path, {name: info}, lambda _key: array, "npy")


def _npz_container(path: Path) -> _Container:
    import zipfile

    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise KernelError(f"{path}: not a readable .npz archive ({_first_line(exc)})") from None
    if isinstance(archive, np.ndarray):
        raise KernelError(f"{path}: is a single .npy array, not an .npz archive")
    infos: dict[str, TensorInfo] = {}
    try:
        members = set(archive.zip.namelist())
        for name in archive.files:
            member = f"{name}.npy" if f"{name}.npy" in members else name
            with archive.zip.open(member) as fh:
                try:
                    version = np.lib.format.read_magic(fh)
                    if version == (1, 0):
                        shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
                    else:
                        shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
                except ValueError:  # a member that is not an array: listed, never a kernel
                    infos[name] = TensorInfo(name, (), "not an array")
                    continue
            infos[name] = TensorInfo(name, tuple(int(v) for v in shape), np.dtype(dtype).name)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise KernelError(f"{path}: not a readable .npz archive ({_first_line(exc)})") from None

    def read(key: str) -> np.ndarray:
        try:
            return np.asarray(archive[key])
        except ValueError as exc:
            if "allow_pickle" in str(exc):
                raise KernelError(
                    f"{path}:{key}: holds Python objects (a pickled array); only numeric arrays "
                    "are read and nothing is ever unpickled"
                ) from None
            raise KernelError(f"{path}:{key}: not readable ({_first_line(exc)})") from None

    return _Container(path, infos, read, "npz")


def _safetensors_container(path: Path) -> _Container:
    try:
        from safetensors import safe_open  # optional extra, imported here for start-up time
    except ImportError:
        raise KernelError(
            f"{path}: reading .safetensors needs the safetensors package ({_EXTRA_HINT})"
        ) from None
    try:
        with safe_open(str(path), framework="numpy") as handle:
            infos = {}
            for name in handle.keys():
                piece = handle.get_slice(name)
                infos[name] = TensorInfo(
                    name, tuple(int(v) for v in piece.get_shape()), str(piece.get_dtype())
                )
    except Exception as exc:  # the reader raises its own error type for any malformed file
        raise KernelError(
            f"{path}: not a readable .safetensors file ({_first_line(exc)})"
        ) from None

    def read(key: str) -> np.ndarray:
        try:
            with safe_open(str(path), framework="numpy") as handle:
                return np.asarray(handle.get_tensor(key))
        except Exception as exc:  # e.g. a dtype numpy has no type for (bfloat16)
            raise KernelError(
                f"{path}:{key}: cannot read the tensor ({_first_line(exc)})"
            ) from None

    return _Container(path, infos, read, "safetensors")


def _flatten_state(value: Any, prefix: str, out: dict[str, Any]) -> None:
    """Tensors of nested dicts/lists, under dotted names (``{"model": {"up.weight": t}}`` ->
    ``model.up.weight``)."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            _flatten_state(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _flatten_state(v, f"{prefix}.{i}" if prefix else str(i), out)
    elif hasattr(value, "detach") and hasattr(value, "shape"):
        out[prefix] = value


def _torch_container(path: Path) -> _Container:
    try:
        import torch  # heavy and optional: imported here for start-up time
    except ImportError:
        raise KernelError(
            f"{path}: reading {path.suffix} files needs PyTorch (pip install torch); they are "
            "loaded with torch.load(weights_only=True), so no code in them runs"
        ) from None
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError, RuntimeError, EOFError...: all one line
        reason = _first_line(exc)
        if "Weights only load failed" in reason:
            reason = "it holds more than tensors and plain containers, which are never unpickled"
        raise KernelError(f"{path}: not a readable PyTorch weight file ({reason})") from None
    tensors: dict[str, Any] = {}
    _flatten_state(state, "", tensors)
    if "" in tensors:  # the file holds one bare tensor
        tensors[path.stem] = tensors.pop("")
    infos = {
        name: TensorInfo(name, tuple(int(v) for v in t.shape), str(t.dtype).replace("torch.", ""))
        for name, t in tensors.items()
    }

    def read(key: str) -> np.ndarray:
        t = tensors[key].detach().cpu()
        if t.is_floating_point() and t.dtype not in (torch.float32, torch.float64):
            t = t.to(torch.float64)  # bfloat16/float16 have no exact numpy twin everywhere
        return t.numpy()

    return _Container(path, infos, read, "torch")


def _onnx_module(path: Path) -> Any:
    try:
        import onnx  # optional extra, imported here for start-up time
    except ImportError:
        raise KernelError(f"{path}: reading .onnx needs the onnx package ({_EXTRA_HINT})") from None
    return onnx


def load_onnx_graph(path: str | Path) -> OnnxGraph:
    """Parse an ONNX model (its stored tensors stay on disk until read) into an
    :class:`OnnxGraph`; one-line errors for a missing file, a missing ``onnx`` package or a
    file that does not parse."""
    path = Path(path)
    _check_file(path)
    return OnnxGraph(path, _load_onnx(path))


def _load_onnx(path: Path) -> Any:
    onnx = _onnx_module(path)
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # DecodeError and friends
        raise KernelError(f"{path}: not a readable ONNX model ({_first_line(exc)})") from None
    if not model.HasField("graph"):
        raise KernelError(f"{path}: not an ONNX model (no graph)")
    return model


class OnnxGraph:
    """Constant tensors and node lookups of one ONNX graph (top level only)."""

    def __init__(self, path: Path, model: Any) -> None:
        self.path = path
        self.model = model
        self.graph = model.graph
        self.initializers = {t.name: t for t in self.graph.initializer}
        self.producers: dict[str, Any] = {}
        self.consumers: dict[str, list[Any]] = {}
        for node in self.graph.node:
            for name in node.output:
                self.producers[name] = node
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)

    def source_name(self, name: str) -> str:
        """Follow ``Identity`` nodes back to the tensor they copy."""
        seen = set()
        while name in self.producers and self.producers[name].op_type == "Identity":
            if name in seen:
                break
            seen.add(name)
            name = self.producers[name].input[0]
        return name

    def constant(self, name: str) -> np.ndarray | None:
        """The value of a stored tensor (an initializer or a ``Constant`` node), else None."""
        from onnx import numpy_helper  # optional extra, imported here for start-up time
        from onnx.external_data_helper import (
            load_external_data_for_tensor,
            uses_external_data,
        )

        name = self.source_name(name)
        tensor = self.initializers.get(name)
        if tensor is None:
            node = self.producers.get(name)
            if node is None or node.op_type != "Constant":
                return None
            attrs = {a.name: a for a in node.attribute}
            if "value" not in attrs:
                return None
            tensor = attrs["value"].t
        if uses_external_data(tensor):
            try:
                load_external_data_for_tensor(tensor, str(self.path.parent))
            except Exception as exc:
                raise KernelError(
                    f"{self.path}: tensor {name!r} is stored outside the model and cannot be read "
                    f"({_first_line(exc)})"
                ) from None
        try:
            return np.asarray(numpy_helper.to_array(tensor))
        except Exception as exc:
            raise KernelError(
                f"{self.path}: tensor {name!r} cannot be read ({_first_line(exc)})"
            ) from None

    def upstream(self, name: str) -> Any:
        """The node producing ``name`` (through ``Identity`` nodes), or None."""
        return self.producers.get(self.source_name(name))

    def downstream(self, name: str) -> list[Any]:
        """The nodes consuming ``name`` (through ``Identity`` nodes)."""
        found = []
        for node in self.consumers.get(name, []):
            if node.op_type == "Identity":
                found += self.downstream(node.output[0])
            else:
                found.append(node)
        return found

    def static_input_size(self, name: str) -> tuple[int, int] | None:
        """``(H, W)`` of a 4-D NCHW tensor when the graph states it, else None."""
        from onnx import shape_inference  # optional extra, imported here for start-up time

        try:
            inferred = shape_inference.infer_shapes(self.model).graph
        except Exception:
            inferred = self.graph
        for value in list(inferred.value_info) + list(inferred.input):
            if value.name != name:
                continue
            dims = value.type.tensor_type.shape.dim
            if len(dims) == 4 and all(d.HasField("dim_value") for d in dims[2:]):
                return int(dims[2].dim_value), int(dims[3].dim_value)
        return None


def node_label(node: Any, index: int) -> str:
    """An ONNX node's name, or ``<op_type>#<index>`` when it has none."""
    return node.name or f"{node.op_type}#{index}"


def node_attributes(node: Any) -> dict[str, Any]:
    """An ONNX node's attributes as Python values (strings stay bytes)."""
    from onnx import helper  # optional extra, imported here for start-up time

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _onnx_container(path: Path) -> _Container:
    """ConvTranspose nodes of an ONNX model, under their names (see :func:`read_weights`)."""
    graph = OnnxGraph(path, _load_onnx(path))
    nodes: dict[str, tuple[Any, int]] = {}
    aliases: dict[str, str] = {}
    for index, node in enumerate(graph.graph.node):
        if node.op_type != "ConvTranspose":
            continue
        label = node_label(node, index)
        nodes[label] = (node, index)
        if len(node.input) > 1:
            aliases[graph.source_name(node.input[1])] = label
            aliases[node.input[1]] = label
    infos = {}
    for label, (node, _) in nodes.items():
        weight_name = node.input[1] if len(node.input) > 1 else ""
        shape = _initializer_shape(graph, weight_name)
        infos[label] = TensorInfo(label, shape, "ConvTranspose")

    def read(key: str) -> np.ndarray:
        node, _ = nodes[key]
        return _onnx_weight(graph, node, key)

    return _Container(path, infos, read, "onnx", {"graph": graph, "nodes": nodes, "alias": aliases})


def _initializer_shape(graph: OnnxGraph, name: str) -> tuple[int, ...]:
    tensor = graph.initializers.get(graph.source_name(name))
    return tuple(int(v) for v in tensor.dims) if tensor is not None else ()


def _onnx_weight(graph: OnnxGraph, node: Any, label: str) -> np.ndarray:
    if len(node.input) < 2 or not node.input[1]:
        raise KernelError(f"{graph.path}:{label}: the ConvTranspose node has no weight input")
    weight = graph.constant(node.input[1])
    if weight is None:
        producer = graph.upstream(node.input[1])
        origin = f"the output of a {producer.op_type} node" if producer is not None else "an input"
        raise KernelError(
            f"{graph.path}:{label}: the weight is {origin}, computed when the model runs, not a "
            "stored tensor"
        )
    return weight


_CONTAINERS: dict[str, Callable[[Path], _Container]] = {
    ".npy": _npy_container,
    ".npz": _npz_container,
    ".safetensors": _safetensors_container,
    ".onnx": _onnx_container,
    ".pt": _torch_container,
    ".pth": _torch_container,
}


def _open(path: Path) -> _Container:
    suffix = path.suffix.lower()
    if suffix not in _CONTAINERS:
        raise KernelError(
            f"{path}: weight files must be {', '.join(MODEL_SUFFIXES)}; got {suffix or 'no suffix'}"
        )
    _check_file(path)
    return _CONTAINERS[suffix](path)


# --------------------------------------------------------------------------------------------
# Public readers
# --------------------------------------------------------------------------------------------


def list_tensors(path: str | Path) -> list[TensorInfo]:
    """Every tensor of a weight file (for ``.onnx``: every ConvTranspose node, with its weight
    shape), sorted by name."""
    container = _open(Path(path))
    return [container.infos[name] for name in sorted(container.infos)]


def read_tensor(spec: str | Path, *, ranks: tuple[int, ...] | None = None) -> np.ndarray:
    """One tensor of a weight file (``FILE[:KEY]``, not ``.onnx``) as float64, checked for a
    numeric dtype, finite values and, when given, its rank."""
    path, key = split_source(spec)
    container = _open(path)
    if container.kind == "onnx":
        raise KernelError(f"{path}: name a ConvTranspose node (read_weights), not a raw tensor")
    name = _choose(container, key, ranks or (1, 2, 3, 4), what="tensor")
    return _checked(container, name, ranks)


def _checked(container: _Container, name: str, ranks: tuple[int, ...] | None) -> np.ndarray:
    origin = f"{container.path}:{name}"
    array = _numeric(container.read(name), origin)
    if ranks is not None and array.ndim not in ranks:
        wanted = " or ".join(f"{r}-D" for r in ranks)
        raise KernelError(f"{origin}: tensor must be {wanted}, got shape {array.shape}")
    return array


def _choose(container: _Container, key: str | None, ranks: tuple[int, ...], what: str) -> str:
    """The name to read: ``key`` (which must exist), or the only tensor of a suitable rank."""
    path = container.path
    if key is not None:
        if key == "" and container.kind != "npy":
            raise KernelError(
                f"{path}: empty KEY after ':'; it has: {_names_text(container.infos)}"
            )
        if container.kind == "npy":
            if key in ("", path.stem):
                return path.stem
            raise KernelError(f"{path}: a .npy file holds one array; drop ':{key}'")
        if key in container.infos:
            return key
        alias = container.extra.get("alias", {}).get(key)
        if alias is not None:
            return alias
        listing = _names_text(container.infos)
        raise KernelError(f"{path}: no {what} {key!r}; it has: {listing}")
    if container.kind == "npy":
        return path.stem  # its only array; a wrong rank is reported by the reader
    suitable = [
        name
        for name, info in container.infos.items()
        if container.kind == "onnx" or len(info.shape) in ranks
    ]
    if len(suitable) == 1:
        return suitable[0]
    if not suitable:
        if container.kind == "onnx":
            raise KernelError(f"{path}: the model has no ConvTranspose node")
        wanted = " or ".join(f"{r}-D" for r in ranks)
        raise KernelError(
            f"{path}: holds no {wanted} tensor; it has: {_names_text(container.infos)}"
        )
    noun = "ConvTranspose nodes" if container.kind == "onnx" else f"{what}s of a suitable rank"
    raise KernelError(
        f"{path}: holds {len(suitable)} {noun}; name one as {path}:KEY: {_names_text(suitable)}"
    )


def read_weights(
    spec: str | Path,
    *,
    layout: str = "torch",
    bias: str = "auto",
    transposed: bool = True,
) -> LayerWeights:
    """Read a transposed-convolution kernel (and its bias and geometry) from a weight file.

    Parameters
    ----------
    spec : str or path
        ``FILE`` or ``FILE:KEY`` (see the module docstring).
    layout : {"torch", "onnx", "keras", "tflite"}
        The layout of a plain 4-D array; ONNX nodes are always in the ONNX layout.
    bias : {"auto", "none"}
        ``auto``: the ONNX node's bias, or ``<prefix>.bias`` for a KEY ending in ``.weight``
        (``bias`` for the KEY ``weight``);
        ``none``: no bias.
    transposed : bool
        False reads an ordinary convolution's weight (``Conv2d``, ``(C_out, C_in/groups, kH,
        kW)``): the bias then implies no groups.

    Returns
    -------
    LayerWeights
        The weight in the PyTorch layout (float64), the bias, and the geometry found.

    Raises
    ------
    KernelError
        One line naming the file and the problem: missing file, unknown suffix, missing or
        unknown KEY (the message lists what is there), wrong rank, non-numeric or non-finite
        values, a pickled array, an ONNX file that does not parse, a ``.pt`` without PyTorch, a
        missing optional reader, a layout that does not fit the array, ONNX geometry with no
        PyTorch equivalent.
    """
    if layout not in LAYOUTS:
        raise KernelError(f"layout must be one of {', '.join(LAYOUTS)}; got {layout!r}")
    if bias not in BIAS_MODES:
        raise KernelError(f"bias must be one of {', '.join(BIAS_MODES)}; got {bias!r}")
    path, key = split_source(spec)
    container = _open(path)
    name = _choose(container, key, (2, 4), what="tensor")
    return _weights(container, name, layout, bias, transposed)


def read_all_weights(
    path: str | Path,
    *,
    match: str | None = None,
    layout: str = "torch",
    bias: str = "auto",
    errors: list[tuple[str, str]] | None = None,
) -> list[LayerWeights]:
    """Every 4-D kernel of a weight file whose name matches the ``fnmatch`` glob ``match``
    (all when None), read as :func:`read_weights` reads one, sorted by name; the file is opened
    once. For ``.onnx``, every ConvTranspose node.

    With ``errors`` (a list), a tensor that cannot be read is left out and ``(name, message)``
    is appended instead of raising."""
    if layout not in LAYOUTS:
        raise KernelError(f"layout must be one of {', '.join(LAYOUTS)}; got {layout!r}")
    if bias not in BIAS_MODES:
        raise KernelError(f"bias must be one of {', '.join(BIAS_MODES)}; got {bias!r}")
    container = _open(Path(path))
    names = [
        name
        for name, info in sorted(container.infos.items())
        if (container.kind == "onnx" or len(info.shape) == 4)
        and (match is None or fnmatch.fnmatchcase(name, match))
    ]
    found = []
    for name in names:
        try:
            found.append(_weights(container, name, layout, bias))
        except KernelError as exc:
            if errors is None:
                raise
            errors.append((name, str(exc)))
    return found


def _weights(
    container: _Container, name: str, layout: str, bias: str, transposed: bool = True
) -> LayerWeights:
    path = container.path
    if container.kind == "onnx":
        if layout not in ("torch", "onnx"):
            raise KernelError(
                f"{path}: ONNX ConvTranspose weights are in the ONNX layout; --layout {layout} "
                "applies to plain arrays only"
            )
        return _onnx_weights(container, name, bias)
    weight = to_torch_layout(
        _checked(container, name, (2, 4)), layout, origin=f"{path}:{name}", transposed=transposed
    )
    bias_array = None
    bias_name = None
    if bias == "auto" and (name.endswith(".weight") or name == "weight"):
        candidate = name[: -len("weight")] + "bias"  # a bare layer's state_dict: weight, bias
        if candidate in container.infos:
            bias_array = _checked(container, candidate, (1,))
            bias_name = candidate
    groups = groups_from_bias(weight, bias_array, origin=f"{path}:{name}") if transposed else None
    source = str(path) if container.kind == "npy" else f"{path}:{name}"
    parts = [f"shape {tuple(weight.shape)}"]
    if layout not in ("torch", "onnx"):
        parts.append(f"from the {layout} layout")
    if bias_name is not None:
        parts.append(f"bias {bias_name}")
    if groups not in (None, 1):
        parts.append(f"groups {groups} (from the bias length)")
    return LayerWeights(
        weight=weight,
        bias=bias_array,
        groups=groups,
        source=source,
        key=None if container.kind == "npy" else name,
        description=f"{source} ({', '.join(parts)})",
    )


def groups_from_bias(
    weight: np.ndarray, bias: np.ndarray | None, *, origin: str = "kernel"
) -> int | None:
    """The groups a bias implies for a 4-D weight: ``C_out = weight.shape[1] * groups`` and
    ``groups`` divides ``C_in``. None without a bias or for a 2-D weight.

    >>> groups_from_bias(np.zeros((3, 1, 3, 3)), np.zeros(3))
    3
    """
    if bias is None or weight.ndim != 4:
        return None
    per_group = weight.shape[1]
    if bias.size % per_group or weight.shape[0] % (bias.size // per_group):
        raise KernelError(
            f"{origin}: a bias of {bias.size} values does not fit a weight of shape "
            f"{tuple(weight.shape)} (C_out = shape[1] * groups, groups dividing C_in = shape[0])"
        )
    return bias.size // per_group


def to_torch_layout(
    array: np.ndarray, layout: str, *, origin: str = "kernel", transposed: bool = True
) -> np.ndarray:
    """Permute a 4-D weight from ``layout`` to PyTorch's.

    Transposed convolution (``transposed=True``), to ``(C_in, C_out/groups, kH, kW)``:
    ``keras`` ``Conv2DTranspose`` ``(kH, kW, C_out, C_in)``: ``w[ci, co, kh, kw] =
    k[kh, kw, co, ci]``; ``tflite`` ``TRANSPOSE_CONV`` ``(C_out, kH, kW, C_in)``:
    ``w[ci, co, kh, kw] = t[co, kh, kw, ci]``.

    Ordinary convolution (``transposed=False``), to ``Conv2d``'s ``(C_out, C_in/groups, kH,
    kW)``: ``keras`` ``Conv2D`` ``(kH, kW, C_in/groups, C_out)``: ``w[co, ci, kh, kw] =
    k[kh, kw, ci, co]``; ``tflite`` ``CONV_2D`` ``(C_out, kH, kW, C_in/groups)``:
    ``w[co, ci, kh, kw] = t[co, kh, kw, ci]``.

    ``torch`` and ``onnx``: unchanged. A 2-D ``(kH, kW)`` array is returned as it is.

    >>> to_torch_layout(np.zeros((4, 4, 3, 5)), "keras").shape
    (5, 3, 4, 4)
    >>> to_torch_layout(np.zeros((3, 4, 4, 5)), "tflite").shape
    (5, 3, 4, 4)
    >>> to_torch_layout(np.zeros((3, 4, 4, 5)), "tflite", transposed=False).shape
    (3, 5, 4, 4)
    """
    if layout not in LAYOUTS:
        raise KernelError(f"{origin}: layout must be one of {', '.join(LAYOUTS)}; got {layout!r}")
    arr = np.asarray(array)
    if arr.ndim == 2 or layout in ("torch", "onnx"):
        return arr
    if arr.ndim != 4:
        raise KernelError(f"{origin}: a {layout} kernel must be 4-D, got shape {tuple(arr.shape)}")
    if layout == "keras":
        axes = (3, 2, 0, 1)
    else:
        axes = (3, 0, 1, 2) if transposed else (0, 3, 1, 2)
    return np.ascontiguousarray(np.transpose(arr, axes))


def read_bias(spec: str, *, origin: str = "--bias") -> np.ndarray | None:
    """A bias given on the command line: ``none``, numbers (``0.5`` or ``0.1,0.2,0.3``), a
    ``.npy``/``.json`` file, or ``FILE[:KEY]`` of a weight file; a 0-D or 1-D float64 array.

    >>> read_bias("0.1,0.2")
    array([0.1, 0.2])
    >>> read_bias("none") is None
    True
    """
    text = str(spec).strip()
    if text.lower() == "none":
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = None
    if values is not None:
        arr = np.asarray(values, dtype=np.float64)
        if not np.all(np.isfinite(arr)):
            raise KernelError(f"{origin}: the bias must be finite numbers, got {text!r}")
        return arr
    path, key = split_source(text)
    if path.suffix.lower() == ".json" and key is None:
        import json

        _check_file(path)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            arr = np.atleast_1d(np.asarray(doc, dtype=np.float64))
        except (OSError, UnicodeDecodeError, ValueError, TypeError) as exc:
            raise KernelError(f"{path}: not a JSON list of numbers ({_first_line(exc)})") from None
        if arr.ndim != 1 or not np.all(np.isfinite(arr)):
            raise KernelError(f"{path}: the bias must be a flat list of finite numbers")
        return arr
    if path.suffix.lower() not in MODEL_SUFFIXES:
        raise KernelError(
            f"{origin}: {text!r} is not 'none', numbers, nor a .npy/.json/weight file"
        )
    return np.atleast_1d(read_tensor(text, ranks=(0, 1)))


def check_channel_fit(
    weight: np.ndarray, *, channels: int, groups: int | None = None, origin: str = "kernel"
) -> int:
    """Check that a 4-D weight maps an image of ``channels`` channels to as many, and return
    the groups to use.

    ``weight.shape[0]`` must equal ``channels`` (else the message names ``--layout`` when
    another layout would fit). Without ``groups``, the output must have ``channels`` channels
    too (``weight.shape[1] == channels``): a ``(C, 1, kH, kW)`` depthwise kernel read with one
    group would mix every channel into one, so that is an error suggesting ``--groups C``.
    Explicit ``groups`` must divide ``channels`` (any output channel count is then accepted).

    >>> check_channel_fit(np.zeros((3, 1, 3, 3)), channels=3, groups=3)
    3
    """
    w = np.asarray(weight)
    if w.ndim != 4:
        return 1 if groups is None else int(groups)
    c_in, per_group = int(w.shape[0]), int(w.shape[1])
    shape = tuple(int(v) for v in w.shape)
    if c_in != channels:
        hint = ""
        if int(w.shape[3]) == channels:
            hint = (
                "; if the array is stored as Keras (kH, kW, C_out, C_in) or TFLite "
                "(C_out, kH, kW, C_in), pass --layout keras or --layout tflite"
            )
        raise KernelError(
            f"{origin}: the kernel {shape} takes {c_in} input channels (layout C_in, "
            f"C_out/groups, kH, kW) but the image has {channels}{hint}"
        )
    if groups is not None:
        g = int(groups)
        if g < 1 or channels % g:
            raise KernelError(f"{origin}: groups={g} does not divide the {channels} channels")
        return g
    if per_group != channels:
        if per_group == 1 and channels > 1:
            fix = f"for one filter per channel (depthwise) pass --groups {channels}"
        else:
            fix = "pass --groups to say how the channels are grouped"
        raise KernelError(
            f"{origin}: the kernel {shape} maps {channels} channels to {per_group} with one "
            f"group, which would mix the channels; {fix} (--groups 1 mixes them on purpose)"
        )
    return 1


# --------------------------------------------------------------------------------------------
# ONNX ConvTranspose geometry
# --------------------------------------------------------------------------------------------


def _pair_attr(attrs: dict[str, Any], name: str, default: int, origin: str) -> Pair:
    value = attrs.get(name)
    if value is None:
        return (default, default)
    values = [int(v) for v in value]
    if len(values) != 2:
        raise KernelError(f"{origin}: {name} must have 2 values for a 2-D kernel, got {values}")
    return values[0], values[1]


def onnx_pads(
    attrs: Mapping[str, Any],
    kernel_size: Pair,
    *,
    input_size: Pair | None = None,
    origin: str = "ConvTranspose",
) -> dict[str, Any]:
    """The geometry of an ONNX ``ConvTranspose`` node as ONNX states it: ``stride``,
    ``dilation`` and ``output_padding`` pairs, ``groups``, and ``pads`` ``[top, left, bottom,
    right]`` after ``auto_pad`` and ``output_shape`` (see :func:`onnx_transposed_geometry`,
    which also maps them to PyTorch's geometry).

    >>> onnx_pads({"strides": [2, 2], "auto_pad": b"SAME_UPPER"}, (3, 3))["pads"]
    [0, 0, 1, 1]
    """
    attrs = dict(attrs)
    s = _pair_attr(attrs, "strides", 1, origin)
    d = _pair_attr(attrs, "dilations", 1, origin)
    op = _pair_attr(attrs, "output_padding", 0, origin)
    groups = int(attrs.get("group", 1) or 1)
    auto_pad = attrs.get("auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else str(auto_pad)
    if auto_pad not in ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID", ""):
        raise KernelError(f"{origin}: unknown auto_pad {auto_pad!r}")
    effective = (d[0] * (kernel_size[0] - 1) + 1, d[1] * (kernel_size[1] - 1) + 1)
    output_shape = attrs.get("output_shape")
    if output_shape is not None:
        out = [int(v) for v in output_shape][-2:]
        if len(out) != 2:
            raise KernelError(f"{origin}: output_shape must give the 2 spatial sizes")
        if input_size is None:
            raise KernelError(
                f"{origin}: output_shape fixes the output size, so the padding depends on the "
                "input size, which the graph does not state"
            )
        totals = [s[a] * (input_size[a] - 1) + op[a] + effective[a] - out[a] for a in range(2)]
        begins, ends = _split_pads(totals, auto_pad == "SAME_UPPER", origin)
    elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        totals = [effective[a] - s[a] + op[a] for a in range(2)]
        begins, ends = _split_pads(totals, auto_pad == "SAME_UPPER", origin)
    elif auto_pad == "VALID":
        begins, ends = [0, 0], [0, 0]
    else:
        pads = [int(v) for v in attrs.get("pads", [0, 0, 0, 0])]
        if len(pads) != 4:
            raise KernelError(f"{origin}: pads must have 4 values for a 2-D kernel, got {pads}")
        if min(pads) < 0:
            raise KernelError(f"{origin}: negative pads {pads}")
        begins, ends = pads[:2], pads[2:]
    if groups < 1:
        raise KernelError(f"{origin}: group must be >= 1, got {groups}")
    return {
        "stride": s,
        "dilation": d,
        "output_padding": op,
        "groups": groups,
        "pads": [begins[0], begins[1], ends[0], ends[1]],
    }


def onnx_transposed_geometry(
    attrs: Mapping[str, Any],
    kernel_size: Pair,
    *,
    input_size: Pair | None = None,
    origin: str = "ConvTranspose",
) -> dict[str, Any]:
    """PyTorch geometry of an ONNX ``ConvTranspose`` node, exactly or not at all.

    Parameters
    ----------
    attrs : mapping
        The node's attributes (``strides``, ``pads``, ``output_padding``, ``dilations``,
        ``group``, ``auto_pad``, ``output_shape``).
    kernel_size : (kH, kW)
    input_size : (H, W), optional
        Needed only when ``output_shape`` is given (its padding depends on the input size).

    Returns
    -------
    dict
        ``stride``, ``padding``, ``output_padding``, ``dilation`` pairs, ``groups``, and
        ``pads`` (the ONNX ``[top, left, bottom, right]`` after ``auto_pad``/``output_shape``).

    Notes
    -----
    ONNX crops ``pads[begin]`` output samples at the start of an axis and ``pads[end]`` at its
    end, and ``output_padding`` adds samples at the end; PyTorch crops ``p`` at both ends and
    adds ``op`` at the end. With ``p = begin`` and ``op' = op + begin - end`` both give the same
    output sample for sample, which PyTorch can express when ``0 <= op' < max(s, d)`` (it
    requires ``op' < s`` or ``op' < d``). Otherwise the node is refused with one line.

    ``auto_pad`` ``SAME_UPPER``/``SAME_LOWER`` (output ``H*s``) and ``output_shape`` give
    ``total = s*(H-1) + op + d*(k-1) + 1 - H_out``, split as the ONNX operator page says:
    ``SAME_UPPER`` puts the odd sample at the end (``begin = total // 2``), otherwise at the
    start (``begin = total - total // 2``). ``VALID`` means no padding.

    >>> g = onnx_transposed_geometry({"strides": [2, 2], "pads": [1, 1, 1, 1]}, (4, 4))
    >>> g["stride"], g["padding"], g["output_padding"]
    ((2, 2), (1, 1), (0, 0))
    >>> g = onnx_transposed_geometry({"strides": [2, 2], "pads": [1, 1, 0, 0]}, (3, 3))
    >>> g["padding"], g["output_padding"]
    ((1, 1), (1, 1))
    """
    pads = onnx_pads(attrs, kernel_size, input_size=input_size, origin=origin)
    s, d, op = pads["stride"], pads["dilation"], pads["output_padding"]
    begins, ends = pads["pads"][:2], pads["pads"][2:]
    groups = pads["groups"]
    new_op = [op[a] + begins[a] - ends[a] for a in range(2)]
    for a in range(2):
        if new_op[a] < 0 or not (new_op[a] < s[a] or new_op[a] < d[a]):
            pads_text = [begins[0], begins[1], ends[0], ends[1]]
            axis = ("height", "width")[a]
            raise KernelError(
                f"{origin}: pads {pads_text} (top, left, bottom, right) with output_padding "
                f"{list(op)} crop {'more' if new_op[a] < 0 else 'less'} at the end of the {axis} "
                "than a PyTorch-style transposed convolution can (it crops `padding` at both "
                "ends and adds `output_padding` < stride or dilation at the end)"
            )
    return {
        "stride": s,
        "padding": (begins[0], begins[1]),
        "output_padding": (new_op[0], new_op[1]),
        "dilation": d,
        "groups": groups,
        "pads": [begins[0], begins[1], ends[0], ends[1]],
    }


def _split_pads(totals: list[int], upper: bool, origin: str) -> tuple[list[int], list[int]]:
    if min(totals) < 0:
        raise KernelError(
            f"{origin}: the kernel is smaller than the stride, so no padding gives the stated "
            "output size"
        )
    begins = [t // 2 if upper else t - t // 2 for t in totals]
    return begins, [t - b for t, b in zip(totals, begins, strict=True)]


def _onnx_weights(container: _Container, label: str, bias: str) -> LayerWeights:
    graph: OnnxGraph = container.extra["graph"]
    node, _ = container.extra["nodes"][label]
    origin = f"{graph.path}:{label}"
    weight = _numeric(_onnx_weight(graph, node, label), origin)
    if weight.ndim != 4:
        raise KernelError(
            f"{origin}: only 2-D transposed convolutions are supported (weight of rank 4); "
            f"got shape {tuple(weight.shape)}"
        )
    attrs = node_attributes(node)
    kernel_shape = attrs.get("kernel_shape")
    if kernel_shape is not None and tuple(int(v) for v in kernel_shape) != weight.shape[2:]:
        raise KernelError(
            f"{origin}: kernel_shape {list(kernel_shape)} differs from the weight's "
            f"{list(weight.shape[2:])}"
        )
    input_size = None
    if attrs.get("output_shape") is not None:
        input_size = graph.static_input_size(node.input[0])
    geometry = onnx_transposed_geometry(
        attrs, (int(weight.shape[2]), int(weight.shape[3])), input_size=input_size, origin=origin
    )
    groups = geometry["groups"]
    if weight.shape[0] % groups:
        raise KernelError(
            f"{origin}: group={groups} does not divide the weight's {weight.shape[0]} input "
            "channels"
        )
    bias_array = None
    if bias == "auto" and len(node.input) > 2 and node.input[2]:
        value = graph.constant(node.input[2])
        if value is None:
            raise KernelError(f"{origin}: the bias is computed when the model runs, not stored")
        bias_array = _numeric(value, f"{origin} bias").reshape(-1)
        c_out = weight.shape[1] * groups
        if bias_array.size != c_out:
            raise KernelError(
                f"{origin}: the bias has {bias_array.size} values for {c_out} output channels"
            )
    s, p, op = geometry["stride"], geometry["padding"], geometry["output_padding"]
    description = (
        f"{origin} (ConvTranspose, weight {tuple(weight.shape)}, stride {s[0]},{s[1]}, "
        f"pads {geometry['pads']}, output_padding {op[0]},{op[1]}, group {groups}"
        f"{', bias' if bias_array is not None else ''})"
    )
    return LayerWeights(
        weight=weight,
        bias=bias_array,
        stride=s,
        padding=p,
        output_padding=op,
        dilation=geometry["dilation"],
        groups=groups,
        source=origin,
        key=label,
        description=description,
    )
