"""The artifact report behind ``upsamp report`` and ``upsamp enlarge --report``.

For a list of method entries this module runs a round trip (or takes the image as the input),
measures what each method does with :mod:`upsamp.diagnostics`, and returns plain dataclasses
and JSON-ready dicts. No Click, no Rich, no Pillow: files are read and written only through
:mod:`upsamp.imageio`, and the drawing of figures lives in :mod:`upsamp.figures`.

Round trip
----------
The image is the ground truth ``g``. It is cropped to a multiple of the stride ``s`` (the first
rows and columns are kept), downsampled by the mean of each ``s_h×s_w`` cell, upsampled by each
method, and the result is compared with ``g``. Max-unpool gets instead the max-pooled ``g`` and
the positions of the maxima (:func:`upsamp.max_pool` on ``g``), which is the round trip it is
made for. Without a round trip the image is the input of every method and only the artifact
metrics are measured.

Per method
----------
``psnr``, ``ssim``
    Between ``g`` and the output *as it would be saved*: both quantized to the image's dtype
    (:func:`upsamp.diagnostics.quantize`), data range ``L`` from the image mode (255 for 8-bit,
    65535 for 16-bit; see :func:`data_range`), colour channels only (alpha is never part of the
    metrics). An output of another size (a kernel file whose geometry does not give exactly
    ``s×`` the input) is compared on the overlap, aligned on the kernel's centre.
``cb_dc``
    :func:`upsamp.diagnostics.constant_probe` on the method with the same options. Max-unpool
    needs positions: the probe uses those of a flat image max-pooled, which are the first
    position of each window (ties go to the first), the top-left, so that it behaves as bed of
    nails.
``cb_rel``, ``cb_rel_tile_max``
    :func:`upsamp.diagnostics.checkerboard_stats` of the float output (before quantization, so
    that rounding and clipping cannot hide a grid).
``artifact_free``
    The kernel analysis (:func:`upsamp.diagnostics.analyze_kernel`, equal phase sums) of the
    transposed-convolution form of a kernel-bearing method's kernel (``Method.
    kernel_to_transconv``: a sub-pixel kernel is analysed per phase, so ICNR comes out clean and
    a random kernel does not); for every other method ``cb_dc <= 1e-9``.
``verdict``
    ``"checkerboard"`` when the method is not artifact-free or ``cb_dc > 1e-6`` (a flat region
    does not come out flat); else ``"clean"``. ``cb_rel`` is reported for information only: it
    measures this image's output, where genuine period-``s`` texture also counts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import imageio
from ._arrays import check_image, int_pair
from .colour import linear_to_srgb, premultiply, srgb_to_linear
from .diagnostics import (
    ARTIFACT_TOLERANCE,
    CheckerboardStats,
    KernelAnalysis,
    ProbeResult,
    checkerboard_stats,
    constant_probe,
    psnr,
    quantize,
    ssim,
    worst_plane,
)
from .errors import InputError, KernelError, MethodError, ParameterError
from .geometry import format_size
from .input_range import from_model_range, storage_range, to_model_range
from .kernel_analysis import finite_or_none, kernel_analysis, kernel_json
from .kernels import Kernel
from .methods import MethodOptions, available_methods, get_method

__all__ = [
    "CB_DC_VERDICT_THRESHOLD",
    "MethodEntry",
    "MethodResult",
    "Report",
    "aggregate",
    "crop_to_stride",
    "data_range",
    "downsample_mean",
    "method_entries",
    "reference_crop",
    "report_arrays",
    "report_enlarged",
    "report_file",
    "format_score",
]

Pair = tuple[int, int]

#: A method whose flat-input probe exceeds this is a checkerboard whatever its kernel says.
CB_DC_VERDICT_THRESHOLD = 1e-6

# Below this fraction of the largest phase mean, a phase counts as empty.
_EMPTY_PHASE_RTOL = 1e-9


# --------------------------------------------------------------------------------------------
# Method entries
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MethodEntry:
    """One row of the report: a registered method, with a kernel for a kernel-bearing method.

    ``name`` is the method's name, or ``<method>:<preset or file stem>`` for an explicit kernel.
    ``analysed`` is the transposed-convolution kernel equal to the method with ``kernel``
    (``Method.kernel_to_transconv``: a sub-pixel kernel's phases, a resize-convolution's
    kernel convolved with the resize), analysed phase by phase; None when it has none.
    """

    name: str
    method: str
    kernel: Kernel | None = None
    analysed: Kernel | None = None

    def options(self, stride: Pair) -> MethodOptions:
        """The :class:`MethodOptions` of this entry at ``stride`` (no max-unpool positions)."""
        return MethodOptions(stride=stride, kernel=self.kernel)


def _entry(name: str, method: str, kernel: Kernel | None, stride: Pair) -> MethodEntry:
    """The entry with its kernel's transposed-convolution form (for the phase analysis)."""
    backend = get_method(method)
    analysed = None
    if kernel is not None and backend.kernel_to_transconv is not None:
        options = MethodOptions(stride=stride, kernel=kernel)
        try:
            analysed = backend.kernel_to_transconv(kernel, options)
        except KernelError:
            analysed = None  # judged by its flat-input probe instead
    return MethodEntry(name=name, method=method, kernel=kernel, analysed=analysed)


