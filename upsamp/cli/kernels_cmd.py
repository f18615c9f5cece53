"""``upsamp kernels``: list, show, save, repair and convert kernels."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import numpy as np

from .options import kernel_source_options, overwrite_option, stride_option
from .scan import scan as scan_command


@click.group()
def kernels() -> None:
    """Kernel presets and kernel files for the kernel-bearing methods (transconv,
    pixel-shuffle, resize-conv)."""


@kernels.command("list")
def list_presets() -> None:
    """List the built-in presets with a one-line description."""
    from ..kernels import PRESETS

    # Plain aligned text: this command must start as fast as a bare interpreter with numpy.
    width = max(len(name) for name in PRESETS)
    click.echo("kernel presets (upsamp kernels show NAME --stride S):")
    for name, entry in PRESETS.items():
        click.echo(f"  {name:<{width}}  {entry.description}")


@kernels.command("show")
@click.argument("name", metavar="NAME|FILE[:KEY]")
@stride_option(None, "Enlargement factor the preset is built for [default: 2].")
@kernel_source_options
@click.option(
    "--save",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the kernel to a .npy (weight only: the flags that give back its geometry "
    "are printed) or .json (weight and geometry) file.",
)
@overwrite_option("Replace an existing --save file.")
@click.option("--json", "as_json", is_flag=True, help="Print the kernel as JSON on stdout.")
def show(
    name: str,
    stride: tuple[int, int] | None,
    groups: int | None,
    bias: str | None,
    layout: str | None,
    save: Path | None,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Print a preset's, kernel file's or weight file tensor's weights and geometry.

    \b
    Examples:
      upsamp kernels show bicubic --stride 3
      upsamp kernels show generator.safetensors:decoder.up1.weight
      upsamp kernels show generator.onnx:up1 --json
    """
    from ..kernel_analysis import kernel_analysis, kernel_json
    from ..kernels import build_kernel, save_kernel
    from . import render
    from .report import render_kernel_analysis

    kernel = build_kernel(name, stride=stride, groups=groups, bias=bias, layout=layout)
    if save is not None:
        _write_kernel(kernel, save, overwrite, source=name)
        render.info(f"kernel written to {save}")
        note = _weights_only_note(kernel, save)
        if note:
            render.warn(note)
    analysis = kernel_analysis(kernel)
    if as_json:
        doc = save_kernel(kernel, "kernel.json")
        doc["analysis"] = kernel_json(analysis, full=True)
        render.print_json(doc)
        return
    console = render.wide_console()
    _print_weights(console, kernel)
    render_kernel_analysis(analysis, console)


def _print_weights(console: Any, kernel: Any) -> None:
    """The kernel's geometry line and its weight tables."""
    import numpy as np
    from rich.text import Text

    from . import render

    weight = kernel.weight
    extra = "" if kernel.groups is None else f"  groups {kernel.groups}"
    if kernel.bias is not None:
        extra += "  bias " + ",".join(render.format_number(float(v)) for v in np.ravel(kernel.bias))
    console.print(
        Text.assemble(
            (render.printable(kernel.name), "bold"),
            f"  shape {tuple(weight.shape)}  stride {kernel.stride}  "
            f"padding {kernel.padding}  output_padding {kernel.output_padding}  "
            f"dilation {kernel.dilation}  edge {kernel.edge}{extra}",
        )
    )
    if weight.ndim == 2:
        for table in render.array_tables(weight, "weight"):
            console.print(table)
    else:
        for ci in range(weight.shape[0]):
            for co in range(weight.shape[1]):
                for table in render.array_tables(weight[ci, co], f"weight[{ci}, {co}]"):
                    console.print(table)


def _write_kernel(kernel: Any, path: Path, overwrite: bool, *, source: str) -> None:
    """Save ``kernel`` to ``.npy`` (weight) or ``.json`` (weight and geometry), atomically;
    never over the kernel file ``source`` it was read from."""
    from .. import imageio
    from ..kernels import save_kernel

    imageio.check_target(path, overwrite, source=[source])
    doc = save_kernel(kernel, path)
    if path.suffix.lower() == ".json":
        text = json.dumps(doc, indent=1) + "\n"
        imageio.atomic_write(
            path, lambda tmp: tmp.write_text(text, encoding="utf-8"), overwrite=overwrite
        )
    else:
        imageio.save_array(path, doc, overwrite=overwrite)


