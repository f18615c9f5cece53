"""The job behind ``upsamp enlarge`` (and each file of ``upsamp batch``), with no Click and no Rich.

Data flows one way: :mod:`upsamp.imageio` loads the file (every frame of an animation or
multi-page TIFF), a registered method enlarges the colour channels and the alpha plane band by
band, and :mod:`upsamp.imageio` writes the result atomically.

Colour on its way through the method (:class:`ColourPlan`): with ``alpha="premultiplied"`` the
colour is multiplied by alpha before resampling and divided by the enlarged alpha after (0
where it is 0), so that transparent pixels lend no colour to their neighbours; with ``linear``
the sRGB transfer function is decoded before and encoded after; with ``background`` the result
is composited over a plain colour. Each step is per pixel, so bands stay bands.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from . import imageio
from .colour import flatten, linear_to_srgb, premultiply, srgb_to_linear, unpremultiply
from .errors import KernelError, OutputError, ParameterError
from .geometry import check_enlarging, check_output_size, format_size
from .indices import (
    PoolIndices,
    check_pooled_size,
    guide_positions,
    load_indices,
    split_positions,
)
from .input_range import from_model_range, storage_range, to_model_range
from .kernels import SAME, Kernel
from .methods import Method, MethodOptions, get_method
from .methods.registry import DEFAULT_METHOD
from .resources import (
    DEFAULT_MAX_OUTPUT_PIXELS,
    banded_bytes,
    check_output_budget,
    estimate_bytes,
)
from .sizespec import SizeSpec, resolve_size

__all__ = [
    "ALPHA_MODES",
    "ColourPlan",
    "Compute",
    "colour_plan",
    "EnlargeSettings",
    "EnlargeOutcome",
    "DEFAULT_MAX_OUTPUT_PIXELS",
    "LOCAL_COMPUTE",
    "default_output_path",
    "enlarge_file",
    "enlarge_image",
    "enlarge_to_storage",
    "iter_stored_bands",
    "model_range_map",
    "output_shape",
    "read_positions",
    "result_span",
]

#: Output values per band of the banded pipeline (16 MiB of float32).
BAND_VALUES = 1 << 22

#: How colour and alpha are resampled (``--alpha``).
ALPHA_MODES = ("premultiplied", "separate")

#: ``progress(done, total)``: output rows written so far and in all, called after each band.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class EnlargeSettings:
    """What to do to each image: the method and its options, plus output handling."""

    method: str = DEFAULT_METHOD
    options: MethodOptions = field(default_factory=MethodOptions)
    indices_file: Path | None = None
    guide_file: Path | None = None
    range_mode: str = "clip"
    overwrite: bool = False
    max_pixels: int | None = None
    max_output_pixels: int = DEFAULT_MAX_OUTPUT_PIXELS
    compress_level: int | None = None
    quality: int | None = None
    #: False when the stride was not given: max-unpool then takes it from the indices or guide.
    stride_given: bool = True
    #: Max-unpool positions for the alpha plane, filled in by :func:`prepare`.
    alpha_indices: np.ndarray | None = field(default=None, repr=False)
    #: The indices file's positions once read (:func:`read_positions`); None reads the file.
    positions: PoolIndices | None = field(default=None, repr=False, compare=False)
    #: ``--input-range``: the ``(low, high)`` the method's weights expect; integer pixels are
    #: mapped from their storage range to it before the method and back after (see
    #: :func:`model_range_map`). None: no mapping.
    input_range: tuple[float, float] | None = None
    #: "premultiplied" (colour weighted by alpha while resampled) or "separate".
    alpha: str = "premultiplied"
    #: Resample linear light: decode sRGB before, encode after (8- and 16-bit images).
    linear: bool = False
    #: One frame (0-based) of an animation or multi-page TIFF; None enlarges every frame.
    frame: int | None = None
    #: Composite onto this 8-bit RGB colour (no alpha in the output); None keeps alpha.
    background: tuple[int, int, int] | None = None
    #: Drop every kind of metadata except the ICC profile and DPI (:func:`imageio.strip_metadata`).
    strip: bool = False
    #: JPEG chroma subsampling (:data:`imageio.SUBSAMPLINGS`) and TIFF compression
    #: (:data:`imageio.TIFF_COMPRESSIONS`); None: as the input, else the format's default.
    subsampling: str | None = None
    tiff_compression: str | None = None
    #: The output format ("png", "JPEG", ...) when the output name does not say (``-``).
    output_format: str | None = None
    #: A size as typed (``1920x``, ``x1080``, ``1920x1080``, ``1920x1080!``), resolved against
    #: each input's size into ``options.size`` (:func:`prepare`).
    size_spec: SizeSpec | None = None

    def __post_init__(self) -> None:
        if self.alpha not in ALPHA_MODES:
            raise ParameterError(
                f"alpha must be one of {', '.join(ALPHA_MODES)}, got {self.alpha!r}"
            )
        if self.frame is not None and (isinstance(self.frame, bool) or self.frame < 0):
            raise ParameterError(f"frame must be a non-negative integer, got {self.frame!r}")

    def parameters(self) -> dict[str, Any]:
        """The effective parameters, JSON-ready."""
        opts = self.options
        out: dict[str, Any] = {"stride": list(opts.stride)}
        method = get_method(self.method)
        if "scale" in method.uses and opts.scale is not None:
            out["scale"] = opts.scale if isinstance(opts.scale, float) else list(opts.scale)
        if "size" in method.uses and opts.size is not None:
            out["size"] = [opts.size[1], opts.size[0]]
        if self.size_spec is not None:
            out["size_requested"] = str(self.size_spec)
        if "align_corners" in method.uses:
            out["align_corners"] = opts.align_corners
        if "resize" in method.uses:
            out["resize"] = opts.resize
        if "cubic_a" in method.uses:
            out["cubic_a"] = opts.cubic_a
        kernel = opts.kernel
        if isinstance(kernel, Kernel):
            out["kernel"] = {
                "name": kernel.name,
                "shape": list(kernel.weight.shape),
                "stride": list(kernel.stride),
                "padding": kernel.padding if kernel.padding == SAME else list(kernel.padding),
                "output_padding": list(kernel.output_padding),
                "dilation": list(kernel.dilation),
                "groups": kernel.groups,
                "edge": kernel.edge,
                "bias": None if kernel.bias is None else np.asarray(kernel.bias).tolist(),
            }
        if self.indices_file:
            out["indices"] = str(self.indices_file)
        if self.guide_file:
            out["guide"] = str(self.guide_file)
        out["range"] = self.range_mode
        if self.input_range is not None:
            out["input_range"] = [self.input_range[0], self.input_range[1]]
        out["alpha"] = self.alpha
        out["linear"] = self.linear
        if self.background is not None:
            out["background"] = "#{:02x}{:02x}{:02x}".format(*self.background)
        if self.frame is not None:
            out["frame"] = self.frame
        return out


@dataclass
class EnlargeOutcome:
    """What happened to one file."""

    input: Path
    output: Path
    method: str
    parameters: dict[str, Any]
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    clipped_fraction: float
    seconds: float
    result: np.ndarray | None = None  # the float result (colour channels), kept for --show/--report
    source: np.ndarray | None = None
    #: Frames written, and frames the input has.
    frames: int = 1
    input_frames: int = 1
    #: The encoder settings used (:meth:`upsamp.imageio.EncoderSettings.to_json`); None: .npy.
    encoder: dict[str, Any] | None = None
    #: One-line notes: colour conversions on loading, metadata the output could not hold, ...
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready summary (no arrays)."""
        return {
            "input": str(self.input),
            "output": str(self.output),
            "method": self.method,
            "parameters": self.parameters,
            "input_shape": list(self.input_shape),
            "output_shape": list(self.output_shape),
            "frames": self.frames,
            "input_frames": self.input_frames,
            "encoder": self.encoder,
            "notes": list(self.notes),
            "clipped_fraction": self.clipped_fraction,
            "seconds": round(self.seconds, 6),
        }


