"""``upsamp measure``: the checkerboard statistics of images as they are (no enlargement).

Parse, find the images (folders recursively, recognised by content as ``batch`` does), call
:func:`upsamp.measure.measure_image` on each, render: the table (or one JSON object per image)
on stdout, failures and notes on stderr.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click

from .options import max_pixels_option, overwrite_option, stride_option

__all__ = ["measure", "find_images", "figure_name"]

_STYLES = {"clean": "bold green", "checkerboard": "bold red"}


def find_images(paths: tuple[Path, ...]) -> tuple[list[tuple[Path, str]], list[tuple[Path, str]]]:
    """``(images, problems)``: every input with the name its figure gets, and one reason per
    argument or file that cannot be an input.

    A file argument is taken as it is (the loader says when it is not an image); a folder is
    searched recursively, skipping hidden entries, and its files are inputs when their content
    is an image or a ``.npy`` array (:func:`upsamp.imageio.probe`), or when they are named like
    one (then the loader reports why they do not decode).
    """
    from .. import imageio
    from ..batch import IMAGE_EXTENSIONS, BatchOptions, candidate_files

    images: list[tuple[Path, str]] = []
    problems: list[tuple[Path, str]] = []
    for path in paths:
        if path.is_dir():
            folder_problems: list[str] = []
            files, _ = candidate_files(path, BatchOptions(recursive=True), (), folder_problems)
            problems += [(path, p) for p in folder_problems]
            for file in files:
                if imageio.probe(file) is None and file.suffix.lower() not in IMAGE_EXTENSIONS:
                    continue
                relative = file.relative_to(path).with_suffix("").as_posix()
                images.append((file, f"{path.name}/{relative}" if path.name else relative))
        elif path.exists():
            images.append((path, path.stem))
        else:
            problems.append((path, "no such file or folder"))
    return images, problems


def figure_name(label: str, taken: set[str]) -> str:
    """``<label>_measure.png`` with ``/`` and unsafe characters as ``_``, unique in ``taken``."""
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", label.replace("/", "__")) or "image"
    name, n = f"{stem}_measure.png", 2
    while name in taken:
        name, n = f"{stem}-{n}_measure.png", n + 1
    taken.add(name)
    return name


def _json_record(path: Path, result: dict[str, Any]) -> dict[str, Any]:
    record = {"input": str(path)}
    record.update(result)
    record["stride"] = list(result["stride"])
    record.pop("residual_phase_means", None)
    return record


def _table(rows: list[tuple[Path, tuple[int, ...], dict[str, Any]]], stride: Any) -> Any:
    from rich.table import Table
    from rich.text import Text

    from ..report import format_score
    from .render import printable

    s = stride[0] if stride[0] == stride[1] else f"{stride[0]}×{stride[1]}"
    table = Table(
        title=f"checkerboard statistics at stride {s}",
        title_justify="left",
        caption=(
            "cb_rel: grid share of the fine detail (global / worst 8s×8s tile) · energy: share "
            "of the spectrum on the checkerboard frequencies · bound: baseline cb_rel + 0.05"
        ),
        caption_justify="left",
    )
    table.add_column("image", style="bold", no_wrap=True)
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("cb_rel", justify="right", no_wrap=True)
    table.add_column("tile max", justify="right", no_wrap=True)
    table.add_column("energy %", justify="right", no_wrap=True)
    table.add_column("baseline", justify="right", no_wrap=True)
    table.add_column("bound", justify="right", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    for path, shape, result in rows:
        base = result["baseline"]
        verdict = result["verdict"]
        table.add_row(
            printable(path),
            f"{shape[1]}×{shape[0]}",
            format_score(result["cb_rel"], 4),
            format_score(result["tile_max"], 3),
            format_score(100 * result["checkerboard_energy"], 4),
            "—" if base is None else f"{format_score(base['cb_rel'], 4)} {base['method']}",
            format_score(result["bound"], 4),
            "—" if verdict is None else Text(verdict, style=_STYLES[verdict]),
        )
    return table


@click.command()
@click.argument(
    "inputs", nargs=-1, required=True, metavar="IMAGE|DIR...", type=click.Path(path_type=Path)
)
@stride_option(None, "The period to look for: the factor the image was enlarged by (N or H,W).")
@click.option(
    "--baseline",
    type=click.Choice(("nearest", "bilinear", "bicubic")),
    help="Also measure the image averaged down by the stride and enlarged back by this method, "
    "and give a verdict: checkerboard when cb_rel exceeds the baseline's by more than 0.05.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per image on stdout.")
@click.option(
    "--figures",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write one PNG per image here: residual phase means and spectra, with the baseline's.",
)
@overwrite_option("Replace existing figure files.")
@max_pixels_option
@click.pass_context
def measure(
    ctx: click.Context,
    inputs: tuple[Path, ...],
    stride: tuple[int, int] | None,
    baseline: str | None,
    as_json: bool,
    figures: Path | None,
    overwrite: bool,
    max_pixels: int | None,
) -> None:
    """Measure the checkerboard in images as they are: a generator's outputs, say.

    For each IMAGE (folders are searched recursively): cb_rel and its worst tile, the share of
    spectral energy at the checkerboard frequencies, and the per-phase means. A photograph
    alone scores cb_rel up to about 0.04 (demosaicing, JPEG blocks), so a verdict needs
    --baseline: the same image averaged down by the stride and enlarged back by a clean method
    shows the level this content has without a grid.

    \b
    Exit codes: 0 every image measured; 1 some could not be read; 2 usage error.

    \b
    Examples:
      upsamp measure samples/ --stride 2 --baseline bicubic
      upsamp measure out.png --stride 2 --baseline bicubic --json --figures figs/
    """
    if stride is None:
        raise click.UsageError("give the period to look for with --stride S")
    from .. import imageio
    from ..errors import ExitCode, UpsampError
    from ..measure import measure_image
    from . import render

    images, problems = find_images(inputs)
    targets: list[Path] = []
    if figures is not None:
        from ..figures import write_measure_figure
        from ..report_files import check_free, prepare_folder

        taken: set[str] = set()
        targets = [figures / figure_name(label, taken) for _, label in images]
        check_free(targets, overwrite=overwrite, sources=[path for path, _ in images])
    failed = list(problems)
    rows = []
    for index, (path, _) in enumerate(images):
        try:
            loaded = imageio.load_input(path, max_pixels=max_pixels)
            result = measure_image(loaded.pixels, stride, baseline)
            if figures is not None:
                prepare_folder(figures)
                write_measure_figure(
                    targets[index], loaded.pixels, result, name=str(path), overwrite=overwrite
                )
        except UpsampError as exc:
            failed.append((path, str(exc)))
            continue
        rows.append((path, tuple(loaded.pixels.shape), result))
        if as_json:
            render.print_json(_json_record(path, result))
    if rows and not as_json:
        render.wide_console().print(_table(rows, rows[0][2]["stride"]))
    for path, reason in failed:
        text = str(reason)
        line = text if text.startswith(str(path)) else f"{path}: {text}"
        click.echo(f"upsamp: error: {' '.join(line.split())}", err=True)
    if not images and not problems:
        render.warn("no images found in " + ", ".join(str(p) for p in inputs))
    if rows and baseline is None and not as_json:
        render.info(
            "note: no verdict without --baseline (a photograph alone scores cb_rel up to about "
            "0.04, so a bare threshold would mislead)"
        )
    if figures is not None and rows:
        render.info(f"figures: {figures}")
    if failed:
        ctx.exit(int(ExitCode.FAILURE))
