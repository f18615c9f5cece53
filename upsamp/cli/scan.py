"""``upsamp kernels scan``: every upsampling layer of a model and whether it makes a checkerboard.

Parse, call :func:`upsamp.scan.scan_model`, render: the table and the one-line explanations are
the result, so they go to stdout (as does the ``--json`` object); "no upsampling layers" and the
``--fail-on`` summary go to stderr.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .options import stride_option

__all__ = ["scan", "render_scan"]

#: Verdict -> Rich style (the report's two, plus unknown).
_STYLES = {"clean": "bold green", "checkerboard": "bold red", "unknown": "yellow"}


def _tuple_text(values: Any, joiner: str = "×") -> str:
    if values is None:
        return "—"
    items = [str(v) for v in values]
    if joiner == "×" and len(set(items)) == 1 and len(items) == 2:
        return items[0]
    return joiner.join(items)


def render_scan(model: str, findings: list[Any], console: Any) -> None:
    """The table (one row per layer), then one line per layer: why, and the fix."""
    from rich.table import Table
    from rich.text import Text

    from ..report import format_score
    from .render import printable

    table = Table(
        title=printable(f"{model} · {len(findings)} upsampling layer(s)"),
        title_justify="left",
        caption="spread: (max−min)/mean of the phase sums of a flat input (0 = stays flat)",
        caption_justify="left",
    )
    table.add_column("layer", style="bold", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("kernel", no_wrap=True)
    table.add_column("stride", justify="right", no_wrap=True)
    table.add_column("padding", no_wrap=True)
    table.add_column("spread", justify="right", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    for f in findings:
        style = _STYLES.get(f.verdict, "")
        table.add_row(
            printable(f.name),
            f.kind,
            _tuple_text(f.kernel_shape),
            _tuple_text(f.stride),
            _tuple_text(f.padding, ","),
            format_score(f.phase_spread, 3),
            Text(f.verdict, style=style),
        )
    console.print(table)
    for f in findings:
        style = _STYLES.get(f.verdict, "")
        line = Text.assemble((printable(f.name), style), f": {printable(f.explanation)}")
        if f.fix:
            line.append(" — ")
            line.append("fix:", style="bold")
            line.append(f" {printable(f.fix)}")
        console.print(line)


@click.command("scan")
@click.argument("model", metavar="MODEL", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option(
    "--fail-on",
    type=click.Choice(("checkerboard",)),
    help="Exit 1 when any layer's verdict is checkerboard (for CI).",
)
@stride_option(
    None, "Weight-only files: the stride their tensors upsample by (ONNX states its own)."
)
@click.option(
    "--match",
    metavar="GLOB",
    help="Only layers (ONNX node names) or tensors whose name matches, e.g. 'decoder.*.weight'.",
)
@click.pass_context
def scan(
    ctx: click.Context,
    model: Path,
    as_json: bool,
    fail_on: str | None,
    stride: tuple[int, int] | None,
    match: str | None,
) -> None:
    """Find the upsampling layers of MODEL and say which make a checkerboard.

    \b
    ONNX (.onnx): every ConvTranspose (its stride, pads, dilations, group and bias from the
    graph), every DepthToSpace fed by a Conv (sub-pixel convolution: one filter per phase) and
    every Resize feeding a Conv (resize-convolution: clean by construction).
    Weight files (.safetensors, .npz, .npy, .pt, .pth): the 4-D tensors matching --match,
    read as (C_in, C_out/groups, kH, kW) transposed-convolution weights at --stride.

    \b
    Exit codes: 0 done (also when there is no upsampling layer); 1 a layer is checkerboard
    and --fail-on checkerboard was given, or MODEL cannot be read; 2 usage error.

    \b
    Examples:
      upsamp kernels scan generator.onnx
      upsamp kernels scan generator.safetensors --stride 2 --match 'up*.weight' --json
      upsamp kernels scan generator.onnx --fail-on checkerboard
    """
    from ..errors import ExitCode, ParameterError
    from ..scan import CHECKERBOARD, scan_json, scan_model
    from . import render

    if stride is not None and model.suffix.lower() == ".onnx":
        raise click.UsageError("--stride is for weight-only files; an ONNX graph states its own")
    try:
        findings = scan_model(model, stride=stride, match=match)
    except ParameterError as exc:
        if stride is None and "--stride" in str(exc):
            raise click.UsageError(str(exc)) from None
        raise
    if as_json:
        render.print_json(scan_json(model, findings))
    elif findings:
        render_scan(str(model), findings, render.wide_console())
    if not findings:
        where = f" matching {match!r}" if match else ""
        render.info(f"{model}: no upsampling layers{where}")
    flagged = [f for f in findings if f.verdict == CHECKERBOARD]
    if fail_on == CHECKERBOARD and flagged:
        render.info(
            f"{len(flagged)} of {len(findings)} layer(s) make a checkerboard "
            "(--fail-on checkerboard): exit 1"
        )
        ctx.exit(int(ExitCode.FAILURE))
