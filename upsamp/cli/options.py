"""Option definitions shared by ``enlarge`` and ``batch`` (written once, applied as a stack),
the parameter types they use, and the translation of parsed options into
:class:`upsamp.pipeline.EnlargeSettings`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import UpsampError
from ..input_range import INPUT_RANGES
from ..weights import LAYOUTS

if TYPE_CHECKING:
    from ..methods import Method

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
    """A positive factor or percentage (``1.5``, ``200%``), or ``SY,SX``
    (:func:`upsamp.sizespec.parse_scale`)."""

    name = "F|N%|SY,SX"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from ..errors import ParameterError
        from ..sizespec import parse_scale

        if isinstance(value, (float, tuple)):
            return value
        try:
            scale = parse_scale(str(value))
        except ParameterError as exc:
            self.fail(str(exc), param, ctx)
        from ..errors import ShrinkingError
        from ..geometry import check_enlarging  # with numpy: imported when --scale is given

        try:
            check_enlarging((1, 1), scale=scale)
        except ShrinkingError as exc:
            self.fail(str(exc), param, ctx)
        return scale


class SizeType(click.ParamType):
    """An output size as ImageMagick users type it: ``WxH`` (fit inside, keeping the aspect),
    ``WxH!`` (exactly), ``Wx`` or ``xH`` (:class:`upsamp.sizespec.SizeSpec`)."""

    name = "WxH[!]|Wx|xH"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from ..errors import ParameterError
        from ..sizespec import SizeSpec, parse_size

        if isinstance(value, SizeSpec):
            return value
        try:
            return parse_size(str(value))
        except ParameterError as exc:
            self.fail(str(exc), param, ctx)


class ColourType(click.ParamType):
    """A colour: a name (``white``), ``#rrggbb``, ``#rgb`` or ``rgb(r,g,b)``, as 8-bit RGB."""

    name = "COLOR"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from ..errors import ParameterError
        from ..imageio import parse_colour  # Pillow's colour names; loaded only when given

        if isinstance(value, tuple):
            return value
        try:
            return parse_colour(str(value))
        except ParameterError as exc:
            self.fail(str(exc), param, ctx)


class CubicAType(click.FloatRange):
    """``--cubic-a``: a finite number in [-1, 0] (a NaN passes a plain range check)."""

    def __init__(self) -> None:
        super().__init__(-1.0, 0.0)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if number != number:
            self.fail(f"{value!r} is not a number in [-1, 0]", param, ctx)
        return number


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
#: ``--resize``: the interpolations a resize-convolution may start with.
RESIZE_CHOICES = ("nearest", "bilinear")


