"""The ``--input-range`` maths: pixel values mapped to the range a model was trained on and back.

Weights and biases trained on inputs in ``[0, 1]`` or ``[-1, 1]`` give what they gave in
training only when the pixels are mapped to that range first. An image's *storage range* is
``0..255`` for 8-bit data and the type's range for other integer types; a float image has no
storage range (its values are taken as they are, so no mapping applies unless the caller states
its range).

With storage range ``[a, b]`` and model range ``[c, d]``

    ``to_model_range(v)   = c + (v - a) * (d - c) / (b - a)``
    ``from_model_range(u) = a + (u - c) * (b - a) / (d - c)``

and ``from_model_range(to_model_range(v)) == v`` up to round-off.

Dtype rule: float64 stays float64, every other dtype becomes float32 (the methods' rule,
:func:`upsamp._arrays.result_dtype`). Values are not clipped.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._arrays import result_dtype
from .errors import ParameterError

__all__ = [
    "INPUT_RANGES",
    "from_model_range",
    "parse_input_range",
    "storage_range",
    "to_model_range",
]

Range = tuple[float, float]

#: The ``--input-range`` choices and the ``(low, high)`` each one means.
INPUT_RANGES: dict[str, Range] = {"0..255": (0.0, 255.0), "0..1": (0.0, 1.0), "-1..1": (-1.0, 1.0)}


def parse_input_range(text: str) -> Range:
    """``"0..255"``, ``"0..1"`` or ``"-1..1"`` -> ``(low, high)``.

    >>> parse_input_range("-1..1")
    (-1.0, 1.0)
    """
    value = str(text).strip()
    if value not in INPUT_RANGES:
        raise ParameterError(f"input range must be one of {', '.join(INPUT_RANGES)}; got {text!r}")
    return INPUT_RANGES[value]


def storage_range(dtype: Any) -> Range | None:
    """The range pixel values of ``dtype`` are stored in: ``(0, 255)`` for uint8, the integer
    type's ``(min, max)`` for other integers, ``(0, 1)`` for bool, None for floats.

    >>> storage_range(np.uint8), storage_range(np.uint16), storage_range(np.float32)
    ((0.0, 255.0), (0.0, 65535.0), None)
    """
    kind = np.dtype(dtype)
    if kind.kind == "b":
        return (0.0, 1.0)
    if kind.kind in "iu":
        info = np.iinfo(kind)
        return (float(info.min), float(info.max))
    if kind.kind == "f":
        return None
    raise ParameterError(f"pixel values must be numeric, got dtype {kind}")


def _affine(values: Any, source: Range, target: Range) -> np.ndarray:
    a, b = (float(v) for v in source)
    c, d = (float(v) for v in target)
    if not (np.isfinite([a, b, c, d]).all() and b > a and d > c):
        raise ParameterError(f"ranges must be finite with low < high; got {source} and {target}")
    arr = np.asarray(values)
    if arr.dtype.kind not in "biuf":
        raise ParameterError(f"pixel values must be numeric, got dtype {arr.dtype}")
    dtype = result_dtype(arr)
    scale = (d - c) / (b - a)
    # float64 arithmetic, then the result dtype: a uint8 value maps exactly before rounding
    return ((arr.astype(np.float64) - a) * scale + c).astype(dtype)


def to_model_range(values: Any, storage: Range, model: Range) -> np.ndarray:
    """Map pixel values from their storage range to the model's range.

    >>> to_model_range(np.array([0, 51, 255], dtype=np.uint8), (0, 255), (-1, 1))
    array([-1. , -0.6,  1. ], dtype=float32)
    """
    return _affine(values, storage, model)


def from_model_range(values: Any, storage: Range, model: Range) -> np.ndarray:
    """Map results from the model's range back to the storage range (the inverse of
    :func:`to_model_range`).

    >>> from_model_range(np.array([-1.0, 0.0, 1.0]), (0, 255), (-1, 1))
    array([  0. , 127.5, 255. ])
    """
    return _affine(values, model, storage)
