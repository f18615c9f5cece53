"""``upsamp kernels``: list, show and save transposed-convolution kernels."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .options import PairType


@click.group()
def kernels() -> None:
    """Kernel presets and kernel files for --method transconv."""


@kernels.command("list")
def list_presets() -> None:
    """List the built-in presets with a one-line description."""
    from rich.table import Table

    from ..kernels import PRESETS
    from .render import stdout_console

    table = Table(title="kernel presets (upsamp kernels show NAME --stride S)")
    table.add_column("name", style="bold")
    table.add_column("what it is")
    for name, entry in PRESETS.items():
        table.add_row(name, entry.description)
    stdout_console().print(table)


@kernels.command("show")
@click.argument("name", metavar="NAME|FILE")
@click.option(
    "-s",
    "--stride",
    type=PairType(1),
    default=None,
    help="Enlargement factor the preset is built for [default: 2].",
)
@click.option(
    "--save",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the kernel to a .npy (weight) or .json (weight and geometry) file.",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing --save file.")
@click.option("--json", "as_json", is_flag=True, help="Print the kernel as JSON on stdout.")
def show(
    name: str, stride: tuple[int, int] | None, save: Path | None, overwrite: bool, as_json: bool
) -> None:
    """Print a preset's or kernel file's weights and geometry."""
    from .. import imageio
    from ..kernels import save_kernel
    from ..pipeline import build_kernel
    from . import render

    kernel = build_kernel(name, stride=stride)
    if save is not None:
        doc = save_kernel(kernel, save)
        if save.suffix.lower() == ".json":
            text = json.dumps(doc, indent=1) + "\n"
            imageio.atomic_write(
                save, lambda tmp: tmp.write_text(text, encoding="utf-8"), overwrite=overwrite
            )
        else:
            imageio.save_array(save, doc, overwrite=overwrite)
        render.info(f"kernel written to {save}")
    if as_json:
        render.print_json(save_kernel(kernel, "kernel.json"))
        return
    console = render.stdout_console()
    weight = kernel.weight
    console.print(
        f"[bold]{kernel.name}[/bold]  shape {tuple(weight.shape)}  stride {kernel.stride}  "
        f"padding {kernel.padding}  output_padding {kernel.output_padding}  "
        f"dilation {kernel.dilation}  edge {kernel.edge}"
    )
    if weight.ndim == 2:
        for table in render.array_tables(weight, "weight"):
            console.print(table)
    else:
        for ci in range(weight.shape[0]):
            for co in range(weight.shape[1]):
                for table in render.array_tables(weight[ci, co], f"weight[{ci}, {co}]"):
                    console.print(table)
