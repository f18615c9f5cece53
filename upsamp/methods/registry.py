"""The one registry of upsampling backends.

A backend is a :class:`Method`: a name, a one-line summary, two functions over arrays,
``upsample(x, options) -> y`` and ``output_shape((H, W), options) -> (H_out, W_out)``, and the
declarations everything else reads instead of comparing names: the command-line options it
takes, its output channels, how alpha goes through it, whether it needs pooling positions, its
output tag, its exact integer path, how the report feeds it, and the ``upsamp explain`` views
that apply to it. Built-in methods register themselves when :mod:`upsamp.methods` is imported;
third-party packages add methods through the entry-point group ``upsamp.methods`` (each entry
point names a :class:`Method` or a zero-argument callable returning one). Entry points are read
once, on first lookup; a broken plugin produces a warning, not a failure.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from ..errors import MethodError

__all__ = [
    "CLI_OPTIONS",
    "DEFAULT_METHOD",
    "ENTRY_POINT_GROUP",
    "Method",
    "MethodOptions",
    "available_methods",
    "get_method",
    "methods",
    "methods_taking",
    "register",
    "registered",
    "resized_tag",
    "stride_tag",
    "unregister",
]

ENTRY_POINT_GROUP = "upsamp.methods"

#: The method ``upsamp enlarge`` and ``upsamp batch`` use when none is named.
DEFAULT_METHOD = "bilinear"

#: The command-line options (Click parameter names) that set each :class:`MethodOptions` field.
#: A method takes the options of the fields in its ``uses``; ``--stride`` is every method's.
CLI_OPTIONS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "stride": ("stride",),
        "scale": ("scale",),
        "size": ("size",),
        "align_corners": ("align_corners",),
        "kernel": (
            "kernel",
            "padding",
            "output_padding",
            "dilation",
            "edge",
            "normalize",
            "groups",
            "bias",
            "layout",
            "input_range",
        ),
        "indices": ("indices", "guide"),
        "output_size": (),
        "resize": ("resize",),
        "cubic_a": ("cubic_a",),
    }
)

#: A band of output rows ``(start, stop)``, or None for all of them.
Rows = tuple[int, int] | None


@dataclass(frozen=True)
class MethodOptions:
    """Everything a backend may need besides the image.

    Attributes
    ----------
    stride : (h, w)
        The integer enlargement factor (every method).
    scale : float or (sy, sx), optional
        A non-integer factor (nearest and bilinear only; overrides ``stride``).
    size : (out_h, out_w), optional
        An exact output size (nearest and bilinear only).
    align_corners : bool
        Bilinear only.
    kernel : upsamp.kernels.Kernel, optional
        Transposed convolution only.
    indices : int64 ndarray, optional
        Max-unpool only: one index per input value (the input's shape).
    output_size : (h, w), optional
        Max-unpool only: the pooled-from size.
    keep_dtype : bool
        Methods with ``copies_values`` return the input's dtype instead of float.
    resize : {"nearest", "bilinear"}
        Resize-convolution only: the interpolation before the convolution.
    cubic_a : float
        Bicubic only: the parameter ``a`` of Keys' kernel, in ``[-1, 0]`` (PyTorch's -0.75).
    """

    stride: tuple[int, int] = (2, 2)
    scale: float | tuple[float, float] | None = None
    size: tuple[int, int] | None = None
    align_corners: bool = False
    kernel: Any = None
    indices: np.ndarray | None = field(default=None, repr=False)
    output_size: tuple[int, int] | None = None
    keep_dtype: bool = False
    resize: str = "nearest"
    cubic_a: float = -0.75

    def replace(self, **changes: Any) -> MethodOptions:
        """A copy with ``changes`` applied (:func:`dataclasses.replace`)."""
        return dataclasses.replace(self, **changes)


def stride_tag(options: MethodOptions) -> str:
    """The output-name tag of an integer enlargement: ``x2``, or ``x2x3`` for unequal strides.

    >>> stride_tag(MethodOptions(stride=(2, 3)))
    'x2x3'
    """
    sh, sw = options.stride
    return f"x{sh}" if sh == sw else f"x{sh}x{sw}"


def resized_tag(options: MethodOptions) -> str:
    """The output-name tag of a method that also takes ``size`` and ``scale``: ``_WxH`` for a
    size, ``x1.5`` for a scale (its first factor), else :func:`stride_tag`.

    >>> resized_tag(MethodOptions(size=(1080, 1920))), resized_tag(MethodOptions(scale=1.5))
    ('_1920x1080', 'x1.5')
    """
    if options.size is not None:
        return f"_{options.size[1]}x{options.size[0]}"
    if options.scale is not None:
        scale = options.scale if isinstance(options.scale, (int, float)) else options.scale[0]
        return f"x{scale:g}"
    return stride_tag(options)


def _same_channels(channels: int, options: MethodOptions) -> int:
    return channels


def _each_channel(options: MethodOptions) -> bool:
    return True


def _unchanged(shape: tuple[int, ...], stride: tuple[int, int], options: MethodOptions):
    return options


def _never(options: MethodOptions) -> bool:
    return False


def _any_channels(options: MethodOptions) -> int | None:
    return None


@dataclass(frozen=True)
class Method:
    """An upsampling backend and everything the rest of the program needs to know about it.

    Attributes
    ----------
    name, summary : str
        The name on the command line and a one-line description.
    upsample : callable
        ``upsample(x, options)`` returns the whole float result. With ``supports_rows`` it also
        accepts ``rows=(start, stop)`` and returns just those output rows, identical to the same
        rows of the whole result: big images are then processed in bands.
    output_shape : callable
        ``output_shape((H, W), options) -> (H_out, W_out)``.
    uses : frozenset of str
        The :class:`MethodOptions` fields the method reads.
    cli_options : frozenset of str, optional
        The command-line options it takes (Click parameter names, ``"align_corners"`` for
        ``--align-corners``); the command line refuses the others. Default: the options of the
        fields in ``uses`` (:data:`CLI_OPTIONS`).
    output_channels : callable
        ``output_channels(C_in, options) -> C_out``, the colour channels of the result for
        ``C_in`` input channels (default: the same number).
    per_channel : callable
        ``per_channel(options)`` is True when every output channel depends only on the same
        input channel: the alpha plane then goes through the method with the same options.
        Otherwise it is resampled to the output size by the method named ``alpha_method``
        (with ``MethodOptions(size=...)``).
    alpha_method : str
        See ``per_channel``.
    needs_positions : bool
        The method needs pooling positions (``MethodOptions.indices``): the command line asks
        for ``--indices`` or ``--guide`` and the pipeline reads them.
    output_tag : callable
        ``output_tag(options)``: the part of the default output name after ``_<name>``
        (:func:`stride_tag` by default, :func:`resized_tag` for size/scale methods).
    supports_rows : bool
        See ``upsample``.
    copies_values : bool
        Every output value is an input value or zero (no arithmetic), so integer images may
        stay in their own dtype (``MethodOptions.keep_dtype``).
    upsample_rounded : callable, optional
        The exact integer path: ``upsample_rounded(x, options, rows=None)`` returns the result
        for an 8/16-bit ``x`` already rounded half to even into ``x``'s dtype (the exact value
        rounded, which rounding the float32 result can miss by one), or None when it does not
        apply.
    default_kernel : callable, optional
        Kernel-bearing methods (``"kernel"`` in ``uses``): ``default_kernel((s_h, s_w))`` is the
        kernel a plain entry gets. The report expands ``NAME:PRESET|FILE`` for these methods.
    roundtrip_input : callable, optional
        ``roundtrip_input(g, (s_h, s_w), options) -> (x, options)``: what the report's round
        trip feeds the method from the float64 ground truth ``g``. None: the mean of each cell.
    probe_options : callable
        ``probe_options(x_shape, (s_h, s_w), options)``: the options for an input that is not a
        round trip's (the report's flat probe, ``report --no-roundtrip``); default unchanged.
    explain_views : tuple of str
        The ``upsamp explain`` views that apply to the method.
    as_transconv : callable, optional
        ``as_transconv((s_h, s_w))``: the transposed-convolution kernel
        (:class:`upsamp.kernels.Kernel`) equal to the method at an integer stride, when it has
        one.
    make_kernel : callable, optional
        Kernel-bearing methods: ``make_kernel(spec, stride, **settings)`` builds the method's
        kernel from ``--kernel`` (a preset, a file or None for the default; ``stride`` None
        keeps a file's own) and the other kernel options given on the command line
        (``padding``, ``output_padding``, ``dilation``, ``edge``, ``normalize``, ``resize``).
        Default: :func:`upsamp.kernels.build_kernel`, a transposed-convolution kernel.
    kernel_to_transconv : callable, optional
        ``kernel_to_transconv(kernel, options)``: the transposed-convolution kernel that
        computes the method with ``kernel`` (the report analyses it phase by phase, ``upsamp
        kernels convert`` converts through it); raises
        :class:`~upsamp.errors.KernelError` when there is none.
    kernel_from_transconv : callable, optional
        The inverse: the method's kernel equal to a transposed-convolution kernel, or a
        :class:`~upsamp.errors.KernelError` saying why there is none.
    overshoots : callable
        ``overshoots(options)`` is True when results outside the input's range are expected
        (interpolating kernels with negative lobes: bicubic, Lanczos): values clipped to an
        integer image's range are then no cause for a warning.
    input_channels : callable
        ``input_channels(options)``: the image channels the options' kernel needs, or None
        when any number will do (the pipeline checks it before reading the rest).
    taps : callable, optional
        Separable interpolating methods: ``taps((H, W), options) -> (rows, cols)``, per axis
        the input indices and weights every output index reads, with its source coordinate
        (:class:`upsamp.methods.resample.AxisTaps`: ``index``, ``weight``, ``source``,
        ``edge``); the result is ``y[r, c] = Σ_t Σ_u rows.weight[r, t]·cols.weight[c, u]·
        x[rows.index[r, t], cols.index[c, u]]``. The ``weights`` view of ``upsamp explain``
        shows them.
    fit_channels : callable, optional
        ``fit_channels(channels, options) -> options``: checks the options' kernel against an
        image of ``channels`` channels before anything runs and returns the options to use
        (transposed convolution: a 4-D kernel that would mix the channels without ``groups``
        is refused, :func:`upsamp.weights.check_channel_fit`); raises a one-line error.
    """

    name: str
    summary: str
    upsample: Callable[..., np.ndarray]
    output_shape: Callable[[tuple[int, int], MethodOptions], tuple[int, int]]
    uses: frozenset[str] = frozenset({"stride"})
    cli_options: frozenset[str] | None = None
    output_channels: Callable[[int, MethodOptions], int] = _same_channels
    per_channel: Callable[[MethodOptions], bool] = _each_channel
    alpha_method: str = "bilinear"
    needs_positions: bool = False
    output_tag: Callable[[MethodOptions], str] = stride_tag
    supports_rows: bool = False
    copies_values: bool = False
    upsample_rounded: Callable[..., np.ndarray | None] | None = None
    default_kernel: Callable[[tuple[int, int]], Any] | None = None
    roundtrip_input: (
        Callable[[np.ndarray, tuple[int, int], MethodOptions], tuple[np.ndarray, MethodOptions]]
        | None
    ) = None
    probe_options: Callable[..., MethodOptions] = _unchanged
    explain_views: tuple[str, ...] = ()
    as_transconv: Callable[[tuple[int, int]], Any] | None = None
    make_kernel: Callable[..., Any] | None = None
    kernel_to_transconv: Callable[[Any, MethodOptions], Any] | None = None
    kernel_from_transconv: Callable[[Any, MethodOptions], Any] | None = None
    overshoots: Callable[[MethodOptions], bool] = _never
    input_channels: Callable[[MethodOptions], int | None] = _any_channels
    fit_channels: Callable[[int, MethodOptions], MethodOptions] | None = None
    taps: Callable[[tuple[int, int], MethodOptions], tuple[Any, Any]] | None = None

    def __post_init__(self) -> None:
        if self.cli_options is None:
            taken = {opt for key in self.uses for opt in CLI_OPTIONS.get(key, ())}
            object.__setattr__(self, "cli_options", frozenset(taken | {"stride"}))

    @property
    def takes_kernel(self) -> bool:
        """True for a kernel-bearing method (``NAME:PRESET|FILE`` entries in the report)."""
        return "kernel" in self.uses

    def build_kernel(
        self, spec: str | None, stride: tuple[int, int] | None, **settings: Any
    ) -> Any:
        """The method's kernel from ``--kernel`` and the kernel options (see ``make_kernel``);
        options the method does not take are not passed on."""
        taken = {k: v for k, v in settings.items() if k in (self.cli_options or ())}
        if self.make_kernel is not None:
            return self.make_kernel(spec, stride, **taken)
        from ..kernels import build_kernel  # the registry itself imports no method code

        return build_kernel(
            spec,
            stride=stride,
            padding=taken.get("padding"),
            output_padding=taken.get("output_padding"),
            dilation=taken.get("dilation"),
            edge=taken.get("edge"),
            normalize_phases=bool(taken.get("normalize")),
            groups=taken.get("groups"),
            bias=taken.get("bias"),
            layout=taken.get("layout"),
        )

    def option_flags(self) -> list[str]:
        """The command-line flags it takes, in the order of :data:`CLI_OPTIONS`
        (``["--stride", "--scale", ...]``)."""
        assert self.cli_options is not None
        known = [opt for opts in CLI_OPTIONS.values() for opt in opts]
        ordered = [opt for opt in known if opt in self.cli_options]
        ordered += sorted(self.cli_options - set(known))
        return ["--" + opt.replace("_", "-") for opt in ordered]


_registry: dict[str, Method] = {}
methods: Mapping[str, Method] = MappingProxyType(_registry)
_entry_points_loaded = False


def register(method: Method, *, clobber: bool = False) -> Method:
    """Add ``method`` to the registry; refuse a second one of the same name unless ``clobber``."""
    if not isinstance(method, Method):
        raise MethodError(f"register() takes a Method, got {type(method).__name__}")
    if method.name in _registry and not clobber:
        raise MethodError(f"an upsampling method named {method.name!r} is already registered")
    _registry[method.name] = method
    return method


def unregister(name: str) -> Method:
    """Remove and return the method ``name`` (for tests that register one for a while)."""
    try:
        return _registry.pop(name)
    except KeyError:
        raise MethodError(f"unknown method {name!r}; available: {', '.join(_registry)}") from None


@contextmanager
def registered(method: Method) -> Iterator[Method]:
    """Register ``method`` for the duration of a ``with`` block, then remove it again.

    >>> box = Method("box-demo", "demo", lambda x, o: x, lambda shape, o: shape)
    >>> with registered(box):
    ...     "box-demo" in available_methods()
    True
    >>> "box-demo" in available_methods()
    False
    """
    register(method)
    try:
        yield method
    finally:
        if _registry.get(method.name) is method:
            del _registry[method.name]


def methods_taking(option: str) -> list[str]:
    """Names of the registered methods that take the command-line option ``option`` (a Click
    parameter name such as ``"align_corners"``)."""
    _load_entry_points()
    return [m.name for m in _registry.values() if option in (m.cli_options or ())]


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    from importlib.metadata import entry_points

    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = entry.load()
            method = obj() if not isinstance(obj, Method) and callable(obj) else obj
            register(method)
        except Exception as exc:  # a broken plugin must not take the tool down
            warnings.warn(
                f"upsampling plugin {entry.name!r} ({entry.value}) could not be loaded: {exc}",
                RuntimeWarning,
                stacklevel=2,
            )


def available_methods() -> list[str]:
    """Names of every registered method (built-in and plugins)."""
    _load_entry_points()
    return list(_registry)


def get_method(name: str) -> Method:
    """Look a method up by name; the error lists the known names."""
    _load_entry_points()
    try:
        return _registry[name]
    except KeyError:
        raise MethodError(f"unknown method {name!r}; available: {', '.join(_registry)}") from None
