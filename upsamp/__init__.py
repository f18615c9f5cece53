"""upsamp: enlarge images with the classic upsampling techniques and see what each one does.

Arrays are ``(H, W)`` or ``(H, W, C)`` (channel-last). Results are float64 for float64 input and
float32 otherwise; values are never rescaled.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .errors import (
    ExitCode,
    InputError,
    KernelError,
    MethodError,
    OutputError,
    ParameterError,
    UpsampError,
)

#: Public names loaded on first use, so that ``upsamp --help`` does not pay for numpy and the
#: engines (PEP 562).
_LAZY = {
    "kernels": ("upsamp.kernels", None),
    "Method": ("upsamp.methods", "Method"),
    "MethodOptions": ("upsamp.methods", "MethodOptions"),
    "available_methods": ("upsamp.methods", "available_methods"),
    "get_method": ("upsamp.methods", "get_method"),
    "register": ("upsamp.methods", "register"),
    "bilinear": ("upsamp.methods.interpolate", "bilinear"),
    "nearest": ("upsamp.methods.interpolate", "nearest"),
    "bed_of_nails": ("upsamp.methods.pooling", "bed_of_nails"),
    "max_pool": ("upsamp.methods.pooling", "max_pool"),
    "max_unpool": ("upsamp.methods.pooling", "max_unpool"),
    "transconv": ("upsamp.methods.transconv", "transconv"),
}


def __getattr__(name: str) -> Any:
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'upsamp' has no attribute {name!r}") from None
    module = import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__version__ = "0.1.0"

__all__ = [
    "ExitCode",
    "InputError",
    "KernelError",
    "Method",
    "MethodError",
    "MethodOptions",
    "OutputError",
    "ParameterError",
    "UpsampError",
    "available_methods",
    "bed_of_nails",
    "bilinear",
    "get_method",
    "kernels",
    "max_pool",
    "max_unpool",
    "nearest",
    "register",
    "transconv",
    "__version__",
]
