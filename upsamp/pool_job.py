"""The job behind ``upsamp pool``, with no Click and no Rich: max-pool an image file and write
the pooled image and the positions of the maxima (an indices file for max-unpool).

Data flows one way: :mod:`upsamp.imageio` loads the image (and the guide), :func:`pool_image`
pools the arrays, and :mod:`upsamp.imageio` writes both outputs atomically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import imageio
from .errors import InputError, ParameterError
from .indices import PoolIndices, indices_from_guide, indices_payload

__all__ = ["PoolOutcome", "pool_file", "pool_image"]


@dataclass(frozen=True)
class PoolOutcome:
    """What :func:`pool_file` wrote: the paths, the pooled colour values and the positions."""

    input: Path
    output: Path
    indices: Path
    pooled_shape: tuple[int, ...]
    pooled: np.ndarray = field(repr=False)
    positions: PoolIndices = field(repr=False)


def pool_image(
    image: imageio.LoadedImage, stride: tuple[int, int], guide: imageio.LoadedImage | None = None
) -> tuple[np.ndarray, np.ndarray | None, PoolIndices]:
    """Max-pool ``image`` (colour and alpha planes alike) and return
    ``(pooled colour, pooled alpha, indices)``; with a ``guide`` the positions come from the
    guide's maxima and the image's values at those positions are taken."""
    planes = image.pixels if image.pixels.ndim == 3 else image.pixels[:, :, None]
    if image.has_alpha:
        planes = np.concatenate([planes, image.alpha[:, :, None]], axis=2)
    planes = planes.astype(np.float64)
    if guide is None:
        found = indices_from_guide(planes, stride)
    else:
        if guide.shape[:2] != image.shape[:2]:
            raise InputError(
                f"the guide is {guide.shape[1]}x{guide.shape[0]} but the image is "
                f"{image.shape[1]}x{image.shape[0]}"
            )
        g = guide.pixels if guide.pixels.ndim == 3 else guide.pixels[:, :, None]
        if guide.has_alpha and image.has_alpha:
            g = np.concatenate([g, guide.alpha[:, :, None]], axis=2)
        found = indices_from_guide(g.astype(np.float64), stride)
        if found.indices.shape[2] == 1:
            found = PoolIndices(
                np.repeat(found.indices, planes.shape[2], axis=2), found.input_shape, found.stride
            )
        elif found.indices.shape[2] != planes.shape[2]:
            raise InputError(
                f"the guide has {found.indices.shape[2]} channels "
                f"but the image has {planes.shape[2]}"
            )
    h, w = planes.shape[:2]
    flat = planes.reshape(h * w, planes.shape[2])
    pooled = np.take_along_axis(flat, found.indices.reshape(-1, planes.shape[2]), axis=0)
    pooled = pooled.reshape(found.indices.shape)
    colour_channels = planes.shape[2] - (1 if image.has_alpha else 0)
    colour = pooled[:, :, :colour_channels]
    if image.pixels.ndim == 2:
        colour = colour[:, :, 0]
    alpha = pooled[:, :, -1] if image.has_alpha else None
    return colour, alpha, found


def pool_file(
    input_path: str | Path,
    output_path: str | Path,
    indices_path: str | Path,
    stride: tuple[int, int],
    *,
    guide_path: str | Path | None = None,
    overwrite: bool = False,
    max_pixels: int | None = None,
) -> PoolOutcome:
    """Max-pool ``input_path`` by ``stride`` (positions from ``guide_path``'s maxima when
    given) and write the pooled image (or ``.npy``) to ``output_path`` and the positions to
    ``indices_path`` (``.npz``), each atomically.

    Both targets are checked before anything is read; when the indices cannot be written the
    pooled image is removed again (it is useless without them). Raises an
    :class:`~upsamp.errors.UpsampError` subclass for every expected problem.
    """
    input_path, output_path, indices_path = Path(input_path), Path(output_path), Path(indices_path)
    if indices_path.suffix.lower() != ".npz":
        raise ParameterError(f"{indices_path}: the indices file must end in .npz")
    for target in (output_path, indices_path):
        imageio.check_target(target, overwrite, source=input_path)
    image = imageio.load_input(input_path, max_pixels=max_pixels)
    guide = imageio.load_input(guide_path, max_pixels=max_pixels) if guide_path else None
    colour, alpha, found = pool_image(image, stride, guide)
    payload = indices_payload(found)

    def write_npz(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **payload)

    if imageio.output_format(output_path) == "NPY":
        imageio.save_array(output_path, colour, overwrite=overwrite)
    else:
        imageio.save_image(
            output_path, colour, alpha, mode=image.mode, info=image.info, overwrite=overwrite
        )
    try:
        imageio.atomic_write(indices_path, write_npz, overwrite=overwrite)
    except BaseException:
        output_path.unlink(missing_ok=True)  # the pooled image is useless without its indices
        raise
    return PoolOutcome(input_path, output_path, indices_path, tuple(colour.shape), colour, found)
