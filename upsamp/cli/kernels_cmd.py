"""``upsamp kernels``: list, show, save and repair transposed-convolution kernels."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from .options import overwrite_option, stride_option
from .scan import scan as scan_command


@click.group()
def kernels() -> None:
    """Kernel presets and kernel files for --method transconv."""


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
@click.argument("name", metavar="NAME|FILE")
@stride_option(None, "Enlargement factor the preset is built for [default: 2].")
@click.option(
    "--save",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the kernel to a .npy (weight) or .json (weight and geometry) file.",
)
@overwrite_option("Replace an existing --save file.")
@click.option("--json", "as_json", is_flag=True, help="Print the kernel as JSON on stdout.")
def show(
    name: str, stride: tuple[int, int] | None, save: Path | None, overwrite: bool, as_json: bool
) -> None:
    """Print a preset's or kernel file's weights and geometry."""

    from ..kernel_analysis import kernel_analysis, kernel_json
    from ..kernels import build_kernel, save_kernel
    from . import render
    from .report import render_kernel_analysis

    kernel = build_kernel(name, stride=stride)
    if save is not None:
        _write_kernel(kernel, save, overwrite, source=name)
        render.info(f"kernel written to {save}")
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
    from rich.text import Text

    from . import render

    weight = kernel.weight
    console.print(
        Text.assemble(
            (render.printable(kernel.name), "bold"),
            f"  shape {tuple(weight.shape)}  stride {kernel.stride}  "
            f"padding {kernel.padding}  output_padding {kernel.output_padding}  "
            f"dilation {kernel.dilation}  edge {kernel.edge}",
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
@click.argument("name", metavar="FILE|PRESET")
@stride_option(None, "Stride the kernel is used at [default: a file's own, else 2].")
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
def fix(name: str, stride: tuple[int, int] | None, how: str, output: Path, overwrite: bool) -> None:
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
    kernel = build_kernel(name, stride=stride)
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
    if output.suffix.lower() == ".npy":
        flags = _geometry_flags(fixed)
        lost = " (its bias is not stored either)" if fixed.bias is not None else ""
        render.info(
            f"note: {output} holds only the weights{lost}; use it with "
            f"--method transconv --kernel {output} {' '.join(flags)}"
        )


kernels.add_command(scan_command)
