"""The job behind ``upsamp enlarge`` (and each file of ``upsamp batch``), with no Click and no Rich.

Data flows one way: :mod:`upsamp.imageio` loads the file, a registered method enlarges the colour
channels (and the alpha plane on its own, never mixed into colour), and :mod:`upsamp.imageio`
writes the result atomically.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from . import imageio
from .errors import KernelError, OutputError
from .indices import (
    PoolIndices,
    check_pooled_size,
    guide_positions,
    load_indices,
    split_positions,
)
from .kernels import Kernel
from .methods import Method, MethodOptions, get_method
from .methods.registry import DEFAULT_METHOD
from .resources import DEFAULT_MAX_OUTPUT_PIXELS, check_output_budget, estimate_bytes

__all__ = [
    "Compute",
    "EnlargeSettings",
    "EnlargeOutcome",
    "DEFAULT_MAX_OUTPUT_PIXELS",
    "LOCAL_COMPUTE",
    "default_output_path",
    "enlarge_file",
    "enlarge_image",
    "enlarge_to_storage",
    "output_shape",
    "read_positions",
    "result_span",
]

#: Output values per band of the banded pipeline (16 MiB of float32).
BAND_VALUES = 1 << 22


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

    def parameters(self) -> dict[str, Any]:
        """The effective parameters, JSON-ready."""
        opts = self.options
        out: dict[str, Any] = {"stride": list(opts.stride)}
        method = get_method(self.method)
        if "scale" in method.uses and opts.scale is not None:
            out["scale"] = opts.scale if isinstance(opts.scale, float) else list(opts.scale)
        if "size" in method.uses and opts.size is not None:
            out["size"] = [opts.size[1], opts.size[0]]
        if "align_corners" in method.uses:
            out["align_corners"] = opts.align_corners
        kernel = opts.kernel
        if isinstance(kernel, Kernel):
            out["kernel"] = {
                "name": kernel.name,
                "shape": list(kernel.weight.shape),
                "stride": list(kernel.stride),
                "padding": list(kernel.padding),
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

    def to_json(self) -> dict[str, Any]:
        """JSON-ready summary (no arrays)."""
        return {
            "input": str(self.input),
            "output": str(self.output),
            "method": self.method,
            "parameters": self.parameters,
            "input_shape": list(self.input_shape),
            "output_shape": list(self.output_shape),
            "clipped_fraction": self.clipped_fraction,
            "seconds": round(self.seconds, 6),
        }


def default_output_path(
    input_path: Path, settings: EnlargeSettings, suffix: str | None = None
) -> Path:
    """``<stem>_<method>x<stride><ext>`` next to the input (``x1.5`` for a scale, ``_WxH`` for a
    size); a ``.npy`` input gives a ``.npy`` output."""
    opts = settings.options
    method = get_method(settings.method)
    if isinstance(opts.kernel, Kernel):
        opts = replace(opts, stride=opts.kernel.stride)
    elif method.needs_positions and opts.indices is None and settings.indices_file:
        opts = replace(opts, stride=_positions(settings).stride)
    tag = method.output_tag(opts)
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


def output_shape(input_shape: tuple[int, ...], settings: EnlargeSettings) -> tuple[int, ...]:
    """Output shape of ``settings`` for an input shape (no indices file is read for max-unpool
    when the file states the size; a guide's size is used as is)."""
    method = get_method(settings.method)
    opts = settings.options
    if method.needs_positions and opts.indices is None and settings.indices_file:
        found = _positions(settings)
        check_pooled_size(found, input_shape, str(settings.indices_file))
        opts = replace(opts, stride=found.stride, output_size=found.input_shape)
    h, w = method.output_shape((int(input_shape[0]), int(input_shape[1])), opts)
    c_in = int(input_shape[2]) if len(input_shape) == 3 else 1
    c_out = method.output_channels(c_in, opts)
    return (h, w, c_out) if c_out > 1 or len(input_shape) == 3 else (h, w)


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


def iter_bands(
    image: imageio.LoadedImage,
    settings: EnlargeSettings,
    *,
    band_values: int = BAND_VALUES,
    keep_dtype: bool = False,
    rounded: bool = False,
    rows: tuple[int, int] | None = None,
) -> Iterator[tuple[int, int, np.ndarray, np.ndarray | None]]:
    """Yield ``(start, stop, colour, alpha)`` for consecutive bands of output rows.

    Methods that support row bands are run one band at a time (about ``band_values`` output
    values each), so no full-size float copy of a big output is ever held; other methods yield
    one band covering everything. ``colour`` is ``(rows, W_out[, C])``, ``alpha`` ``(rows,
    W_out)`` or None. With ``keep_dtype`` value-copying methods keep the input dtype; with
    ``rounded`` methods that have an exact integer path use it (bands then come rounded, in the
    input's dtype).
    ``rows=(first, last)`` covers only those output rows (one chunk of a distributed run);
    ``start`` and ``stop`` still count rows of the whole result.
    """
    method = get_method(settings.method)
    opts, alpha_indices = _options_for(image, settings, method)
    if keep_dtype and method.copies_values:
        opts = replace(opts, keep_dtype=True)
    out_hw = method.output_shape(image.shape[:2], opts)
    alpha_plan = _alpha_plan(image, method, opts, alpha_indices, out_hw)
    if not method.supports_rows or (alpha_plan is not None and not alpha_plan[0].supports_rows):
        colour = _run(method, image.pixels, opts, None, rounded)
        alpha = (
            None
            if alpha_plan is None
            else _run(alpha_plan[0], image.alpha, alpha_plan[1], None, rounded)
        )
        first, last = rows if rows is not None else (0, colour.shape[0])
        yield first, last, colour[first:last], None if alpha is None else alpha[first:last]
        return
    channels = (image.pixels.shape[2] if image.pixels.ndim == 3 else 1) + image.has_alpha
    step = max(1, band_values // max(1, out_hw[1] * channels))
    first, last = rows if rows is not None else (0, out_hw[0])
    for start in range(first, last, step):
        band = (start, min(start + step, last))
        colour = _run(method, image.pixels, opts, band, rounded)
        alpha = None
        if alpha_plan is not None:
            alpha = _run(alpha_plan[0], image.alpha, alpha_plan[1], band, rounded)
        yield band[0], band[1], colour, alpha


def enlarge_image(
    image: imageio.LoadedImage, settings: EnlargeSettings
) -> tuple[np.ndarray, np.ndarray | None]:
    """Enlarge the colour channels and, separately, the alpha plane of ``image`` (whole float
    results; see :func:`enlarge_to_storage` for the memory-bounded path to an image file).

    The alpha plane goes through the same method when the method acts on each channel alone;
    a channel-mixing (4-D) kernel resamples alpha bilinearly to the output size instead.
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


def enlarge_to_storage(
    image: imageio.LoadedImage,
    settings: EnlargeSettings,
    mode: str,
    *,
    rows: tuple[int, int] | None = None,
    value_span: tuple[float, float] | None = None,
) -> tuple[np.ndarray, float]:
    """Enlarge ``image`` straight into the storage dtype of ``mode`` (alpha last for LA/RGBA),
    band by band. Returns the stored array and the fraction of colour values clipped.

    Rounding is half to even and values are clipped to the mode's range, or, with
    ``range_mode="rescale"``, mapped by one linear map computed from the whole result (a first
    pass over the bands finds its minimum and maximum, unless ``value_span`` gives them: see
    :func:`result_span`).

    ``rows=(first, last)`` stores only those output rows, exactly as they are in the whole
    stored result (:mod:`upsamp.distributed` computes a big image in such chunks).
    """
    dtype = imageio.storage_dtype(mode)
    colour_mode, has_alpha = imageio.split_mode(mode)
    keep = image.pixels.dtype == dtype and colour_mode == imageio.split_mode(image.mode)[0]
    span = None
    if settings.range_mode == "rescale":
        span = value_span if value_span is not None else result_span(image, settings)
    stored: np.ndarray | None = None
    clipped = 0
    total = 0
    first = 0 if rows is None else rows[0]
    # Exact integer paths round exactly as to_storage does; with a rescale map they cannot.
    exact = keep and span is None
    bands = iter_bands(image, settings, keep_dtype=keep, rounded=exact, rows=rows)
    for start, stop, colour, alpha in bands:
        if stored is None:
            width = colour.shape[1]
            channels = (colour.shape[2] if colour.ndim == 3 else 1) + has_alpha
            out_h = _output_height(image, settings) if rows is None else rows[1] - rows[0]
            stored = np.empty((out_h, width, channels), dtype=dtype)
        colour3 = colour if colour.ndim == 3 else colour[:, :, None]
        if colour3.dtype == dtype and keep:
            values, fraction = colour3, 0.0
        else:
            values, fraction = imageio.to_storage(
                colour3, colour_mode, range_mode=settings.range_mode, value_span=span
            )
        stored[start - first : stop - first, :, : colour3.shape[2]] = values
        clipped += fraction * colour3.size
        total += colour3.size
        if alpha is not None:
            stored[start - first : stop - first, :, -1] = (
                alpha if alpha.dtype == dtype else imageio.to_storage(alpha, "L")[0]
            )
    assert stored is not None
    if stored.shape[2] == 1:
        stored = stored[:, :, 0]
    return stored, (clipped / total if total else 0.0)


def _output_height(image: imageio.LoadedImage, settings: EnlargeSettings) -> int:
    method = get_method(settings.method)
    opts, _ = _options_for(image, settings, method)
    return method.output_shape(image.shape[:2], opts)[0]


def _output_channels(image: imageio.LoadedImage, settings: EnlargeSettings) -> int:
    """Colour channels of the result (a 4-D kernel may change them)."""
    channels = image.pixels.shape[2] if image.pixels.ndim == 3 else 1
    return int(get_method(settings.method).output_channels(channels, settings.options))


def _saved_mode(image: imageio.LoadedImage, channels: int) -> str:
    """The Pillow mode of the output: the input's, unless a 4-D kernel changed the channel count."""
    base = imageio.split_mode(image.mode)[0]
    deep = imageio.storage_dtype(base) == np.uint16
    if channels == 3 and base not in ("RGB", "RGB;16"):
        base = "RGB;16" if deep else "RGB"
    elif channels == 1 and base in ("RGB", "RGB;16"):
        base = "I;16" if deep else "L"
    elif channels not in (1, 3):
        raise OutputError(
            f"the result has {channels} channels; only 1 or 3 can be saved as an image "
            "(save it as .npy instead)"
        )
    return imageio.with_alpha(base) if image.has_alpha else base


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
    """Settings made concrete for one image: max-unpool positions read from the indices file or
    found in the guide (with their stride and output size), and a channel-mixing kernel checked
    against the image's channels, so that errors name the file at fault."""
    method = get_method(settings.method)
    kernel = settings.options.kernel
    if isinstance(kernel, Kernel) and kernel.weight.ndim == 4:
        channels = image.pixels.shape[2] if image.pixels.ndim == 3 else 1
        if kernel.weight.shape[0] != channels:
            raise KernelError(
                f"{kernel.source}: kernel has {kernel.weight.shape[0]} input channels (shape "
                f"{tuple(kernel.weight.shape)}) but the image has {channels}"
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


#: Everything computed in this process, band by band.
LOCAL_COMPUTE = Compute()


def enlarge_file(
    input_path: str | Path,
    output_path: str | Path | None,
    settings: EnlargeSettings,
    *,
    keep_arrays: bool = False,
    compute: Compute = LOCAL_COMPUTE,
) -> EnlargeOutcome:
    """Load ``input_path``, enlarge it with ``settings`` and write ``output_path`` atomically.

    ``compute`` says where the enlargement is computed (:class:`Compute`); loading, checking
    and writing always happen here.

    Raises an :class:`~upsamp.errors.UpsampError` subclass for every expected problem; nothing is
    written then.
    """
    started = time.perf_counter()
    input_path = Path(input_path)
    image = imageio.load_input(input_path, max_pixels=settings.max_pixels)
    settings = prepare(image, settings)
    if output_path is None:
        output_path = default_output_path(input_path, settings)
    output_path = Path(output_path)
    fmt = imageio.output_format(output_path)
    imageio.check_target(output_path, settings.overwrite, source=files_read(input_path, settings))
    check_output_budget(
        image.shape,
        output_shape(image.shape, settings),
        settings.max_output_pixels,
        estimate=compute.working_bytes,
    )
    colour = alpha = None
    if fmt == "NPY" or keep_arrays:
        colour, alpha = compute.arrays(image, settings)
    if fmt == "NPY":
        result = (
            colour
            if alpha is None
            else np.concatenate(
                [colour if colour.ndim == 3 else colour[:, :, None], alpha[:, :, None]], axis=2
            )
        )
        imageio.save_array(output_path, result, overwrite=settings.overwrite)
        clipped = 0.0
        result_shape = tuple(colour.shape)
    else:
        channels = _output_channels(image, settings)
        mode = _saved_mode(image, channels)
        stored, clipped = compute.storage(image, settings, mode)
        imageio.save_stored(
            output_path,
            stored,
            mode=mode,
            info=image.info,
            overwrite=settings.overwrite,
            compress_level=settings.compress_level,
            quality=settings.quality,
        )
        result_shape = stored.shape[:2] + ((channels,) if channels > 1 else ())
        if image.pixels.ndim == 3 and channels == 1:
            result_shape = stored.shape[:2] + (1,)
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
    )
