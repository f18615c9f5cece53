"""Option definitions shared by ``enlarge`` and ``batch`` (written once, applied as a stack),
the parameter types they use, and the translation of parsed options into
:class:`upsamp.pipeline.EnlargeSettings`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import UpsampError

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
    method_option("--scale", type=ScaleType(), help="Non-integer factor ({methods})."),
    method_option("--size", type=SizeType(), help="Exact output size WxH ({methods})."),
    method_option("--align-corners", is_flag=True, help="{Methods}: PyTorch align_corners=True."),
    method_option(
        "-k",
        "--kernel",
        metavar="PRESET|FILE",
        help="{Methods} kernel: a preset (see 'upsamp kernels list') or a .npy/.json file "
        "[default: bilinear].",
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
    from ..kernels import build_kernel
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
