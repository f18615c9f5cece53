"""The views of ``upsamp explain``: pure functions over small arrays that return plain data.

Each view is an independent construction of a method's result, written from its textbook
definition, and each checks itself against the result the library computes (the ``output``
argument, from :func:`upsamp.transconv`, :func:`upsamp.nearest`, ... through the registry):

``scatter``
    Every input element distributes ``x[i, j]·K`` into the full, uncropped output at
    ``(i·s, j·s)``; the partial products are summed, then padding crops the sum.
``gather``
    The same result collected by an ordinary correlation: ``s − 1`` zeros between the input
    elements, ``d·(k − 1) − p`` zeros around them (plus output_padding at the far side), and the
    flipped kernel; one formula per output cell.
``matrix``
    The matrix ``C`` with one row per input element and one column per output element
    (row-major flattening), so that ``y = Cᵀ·x``.
``phases``
    The taps each output phase ``(row mod s, column mod s)`` receives, their sums and the
    checkerboard verdict of :func:`upsamp.diagnostics.analyze_kernel`.
``size``
    The output-size formula with the numbers in, the convolution that goes back down, and the
    equivalent settings in PyTorch, TensorFlow/Keras, ONNX and MXNet.
``weights``
    Separable interpolation (nearest, bilinear, bicubic, Lanczos: ``Method.taps``): each output
    row's and column's source coordinate and the input indices it reads with their weights.
``pool``
    Max pooling of the guide: the windows, their maxima, the mask of where they were and the
    flat indices; max-unpooling puts the input values back there.

Transposed-convolution geometry follows :func:`upsamp.transconv` (PyTorch): per axis, input
length ``i``, kernel ``k``, stride ``s``, padding ``p``, output_padding ``op``, dilation ``d``,
full scatter ``F = (i − 1)·s + d·(k − 1) + 1`` and output ``o = F − 2p + op``.

Arrays in the returned data are nested lists; integral values are ints.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ParameterError, UpsampError
from ..geometry import check_output_size, format_size

__all__ = [
    "DEFAULT_INPUT",
    "Geometry",
    "ViewMismatch",
    "explain",
    "format_value",
    "gather",
    "matrix",
    "phase_verdict",
    "phases",
    "plain",
    "pool",
    "pool_mask",
    "scatter",
    "size",
    "weights",
]

Pair = tuple[int, int]

#: The input when none is given: the 2×2 array of the seed examples.
DEFAULT_INPUT = ((1.0, 2.0), (3.0, 4.0))

#: Largest output side ``explain`` builds (the formulas and the matrix grow with it).
OUTPUT_LIMIT = 64


class ViewMismatch(UpsampError):
    """A view's construction disagrees with the library's result: a bug, never bad input."""


@dataclass(frozen=True)
class Geometry:
    """Transposed-convolution geometry, ``(h, w)`` pairs as in :func:`upsamp.transconv`."""

    stride: Pair = (1, 1)
    padding: Pair = (0, 0)
    output_padding: Pair = (0, 0)
    dilation: Pair = (1, 1)

    def to_json(self) -> dict[str, list[int]]:
        return {
            "stride": list(self.stride),
            "padding": list(self.padding),
            "output_padding": list(self.output_padding),
            "dilation": list(self.dilation),
        }

    def full_shape(self, in_shape: Sequence[int], kernel_shape: Sequence[int]) -> Pair:
        """``F = (i − 1)·s + d·(k − 1) + 1`` per axis: the uncropped scatter."""
        return tuple(  # type: ignore[return-value]
            (in_shape[a] - 1) * self.stride[a] + self.dilation[a] * (kernel_shape[a] - 1) + 1
            for a in range(2)
        )

    def output_shape(self, in_shape: Sequence[int], kernel_shape: Sequence[int]) -> Pair:
        """``o = F − 2p + op`` per axis."""
        full = self.full_shape(in_shape, kernel_shape)
        return tuple(  # type: ignore[return-value]
            full[a] - 2 * self.padding[a] + self.output_padding[a] for a in range(2)
        )


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """Arrays and numpy scalars as nested lists and Python numbers (integral floats as ints)."""
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value] if value.ndim else plain(value.item())
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (np.integer, np.bool_)):
        return value.item()
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if number.is_integer() and abs(number) < 2**53:
            return int(number)
        return number
    return value


def format_value(value: float) -> str:
    """A number as formulas write it: integers without a point, others with up to 10
    significant digits, negative numbers in parentheses.

    >>> format_value(5.0), format_value(-2.0), format_value(0.1875)
    ('5', '(-2)', '0.1875')
    """
    number = float(value)
    if number.is_integer() and abs(number) < 1e15:
        text = str(int(number))
    else:
        text = f"{number:.10g}"
    return f"({text})" if number < 0 else text


def _agree(constructed: np.ndarray, output: np.ndarray, what: str) -> None:
    """Raise :class:`ViewMismatch` unless the view's construction equals the library's result."""
    constructed = np.asarray(constructed, dtype=np.float64)
    output = np.asarray(output, dtype=np.float64)
    if constructed.shape != output.shape:
        raise ViewMismatch(
            f"internal error: {what} has shape {constructed.shape} but the method's result has "
            f"{output.shape}"
        )
    scale = max(1.0, float(np.max(np.abs(output), initial=0.0)))
    # float32 results (the library's dtype rule) are exact to about 1e-7 of their magnitude
    tolerance = (1e-6 if output.dtype == np.float32 else 1e-9) * scale
    error = float(np.max(np.abs(constructed - output), initial=0.0))
    if not error <= tolerance:
        raise ViewMismatch(
            f"internal error: {what} differs from the method's result by {error:.3g}"
        )


def _pair(value: int | Iterable[int]) -> Pair:
    if isinstance(value, (int, np.integer)):
        return (int(value), int(value))
    a, b = value
    return (int(a), int(b))


def _dilated(kernel: np.ndarray, dilation: Pair) -> np.ndarray:
    """The kernel with ``d − 1`` zeros between its taps."""
    kh, kw = kernel.shape
    out = np.zeros((dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1))
    out[:: dilation[0], :: dilation[1]] = kernel
    return out


def _crop(full: np.ndarray, start: Pair, shape: Pair) -> np.ndarray:
    """``full[start : start + shape]`` per axis, zeros past the end (output_padding)."""
    out = np.zeros(shape)
    rows = max(0, min(shape[0], full.shape[0] - start[0]))
    cols = max(0, min(shape[1], full.shape[1] - start[1]))
    out[:rows, :cols] = full[start[0] : start[0] + rows, start[1] : start[1] + cols]
    return out


# --------------------------------------------------------------------------------------------
# Transposed-convolution views
# --------------------------------------------------------------------------------------------


def scatter(x: np.ndarray, kernel: np.ndarray, geometry: Geometry, output: np.ndarray) -> dict:
    """The distributing view: one partial product per input element, their sum, the crop.

    Returns ``{"partials": [{"at", "value", "offset", "partial"}, ...], "full", "crop"}``:
    ``partial`` is ``x[i, j]·K`` (dilated) placed at ``offset = (i·s, j·s)`` in the full output
    (0 where nothing lands), ``full`` their sum, and ``crop = [top, left, bottom, right]`` the
    rows and columns padding cuts from the full sum (``p`` at the top and left, ``p − op`` at
    the bottom and right; a negative number is output_padding's extra rows or columns of zeros
    past the full sum).

    >>> x = np.array([[1., 2.], [3., 4.]])
    >>> view = scatter(x, np.full((2, 2), 5.), Geometry(), np.array([[5, 15, 10], [20, 50, 30],
    ...                                                             [15, 35, 20]]))
    >>> view["partials"][1]["partial"], view["crop"]
    ([[0, 10, 10], [0, 10, 10], [0, 0, 0]], [0, 0, 0, 0])
    """
    s, p, op = geometry.stride, geometry.padding, geometry.output_padding
    full_shape = geometry.full_shape(x.shape, kernel.shape)
    spread = _dilated(kernel, geometry.dilation)
    full = np.zeros(full_shape)
    partials = []
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            partial = np.zeros(full_shape)
            r, c = i * s[0], j * s[1]
            partial[r : r + spread.shape[0], c : c + spread.shape[1]] = x[i, j] * spread
            full += partial
            partials.append({"at": [i, j], "value": x[i, j], "offset": [r, c], "partial": partial})
    out_shape = geometry.output_shape(x.shape, kernel.shape)
    _agree(_crop(full, p, out_shape), output, "the cropped sum of the partial products")
    crop = [p[0], p[1], p[0] - op[0], p[1] - op[1]]
    return plain({"partials": partials, "full": full, "crop": crop})


def gather(x: np.ndarray, kernel: np.ndarray, geometry: Geometry, output: np.ndarray) -> dict:
    """The collecting view: an ordinary correlation with the flipped kernel.

    The input gets ``s − 1`` zeros between its elements, then ``d·(k − 1) − p`` rows/columns of
    zeros before and ``d·(k − 1) − p + op`` after (a negative number cuts instead); output cell
    ``(r, c)`` is ``Σ E[r + a·d, c + b·d]·flip(K)[a, b]``.

    Returns ``{"flipped_kernel", "expanded_input", "formulas", "pad"}``: ``formulas`` holds one
    string per output cell, row-major, ``"y[r,c] = e·w + e·w + ... = value"`` with the terms in
    kernel order (row by row of the flipped kernel); ``pad`` is ``[top, left, bottom, right]``.

    >>> view = gather(np.array([[1., 2.], [3., 4.]]), np.array([[1., 2.], [3., 4.]]),
    ...               Geometry(), np.array([[1, 4, 4], [6, 20, 16], [9, 24, 16]]))
    >>> view["formulas"][0]
    'y[0,0] = 0·4 + 0·3 + 0·2 + 1·1 = 1'
    """
    s, p, op, d = geometry.stride, geometry.padding, geometry.output_padding, geometry.dilation
    flipped = kernel[::-1, ::-1]
    stuffed = np.zeros(((x.shape[0] - 1) * s[0] + 1, (x.shape[1] - 1) * s[1] + 1))
    stuffed[:: s[0], :: s[1]] = x
    before = [d[a] * (kernel.shape[a] - 1) - p[a] for a in range(2)]
    after = [before[a] + op[a] for a in range(2)]
    expanded = stuffed
    for axis in range(2):
        expanded = _pad_axis(expanded, axis, before[axis], after[axis])
    out_h = expanded.shape[0] - d[0] * (kernel.shape[0] - 1)
    out_w = expanded.shape[1] - d[1] * (kernel.shape[1] - 1)
    result = np.zeros((max(out_h, 0), max(out_w, 0)))
    formulas = []
    for r in range(result.shape[0]):
        for c in range(result.shape[1]):
            terms = []
            total = 0.0
            for a in range(kernel.shape[0]):
                for b in range(kernel.shape[1]):
                    value = expanded[r + a * d[0], c + b * d[1]]
                    total += value * flipped[a, b]
                    terms.append(f"{format_value(value)}·{format_value(flipped[a, b])}")
            result[r, c] = total
            formulas.append(f"y[{r},{c}] = {' + '.join(terms)} = {format_value(total)}")
    _agree(result, output, "the correlation of the expanded input with the flipped kernel")
    return plain(
        {
            "flipped_kernel": flipped,
            "expanded_input": expanded,
            "formulas": formulas,
            "pad": [before[0], before[1], after[0], after[1]],
        }
    )


def _pad_axis(array: np.ndarray, axis: int, before: int, after: int) -> np.ndarray:
    """Zeros added (or, for a negative count, rows/columns cut) at both ends of one axis."""
    if before < 0:
        array = np.take(array, range(-before, array.shape[axis]), axis=axis)
        before = 0
    if after < 0:
        array = np.take(array, range(0, array.shape[axis] + after), axis=axis)
        after = 0
    widths = [(0, 0), (0, 0)]
    widths[axis] = (before, after)
    return np.pad(array, widths)


def matrix(
    x: np.ndarray,
    kernel: np.ndarray,
    geometry: Geometry,
    output: np.ndarray,
    *,
    products: bool = False,
) -> dict:
    """The matrix view: ``C[n, m]`` is the weight input element ``n`` gives output element
    ``m`` (both flattened row-major), so ``y = Cᵀ·x``.

    Returns ``{"C", "C_T"}``, plus ``"CC_T"`` (``C·Cᵀ``) and ``"C_TC"`` (``Cᵀ·C``) with
    ``products``.

    >>> view = matrix(np.ones((2, 2)), np.full((2, 2), 5.), Geometry(),
    ...               np.array([[5, 10, 5], [10, 20, 10], [5, 10, 5]]))
    >>> view["C"][0]
    [5, 5, 0, 5, 5, 0, 0, 0, 0]
    """
    s, p, d = geometry.stride, geometry.padding, geometry.dilation
    out_h, out_w = geometry.output_shape(x.shape, kernel.shape)
    c = np.zeros((x.size, out_h * out_w))
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            for a in range(kernel.shape[0]):
                for b in range(kernel.shape[1]):
                    r, col = i * s[0] - p[0] + a * d[0], j * s[1] - p[1] + b * d[1]
                    if 0 <= r < out_h and 0 <= col < out_w:
                        c[i * x.shape[1] + j, r * out_w + col] += kernel[a, b]
    _agree((c.T @ x.ravel()).reshape(out_h, out_w), output, "Cᵀ·x")
    view: dict[str, Any] = {"C": c, "C_T": c.T}
    if products:
        view["CC_T"] = c @ c.T
        view["C_TC"] = c.T @ c
    return plain(view)


def _phase_taps(size: int, stride: int, padding: int, dilation: int, phase: int) -> list[int]:
    """Kernel taps along one axis that land on output ``phase``: ``(t·d − p) mod s``."""
    return [t for t in range(size) if (t * dilation - padding) % stride == phase]


def phases(kernel: np.ndarray, geometry: Geometry) -> list[dict]:
    """The sub-kernel each output phase ``(p, q) = (row mod s_h, column mod s_w)`` receives.

    Tap ``(a, b)`` lands on phase ``((a·d − pad) mod s, (b·d − pad) mod s)``. Returns a list of
    ``{"phase": [p, q], "kernel", "sum", "rows", "cols"}`` row by row of phases; ``rows`` and
    ``cols`` name the kernel rows and columns of the sub-kernel. The sums are checked against
    :func:`upsamp.diagnostics.analyze_kernel`.

    >>> [item["sum"] for item in phases(np.ones((3, 3)), Geometry(stride=(2, 2)))]
    [4, 2, 2, 1]
    """
    from ..diagnostics import analyze_kernel

    s, p, d = geometry.stride, geometry.padding, geometry.dilation
    analysis = analyze_kernel(kernel, stride=s, padding=p, dilation=d)
    items = []
    for ph in range(s[0]):
        rows = _phase_taps(kernel.shape[0], s[0], p[0], d[0], ph)
        for q in range(s[1]):
            cols = _phase_taps(kernel.shape[1], s[1], p[1], d[1], q)
            sub = kernel[np.ix_(rows, cols)]
            total = float(sub.sum())
            _agree(np.array(total), analysis.phase_sums[0, ph, q], f"phase ({ph}, {q})'s sum")
            items.append(
                {"phase": [ph, q], "kernel": sub, "sum": total, "rows": rows, "cols": cols}
            )
    return plain(items)


def phase_verdict(kernel: np.ndarray, geometry: Geometry) -> dict:
    """``{"artifact_free", "spread", "explanation", "fix"}`` from the kernel analysis."""
    from ..diagnostics import analyze_kernel

    analysis = analyze_kernel(
        kernel, stride=geometry.stride, padding=geometry.padding, dilation=geometry.dilation
    )
    spread = analysis.phase_spread
    return {
        "artifact_free": analysis.artifact_free,
        "spread": spread if math.isfinite(spread) else None,
        "explanation": analysis.explain(),
        "fix": analysis.suggest_fix(),
    }


# --------------------------------------------------------------------------------------------
# Size and framework settings
# --------------------------------------------------------------------------------------------


def _axis_values(
    in_shape: Sequence[int], kernel_shape: Sequence[int], g: Geometry, axis: int
) -> dict[str, int]:
    return {
        "i": int(in_shape[axis]),
        "k": int(kernel_shape[axis]),
        "s": g.stride[axis],
        "p": g.padding[axis],
        "op": g.output_padding[axis],
        "d": g.dilation[axis],
    }


def _up_formula(name: str, v: dict[str, int]) -> tuple[str, int]:
    """``H_out = (H − 1)·s − 2p + d·(k − 1) + op + 1`` with the numbers in."""
    out = (v["i"] - 1) * v["s"] - 2 * v["p"] + v["d"] * (v["k"] - 1) + v["op"] + 1
    text = (
        f"{name}_out = ({name} − 1)·s − 2p + d·(k − 1) + op + 1 = "
        f"({v['i']} − 1)·{v['s']} − 2·{v['p']} + {v['d']}·({v['k']} − 1) + {v['op']} + 1 = {out}"
    )
    return text, out


def _down_formula(name: str, v: dict[str, int], out: int) -> str:
    """The ordinary convolution from the output back down: ``1 + ⌊(o + 2p − d·(k − 1) − 1)/s⌋``
    (``1 + (o − k + 2p)/s`` for d = 1)."""
    back = 1 + (out + 2 * v["p"] - v["d"] * (v["k"] - 1) - 1) // v["s"]
    if v["d"] == 1:
        return (
            f"{name} = 1 + ⌊({name}_out − k + 2p)/s⌋ = "
            f"1 + ⌊({out} − {v['k']} + 2·{v['p']})/{v['s']}⌋ = {back}"
        )
    return (
        f"{name} = 1 + ⌊({name}_out + 2p − d·(k − 1) − 1)/s⌋ = "
        f"1 + ⌊({out} + 2·{v['p']} − {v['d']}·({v['k']} − 1) − 1)/{v['s']}⌋ = {back}"
    )


def size(
    in_shape: Sequence[int], kernel_shape: Sequence[int], geometry: Geometry, output: np.ndarray
) -> dict:
    """The output size with the numbers in, and the equivalent framework settings.

    Returns ``{"formula", "conv_formula", "output_shape", "frameworks"}``: ``formula`` and
    ``conv_formula`` are one line per axis (one line for both when they agree), ``frameworks``
    maps ``pytorch``, ``keras``, ``onnx`` and ``mxnet`` to the call that computes the same
    result (a single-channel weight ``K``, not flipped, in each framework's layout).

    >>> view = size((2, 2), (2, 2), Geometry(), np.zeros((3, 3)))
    >>> view["formula"], view["output_shape"]
    ('H_out = W_out = (H − 1)·s − 2p + d·(k − 1) + op + 1 = (2 − 1)·1 − 2·0 + 1·(2 − 1) + 0 + 1 = 3', [3, 3])
    """  # noqa: E501
    per_axis = [_axis_values(in_shape, kernel_shape, geometry, a) for a in range(2)]
    ups = [_up_formula(name, v) for name, v in zip("HW", per_axis, strict=True)]
    downs = [
        _down_formula(name, v, ups[a][1])
        for a, (name, v) in enumerate(zip("HW", per_axis, strict=True))
    ]
    out_shape = (ups[0][1], ups[1][1])
    _agree(np.array(out_shape), np.array(np.shape(output)[:2]), "the output-size formula")
    if per_axis[0] == per_axis[1]:
        formula = ups[0][0].replace("H_out =", "H_out = W_out =", 1)
        conv = downs[0].replace("H =", "H = W =", 1)
    else:
        formula = f"{ups[0][0]}; {ups[1][0]}"
        conv = f"{downs[0]}; {downs[1]}"
    return plain(
        {
            "formula": formula,
            "conv_formula": conv,
            "output_shape": list(out_shape),
            "frameworks": framework_settings(in_shape, kernel_shape, geometry),
        }
    )


def _tuple_text(values: Sequence[int]) -> str:
    return f"({values[0]}, {values[1]})"


def _list_text(values: Sequence[int]) -> str:
    return "[" + ", ".join(str(v) for v in values) + "]"


def framework_settings(
    in_shape: Sequence[int], kernel_shape: Sequence[int], geometry: Geometry
) -> dict[str, str]:
    """The same transposed convolution in PyTorch, Keras, ONNX and MXNet (one line each).

    PyTorch and MXNet take padding and output_padding as they are; ONNX takes them as ``pads``
    and ``output_padding`` (and, when they give the same crop, ``auto_pad`` or
    ``output_shape``); Keras only knows ``'valid'`` (no crop) and ``'same'`` (TensorFlow's
    split of the crop), with an explicit crop when neither fits.
    """
    s, p, op, d = geometry.stride, geometry.padding, geometry.output_padding, geometry.dilation
    k = tuple(int(v) for v in kernel_shape)
    return {
        "pytorch": (
            f"torch.nn.ConvTranspose2d(1, 1, kernel_size={_tuple_text(k)}, "
            f"stride={_tuple_text(s)}, padding={_tuple_text(p)}, "
            f"output_padding={_tuple_text(op)}, dilation={_tuple_text(d)}, bias=False) "
            "with weight[0, 0] = K"
        ),
        "keras": _keras_settings(in_shape, k, geometry),
        "onnx": _onnx_settings(in_shape, k, geometry),
        "mxnet": _mxnet_settings(k, geometry),
    }


def keras_candidates(i: int, k: int, s: int, p: int, op: int, d: int) -> list[tuple[str, Any]]:
    """Keras ``(padding, output_padding)`` settings that give PyTorch's ``full[p : p + o]``
    along one axis (``output_padding`` None means not given).

    Keras (``deconv_output_length``) gives ``valid``: ``(i − 1)·s + max(k_e, s)`` without
    output_padding and ``(i − 1)·s + k_e + op`` with it, cropping nothing; ``same``: ``i·s``
    without output_padding and ``(i − 1)·s + k_e mod 2 + op`` with it, cropping
    ``⌊(F − o)/2⌋`` at the start as TensorFlow's SAME does. output_padding must be < stride.

    >>> keras_candidates(2, 4, 2, 1, 0, 1)
    [('same', None)]
    """
    k_e = d * (k - 1) + 1
    full = (i - 1) * s + k_e
    out = full - 2 * p + op
    found: list[tuple[str, Any]] = []
    if p == 0 and out == (i - 1) * s + max(k_e, s):
        found.append(("valid", None))
    if p == 0 and op < s:
        found.append(("valid", op))
    if out == i * s and p == max(full - out, 0) // 2:
        found.append(("same", None))
    for extra in range(s):
        length = (i - 1) * s + k_e % 2 + extra
        if length == out and max(full - length, 0) // 2 == p:
            found.append(("same", extra))
    return found


def _keras_settings(in_shape: Sequence[int], k: Sequence[int], g: Geometry) -> str:
    s, p, op, d = g.stride, g.padding, g.output_padding, g.dilation
    head = f"keras.layers.Conv2DTranspose(1, {_tuple_text(k)}, strides={_tuple_text(s)}"
    tail = f", dilation_rate={_tuple_text(d)}, use_bias=False) with kernel[:, :, 0, 0] = K"
    if max(s) > 1 and max(d) > 1:
        return "no Keras equivalent: Conv2DTranspose rejects strides > 1 with dilation_rate > 1"
    options = [keras_candidates(int(in_shape[a]), k[a], s[a], p[a], op[a], d[a]) for a in range(2)]
    for mode in ("valid", "same"):
        first = [extra for m, extra in options[0] if m == mode]
        second = [extra for m, extra in options[1] if m == mode]
        if None in first and None in second:
            return f"{head}, padding='{mode}'{tail}"
        both = [e for e in first if e is not None], [e for e in second if e is not None]
        if both[0] and both[1]:
            return f"{head}, padding='{mode}', output_padding=({both[0][0]}, {both[1][0]}){tail}"
    if p[0] >= op[0] and p[1] >= op[1]:
        return (
            f"{head}, padding='valid'{tail}, then keras.layers.Cropping2D((({p[0]}, "
            f"{p[0] - op[0]}), ({p[1]}, {p[1] - op[1]})))"
        )
    return "no exact Keras equivalent: output_padding beyond the padding adds zeros Keras cannot"


def onnx_alternatives(
    in_shape: Sequence[int], k: Sequence[int], g: Geometry
) -> list[dict[str, Any]]:
    """ONNX ConvTranspose attribute sets that compute the same result (the first always does).

    Per the ONNX operator specification, with ``output_shape`` (or ``auto_pad`` SAME_* alone,
    which asks for ``i·s``) the total padding ``s·(i − 1) + op + k_e − o`` is split with
    ``⌊total/2⌋`` at the start for SAME_UPPER and ``⌈total/2⌉`` for SAME_LOWER.
    """
    s, p, op, d = g.stride, g.padding, g.output_padding, g.dilation
    base = {"kernel_shape": list(k), "strides": list(s), "dilations": list(d)}
    found = [dict(base, pads=[p[0], p[1], p[0], p[1]], output_padding=list(op))]
    if p == (0, 0) and op == (0, 0):
        found.append(dict(base, auto_pad="VALID"))
    full = [(int(in_shape[a]) - 1) * s[a] + d[a] * (k[a] - 1) + 1 for a in range(2)]
    out = [full[a] - 2 * p[a] + op[a] for a in range(2)]
    total = [full[a] - out[a] for a in range(2)]
    if min(total) >= 0:
        for mode, start in (("SAME_UPPER", lambda t: t // 2), ("SAME_LOWER", lambda t: t - t // 2)):
            if all(start(total[a]) == p[a] for a in range(2)):
                found.append(dict(base, auto_pad=mode, output_shape=list(out)))
                if all(out[a] == int(in_shape[a]) * s[a] for a in range(2)):
                    found.append(dict(base, auto_pad=mode))
    return found


def _onnx_settings(in_shape: Sequence[int], k: Sequence[int], g: Geometry) -> str:
    def attribute_text(attributes: dict[str, Any]) -> str:
        return ", ".join(
            f"{key}={_list_text(value) if isinstance(value, list) else repr(value)}"
            for key, value in attributes.items()
        )

    first, *others = onnx_alternatives(in_shape, k, g)
    text = f"ConvTranspose({attribute_text(first)}) with W[0, 0] = K"
    shared = {"kernel_shape", "strides", "dilations"}
    alternatives = [
        attribute_text({key: v for key, v in item.items() if key not in shared}) for item in others
    ]
    if alternatives:
        text += "; the same crop with " + " or ".join(alternatives)
    return text


def _mxnet_settings(k: Sequence[int], g: Geometry) -> str:
    s, p, op, d = g.stride, g.padding, g.output_padding, g.dilation
    if any(op[a] >= s[a] for a in range(2)):
        return "no MXNet equivalent: Conv2DTranspose needs output_padding < strides"
    return (
        f"mxnet.gluon.nn.Conv2DTranspose(1, {_tuple_text(k)}, strides={_tuple_text(s)}, "
        f"padding={_tuple_text(p)}, output_padding={_tuple_text(op)}, "
        f"dilation={_tuple_text(d)}, in_channels=1, use_bias=False) with weight[0, 0] = K"
    )


# --------------------------------------------------------------------------------------------
# Interpolation weights
# --------------------------------------------------------------------------------------------


def _axis_weights(taps: Any) -> list[dict]:
    """Per output index: its source coordinate and the ``[index, weight]`` taps it reads, from
    a method's tap table (``Method.taps``): repeated indices (taps past an edge that read the
    edge sample) are added together and taps of weight 0 left out."""
    entries = []
    for o in range(taps.index.shape[0]):
        merged: dict[int, float] = {}
        for i, w in zip(taps.index[o].tolist(), taps.weight[o].tolist(), strict=True):
            merged[int(i)] = merged.get(int(i), 0.0) + float(w)
        entries.append(
            {
                "out": o,
                "source": float(taps.source[o]),
                "taps": [[i, w] for i, w in sorted(merged.items()) if w != 0.0],
            }
        )
    return entries


def weights(
    x: np.ndarray,
    rows_taps: Any,
    cols_taps: Any,
    output: np.ndarray,
    *,
    align_corners: bool = False,
    scale: Any = None,
) -> dict:
    """Source coordinates and taps of each output row and column.

    ``rows_taps`` and ``cols_taps`` are the method's tap tables (``Method.taps``, with
    ``index``, ``weight``, ``source`` and ``edge``). Returns ``{"rows": [{"out", "source",
    "taps"}], "cols": [...], "formula", "edge"}``; the output is
    ``y[r, c] = Σ_(i, a) Σ_(j, b) a·b·x[i, j]`` over the row's taps ``(i, a)`` and the column's
    taps ``(j, b)``, which is checked against ``output``.

    >>> from upsamp.methods import MethodOptions, get_method
    >>> x = np.array([[10., 20.], [30., 40.]])
    >>> rows, cols = get_method("bilinear").taps(x.shape, MethodOptions(stride=(2, 2)))
    >>> view = weights(x, rows, cols,
    ...                np.array([[10, 12.5, 17.5, 20], [15, 17.5, 22.5, 25], [25, 27.5, 32.5, 35],
    ...                          [30, 32.5, 37.5, 40]]))
    >>> view["rows"][1]
    {'out': 1, 'source': 0.25, 'taps': [[0, 0.75], [1, 0.25]]}
    """
    rows = _axis_weights(rows_taps)
    cols = _axis_weights(cols_taps)
    result = np.zeros((len(rows), len(cols)))
    for r, row in enumerate(rows):
        for c, col in enumerate(cols):
            result[r, c] = sum(a * b * x[i, j] for i, a in row["taps"] for j, b in col["taps"])
    _agree(result, output, "the weighted sum of the taps")
    if align_corners:
        formula = "u = o·(in − 1)/(out − 1)"
    elif scale is not None:
        formula = "u = (o + 0.5)/scale − 0.5"
    else:
        formula = "u = (o + 0.5)·in/out − 0.5"
    return plain({"rows": rows, "cols": cols, "formula": formula, "edge": rows_taps.edge})


# --------------------------------------------------------------------------------------------
# Max pooling and unpooling
# --------------------------------------------------------------------------------------------


def pool_mask(indices: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """A ``shape`` (H, W[, C]) array of 0 with 1 at every flat index ``h·W + w`` of
    ``indices`` (H', W'[, C]), per channel."""
    idx = np.asarray(indices, dtype=np.int64)
    planes = idx if idx.ndim == 3 else idx[:, :, None]
    mask = np.zeros((int(shape[0]) * int(shape[1]), planes.shape[2]), dtype=np.int64)
    for c in range(planes.shape[2]):
        mask[planes[:, :, c].ravel(), c] = 1
    mask = mask.reshape(int(shape[0]), int(shape[1]), planes.shape[2])
    return mask if idx.ndim == 3 else mask[:, :, 0]


def pool(
    guide: np.ndarray,
    stride: Pair,
    x: np.ndarray | None = None,
    output: np.ndarray | None = None,
) -> dict:
    """Max pooling of ``guide`` by ``stride`` windows, and max-unpooling of ``x``.

    Each ``s_h×s_w`` window (rows and columns that do not fill one are dropped) keeps its first
    maximum in row-major order; its flat index ``h·W + w`` in the guide is what max-unpooling
    reads. Returns ``{"guide", "pooled", "mask", "indices", "windows"}`` and, with ``x``,
    ``"unpooled"``: ``x[i, j]`` placed at window ``(i, j)``'s maximum, zeros elsewhere
    (checked against ``output``). Each window is ``{"at", "rows", "cols", "max", "where"}`` with
    half-open ``rows``/``cols`` ranges.

    >>> view = pool(np.array([[1., 2, 4, 1], [3, 4, 2, 3], [1, 4, 1, 2], [2, 3, 4, 3]]), (2, 2))
    >>> view["indices"], view["pooled"]
    ([[5, 2], [9, 14]], [[4, 4], [4, 4]])
    """
    from ..methods.pooling import max_pool

    h, w = guide.shape
    ph, pw = h // stride[0], w // stride[1]
    if ph < 1 or pw < 1:
        raise ParameterError(
            f"the {format_size((h, w))} guide is smaller than one "
            f"{format_size(stride)} pooling window"
        )
    pooled = np.zeros((ph, pw))
    indices = np.zeros((ph, pw), dtype=np.int64)
    mask = np.zeros((h, w), dtype=np.int64)
    windows = []
    for i in range(ph):
        for j in range(pw):
            best = None
            for r in range(i * stride[0], (i + 1) * stride[0]):
                for c in range(j * stride[1], (j + 1) * stride[1]):
                    if best is None or guide[r, c] > guide[best]:
                        best = (r, c)
            assert best is not None
            pooled[i, j] = guide[best]
            indices[i, j] = best[0] * w + best[1]
            mask[best] = 1
            windows.append(
                {
                    "at": [i, j],
                    "rows": [i * stride[0], (i + 1) * stride[0]],
                    "cols": [j * stride[1], (j + 1) * stride[1]],
                    "max": guide[best],
                    "where": list(best),
                }
            )
    library_pooled, library_indices = max_pool(guide, stride)
    _agree(pooled, library_pooled, "the maxima of the pooling windows")
    if not np.array_equal(indices, library_indices):
        raise ViewMismatch("internal error: the pooling indices differ from upsamp.max_pool's")
    view: dict[str, Any] = {
        "guide": guide,
        "pooled": pooled,
        "mask": mask,
        "indices": indices,
        "windows": windows,
    }
    if x is not None:
        if x.shape != pooled.shape:
            raise ParameterError(
                f"the input is {format_size(x.shape)} but pooling the {format_size((h, w))} "
                f"guide by {format_size(stride)} windows gives {format_size((ph, pw))}"
            )
        unpooled = np.zeros((h, w))
        for window in windows:
            i, j = window["at"]
            unpooled[tuple(window["where"])] = x[i, j]
        if output is not None:
            _agree(unpooled, output, "the unpooled array")
        view["unpooled"] = unpooled
    return plain(view)


# --------------------------------------------------------------------------------------------
# The whole explanation
# --------------------------------------------------------------------------------------------


def edge_margin(
    n: int, k: int, stride: int, padding: int, output_padding: int, dilation: int
) -> int:
    """Input samples beyond one end whose contributions reach the output, per end (the larger
    of the two): ``⌈(d·(k − 1) − p)/s⌉`` before the start and ``⌊(d·(k − 1) + op − p)/s⌋``
    past the end. An edge mode extends the input by this many edge values on both sides."""
    before = -((padding - dilation * (k - 1)) // stride)
    after = (dilation * (k - 1) + output_padding - padding) // stride
    return max(0, before, after)


def explain(
    method_name: str,
    x: np.ndarray | None = None,
    *,
    kernel: Any = None,
    guide: np.ndarray | None = None,
    stride: int | Iterable[int] | None = None,
    scale: Any = None,
    align_corners: bool = False,
    cubic_a: float | None = None,
    views: Sequence[str] | None = None,
    products: bool = False,
) -> dict:
    """Run ``method_name`` on ``x`` with the library and build the requested views of it.

    Parameters
    ----------
    method_name : str
        A registered method with views (``Method.explain_views``).
    x : 2-D array, optional
        The input (default :data:`DEFAULT_INPUT`; for max-unpool, the pooled guide).
    kernel : upsamp.kernels.Kernel, optional
        Methods that take a kernel: a 2-D weight without bias; its geometry and edge are used
        (default: the method's own). The views show its transposed-convolution form
        (``Method.kernel_to_transconv``: for pixel-shuffle, the phases view shows the
        sub-filters). Other methods that are a transposed convolution use
        ``Method.as_transconv(stride)``.
    guide : 2-D array, optional
        Max-unpool: the array that was max-pooled.
    stride : int or (h, w), optional
        The enlargement factor (default 2) when there is no kernel.
    scale : float or (sy, sx), optional
        A factor for methods that take one (``"scale"`` in ``Method.uses``); only the
        ``weights`` view applies then (a non-integer factor is no transposed convolution).
    align_corners : bool
        For methods that take it.
    cubic_a : float, optional
        The cubic kernel's parameter, for methods that take it (default: the method's own).
    views : sequence of str, optional
        Default: every view that applies. A view that does not apply is a ParameterError.
    products : bool
        The matrix view adds ``C·Cᵀ`` and ``Cᵀ·C``.

    Returns
    -------
    dict
        ``{"method", "input", "output", "stride", "padding"?, "output_padding"?, "dilation"?,
        "kernel"?, "edge"?, "guide"?, "align_corners"?, <one key per view>,
        "phase_verdict"?}``. With an edge mode other than zero, ``edge`` is ``{"mode",
        "margin", "input", "padding"}``: the transposed-convolution views work on the input
        extended by ``margin`` edge values on each side, with ``padding`` grown by
        ``margin·s`` (the same output).

    Notes
    -----
    Every view is checked against the method's own result (``Method.upsample``).
    """
    from ..methods import MethodOptions, get_method
    from . import applicable_views

    method = get_method(method_name)
    plan = applicable_views(method.name)
    if not plan.views:
        raise ParameterError(f"explain has no views for the method {method.name!r}")
    chosen = list(plan.views) if not views else list(dict.fromkeys(views))
    wrong = [v for v in chosen if v not in plan.views]
    if wrong:
        raise ParameterError(
            f"the {wrong[0]} view does not apply to {method.name}; its views are "
            f"{', '.join(plan.views)}"
        )
    for given, field, what in (
        (align_corners, "align_corners", "align_corners"),
        (scale is not None, "scale", "a scale"),
    ):
        if given and field in method.uses:
            # with align_corners or a scale the method is no longer its transposed convolution
            if views and set(chosen) & set(TRANSCONV_VIEW_NAMES):
                raise ParameterError(
                    f"with {what}, {method.name} is not a transposed convolution; its views "
                    "are weights"
                )
            chosen = [v for v in chosen if v not in TRANSCONV_VIEW_NAMES]
    if scale is not None and "scale" not in method.uses:
        raise ParameterError(f"{method.name} takes no scale")
    if scale is not None and stride is not None:
        raise ParameterError("give the stride or the scale, not both")
    if cubic_a is not None and "cubic_a" not in method.uses:
        raise ParameterError(f"{method.name} has no cubic_a option")
    takes_kernel = "kernel" in method.uses
    takes_indices = "indices" in method.uses
    if kernel is not None and not takes_kernel:
        raise ParameterError(f"{method.name} takes no kernel")
    if guide is not None and not takes_indices:
        raise ParameterError(f"{method.name} takes no guide")
    if align_corners and "align_corners" not in method.uses:
        raise ParameterError(f"{method.name} has no align_corners option")

    if takes_kernel:
        if kernel is None:
            build = method.default_kernel or plan.as_transconv
            if build is None:
                raise ParameterError(f"{method.name} needs a kernel")
            kernel = build(_pair(stride or 2))
        elif stride is not None and _pair(stride) != tuple(kernel.stride):
            raise ParameterError("give the stride with the kernel, not separately")
        step = tuple(kernel.stride)
    else:
        step = _pair(stride or 2)
        if plan.as_transconv is not None and set(chosen) & set(TRANSCONV_VIEW_NAMES):
            kernel = plan.as_transconv(step)
    method_kernel = kernel
    if takes_kernel and method.kernel_to_transconv is not None:
        # The views show the transposed convolution equal to the method with its kernel (a
        # sub-pixel kernel's phases, a resize-convolution's kernel convolved with the resize).
        kernel = method.kernel_to_transconv(kernel, MethodOptions(stride=step, kernel=kernel))
    if kernel is not None:
        _check_kernel(kernel)
    geometry = (
        Geometry(
            tuple(kernel.stride),
            tuple(kernel.padding),
            tuple(kernel.output_padding),
            tuple(kernel.dilation),
        )
        if kernel is not None
        else Geometry(stride=step)  # type: ignore[arg-type]
    )

    options: dict[str, Any] = {"stride": step}
    if takes_kernel:
        options["kernel"] = method_kernel
    if "align_corners" in method.uses:
        options["align_corners"] = align_corners
    if scale is not None:
        options["scale"] = scale
    if cubic_a is not None:
        options["cubic_a"] = cubic_a
    if takes_indices:
        if guide is None:
            raise ParameterError(
                f"{method.name} needs --guide ARRAY: the array that was max-pooled"
            )
        from ..methods.pooling import max_pool

        pooled, options["indices"] = max_pool(np.asarray(guide, dtype=np.float64), step)
        if x is None:
            x = pooled
        options["output_size"] = guide.shape
        if x.shape != options["indices"].shape:
            raise ParameterError(
                f"the input is {format_size(x.shape)} but pooling the "
                f"{format_size(guide.shape)} guide by {format_size(step)} windows gives "
                f"{format_size(options['indices'].shape)}"
            )
    if x is None:
        x = np.array(DEFAULT_INPUT)
    x = np.asarray(x, dtype=np.float64)
    if kernel is not None:
        out_shape = geometry.output_shape(x.shape, kernel.weight.shape)
    elif scale is not None:
        out_shape = tuple(method.output_shape(x.shape[:2], MethodOptions(**options)))
    else:
        out_shape = (x.shape[0] * step[0], x.shape[1] * step[1])
    check_output_size(out_shape, x.shape, "the padding is too large")
    if max(out_shape) > OUTPUT_LIMIT:
        raise ParameterError(
            f"the output would be {format_size(out_shape)}; explain shows outputs up to "
            f"{OUTPUT_LIMIT}×{OUTPUT_LIMIT}"
        )
    output = np.asarray(method.upsample(x, MethodOptions(**options)), dtype=np.float64)

    doc: dict[str, Any] = {"method": method.name, "input": plain(x), "output": plain(output)}
    doc.update(geometry.to_json() if kernel is not None else {"stride": list(step)})
    if scale is not None:
        del doc["stride"]
        doc["scale"] = list(scale) if isinstance(scale, tuple) else scale
    if "cubic_a" in method.uses:
        doc["cubic_a"] = MethodOptions(**options).cubic_a
    view_x, view_geometry = x, geometry
    if kernel is not None:
        doc["kernel"] = plain(np.asarray(kernel.weight, dtype=np.float64))
        if kernel.edge != "zero":
            margin = tuple(
                edge_margin(x.shape[a], kernel.weight.shape[a], geometry.stride[a],
                            geometry.padding[a], geometry.output_padding[a],
                            geometry.dilation[a])
                for a in range(2)
            )  # fmt: skip
            mode = "edge" if kernel.edge == "replicate" else "reflect"
            view_x = np.pad(x, ((margin[0], margin[0]), (margin[1], margin[1])), mode=mode)
            view_geometry = Geometry(
                geometry.stride,
                (
                    geometry.padding[0] + margin[0] * geometry.stride[0],
                    geometry.padding[1] + margin[1] * geometry.stride[1],
                ),
                geometry.output_padding,
                geometry.dilation,
            )
            doc["edge"] = {
                "mode": kernel.edge,
                "margin": list(margin),
                "input": plain(view_x),
                "padding": list(view_geometry.padding),
            }
    if "align_corners" in method.uses:
        doc["align_corners"] = align_corners
    if guide is not None:
        doc["guide"] = plain(guide)
    weight = None if kernel is None else np.asarray(kernel.weight, dtype=np.float64)
    for view in chosen:
        if view == "scatter":
            doc["scatter"] = scatter(view_x, weight, view_geometry, output)
        elif view == "gather":
            doc["gather"] = gather(view_x, weight, view_geometry, output)
        elif view == "matrix":
            doc["matrix"] = matrix(view_x, weight, view_geometry, output, products=products)
        elif view == "phases":
            doc["phases"] = phases(weight, geometry)
            doc["phase_verdict"] = phase_verdict(weight, geometry)
        elif view == "size":
            doc["size"] = size(view_x.shape, weight.shape, view_geometry, output)
            if "edge" in doc:
                m = doc["edge"]["margin"]
                doc["size"]["frameworks"] = {
                    name: f"on the input extended by {m[0]},{m[1]} {kernel.edge} rows,columns "
                    f"per side: {text}"
                    for name, text in doc["size"]["frameworks"].items()
                }
        elif view == "weights":
            if plan.taps is None:
                raise ParameterError(f"{method.name} declares no taps for the weights view")
            rows_taps, cols_taps = plan.taps(x.shape[:2], MethodOptions(**options))
            doc["weights"] = weights(
                x, rows_taps, cols_taps, output, align_corners=align_corners, scale=scale
            )
        elif view == "pool":
            doc["pool"] = pool(guide, step, x, output)  # type: ignore[arg-type]
    return doc


#: The views built on a transposed-convolution kernel.
TRANSCONV_VIEW_NAMES = ("scatter", "gather", "matrix", "phases", "size")


def _check_kernel(kernel: Any) -> None:
    """``explain`` shows single-channel kernels without bias."""
    weight = np.asarray(kernel.weight)
    if weight.ndim != 2:
        raise ParameterError(
            f"explain shows 2-D (kH, kW) kernels; this one has shape {weight.shape}"
        )
    if kernel.bias is not None:
        raise ParameterError("explain shows kernels without bias; this one has a bias")
    from ..geometry import check_transconv_params

    check_transconv_params(kernel.stride, kernel.padding, kernel.output_padding, kernel.dilation)
