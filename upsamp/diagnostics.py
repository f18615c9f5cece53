"""Artifact and quality metrics: checkerboard analysis of kernels and images, PSNR and SSIM.

Every function is pure: numpy arrays in, numbers or small dataclasses out; no I/O, no printing.

Conventions
-----------
``s = (s_h, s_w)`` is the stride (the enlargement factor of a transposed convolution). An output
pixel at ``(row, col)`` has the *phase* ``(row mod s_h, col mod s_w)``, counted from the first row
and column of the output array. A transposed convolution (PyTorch semantics, see
:func:`upsamp.transconv`) sends tap ``(kh, kw)`` of input pixel ``(i, j)`` to output position
``(i*s_h - p_h + kh*d_h, j*s_w - p_w + kw*d_w)``, so the tap always lands on the phase

    ``((kh*d_h - p_h) mod s_h, (kw*d_w - p_w) mod s_w)``.

A flat input then comes out as an ``s``-periodic grid whose value on phase ``(p, q)`` is the
*phase sum* ``G[p, q]`` (the total weight landing on that phase) plus the bias. The bias adds the
same to every phase, so the kernel analysis reads the weights alone and reports the bias
apart. The output is free of checkerboard artifacts for flat regions exactly when every phase
sum is equal (the multirate
condition of docs/references.md [Sugawara2019]; the uneven overlap of [Odena2016]).

Dtype rule: every metric is computed in float64 whatever the input dtype (inputs are never
rescaled: a uint8 image is used with its 0..255 values). Arrays returned as results are float64.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._arrays import int_pair
from .errors import ParameterError
from .geometry import format_size

__all__ = [
    "ARTIFACT_TOLERANCE",
    "CheckerboardStats",
    "HeldKernel",
    "KernelAnalysis",
    "ProbeResult",
    "analyze_kernel",
    "checkerboard_energy_ratio",
    "Spectrum",
    "detail_region",
    "luminance",
    "spectrum",
    "worst_plane",
    "checkerboard_stats",
    "constant_probe",
    "fix_kernel_hold",
    "fix_kernel_phases",
    "hold_geometry",
    "phase_means",
    "phase_means_fft",
    "psnr",
    "quantize",
    "ssim",
]

IntOrPair = int | Iterable[int]
Pair = tuple[int, int]

#: ``phase_spread`` at or below this counts as artifact-free (round-off of equal phase sums).
ARTIFACT_TOLERANCE = 1e-9

# A mean phase sum this small relative to the weights' magnitude counts as zero.
_ZERO_MEAN_RTOL = 1e-12

# SSIM constants (Wang et al. 2004) and the Gaussian window skimage uses to match them.
_SSIM_K1 = 0.01
_SSIM_K2 = 0.03
_SSIM_SIGMA = 1.5
_SSIM_TRUNCATE = 3.5


# --------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------


def _float_array(values: Any, name: str, *, ranks: tuple[int, ...]) -> np.ndarray:
    """``values`` as a finite, non-empty float64 array of one of the given ranks."""
    arr = np.asarray(values)
    if arr.dtype.kind not in "biuf":
        raise ParameterError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if arr.ndim not in ranks:
        wanted = " or ".join(f"{r}-D" for r in ranks)
        raise ParameterError(f"{name} must be {wanted}, got shape {arr.shape}")
    if arr.size == 0:
        raise ParameterError(f"{name} must not be empty, got shape {arr.shape}")
    arr = arr.astype(np.float64, copy=False)
    if not np.all(np.isfinite(arr)):
        raise ParameterError(f"{name} contains NaN or infinite values")
    return arr


def _image(values: Any, name: str) -> np.ndarray:
    """A finite float64 image of shape ``(H, W)`` or ``(H, W, C)``."""
    return _float_array(values, name, ranks=(2, 3))


def _planes(image: np.ndarray) -> np.ndarray:
    """``(H, W)`` -> ``(H, W, 1)``; ``(H, W, C)`` unchanged."""
    return image[:, :, None] if image.ndim == 2 else image


def _grouped_weight(weight: Any, groups: int | None) -> tuple[np.ndarray, int]:
    """Return ``(w5, groups)`` with ``w5`` of shape ``(groups, C_in/groups, C_out/groups, kH, kW)``.

    A 2-D ``(kH, kW)`` weight is one depthwise channel: ``(1, 1, 1, kH, kW)``.
    """
    w = _float_array(weight, "weight", ranks=(2, 4))
    if w.ndim == 2:
        if groups not in (None, 1):
            raise ParameterError("groups applies to 4-D weights only; a 2-D weight is one channel")
        return w[None, None, None], 1
    g = 1 if groups is None else groups
    if isinstance(g, bool) or not isinstance(g, (int, np.integer)) or g < 1:
        raise ParameterError(f"groups must be a positive integer, got {groups!r}")
    g = int(g)
    if w.shape[0] % g:
        raise ParameterError(f"groups={g} does not divide the {w.shape[0]} input channels")
    return w.reshape(g, w.shape[0] // g, *w.shape[1:]), g


def _phase_one_hot(size: int, stride: int, padding: int, dilation: int) -> np.ndarray:
    """``(size, stride)`` matrix with a 1 at ``[k, (k*dilation - padding) mod stride]``."""
    phases = (np.arange(size) * dilation - padding) % stride
    return (phases[:, None] == np.arange(stride)[None, :]).astype(np.float64)


def _spatial_phase_sums(
    w5: np.ndarray, s: Pair, p: Pair, d: Pair
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Phase sums ``(groups, C_out/groups, s_h, s_w)`` plus the two one-hot phase matrices."""
    rows = _phase_one_hot(w5.shape[3], s[0], p[0], d[0])
    cols = _phase_one_hot(w5.shape[4], s[1], p[1], d[1])
    sums = np.einsum("gcohw,hp,wq->gopq", w5, rows, cols)
    return sums, rows, cols


def _is_zero_mean(mean: float, scale: float) -> bool:
    return abs(mean) <= _ZERO_MEAN_RTOL * scale


def _relative_spread(values: np.ndarray, scale: float) -> float:
    """``(max - min) / |mean|``; ``inf`` when the mean is zero relative to ``scale``."""
    mean = float(values.mean())
    if _is_zero_mean(mean, scale):
        return math.inf
    return float((values.max() - values.min()) / abs(mean))


