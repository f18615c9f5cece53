"""A :class:`upsamp.kernels.Kernel` through the phase analysis of :mod:`upsamp.diagnostics`:
its analysis with its own geometry, that analysis as JSON, and its repair.

The report, ``upsamp kernels show`` and ``upsamp kernels fix`` use these; no I/O.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from .diagnostics import KernelAnalysis, analyze_kernel, fix_kernel_hold, fix_kernel_phases
from .errors import ParameterError
from .kernels import Kernel
from .resources import check_kernel_size

__all__ = ["FIX_METHODS", "finite_or_none", "fix_kernel", "kernel_analysis", "kernel_json"]

#: ``kernels fix --how`` values.
FIX_METHODS = ("normalize-phases", "hold")


def finite_or_none(value: float | None) -> float | None:
    """``value`` as a float, or None when it is None, infinite or NaN (JSON has no such numbers).

    >>> finite_or_none(2), finite_or_none(float("inf"))
    (2.0, None)
    """
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def kernel_json(analysis: KernelAnalysis, *, full: bool = False) -> dict[str, Any]:
    """``{"phase_sums", "tap_counts", "phase_spread", "overlap_min", "overlap_max", "bias"}``.

    ``phase_sums`` and ``tap_counts`` are ``s_h×s_w`` nested lists for a kernel with one output
    channel, else one such list per output channel; a spread of ``inf`` (phase sums averaging
    0) becomes null. The phase sums and the spread are the weights'; ``bias`` is the kernel's
    bias (one value per output channel) or null: it adds the same to every phase. ``full``
    adds ``"stride"``, ``"artifact_free"``, ``"explanation"`` and ``"fix"`` (for
    ``upsamp kernels show --json``).
    """
    sums = analysis.phase_sums
    counts = analysis.tap_counts
    if sums.shape[0] == 1:
        sums, counts = sums[0], counts[0]
    doc: dict[str, Any] = {
        "phase_sums": sums.tolist(),
        "tap_counts": counts.tolist(),
        "phase_spread": finite_or_none(analysis.phase_spread),
        "overlap_min": analysis.overlap_min,
        "overlap_max": analysis.overlap_max,
        "bias": None if analysis.bias is None else analysis.bias.tolist(),
    }
    if full:
        doc.update(
            stride=list(analysis.stride),
            artifact_free=analysis.artifact_free,
            explanation=analysis.explain(),
            fix=analysis.suggest_fix(),
        )
    return doc


def kernel_analysis(kernel: Kernel) -> KernelAnalysis:
    """:func:`upsamp.diagnostics.analyze_kernel` with the kernel's own geometry and bias."""
    four_d = np.ndim(kernel.weight) == 4
    return analyze_kernel(
        kernel.weight,
        stride=kernel.stride,
        padding=kernel.padding,
        dilation=kernel.dilation,
        groups=kernel.groups if four_d else None,
        bias=kernel.bias,
    )


def fix_kernel(kernel: Kernel, how: str) -> Kernel:
    """Make ``kernel`` artifact-free at its stride.

    ``how="normalize-phases"`` rescales each phase's taps to the mean phase sum
    (:func:`upsamp.diagnostics.fix_kernel_phases`; same size and geometry). ``how="hold"``
    convolves it with an ``s×s`` zero-order hold (:func:`upsamp.diagnostics.fix_kernel_hold`):
    the weight grows by ``s - 1`` per axis and the padding/output_padding change so that the
    output keeps its size; dilation becomes 1.

    >>> from upsamp.kernels import preset
    >>> fixed = fix_kernel(preset("checkerboard", 2), "hold")
    >>> fixed.weight.shape, fixed.padding, fixed.output_padding
    ((4, 4), (1, 1), (0, 0))
    >>> kernel_analysis(fixed).artifact_free
    True
    """
    if how not in FIX_METHODS:
        raise ParameterError(f"how must be one of {', '.join(FIX_METHODS)}; got {how!r}")
    four_d = np.ndim(kernel.weight) == 4
    if how == "normalize-phases":
        weight = fix_kernel_phases(
            kernel.weight,
            stride=kernel.stride,
            padding=kernel.padding,
            dilation=kernel.dilation,
            groups=kernel.groups if four_d else None,
        )
        return replace(kernel, weight=weight)
    kh, kw = kernel.weight.shape[-2:]
    sh, sw = kernel.stride
    dh, dw = kernel.dilation
    planes = int(np.prod(kernel.weight.shape[:-2]))
    held_taps = (dh * (kh - 1) + sh) * (dw * (kw - 1) + sw) * planes
    # The hold adds the expanded kernel s_h * s_w times (plus a fixed cost per addition).
    work = sh * sw * ((dh * (kh - 1) + 1) * (dw * (kw - 1) + 1) * planes + 1000)
    what = f"{kernel.source} held at stride {sh}x{sw}"
    check_kernel_size(held_taps, kernel.stride, what, work=work)
    held = fix_kernel_hold(
        kernel.weight,
        stride=kernel.stride,
        padding=kernel.padding,
        output_padding=kernel.output_padding,
        dilation=kernel.dilation,
    )
    return replace(
        kernel,
        weight=held.weight,
        padding=held.padding,
        output_padding=held.output_padding,
        dilation=held.dilation,
    )
