"""The one registry of upsampling backends.

A backend is a :class:`Method`: a name, a one-line summary, and two functions over arrays,
``upsample(x, options) -> y`` and ``output_shape((H, W), options) -> (H_out, W_out)``. Built-in
methods register themselves when :mod:`upsamp.methods` is imported; third-party packages add
methods through the entry-point group ``upsamp.methods`` (each entry point names a
:class:`Method` or a zero-argument callable returning one). Entry points are read once, on first
lookup; a broken plugin produces a warning, not a failure.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from ..errors import MethodError

__all__ = [
    "Method",
    "MethodOptions",
    "register",
    "get_method",
    "available_methods",
    "methods",
    "ENTRY_POINT_GROUP",
]

ENTRY_POINT_GROUP = "upsamp.methods"

#: A band of output rows ``(start, stop)``, or None for all of them.
Rows = tuple[int, int] | None


@dataclass(frozen=True)
class MethodOptions:
    """Everything a backend may need besides the image.

    Attributes
    ----------
    stride : (h, w)
        The integer enlargement factor (every method).
    scale : float or (sy, sx), optional
        A non-integer factor (nearest and bilinear only; overrides ``stride``).
    size : (out_h, out_w), optional
        An exact output size (nearest and bilinear only).
    align_corners : bool
        Bilinear only.
    kernel : upsamp.kernels.Kernel, optional
        Transposed convolution only.
    indices : int64 ndarray, optional
        Max-unpool only: one index per input value (the input's shape).
    output_size : (h, w), optional
        Max-unpool only: the pooled-from size.
    keep_dtype : bool
        Methods with ``copies_values`` return the input's dtype instead of float.
    """

    stride: tuple[int, int] = (2, 2)
    scale: float | tuple[float, float] | None = None
    size: tuple[int, int] | None = None
    align_corners: bool = False
    kernel: Any = None
    indices: np.ndarray | None = field(default=None, repr=False)
    output_size: tuple[int, int] | None = None
    keep_dtype: bool = False


@dataclass(frozen=True)
class Method:
    """An upsampling backend.

    ``upsample(x, options)`` returns the whole float result. With ``supports_rows`` it also
    accepts ``rows=(start, stop)`` and returns just those output rows, identical to the same rows
    of the whole result: big images are then processed in bands. ``copies_values`` says every
    output value is an input value or zero (no arithmetic), so integer images may stay in their
    own dtype (``MethodOptions.keep_dtype``). ``upsample_rounded(x, options, rows=None)``, when
    given, returns the result for an 8/16-bit ``x`` already rounded half to even into ``x``'s
    dtype (exactly what rounding the float result gives), or None when it does not apply.
    ``per_channel`` is True when the method treats each
    channel on its own, so an alpha plane can go through it unchanged in meaning; ``uses`` lists
    the :class:`MethodOptions` fields the method reads (the command line rejects the others).
    """

    name: str
    summary: str
    upsample: Callable[..., np.ndarray]
    output_shape: Callable[[tuple[int, int], MethodOptions], tuple[int, int]]
    uses: frozenset[str] = frozenset({"stride"})
    per_channel: Callable[[MethodOptions], bool] = lambda options: True
    supports_rows: bool = False
    copies_values: bool = False
    upsample_rounded: Callable[..., np.ndarray | None] | None = None


_registry: dict[str, Method] = {}
methods: Mapping[str, Method] = MappingProxyType(_registry)
_entry_points_loaded = False


def register(method: Method, *, clobber: bool = False) -> Method:
    """Add ``method`` to the registry; refuse a second one of the same name unless ``clobber``."""
    if not isinstance(method, Method):
        raise MethodError(f"register() takes a Method, got {type(method).__name__}")
    if method.name in _registry and not clobber:
        raise MethodError(f"an upsampling method named {method.name!r} is already registered")
    _registry[method.name] = method
    return method


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    from importlib.metadata import entry_points

    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = entry.load()
            method = obj() if not isinstance(obj, Method) and callable(obj) else obj
            register(method)
        except Exception as exc:  # a broken plugin must not take the tool down
            warnings.warn(
                f"upsampling plugin {entry.name!r} ({entry.value}) could not be loaded: {exc}",
                RuntimeWarning,
                stacklevel=2,
            )


def available_methods() -> list[str]:
    """Names of every registered method (built-in and plugins)."""
    _load_entry_points()
    return list(_registry)


def get_method(name: str) -> Method:
    """Look a method up by name; the error lists the known names."""
    _load_entry_points()
    try:
        return _registry[name]
    except KeyError:
        raise MethodError(f"unknown method {name!r}; available: {', '.join(_registry)}") from None