def _kernel_entry(
    method: str, spec: str, stride: Pair, settings: dict[str, Any] | None = None
) -> MethodEntry:
    backend = get_method(method)
    settings = settings or {}
    own = backend.build_kernel(spec, None, **settings)
    if own.source != "preset" and "stride" in own.stated and tuple(own.stride) != stride:
        raise KernelError(
            f"{spec}: the kernel file states stride {own.stride[0]},{own.stride[1]} but the "
            f"report runs at stride {stride[0]},{stride[1]}"
        )
    kernel = backend.build_kernel(spec, stride, **settings)
    return _entry(f"{method}:{kernel.name}", method, kernel, stride)


def method_entries(
    methods: Sequence[str] | None = None,
    kernels: Sequence[str] = (),
    *,
    stride: int | Sequence[int] = 2,
    kernel_settings: dict[str, Any] | None = None,
) -> list[MethodEntry]:
    """The entries of a report.

    Parameters
    ----------
    methods : sequence of str, optional
        Registered method names; ``NAME:SPEC`` names a kernel preset or file for a
        kernel-bearing method (``transconv:bicubic``). Default: every registered method, in
        registration order. A plain kernel-bearing method gets its ``default_kernel`` built
        for ``stride`` (transconv: the bilinear preset).
    kernels : sequence of str
        Presets or transposed-convolution kernel files; each adds ``<method>:<preset or file
        stem>`` after the methods, for every method whose kernel is a transposed convolution's
        (no ``Method.make_kernel`` of its own: transconv).
    stride : int or (h, w)
        Presets are built for it; a kernel file takes it (a file stating another stride is
        refused).
    kernel_settings : dict, optional
        How the named kernels (``NAME:SPEC`` and ``kernels``) are read: ``groups``, ``bias``,
        ``layout`` (as for ``enlarge``); each method receives the ones it takes
        (:meth:`Method.build_kernel`). Given without any named kernel, a ParameterError: the
        default kernels are presets, which they do not describe.

    Returns
    -------
    list of MethodEntry
        In order, without repeated names (the first one is kept).

    Raises
    ------
    MethodError
        An unknown method (the message lists the known ones).
    KernelError
        An unknown preset, an unreadable kernel file, or a file made for another stride.

    >>> [e.name for e in method_entries(["nearest"], ["checkerboard"], stride=2)]
    ['nearest', 'transconv:checkerboard']
    """
    s = int_pair(stride, "stride", minimum=1)
    settings = {k: v for k, v in (kernel_settings or {}).items() if v is not None}
    entries: list[MethodEntry] = []
    named = 0
    for item in list(methods if methods is not None else available_methods()):
        name = item.strip()
        base, colon, spec = name.partition(":")
        if colon and spec and base in available_methods() and get_method(base).takes_kernel:
            entries.append(_kernel_entry(base, spec, s, settings))
            named += 1
            continue
        method = get_method(name)  # raises with the list of known names
        kernel = method.default_kernel(s) if method.default_kernel is not None else None
        entries.append(_entry(name, name, kernel, s))
    # A transposed-convolution kernel (the default builder's) goes to the methods that take
    # one as it is; the others name theirs in ``methods`` (``pixel-shuffle:icnr:bilinear``).
    kernel_methods = [
        m for m in available_methods()
        if get_method(m).takes_kernel and get_method(m).make_kernel is None
    ]  # fmt: skip
    for spec in kernels:
        entries.extend(_kernel_entry(m, spec, s, settings) for m in kernel_methods)
        named += 1
    if settings and not named:
        given = ", ".join("--" + key.replace("_", "-") for key in settings)
        raise ParameterError(
            f"{given}: how a kernel file is read; name one with --kernel FILE or --methods "
            "NAME:FILE (the default kernels are presets)"
        )
    seen: set[str] = set()
    unique = []
    for entry in entries:
        if entry.name not in seen:
            seen.add(entry.name)
            unique.append(entry)
    if not unique:
        raise MethodError(f"no method to report on; available: {', '.join(available_methods())}")
    return unique


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass(eq=False)
class MethodResult:
    """What one method did (see the module docstring for each number).

    ``output`` is the float result, ``stored`` the same quantized to the image's dtype (what
    ``--save-outputs`` writes). ``offset`` aligns it with the reference grid (the ground truth,
    or the input enlarged ``s×``): reference pixel ``(r, c)`` is output pixel
    ``(r + offset[0], c + offset[1])``. ``psnr``/``ssim`` are None without a round trip (and
    when the output's channels differ from the image's). ``probe_phase_means`` and
    ``residual_phase_means`` are ``(s_h, s_w)`` arrays of the worst channel.
    """

    name: str
    method: str
    output: np.ndarray = field(repr=False)
    stored: np.ndarray = field(repr=False)
    offset: Pair
    psnr: float | None
    ssim: float | None
    probe: ProbeResult = field(repr=False)
    stats: CheckerboardStats = field(repr=False)
    analysis: KernelAnalysis | None = field(repr=False)
    artifact_free: bool
    verdict: str
    explanation: str
    fix: str

    @property
    def output_shape(self) -> tuple[int, ...]:
        """Shape of the output: ``(H, W)`` or ``(H, W, C)``."""
        return tuple(int(v) for v in self.output.shape)

    @property
    def cb_dc(self) -> float:
        """Flat-input probe: ``std / |mean|`` of the output phase means."""
        return self.probe.cb_dc

    @property
    def cb_rel(self) -> float:
        """Residual phase-mean RMS over the residual's std, on this output."""
        return self.stats.cb_rel

    @property
    def cb_rel_tile_max(self) -> float:
        """Largest ``cb_rel`` over ``8s×8s`` tiles (nan without a whole tile)."""
        return self.stats.cb_rel_tile_max

    @property
    def probe_phase_means(self) -> np.ndarray:
        """Flat-input phase means of the worst channel, ``(s_h, s_w)``."""
        return worst_plane(self.probe.phase_means, relative=True)

    @property
    def residual_phase_means(self) -> np.ndarray:
        """Residual phase means on this output, channel with the largest RMS, ``(s_h, s_w)``."""
        return worst_plane(self.stats.phase_means, relative=False)

    def to_json(self) -> dict[str, Any]:
        """The report's per-method object (non-finite numbers become null)."""
        return {
            "name": self.name,
            "output_shape": list(self.output_shape),
            "psnr": finite_or_none(self.psnr),
            "ssim": finite_or_none(self.ssim),
            "cb_dc": finite_or_none(self.cb_dc),
            "cb_rel": finite_or_none(self.cb_rel),
            "cb_rel_tile_max": finite_or_none(self.cb_rel_tile_max),
            "artifact_free": self.artifact_free,
            "kernel": None if self.analysis is None else kernel_json(self.analysis),
            "verdict": self.verdict,
            "explanation": self.explanation,
            "fix": self.fix,
        }


