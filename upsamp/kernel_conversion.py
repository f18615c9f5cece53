"""A method's kernel in another method's form, through the registry: the job behind
``upsamp kernels convert``.

Every method that declares ``Method.kernel_to_transconv`` is a form a kernel may come from;
every one that also declares ``Method.kernel_from_transconv`` is one it may go to. A
conversion goes through the transposed convolution (:mod:`upsamp.kernel_convert` holds the
arithmetic) and is checked by running both methods on one random input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._arrays import choice
from .errors import KernelError, ParameterError
from .kernels import Kernel
from .methods import MethodOptions, available_methods, get_method

__all__ = [
    "Conversion",
    "apply_form",
    "convert",
    "convert_kernel",
    "input_channels",
    "max_difference",
    "source_forms",
    "target_forms",
]


def source_forms() -> list[str]:
    """The methods whose kernels can be converted (they have a transposed-convolution form)."""
    return [n for n in available_methods() if get_method(n).kernel_to_transconv is not None]


def target_forms() -> list[str]:
    """The methods a kernel can be converted to."""
    return [n for n in source_forms() if get_method(n).kernel_from_transconv is not None]


def _options(kernel: Kernel, resize: str) -> MethodOptions:
    return MethodOptions(stride=tuple(kernel.stride), kernel=kernel, resize=resize)


def convert(kernel: Kernel, source: str, target: str, *, resize: str = "nearest") -> Kernel:
    """``kernel``, a kernel of the method ``source``, as a kernel of the method ``target``.

    Raises :class:`~upsamp.errors.KernelError` when the conversion does not exist (a
    resize-convolution from an arbitrary transposed convolution), with the reason.
    """
    choice(source, "from", source_forms())
    choice(target, "to", target_forms())
    if source == target:
        raise ParameterError(f"--from and --to are both {source}: nothing to convert")
    options = _options(kernel, resize)
    transposed = get_method(source).kernel_to_transconv(kernel, options)  # type: ignore[misc]
    return get_method(target).kernel_from_transconv(  # type: ignore[misc]
        transposed, _options(transposed, resize)
    )


def apply_form(x: np.ndarray, kernel: Kernel, form: str, *, resize: str = "nearest") -> np.ndarray:
    """Run the method ``form`` with ``kernel`` on ``x``."""
    return get_method(form).upsample(x, _options(kernel, resize))


def input_channels(kernel: Kernel, form: str, *, resize: str = "nearest") -> int:
    """The channel count an input needs for ``kernel`` in ``form`` (3 when any will do)."""
    needed = get_method(form).input_channels(_options(kernel, resize))
    return 3 if needed is None else int(needed)


def max_difference(
    source_kernel: Kernel,
    source: str,
    target_kernel: Kernel,
    target: str,
    *,
    resize: str = "nearest",
    shape: tuple[int, int] = (23, 29),
    seed: int = 0,
) -> tuple[float, tuple[int, ...], tuple[int, ...]]:
    """Run both methods on one random float64 image; return the largest absolute difference
    over their common top-left part and the two output shapes."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape + (input_channels(source_kernel, source, resize=resize),))
    a = apply_form(x, source_kernel, source, resize=resize)
    b = apply_form(x, target_kernel, target, resize=resize)
    h, w = min(a.shape[0], b.shape[0]), min(a.shape[1], b.shape[1])
    if a.shape[2:] != b.shape[2:]:
        raise KernelError(f"the two forms give different channels: {a.shape} and {b.shape}")
    return float(np.abs(a[:h, :w] - b[:h, :w]).max()), a.shape, b.shape


@dataclass(frozen=True)
class Conversion:
    """One ``kernels convert``: the kernels on both sides and the measured difference."""

    source: str
    target: str
    kernel: Kernel
    converted: Kernel
    difference: float
    source_shape: tuple[int, ...]
    target_shape: tuple[int, ...]


def convert_kernel(
    spec: str,
    source: str,
    target: str,
    *,
    stride: tuple[int, int] | None,
    resize: str = "nearest",
    seed: int = 0,
) -> Conversion:
    """Build the ``source`` method's kernel from ``spec`` (a preset or a file, as ``--kernel``
    of that method), convert it to ``target`` and measure the two on one random input."""
    choice(source, "from", source_forms())
    choice(target, "to", target_forms())
    kernel = get_method(source).build_kernel(spec, stride, resize=resize)
    converted = convert(kernel, source, target, resize=resize)
    diff, shape_a, shape_b = max_difference(
        kernel, source, converted, target, resize=resize, seed=seed
    )
    return Conversion(source, target, kernel, converted, diff, shape_a, shape_b)