class MethodOption(click.Option):
    """An option whose help names the methods that take it, read from the registry when the
    help is shown: ``{methods}`` becomes ``nearest, bilinear`` and ``{Methods}`` the same
    capitalised (``Transconv``). ``takes`` is the registry's name of the option (Click's name
    by default)."""

    def __init__(self, *args: Any, takes: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help_template = self.help or ""
        self.takes = takes or self.name

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        from ..methods.registry import methods_taking

        names = methods_taking(self.takes or "")
        self.help = self.help_template.format(
            methods=", ".join(names), Methods=", ".join(n.capitalize() for n in names)
        )
        return super().get_help_record(ctx)


class DefaultMethodOption(click.Option):
    """``--method``: its default is the registry's ``DEFAULT_METHOD``, looked up only when it
    is needed (the registry loads every backend; ``upsamp --help`` must start fast)."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        from ..methods.registry import DEFAULT_METHOD

        self.default = DEFAULT_METHOD
        return super().get_help_record(ctx)


def _default_method() -> str:
    from ..methods.registry import DEFAULT_METHOD

    return DEFAULT_METHOD


def method_option(*decls: str, **kwargs: Any) -> F:
    """A :class:`MethodOption` (``click.option`` with registry-driven help)."""
    return click.option(*decls, cls=MethodOption, **kwargs)


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


#: How a kernel read from a file is used: ``enlarge``, ``batch`` and ``kernels show|fix``.
_KERNEL_SOURCE_OPTIONS: list[F] = [
    method_option(
        "--groups",
        type=click.IntRange(min=1),
        help="{Methods}: channel groups of a 4-D kernel (C for one filter per channel) "
        "[default: the file's, or the bias length's].",
    ),
    method_option(
        "--bias",
        metavar="ARRAY|FILE[:KEY]|none",
        help="{Methods}: the bias, one value or one per output channel (0.1,0.2,0.3), a "
        ".npy/.json/weight file tensor, or none [default: the file's, e.g. <prefix>.bias].",
    ),
    method_option(
        "--layout",
        type=click.Choice(LAYOUTS),
        help="{Methods}: the layout of a plain 4-D array: torch/onnx (C_in, C_out/groups, "
        "kH, kW), keras (kH, kW, C_out, C_in), tflite (C_out, kH, kW, C_in) [default: torch].",
    ),
]

#: ``--input-range``: ``enlarge``, ``batch`` and ``report``.
input_range_option = method_option(
    "--input-range",
    type=click.Choice(tuple(INPUT_RANGES)),
    help="{Methods}: the range the kernel's weights and bias were trained on; pixel values "
    "are mapped to it before the method and back after [default: the image's own: 0..255 "
    "for 8-bit, the type's range for other integers; float images are never mapped].",
)

#: Every option of the method and its parameters; ``enlarge`` and ``batch`` both apply it.
_METHOD_OPTIONS: list[F] = [
    click.option(
        "-m",
        "--method",
        type=MethodType(),
        cls=DefaultMethodOption,
        default=_default_method,
        show_default=True,
        help="Upsampling method.",
    ),
    stride_option(
        None,
        "Integer enlargement factor, N or H,W (every method; default 2, or a kernel file's "
        "own stride).",
    ),
    method_option(
        "--scale",
        type=ScaleType(),
        help="Factor or percentage, e.g. 1.5 or 200% ({methods}).",
    ),
    method_option(
        "--size",
        type=SizeType(),
        help="Output size: 1920x (width, height keeps the aspect), x1080, 1920x1080 (fit "
        "inside, keeping the aspect) or 1920x1080! (exactly) ({methods}).",
    ),
    method_option("--align-corners", is_flag=True, help="{Methods}: PyTorch align_corners=True."),
    method_option(
        "-k",
        "--kernel",
        metavar="PRESET|FILE[:KEY]",
        help="{Methods} kernel: a preset (see 'upsamp kernels list'), a .npy/.json file, or a "
        "tensor of a weight file: FILE.npz:KEY, FILE.safetensors:KEY, FILE.onnx:NODE, "
        "FILE.pt:KEY; a sub-pixel kernel may also be icnr:PRESET or icnr:FILE (every phase the "
        "same filter) [default: bilinear].",
    ),
    method_option(
        "--padding",
        type=PairType(0, allow_same=True),
        help="{Methods} padding; 'same' makes the output exactly stride times larger.",
    ),
    method_option("--output-padding", type=PairType(0), help="{Methods} output_padding."),
    method_option("--dilation", type=PairType(1), help="{Methods} kernel dilation."),
    method_option(
        "--edge",
        type=click.Choice(EDGE_CHOICES),
        help="{Methods} border handling [default: the kernel's own; zero for files].",
    ),
    click.option(
        "--normalize",
        is_flag=True,
        help="Scale the kernel so its mean phase sum is 1 (a flat image keeps its level).",
    ),
    *_KERNEL_SOURCE_OPTIONS,
    input_range_option,
    method_option(
        "--resize",
        type=click.Choice(RESIZE_CHOICES),
        help="{Methods}: the interpolation before the convolution [default: nearest].",
    ),
    method_option(
        "--cubic-a",
        type=CubicAType(),
        metavar="A",
        help="{Methods}: the parameter a of Keys' cubic kernel, in [-1, 0]; -0.75 is PyTorch's "
        "and OpenCV's, -0.5 Pillow's [default: -0.75].",
    ),
]

#: Max-unpool positions for one image (``enlarge``); ``batch`` takes mirrored folders instead.
_UNPOOL_OPTIONS: list[F] = [
    method_option(
        "--indices",
        type=click.Path(dir_okay=False, path_type=Path),
        help="{Methods}: indices .npz written by 'upsamp pool --indices-out'.",
    ),
    method_option(
        "--guide",
        type=click.Path(dir_okay=False, path_type=Path),
        help="{Methods}: an image at the output size whose maxima give the positions.",
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
        help="Refuse outputs with more pixels [default: 1,073,741,824 = 2**30].",
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


#: ``--alpha`` choices (the values of :data:`upsamp.pipeline.ALPHA_MODES`, which needs numpy).
ALPHA_CHOICES = ("premultiplied", "separate")
#: ``--subsampling`` and ``--tiff-compression`` choices (:data:`upsamp.imageio.SUBSAMPLINGS`,
#: :data:`upsamp.imageio.TIFF_COMPRESSIONS`; imageio loads Pillow).
SUBSAMPLING_CHOICES = ("keep", "444", "422", "420")
TIFF_COMPRESSION_CHOICES = ("none", "lzw", "deflate")

#: ``--alpha``: ``enlarge``, ``batch`` and ``report``.
alpha_option = click.option(
    "--alpha",
    type=click.Choice(ALPHA_CHOICES),
    default="premultiplied",
    show_default=True,
    help="Images with alpha: resample colour weighted by alpha (no dark or coloured fringes "
    "at transparent edges), or colour and alpha each on its own.",
)


#: ``--linear``: ``enlarge``, ``batch`` and ``report``.
linear_option = click.option(
    "--linear",
    is_flag=True,
    help="Resample in linear light: decode sRGB before, encode after (8/16-bit images).",
)


def frame_option(help: str) -> F:
    """``--frame N``: one frame (0-based) of an animation or page of a multi-page TIFF."""
    return click.option("--frame", type=click.IntRange(min=0), metavar="N", help=help)


#: How the pixels of an image are treated, and how the output is encoded; ``enlarge`` and
#: ``batch`` both apply it.
_IMAGE_OPTIONS: list[F] = [
    alpha_option,
    linear_option,
    frame_option(
        "Enlarge only frame N (0-based) of an animation or multi-page TIFF [default: every "
        "frame]."
    ),
    click.option(
        "--background",
        type=ColourType(),
        metavar="COLOR",
        help="Composite images with alpha onto this colour (name or #rrggbb): the output has "
        "no alpha (the way to write such an image as JPEG).",
    ),
    click.option(
        "--strip",
        is_flag=True,
        help="Drop EXIF (with GPS), XMP, IPTC, comments and PNG text; keep the ICC profile "
        "and DPI.",
    ),
    click.option(
        "--subsampling",
        type=click.Choice(SUBSAMPLING_CHOICES),
        help="JPEG chroma subsampling; 'keep' also keeps a JPEG input's quality tables unless "
        "--quality is given [default: the input's when it is a JPEG, else 420].",
    ),
    click.option(
        "--tiff-compression",
        type=click.Choice(TIFF_COMPRESSION_CHOICES),
        help="TIFF compression [default: the input's when it is a TIFF, else none].",
    ),
]


def _stack(options: list[F]) -> Callable[[F], F]:
    def decorate(func: F) -> F:
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


method_options = _stack(_METHOD_OPTIONS)
kernel_source_options = _stack(_KERNEL_SOURCE_OPTIONS)
unpool_options = _stack(_UNPOOL_OPTIONS)
output_options = _stack(_OUTPUT_OPTIONS)
image_options = _stack(_IMAGE_OPTIONS)

def _flag(option: str) -> str:
    return "--" + option.replace("_", "-")


def check_method_options(method: Method, params: dict[str, Any]) -> None:
    """Refuse (as a usage error) every option given that ``method`` does not take; the message
    names the method and the options it takes.

    ``params`` holds parsed Click parameters; an option counts as given when its value is not
    None or False.
    """
    from ..methods.registry import CLI_OPTIONS

    taken = method.cli_options or frozenset()
    for key in (opt for opts in CLI_OPTIONS.values() for opt in opts):
        if params.get(key) not in (None, False) and key not in taken:
            raise click.UsageError(
                f"{_flag(key)} does not apply to {method.name}; {method.name} takes "
                f"{', '.join(method.option_flags())}"
            )


def positions_missing(method: Method) -> str:
    """The usage message for a method that needs pooling positions and was given none."""
    return (
        f"{method.name} needs the positions of the maxima: pass --indices FILE.npz (write it with "
        "'upsamp pool IN -o OUT --stride N --indices-out FILE.npz') or --guide IMAGE"
    )


def settings_from_options(params: dict[str, Any], *, require_indices: bool = True) -> Any:
    """Turn the parsed shared options into :class:`upsamp.pipeline.EnlargeSettings`.

    Options that do not apply to the chosen built-in method are usage errors.
    """
    from ..input_range import parse_input_range
    from ..methods import MethodOptions, get_method
    from ..pipeline import DEFAULT_MAX_OUTPUT_PIXELS, EnlargeSettings

    method = get_method(params["method"])
    check_method_options(method, params)
    if params.get("scale") is not None and params.get("size") is not None:
        raise click.UsageError("give --scale or --size, not both")
    if params.get("indices") is not None and params.get("guide") is not None:
        raise click.UsageError("give --indices or --guide, not both")
    if (
        method.needs_positions
        and require_indices
        and not (params.get("indices") or params.get("guide"))
    ):
        raise click.UsageError(positions_missing(method))
    stride = params.get("stride")
    stride_given = stride is not None
    found = None
    if method.needs_positions and params.get("indices") is not None:
        from ..indices import load_indices

        found = load_indices(params["indices"])
        if stride_given and tuple(stride) != tuple(found.stride):
            raise click.UsageError(
                f"--stride {stride[0]},{stride[1]} differs from the stride "
                f"{found.stride[0]},{found.stride[1]} recorded in {params['indices']}"
            )
        stride, stride_given = found.stride, True
    kernel = None
    if method.takes_kernel:
        kernel = method.build_kernel(
            params.get("kernel"),
            stride,
            padding=params.get("padding"),
            output_padding=params.get("output_padding"),
            dilation=params.get("dilation"),
            edge=params.get("edge"),
            normalize=bool(params.get("normalize")),
            resize=params.get("resize"),
            groups=params.get("groups"),
            bias=params.get("bias"),
            layout=params.get("layout"),
        )
        stride = kernel.stride
    defaults = MethodOptions()
    options = MethodOptions(
        stride=stride or (2, 2),
        scale=params.get("scale"),
        align_corners=bool(params.get("align_corners")),
        kernel=kernel,
        resize=params.get("resize") or defaults.resize,
        cubic_a=defaults.cubic_a if params.get("cubic_a") is None else params["cubic_a"],
    )
    return EnlargeSettings(
        method=method.name,
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
        positions=found,
        input_range=(
            None if params.get("input_range") is None else parse_input_range(params["input_range"])
        ),
        alpha=params.get("alpha") or "premultiplied",
        linear=bool(params.get("linear")),
        frame=params.get("frame"),
        background=params.get("background"),
        strip=bool(params.get("strip")),
        subsampling=params.get("subsampling"),
        tiff_compression=params.get("tiff_compression"),
        output_format=params.get("output_format"),
        size_spec=params.get("size"),
    )

__all__ = [
    "PairType",
    "ScaleType",
    "SizeType",
    "MethodOption",
    "MethodType",
    "check_method_options",
    "method_option",
    "positions_missing",
    "method_options",
    "kernel_source_options",
    "scheduler_option",
    "alpha_option",
    "frame_option",
    "input_range_option",
    "linear_option",
    "image_options",
    "ColourType",
    "ALPHA_CHOICES",
    "SUBSAMPLING_CHOICES",
    "TIFF_COMPRESSION_CHOICES",
    "SchedulerType",
    "max_pixels_option",
    "overwrite_option",
    "stride_option",
    "unpool_options",
    "output_options",
    "settings_from_options",
    "UpsampError",
]