@dataclass(eq=False)
class Report:
    """A whole report.

    Attributes
    ----------
    image : str
        The image's path (or a label).
    stride : (h, w)
    roundtrip : bool
    mode : str
        The image's mode (decides the stored dtype and the data range).
    reference : ndarray
        The ground truth cropped to a multiple of the stride (round trip), else the input; in
        the image's storage dtype.
    source : ndarray
        What the methods (but max-unpool) got: the downsampled float image, or the input.
    data_range : float
        ``L`` of PSNR and SSIM.
    display_range : (lo, hi)
        Values mapped to black and white in figures.
    methods : list of MethodResult
    notes : list of str
        One-line remarks (alpha ignored, image cropped, sizes that differ...).
    """

    image: str
    stride: Pair
    roundtrip: bool
    mode: str
    reference: np.ndarray = field(repr=False)
    source: np.ndarray = field(repr=False)
    data_range: float
    display_range: tuple[float, float]
    methods: list[MethodResult]
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """``{"image", "stride", "roundtrip", "methods": [...], "notes"}``, JSON-ready."""
        return {
            "image": self.image,
            "stride": list(self.stride),
            "roundtrip": self.roundtrip,
            "methods": [m.to_json() for m in self.methods],
            "notes": list(self.notes),
        }


# --------------------------------------------------------------------------------------------
# Round-trip building blocks (pure)
# --------------------------------------------------------------------------------------------


