"""Max-pooling indices files (``.npz``) and guides: where max-unpool puts each value.

An indices file written by ``upsamp pool`` holds four arrays:

``format``
    the string ``window-offsets``: the positions are stored in the compact form.
``offsets``
    uint8, shape ``(H', W', C)``: the offset of each maximum inside its pooling window,
    ``(h % s_h) * s_w + (w % s_w)`` for position ``(h, w)`` of the pooled-from plane.
``input_shape``
    ``(H, W)`` of the pooled-from image (the unpooled output size).
``stride``
    ``(s_h, s_w)``.

Files without ``format`` hold ``indices`` instead of ``offsets``: int64 flat positions
``h * W + w`` (PyTorch's layout, as :func:`upsamp.max_pool` returns them). They stay accepted:
once checked they are converted to the compact form (when every index lies in its own window).

This module holds no PIL code: images arrive as arrays from :mod:`upsamp.imageio`.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import InputError, ParameterError
from .geometry import format_size
from .methods.pooling import (
    WindowOffsets,
    check_window_offsets,
    max_pool,
    window_offsets,
)

__all__ = [
    "OFFSETS_FORMAT",
    "PoolIndices",
    "compact_positions",
    "load_indices",
    "indices_payload",
    "indices_from_guide",
    "fit_indices",
    "check_pooled_size",
    "guide_positions",
    "split_positions",
]


#: The value of the ``format`` member of an indices file in the compact form.
OFFSETS_FORMAT = "window-offsets"


@dataclass(frozen=True)
class PoolIndices:
    """Positions with the geometry they belong to: ``indices`` holds flat int64 positions, or
    with ``compact`` uint8 offsets inside each window (:class:`~upsamp.methods.pooling.
    WindowOffsets`)."""

    indices: np.ndarray  # (H', W', C)
    input_shape: tuple[int, int]
    stride: tuple[int, int]
    compact: bool = False

    def flat(self) -> np.ndarray:
        """The positions as flat int64 indices ``h * W + w`` (PyTorch's layout)."""
        if not self.compact:
            return self.indices
        sh, sw = self.stride
        dy, dx = np.divmod(self.indices.astype(np.int64), sw)
        rows = np.arange(self.indices.shape[0])[:, None, None] * sh + dy
        cols = np.arange(self.indices.shape[1])[None, :, None] * sw + dx
        return rows * self.input_shape[1] + cols

    def for_method(self, positions: np.ndarray) -> np.ndarray | WindowOffsets:
        """``positions`` (a part of ``indices``) in the form max-unpool takes."""
        return WindowOffsets(positions) if self.compact else positions


def compact_positions(found: PoolIndices) -> PoolIndices:
    """``found`` in the compact form, or unchanged when it cannot be (an index outside its own
    window, or windows of more than 256 positions)."""
    if found.compact:
        return found
    offsets = window_offsets(found.indices, found.stride, found.input_shape)
    if offsets is None:
        return found
    return PoolIndices(offsets.offsets, found.input_shape, found.stride, compact=True)


def indices_payload(found: PoolIndices) -> dict[str, np.ndarray]:
    """The arrays to store in an ``.npz`` file for ``found`` (the compact form when it can be)."""
    found = compact_positions(found)
    geometry = {
        "input_shape": np.asarray(found.input_shape, dtype=np.int64),
        "stride": np.asarray(found.stride, dtype=np.int64),
    }
    if found.compact:
        return {"format": np.array(OFFSETS_FORMAT), "offsets": found.indices, **geometry}
    return {"indices": np.asarray(found.indices, dtype=np.int64), **geometry}


def load_indices(path: str | Path) -> PoolIndices:
    """Read an indices file; every problem is an :class:`InputError` naming the file.

    A file is read once per run: later calls for the same unchanged file (same size and
    modification time) return the same arrays, which callers must not modify.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such indices file")
    stat = path.stat()
    return _load_indices(path, str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=8)
def _load_indices(path: Path, resolved: str, size: int, mtime_ns: int) -> PoolIndices:
    """Read ``path`` (messages name it as the user gave it); the other arguments key the cache."""
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):  # a .npy array under a .npz name
            raise InputError(
                f"{path}: a .npy array, not an .npz indices file; write one with "
                "'upsamp pool ... --indices-out FILE.npz'"
            )
        with loaded as data:
            compact = "format" in data.files
            positions_name = "offsets" if compact else "indices"
            missing = {positions_name, "input_shape", "stride"} - set(data.files)
            if missing:
                raise InputError(
                    f"{path}: not an upsamp indices file (missing {', '.join(sorted(missing))}); "
                    "write one with 'upsamp pool ... --indices-out FILE.npz'"
                )
            _check_member_sizes(path, data)
            if compact:
                _check_format(path, data["format"])
            indices = data[positions_name]
            input_shape = _pair(path, data["input_shape"], "input_shape")
            stride = _pair(path, data["stride"], "stride")
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise InputError(f"{path}: not a readable .npz indices file ({exc})") from None
    if not isinstance(indices, np.ndarray):  # a member that is not a .npy array (a pickle...)
        raise InputError(f"{path}: the '{positions_name}' member is not a numpy array")
    if len(input_shape) != 2 or len(stride) != 2 or min(stride) < 1 or min(input_shape) < 1:
        raise InputError(f"{path}: bad input_shape {input_shape} or stride {stride}")
    if compact:
        if indices.dtype != np.uint8 or indices.ndim not in (2, 3):
            raise InputError(f"{path}: offsets must be a 2-D or 3-D uint8 array")
        try:
            check_window_offsets(indices, stride, input_shape)
        except ParameterError as exc:
            raise InputError(f"{path}: {exc}") from None
    elif indices.dtype.kind not in "iu" or indices.ndim not in (2, 3):
        raise InputError(f"{path}: indices must be a 2-D or 3-D integer array")
    if indices.ndim == 2:
        indices = indices[:, :, None]
    if compact:
        return PoolIndices(indices, input_shape, stride, compact=True)
    found = PoolIndices(indices.astype(np.int64), input_shape, stride)
    return compact_positions(found)


def _check_format(path: Path, value: object) -> None:
    """The ``format`` member must name the compact form this version writes."""
    text = value if isinstance(value, np.ndarray) and value.dtype.kind == "U" else None
    if text is None or text.shape != () or str(text) != OFFSETS_FORMAT:
        raise InputError(
            f"{path}: unknown indices format {value!r}; this version reads '{OFFSETS_FORMAT}'"
        )


def _pair(path: Path, value: object, name: str) -> tuple[int, int]:
    """Two positive integers stored as a 1-D array of two."""
    array = value if isinstance(value, np.ndarray) else None
    if array is None or array.shape != (2,) or array.dtype.kind not in "iu":
        shape = getattr(value, "shape", type(value).__name__)
        raise InputError(f"{path}: {name} must be two integers, got an array of shape {shape}")
    return int(array[0]), int(array[1])


def _check_member_sizes(path: Path, data: np.lib.npyio.NpzFile) -> None:
    """Refuse, before decompressing anything, members larger than half the memory available: a
    small compressed file can expand a thousand times."""
    from .resources import available_memory

    available = available_memory()
    if available is None:
        return
    total = sum(info.file_size for info in data.zip.infolist())
    if total > available // 2:
        raise InputError(
            f"{path}: expands to {total / 2**30:.1f} GiB, more than the memory available "
            f"({available / 2**30:.1f} GiB) allows"
        )


def indices_from_guide(guide: np.ndarray, stride: tuple[int, int]) -> PoolIndices:
    """Max-pool ``guide`` (``(H, W)`` or ``(H, W, C)``) to find the positions of the maxima."""
    _, found = max_pool(guide, stride)
    if found.ndim == 2:
        found = found[:, :, None]
    return PoolIndices(found, (int(guide.shape[0]), int(guide.shape[1])), stride)


def fit_indices(found: PoolIndices, pooled_shape: tuple[int, ...], origin: str) -> np.ndarray:
    """Return indices shaped ``(H', W', C)`` for a pooled image of shape ``pooled_shape``.

    The spatial size must match; a single index plane is shared by every channel; otherwise
    the channel counts must match.
    """
    h, w = pooled_shape[:2]
    channels = pooled_shape[2] if len(pooled_shape) == 3 else 1
    idx = found.indices
    if idx.shape[:2] != (h, w):
        raise InputError(
            f"{origin}: positions are for a {format_size(idx.shape)} pooled image, "
            f"but the input is {format_size((h, w))}"
        )
    if idx.shape[2] == channels:
        return idx
    if idx.shape[2] == 1:
        return np.repeat(idx, channels, axis=2)
    raise InputError(
        f"{origin}: positions have {idx.shape[2]} channels but the input has {channels}"
    )


def check_pooled_size(found: PoolIndices, input_shape: tuple[int, ...], origin: str) -> None:
    """Raise :class:`InputError` when ``found`` is not for a pooled image of ``input_shape``."""
    if found.indices.shape[:2] != tuple(input_shape[:2]):
        raise InputError(
            f"{origin}: positions are for a {format_size(found.indices.shape)} pooled image, "
            f"but the input is {format_size(input_shape)}"
        )


def guide_positions(
    pixels: np.ndarray,
    alpha: np.ndarray | None,
    input_hw: tuple[int, int],
    stride: tuple[int, int] | None,
    origin: str,
) -> PoolIndices:
    """Positions found by max-pooling a guide image (``pixels``, and ``alpha`` when the image
    to unpool has an alpha plane too). ``stride`` None takes it from the size ratio of the
    guide to the pooled input ``input_hw``."""
    planes = [pixels if pixels.ndim == 3 else pixels[:, :, None]]
    if alpha is not None:
        planes.append(alpha[:, :, None])
    if stride is None:
        stride = (pixels.shape[0] // input_hw[0], pixels.shape[1] // input_hw[1])
        if min(stride) < 1:
            raise InputError(
                f"{origin}: the guide ({format_size(pixels.shape)}) is "
                f"smaller than the input ({format_size(input_hw)})"
            )
    found = indices_from_guide(np.concatenate(planes, axis=2).astype(np.float64), stride)
    return compact_positions(found)


def split_positions(
    found: PoolIndices, pixels_shape: tuple[int, ...], has_alpha: bool, origin: str
) -> tuple[np.ndarray | WindowOffsets, np.ndarray | WindowOffsets | None]:
    """The positions for the colour channels of a pooled image of shape ``pixels_shape``
    (shaped like it) and for its alpha plane (None without alpha).

    ``found`` holds one plane shared by every channel, one per colour channel (alpha then
    shares the first), or one per colour channel plus one for alpha.
    """
    colour_channels = pixels_shape[2] if len(pixels_shape) == 3 else 1
    wanted = colour_channels + (1 if has_alpha else 0)
    if found.indices.shape[2] not in (1, colour_channels, wanted):
        raise InputError(
            f"{origin}: positions have {found.indices.shape[2]} channels but the image has "
            f"{colour_channels}{' + alpha' if has_alpha else ''}"
        )
    colour_idx = fit_indices(
        PoolIndices(found.indices[:, :, :colour_channels], found.input_shape, found.stride)
        if found.indices.shape[2] == wanted and wanted != colour_channels
        else found,
        pixels_shape,
        origin,
    )
    alpha_idx = None
    if has_alpha:
        alpha_idx = (
            found.indices[:, :, -1] if found.indices.shape[2] == wanted else colour_idx[:, :, 0]
        )
    if len(pixels_shape) == 2:
        colour_idx = colour_idx[:, :, 0]
    return (
        found.for_method(colour_idx),
        None if alpha_idx is None else found.for_method(alpha_idx),
    )
