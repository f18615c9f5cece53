"""``upsamp report``: which methods make a checkerboard on an image, how badly, and why.

Parse the options, call :mod:`upsamp.report`, render the result: the table and the one-line
explanations are the report, so they go to stdout (as does the ``--json`` object); notes and the
list of written files go to stderr. The Rich rendering here is shared with
``upsamp enlarge --report`` and ``upsamp kernels show/fix``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .options import (
    alpha_option,
    frame_option,
    input_range_option,
    kernel_source_options,
    linear_option,
    max_pixels_option,
    method_option,
    overwrite_option,
    stride_option,
)

__all__ = ["report", "render_report", "render_kernel_analysis", "print_report_notes"]

#: Verdict -> Rich style.
VERDICT_STYLES = {"clean": "bold green", "checkerboard": "bold red"}

#: Tables are never squeezed below this many columns when stdout is not a terminal.
_PIPE_WIDTH = 100


class MethodListType(click.ParamType):
    """A comma-separated list of registered methods; ``NAME:PRESET|FILE`` gives a kernel-bearing
    method (``transconv:bicubic``) a kernel."""

    name = "LIST"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from ..methods import available_methods, get_method

        if isinstance(value, list):
            return value
        items = [item.strip() for item in str(value).split(",") if item.strip()]
        if not items:
            self.fail("give at least one method", param, ctx)
        known = available_methods()
        kernel_methods = [name for name in known if get_method(name).takes_kernel]
        for item in items:
            base, colon, spec = item.partition(":")
            if colon and spec and base in kernel_methods:
                continue
            if item not in known:
                expand = "".join(f" (or {name}:PRESET|FILE)" for name in kernel_methods)
                self.fail(f"{item!r} is not one of {', '.join(known)}{expand}", param, ctx)
        return items


class MethodListOption(click.Option):
    """``--methods``: its help lists the registered methods, read when the help is shown."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help_template = self.help or ""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        from ..methods import available_methods, get_method

        known = available_methods()
        self.help = self.help_template.format(
            all=",".join(known),
            kernel_methods="|".join(n for n in known if get_method(n).takes_kernel),
        )
        return super().get_help_record(ctx)


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def _shape_text(shape: tuple[int, ...]) -> str:
    from ..geometry import format_size  # with numpy: imported when a report is printed

    return format_size(shape)


def _stride_text(stride: tuple[int, int]) -> str:
    return str(stride[0]) if stride[0] == stride[1] else f"{stride[0]}×{stride[1]}"


