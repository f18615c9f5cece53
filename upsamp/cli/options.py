"""Option definitions shared by ``enlarge`` and ``batch`` (written once, applied as a stack),
the parameter types they use, and the translation of parsed options into
:class:`upsamp.pipeline.EnlargeSettings`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ..errors import UpsampError

F = Callable[..., Any]


class PairType(click.ParamType):
    """An int or ``H,W`` pair of ints (``--padding`` also accepts ``same``)."""

    def __init__(self, minimum: int, allow_same: bool = False) -> None:
        self.minimum = minimum
        self.allow_same = allow_same
        self.name = "N|H,W" + ("|same" if allow_same else "")

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple) or value == "same" and self.allow_same:
            return value
        text = str(value).strip()
        try:
            parts = [int(p) for p in text.replace("x", ",").split(",")]
        except ValueError:
            self.fail(f"{value!r} is not an integer or an H,W pair", param, ctx)
        if len(parts) == 1:
            parts = parts * 2
        if len(parts) != 2:
            self.fail(f"{value!r} must be one integer or two (H,W)", param, ctx)
        if min(parts) < self.minimum:
            self.fail(f"{value!r} must be >= {self.minimum}", param, ctx)
        return (parts[0], parts[1])


class ScaleType(click.ParamType):
    """A positive float, or ``SY,SX``."""

    name = "F|SY,SX"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, (float, tuple)):
            return value
        try:
            parts = [float(p) for p in str(value).split(",")]
        except ValueError:
            self.fail(f"{value!r} is not a number or an SY,SX pair", param, ctx)
        if len(parts) not in (1, 2) or not all(0 < p < float("inf") for p in parts):
            self.fail(f"{value!r} must be one or two positive numbers", param, ctx)
        return parts[0] if len(parts) == 1 else (parts[0], parts[1])


class SizeType(click.ParamType):
    """``WxH`` in pixels, returned as ``(h, w)``."""

    name = "WxH"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        try:
            w, h = (int(p) for p in str(value).lower().split("x"))
        except ValueError:
            self.fail(f"{value!r} is not WIDTHxHEIGHT (e.g. 1920x1080)", param, ctx)
        if w < 1 or h < 1:
            self.fail(f"{value!r}: width and height must be >= 1", param, ctx)
        return (h, w)


class MethodType(click.ParamType):
    """A registered upsampling method (built-in or plugin)."""

    name = "METHOD"

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        from ..methods import available_methods

        return "[" + "|".join(available_methods()) + "]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from ..methods import available_methods

        if value not in available_methods():
            self.fail(f"{value!r} is not one of {', '.join(available_methods())}", param, ctx)
        return value


EDGE_CHOICES = ("zero", "replicate", "reflect")


def stride_option(default: str | None, help: str) -> F:
    """``-s/--stride N|H,W``: every command that takes a stride spells it the same way."""
    return click.option(
        "-s", "--stride", type=PairType(1), default=default, show_default=default is not None,
        help=help,
    )  # fmt: skip


def overwrite_option(help: str = "Replace existing output files.") -> F:
    """``--overwrite``: nothing is replaced without it."""
    return click.option("--overwrite", is_flag=True, help=help)


#: ``--max-pixels``, the decompression-bomb guard of every command that reads images.
max_pixels_option = click.option(
    "--max-pixels",
    type=click.IntRange(min=1),
    help="Refuse inputs with more pixels (decompression-bomb guard) [default: Pillow's].",
)


class SchedulerType(click.ParamType):
    """``local`` or a Dask scheduler address (checked without importing Dask)."""

    name = "ADDRESS|local"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from ..distributed import check_scheduler  # light: Dask loads only when connecting
        from ..errors import ParameterError

        try:
            return check_scheduler(str(value))
        except ParameterError as exc:
            self.fail(str(exc), param, ctx)


def scheduler_option(help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--scheduler ADDRESS|local``, shared by ``enlarge`` and ``batch`` (each says what runs
    on the cluster)."""
    address = click.option(
        "--scheduler",
        type=SchedulerType(),
        metavar="ADDRESS|local",
        help=help + " Needs the 'distributed' extra: pip install 'upsamp[distributed]'.",
    )
    timeout = click.option(
        "--scheduler-timeout",
        type=click.FloatRange(0, 3600, min_open=True),
        default=10.0,
        show_default=True,
        metavar="SECONDS",
        help="With --scheduler ADDRESS: how long to wait for the scheduler to answer, and for "
        "a worker when the cluster has none, before giving up with an error.",
    )

    def both(function: Callable[..., Any]) -> Callable[..., Any]:
        return address(timeout(function))

    return both


#: Every option of the method and its parameters; ``enlarge`` and ``batch`` both apply it.
_METHOD_OPTIONS: list[F] = [
    click.option(
        "-m",
        "--method",
        type=MethodType(),
        default="bilinear",
        show_default=True,
        help="Upsampling method.",
    ),
    stride_option(
        None,
        "Integer enlargement factor, N or H,W (every method; default 2, or a kernel file's "
        "own stride).",
    ),
    click.option("--scale", type=ScaleType(), help="Non-integer factor (nearest, bilinear)."),
    click.option("--size", type=SizeType(), help="Exact output size WxH (nearest, bilinear)."),
    click.option("--align-corners", is_flag=True, help="Bilinear: PyTorch align_corners=True."),
    click.option(
        "-k",
        "--kernel",
        metavar="PRESET|FILE",
        help="Transconv kernel: a preset (see 'upsamp kernels list') or a .npy/.json file "
        "[default: bilinear].",
    ),
    click.option(
        "--padding",
        type=PairType(0, allow_same=True),
        help="Transconv padding; 'same' makes the output exactly stride times larger.",
    ),
    click.option("--output-padding", type=PairType(0), help="Transconv output_padding."),
    click.option("--dilation", type=PairType(1), help="Transconv kernel dilation."),
    click.option(
        "--edge",
        type=click.Choice(EDGE_CHOICES),
        help="Transconv border handling [default: the kernel's own; zero for files].",
    ),
    click.option(
        "--normalize",
        is_flag=True,
        help="Scale the kernel so its mean phase sum is 1 (a flat image keeps its level).",
    ),
]

