"""``upsamp pool``: max-pool downsampling that records where each maximum was."""

from __future__ import annotations

from pathlib import Path

import click

from .options import max_pixels_option, overwrite_option, stride_option


@click.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The pooled image (or .npy).",
)
@stride_option("2", "Window size and stride, N or H,W.")
@click.option(
    "--indices-out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to save the indices (.npz) for 'enlarge --method max-unpool --indices'.",
)
@click.option(
    "--guide",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Find the positions by pooling this image (same size) instead of INPUT.",
)
@overwrite_option()
@max_pixels_option
@click.option("--show", is_flag=True, help="Print the pooled array, mask and indices (small).")
def pool(
    input_path: Path,
    output: Path,
    stride: tuple[int, int],
    indices_out: Path,
    guide: Path | None,
    overwrite: bool,
    max_pixels: int | None,
    show: bool = False,
) -> None:
    """Max-pool INPUT by STRIDE and save the pooled image and the indices.

    \b
    Round trip:
      upsamp pool photo.png -o small.png --stride 2 --indices-out idx.npz
      upsamp enlarge small.png --method max-unpool --indices idx.npz -o back.png
    """
    from ..pool_job import pool_file
    from . import render

    if indices_out.suffix.lower() != ".npz":
        raise click.BadParameter("the indices file must end in .npz", param_hint="--indices-out")
    done = pool_file(
        input_path,
        output,
        indices_out,
        stride,
        guide_path=guide,
        overwrite=overwrite,
        max_pixels=max_pixels,
    )
    from ..geometry import format_size  # numpy is loaded by now

    render.info(
        f"{input_path} → {output} ({format_size(done.pooled_shape)}), indices → {indices_out}"
    )
    if show:
        from .explain import render_pool_view

        render_pool_view(done.pooled, done.positions.indices, done.positions.input_shape)
