"""Transposed-convolution kernels: built-in presets and kernel files.

A :class:`Kernel` bundles a weight with the geometry it is meant for. Presets are chosen so that
they enlarge by exactly ``stride`` (``H_out = H * s``) and, except ``bed-of-nails``, keep a flat
image's level on average: the mean phase sum ``sum(w) / s**2`` is 1. Every preset weight is an
outer product of a 1-D kernel with itself (separable).

Kernel files
------------
``.npy``
    A 2-D ``(kH, kW)`` or 4-D numeric array (transposed convolution: ``(C_in, C_out/groups,
    kH, kW)``; pixel shuffle and resize-convolution: PyTorch's ``Conv2d`` layout ``(C_out,
    C_in/groups, kH, kW)``), or 3-D ``(S², kH, kW)``: the phase filters of a pixel-shuffle
    kernel applied to each channel alone.
``.json``
    Either a bare nested list (2-D, 3-D or 4-D) or an object
    ``{"weight": [...], "stride", "padding", "output_padding", "dilation", "groups", "bias",
    "edge"}`` where everything but ``weight`` is optional (command-line flags override the file).
    ``"padding": "same"`` asks for the padding that makes the output exactly ``stride`` times
    the input (a transposed convolution gets the matching padding and output_padding; a
    pixel-shuffle convolution PyTorch's ``padding="same"``).
Weight files: ``FILE.npz:KEY``, ``FILE.safetensors:KEY``, ``FILE.onnx:NAME``, ``FILE.pt:KEY``
    Read by :func:`upsamp.weights.read_weights` (as is a ``.npy`` whose ``layout`` is given):
    the weight in the PyTorch layout, its bias and the geometry the file states.

:func:`load_kernel` is the one place a kernel file or weight file becomes a :class:`Kernel`,
and :func:`build_kernel` the one place a transposed convolution's ``--kernel`` does: a preset,
a kernel file or a weight file, then the command line's geometry, groups and bias, which
override what the file says. Which ranks a method takes is the method's business:
:func:`build_kernel` (transposed convolution) refuses a 3-D weight.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ._arrays import EDGE_MODES, int_pair
from .errors import KernelError, ParameterError
from .geometry import (
    bilinear_taps,
    check_transconv_params,
    half_pixel_padding,
    half_pixel_taps,
    same_size_geometry,
)
from .resources import MAX_KERNEL_FILE_BYTES, MAX_KERNEL_TAPS, check_kernel_size
from .weights import groups_from_bias, is_weight_source, read_bias, read_weights, split_source

__all__ = [
    "DEFAULT_PRESET",
    "SAME",
    "expects_overshoot",
    "Kernel",
    "PRESETS",
    "preset",
    "preset_names",
    "load_kernel",
    "save_kernel",
    "resolve_kernel",
    "normalize",
    "build_kernel",
    "with_conv_settings",
]

Pair = tuple[int, int]

DEFAULT_PRESET = "bilinear"

#: ``padding`` of a kernel that asks for an output exactly ``stride`` times its input.
SAME = "same"


@dataclass(frozen=True)
class Kernel:
    """A transposed-convolution weight with its geometry.

    Attributes
    ----------
    weight : ndarray, float64, shape (kH, kW) or (C_in, C_out/groups, kH, kW)
        (a pixel-shuffle or resize-convolution kernel: see the module docstring)
    stride, padding, output_padding, dilation : (h, w) pairs
        ``padding`` may also be :data:`SAME` (a file's ``"padding": "same"``).
    groups : int or None
    bias : ndarray of shape (C_out,), a 0-d array (one value for every channel), or None
    edge : "zero", "replicate" or "reflect"
    name : preset name or file stem
    description : one line for listings
    """

    weight: np.ndarray
    stride: Pair = (1, 1)
    padding: Pair = (0, 0)
    output_padding: Pair = (0, 0)
    dilation: Pair = (1, 1)
    groups: int | None = None
    bias: np.ndarray | None = None
    edge: str = "zero"
    name: str = "kernel"
    description: str = ""
    source: str = field(default="preset")
    stated: frozenset[str] = frozenset()  #: geometry keys a kernel file stated itself

    def with_overrides(self, **changes: Any) -> Kernel:
        """Return a copy with the non-``None`` ``changes`` applied (ints expanded to pairs)."""
        clean: dict[str, Any] = {}
        for key, value in changes.items():
            if value is None:
                continue
            if key in ("stride", "dilation"):
                value = int_pair(value, key, minimum=1)
            elif key == "padding" and value == SAME:
                pass
            elif key in ("padding", "output_padding"):
                value = int_pair(value, key, minimum=0)
            elif key == "edge" and value not in EDGE_MODES:
                raise ParameterError(f"edge must be one of {', '.join(EDGE_MODES)}; got {value!r}")
            clean[key] = value
        return replace(self, **clean)

    @property
    def spatial_shape(self) -> Pair:
        """``(kH, kW)``."""
        return (int(self.weight.shape[-2]), int(self.weight.shape[-1]))

    def transconv_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`upsamp.transconv`."""
        return {
            "stride": self.stride,
            "padding": self.padding,
            "output_padding": self.output_padding,
            "dilation": self.dilation,
            "groups": self.groups,
            "bias": self.bias,
            "edge": self.edge,
        }


def _cubic(t: np.ndarray, a: float = -0.5) -> np.ndarray:
    """Keys' cubic convolution kernel with parameter ``a`` (docs/references.md [Keys1981]; Pillow
    uses ``a = -0.5``, [Pillow-resize])."""
    t = np.abs(t)
    near = ((a + 2) * t - (a + 3)) * t * t + 1
    far = ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
    return np.where(t <= 1, near, np.where(t < 2, far, 0.0))


def _phase_normalized(taps: np.ndarray, s: int) -> np.ndarray:
    """Scale each of the ``s`` 1-D phases (taps ``t ≡ q mod s``) so it sums to 1."""
    out = taps.copy()
    for q in range(s):
        total = out[q::s].sum()
        if total != 0:
            out[q::s] /= total
    return out


@dataclass(frozen=True)
class _Preset:
    description: str
    build: Callable[[int], tuple[np.ndarray, int, int, str]]  # s -> (taps_1d, padding, op, edge)


def _nearest_preset(s: int) -> tuple[np.ndarray, int, int, str]:
    return np.ones(s), 0, 0, "zero"


def _bilinear_preset(s: int) -> tuple[np.ndarray, int, int, str]:
    # The same kernel and geometry as upsamp.methods.interpolate.bilinear_transconv.
    return bilinear_taps(s), half_pixel_padding(1, s), 0, "replicate"


def _bicubic_preset(s: int) -> tuple[np.ndarray, int, int, str]:
    return half_pixel_taps(_cubic, 2, s), half_pixel_padding(2, s), 0, "replicate"


def _gaussian_preset(s: int) -> tuple[np.ndarray, int, int, str]:
    sigma = 0.5  # in input pixels: s/2 output pixels
    taps = half_pixel_taps(lambda t: np.exp(-0.5 * (t / sigma) ** 2), 2, s)
    return _phase_normalized(taps, s), half_pixel_padding(2, s), 0, "replicate"


def _bed_of_nails_preset(s: int) -> tuple[np.ndarray, int, int, str]:
    taps = np.zeros(s)
    taps[0] = 1.0
    return taps, 0, 0, "zero"


def _checkerboard_preset(s: int) -> tuple[np.ndarray, int, int, str]:
    if s < 2:
        raise ParameterError("the checkerboard preset needs stride >= 2 (stride 1 has one phase)")
    taps = np.full(s + 1, s / (s + 1))  # mean phase sum 1 in 2-D: (s+1)^2 * (s/(s+1))^2 / s^2
    padding, output_padding = same_size_geometry(s + 1, s)
    return taps, padding, output_padding, "replicate"


PRESETS: dict[str, _Preset] = {
    "nearest": _Preset("s×s ones: pixel replication, equals the nearest method", _nearest_preset),
    "bilinear": _Preset(
        "FCN/Caffe bilinear kernel (2s - s%2 taps): equals the bilinear method", _bilinear_preset
    ),
    "bicubic": _Preset(
        "cubic convolution (a = -0.5, as Pillow) sampled for factor s", _bicubic_preset
    ),
    "gaussian": _Preset(
        "Gaussian, sigma = half an input pixel, each phase normalized to 1 (smooth, artifact-free)",
        _gaussian_preset,
    ),
    "bed-of-nails": _Preset(
        "a single 1 at the top-left: equals bed of nails (mean phase sum 1/s^2)",
        _bed_of_nails_preset,
    ),
    "checkerboard": _Preset(
        "(s+1)×(s+1) constant: uneven overlap, makes the checkerboard artifact of [Odena2016]",
        _checkerboard_preset,
    ),
}


def preset_names() -> list[str]:
    """Names of the built-in presets."""
    return list(PRESETS)


def preset(name: str, stride: int | tuple[int, int]) -> Kernel:
    """Build the preset ``name`` for an integer ``stride`` (the enlargement factor, or an
    ``(s_h, s_w)`` pair).

    The weight is the outer product of the preset's 1-D taps for each axis, padding and
    output_padding are chosen so that ``H_out = H * s_h`` and ``W_out = W * s_w``, and ``edge``
    is the preset's own border handling.

    >>> k = preset("bilinear", 2)
    >>> k.weight[0]
    array([0.0625, 0.1875, 0.1875, 0.0625])
    >>> k.padding, k.stride, k.edge
    ((1, 1), (2, 2), 'replicate')
    """
    if name not in PRESETS:
        raise KernelError(f"unknown kernel preset {name!r}; presets are: {', '.join(PRESETS)}")
    sh, sw = int_pair(stride, "stride", minimum=1)
    # Every preset has fewer than 4s + 1 taps per axis: check before building anything.
    check_kernel_size((4 * sh + 1) * (4 * sw + 1), (sh, sw), f"{name} at stride {sh}x{sw}")
    entry = PRESETS[name]
    taps_h, pad_h, op_h, edge = entry.build(sh)
    taps_w, pad_w, op_w, _ = entry.build(sw)
    return Kernel(
        weight=np.outer(taps_h, taps_w),
        stride=(sh, sw),
        padding=(pad_h, pad_w),
        output_padding=(op_h, op_w),
        edge=edge,
        name=name,
        description=entry.description,
        source="preset",
        stated=frozenset({"stride", "padding", "output_padding", "edge"}),
    )


def _check_weight(weight: Any, origin: str) -> np.ndarray:
    try:
        w = np.asarray(weight, dtype=np.float64)
    except (TypeError, ValueError):
        raise KernelError(
            f"{origin}: kernel weights must be numbers in a rectangular array"
        ) from None
    if w.ndim not in (2, 3, 4):
        raise KernelError(
            f"{origin}: kernel must be 2-D (kH, kW), 3-D (S², kH, kW) or 4-D "
            f"(C_in, C_out/groups, kH, kW), got shape {w.shape}"
        )
    if w.size == 0:
        raise KernelError(f"{origin}: kernel is empty (shape {w.shape})")
    if not np.all(np.isfinite(w)):
        raise KernelError(f"{origin}: kernel contains NaN or infinite values")
    return w


_JSON_KEYS = ("weight", "stride", "padding", "output_padding", "dilation", "groups", "bias", "edge")


def load_kernel(
    path: str | Path,
    *,
    layout: str | None = None,
    bias: str = "auto",
    transposed: bool = True,
) -> Kernel:
    """Read a kernel file (``.npy`` or ``.json``) or a weight file (``FILE[:KEY]``, see the
    module docstring).

    ``layout`` is the layout of a plain array (:data:`upsamp.weights.LAYOUTS`; None: PyTorch's)
    and sends a ``.npy`` through :func:`upsamp.weights.read_weights`; ``bias`` is ``"auto"``
    (the file's bias) or ``"none"``. ``transposed=False`` reads an ordinary convolution's
    weight (PyTorch ``Conv2d``, ``(C_out, C_in/groups, kH, kW)``, for pixel shuffle and
    resize-convolution): only the torch layout, no ONNX ``ConvTranspose`` node, and no groups
    implied by the bias.

    Raises :class:`~upsamp.errors.KernelError` with a one-line message naming the file and the
    problem (missing, wrong rank, non-numeric, empty, NaN/Inf, unknown keys, bad geometry,
    a missing or unknown KEY, a layout that does not fit).
    """
    text = str(path)
    suffix = Path(text).suffix.lower()
    if is_weight_source(text) or (layout is not None and suffix == ".npy"):
        return _weight_file_kernel(text, layout or "torch", bias, transposed)
    if layout is not None:
        raise KernelError(
            f"{text}: --layout applies to .npy arrays and weight files, not to {suffix or text}"
        )
    path = Path(path)
    origin = str(path)
    if not path.is_file():
        raise KernelError(f"{origin}: no such kernel file (and not a preset: {', '.join(PRESETS)})")
    suffix = path.suffix.lower()
    size = path.stat().st_size
    if size > (MAX_KERNEL_FILE_BYTES if suffix == ".json" else 8 * MAX_KERNEL_TAPS + 4096):
        raise KernelError(
            f"{origin}: {size:,} bytes is larger than a kernel upsamp reads"
            + (" (store large kernels as .npy)" if suffix == ".json" else "")
        )
    if suffix == ".npy":
        try:
            raw = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise KernelError(f"{origin}: not a readable .npy array ({_first_line(exc)})") from None
        if not isinstance(raw, np.ndarray):  # an .npz archive under a .npy name
            raw.close()
            raise KernelError(f"{origin}: an .npz archive, not a .npy array")
        if raw.dtype.kind not in "biuf":
            raise KernelError(f"{origin}: kernel must be numeric, got dtype {raw.dtype}")
        return Kernel(weight=_check_weight(raw, origin), name=path.stem, source=origin)
    if suffix != ".json":
        raise KernelError(
            f"{origin}: kernel files must be .npy or .json, or weight files (.npz, "
            ".safetensors, .onnx, .pt, .pth)"
        )
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KernelError(f"{origin}: not valid JSON ({_first_line(exc)})") from None
    except RecursionError:
        raise KernelError(f"{origin}: JSON nested too deeply for a kernel") from None
    except ValueError as exc:  # an integer of thousands of digits
        raise KernelError(f"{origin}: not a usable kernel ({_first_line(exc)})") from None
    if isinstance(doc, list):
        return Kernel(weight=_check_weight(doc, origin), name=path.stem, source=origin)
    if not isinstance(doc, dict) or "weight" not in doc:
        raise KernelError(f'{origin}: expected a nested list or an object with a "weight" key')
    unknown = sorted(set(doc) - set(_JSON_KEYS))
    if unknown:
        raise KernelError(f"{origin}: unknown keys {unknown}; allowed: {', '.join(_JSON_KEYS)}")
    kernel = Kernel(
        weight=_check_weight(doc["weight"], origin),
        name=path.stem,
        source=origin,
        stated=frozenset(k for k in doc if doc[k] is not None),
    )
    try:
        bias = None
        if doc.get("bias") is not None:
            bias = np.atleast_1d(np.asarray(doc["bias"], dtype=np.float64))
            if bias.ndim != 1 or not np.all(np.isfinite(bias)):
                raise ParameterError("bias must be a finite number or a list of numbers")
        groups = doc.get("groups")
        if groups is not None and (not isinstance(groups, int) or groups < 1):
            raise ParameterError(f"groups must be a positive integer, got {groups!r}")
        geometry = {
            k: doc[k] if k == "padding" and doc[k] == SAME else _json_pair(doc[k], k)
            for k in _JSON_KEYS[1:5]
            if doc.get(k) is not None
        }
        kernel = kernel.with_overrides(**geometry, groups=groups, bias=bias, edge=doc.get("edge"))
        check_transconv_params(
            kernel.stride,
            (0, 0) if kernel.padding == SAME else kernel.padding,
            kernel.output_padding,
            kernel.dilation,
        )
    except (ParameterError, TypeError, ValueError) as exc:
        raise KernelError(f"{origin}: {_first_line(exc)}") from None
    check_kernel_size(kernel.weight.size, kernel.stride, origin)
    return kernel


def expects_overshoot(kernel: Kernel | None) -> bool:
    """True for a preset with negative taps (bicubic): an interpolating kernel whose results
    leave the input's range near edges by design, so clipping them is expected.

    >>> expects_overshoot(preset("bicubic", 2)), expects_overshoot(preset("bilinear", 2))
    (True, False)
    """
    return (
        kernel is not None
        and kernel.source == "preset"
        and bool(np.min(np.asarray(kernel.weight)) < 0)
    )


def _json_pair(value: Any, key: str) -> Any:
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, (int, tuple)):
        raise ParameterError(f"{key} must be an int or a [h, w] pair, got {value!r}")
    return value


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def save_kernel(kernel: Kernel, path: str | Path) -> dict[str, Any] | np.ndarray:
    """The content of a kernel file for ``kernel`` at ``path``: the weight array for ``.npy``,
    or the JSON object (weight plus geometry, as :func:`load_kernel` reads it) for ``.json``.

    The caller writes it (atomically, through :mod:`upsamp.imageio`).
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".npy":
        return np.asarray(kernel.weight, dtype=np.float64)
    if suffix != ".json":
        raise KernelError(f"{path}: kernel files must be .npy or .json")
    doc: dict[str, Any] = {
        "weight": kernel.weight.tolist(),
        "stride": list(kernel.stride),
        "padding": SAME if kernel.padding == SAME else list(kernel.padding),
        "output_padding": list(kernel.output_padding),
        "dilation": list(kernel.dilation),
        "edge": kernel.edge,
    }
    if kernel.groups is not None:
        doc["groups"] = kernel.groups
    if kernel.bias is not None:
        doc["bias"] = np.asarray(kernel.bias).tolist()
    return doc


def _weight_file_kernel(spec: str, layout: str, bias: str, transposed: bool = True) -> Kernel:
    """A :class:`Kernel` from a weight file: weight, bias and the geometry the file states (an
    ONNX node states all of it; other files none, so the defaults and the command line apply)."""
    if not transposed:
        if split_source(spec)[0].suffix.lower() == ".onnx":
            raise KernelError(
                f"{spec}: an ONNX source names a ConvTranspose node; this method takes an "
                "ordinary convolution's weight (export it to .npy, .npz or .safetensors)"
            )
    layer = read_weights(spec, layout=layout, bias=bias, transposed=transposed)
    geometry = layer.geometry()
    name = layer.key if layer.key is not None else Path(layer.source).stem
    kernel = Kernel(
        weight=np.asarray(layer.weight, dtype=np.float64),
        bias=layer.bias,
        name=name,
        description=layer.description,
        source=layer.source,
        stated=frozenset(geometry),
    )
    try:
        kernel = kernel.with_overrides(**geometry)
        check_transconv_params(
            kernel.stride, kernel.padding, kernel.output_padding, kernel.dilation
        )
    except (ParameterError, TypeError, ValueError) as exc:
        raise KernelError(f"{layer.source}: {_first_line(exc)}") from None
    return kernel


def resolve_kernel(
    spec: str | Path,
    stride: int | tuple[int, int],
    *,
    layout: str | None = None,
    bias: str = "auto",
) -> Kernel:
    """A preset name, a kernel file path or a weight file ``FILE[:KEY]``. A file's own stride
    is kept unless the caller overrides it; a preset is built for ``stride``. ``layout`` and
    ``bias`` as for :func:`load_kernel` (a preset takes no layout)."""
    text = str(spec)
    if text in PRESETS:
        if layout is not None:
            raise KernelError(
                f"--layout applies to arrays read from files, not to the preset {text!r}"
            )
        return preset(text, stride)
    path = Path(text)
    if (
        path.suffix.lower() not in (".npy", ".json")
        and not path.exists()
        and not is_weight_source(text)
    ):
        raise KernelError(
            f"unknown kernel {text!r}: not a preset ({', '.join(PRESETS)}) nor a file"
        )
    return load_kernel(text, layout=layout, bias=bias)


def normalize(kernel: Kernel) -> Kernel:
    """Scale the weight so its mean phase sum is 1 for every output channel.

    Each input pixel sends its taps to the ``s_h * s_w`` output phases, so the mean phase sum of
    an output channel is ``sum(w[:, co]) / (s_h * s_w)`` whatever the padding and dilation; the
    weight is multiplied by ``s_h * s_w / sum`` (per output channel for a 4-D weight, summed over
    the input channels feeding it).
    """
    w = np.asarray(kernel.weight, dtype=np.float64)
    phases = kernel.stride[0] * kernel.stride[1]
    if w.ndim == 2:
        total = w.sum()
        if math.isclose(total, 0.0, abs_tol=1e-12):
            raise KernelError(f"{kernel.name}: cannot normalize a kernel whose weights sum to 0")
        return replace(kernel, weight=w * (phases / total))
    groups = kernel.groups or 1
    if w.shape[0] % groups:
        raise KernelError(
            f"{kernel.name}: groups={groups} does not divide {w.shape[0]} input channels"
        )
    grouped = w.reshape(groups, w.shape[0] // groups, *w.shape[1:])
    totals = grouped.sum(axis=(1, 3, 4), keepdims=True)  # one per (group, output channel)
    if np.any(np.isclose(totals, 0.0, atol=1e-12)):
        raise KernelError(
            f"{kernel.name}: cannot normalize an output channel whose weights sum to 0"
        )
    return replace(kernel, weight=(grouped * (phases / totals)).reshape(w.shape))


def build_kernel(
    spec: str | Path | None,
    *,
    stride: tuple[int, int] | None,
    padding: tuple[int, int] | str | None = None,
    output_padding: tuple[int, int] | None = None,
    dilation: tuple[int, int] | None = None,
    edge: str | None = None,
    normalize_phases: bool = False,
    groups: int | None = None,
    bias: str | np.ndarray | None = None,
    layout: str | None = None,
) -> Kernel:
    """Resolve a preset name, kernel file or weight file and apply explicit overrides.

    ``stride`` None keeps a kernel file's own stride (2 when the file does not state one);
    ``padding="same"`` (or a file's ``"padding": "same"``) picks padding and output_padding so
    that ``H_out = H * stride``. A 3-D weight (pixel-shuffle phases) is refused.
    ``groups`` overrides the file's groups. ``bias`` overrides the file's bias: ``"none"``
    drops it, other text is read by :func:`upsamp.weights.read_bias` (numbers or
    ``FILE[:KEY]``), an array is taken as it is; one value is added to every output channel,
    and for a 4-D weight without groups the bias length states them
    (``C_out = weight.shape[1] * groups``). ``layout`` is the layout of a plain array
    (:data:`upsamp.weights.LAYOUTS`).
    """
    base_stride = stride if stride is not None else 2
    drop_bias = isinstance(bias, str) and bias.strip().lower() == "none"
    kernel = resolve_kernel(
        spec if spec is not None else DEFAULT_PRESET,
        base_stride,
        layout=layout,
        bias="none" if drop_bias else "auto",
    )
    if kernel.weight.ndim == 3:
        raise KernelError(
            f"{kernel.source}: a 3-D kernel {tuple(kernel.weight.shape)} holds pixel-shuffle "
            "phase filters, not a transposed convolution; use --method pixel-shuffle, or "
            "convert it with 'upsamp kernels convert --from pixel-shuffle --to transconv'"
        )
    if kernel.padding == SAME and padding is None:
        padding = SAME
    if kernel.source != "preset" and stride is None and "stride" not in kernel.stated:
        stride = (2, 2)
    kernel = kernel.with_overrides(
        stride=stride,
        padding=(0, 0) if padding == SAME else padding,
        output_padding=output_padding,
        dilation=dilation,
        edge=edge,
    )
    if groups is not None:
        if isinstance(groups, bool) or int(groups) < 1:
            raise KernelError(f"groups must be a positive integer, got {groups!r}")
        kernel = replace(kernel, groups=int(groups))
    if bias is not None:
        kernel = _with_bias(kernel, None if drop_bias else bias)
    if padding == SAME:
        kh, kw = kernel.spatial_shape
        geo = [
            same_size_geometry(
                kernel.dilation[a] * ((kh, kw)[a] - 1) + 1, kernel.stride[a], kernel.dilation[a]
            )
            for a in range(2)
        ]
        kernel = kernel.with_overrides(
            padding=(geo[0][0], geo[1][0]), output_padding=(geo[0][1], geo[1][1])
        )
    check_kernel_size(kernel.weight.size, kernel.stride, str(kernel.source))
    if normalize_phases:
        kernel = normalize(kernel)
    return kernel


def with_conv_settings(
    kernel: Kernel, *, groups: int | None = None, bias: str | np.ndarray | None = None
) -> Kernel:
    """An ordinary convolution's kernel (``Conv2d``: 4-D ``(C_out, C_in/groups, kH, kW)``, or a
    2-D/3-D weight applied to each channel alone) with ``--groups`` and ``--bias`` applied.

    ``bias`` as for :func:`build_kernel` (``"none"`` drops the file's); a 4-D weight takes one
    value (added to every output channel) or ``C_out = weight.shape[0]`` values, a 2-D or 3-D
    weight one value. ``groups`` must divide ``C_out`` (``C_in`` is checked against the image).
    """
    w = np.asarray(kernel.weight)
    if groups is not None:
        if isinstance(groups, bool) or int(groups) < 1:
            raise KernelError(f"groups must be a positive integer, got {groups!r}")
        if w.ndim == 4 and w.shape[0] % int(groups):
            raise KernelError(
                f"groups={groups} does not divide the {w.shape[0]} output channels of the "
                f"convolution kernel {tuple(w.shape)} (C_out, C_in/groups, kH, kW)"
            )
        kernel = replace(kernel, groups=int(groups))
    if bias is None:
        return kernel
    values = read_bias(bias) if isinstance(bias, str) else np.asarray(bias, dtype=np.float64)
    if values is None:
        return replace(kernel, bias=None)
    values = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if values.ndim != 1 or not np.all(np.isfinite(values)):
        raise KernelError("--bias must be finite numbers, one per output channel")
    if w.ndim == 4:
        if values.size == 1:
            values = np.full(int(w.shape[0]), float(values[0]))
        elif values.size != w.shape[0]:
            raise KernelError(
                f"--bias has {values.size} values but the convolution kernel {tuple(w.shape)} "
                f"has {w.shape[0]} output channels"
            )
        return replace(kernel, bias=values)
    if values.size != 1:
        raise KernelError(
            f"--bias has {values.size} values but a {w.ndim}-D kernel {tuple(w.shape)} acts on "
            "each channel alone: give one value"
        )
    return replace(kernel, bias=np.asarray(float(values[0])))


def _with_bias(kernel: Kernel, bias: str | np.ndarray | None) -> Kernel:
    """``kernel`` with the bias given on the command line (None: no bias)."""
    if bias is None:
        return replace(kernel, bias=None)
    values = read_bias(bias) if isinstance(bias, str) else np.asarray(bias, dtype=np.float64)
    if values is None:
        return replace(kernel, bias=None)
    values = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if values.ndim != 1 or not np.all(np.isfinite(values)):
        raise KernelError("--bias must be finite numbers, one per output channel")
    w = kernel.weight
    groups = kernel.groups
    if w.ndim == 4:
        if values.size == 1:
            values = np.full(int(w.shape[1]) * (groups or 1), float(values[0]))
        elif groups is None:
            groups = groups_from_bias(w, values, origin="--bias")
        elif values.size != w.shape[1] * groups:
            raise KernelError(
                f"--bias has {values.size} values but the kernel {tuple(w.shape)} with groups="
                f"{groups} has {w.shape[1] * groups} output channels"
            )
    elif values.size == 1:
        values = np.asarray(float(values[0]))  # a 2-D kernel: the same bias for every channel
    return replace(kernel, bias=values, groups=groups)
