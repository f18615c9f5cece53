"""Upsampling methods: the registry and the built-in backends (one module per family)."""

from . import interpolate, pooling, transconv  # noqa: F401  (each module registers its methods)
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