def default_output_path(
    input_path: Path, settings: EnlargeSettings, suffix: str | None = None
) -> Path:
    """``<stem>_<method>x<stride><ext>`` next to the input (``x1.5`` for a scale, ``_WxH`` for a
    size, the size as typed when it is not resolved yet, e.g. ``_1920x``); a ``.npy`` input
    gives a ``.npy`` output."""
    if str(input_path) == "-":
        raise OutputError("standard input has no name to build an output name from; give -o")
    opts = settings.options
    method = get_method(settings.method)
    if isinstance(opts.kernel, Kernel):
        opts = replace(opts, stride=opts.kernel.stride)
    elif method.needs_positions and opts.indices is None and settings.indices_file:
        opts = replace(opts, stride=_positions(settings).stride)
    if settings.size_spec is not None and opts.size is None:
        tag = "_" + str(settings.size_spec).rstrip("!")
    else:
        tag = method.output_tag(opts)
    if suffix is None and settings.output_format is not None:
        suffix = imageio.format_extension(settings.output_format)
    ext = suffix if suffix is not None else input_path.suffix
    return input_path.with_name(f"{input_path.stem}_{settings.method}{tag}{ext}")


def _positions(settings: EnlargeSettings) -> PoolIndices:
    """The positions of ``settings.indices_file``: those already read into ``settings``, else
    the file's."""
    if settings.positions is not None:
        return settings.positions
    assert settings.indices_file is not None
    return load_indices(settings.indices_file)


def read_positions(settings: EnlargeSettings) -> EnlargeSettings:
    """``settings`` with its max-unpool indices file read into ``positions`` (once per run;
    unchanged when the method needs no positions or they are already there)."""
    method = get_method(settings.method)
    if (
        not method.needs_positions
        or settings.indices_file is None
        or settings.positions is not None
        or settings.options.indices is not None
    ):
        return settings
    return replace(settings, positions=load_indices(settings.indices_file))


def _options_for(
    image: imageio.LoadedImage, settings: EnlargeSettings, method: Method
) -> tuple[MethodOptions, np.ndarray | None]:
    """Attach max-unpool indices (from a file or a guide) to the options.

    Returns the options for the colour channels and the indices for the alpha plane.
    """
    opts = settings.options
    if opts.indices is not None:
        return opts, settings.alpha_indices
    if not method.needs_positions or (
        settings.indices_file is None and settings.guide_file is None
    ):
        return opts, None
    if settings.indices_file is not None:
        found = _positions(settings)
        origin = str(settings.indices_file)
    else:
        guide = imageio.load_input(settings.guide_file, max_pixels=settings.max_pixels)
        origin = str(settings.guide_file)
        found = guide_positions(
            guide.pixels,
            guide.alpha if guide.has_alpha and image.has_alpha else None,
            image.shape[:2],
            opts.stride if settings.stride_given else None,
            origin,
        )
    colour_idx, alpha_idx = split_positions(found, image.pixels.shape, image.has_alpha, origin)
    new = replace(opts, indices=colour_idx, stride=found.stride, output_size=found.input_shape)
    return new, alpha_idx