def _weights_only_note(kernel: Any, path: Path) -> str | None:
    """For a ``.npy`` file (weights only) of a kernel whose geometry a bare weight file does
    not give back (anything but stride 2 and the defaults): the flags to use it with. None
    when nothing is lost."""
    if path.suffix.lower() != ".npy":
        return None
    flags = _geometry_flags(kernel)
    if flags == ["--stride 2,2"] and kernel.bias is None:
        return None
    lost = "" if kernel.bias is None else " (its bias is not stored either)"
    return (
        f"{path} holds only the weights{lost}; use it with --method transconv --kernel "
        f"{path} {' '.join(flags)} (a .json file keeps the geometry)"
    )


def _geometry_flags(kernel: Any) -> list[str]:
    """Command-line flags that give a bare ``.npy`` weight the kernel's geometry."""
    flags = [f"--stride {kernel.stride[0]},{kernel.stride[1]}"]
    if kernel.padding != (0, 0):
        flags.append(f"--padding {kernel.padding[0]},{kernel.padding[1]}")
    if kernel.output_padding != (0, 0):
        flags.append(f"--output-padding {kernel.output_padding[0]},{kernel.output_padding[1]}")
    if kernel.dilation != (1, 1):
        flags.append(f"--dilation {kernel.dilation[0]},{kernel.dilation[1]}")
    if kernel.edge != "zero":
        flags.append(f"--edge {kernel.edge}")
    return flags


@kernels.command("fix")
@click.argument("name", metavar="FILE[:KEY]|PRESET")
@stride_option(None, "Stride the kernel is used at [default: a file's own, else 2].")
@kernel_source_options
@click.option(
    "--how",
    type=click.Choice(("normalize-phases", "hold")),
    required=True,
    help="normalize-phases: rescale each phase to the mean phase sum (same size); hold: "
    "convolve with an S×S box (zero-order hold, Sugawara et al.; S-1 larger, new padding).",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The repaired kernel: .json keeps the geometry, .npy only the weights.",
)
@overwrite_option("Replace an existing output file.")
def fix(
    name: str,
    stride: tuple[int, int] | None,
    groups: int | None,
    bias: str | None,
    layout: str | None,
    how: str,
    output: Path,
    overwrite: bool,
) -> None:
    """Make a kernel artifact-free and print its analysis before and after.

    \b
    Examples:
      upsamp kernels fix checkerboard --stride 2 --how hold -o fixed.json
      upsamp kernels fix k.npy --stride 3 --how normalize-phases -o k_fixed.npy
    """
    from rich.text import Text

    from ..kernel_analysis import fix_kernel, kernel_analysis
    from ..kernels import build_kernel
    from . import render
    from .report import render_kernel_analysis

    if output.suffix.lower() not in (".npy", ".json"):
        raise click.BadParameter("the kernel file must end in .npy or .json", param_hint="-o")
    kernel = build_kernel(name, stride=stride, groups=groups, bias=bias, layout=layout)
    before = kernel_analysis(kernel)
    fixed = fix_kernel(kernel, how)
    after = kernel_analysis(fixed)
    _write_kernel(fixed, output, overwrite, source=name)

    console = render.wide_console()
    console.print(
        Text.assemble(
            (render.printable(kernel.name), "bold"),
            f"  shape {tuple(kernel.weight.shape)}  stride {kernel.stride}  "
            f"padding {kernel.padding}  output_padding {kernel.output_padding}  "
            f"dilation {kernel.dilation}",
        )
    )
    render_kernel_analysis(before, console, heading="before")
    console.print(
        Text.assemble(
            (f"after --how {how}", "bold"),
            f"  shape {tuple(fixed.weight.shape)}  stride {fixed.stride}  "
            f"padding {fixed.padding}  output_padding {fixed.output_padding}  "
            f"dilation {fixed.dilation}",
        )
    )
    render_kernel_analysis(after, console, heading="after")
    render.info(f"kernel written to {output}")
    note = _weights_only_note(fixed, output)
    if note:
        render.info(f"note: {note}")