#: Max-unpool positions for one image (``enlarge``); ``batch`` takes mirrored folders instead.
_UNPOOL_OPTIONS: list[F] = [
    click.option(
        "--indices",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Max-unpool: indices .npz written by 'upsamp pool --indices-out'.",
    ),
    click.option(
        "--guide",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Max-unpool: an image at the output size whose maxima give the positions.",
    ),
]

#: Output handling shared by ``enlarge`` and ``batch``.
_OUTPUT_OPTIONS: list[F] = [
    click.option(
        "--range",
        "range_mode",
        type=click.Choice(("clip", "rescale")),
        default="clip",
        show_default=True,
        help="Integer outputs: clip to the type's range, or squeeze out-of-range results in.",
    ),
    overwrite_option(),
    max_pixels_option,
    click.option(
        "--max-output-pixels",
        type=click.IntRange(min=1),
        default=None,
        help="Refuse outputs with more pixels [default: 178,956,970].",
    ),
    click.option(
        "--compress-level",
        type=click.IntRange(0, 9),
        help="PNG compression level (0 fastest .. 9 smallest) [default: 6].",
    ),
    click.option(
        "--quality", type=click.IntRange(1, 100), help="JPEG/WebP quality [default: 95]."
    ),
]


def _stack(options: list[F]) -> Callable[[F], F]:
    def decorate(func: F) -> F:
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


method_options = _stack(_METHOD_OPTIONS)
unpool_options = _stack(_UNPOOL_OPTIONS)
output_options = _stack(_OUTPUT_OPTIONS)

_METHOD_ONLY = {
    "scale": ("nearest", "bilinear"),
    "size": ("nearest", "bilinear"),
    "align_corners": ("bilinear",),
    "kernel": ("transconv",),
    "padding": ("transconv",),
    "output_padding": ("transconv",),
    "dilation": ("transconv",),
    "edge": ("transconv",),
    "normalize": ("transconv",),
    "indices": ("max-unpool",),
    "guide": ("max-unpool",),
}


def settings_from_options(params: dict[str, Any], *, require_indices: bool = True) -> Any:
    """Turn the parsed shared options into :class:`upsamp.pipeline.EnlargeSettings`.

    Options that do not apply to the chosen built-in method are usage errors.
    """
    from ..methods import MethodOptions
    from ..pipeline import DEFAULT_MAX_OUTPUT_PIXELS, EnlargeSettings, build_kernel

    method = params["method"]
    for key, allowed in _METHOD_ONLY.items():
        value = params.get(key)
        if value not in (None, False) and method not in allowed and method in _BUILTIN:
            flag = "--" + key.replace("_", "-")
            raise click.UsageError(f"{flag} applies to {' and '.join(allowed)} only, not {method}")
    if params.get("scale") is not None and params.get("size") is not None:
        raise click.UsageError("give --scale or --size, not both")
    if params.get("indices") is not None and params.get("guide") is not None:
        raise click.UsageError("give --indices or --guide, not both")
    if (
        method == "max-unpool"
        and require_indices
        and not (params.get("indices") or params.get("guide"))
    ):
        raise click.UsageError(
            "max-unpool needs the positions of the maxima: pass --indices FILE.npz (write it with "
            "'upsamp pool IN -o OUT --stride N --indices-out FILE.npz') or --guide IMAGE"
        )
    stride = params.get("stride")
    stride_given = stride is not None
    if method == "max-unpool" and params.get("indices") is not None:
        from ..indices import load_indices

        found = load_indices(params["indices"])
        if stride_given and tuple(stride) != tuple(found.stride):
            raise click.UsageError(
                f"--stride {stride[0]},{stride[1]} differs from the stride "
                f"{found.stride[0]},{found.stride[1]} recorded in {params['indices']}"
            )
        stride, stride_given = found.stride, True
    kernel = None
    if method == "transconv":
        kernel = build_kernel(
            params.get("kernel"),
            stride=stride,
            padding=params.get("padding"),
            output_padding=params.get("output_padding"),
            dilation=params.get("dilation"),
            edge=params.get("edge"),
            normalize_phases=bool(params.get("normalize")),
        )
        stride = kernel.stride
    options = MethodOptions(
        stride=stride or (2, 2),
        scale=params.get("scale"),
        size=params.get("size"),
        align_corners=bool(params.get("align_corners")),
        kernel=kernel,
    )
    return EnlargeSettings(
        method=method,
        options=options,
        indices_file=params.get("indices"),
        guide_file=params.get("guide"),
        range_mode=params.get("range_mode") or "clip",
        overwrite=bool(params.get("overwrite")),
        max_pixels=params.get("max_pixels"),
        max_output_pixels=params.get("max_output_pixels") or DEFAULT_MAX_OUTPUT_PIXELS,
        compress_level=params.get("compress_level"),
        quality=params.get("quality"),
        stride_given=stride_given,
    )


_BUILTIN = ("nearest", "bilinear", "bed-of-nails", "max-unpool", "transconv")

__all__ = [
    "PairType",
    "ScaleType",
    "SizeType",
    "MethodType",
    "method_options",
    "scheduler_option",
    "SchedulerType",
    "max_pixels_option",
    "overwrite_option",
    "stride_option",
    "unpool_options",
    "output_options",
    "settings_from_options",
    "UpsampError",
]