def resolve_geometry(settings: EnlargeSettings, input_hw: tuple[int, int]) -> EnlargeSettings:
    """``settings`` with a size as typed (``size_spec``) resolved against an input of
    ``input_hw`` into ``options.size`` (:func:`upsamp.sizespec.resolve_size`); unchanged
    without one."""
    if settings.size_spec is None:
        return settings
    size = resolve_size(settings.size_spec, (int(input_hw[0]), int(input_hw[1])))
    return replace(settings, options=replace(settings.options, size=size))


def output_shape(input_shape: tuple[int, ...], settings: EnlargeSettings) -> tuple[int, ...]:
    """Output shape of ``settings`` for an input shape (no indices file is read for max-unpool
    when the file states the size; a guide's size is used as is). A background colour on a
    gray image gives three channels (:func:`output_channels`)."""
    method = get_method(settings.method)
    settings = resolve_geometry(settings, (int(input_shape[0]), int(input_shape[1])))
    opts = settings.options
    if method.needs_positions and opts.indices is None and settings.indices_file:
        found = _positions(settings)
        check_pooled_size(found, input_shape, str(settings.indices_file))
        opts = replace(opts, stride=found.stride, output_size=found.input_shape)
    h, w = _output_hw(method, input_shape, opts)
    c_in = int(input_shape[2]) if len(input_shape) == 3 else 1
    c_out = method.output_channels(c_in, opts)
    return (h, w, c_out) if c_out > 1 or len(input_shape) == 3 else (h, w)


def _output_hw(
    method: Method, input_shape: tuple[int, ...], opts: MethodOptions
) -> tuple[int, int]:
    """The method's output size for an input shape, refused in one line when a side would be
    empty (:func:`upsamp.geometry.check_output_size`), or when a scale or size would shrink
    the image (:func:`upsamp.geometry.check_enlarging`): every command asks here (through
    :func:`output_shape` or :func:`iter_bands`) before any band is computed."""
    in_hw = (int(input_shape[0]), int(input_shape[1]))
    check_enlarging(
        in_hw,
        scale=opts.scale if "scale" in method.uses else None,
        size=opts.size if "size" in method.uses else None,
    )
    out_hw = method.output_shape(in_hw, opts)
    return check_output_size(out_hw, in_hw, f"{method.name} with these options leaves no output")


def _alpha_plan(
    image: imageio.LoadedImage,
    method: Method,
    opts: MethodOptions,
    alpha_indices: np.ndarray | None,
    out_hw: tuple[int, int],
) -> tuple[Method, MethodOptions] | None:
    """How the alpha plane is enlarged: by the same method when it acts on each channel alone
    (with its own positions when it needs them), else by the method's ``alpha_method`` to the
    output size."""
    if not image.has_alpha:
        return None
    if method.per_channel(opts):
        return method, replace(opts, indices=alpha_indices) if alpha_indices is not None else opts
    return get_method(method.alpha_method), MethodOptions(size=out_hw)


