"""Upsampling methods: the registry and the built-in backends (one module per family)."""

# Each module registers its methods; the order is that of listings and reports.
from . import (  # noqa: F401, I001  (registration order, not alphabetical)
    interpolate,
    cubic,
    lanczos,
    pooling,
    transconv,
    pixel_shuffle,
    resize_conv,
)
from .registry import (
    ENTRY_POINT_GROUP,
    Method,
    MethodOptions,
    available_methods,
    get_method,
    methods,
    register,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "Method",
    "MethodOptions",
    "available_methods",
    "get_method",
    "methods",
    "register",
]