# --------------------------------------------------------------------------------------------
# Kernel analysis
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class KernelAnalysis:
    """What a transposed-convolution kernel does to a flat input (see :func:`analyze_kernel`).

    Attributes
    ----------
    phase_sums : ndarray, float64, shape (C_out, s_h, s_w)
        ``G[o, p, q]``: the weight landing on phase ``(p, q)`` of output channel ``o``, i.e.
        what a flat input of 1 (every input channel) produces there, away from the borders,
        before the bias is added.
    tap_counts : ndarray, int, shape (C_out, s_h, s_w)
        Number of kernel positions ``(kh, kw)`` with a nonzero weight (in any input channel
        feeding ``o``) that land on each phase: how many input pixels overlap there.
    phase_spread : float
        ``max_o (max G_o - min G_o) / |mean G_o|``; ``inf`` when a channel's mean is 0.
    channel_spreads : ndarray, float64, shape (C_out,)
        The spread of each output channel.
    overlap_min, overlap_max : int
        Smallest and largest tap count over all phases and channels.
    artifact_free : bool
        ``phase_spread <= ARTIFACT_TOLERANCE`` (1e-9).
    kernel_size, stride, padding, dilation : (h, w) pairs
        The geometry that was analysed.
    bias : ndarray, float64, shape (C_out,), or None
        The kernel's bias, reported apart: it adds ``b[o]`` to every phase of channel ``o``,
        so it neither makes nor hides a grid (a flat input of 1 gives ``G + b``).
    """

    phase_sums: np.ndarray
    tap_counts: np.ndarray
    phase_spread: float
    channel_spreads: np.ndarray
    overlap_min: int
    overlap_max: int
    artifact_free: bool
    kernel_size: Pair
    stride: Pair
    padding: Pair
    dilation: Pair
    bias: np.ndarray | None = None

    @property
    def worst_channel(self) -> int:
        """Index of the output channel with the largest spread (the first on ties)."""
        return int(np.argmax(self.channel_spreads))

    def explain(self) -> str:
        """One line saying why the kernel does or does not make a checkerboard.

        Ratios are reduced to small integers when possible and phases are listed row by row,
        ``(0,0), (0,1), ..., (s_h-1, s_w-1)``; more than 16 phases are summarised by their
        range.

        >>> analyze_kernel(np.ones((3, 3)), stride=2).explain()
        '3×3 at stride 2: phases receive 4:2:2:1 taps and sum to 4:2:2:1 (spread 1.33)'
        """
        head = f"{_size_text(self.kernel_size)} at stride {_size_text(self.stride, short=True)}"
        o = self.worst_channel
        if self.phase_sums.shape[0] > 1:
            head += f" (output channel {o})"
        counts = self.tap_counts[o].ravel()
        sums = self.phase_sums[o].ravel()
        count_text = _ratio_text(counts.astype(np.float64))
        if math.isinf(self.channel_spreads[o]):
            return (
                f"{head}: phase sums {_ratio_text(sums)} average 0, so a flat input has no level "
                "to compare the phases with (spread reported as inf)"
            )
        if self.artifact_free:
            taps = (
                f"every phase receives {_taps(int(counts[0]))}"
                if np.all(counts == counts[0])
                else f"phases receive {count_text} taps but"
            )
            joiner = " and" if np.all(counts == counts[0]) else ""
            return (
                f"{head}: {taps}{joiner} every phase sums to {_number(float(sums.mean()))}: "
                "a flat input stays flat"
            )
        spread = f"spread {self.channel_spreads[o]:.3g}"
        if np.all(counts == counts[0]):
            return (
                f"{head}: every phase receives {_taps(int(counts[0]))} but they sum to "
                f"{_ratio_text(sums)} ({spread})"
            )
        return f"{head}: phases receive {count_text} taps and sum to {_ratio_text(sums)} ({spread})"

    def suggest_fix(self) -> str:
        """A one-line suggested fix, or ``""`` when the kernel is artifact-free.

        >>> print(analyze_kernel(np.ones((3, 3)), stride=2).suggest_fix())  # doctest: +ELLIPSIS
        use a kernel size divisible by the stride (4×4), or `upsamp kernels fix --how ...
        """
        if self.artifact_free:
            return ""
        o = self.worst_channel
        if math.isinf(self.channel_spreads[o]):
            return "give the kernel a nonzero sum (its phase sums average 0)"
        sums = self.phase_sums[o]
        # normalize-phases multiplies each phase by mean/G: impossible for G of the wrong sign.
        can_normalize = bool(np.all(sums * np.sign(sums.mean()) > 0))
        how = "normalize-phases|hold" if can_normalize else "hold"
        command = f"`upsamp kernels fix --how {how}`"
        counts = self.tap_counts[o]
        uneven = not np.all(counts == counts.flat[0])
        divisible = all(k % s == 0 for k, s in zip(self.kernel_size, self.stride, strict=True))
        coprime = all(math.gcd(d, s) == 1 for d, s in zip(self.dilation, self.stride, strict=True))
        if uneven and not divisible and coprime:
            size = tuple(-(-k // s) * s for k, s in zip(self.kernel_size, self.stride, strict=True))
            return f"use a kernel size divisible by the stride ({_size_text(size)}), or {command}"
        if uneven and not coprime:
            return f"use a dilation coprime with the stride, or {command}"
        return command


def _size_text(pair: Pair, *, short: bool = False) -> str:
    if short and pair[0] == pair[1]:
        return str(pair[0])
    return f"{pair[0]}×{pair[1]}"


def _taps(count: int) -> str:
    return "1 tap" if count == 1 else f"{count} taps"


def _number(value: float) -> str:
    return f"{value:.6g}"


def _ratio_text(values: np.ndarray) -> str:
    """``a:b:...`` in small integers when the values allow it, else 3 significant digits.

    More than 16 values are summarised as ``min..max``.
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size > 16:
        return f"{_number(float(values.min()))}..{_number(float(values.max()))}"
    reference = float(np.max(np.abs(values)))
    if reference == 0:
        return ":".join("0" for _ in values)
    scaled = values / reference
    for multiplier in range(1, 65):
        ints = np.rint(scaled * multiplier)
        if (
            np.all(np.abs(scaled * multiplier - ints) <= 1e-6 * multiplier)
            and np.max(np.abs(ints)) <= 99
        ):
            common = math.gcd(*(int(abs(v)) for v in ints))
            return ":".join(str(int(v) // common) for v in ints)
    return ":".join(f"{v:.3g}" for v in values)


def analyze_kernel(
    weight: Any,
    *,
    stride: IntOrPair,
    padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
    groups: int | None = None,
    bias: Any = None,
) -> KernelAnalysis:
    """Phase sums, overlaps and the checkerboard verdict of a transposed-convolution kernel.

    Parameters
    ----------
    weight : array_like, shape (kH, kW) or (C_in, C_out/groups, kH, kW)
        A 2-D weight is one depthwise channel; a 4-D weight has the PyTorch layout.
    stride, padding, dilation : int or (h, w)
        Geometry as in :func:`upsamp.transconv` (output_padding does not move any tap).
    groups : int, optional
        Channel groups of a 4-D weight (default 1).
    bias : float or array_like of shape (C_out,), optional
        Checked and reported in ``KernelAnalysis.bias``; it is not part of the phase sums.

    Returns
    -------
    KernelAnalysis

    Notes
    -----
    Tap ``(kh, kw)`` lands on phase ``((kh*d_h - p_h) mod s_h, (kw*d_w - p_w) mod s_w)``, so for
    output channel ``o`` of group ``g``

        ``G[o, p, q] = sum_{ci in g} sum_{(kh, kw) -> (p, q)} w[ci, o, kh, kw]``

    which plus ``b[o]`` is the response to a flat input of 1 in every channel. The spread of a
    channel is ``(max G - min G) / |mean G|`` on the weights alone: the bias shifts every
    phase equally, and counting it in the mean would shrink the spread of a kernel whose grid
    is just as strong (a bias of 2 would turn a spread of 0.70 into 0.07). When ``|mean G|``
    is 0 (up to 1e-12 of the weights' absolute sum) the spread is undefined: it is reported
    as ``inf`` and the kernel is *not* artifact-free. Padding only relabels the phases (a
    cyclic shift); dilation also changes which taps share a phase.

    Examples
    --------
    >>> a = analyze_kernel(np.ones((3, 3)), stride=2)
    >>> a.phase_sums[0]
    array([[4., 2.],
           [2., 1.]])
    >>> round(a.phase_spread, 4), a.overlap_min, a.overlap_max, a.artifact_free
    (1.3333, 1, 4, False)
    """
    s = int_pair(stride, "stride", minimum=1)
    p = int_pair(padding, "padding", minimum=0)
    d = int_pair(dilation, "dilation", minimum=1)
    w5, _ = _grouped_weight(weight, groups)
    sums, rows, cols = _spatial_phase_sums(w5, s, p, d)
    c_out = sums.shape[0] * sums.shape[1]
    sums = sums.reshape(c_out, s[0], s[1])
    b = None if bias is None else _bias(bias, c_out)

    nonzero = np.any(w5 != 0, axis=1).astype(np.float64)  # (groups, C_out/groups, kH, kW)
    counts = np.einsum("gohw,hp,wq->gopq", nonzero, rows, cols)
    counts = np.rint(counts).astype(np.int64).reshape(c_out, s[0], s[1])

    # magnitude used to decide that a mean phase sum is "zero"
    scale = np.abs(w5).sum(axis=(1, 3, 4)).reshape(c_out)
    spreads = np.array(
        [_relative_spread(sums[o], float(scale[o])) for o in range(c_out)], dtype=np.float64
    )
    spread = float(spreads.max())
    return KernelAnalysis(
        phase_sums=sums,
        tap_counts=counts,
        phase_spread=spread,
        channel_spreads=spreads,
        overlap_min=int(counts.min()),
        overlap_max=int(counts.max()),
        artifact_free=bool(spread <= ARTIFACT_TOLERANCE),
        kernel_size=(int(w5.shape[3]), int(w5.shape[4])),
        stride=s,
        padding=p,
        dilation=d,
        bias=b,
    )


def _bias(bias: Any, c_out: int) -> np.ndarray:
    if bias is None:
        return np.zeros(c_out)
    b = _float_array(np.atleast_1d(np.asarray(bias)), "bias", ranks=(1,))
    if b.size == 1:
        return np.full(c_out, float(b[0]))
    if b.shape != (c_out,):
        raise ParameterError(
            f"bias must have one value per output channel ({c_out}), got shape {b.shape}"
        )
    return b


# --------------------------------------------------------------------------------------------
# Kernel repair
# --------------------------------------------------------------------------------------------


def fix_kernel_phases(
    weight: Any,
    *,
    stride: IntOrPair,
    padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
    groups: int | None = None,
) -> np.ndarray:
    """Rescale each phase's taps so every phase sum equals the mean phase sum.

    Parameters
    ----------
    weight : array_like, shape (kH, kW) or (C_in, C_out/groups, kH, kW)
    stride, padding, dilation : int or (h, w)
        The geometry the kernel is used with. Padding only relabels phases, so it does not
        change the result; it is accepted for symmetry with :func:`analyze_kernel`.
    groups : int, optional
        Channel groups of a 4-D weight (default 1).

    Returns
    -------
    ndarray, float64, same shape as ``weight``
        ``w'[ci, o, kh, kw] = w[ci, o, kh, kw] * mean(G_o) / G_o[phase(kh, kw)]``: every phase
        sum of output channel ``o`` becomes ``mean(G_o) = sum(w[:, o]) / (s_h*s_w)``, so the
        flat-input level is kept and the kernel is artifact-free. A bias needs no change.

    Raises
    ------
    ParameterError
        When a phase sum is zero or has the opposite sign of the mean (rescaling would wipe out
        or flip that phase; use :func:`fix_kernel_hold`), or when the mean is zero.

    Examples
    --------
    >>> fix_kernel_phases(np.array([[1.0, 1.0, 1.0]]), stride=(1, 2))
    array([[0.75, 1.5 , 0.75]])
    """
    s = int_pair(stride, "stride", minimum=1)
    p = int_pair(padding, "padding", minimum=0)
    d = int_pair(dilation, "dilation", minimum=1)
    original = np.asarray(weight)
    w5, _ = _grouped_weight(weight, groups)
    sums, rows, cols = _spatial_phase_sums(w5, s, p, d)  # (g, o, s_h, s_w)
    means = sums.mean(axis=(2, 3), keepdims=True)
    scale = np.abs(w5).sum(axis=(1, 3, 4))[:, :, None, None]
    if np.any(np.abs(means) <= _ZERO_MEAN_RTOL * scale):
        raise ParameterError("cannot normalize phases: an output channel's phase sums average 0")
    same_sign = sums * np.sign(means)
    if np.any(same_sign <= _ZERO_MEAN_RTOL * scale):
        raise ParameterError(
            "cannot normalize phases: a phase sums to 0 or has the opposite sign; use the hold fix"
        )
    factors = means / sums  # (g, o, s_h, s_w)
    per_tap = np.einsum("gopq,hp,wq->gohw", factors, rows, cols)
    fixed = w5 * per_tap[:, None]
    return fixed.reshape(original.shape)


@dataclass(frozen=True, eq=False)
class HeldKernel:
    """A kernel followed by a zero-order hold, with the geometry that keeps the output size.

    Attributes
    ----------
    weight : ndarray, float64
        Shape ``(..., d_h*(kH-1) + s_h, d_w*(kW-1) + s_w)``, same leading axes as the input.
    padding, output_padding : (h, w) pairs
        For use with ``dilation = (1, 1)``.
    dilation : (h, w) pair
        Always ``(1, 1)``: a dilated kernel is expanded (zeros between taps) before the hold.
    """

    weight: np.ndarray
    padding: Pair
    output_padding: Pair
    dilation: Pair = (1, 1)


def hold_geometry(
    *,
    stride: IntOrPair,
    padding: IntOrPair = 0,
    output_padding: IntOrPair = 0,
) -> tuple[Pair, Pair]:
    """``(padding, output_padding)`` for a kernel grown by an ``s×s`` hold, same output size.

    The hold makes the effective kernel ``s - 1`` longer per axis, so ``2p - op`` must grow by
    ``s - 1``. With ``e = 2p - op + s - 1`` this returns ``p' = ceil(e / 2)`` and
    ``op' = 2p' - e`` (0 or 1, always smaller than the stride when the stride is >= 2). The hold
    delays the content by ``(s - 1)/2`` output pixels and ``p' - p`` pulls it back: exactly for
    odd strides, to within half a pixel for even ones (an even box has no centre tap).

    >>> hold_geometry(stride=2, padding=1)
    ((2, 2), (1, 1))
    >>> hold_geometry(stride=3, padding=(1, 0))
    ((2, 1), (0, 0))
    """
    s = int_pair(stride, "stride", minimum=1)
    p = int_pair(padding, "padding", minimum=0)
    op = int_pair(output_padding, "output_padding", minimum=0)
    new_p: list[int] = []
    new_op: list[int] = []
    for axis in range(2):
        excess = 2 * p[axis] - op[axis] + s[axis] - 1
        if excess < 0:
            raise ParameterError(
                f"output_padding {op[axis]} is too large for a held kernel at stride {s[axis]}"
            )
        pad = (excess + 1) // 2
        new_p.append(pad)
        new_op.append(2 * pad - excess)
    return (new_p[0], new_p[1]), (new_op[0], new_op[1])


def fix_kernel_hold(
    weight: Any,
    *,
    stride: IntOrPair,
    padding: IntOrPair = 0,
    output_padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
) -> HeldKernel:
    """Append a zero-order hold: full 2-D convolution with ``ones(s_h, s_w) / (s_h*s_w)``.

    Parameters
    ----------
    weight : array_like, shape (kH, kW) or (C_in, C_out/groups, kH, kW)
        Each ``(kH, kW)`` slice is held on its own (groups do not matter).
    stride : int or (h, w)
    padding, output_padding : int or (h, w)
        The original geometry; the returned one keeps the same output size (see
        :func:`hold_geometry`).
    dilation : int or (h, w)
        A dilated kernel is first expanded to its effective size ``d*(k-1)+1`` (zeros between
        the taps), because the hold acts on output pixels; the result has dilation 1.

    Returns
    -------
    HeldKernel
        ``weight`` has spatial size ``d*(k-1) + s`` per axis.

    Notes
    -----
    Held kernel ``h[n] = (1/s) sum_{j=0}^{s-1} w[n - j]`` per axis. Every tap of ``w`` then
    reaches every phase exactly once, so every phase sum equals ``sum(w)/(s_h*s_w)``, the
    original mean phase sum: the flat level is kept and the kernel is artifact-free whatever
    ``w`` was. The transposed convolution with the held kernel equals the original output
    followed by an ``s×s`` box average (Sugawara et al.'s zero-order-hold fix).

    Examples
    --------
    >>> fix_kernel_hold(np.array([[1.0]]), stride=2).weight
    array([[0.25, 0.25],
           [0.25, 0.25]])
    """
    s = int_pair(stride, "stride", minimum=1)
    d = int_pair(dilation, "dilation", minimum=1)
    w = _float_array(weight, "weight", ranks=(2, 4))
    kh, kw = w.shape[-2:]
    eff = (d[0] * (kh - 1) + 1, d[1] * (kw - 1) + 1)
    expanded = np.zeros(w.shape[:-2] + eff)
    expanded[..., :: d[0], :: d[1]] = w
    held = np.zeros(w.shape[:-2] + (eff[0] + s[0] - 1, eff[1] + s[1] - 1))
    for a in range(s[0]):
        for b in range(s[1]):
            held[..., a : a + eff[0], b : b + eff[1]] += expanded
    held /= s[0] * s[1]
    new_padding, new_output_padding = hold_geometry(
        stride=s, padding=padding, output_padding=output_padding
    )
    return HeldKernel(weight=held, padding=new_padding, output_padding=new_output_padding)


# --------------------------------------------------------------------------------------------
# Phase means and the FFT identity
# --------------------------------------------------------------------------------------------


def phase_means(y: Any, *, stride: IntOrPair) -> np.ndarray:
    """Mean of each output phase: ``mu[p, q] = mean(y[p::s_h, q::s_w])``.

    Parameters
    ----------
    y : array_like, shape (H, W) or (H, W, C)
        ``H >= s_h`` and ``W >= s_w``. Phases are counted from ``y[0, 0]``; crop to a multiple of
        the stride first if every phase should average the same number of pixels.
    stride : int or (h, w)

    Returns
    -------
    ndarray, float64, shape (s_h, s_w) or (s_h, s_w, C)

    >>> phase_means(np.array([[1.0, 2.0, 1.0, 2.0], [3.0, 4.0, 3.0, 4.0]]), stride=2)
    array([[1., 2.],
           [3., 4.]])
    """
    s = int_pair(stride, "stride", minimum=1)
    image = _image(y, "y")
    if image.shape[0] < s[0] or image.shape[1] < s[1]:
        raise ParameterError(f"image {image.shape[:2]} is smaller than the stride {s}")
    return _phase_means(image, s)


def _phase_means(image: np.ndarray, s: Pair) -> np.ndarray:
    out = np.empty((s[0], s[1]) + image.shape[2:])
    for p in range(s[0]):
        for q in range(s[1]):
            out[p, q] = image[p :: s[0], q :: s[1]].mean(axis=(0, 1))
    return out


def _fft_input(y: Any, s: Pair) -> np.ndarray:
    image = _float_array(y, "y", ranks=(2,))
    h, w = image.shape
    if h % s[0] or w % s[1]:
        raise ParameterError(
            f"image size {format_size((h, w))} must be a multiple of the stride {s[0]},{s[1]}"
        )
    return image


def phase_means_fft(y: Any, *, stride: IntOrPair) -> np.ndarray:
    """Phase means of a 2-D image read off its DFT at the multiples of ``(H/s_h, W/s_w)``.

    With ``Y = fft2(y)`` and ``H, W`` multiples of the stride,

        ``Y[k1*H/s_h, k2*W/s_w] = (H*W / (s_h*s_w)) * DFT_s(mu)[k1, k2]``

    so ``mu = ifft2(those bins) * s_h*s_w / (H*W)``: the same numbers as :func:`phase_means`.

    >>> y = np.array([[1.0, 2.0, 1.0, 2.0], [3.0, 4.0, 3.0, 4.0]])
    >>> np.allclose(phase_means_fft(y, stride=2), [[1, 2], [3, 4]])
    True
    """
    s = int_pair(stride, "stride", minimum=1)
    image = _fft_input(y, s)
    h, w = image.shape
    bins = np.fft.fft2(image)[:: h // s[0], :: w // s[1]]
    return np.real(np.fft.ifft2(bins)) * (s[0] * s[1]) / (h * w)


def checkerboard_energy_ratio(y: Any, *, stride: IntOrPair) -> float:
    """Share of a 2-D image's AC spectral energy sitting on the checkerboard frequencies.

    ``R = sum_{(k1,k2) != 0} |Y[k1*H/s_h, k2*W/s_w]|^2 / sum_{k != 0} |Y[k]|^2`` with
    ``Y = fft2(y)`` (``H, W`` multiples of the stride). By the identity of
    :func:`phase_means_fft` and Parseval, ``R == var_pq(mu) / var(y)`` exactly (population
    variances, ``mu`` the phase means). Returns 0 for a constant image.

    >>> checkerboard_energy_ratio(np.array([[1.0, -1.0], [-1.0, 1.0]]), stride=2)
    1.0
    """
    s = int_pair(stride, "stride", minimum=1)
    image = _fft_input(y, s)
    h, w = image.shape
    power = np.abs(np.fft.fft2(image)) ** 2
    total_ac = float(power.sum() - power[0, 0])
    on_grid = float(power[:: h // s[0], :: w // s[1]].sum() - power[0, 0])
    if total_ac <= 0:
        return 0.0
    return on_grid / total_ac


# --------------------------------------------------------------------------------------------
# Constant-input probe
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ProbeResult:
    """Response of an upsampler to a flat image (see :func:`constant_probe`).

    Attributes
    ----------
    phase_means : ndarray, float64, shape (s_h, s_w) or (s_h, s_w, C)
        Mean of each output phase inside the crop (channel-last when the output has channels).
    cb_dc : float
        ``std(mu) / |mean(mu)|`` (population std over the phases), the largest over channels;
        ``inf`` when the phase means average 0.
    ripple : float
        ``(max mu - min mu) / |mean(mu)|``, the largest over channels; ``inf`` likewise.
    level : float
        The flat input value.
    border : int
        Output pixels cropped from each side.
    """

    phase_means: np.ndarray
    cb_dc: float
    ripple: float
    level: float
    border: int


def constant_probe(
    upsample: Callable[[np.ndarray], np.ndarray],
    *,
    stride: IntOrPair,
    size: int = 32,
    level: float = 1.0,
    border: int | None = None,
    channels: int = 1,
) -> ProbeResult:
    """Feed a flat image to any upsampler and measure the grid it leaves (DC probe).

    Parameters
    ----------
    upsample : callable
        Takes a float64 image of shape ``(size, size)`` (``channels == 1``) or
        ``(size, size, channels)`` and returns the upsampled ``(H, W)`` or ``(H, W, C)`` image.
    stride : int or (h, w)
        The enlargement factor: output phases are ``(row mod s_h, col mod s_w)``.
    size : int
        Side of the flat input image.
    level : float
        Its value.
    border : int, optional
        Output pixels dropped on every side before measuring. It must be wider than the kernel's
        reach (about ``d*(k-1) + p`` output pixels for a transposed convolution), because the
        borders receive fewer contributions. Default ``max(8, 4*max(s_h, s_w))``.
    channels : int
        Channels of the input image.

    Returns
    -------
    ProbeResult

    Notes
    -----
    The crop starts at the first multiple of the stride at or after ``border`` (so phases keep
    their labels) and its size is a multiple of the stride. With ``mu`` the phase means of a
    channel, ``cb_dc = std(mu) / |mean(mu)|``. Values: 0 for nearest, bilinear and any kernel
    with equal phase sums; 0.48432 for an all-ones 3×3 kernel at stride 2 (``mu ∝ 4:2:2:1``);
    ``sqrt(3)`` for bed of nails at stride 2.

    Examples
    --------
    >>> def duplicate(x):
    ...     return np.repeat(np.repeat(x, 2, axis=0), 2, axis=1)
    >>> constant_probe(duplicate, stride=2).cb_dc
    0.0
    """
    s = int_pair(stride, "stride", minimum=1)
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ParameterError(f"size must be a positive integer, got {size!r}")
    if isinstance(channels, bool) or not isinstance(channels, (int, np.integer)) or channels < 1:
        raise ParameterError(f"channels must be a positive integer, got {channels!r}")
    if not math.isfinite(level):
        raise ParameterError(f"level must be finite, got {level!r}")
    if border is None:
        border = max(8, 4 * max(s))
    if isinstance(border, bool) or not isinstance(border, (int, np.integer)) or border < 0:
        raise ParameterError(f"border must be an integer >= 0, got {border!r}")
    shape = (size, size) if channels == 1 else (size, size, channels)
    output = _planes(_image(upsample(np.full(shape, float(level))), "upsampler output"))

    start = [-(-border // s[a]) * s[a] for a in range(2)]
    length = [((output.shape[a] - border - start[a]) // s[a]) * s[a] for a in range(2)]
    if min(length[0] // s[0], length[1] // s[1]) < 1:
        raise ParameterError(
            f"output {format_size(output.shape)} is too small for a border of {border} "
            "pixels; use a larger size or a smaller border"
        )
    crop = output[start[0] : start[0] + length[0], start[1] : start[1] + length[1]]
    means = _phase_means(crop, s)  # (s_h, s_w, C)
    cb_dc = 0.0
    ripple = 0.0
    for c in range(means.shape[2]):
        mu = means[:, :, c]
        scale = float(np.abs(mu).max())
        mean = float(mu.mean())
        if _is_zero_mean(mean, scale):
            cb_dc = ripple = math.inf
            break
        cb_dc = max(cb_dc, float(mu.std() / abs(mean)))
        ripple = max(ripple, float((mu.max() - mu.min()) / abs(mean)))
    if means.shape[2] == 1:
        means = means[:, :, 0]
    return ProbeResult(
        phase_means=means, cb_dc=cb_dc, ripple=ripple, level=float(level), border=int(border)
    )


# --------------------------------------------------------------------------------------------
# Checkerboard statistic of an output image (M3)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class CheckerboardStats:
    """Per-phase residual statistic of an image (see :func:`checkerboard_stats`).

    Attributes
    ----------
    phase_means : ndarray, float64, shape (s_h, s_w) or (s_h, s_w, C)
        Phase means of the residual ``r`` inside the crop.
    cb_rms : float
        RMS deviation of the phase means from their mean (intensity units), largest channel.
    cb_rel : float
        ``cb_rms / std(r)`` (0 when ``std(r) == 0``), largest channel.
    cb_rel_tile_max : float
        Largest ``cb_rel`` over whole ``tile`` tiles and channels; ``nan`` when no whole tile
        fits in the crop.
    tiles : int
        Number of whole tiles per channel.
    """

    phase_means: np.ndarray
    cb_rms: float
    cb_rel: float
    cb_rel_tile_max: float
    tiles: int


def _residual_phase_stats(r: np.ndarray, s: Pair) -> tuple[float, float, np.ndarray]:
    """``(cb_rms, cb_rel, mu)`` of one residual plane whose sides are multiples of ``s``."""
    mu = _phase_means(r, s)
    cb_rms = float(np.sqrt(np.mean((mu - mu.mean()) ** 2)))
    spread = float(r.std())
    cb_rel = cb_rms / spread if spread > 0 else 0.0
    return cb_rms, cb_rel, mu


def checkerboard_stats(
    y: Any, *, stride: IntOrPair, tile: IntOrPair | None = None
) -> CheckerboardStats:
    """Checkerboard strength of any output image (trend-robust per-phase statistic, M3).

    Parameters
    ----------
    y : array_like, shape (H, W) or (H, W, C)
        The upsampled image; ``H >= 3*s_h`` and ``W >= 3*s_w``.
    stride : int or (h, w)
        The period to look for (the enlargement factor).
    tile : int or (h, w), optional
        Tile size in output pixels, a multiple of the stride; default ``8*s``.

    Returns
    -------
    CheckerboardStats

    Notes
    -----
    Per channel:

    1. ``r = y - B_s(y)``, ``B_s`` the ``s_h×s_w`` mean filter with edge mode "nearest"
       (``scipy.ndimage.uniform_filter``). ``B_s`` is zero at every checkerboard frequency but
       DC and maps a linear ramp to a shifted ramp, so ``r`` keeps the grid and drops trends.
    2. Crop ``s`` pixels from each side, then the end to a multiple of ``s`` (phases keep the
       labels of ``y``).
    3. ``mu[p, q] = mean(r[p::s_h, q::s_w])``; ``cb_rms = sqrt(mean_pq (mu - mean(mu))^2)``;
       ``cb_rel = cb_rms / std(r)`` (population std of the cropped ``r``; 0 when it is 0).
    4. The same on every whole, non-overlapping ``tile`` tile of the crop (from its top-left
       corner) gives ``cb_rel_tile_max``: a grid whose sign follows the content can cancel in
       the global means but not in each tile.

    ``cb_rms``, ``cb_rel`` and ``cb_rel_tile_max`` are each the largest over channels. A ramp
    gives ``cb_rms = 0``; ramp + ``a*(-1)^(i+j)`` at stride 2 gives ``cb_rms = a`` exactly.

    Examples
    --------
    >>> i, j = np.mgrid[0:16, 0:16]
    >>> stats = checkerboard_stats(0.5 * i + 0.25 * j + 3.0 * (-1.0) ** (i + j), stride=2)
    >>> round(stats.cb_rms, 12), round(stats.cb_rel, 12)
    (3.0, 1.0)
    """
    from scipy.ndimage import uniform_filter

    s = int_pair(stride, "stride", minimum=1)
    image = _planes(_image(y, "y"))
    tile_size = (8 * s[0], 8 * s[1]) if tile is None else int_pair(tile, "tile", minimum=1)
    if tile_size[0] % s[0] or tile_size[1] % s[1]:
        raise ParameterError(f"tile {tile_size} must be a multiple of the stride {s}")
    h, w = image.shape[:2]
    if h < 3 * s[0] or w < 3 * s[1]:
        raise ParameterError(
            f"image {format_size((h, w))} is too small: it needs at least 3 strides per side"
        )
    rows = ((h - 2 * s[0]) // s[0]) * s[0]
    cols = ((w - 2 * s[1]) // s[1]) * s[1]

    means = []
    cb_rms = cb_rel = 0.0
    tile_max = -math.inf
    tiles = (rows // tile_size[0]) * (cols // tile_size[1])
    for c in range(image.shape[2]):
        plane = image[:, :, c]
        residual = plane - uniform_filter(plane, size=s, mode="nearest")
        r = residual[s[0] : s[0] + rows, s[1] : s[1] + cols]
        rms, rel, mu = _residual_phase_stats(r, s)
        means.append(mu)
        cb_rms, cb_rel = max(cb_rms, rms), max(cb_rel, rel)
        for top in range(0, rows - tile_size[0] + 1, tile_size[0]):
            for left in range(0, cols - tile_size[1] + 1, tile_size[1]):
                block = r[top : top + tile_size[0], left : left + tile_size[1]]
                tile_max = max(tile_max, _residual_phase_stats(block, s)[1])
    phase_mu = np.stack(means, axis=-1)
    if phase_mu.shape[2] == 1:
        phase_mu = phase_mu[:, :, 0]
    return CheckerboardStats(
        phase_means=phase_mu,
        cb_rms=cb_rms,
        cb_rel=cb_rel,
        cb_rel_tile_max=tile_max if tiles else math.nan,
        tiles=tiles,
    )


# --------------------------------------------------------------------------------------------
# Round-trip quality: quantization, PSNR, SSIM
# --------------------------------------------------------------------------------------------


def quantize(values: Any, dtype: Any) -> np.ndarray:
    """The values as they would be saved in ``dtype``.

    Integer dtypes: round half to even (``np.rint``), clip to the dtype's range, cast. Float
    dtypes: only cast (no rounding, no clipping).

    >>> quantize(np.array([-3.0, 0.5, 1.5, 2.5, 254.5, 300.0]), np.uint8)
    array([  0,   0,   2,   2, 254, 255], dtype=uint8)
    """
    try:
        target = np.dtype(dtype)
    except TypeError:
        raise ParameterError(f"dtype must be an integer or float dtype, not {dtype!r}") from None
    arr = np.asarray(values)
    if arr.dtype.kind not in "biuf":
        raise ParameterError(f"values must be numeric, got dtype {arr.dtype}")
    if target.kind == "f":
        return arr.astype(target)
    if target.kind not in "iu":
        raise ParameterError(f"dtype must be a numpy integer or float dtype, got {target}")
    if arr.dtype.kind in "iub":
        info = np.iinfo(target)
        return np.clip(arr, info.min, info.max).astype(target)
    if np.any(np.isnan(arr)):
        raise ParameterError(f"cannot quantize NaN to {target}")
    info = np.iinfo(target)
    return np.clip(np.rint(arr.astype(np.float64)), info.min, info.max).astype(target)


def _pair_of_images(
    truth: Any, output: Any, data_range: float, quantize_to: Any
) -> tuple[np.ndarray, np.ndarray, float]:
    if quantize_to is not None:
        truth = quantize(truth, quantize_to)
        output = quantize(output, quantize_to)
    a = _image(truth, "truth")
    b = _image(output, "output")
    if a.shape != b.shape:
        raise ParameterError(f"truth and output shapes differ: {a.shape} vs {b.shape}")
    if isinstance(data_range, bool):
        raise ParameterError(f"data_range must be a positive number, got {data_range!r}")
    try:
        L = float(data_range)
    except (TypeError, ValueError):
        raise ParameterError(f"data_range must be a positive number, got {data_range!r}") from None
    if not (math.isfinite(L) and L > 0):
        raise ParameterError(f"data_range must be a positive number, got {data_range!r}")
    return a, b, L


def psnr(truth: Any, output: Any, *, data_range: float, quantize_to: Any = None) -> float:
    """Peak signal-to-noise ratio in dB: ``10 * log10(L^2 / MSE)``.

    Parameters
    ----------
    truth, output : array_like, same shape (H, W) or (H, W, C)
        Pass the values as they are saved (see :func:`quantize`), or set ``quantize_to``.
    data_range : float
        ``L``, e.g. 255 for 8-bit images, 1.0 for floats in [0, 1].
    quantize_to : dtype, optional
        Quantize both arrays to this dtype first.

    Returns
    -------
    float
        ``MSE = mean((truth - output)^2)`` in float64 over all pixels and channels; ``inf`` for
        identical images.

    >>> psnr(np.zeros((2, 2)), np.full((2, 2), 25.5), data_range=255)
    20.0
    """
    a, b, L = _pair_of_images(truth, output, data_range, quantize_to)
    mse = float(np.mean((a - b) ** 2))
    if mse == 0:
        return math.inf
    return float(10.0 * np.log10(L * L / mse))


def ssim(truth: Any, output: Any, *, data_range: float, quantize_to: Any = None) -> float:
    """Structural similarity (Wang, Bovik, Sheikh & Simoncelli 2004), mean over channels.

    Parameters
    ----------
    truth, output : array_like, same shape (H, W) or (H, W, C), H and W >= 11
        Pass the values as they are saved (see :func:`quantize`), or set ``quantize_to``.
    data_range : float
        ``L``.
    quantize_to : dtype, optional
        Quantize both arrays to this dtype first.

    Returns
    -------
    float

    Notes
    -----
    Per channel, with ``f`` a Gaussian filter of sigma 1.5 truncated at 3.5 sigma (11 taps,
    ``scipy.ndimage.gaussian_filter``, mode "reflect"):

        ``mu_x = f(x)``, ``var_x = f(x^2) - mu_x^2``, ``cov = f(xy) - mu_x mu_y`` (population),
        ``S = (2 mu_x mu_y + C1)(2 cov + C2) / ((mu_x^2 + mu_y^2 + C1)(var_x + var_y + C2))``,
        ``C1 = (0.01 L)^2``, ``C2 = (0.03 L)^2``.

    The map is cropped by 5 pixels per side (so the border mode does not matter) and averaged.
    This equals ``skimage.metrics.structural_similarity(..., gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=L, channel_axis=-1)``.

    >>> x = np.arange(144.0).reshape(12, 12)
    >>> ssim(x, x, data_range=143)
    1.0
    """
    from scipy.ndimage import gaussian_filter

    a, b, L = _pair_of_images(truth, output, data_range, quantize_to)
    radius = int(_SSIM_TRUNCATE * _SSIM_SIGMA + 0.5)
    window = 2 * radius + 1
    if a.shape[0] < window or a.shape[1] < window:
        raise ParameterError(
            f"SSIM needs images of at least {window}×{window} pixels, got {format_size(a.shape)}"
        )
    c1 = (_SSIM_K1 * L) ** 2
    c2 = (_SSIM_K2 * L) ** 2

    def blur(plane: np.ndarray) -> np.ndarray:
        return gaussian_filter(plane, _SSIM_SIGMA, truncate=_SSIM_TRUNCATE, mode="reflect")

    scores = []
    for c in range(_planes(a).shape[2]):
        x = _planes(a)[:, :, c]
        y = _planes(b)[:, :, c]
        mu_x, mu_y = blur(x), blur(y)
        var_x = blur(x * x) - mu_x * mu_x
        var_y = blur(y * y) - mu_y * mu_y
        cov = blur(x * y) - mu_x * mu_y
        s_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
            (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)
        )
        scores.append(float(s_map[radius:-radius, radius:-radius].mean()))
    return float(np.mean(scores))


# --------------------------------------------------------------------------------------------
# Phase planes, detail regions and spectra (for the report and its figures)
# --------------------------------------------------------------------------------------------


def worst_plane(means: np.ndarray, *, relative: bool) -> np.ndarray:
    """The ``(s_h, s_w)`` plane of the channel whose phase means vary most.

    ``relative`` divides by the plane's mean (a flat probe reads 1.0 on every phase when clean).
    """
    planes = means[:, :, None] if means.ndim == 2 else means
    best = None
    best_score = -1.0
    for c in range(planes.shape[2]):
        plane = planes[:, :, c]
        if relative:
            mean = float(plane.mean())
            plane = plane / mean if mean != 0 else np.zeros_like(plane)
        score = float(np.sqrt(np.mean((plane - plane.mean()) ** 2)))
        if score > best_score:
            best, best_score = plane, score
    assert best is not None
    return np.asarray(best, dtype=np.float64)


def luminance(image: np.ndarray) -> np.ndarray:
    """The mean over channels of ``image`` in float64 (the image itself when it has one)."""
    arr = np.asarray(image, dtype=np.float64)
    return arr.mean(axis=2) if arr.ndim == 3 else arr


def detail_region(image: np.ndarray, size: int, *, align: int = 1) -> tuple[int, int, int]:
    """``(top, left, side)`` of the ``side×side`` window with the highest variance.

    Candidates start at multiples of ``align`` on a grid of step about ``side / 4``; the side is
    ``size`` clipped to the image (and down to a multiple of ``align``). Ties go to the first
    candidate in row-major order.

    >>> img = np.zeros((32, 32)); img[20:28, 4:12] = np.eye(8)
    >>> detail_region(img, 8, align=2)
    (20, 4, 8)
    """
    g = luminance(image)
    h, w = g.shape
    side = max(align, min(int(size), h, w) // align * align)
    step = max(align, (side // 4) // align * align)
    best = (0, 0)
    best_var = -1.0
    for top in range(0, h - side + 1, step):
        for left in range(0, w - side + 1, step):
            var = float(g[top : top + side, left : left + side].var())
            if var > best_var:
                best, best_var = (top, left), var
    return best[0], best[1], side


@dataclass(frozen=True, eq=False)
class Spectrum:
    """Log-magnitude spectrum of a square crop, DC at the centre (``fftshift``).

    Attributes
    ----------
    log_magnitude : ndarray, float64, (N, N)
        ``log(1 + |fft2(p)|)`` with ``p`` the periodic component (docs/references.md
        [Moisan2011]) of the crop's luminance minus its mean, so the border does not draw a
        cross on the axes.
    grid_bins : list of (row, col)
        Positions in ``log_magnitude`` of the checkerboard frequencies
        ``(k1/s_h, k2/s_w)`` cycles per pixel, ``(k1, k2) != (0, 0)``.
    dc : (row, col)
        Position of frequency 0.
    energy_share : float
        :func:`upsamp.diagnostics.checkerboard_energy_ratio` of the crop: the share of the AC
        energy on those frequencies (``var(phase means) / var``).
    """

    log_magnitude: np.ndarray
    grid_bins: list[Pair]
    dc: Pair
    energy_share: float


def _periodic_component(u: np.ndarray) -> np.ndarray:
    """The periodic component of docs/references.md [Moisan2011]: ``u`` minus the smooth image
    that carries its border jumps."""
    m, n = u.shape
    v = np.zeros_like(u)
    v[0, :] += u[-1, :] - u[0, :]
    v[-1, :] += u[0, :] - u[-1, :]
    v[:, 0] += u[:, -1] - u[:, 0]
    v[:, -1] += u[:, 0] - u[:, -1]
    q = np.arange(m)[:, None]
    r = np.arange(n)[None, :]
    denominator = 2 * np.cos(2 * np.pi * q / m) + 2 * np.cos(2 * np.pi * r / n) - 4
    denominator[0, 0] = 1.0
    smooth_hat = np.fft.fft2(v) / denominator
    smooth_hat[0, 0] = 0.0
    return u - np.real(np.fft.ifft2(smooth_hat))


def spectrum(image: np.ndarray, stride: int | Sequence[int], *, size: int = 256) -> Spectrum:
    """The spectrum of the centred ``N×N`` crop, ``N`` the largest multiple of ``lcm(s)`` not
    above ``size`` and the image's sides; the crop starts on a multiple of the stride so the
    checkerboard frequencies fall on exact bins ``k*N/s``.

    >>> i, j = np.mgrid[0:16, 0:16]
    >>> sp = spectrum((-1.0) ** (i + j), 2, size=16)
    >>> sp.log_magnitude.shape, sp.dc, sorted(sp.grid_bins), round(sp.energy_share, 6)
    ((16, 16), (8, 8), [(0, 0), (0, 8), (8, 0)], 1.0)
    """
    s = int_pair(stride, "stride", minimum=1)
    g = luminance(image)
    step = math.lcm(s[0], s[1])
    n = min(int(size), g.shape[0], g.shape[1]) // step * step
    if n < step:
        raise ParameterError(f"image {format_size(g.shape)} is smaller than the stride")
    top = (g.shape[0] - n) // 2 // s[0] * s[0]
    left = (g.shape[1] - n) // 2 // s[1] * s[1]
    crop = g[top : top + n, left : left + n]
    share = checkerboard_energy_ratio(crop, stride=s)
    spec = np.fft.fftshift(np.fft.fft2(_periodic_component(crop - crop.mean())))
    centre = n // 2
    bins = []
    for k1 in range(s[0]):
        for k2 in range(s[1]):
            if k1 == 0 and k2 == 0:
                continue
            bins.append(((k1 * n // s[0] + centre) % n, (k2 * n // s[1] + centre) % n))
    return Spectrum(
        log_magnitude=np.log1p(np.abs(spec)),
        grid_bins=bins,
        dc=(centre, centre),
        energy_share=float(share),
    )