@dataclass(frozen=True)
class ColourPlan:
    """What happens to the colour of one image around the method (see the module notes).

    ``premultiplied``: colour is multiplied by alpha before and divided by the enlarged alpha
    after; ``linear``: sRGB is decoded before and encoded after; ``background``: the result is
    composited over this colour (on the image's scale, ``(value,)`` for gray, in linear light
    when ``linear``) and has no alpha; ``to_rgb``: a gray image becomes RGB (a background that
    is not gray). ``scale`` is the largest value of the image's type. ``notes`` say why a
    requested step does not apply.
    """

    premultiplied: bool = False
    linear: bool = False
    background: tuple[float, ...] | None = None
    to_rgb: bool = False
    scale: float = 255.0
    notes: tuple[str, ...] = ()

    @property
    def changes_colour(self) -> bool:
        """True when the method sees other values than the stored colour."""
        return self.premultiplied or self.linear

    def source(self, image: imageio.LoadedImage) -> np.ndarray:
        """The colour channels the method enlarges (float32 when changed, else as stored)."""
        pixels = image.pixels
        if self.linear:
            pixels = srgb_to_linear(pixels, scale=self.scale)
        if self.premultiplied:
            assert image.alpha is not None
            pixels = premultiply(pixels, image.alpha, alpha_max=self.scale)
        return pixels

    def finish(
        self, colour: np.ndarray, alpha: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """A band of the method's result back to colour (and alpha, None after a background).
        Premultiplied colour is divided by the enlarged (unrounded) alpha, so the stored
        colour composited with the stored alpha is the enlarged premultiplied colour to
        within rounding (at most one step of the type: half a step from each rounding)."""
        if self.premultiplied:
            assert alpha is not None
            colour = unpremultiply(colour, alpha, alpha_max=self.scale)
        if self.background is not None and alpha is not None:
            if self.to_rgb and colour.ndim == 2:
                colour = np.repeat(colour[:, :, None], 3, axis=2)
            coverage = np.clip(alpha, 0, self.scale)
            colour = flatten(colour, coverage, self.background, alpha_max=self.scale)
            alpha = None
        if self.linear:
            colour = linear_to_srgb(colour, scale=self.scale)
        return colour, alpha


def colour_plan(image: imageio.LoadedImage, settings: EnlargeSettings) -> ColourPlan:
    """Decide :class:`ColourPlan` for ``image``.

    Methods that only copy values (the registry's ``copies_values``) give the same result
    with and without premultiplying or linear light, so neither is applied to them (their
    results stay exact and in the input's dtype). A channel-mixing (4-D) kernel mixes colour
    channels whose alpha is resampled apart, so its colour is not premultiplied (a note says
    so). An alpha plane that is opaque everywhere is not premultiplied (nothing would change).

    Raises
    ------
    ParameterError
        ``linear`` for an array or an image without an 8- or 16-bit range (arrays and float
        images have no transfer function).
    """
    method = get_method(settings.method)
    colour_mode = imageio.split_mode(image.mode)[0]
    if settings.linear and (image.format == "NPY" or colour_mode not in _TRANSFER_MODES):
        what = "a NumPy array" if image.format == "NPY" else f"a {colour_mode} image"
        raise ParameterError(
            f"{_name(image)}: --linear needs 8- or 16-bit image colour; {what} has no sRGB "
            "transfer function"
        )
    top = imageio.value_range(colour_mode)
    scale = top[1] if top is not None and colour_mode in _TRANSFER_MODES else 255.0
    copies = method.copies_values
    notes: list[str] = []
    premultiplied = False
    if image.has_alpha and settings.alpha == "premultiplied" and not copies:
        assert image.alpha is not None
        if not method.per_channel(settings.options):
            notes.append(
                "a kernel that mixes colour channels enlarges colour and alpha separately "
                "(colour is not premultiplied)"
            )
        elif not bool(np.all(image.alpha == scale)):
            premultiplied = True
    background = None
    to_rgb = False
    if settings.background is not None and image.has_alpha:
        rgb = tuple(float(v) * scale / 255.0 for v in settings.background)
        colour_channels = image.pixels.shape[2] if image.pixels.ndim == 3 else 1
        if colour_channels == 1:
            to_rgb = len(set(settings.background)) > 1
            background = rgb if to_rgb else rgb[:1]
        else:
            background = rgb
        if settings.linear and not copies:
            background = tuple(
                float(v) for v in srgb_to_linear(np.array(background), scale=scale)
            )
    return ColourPlan(
        premultiplied=premultiplied,
        linear=settings.linear and not copies,
        background=background,
        to_rgb=to_rgb,
        scale=float(scale),
        notes=tuple(notes),
    )


#: Colour modes with a transfer function (``--linear``): 8- and 16-bit gray and RGB.
_TRANSFER_MODES = frozenset({"L", "RGB", "I;16", "RGB;16"})


def _name(image: imageio.LoadedImage) -> str:
    return str(image.path) if image.path is not None else "image"


def _run(
    method: Method,
    x: np.ndarray,
    opts: MethodOptions,
    rows: tuple[int, int] | None,
    rounded: bool = False,
) -> np.ndarray:
    """One band of ``method``'s result: from its exact integer path when ``rounded`` and the
    method has one that applies to ``x`` (the result is then in ``x``'s dtype), else float."""
    if rounded and method.upsample_rounded is not None:
        result = method.upsample_rounded(x, opts, rows=rows)
        if result is not None:
            return result
    if rows is None:
        return method.upsample(x, opts)
    return method.upsample(x, opts, rows=rows)


def model_range_map(
    dtype: Any, settings: EnlargeSettings
) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """``(storage range, model range)`` when ``settings.input_range`` maps pixels of ``dtype``
    to another range, else None.

    Integer pixels are stored in ``0..255`` (8-bit) or their type's range
    (:func:`upsamp.input_range.storage_range`); a float image has no storage range, so its
    values are taken to be in the model's range already and are never mapped.
    """
    if settings.input_range is None:
        return None
    storage = storage_range(dtype)
    if storage is None or tuple(storage) == tuple(settings.input_range):
        return None
    return storage, settings.input_range


def iter_bands(
    image: imageio.LoadedImage,
    settings: EnlargeSettings,
    *,
    band_values: int | None = None,
    keep_dtype: bool = False,
    rounded: bool = False,
    rows: tuple[int, int] | None = None,
    progress: Progress | None = None,
) -> Iterator[tuple[int, int, np.ndarray, np.ndarray | None]]:
    """Yield ``(start, stop, colour, alpha)`` for consecutive bands of output rows.

    Methods that support row bands are run one band at a time (about ``band_values`` output
    values each, :data:`BAND_VALUES` by default), so no full-size float copy of a big output
    is ever held; other methods yield one band covering everything. ``colour`` is
    ``(rows, W_out[, C])``, ``alpha`` ``(rows, W_out)`` or None. With ``keep_dtype``
    value-copying methods keep the input dtype; with ``rounded`` methods that have an exact
    integer path use it (bands then come rounded, in the input's dtype).
    ``rows=(first, last)`` covers only those output rows (one chunk of a distributed run);
    ``start`` and ``stop`` still count rows of the whole result.

    Colour goes through the image's :func:`colour_plan` (premultiplied alpha, linear light,
    background) around the method, band by band.
    ``progress(done, total)`` is called after each band with the rows done.

    With ``settings.input_range`` (:func:`model_range_map`) what the method enlarges is mapped
    to the model's range once, each band of its result is mapped back (before the colour plan
    finishes it), and the exact integer and dtype-keeping paths are not used; every band is
    then exactly the same rows of the whole result.
    """
    settings = resolve_geometry(settings, image.shape[:2])
    method = get_method(settings.method)
    opts, alpha_indices = _options_for(image, settings, method)
    plan = colour_plan(image, settings)
    ranges = model_range_map(image.pixels.dtype, settings)
    if keep_dtype and method.copies_values and ranges is None:
        opts = replace(opts, keep_dtype=True)
    rounded = rounded and ranges is None
    out_hw = _output_hw(method, image.shape, opts)
    alpha_plan = _alpha_plan(image, method, opts, alpha_indices, out_hw)
    source, alpha_in = plan.source(image), image.alpha
    # alpha is mapped only when it goes through the method itself (a resampling of it to the
    # output size is the same either way)
    alpha_mapped = alpha_plan is not None and alpha_plan[0] is method and ranges is not None
    if ranges is not None:
        source = to_model_range(source, *ranges)
        if alpha_mapped:
            alpha_in = to_model_range(alpha_in, *ranges)

    def back(values: np.ndarray, mapped: bool = True) -> np.ndarray:
        return from_model_range(values, *ranges) if ranges is not None and mapped else values

    # Premultiplied colour is divided by the float alpha; its exact rounding comes later
    alpha_rounded = rounded and not plan.premultiplied
    first, last = rows if rows is not None else (0, out_hw[0])
    if not method.supports_rows or (alpha_plan is not None and not alpha_plan[0].supports_rows):
        colour = back(_run(method, source, opts, None, rounded))
        alpha = (
            None
            if alpha_plan is None
            else back(
                _run(alpha_plan[0], alpha_in, alpha_plan[1], None, alpha_rounded), alpha_mapped
            )
        )
        colour = colour[first:last]
        alpha = None if alpha is None else alpha[first:last]
        colour, alpha = plan.finish(colour, alpha)
        if progress is not None:
            progress(last - first, last - first)
        yield first, last, colour, alpha
        return
    channels = (image.pixels.shape[2] if image.pixels.ndim == 3 else 1) + image.has_alpha
    values = BAND_VALUES if band_values is None else band_values
    step = max(1, values // max(1, out_hw[1] * channels))
    for start in range(first, last, step):
        band = (start, min(start + step, last))
        colour = back(_run(method, source, opts, band, rounded))
        alpha = None
        if alpha_plan is not None:
            alpha = back(
                _run(alpha_plan[0], alpha_in, alpha_plan[1], band, alpha_rounded), alpha_mapped
            )
        colour, alpha = plan.finish(colour, alpha)
        if progress is not None:
            progress(band[1] - first, last - first)
        yield band[0], band[1], colour, alpha


def enlarge_image(
    image: imageio.LoadedImage, settings: EnlargeSettings
) -> tuple[np.ndarray, np.ndarray | None]:
    """Enlarge the colour channels and the alpha plane of ``image`` (whole float results; see
    :func:`enlarge_to_storage` for the memory-bounded path to an image file).

    The alpha plane goes through the same method when the method acts on each channel alone;
    a channel-mixing (4-D) kernel resamples alpha bilinearly to the output size instead. The
    colour follows :func:`colour_plan` (premultiplied by default: see :class:`ColourPlan`).
    """
    bands = list(iter_bands(image, settings, band_values=1 << 62))
    colour = np.concatenate([b[2] for b in bands]) if len(bands) > 1 else bands[0][2]
    alpha = (
        bands[0][3]
        if len(bands) == 1
        else (None if bands[0][3] is None else np.concatenate([b[3] for b in bands]))
    )
    return colour, alpha


def result_span(
    image: imageio.LoadedImage,
    settings: EnlargeSettings,
    *,
    rows: tuple[int, int] | None = None,
) -> tuple[float, float] | None:
    """The lowest and highest finite colour value of the float result (of its output rows
    ``rows`` only, when given), or None when it has no finite value: the span that
    ``range_mode="rescale"`` maps into the storage range. The span of a whole result is the
    lowest low and the highest high of the spans of its row chunks."""
    lows, highs = [], []
    for _, _, colour, _ in iter_bands(image, settings, rows=rows):
        finite = colour[np.isfinite(colour)]
        if finite.size:
            lows.append(float(finite.min()))
            highs.append(float(finite.max()))
    return (min(lows), max(highs)) if lows else None


class _Clipped:
    """The running count of colour values clipped while storing."""

    def __init__(self) -> None:
        self.clipped = 0.0
        self.total = 0

    @property
    def fraction(self) -> float:
        return self.clipped / self.total if self.total else 0.0


def iter_stored_bands(
    image: imageio.LoadedImage,
    settings: EnlargeSettings,
    mode: str,
    *,
    rows: tuple[int, int] | None = None,
    value_span: tuple[float, float] | None = None,
    progress: Progress | None = None,
    tally: _Clipped | None = None,
) -> Iterator[np.ndarray]:
    """Yield consecutive bands of the result of ``image`` stored in ``mode``: ``(rows, W, C)``
    arrays of the mode's storage dtype, alpha last for LA/RGBA (what :func:`enlarge_to_storage`
    returns, cut into bands; each band is a new array). ``tally``, when given, counts the
    clipped colour values; ``progress`` as for :func:`iter_bands` (the first pass of
    ``range_mode="rescale"`` is not counted)."""
    dtype = imageio.storage_dtype(mode)
    colour_mode, has_alpha = imageio.split_mode(mode)
    keep = image.pixels.dtype == dtype and colour_mode == imageio.split_mode(image.mode)[0]
    span = None
    if settings.range_mode == "rescale":
        span = value_span if value_span is not None else result_span(image, settings)
    # Exact integer paths round exactly as to_storage does; with a rescale map they cannot.
    exact = keep and span is None
    alpha_mode = "I;16" if dtype == np.uint16 else "L"
    bands = iter_bands(
        image,
        settings,
        keep_dtype=keep,
        rounded=exact,
        rows=rows,
        progress=progress,
    )
    for _, _, colour, alpha in bands:
        colour3 = colour if colour.ndim == 3 else colour[:, :, None]
        if colour3.dtype == dtype and keep:
            values, fraction = colour3, 0.0
        else:
            values, fraction = imageio.to_storage(
                colour3, colour_mode, range_mode=settings.range_mode, value_span=span
            )
        if tally is not None:
            tally.clipped += fraction * colour3.size
            tally.total += colour3.size
        if not has_alpha:
            yield values
            continue
        band = np.empty(values.shape[:2] + (values.shape[2] + 1,), dtype=dtype)
        band[:, :, :-1] = values
        if alpha is not None:
            band[:, :, -1] = (
                alpha if alpha.dtype == dtype else imageio.to_storage(alpha, alpha_mode)[0]
            )
        yield band


def enlarge_to_storage(
    image: imageio.LoadedImage,
    settings: EnlargeSettings,
    mode: str,
    *,
    rows: tuple[int, int] | None = None,
    value_span: tuple[float, float] | None = None,
    progress: Progress | None = None,
) -> tuple[np.ndarray, float]:
    """Enlarge ``image`` straight into the storage dtype of ``mode`` (alpha last for LA/RGBA),
    band by band. Returns the stored array and the fraction of colour values clipped.

    Rounding is half to even and values are clipped to the mode's range, or, with
    ``range_mode="rescale"``, mapped by one linear map computed from the whole result (a first
    pass over the bands finds its minimum and maximum, unless ``value_span`` gives them: see
    :func:`result_span`). Alpha is always clipped.

    ``rows=(first, last)`` stores only those output rows, exactly as they are in the whole
    stored result (:mod:`upsamp.distributed` computes a big image in such chunks).
    ``progress(done, total)`` is called after each band. The bands are those of
    :func:`iter_stored_bands`.
    """
    tally = _Clipped()
    stored: np.ndarray | None = None
    row = 0
    for band in iter_stored_bands(
        image, settings, mode, rows=rows, value_span=value_span, progress=progress, tally=tally
    ):
        if stored is None:
            out_h = _output_height(image, settings) if rows is None else rows[1] - rows[0]
            stored = np.empty((out_h,) + band.shape[1:], dtype=band.dtype)
        stored[row : row + len(band)] = band
        row += len(band)
    assert stored is not None
    if stored.shape[2] == 1:
        stored = stored[:, :, 0]
    return stored, tally.fraction


def _output_height(image: imageio.LoadedImage, settings: EnlargeSettings) -> int:
    settings = resolve_geometry(settings, image.shape[:2])
    method = get_method(settings.method)
    opts, _ = _options_for(image, settings, method)
    return _output_hw(method, image.shape, opts)[0]


def output_channels(image: imageio.LoadedImage, settings: EnlargeSettings) -> int:
    """Colour channels of the result: a 4-D kernel may change them, and a background that is
    not gray makes a gray image with alpha RGB."""
    channels = image.pixels.shape[2] if image.pixels.ndim == 3 else 1
    out = int(get_method(settings.method).output_channels(channels, settings.options))
    if out == 1 and colour_plan(image, settings).to_rgb:
        return 3
    return out


def _saved_mode(image: imageio.LoadedImage, channels: int, has_alpha: bool) -> str:
    """The Pillow mode of the output: the input's, unless a 4-D kernel or a background changed
    the channel count, or a background removed alpha."""
    base = imageio.split_mode(image.mode)[0]
    deep = imageio.storage_dtype(base) == np.uint16
    if channels == 3 and base not in ("RGB", "RGB;16"):
        base = "RGB;16" if deep else "RGB"
    elif channels == 1 and base in ("RGB", "RGB;16"):
        base = "I;16" if deep else "L"
    elif channels not in (1, 3):
        raise OutputError(
            f"the result has {channels} channels; only 1 or 3 can be saved as an image "
            "(save it as .npy instead)" + _layout_hint(image)
        )
    return imageio.with_alpha(base) if has_alpha else base


def files_read(input_path: str | Path, settings: EnlargeSettings) -> list[Path]:
    """Every file an enlargement reads, the input first (kernel, indices and guide files
    follow): none of them may be an output."""
    kernel = settings.options.kernel
    source = getattr(kernel, "source", kernel)
    read = [Path(input_path), settings.indices_file, settings.guide_file]
    if isinstance(source, (str, Path)):
        read.append(Path(source))
    return [p for p in read if p is not None]


def prepare(image: imageio.LoadedImage, settings: EnlargeSettings) -> EnlargeSettings:
    """Settings made concrete for one image: a size as typed resolved against the image's
    size, max-unpool positions read from the indices file or found in the guide (with their
    stride and output size), and a channel-mixing kernel checked against the image's channels,
    so that errors name the file at fault. ``--linear`` on an array is refused here."""
    settings = resolve_geometry(settings, image.shape[:2])
    colour_plan(image, settings)  # refuses --linear where there is no transfer function
    method = get_method(settings.method)
    kernel = settings.options.kernel
    channels = image.pixels.shape[2] if image.pixels.ndim == 3 else 1
    if method.fit_channels is not None:
        try:
            fitted = method.fit_channels(channels, settings.options)
        except KernelError as exc:  # the channels do not fit: say how an array was read
            raise KernelError(f"{exc}{_layout_hint(image)}") from None
        settings = replace(settings, options=fitted)
        kernel = settings.options.kernel
    needed = method.input_channels(settings.options)
    if needed is not None and needed != channels:
        origin = kernel.source if isinstance(kernel, Kernel) else settings.method
        shape = f" (shape {tuple(kernel.weight.shape)})" if isinstance(kernel, Kernel) else ""
        raise KernelError(
            f"{origin}: kernel takes {needed} input channels{shape} but the image has {channels}"
            + _layout_hint(image)
        )
    if not method.needs_positions or settings.options.indices is not None:
        return settings
    if settings.indices_file is None and settings.guide_file is None:
        return settings
    settings = read_positions(settings)
    if settings.indices_file is not None:
        output_shape(image.shape, settings)  # checks that the positions fit the input
    opts, alpha_indices = _options_for(image, settings, method)
    return replace(settings, options=opts, alpha_indices=alpha_indices)


def _layout_hint(image: imageio.LoadedImage) -> str:
    """For an array input: how its axes were read (a channels-first array is the usual
    mistake)."""
    if image.format != "NPY":
        return ""
    shape = tuple(image.pixels.shape) + ((1,) if image.pixels.ndim == 2 else ())
    hint = f"; arrays are read as (H, W, C), so this {shape} array is {format_size(shape)} with "
    hint += f"{shape[2]} channels"
    if image.pixels.ndim == 3 and shape[0] <= 4 < shape[2]:
        hint += " (a channels-first (C, H, W) array needs np.moveaxis(a, 0, -1) first)"
    return hint


@dataclass(frozen=True)
class Compute:
    """Where :func:`enlarge_file` computes a loaded image: three functions with the signatures
    (and results) of :func:`enlarge_to_storage`, :func:`enlarge_image` and
    :func:`estimate_bytes` (the memory this process needs, for the budget check).

    :data:`LOCAL_COMPUTE` computes here; :func:`upsamp.distributed.cluster_compute` computes
    chunks of output rows on a Dask cluster and gathers them.
    """

    storage: Callable[..., tuple[np.ndarray, float]] = enlarge_to_storage
    arrays: Callable[..., tuple[np.ndarray, np.ndarray | None]] = enlarge_image
    working_bytes: Callable[[tuple[int, ...], tuple[int, ...]], int] = estimate_bytes
    #: The stored bands are computed here, so a single image goes to the encoder band by band
    #: (:func:`iter_stored_bands`) and its whole output never exists in memory.
    streams: bool = False


#: Everything computed in this process, band by band, streamed to the encoder.
LOCAL_COMPUTE = Compute(streams=True)


def load_frames(input_path: str | Path, settings: EnlargeSettings) -> list[imageio.LoadedImage]:
    """The frames ``settings`` enlarges: ``settings.frame`` alone, else every frame (an array,
    a still image: one). ``-`` reads standard input."""
    return imageio.load_input_frames(
        input_path, max_pixels=settings.max_pixels, frame=settings.frame
    )


def _animation(frames: list[imageio.LoadedImage]) -> dict[str, Any]:
    """``durations``, ``loop`` and ``disposal`` for :func:`imageio.save_frames` (those the
    input has)."""
    if len(frames) < 2:
        return {}
    out: dict[str, Any] = {}
    durations = [f.animation.get("duration") for f in frames]
    if all(d is not None for d in durations):
        out["durations"] = [int(d) for d in durations]
    if frames[0].animation.get("loop") is not None:
        out["loop"] = int(frames[0].animation["loop"])
    disposal = [f.animation.get("disposal") for f in frames]
    if all(d is not None for d in disposal):
        out["disposal"] = [int(d) for d in disposal]
    return out


def _frames_bytes(
    compute: Compute,
    method: Method,
    image: imageio.LoadedImage,
    out_shape: tuple[int, ...],
    mode: str | None,
    frames: int,
) -> Callable[[tuple[int, ...], tuple[int, ...]], int]:
    """The working-memory estimate for the budget check: band-aware for work done here by a
    method that runs in bands (:func:`upsamp.resources.banded_bytes`), else ``compute``'s own;
    with several frames, every stored frame but the one in progress is added."""
    itemsize = imageio.storage_dtype(mode).itemsize if mode is not None else 4
    out_values = int(np.prod(out_shape)) + (out_shape[0] * out_shape[1] if image.has_alpha else 0)

    def estimate(input_shape: tuple[int, ...], shape: tuple[int, ...]) -> int:
        if compute is LOCAL_COMPUTE and method.supports_rows and mode is not None:
            one = banded_bytes(
                input_shape,
                shape,
                storage_itemsize=itemsize,
                alpha=image.has_alpha,
                band_values=BAND_VALUES,
            )
        else:
            one = compute.working_bytes(input_shape, shape)
        return one + (frames - 1) * out_values * itemsize

    return estimate


def enlarge_file(
    input_path: str | Path,
    output_path: str | Path | None,
    settings: EnlargeSettings,
    *,
    keep_arrays: bool = False,
    compute: Compute = LOCAL_COMPUTE,
    progress: Progress | None = None,
) -> EnlargeOutcome:
    """Load ``input_path``, enlarge it with ``settings`` and write ``output_path`` atomically.

    Every frame of an animation or multi-page TIFF is enlarged (each whole, as a viewer shows
    it) and written with its duration, the loop count and disposal, unless ``settings.frame``
    picks one; an output format that cannot hold several frames is refused before any work.
    ``-`` as input reads standard input; ``-`` as output writes to standard output (the
    format from ``settings.output_format`` or the input's).

    ``compute`` says where the enlargement is computed (:class:`Compute`); loading, checking
    and writing always happen here. Computed here, a single image goes to the encoder band by
    band (:func:`upsamp.imageio.save_stored_bands`). ``progress(done, total)`` counts output
    rows over all frames (work done here only).

    Raises an :class:`~upsamp.errors.UpsampError` subclass for every expected problem; nothing is
    written then.
    """
    started = time.perf_counter()
    input_path = Path(input_path)
    frames = load_frames(input_path, settings)
    image = frames[0]
    settings = prepare(image, settings)
    if output_path is None:
        output_path = default_output_path(input_path, settings)
    output_path = Path(output_path)
    to_stdout = str(output_path) == "-"
    wanted = settings.output_format
    if to_stdout and wanted is None:
        wanted = image.format
    fmt = imageio.output_format(output_path, wanted)
    if not to_stdout:
        imageio.check_target(
            output_path, settings.overwrite, source=files_read(input_path, settings)
        )
    imageio.check_frame_count(output_path, fmt, len(frames))
    method = get_method(settings.method)
    plan = colour_plan(image, settings)
    channels = output_channels(image, settings)
    keeps_alpha = image.has_alpha and plan.background is None
    mode = None if fmt == "NPY" else _saved_mode(image, channels, keeps_alpha)
    out_shape = output_shape(image.shape, settings)
    check_output_budget(
        image.shape,
        out_shape,
        settings.max_output_pixels,
        estimate=_frames_bytes(compute, method, image, out_shape, mode, len(frames)),
    )
    info = imageio.strip_metadata(image.info) if settings.strip else dict(image.info)
    notes = list(dict.fromkeys(note for f in frames for note in f.notes))
    notes += list(plan.notes)
    colour = alpha = None
    if fmt == "NPY" or keep_arrays:
        colour, alpha = compute.arrays(image, settings)
    encoder = None
    if fmt == "NPY":
        assert colour is not None
        result = (
            colour
            if alpha is None
            else np.concatenate(
                [colour if colour.ndim == 3 else colour[:, :, None], alpha[:, :, None]], axis=2
            )
        )
        notes += imageio.metadata_notes(fmt, info)
        imageio.save_array(output_path, result, overwrite=settings.overwrite)
        clipped = 0.0
        result_shape = tuple(colour.shape)
    else:
        assert mode is not None
        encoding = imageio.encoder_settings(
            fmt,
            source=image.encoding,
            quality=settings.quality,
            subsampling=settings.subsampling,
            tiff_compression=settings.tiff_compression,
            compress_level=settings.compress_level,
        )
        encoder = encoding.to_json()
        notes += imageio.metadata_notes(fmt, info, mode)
        storage = compute.storage
        rows_each = out_shape[0]
        stored_frames = []
        clipped_sum = 0.0
        if compute.streams and len(frames) == 1:
            tally = _Clipped()
            imageio.save_stored_bands(
                output_path,
                iter_stored_bands(image, settings, mode, progress=progress, tally=tally),
                shape=out_shape[:2],
                mode=mode,
                info=info,
                overwrite=settings.overwrite,
                encoding=encoding,
                format=fmt,
            )
            clipped_sum = tally.fraction
            frames_to_store = []
        else:
            frames_to_store = frames
        for index, frame in enumerate(frames_to_store):
            if progress is not None and compute.storage is enlarge_to_storage:
                storage = functools.partial(
                    enlarge_to_storage,
                    progress=_frame_progress(progress, index, rows_each, len(frames)),
                )
            stored, clipped_one = storage(frame, settings, mode)
            stored_frames.append(stored)
            clipped_sum += clipped_one
        clipped = clipped_sum / len(frames)
        if stored_frames:
            imageio.save_frames(
                output_path,
                stored_frames,
                mode=mode,
                info=info,
                overwrite=settings.overwrite,
                encoding=encoding,
                format=fmt,
                **_animation(frames),
            )
        out_hw = tuple(out_shape[:2])
        result_shape = out_hw + ((channels,) if channels > 1 else ())
        if image.pixels.ndim == 3 and channels == 1:
            result_shape = out_hw + (1,)
    return EnlargeOutcome(
        input=input_path,
        output=output_path,
        method=settings.method,
        parameters=settings.parameters(),
        input_shape=tuple(image.shape),
        output_shape=result_shape,
        clipped_fraction=float(clipped),
        seconds=time.perf_counter() - started,
        result=colour if keep_arrays else None,
        source=image.pixels if keep_arrays else None,
        frames=len(frames),
        input_frames=image.frame_count,
        encoder=encoder,
        notes=notes,
    )


def _frame_progress(progress: Progress, index: int, rows: int, frames: int) -> Progress:
    """``progress`` of one frame's rows counted over every frame."""

    def report(done: int, total: int) -> None:
        progress(index * rows + done, frames * rows)

    return report