class FormType(click.ParamType):
    """A method whose kernels convert (``Method.kernel_to_transconv``; with ``targets``, also
    ``Method.kernel_from_transconv``), read from the registry when needed."""

    name = "METHOD"

    def __init__(self, targets: bool) -> None:
        self.targets = targets

    def _forms(self) -> list[str]:
        from ..kernel_conversion import source_forms, target_forms

        return target_forms() if self.targets else source_forms()

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "[" + "|".join(self._forms()) + "]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value not in self._forms():
            self.fail(f"{value!r} is not one of {', '.join(self._forms())}", param, ctx)
        return value


@kernels.command("convert")
@click.argument("name", metavar="KERNEL")
@click.option("--from", "source", type=FormType(False), required=True,
              help="The method KERNEL is a kernel of (a preset, icnr:..., or a file).")
@click.option("--to", "target", type=FormType(True), required=True,
              help="The method whose equivalent kernel to write.")
@stride_option(None, "Stride of the kernel [default: a file's own, else 2].")
@click.option("--resize", type=click.Choice(("nearest", "bilinear")), default="nearest",
              show_default=True, help="The resize of a resize-conv kernel (either side).")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The converted kernel: .json keeps the geometry, .npy only the weights.",
)
@overwrite_option("Replace an existing output file.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
def convert(
    name: str,
    source: str,
    target: str,
    stride: tuple[int, int] | None,
    resize: str,
    output: Path,
    overwrite: bool,
    as_json: bool,
) -> None:  # fmt: skip
    """Write the kernel of another method that computes exactly what KERNEL computes.

    Every transposed convolution has a pixel-shuffle form (its phases are the flipped
    sub-filters) and every resize-conv a transposed-convolution form (the resize kernel
    convolved with the flipped kernel); a resize-conv form exists only for the transposed
    convolutions that are one. Both methods are run on one random input and the largest
    difference is printed.

    \b
    Examples:
      upsamp kernels convert bilinear --from transconv --to pixel-shuffle --stride 2 -o ps.json
      upsamp kernels convert k.npy --from resize-conv --to transconv --stride 2 -o tc.json
    """
    from .. import imageio
    from ..kernel_conversion import convert_kernel
    from . import render

    if output.suffix.lower() not in (".npy", ".json"):
        raise click.BadParameter("the kernel file must end in .npy or .json", param_hint="-o")
    if source == target:
        raise click.UsageError(f"--from and --to are both {source}: nothing to convert")
    imageio.check_target(output, overwrite, source=[name])
    done = convert_kernel(name, source, target, stride=stride, resize=resize)
    _write_kernel(done.converted, output, overwrite, source=name)
    if as_json:
        from ..kernels import save_kernel

        render.print_json({
            "from": source, "to": target, "resize": resize, "output": str(output),
            "kernel": save_kernel(done.converted, "kernel.json"),
            "max_difference": done.difference,
            "output_shapes": [list(done.source_shape), list(done.target_shape)],
        })  # fmt: skip
        return
    console = render.stdout_console()
    k = done.converted
    padding = k.padding if isinstance(k.padding, str) else tuple(k.padding)
    console.print(
        f"{source} {done.kernel.name} {tuple(done.kernel.weight.shape)} -> {target} "
        f"{tuple(k.weight.shape)}  stride {tuple(k.stride)}  padding {padding}  "
        f"output_padding {tuple(k.output_padding)}  dilation {tuple(k.dilation)}  "
        f"edge {k.edge}" + (f"  groups {k.groups}" if k.groups else "")
        + ("  bias" if k.bias is not None else ""),
        highlight=False,
    )
    if np.ndim(k.weight) == 2 and max(np.shape(k.weight)) <= 16:
        for table in render.array_tables(np.asarray(k.weight), "weight"):
            console.print(table)
    h, w = done.source_shape[:2]
    console.print(
        f"maximum difference on a random input: {done.difference:.3g} "
        f"({source} output {w}×{h}, {target} output "
        f"{done.target_shape[1]}×{done.target_shape[0]}, compared on the common part)",
        highlight=False,
    )
    render.info(f"kernel written to {output}")
    if output.suffix.lower() == ".npy":
        render.info(
            f"note: {output} holds only the weights; the geometry above (or a .json output) "
            f"goes with it"
        )


kernels.add_command(scan_command)