def report_table(report: Any) -> Any:
    """The Rich table of a :class:`upsamp.report.Report`: one row per method."""
    from rich.table import Table
    from rich.text import Text

    from ..report import format_score
    from .render import printable

    mode = (
        f"round trip: mean-downsample ÷{_stride_text(report.stride)}, upsample, compare with "
        f"the {_shape_text(report.reference.shape)} original"
        if report.roundtrip
        else f"no round trip: the {_shape_text(report.reference.shape)} image is the input"
    )
    table = Table(
        title=printable(f"{report.image} · stride {_stride_text(report.stride)} · {mode}"),
        caption=(
            "cb_dc: grid left in a flat input (0 = stays flat) · cb_rel: grid share of this "
            "output's fine detail (global / worst tile) · spread: (max−min)/mean of the kernel's "
            "phase sums · overlap: taps per phase"
        ),
        caption_justify="left",
        title_justify="left",
    )
    table.add_column("method", style="bold", no_wrap=True)
    table.add_column("output", justify="right", no_wrap=True)
    table.add_column("PSNR dB", justify="right", no_wrap=True)
    table.add_column("SSIM", justify="right", no_wrap=True)
    table.add_column("cb_dc", justify="right", no_wrap=True)
    table.add_column("cb_rel", justify="right", no_wrap=True)
    table.add_column("tile max", justify="right", no_wrap=True)
    table.add_column("spread", justify="right", no_wrap=True)
    table.add_column("overlap", justify="right", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    for result in report.methods:
        analysis = result.analysis
        if analysis is None:
            spread = overlap = "—"
        else:
            spread = format_score(analysis.phase_spread, 3)
            overlap = (
                str(analysis.overlap_min)
                if analysis.overlap_min == analysis.overlap_max
                else f"{analysis.overlap_min}–{analysis.overlap_max}"
            )
        table.add_row(
            printable(result.name),
            _shape_text(result.output_shape),
            format_score(result.psnr, 2),
            format_score(result.ssim, 4),
            format_score(result.cb_dc, 4),
            format_score(result.cb_rel, 3),
            format_score(result.cb_rel_tile_max, 3),
            spread,
            overlap,
            Text(result.verdict, style=VERDICT_STYLES.get(result.verdict, "")),
        )
    return table


def render_report(report: Any, console: Any | None = None) -> None:
    """Print the table, then one line per method with artifacts: why, and what fixes it."""
    from rich.measure import Measurement
    from rich.text import Text

    from .render import printable, stdout_console

    console = console or stdout_console()
    table = report_table(report)
    if not console.is_terminal:
        needed = Measurement.get(console, console.options.update_width(1000), table).maximum
        console.width = max(console.width, min(needed, 200), _PIPE_WIDTH)
    console.print(table)
    flagged = [m for m in report.methods if m.verdict != "clean"]
    if not flagged:
        console.print(Text("every method keeps a flat region flat", style="green"))
        return
    for result in flagged:
        line = Text()
        line.append(printable(result.name), style=VERDICT_STYLES["checkerboard"])
        line.append(f": {result.explanation}")
        if result.fix:
            line.append(" — fix: ", style="bold")
            line.append(result.fix)
        console.print(line)


def print_report_notes(report: Any) -> None:
    """The report's notes, one line each, on stderr."""
    from .render import info

    for note in report.notes:
        info(f"note: {note}")


def _grid_lines(values: Any, formatter: Any) -> list[str]:
    """Rows of a small grid, columns right-aligned."""
    cells = [[formatter(v) for v in row] for row in values]
    width = max(len(c) for row in cells for c in row)
    return ["  ".join(c.rjust(width) for c in row) for row in cells]


def render_kernel_analysis(analysis: Any, console: Any, *, heading: str = "analysis") -> None:
    """Plain lines (no boxed table) under a kernel's weights: phase sums, taps per phase,
    spread, overlap, the verdict, why and how to fix it."""
    from rich.text import Text

    from ..report import format_score
    from .render import format_number

    sums = analysis.phase_sums
    counts = analysis.tap_counts
    s = analysis.stride
    console.print(
        Text(
            f"{heading} at stride {_stride_text(s)} (padding {analysis.padding}, dilation "
            f"{analysis.dilation}); phase (p, q) = (row mod s, column mod s) of the output",
            style="bold",
        )
    )
    channels = range(sums.shape[0]) if sums.shape[0] <= 4 else [analysis.worst_channel]
    for o in channels:
        suffix = f" (output channel {o})" if sums.shape[0] > 1 else ""
        for label, grid, fmt in (
            ("phase sums", sums[o], lambda v: format_number(float(v))),
            ("taps per phase", counts[o], lambda v: str(int(v))),
        ):
            rows = _grid_lines(grid, fmt)
            console.print(Text(f"  {label}{suffix}: {rows[0]}"))
            pad = " " * (len(label) + len(suffix) + 4)
            for row in rows[1:]:
                console.print(Text(f"{pad}{row}"))
    overlap = (
        str(analysis.overlap_min)
        if analysis.overlap_min == analysis.overlap_max
        else f"{analysis.overlap_min}–{analysis.overlap_max}"
    )
    verdict = "artifact-free" if analysis.artifact_free else "checkerboard"
    line = Text(
        f"  phase spread {format_score(analysis.phase_spread, 4)} · overlap {overlap} taps · "
    )
    line.append(
        verdict, style=VERDICT_STYLES["clean" if analysis.artifact_free else "checkerboard"]
    )
    console.print(line)
    if analysis.bias is not None:
        values = ", ".join(format_number(float(v)) for v in analysis.bias)
        console.print(
            Text(f"  bias {values}: added to every phase alike (not in the phase sums)")
        )
    console.print(Text(f"  why: {analysis.explain()}"))
    fix = analysis.suggest_fix()
    if fix:
        console.print(Text(f"  fix: {fix}"))


# --------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------


def aggregate_table(rows: list[dict[str, Any]], count: int) -> Any:
    """The Rich table of :func:`upsamp.report.aggregate` over ``count`` images."""
    from rich.table import Table

    from ..report import format_score

    table = Table(
        title=f"all {count} images · mean and worst per method",
        caption="worst: lowest PSNR and SSIM, highest cb_rel · checkerboard: images with that "
        "verdict",
        caption_justify="left",
        title_justify="left",
    )
    table.add_column("method", style="bold", no_wrap=True)
    for label in ("PSNR mean", "PSNR worst", "SSIM mean", "SSIM worst", "cb_rel mean"):
        table.add_column(label, justify="right", no_wrap=True)
    table.add_column("cb_rel worst", justify="right", no_wrap=True)
    table.add_column("checkerboard", justify="right", no_wrap=True)
    for row in rows:
        table.add_row(
            row["name"],
            format_score(row["psnr_mean"], 2),
            format_score(row["psnr_worst"], 2),
            format_score(row["ssim_mean"], 4),
            format_score(row["ssim_worst"], 4),
            format_score(row["cb_rel_mean"], 3),
            format_score(row["cb_rel_worst"], 3),
            f"{row['checkerboard']}/{row['images']}",
        )
    return table


def folder_names(paths: list[Path]) -> list[str]:
    """One subfolder name per image: its stem (unsafe characters as ``_``), with ``-2``,
    ``-3``, ... added when another image already has it, so no two images share a folder."""
    import re

    taken: set[str] = set()
    names = []
    for path in paths:
        stem = re.sub(r"[^A-Za-z0-9._-]", "_", path.stem) or "image"
        name, n = stem, 2
        while name in taken:
            name, n = f"{stem}-{n}", n + 1
        taken.add(name)
        names.append(name)
    return names


@click.command()
@click.argument(
    "inputs", nargs=-1, required=True, metavar="IMAGE|DIR...", type=click.Path(path_type=Path)
)
@stride_option("2", "Enlargement factor, N or H,W.")
@click.option(
    "--methods",
    cls=MethodListOption,
    type=MethodListType(),
    default=None,
    help="Comma-separated methods [default: {all}]; {kernel_methods}:PRESET|FILE picks a kernel.",
)
@method_option(
    "-k",
    "--kernel",
    "kernels",
    takes="kernel",
    multiple=True,
    metavar="PRESET|FILE",
    help="Add transconv:<preset or file stem> (repeatable); other kernel-bearing methods "
    "take theirs in --methods (pixel-shuffle:icnr:bilinear).",
)
@click.option(
    "--no-roundtrip",
    is_flag=True,
    help="IMAGE is the input: report only the artifact metrics (no PSNR/SSIM).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option(
    "--figures",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write PNG figures here: contact sheet, phase-mean heatmaps, spectra.",
)
@click.option(
    "--save-outputs",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write each method's output (as saved) here, and the cropped ground truth.",
)
@kernel_source_options
@input_range_option
@alpha_option
@linear_option
@frame_option("Report frame N (0-based) of an animation or multi-page TIFF [default: 0].")
@overwrite_option("Replace existing figure and output files.")
@max_pixels_option
@click.pass_context
def report(
    ctx: click.Context,
    inputs: tuple[Path, ...],
    stride: tuple[int, int],
    methods: list[str] | None,
    kernels: tuple[str, ...],
    no_roundtrip: bool,
    as_json: bool,
    figures: Path | None,
    save_outputs: Path | None,
    overwrite: bool,
    max_pixels: int | None,
    groups: int | None,
    bias: str | None,
    layout: str | None,
    input_range: str | None,
    alpha: str,
    linear: bool,
    frame: int | None,
) -> None:
    """Compare upsampling methods on each IMAGE: quality and checkerboard artifacts.

    By default an IMAGE is the ground truth: it is cropped to a multiple of the stride,
    downsampled by the mean of each cell (max-pooled for max-unpool), enlarged again by every
    method and compared (PSNR, SSIM). Every method is also fed a flat image (cb_dc) and its
    output is searched for a grid (cb_rel); kernels are analysed phase by phase. A method is a
    checkerboard when a flat region does not come out flat.

    Several images or a folder (searched recursively, like batch): one table per image, then
    the mean and worst scores per method over all of them; --json prints a list; --figures
    and --save-outputs write one subfolder per image, named by its stem.

    --groups, --bias and --layout say how the kernel files named by --kernel or --methods
    NAME:FILE are read, --input-range the range their weights were trained on, and --linear
    runs the round trip in linear light, as they do for enlarge.

    \b
    Examples:
      upsamp report photo.png --stride 2 --kernel checkerboard --figures out/
      upsamp report photo.png --methods nearest,transconv:bicubic --json
      upsamp report photos/ --methods bilinear,transconv:gen.safetensors:up.weight
    """
    from .. import report as library
    from .. import report_files
    from ..errors import ExitCode, UpsampError
    from ..input_range import parse_input_range
    from . import render
    from .measure import find_images

    entries = library.method_entries(
        methods,
        kernels,
        stride=stride,
        kernel_settings={"groups": groups, "bias": bias, "layout": layout},
    )
    model_range = None if input_range is None else parse_input_range(input_range)
    several = len(inputs) > 1 or any(path.is_dir() for path in inputs)
    failed: list[tuple[Path, str]] = []
    if several:
        found, failed = find_images(inputs)
        paths = [path for path, _ in found]
    else:
        paths = list(inputs)  # one file: its errors end the command, as for enlarge
    reports = []
    for path in paths:
        try:
            reports.append(
                library.report_file(
                    path,
                    entries,
                    stride=stride,
                    roundtrip=not no_roundtrip,
                    max_pixels=max_pixels,
                    alpha=alpha,
                    frame=frame,
                    input_range=model_range,
                    linear=linear,
                )
            )
        except UpsampError as exc:
            if not several:
                raise
            failed.append((path, str(exc)))
    names = folder_names([Path(r.image) for r in reports]) if several else [""] * len(reports)
    planned: list[Path] = []
    for result, name in zip(reports, names, strict=True):
        if figures is not None:
            from ..figures import figure_files

            planned += list(figure_files(figures / name).values())
        if save_outputs is not None:
            planned += list(report_files.output_files(result, save_outputs / name).values())
    named_kernels = [m.split(":", 1)[1] for m in methods or () if ":" in m]
    read = [*(r.image for r in reports), *kernels, *named_kernels]  # never written over
    report_files.check_free(planned, overwrite=overwrite, sources=read)

    if as_json:
        docs = [result.to_json() for result in reports]
        render.print_json(docs if several else docs[0])
    else:
        for result in reports:
            render_report(result)
        if len(reports) > 1:
            render.wide_console().print(
                aggregate_table(library.aggregate(reports), len(reports))
            )
    for result in reports:
        print_report_notes(result)
    for result, name in zip(reports, names, strict=True):
        if figures is not None:
            from ..figures import write_figures

            written = write_figures(result, figures / name, overwrite=overwrite)
            render.info(f"figures: {', '.join(str(p) for p in written)}")
        if save_outputs is not None:
            written = report_files.save_outputs(result, save_outputs / name, overwrite=overwrite)
            render.info(f"outputs: {', '.join(str(p) for p in written)}")
    for path, reason in failed:
        text = str(reason)
        line = text if text.startswith(str(path)) else f"{path}: {text}"
        click.echo(f"upsamp: error: {' '.join(line.split())}", err=True)
    if several and not paths and not failed:
        render.warn("no images found in " + ", ".join(str(p) for p in inputs))
    if failed:
        ctx.exit(int(ExitCode.FAILURE))
