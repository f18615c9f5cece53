"""Small array helpers shared by every numeric module: the dtype rule and argument checks.

The dtype rule (stated in every public docstring's Notes): float64 input gives float64 results,
every other input (float32, float16, integers, bool) gives float32. Values are never rescaled:
a uint8 image is computed on its 0..255 values.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .errors import KernelError, ParameterError

#: Border handling of transposed convolution: implicit zeros, or edge pixels repeated/mirrored.
EDGE_MODES = ("zero", "replicate", "reflect")


def result_dtype(x: np.ndarray) -> np.dtype:
    """Return the float dtype results take for input ``x`` (float64 stays, all else float32)."""
    return np.dtype(np.float64) if x.dtype == np.float64 else np.dtype(np.float32)


def as_float_image(x: Any, *, name: str = "x") -> np.ndarray:
    """Return ``x`` as a ``(H, W)`` or ``(H, W, C)`` float array following the dtype rule.

    Raises :class:`ParameterError` for other ranks, empty arrays and non-numeric data.
    """
    arr = check_image(x, name=name)
    return arr.astype(result_dtype(arr), copy=False)


def check_image(x: Any, *, name: str = "x") -> np.ndarray:
    """Validate ``x`` as a numeric ``(H, W)`` or ``(H, W, C)`` array without converting it (the
    engines cast band by band, so an 8-bit image is never copied whole to float)."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise ParameterError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if arr.ndim not in (2, 3):
        raise ParameterError(f"{name} must be 2-D (H, W) or 3-D (H, W, C), got shape {arr.shape}")
    if arr.size == 0:
        raise ParameterError(f"{name} must not be empty, got shape {arr.shape}")
    return arr


def as_planes(x: np.ndarray) -> tuple[np.ndarray, bool]:
    """Return ``(x3, was_2d)`` where ``x3`` is always ``(H, W, C)``."""
    if x.ndim == 2:
        return x[:, :, None], True
    return x, False


def restore_rank(y: np.ndarray, was_2d: bool) -> np.ndarray:
    """Undo :func:`as_planes` on a result."""
    return y[:, :, 0] if was_2d else y


def int_pair(value: int | Iterable[int], name: str, *, minimum: int = 0) -> tuple[int, int]:
    """Turn an int or an ``(h, w)`` pair into a checked pair of Python ints.

    >>> int_pair(2, "stride", minimum=1)
    (2, 2)
    >>> int_pair((1, 3), "padding")
    (1, 3)
    """
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        pair = (int(value), int(value))
    else:
        try:
            items = tuple(value)  # type: ignore[arg-type]
        except TypeError:
            raise ParameterError(
                f"{name} must be an int or an (h, w) pair, got {value!r}"
            ) from None
        if len(items) != 2 or not all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in items
        ):
            raise ParameterError(f"{name} must be an int or an (h, w) pair of ints, got {value!r}")
        pair = (int(items[0]), int(items[1]))
    if min(pair) < minimum:
        raise ParameterError(f"{name} must be >= {minimum}, got {value!r}")
    return pair


def choice(value: str, name: str, allowed: Iterable[str]) -> str:
    """Check that ``value`` is one of ``allowed``; the error lists the allowed values."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ParameterError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
    return value


def row_range(rows: tuple[int, int] | None, out_h: int) -> tuple[int, int]:
    """Check a ``rows=(start, stop)`` request against an output height (None: every row)."""
    if rows is None:
        return 0, out_h
    r0, r1 = int(rows[0]), int(rows[1])
    if not 0 <= r0 < r1 <= out_h:
        raise ParameterError(f"rows must satisfy 0 <= start < stop <= {out_h}, got {rows}")
    return r0, r1


def check_weight(weight: Any, channels: int, groups: int | None) -> np.ndarray:
    """A convolution weight as an array, refused when it is not numeric, empty or not finite;
    a 2-D ``(kH, kW)`` weight (each channel alone) also when ``groups`` is not None or
    ``channels``. The layout of a 4-D weight is the caller's to check."""
    w = np.asarray(weight)
    if w.dtype.kind not in "biuf":
        raise KernelError(f"kernel must be numeric, got dtype {w.dtype}")
    if w.size == 0:
        raise KernelError(f"kernel must not be empty, got shape {w.shape}")
    if not np.all(np.isfinite(w)):
        raise KernelError("kernel contains NaN or infinite values")
    if w.ndim == 2 and groups not in (None, channels):
        raise KernelError(f"a 2-D kernel acts on each channel alone; groups must be {channels}")
    return w


def bias_vector(bias: Any, c_out: int) -> np.ndarray | None:
    """``bias`` as one finite float64 value per output channel (a scalar is repeated), or None.

    >>> bias_vector(0.5, 3)
    array([0.5, 0.5, 0.5])
    """
    if bias is None:
        return None
    b = np.asarray(bias, dtype=np.float64)
    if b.ndim == 0:
        b = np.full(c_out, float(b))
    if b.shape != (c_out,):
        raise KernelError(
            f"bias must have one value per output channel ({c_out}), got shape {b.shape}"
        )
    if not np.all(np.isfinite(b)):
        raise KernelError("bias contains NaN or infinite values")
    return b
