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
    from .. import imageio
    from ..errors import OutputError
    from ..indices import indices_payload
    from ..pipeline import pool_image
    from . import render

    if indices_out.suffix.lower() != ".npz":
        raise click.BadParameter("the indices file must end in .npz", param_hint="--indices-out")
    for target in (output, indices_out):
        if target.exists() and not overwrite:
            raise OutputError(f"{target}: exists; use --overwrite to replace it")
        if target.exists() and imageio.same_file(target, input_path):
            raise OutputError(f"{target}: refusing to overwrite the input file")
    image = imageio.load_input(input_path, max_pixels=max_pixels)
    guide_image = imageio.load_input(guide, max_pixels=max_pixels) if guide else None
    colour, alpha, found = pool_image(image, stride, guide_image)
    payload = indices_payload(found)

    def write_npz(tmp: Path) -> None:
        import numpy as np

        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **payload)

    for target in (output, indices_out):
        if not target.parent.is_dir():
            raise OutputError(f"{target}: the folder {target.parent} does not exist")
    if imageio.output_format(output) == "NPY":
        imageio.save_array(output, colour, overwrite=overwrite)
    else:
        imageio.save_image(
            output, colour, alpha, mode=image.mode, info=image.info, overwrite=overwrite
        )
    try:
        imageio.atomic_write(indices_out, write_npz, overwrite=overwrite)
    except BaseException:
        output.unlink(missing_ok=True)  # the pooled image is useless without its indices
        raise
    render.info(
        f"{input_path} → {output} ({colour.shape[1]}×{colour.shape[0]}), indices → {indices_out}"
    )
    if show:
        from .explain import render_pool_view

        render_pool_view(colour, found.indices, found.input_shape)
