"""upsamp: enlarge images with the classic upsampling techniques and see what each one does.

Arrays are ``(H, W)`` or ``(H, W, C)`` (channel-last). Results are float64 for float64 input and
float32 otherwise; values are never rescaled.
"""

from __future__ import annotations

from . import kernels
from .errors import (
    ExitCode,
    InputError,
    KernelError,
    MethodError,
    OutputError,
    ParameterError,
    UpsampError,
)
from .methods import Method, MethodOptions, available_methods, get_method, register
from .methods.interpolate import bilinear, nearest
from .methods.pooling import bed_of_nails, max_pool, max_unpool
from .methods.transconv import transconv

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
