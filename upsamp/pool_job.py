"""The job behind ``upsamp pool``, with no Click and no Rich: max-pool an image file and write
the pooled image and the positions of the maxima (an indices file for max-unpool).

Data flows one way: :mod:`upsamp.imageio` loads the image (and the guide), :func:`pool_image`
pools the arrays, and :mod:`upsamp.imageio` writes both outputs atomically.
"""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import imageio
from .errors import InputError, OutputError, ParameterError
from .geometry import format_size
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
                f"the guide is {format_size(guide.shape)} but the image is "
                f"{format_size(image.shape)}"
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

    Both targets are checked before anything is read (neither may be the input or the guide);
    both files are written under hidden names first and moved into place only when both are
    complete, so a failure or an interruption leaves the previous files untouched. Raises an
    :class:`~upsamp.errors.UpsampError` subclass for every expected problem.
    """
    input_path, output_path, indices_path = Path(input_path), Path(output_path), Path(indices_path)
    if indices_path.suffix.lower() != ".npz":
        raise ParameterError(f"{indices_path}: the indices file must end in .npz")
    for target in (output_path, indices_path):
        imageio.check_target(target, overwrite, source=[input_path, guide_path])
    image = imageio.load_input(input_path, max_pixels=max_pixels)
    guide = imageio.load_input(guide_path, max_pixels=max_pixels) if guide_path else None
    colour, alpha, found = pool_image(image, stride, guide)
    payload = indices_payload(found)

    def write_npz(tmp: Path) -> None:
        try:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, **payload)
        except OSError as exc:
            raise OutputError(f"{indices_path}: cannot write ({exc.strerror or exc})") from None

    def write_image(staged: Path) -> None:
        if imageio.output_format(output_path) == "NPY":
            imageio.save_array(staged, colour)
        else:
            imageio.save_image(staged, colour, alpha, mode=image.mode, info=image.info)

    # Both files are written completely before either replaces anything: an interruption or a
    # full disk leaves the previous outputs as they were.
    with _staged(output_path) as staged_image, _staged(indices_path) as staged_indices:
        _naming(output_path, staged_image, write_image)
        imageio.atomic_write(staged_indices, write_npz)
        _move(staged_image, output_path, overwrite)
        _move(staged_indices, indices_path, overwrite)
    return PoolOutcome(input_path, output_path, indices_path, tuple(colour.shape), colour, found)


@contextmanager
def _staged(target: Path) -> Iterator[Path]:
    """A hidden name next to ``target`` with the same extension, to write it under before it
    is moved into place; whatever is left there is removed on the way out."""
    staged = target.with_name(f".{target.name[:150]}.{secrets.token_hex(6)}.staged{target.suffix}")
    try:
        yield staged
    finally:
        staged.unlink(missing_ok=True)


def _naming(target: Path, staged: Path, write: Callable[[Path], None]) -> None:
    """Run ``write(staged)``; an error names ``target``, the file the user asked for."""
    try:
        write(staged)
    except OutputError as exc:
        raise OutputError(str(exc).replace(str(staged), str(target))) from None


def _move(staged: Path, target: Path, overwrite: bool) -> None:
    """Rename ``staged`` to ``target``; without ``overwrite`` never over a file that appeared
    meanwhile (a hard link refuses atomically)."""
    try:
        if overwrite:
            os.replace(staged, target)
            return
        try:
            os.link(staged, target)
        except FileExistsError:
            raise OutputError(f"{target}: exists; use --overwrite to replace it") from None
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EXDEV, errno.ENOTSUP, errno.EMLINK):
                raise
            if target.exists():
                raise OutputError(f"{target}: exists; use --overwrite to replace it") from None
            os.replace(staged, target)
    except OSError as exc:
        raise OutputError(f"{target}: cannot write ({exc.strerror or exc})") from None