def crop_to_stride(image: np.ndarray, stride: int | Sequence[int]) -> np.ndarray:
    """The top-left ``(H // s_h * s_h, W // s_w * s_w)`` part of ``image``.

    >>> crop_to_stride(np.zeros((5, 7)), 2).shape
    (4, 6)
    """
    sh, sw = int_pair(stride, "stride", minimum=1)
    h, w = image.shape[:2]
    return image[: h // sh * sh, : w // sw * sw]


def downsample_mean(image: np.ndarray, stride: int | Sequence[int]) -> np.ndarray:
    """Mean of each ``s_h×s_w`` cell, in float64: ``x[i, j] = mean(g[i*s_h:(i+1)*s_h, j*s_w:...])``.

    The sides of ``image`` must be multiples of the stride (see :func:`crop_to_stride`).

    >>> downsample_mean(np.arange(16.0).reshape(4, 4), 2)
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    """
    sh, sw = int_pair(stride, "stride", minimum=1)
    g = np.asarray(image, dtype=np.float64)
    h, w = g.shape[:2]
    if h % sh or w % sw:
        raise ParameterError(
            f"image {format_size((h, w))} is not a multiple of the stride {sh},{sw}"
        )
    cells = g.reshape(h // sh, sh, w // sw, sw, *g.shape[2:])
    return cells.mean(axis=(1, 3))


def data_range(mode: str, values: np.ndarray) -> float:
    """``L`` for PSNR/SSIM: the mode's range (255 for L/RGB, 65535 for I;16, ``2**32 - 1`` for
    I); for float images 1.0 when the values lie in [0, 1], else their ``max - min`` (1.0 for a
    constant image).

    >>> data_range("RGB", np.zeros(1)), data_range("I;16", np.zeros(1))
    (255.0, 65535.0)
    """
    arr = np.asarray(values)
    if mode != "F":
        lo, hi = imageio.value_range(mode) or (0.0, 1.0)
        return float(hi - lo)
    if arr.dtype.kind in "iu":
        info = np.iinfo(arr.dtype)
        return float(info.max) - float(info.min)
    lo, hi = float(np.min(arr)), float(np.max(arr))
    if lo >= 0.0 and hi <= 1.0:
        return 1.0
    return hi - lo if hi > lo else 1.0


def _display_range(mode: str, values: np.ndarray) -> tuple[float, float]:
    bounds = imageio.value_range(mode) if mode != "F" else None
    if bounds is not None and mode != "I":
        return bounds
    lo, hi = float(np.min(values)), float(np.max(values))
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def _storage_dtype(reference: np.ndarray) -> np.dtype:
    dtype = np.asarray(reference).dtype
    return np.dtype(np.float64) if dtype.kind == "b" else dtype


def _transconv_offset(kernel: Kernel, axis: int) -> int:
    """Output pixel minus reference pixel of the kernel's centre: ``floor((k_e - s - 2p) / 2)``,
    ``k_e = d*(k-1)+1``. It is 0 for every preset."""
    k = kernel.spatial_shape[axis]
    effective = kernel.dilation[axis] * (k - 1) + 1
    return (effective - kernel.stride[axis] - 2 * kernel.padding[axis]) // 2


def _offset(
    output_shape: Sequence[int], reference_shape: Sequence[int], entry: MethodEntry
) -> Pair:
    """Alignment of an output with the reference grid (see :class:`MethodResult`)."""
    offset = []
    for axis in range(2):
        out, ref = int(output_shape[axis]), int(reference_shape[axis])
        if entry.analysed is not None:
            hint = _transconv_offset(entry.analysed, axis)
        else:
            hint = (out - ref) // 2
        if out >= ref:
            offset.append(min(max(hint, 0), out - ref))
        else:
            offset.append(-min(max(-hint, 0), ref - out))
    return (offset[0], offset[1])


def _overlap(
    output_shape: Sequence[int], reference_shape: Sequence[int], offset: Pair
) -> tuple[tuple[slice, slice], tuple[slice, slice]]:
    """``(output slices, reference slices)`` of the overlapping region."""
    out_s, ref_s = [], []
    for axis in range(2):
        d = offset[axis]
        r0 = max(0, -d)
        r1 = min(int(reference_shape[axis]), int(output_shape[axis]) - d)
        out_s.append(slice(r0 + d, r1 + d))
        ref_s.append(slice(r0, r1))
    return (out_s[0], out_s[1]), (ref_s[0], ref_s[1])


def reference_crop(
    array: np.ndarray, offset: Pair, top: int, left: int, height: int, width: int, fill: float
) -> np.ndarray:
    """Rows ``top..top+height`` and columns ``left..left+width`` of the reference grid, read
    from an output aligned by ``offset``; positions the output does not cover hold ``fill``.

    >>> reference_crop(np.arange(9.0).reshape(3, 3), (1, 0), 0, 0, 3, 2, -1.0)
    array([[ 3.,  4.],
           [ 6.,  7.],
           [-1., -1.]])
    """
    arr = np.asarray(array, dtype=np.float64)
    out = np.full((height, width) + arr.shape[2:], float(fill))
    r0, c0 = top + offset[0], left + offset[1]
    src_r = slice(max(r0, 0), min(r0 + height, arr.shape[0]))
    src_c = slice(max(c0, 0), min(c0 + width, arr.shape[1]))
    if src_r.start < src_r.stop and src_c.start < src_c.stop:
        out[src_r.start - r0 : src_r.stop - r0, src_c.start - c0 : src_c.stop - c0] = arr[
            src_r, src_c
        ]
    return out


def _upsampler(entry: MethodEntry, stride: Pair) -> Callable[[np.ndarray], np.ndarray]:
    """The entry as a black box for the probe (with the method's ``probe_options``: max-unpool
    gets the positions of a flat image)."""
    method = get_method(entry.method)
    options = entry.options(stride)

    def upsample(x: np.ndarray) -> np.ndarray:
        return method.upsample(x, method.probe_options(x.shape, stride, options))

    return upsample


def _probe(entry: MethodEntry, stride: Pair) -> ProbeResult:
    """Flat-input probe with a border wider than the kernel's reach."""
    border = max(8, 4 * max(stride))
    channels = get_method(entry.method).input_channels(entry.options(stride)) or 1
    if entry.analysed is not None:
        k = entry.analysed
        reach = max(
            k.dilation[a] * (k.spatial_shape[a] - 1) + 1 + k.padding[a] + k.stride[a]
            for a in range(2)
        )
        border = max(border, reach)
    elif entry.kernel is not None:
        border = max(border, 2 * max(entry.kernel.spatial_shape) + max(stride))
    size = max(32, 2 * -(-border // min(stride)) + 8)
    return constant_probe(
        _upsampler(entry, stride), stride=stride, size=size, border=border, channels=channels
    )


def _ratio(values: np.ndarray) -> str:
    values = np.asarray(values, dtype=np.float64).ravel()
    top = float(np.max(np.abs(values)))
    if top == 0:
        return ":".join("0" for _ in values)
    return ":".join(f"{v / top:.3g}" for v in values)


def _explain_probe(entry: MethodEntry, probe: ProbeResult, stride: Pair) -> tuple[str, str]:
    """``(why, fix)`` for a method judged by its flat-input probe."""
    mu = worst_plane(probe.phase_means, relative=False)
    phases = mu.size
    top = float(np.max(np.abs(mu)))
    empty = int(np.count_nonzero(np.abs(mu) <= _EMPTY_PHASE_RTOL * top)) if top > 0 else phases
    box = f"{stride[0]}×{stride[1]}"
    flat = "a flat input"
    if get_method(entry.method).needs_positions:
        flat = "a flat input (its maxima are the top-left of each window)"
    if probe.cb_dc <= ARTIFACT_TOLERANCE:
        return "every phase of a flat input keeps the same level", ""
    if empty:
        why = (
            f"{empty} of {phases} phases are empty: {flat} comes out as isolated dots "
            f"(phase means {_ratio(mu)})"
        )
        fix = (
            "fill the empty phases: use nearest or bilinear, or follow with a "
            f"{box} box filter (zero-order hold; bed of nails + hold = nearest)"
        )
        return why, fix
    why = f"{flat} comes out with phase means {_ratio(mu)} (cb_dc {probe.cb_dc:.3g})"
    return why, f"follow with a {box} box filter (zero-order hold, Sugawara et al.)"


def _analyze(
    entry: MethodEntry,
    output: np.ndarray,
    *,
    stride: Pair,
    grid_shape: Pair,
    truth: np.ndarray | None,
    dtype: np.dtype,
    data_range_value: float,
    notes: list[str],
) -> MethodResult:
    """Every number of one row, given the method's float output.

    ``grid_shape`` is the reference grid (the ground truth's size, or the input's times the
    stride); ``truth`` is the ground truth for a round trip, else None.
    """
    output = np.asarray(output, dtype=np.float64)
    stored = quantize(output, dtype)
    offset = _offset(output.shape, grid_shape, entry)
    quality: list[float | None] = [None, None]
    if output.shape[:2] != tuple(grid_shape):
        out_sl, ref_sl = _overlap(output.shape, grid_shape, offset)
        size = (ref_sl[0].stop - ref_sl[0].start, ref_sl[1].stop - ref_sl[1].start)
        notes.append(
            f"{entry.name}: the output is {format_size(output.shape)}, not "
            f"{format_size(grid_shape)}; "
            + (
                f"PSNR/SSIM compare the {format_size(size)} overlap (output offset "
                f"{offset[1]},{offset[0]})"
                if truth is not None
                else f"it is aligned on the kernel's centre (output offset {offset[1]},{offset[0]})"
            )
        )
    else:
        out_sl, ref_sl = (slice(None), slice(None)), (slice(None), slice(None))
    if truth is not None:
        out_channels = output.shape[2] if output.ndim == 3 else 1
        ref_channels = truth.shape[2] if truth.ndim == 3 else 1
        if out_channels != ref_channels:
            notes.append(
                f"{entry.name}: the output has {out_channels} channels, the image "
                f"{ref_channels}; no PSNR/SSIM"
            )
        else:
            a = np.asarray(truth)[ref_sl]
            b = stored[out_sl].reshape(a.shape)
            if min(a.shape[:2]) < 11:
                raise InputError(
                    f"{entry.name}: the compared region is {format_size(a.shape)}; SSIM needs "
                    "at least 11×11 pixels (use a larger image, or --no-roundtrip for the "
                    "artifact metrics alone)"
                )
            quality = [
                psnr(a, b, data_range=data_range_value),
                ssim(a, b, data_range=data_range_value),
            ]
    probe = _probe(entry, stride)
    stats = checkerboard_stats(output, stride=stride)
    analysis = kernel_analysis(entry.analysed) if entry.analysed is not None else None
    if analysis is not None:
        artifact_free = analysis.artifact_free
        why, fix = analysis.explain(), analysis.suggest_fix()
    else:
        artifact_free = bool(probe.cb_dc <= ARTIFACT_TOLERANCE)
        why, fix = _explain_probe(entry, probe, stride)
    clean = artifact_free and probe.cb_dc <= CB_DC_VERDICT_THRESHOLD
    if analysis is not None and artifact_free and not clean:
        why = f"{why}, yet a flat input comes out with cb_dc {probe.cb_dc:.3g} (bias or edges)"
        fix = fix or f"follow with a {stride[0]}×{stride[1]} box filter (zero-order hold)"
    return MethodResult(
        name=entry.name,
        method=entry.method,
        output=output,
        stored=stored,
        offset=offset,
        psnr=quality[0],
        ssim=quality[1],
        probe=probe,
        stats=stats,
        analysis=analysis,
        artifact_free=bool(artifact_free),
        verdict="clean" if clean else "checkerboard",
        explanation=why,
        fix=fix,
    )


# --------------------------------------------------------------------------------------------
# Whole reports
# --------------------------------------------------------------------------------------------


def _fit_channels(entry: MethodEntry, image: np.ndarray, stride: Pair, name: str) -> MethodEntry:
    """The entry with its kernel fitted to the image's channels (``Method.fit_channels``: a 4-D
    kernel that would mix the channels without ``groups`` is refused), and refused when the
    kernel takes another number of channels."""
    method = get_method(entry.method)
    channels = image.shape[2] if image.ndim == 3 else 1
    options = entry.options(stride)
    if method.fit_channels is not None:
        options = method.fit_channels(channels, options)
    needed = method.input_channels(options)
    if needed is not None and needed != channels:
        raise KernelError(
            f"{name}: {entry.name}: the kernel takes {needed} input channels but the image "
            f"has {channels}"
        )
    if options.kernel is entry.kernel:
        return entry
    return MethodEntry(entry.name, entry.method, options.kernel, entry.analysed)


def report_arrays(
    image: np.ndarray,
    entries: Sequence[MethodEntry],
    *,
    stride: int | Sequence[int],
    mode: str,
    roundtrip: bool = True,
    name: str = "image",
    has_alpha: bool = False,
    input_range: tuple[float, float] | None = None,
    linear: bool = False,
) -> Report:
    """Run the report on an array (the colour channels of an image, storage dtype).

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, C)
        The ground truth (``roundtrip``) or the input. Its dtype is the saved dtype.
    entries : sequence of MethodEntry
        See :func:`method_entries`.
    stride : int or (h, w)
    mode : str
        The image's mode (:attr:`upsamp.imageio.LoadedImage.mode`).
    roundtrip : bool
        Crop, downsample, upsample and compare; else only artifact metrics.
    name : str
        Shown as the report's ``image``.
    has_alpha : bool
        Adds the note that alpha is not part of the metrics.
    input_range : (low, high), optional
        ``--input-range``: for the methods that take it, what they enlarge is mapped from the
        image's storage range (:func:`upsamp.input_range.storage_range`; 8-bit ``0..255``) to
        this range and the result back, as ``enlarge`` does; a float image is not mapped. The
        flat-input probe feeds the method directly.
    linear : bool
        ``--linear``: the round trip happens in linear light, as ``enlarge --linear``
        resamples: the ground truth is decoded from sRGB, averaged down and enlarged in linear
        light, and the result encoded back to sRGB before it is compared with the (sRGB)
        ground truth. Needs an 8- or 16-bit image (a ParameterError otherwise).

    Returns
    -------
    Report

    Notes
    -----
    Computation is in float64; PSNR/SSIM use the values quantized to ``image.dtype``.
    """
    s = int_pair(stride, "stride", minimum=1)
    image = check_image(image, name="image")
    notes: list[str] = []
    if has_alpha:
        notes.append("alpha is ignored: every metric uses the colour channels only")
    dtype = _storage_dtype(image)
    storage = storage_range(image.dtype)
    if linear and (storage is None or storage[0] != 0):
        raise ParameterError(
            f"{name}: --linear needs 8- or 16-bit image colour; {image.dtype} values have no "
            "sRGB transfer function"
        )
    top = storage[1] if storage is not None else 1.0

    def decode(values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64)
        return srgb_to_linear(values, scale=top) if linear else values

    def encode(values: np.ndarray) -> np.ndarray:
        return linear_to_srgb(values, scale=top) if linear else values

    takers = [e.name for e in entries if "input_range" in (get_method(e.method).cli_options or ())]
    if input_range is not None and not takers:
        raise ParameterError(
            "--input-range applies to methods with a kernel ("
            + ", ".join(m for m in available_methods() if "input_range" in
                        (get_method(m).cli_options or ()))
            + "); the report has none"
        )  # fmt: skip
    mapping = None
    if input_range is not None and storage is not None and tuple(storage) != tuple(input_range):
        mapping = (storage, tuple(input_range))

    def run(method: Any, x: np.ndarray, options: MethodOptions) -> np.ndarray:
        if mapping is None or "input_range" not in (method.cli_options or ()):
            return encode(method.upsample(x, options))
        mapped = to_model_range(x, mapping[0], mapping[1])
        return encode(from_model_range(method.upsample(mapped, options), *mapping))

    if linear:
        notes.append(
            "linear light: the ground truth was decoded from sRGB, averaged down and enlarged "
            "in linear light, and each result encoded back to sRGB before the comparison"
        )
    if mapping is not None:
        notes.append(
            f"the methods with a kernel saw pixel values mapped from {mapping[0][0]:g}.."
            f"{mapping[0][1]:g} to {mapping[1][0]:g}..{mapping[1][1]:g} (--input-range)"
        )
    entries = [_fit_channels(entry, image, s, name) for entry in entries]
    h, w = image.shape[:2]
    if roundtrip:
        reference = crop_to_stride(image, s)
        need = (max(11, 3 * s[0]), max(11, 3 * s[1]))
        if reference.shape[0] < need[0] or reference.shape[1] < need[1]:
            raise InputError(
                f"{name}: {format_size((h, w))} is too small for a round trip at stride "
                f"{s[0]},{s[1]}: it needs at least {format_size(need)} pixels; --no-roundtrip "
                "reports the artifact metrics with the image as the input"
            )
        if reference.shape[:2] != (h, w):
            notes.append(
                f"the image was cropped from {format_size((h, w))} to "
                f"{format_size(reference.shape)} (a multiple of the stride)"
            )
        source = downsample_mean(decode(reference), s)
    else:
        if h < 3 or w < 3:
            raise InputError(
                f"{name}: {format_size((h, w))} is too small: the report needs at least 3×3 "
                "pixels"
            )
        reference = image
        source = decode(image)
    range_value = data_range(mode, reference)
    results = []
    for entry in entries:
        method = get_method(entry.method)
        options = entry.options(s)
        if roundtrip and method.roundtrip_input is not None:
            x, options = method.roundtrip_input(decode(reference), s, options)
            output = run(method, x, options)
        else:
            if not roundtrip and method.needs_positions:
                notes.append(
                    f"{method.name} without a round trip uses the positions of a flat image (the "
                    "top-left of each window), so it behaves as bed of nails"
                )
            if not roundtrip:
                options = method.probe_options(source.shape, s, options)
            output = run(method, source, options)
        results.append(
            _analyze(
                entry,
                output,
                stride=s,
                grid_shape=(source.shape[0] * s[0], source.shape[1] * s[1]),
                truth=reference if roundtrip else None,
                dtype=dtype,
                data_range_value=range_value,
                notes=notes,
            )
        )
    return Report(
        image=name,
        stride=s,
        roundtrip=roundtrip,
        mode=mode,
        reference=reference,
        source=encode(source),
        data_range=range_value,
        display_range=_display_range(mode, reference),
        methods=results,
        notes=notes,
    )


def _check_report_memory(shape: tuple[int, ...], methods: int, name: str) -> None:
    """Refuse an image whose report would not fit: every method's float64 output is kept
    (with the reference, the downsampled input and the work of one method)."""
    from .resources import available_memory, estimate_bytes

    per_image = estimate_bytes(shape, shape, itemsize=8)
    need = per_image + (methods + 2) * 8 * int(np.prod(shape))
    available = available_memory()
    if available is not None and need > available:
        raise InputError(
            f"{name}: a report on this {shape[1]}x{shape[0]} image with {methods} methods needs "
            f"about {need / 2**30:.1f} GiB of memory; only {available / 2**30:.1f} GiB is "
            "available (try --methods with fewer methods, or a crop)"
        )


def report_file(
    path: str | Path,
    entries: Sequence[MethodEntry],
    *,
    stride: int | Sequence[int],
    roundtrip: bool = True,
    max_pixels: int | None = None,
    alpha: str = "premultiplied",
    frame: int | None = None,
    input_range: tuple[float, float] | None = None,
    linear: bool = False,
) -> Report:
    """Load ``path`` (frame ``frame``, default 0) with :func:`upsamp.imageio.load_input` and
    run :func:`report_arrays` (with ``input_range`` and ``linear``).

    ``linear`` is refused for a NumPy array (arrays have no transfer function) and for an
    image with alpha reported premultiplied (the report premultiplies the stored sRGB values,
    which is not what enlarging in linear light does; ``alpha="separate"`` reports the colour
    alone).

    An image with alpha is reported on its colour as the enlargement resamples it: with
    ``alpha="premultiplied"`` the colour multiplied by alpha (rounded to the image's type),
    with ``"separate"`` the colour channels alone; a note says which. A file with several
    frames gets a note naming the frame reported.
    """
    if alpha not in ("premultiplied", "separate"):
        raise ParameterError(f"alpha must be premultiplied or separate, got {alpha!r}")
    loaded = imageio.load_input(path, max_pixels=max_pixels, frame=frame)
    _check_report_memory(loaded.shape, len(entries), str(path))
    pixels = loaded.pixels
    premultiplied = loaded.has_alpha and alpha == "premultiplied"
    if linear and loaded.format == "NPY":
        raise ParameterError(
            f"{path}: --linear needs 8- or 16-bit image colour; a NumPy array has no sRGB "
            "transfer function"
        )
    if linear and premultiplied:
        raise ParameterError(
            f"{path}: report --linear on an image with alpha needs --alpha separate (the "
            "report would premultiply sRGB values, not linear light)"
        )
    if premultiplied:
        assert loaded.alpha is not None
        top = imageio.value_range(imageio.split_mode(loaded.mode)[0])
        scale = top[1] if top is not None else 1.0
        weighted = premultiply(pixels, loaded.alpha, alpha_max=scale)
        pixels = np.rint(weighted).astype(pixels.dtype)
    result = report_arrays(
        pixels,
        entries,
        stride=stride,
        mode=loaded.mode,
        roundtrip=roundtrip,
        name=str(path),
        has_alpha=loaded.has_alpha and not premultiplied,
        input_range=input_range,
        linear=linear,
    )
    if premultiplied:
        result.notes.insert(
            0,
            "the metrics use the colour multiplied by alpha, as the enlargement resamples it "
            "(--alpha separate: the colour channels alone)",
        )
    if loaded.frame_count > 1:
        result.notes.insert(
            0,
            f"the file has {loaded.frame_count} frames; this is frame {loaded.frame_index} "
            f"(--frame N picks another, 0..{loaded.frame_count - 1})",
        )
    return result


def report_enlarged(
    source: np.ndarray,
    output: np.ndarray,
    *,
    method: str,
    options: MethodOptions,
    mode: str | None = None,
    stride: int | Sequence[int] | None = None,
    name: str = "output",
) -> Report:
    """The report of one finished enlargement (``upsamp enlarge --report``): no round trip.

    ``source`` is the input's colour channels and ``output`` the float result. The stride is
    the kernel's for a kernel-bearing method (its ``default_kernel`` when ``options`` has
    none), else ``options.stride`` unless given. ``mode`` defaults to the one
    :func:`upsamp.imageio.array_mode` gives ``source``. A method that needs pooling positions
    is probed with flat-image positions, as in a full report.
    """
    if options.scale is not None or options.size is not None:
        raise ParameterError("the report needs an integer stride, not a scale or an output size")
    backend = get_method(method)
    kernel = options.kernel if backend.takes_kernel else None
    if backend.takes_kernel and kernel is None and backend.default_kernel is not None:
        kernel = backend.default_kernel(options.stride)
    if kernel is not None:
        s = kernel.stride
    else:
        s = int_pair(stride if stride is not None else options.stride, "stride", minimum=1)
    label = f"{method}:{kernel.name}" if kernel is not None else method
    entry = _entry(label, method, kernel, tuple(kernel.stride) if kernel is not None else s)
    source = check_image(source, name="source")
    if mode is None:
        mode = imageio.array_mode(source)
    out = np.asarray(output, dtype=np.float64)
    if out.shape[0] < 3 * s[0] or out.shape[1] < 3 * s[1]:
        raise InputError(
            f"{name}: the output {format_size(out.shape)} is too small for a report at "
            f"stride {s[0]},{s[1]} (at least 3 strides per side)"
        )
    notes: list[str] = []
    if backend.needs_positions:
        notes.append(
            f"cb_dc of {method} uses the positions of a flat image (the top-left of each "
            "window); the output itself used the given positions"
        )
    result = _analyze(
        entry,
        out,
        stride=s,
        grid_shape=(source.shape[0] * s[0], source.shape[1] * s[1]),
        truth=None,
        dtype=_storage_dtype(source),
        data_range_value=data_range(mode, source),
        notes=notes,
    )
    return Report(
        image=name,
        stride=s,
        roundtrip=False,
        mode=mode,
        reference=np.asarray(source),
        source=np.asarray(source, dtype=np.float64),
        data_range=data_range(mode, source),
        display_range=_display_range(mode, source),
        methods=[result],
        notes=notes,
    )


# --------------------------------------------------------------------------------------------
# Figures' numbers: detail region and spectra
def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def aggregate(reports: Sequence[Report]) -> list[dict[str, Any]]:
    """Per method (entry name, in the order first met) over several reports: the number of
    images, the mean and the worst PSNR and SSIM (the lowest) and ``cb_rel`` (the highest),
    and how many images it made a checkerboard on.

    Scores that were not measured (no round trip, other channels) or are NaN are left out; a
    method with none has None. An infinite PSNR (identical images) counts as it is, so a mean
    with one is infinite.

    >>> aggregate([])
    []
    """
    rows: dict[str, dict[str, Any]] = {}
    for report in reports:
        for result in report.methods:
            row = rows.setdefault(
                result.name,
                {"name": result.name, "images": 0, "checkerboard": 0,
                 "psnr": [], "ssim": [], "cb_rel": []},
            )  # fmt: skip
            row["images"] += 1
            row["checkerboard"] += result.verdict == "checkerboard"
            for key in ("psnr", "ssim", "cb_rel"):
                value = getattr(result, key)
                if value is not None and not math.isnan(value):
                    row[key].append(float(value))
    out = []
    for row in rows.values():
        psnr_values, ssim_values, cb_values = row.pop("psnr"), row.pop("ssim"), row.pop("cb_rel")
        row.update(
            psnr_mean=_mean(psnr_values),
            psnr_worst=min(psnr_values) if psnr_values else None,
            ssim_mean=_mean(ssim_values),
            ssim_worst=min(ssim_values) if ssim_values else None,
            cb_rel_mean=_mean(cb_values),
            cb_rel_worst=max(cb_values) if cb_values else None,
        )
        out.append(row)
    return out


def format_score(value: float | None, digits: int) -> str:
    """A score for tables and figures: ``—`` when not measured, ``n/a`` for NaN, ``∞`` for an
    infinite value (e.g. the PSNR of identical images), else ``digits`` decimals."""
    if value is None:
        return "—"
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "∞"
    return f"{value:.{digits}f}"
