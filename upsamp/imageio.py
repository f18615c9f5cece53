"""Reading and writing images and arrays: the only module of the package that imports Pillow.

Conventions
-----------
* Arrays are ``(H, W)`` for one colour channel and ``(H, W, 3)`` for RGB; row 0 is the top of the
  image as a viewer shows it (EXIF orientation is applied on load).
* Alpha is never mixed into the colour channels: :class:`LoadedImage` keeps it apart in
  ``.alpha`` and :func:`save_image` takes it as a separate argument.
* Values are never rescaled on load: an 8-bit image holds 0..255, a 16-bit one 0..65535.
* The numeric code computes in floating point; :func:`to_storage` turns float results back into
  the storage dtype of a Pillow mode (round half to even, then clip or rescale).
* Every expected failure raises :class:`~upsamp.errors.InputError` (reading) or
  :class:`~upsamp.errors.OutputError` (writing) with a one-line message that starts with the
  file's path. Inconsistent arguments from the calling code raise
  :class:`~upsamp.errors.ParameterError`.
* Outputs are written atomically (:func:`atomic_write`): a temporary file in the target's folder,
  fsync, then a rename; an existing file is never replaced unless ``overwrite`` is true.
"""

from __future__ import annotations

import errno
import io
import os
import re
import secrets
import stat
import struct
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import (
    Image,
    ImageOps,
    PngImagePlugin,
    UnidentifiedImageError,
    features,
)

from .errors import InputError, OutputError, ParameterError
from .geometry import format_size
from .png import PNG_MODES, PngWriter, write_png
from .process import signals_deferred

__all__ = [
    "LoadedImage",
    "array_mode",
    "atomic_write",
    "ImageHeader",
    "is_image_file",
    "probe",
    "load_array",
    "load_image",
    "load_input",
    "output_format",
    "same_file",
    "check_target",
    "save_array",
    "save_image",
    "save_stored",
    "save_stored_bands",
    "split_mode",
    "storage_dtype",
    "with_alpha",
    "to_storage",
    "value_range",
]

PathLike = str | os.PathLike[str]

#: Storage dtype of every mode a :class:`LoadedImage` can have.
_STORAGE_DTYPE: dict[str, np.dtype] = {
    "L": np.dtype(np.uint8),
    "LA": np.dtype(np.uint8),
    "RGB": np.dtype(np.uint8),
    "RGBA": np.dtype(np.uint8),
    "I;16": np.dtype(np.uint16),
    "RGB;16": np.dtype(np.uint16),
    "LA;16": np.dtype(np.uint16),
    "RGBA;16": np.dtype(np.uint16),
    "I": np.dtype(np.int32),
    "F": np.dtype(np.float32),
}

#: Modes with an alpha plane (stored last) -> their colour mode.
_ALPHA_MODES: dict[str, str] = {"LA": "L", "RGBA": "RGB", "LA;16": "I;16", "RGBA;16": "RGB;16"}
#: Colour mode -> the mode it has with an alpha plane.
_WITH_ALPHA: dict[str, str] = {colour: full for full, colour in _ALPHA_MODES.items()}
#: Channels of every full mode (alpha included).
_CHANNELS: dict[str, int] = {
    "L": 1, "I;16": 1, "I": 1, "F": 1, "LA": 2, "LA;16": 2, "RGB": 3, "RGB;16": 3,
    "RGBA": 4, "RGBA;16": 4,
}  # fmt: skip

#: Pillow's names of 16-bit grayscale modes; all are loaded and saved as "I;16".
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})

#: Modes whose colours are converted to RGB on load (their ICC profile no longer applies).
_CONVERTED_TO_RGB = frozenset({"CMYK", "YCbCr", "LAB", "HSV"})

#: Output extension -> Pillow format name ("NPY" for NumPy's own format).
_EXTENSIONS: dict[str, str] = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
    ".gif": "GIF",
    ".npy": "NPY",
}

#: Formats that can store an alpha channel (GIF: 1-bit transparency).
_CARRIES_ALPHA = frozenset({"PNG", "WEBP", "TIFF", "GIF"})

_EXIF_ORIENTATION = 0x0112
_DEFAULT_QUALITY = 95
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_NPY_MAGIC = b"\x93NUMPY"


@dataclass
class LoadedImage:
    """An image read from a file, split into colour channels and alpha.

    Attributes
    ----------
    pixels : numpy.ndarray
        Colour channels only: ``(H, W)`` for modes L/LA/I;16/I/F, ``(H, W, 3)`` for RGB/RGBA.
        The dtype is the storage dtype of ``mode``: uint8 (L, LA, RGB, RGBA), uint16 (I;16),
        int32 (I), float32 (F). For ``format == "NPY"`` it is the array exactly as stored (any
        numeric dtype, any channel count) and ``mode`` follows its dtype (:func:`load_input`).
    alpha : numpy.ndarray or None
        ``(H, W)`` alpha channel with the dtype of ``pixels``, or None.
    mode : str
        The Pillow mode the result is saved in: one of "L", "LA", "RGB", "RGBA", "I;16", "I", "F".
    source_mode : str
        The file's own Pillow mode (e.g. "P", "CMYK", "1", "I;16B"); for NPY inputs, the
        array's dtype name (e.g. "float64").
    format : str or None
        Pillow's format name of the source ("PNG", "JPEG", ...) or "NPY".
    info : dict
        Metadata to carry to the output, each key only when present: ``"icc_profile"`` (bytes),
        ``"dpi"`` (tuple of two floats), ``"exif"`` (bytes, orientation reset to 1).
    path : pathlib.Path or None
        The file the image was read from.
    frame_count, frame_index : int
        How many frames (or TIFF pages) the file has, and which one this is.
    animation : dict
        For a frame of an animation: ``"duration"`` (ms), and ``"loop"``, ``"disposal"`` when
        the file has them.
    encoding : dict
        How the input was encoded, for outputs that keep it (:func:`encoder_settings`).
    notes : list of str
        One-line notes about the conversion (e.g. a colour space converted without a profile).
    """

    pixels: np.ndarray
    alpha: np.ndarray | None
    mode: str
    source_mode: str
    format: str | None
    info: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    frame_count: int = 1
    frame_index: int = 0
    animation: dict[str, Any] = field(default_factory=dict)
    encoding: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of ``pixels``: ``(H, W)`` or ``(H, W, C)``."""
        return tuple(self.pixels.shape)

    @property
    def has_alpha(self) -> bool:
        """True when the image has an alpha channel."""
        return self.alpha is not None


# --------------------------------------------------------------------------------------------
# Pillow's own decompression-bomb limit
# --------------------------------------------------------------------------------------------

_limit_lock = threading.Lock()
_limit_users = 0
_saved_pillow_limit: int | None = None


@contextmanager
def _pillow_size_checks_off() -> Iterator[int | None]:
    """Switch off Pillow's own pixel-count checks while Pillow is used here.

    This module checks the size itself (from the header, before decoding) against a limit it
    chooses, so Pillow must neither warn nor refuse. ``Image.MAX_IMAGE_PIXELS`` is restored when
    the last user leaves. Yields the limit that was in force before (Pillow's default unless
    someone changed it), which is the default of ``max_pixels``.
    """
    global _limit_users, _saved_pillow_limit
    with _limit_lock:
        if _limit_users == 0:
            _saved_pillow_limit = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = None
        _limit_users += 1
        saved = _saved_pillow_limit
    try:
        yield saved
    finally:
        with _limit_lock:
            _limit_users -= 1
            if _limit_users == 0:
                Image.MAX_IMAGE_PIXELS = _saved_pillow_limit


def _reason(exc: BaseException) -> str:
    """A one-line description of ``exc`` for an error message."""
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())


def _check_max_pixels(max_pixels: int | None) -> None:
    if max_pixels is not None and (
        isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels < 1
    ):
        raise ParameterError(f"max_pixels must be a positive integer or None, got {max_pixels!r}")


def _refuse_too_big(path: Path, height: int, width: int, limit: int | None) -> None:
    if limit is not None and width * height > limit:
        raise InputError(
            f"{path}: image is {format_size((height, width))} = {width * height} pixels, more "
            f"than the limit of {limit}; raise it with --max-pixels if the file is trusted"
        )


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


#: The raster formats upsamp decodes (Pillow format names). Nothing else is ever opened: in
#: particular not EPS/PostScript, which Pillow renders by running Ghostscript, nor PDF, WMF/EMF,
#: PSD, FITS, HDF5 and the other plugins that hand data to external programs or rarely used
#: parsers. Content sniffing (``probe``, ``is_image_file``) uses the same list.
RASTER_FORMATS: tuple[str, ...] = (
    "PNG", "JPEG", "MPO", "GIF", "TIFF", "WEBP", "BMP", "DIB", "PPM", "TGA", "ICO", "QOI",
    "JPEG2000", "AVIF",
)

#: Leading bytes of formats that are refused, to name what a refused file is.
_REFUSED_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%!PS", "a PostScript document"),
    (b"\xc5\xd0\xd3\xc6", "an EPS (PostScript) document"),
    (b"%PDF", "a PDF document"),
    (b"8BPS", "a Photoshop document"),
    (b"\xd7\xcd\xc6\x9a", "a Windows metafile (WMF)"),
    (b"SIMPLE  =", "a FITS file"),
    (b"\x89HDF", "an HDF5 file"),
    (b"<?xml", "an XML document (SVG is not a raster format)"),
    (b"<svg", "an SVG drawing (not a raster format)"),
)


def describe_refused(head: bytes) -> str:
    """Name what a file that is not an allowed raster image is, from its first bytes."""
    for signature, what in _REFUSED_SIGNATURES:
        if head.startswith(signature):
            return what
    return "not an image format upsamp reads"


def _open_raster(source: Any) -> Image.Image:
    """``Image.open`` restricted to :data:`RASTER_FORMATS` (raises UnidentifiedImageError).

    Formats this Pillow build does not have (MPO and AVIF vary between versions) are left out.
    """
    Image.init()
    return Image.open(source, formats=[f for f in RASTER_FORMATS if f in Image.OPEN])


def _refusal(path: Path, head: bytes) -> InputError:
    what = describe_refused(head.lstrip(b"\x04"))  # DOS PostScript files may start with ^D
    allowed = ", ".join(RASTER_FORMATS)
    return InputError(f"{path}: {what}; upsamp decodes only raster images ({allowed})")


@contextmanager
def _write_errors(target: Any, fmt: str) -> Iterator[None]:
    """Turn an encoder's or the file system's failure into one OutputError naming ``target``."""
    try:
        yield
    except OutputError:
        raise
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise OutputError(f"{target}: cannot write {fmt} ({_reason(exc)})") from None


def _open_for_reading(path: Path) -> Any:
    """Open ``path`` in binary mode, turning the usual OS failures into InputError."""
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a file") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({_reason(exc)})") from None


def _check_is_file(path: Path) -> None:
    """Refuse anything but a regular file before opening it: a folder, and a FIFO, socket or
    device, whose reading could block for ever or never end."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return  # opening it reports the problem
    if stat.S_ISDIR(mode):
        raise InputError(f"{path}: is a directory, not a file")
    if not stat.S_ISREG(mode):
        kind = (
            "a named pipe (FIFO)" if stat.S_ISFIFO(mode)
            else "a socket" if stat.S_ISSOCK(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "not a regular file"
        )  # fmt: skip
        raise InputError(f"{path}: is {kind}, not a regular file")


def _png_header(head: bytes) -> tuple[int, int] | None:
    """Return ``(bit_depth, colour_type)`` from a PNG's IHDR, or None when not a PNG."""
    if len(head) < 26 or not head.startswith(_PNG_SIGNATURE) or head[12:16] != b"IHDR":
        return None
    return head[24], head[25]


def _orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(_EXIF_ORIENTATION, 1)
        return int(value) if value in range(1, 9) else 1
    except Exception:  # unreadable EXIF: treat as no orientation
        return 1


def _carried_exif(raw: Any, had_orientation: bool) -> bytes | None:
    """Return EXIF bytes to carry to the output, with the orientation reset to 1."""
    if not isinstance(raw, bytes | bytearray) or not raw:
        return None
    try:
        exif = Image.Exif()
        exif.load(bytes(raw))
        if had_orientation or _EXIF_ORIENTATION in exif:
            exif[_EXIF_ORIENTATION] = 1
        data = exif.tobytes()
    except Exception:  # malformed EXIF is dropped rather than failing the whole image
        return None
    return data if data else None


def _to_supported_mode(im: Image.Image, png: tuple[int, int] | None) -> tuple[Image.Image, str]:
    """Convert ``im`` to one of the modes of :class:`LoadedImage`; return it and that mode."""
    mode = im.mode
    if mode in _SIXTEEN_BIT_MODES:
        return im, "I;16"
    if mode == "I":
        if png is not None and png == (16, 0):  # a Pillow that opens 16-bit gray PNG as "I"
            return im, "I;16"
        return im, "I"
    if mode == "F":
        return im, "F"
    if mode in ("L", "RGB"):
        if im.has_transparency_data:  # a tRNS colour key becomes a real alpha channel
            target = "LA" if mode == "L" else "RGBA"
            return im.convert(target), target
        return im, mode
    if mode in ("LA", "RGBA"):
        return im, mode
    if mode == "1":
        return im.convert("L"), "L"
    if mode == "La":
        return im.convert("LA"), "LA"
    if mode == "P":
        target = "RGBA" if im.has_transparency_data else "RGB"
        return im.convert(target), target
    if mode in ("PA", "RGBa"):
        return im.convert("RGBA"), "RGBA"
    if mode in _CONVERTED_TO_RGB or mode == "RGBX":
        return im.convert("RGB"), "RGB"
    target = "RGBA" if "A" in im.getbands() else "RGB"
    return im.convert(target), target


def _image_array(im: Image.Image, strip_bytes: int = 8 << 20) -> np.ndarray:
    """``np.array(im)``, copied a strip of rows at a time: Pillow hands an image to numpy as
    one bytes object, which for a big image would be a third copy of it in memory."""
    width, height = im.size
    first = np.asarray(im.crop((0, 0, width, min(height, 1))))
    if first.nbytes * height <= 8 * strip_bytes:  # small enough: one copy is faster
        return np.array(im)
    out = np.empty((height,) + first.shape[1:], dtype=first.dtype)
    step = max(1, strip_bytes // max(1, first.nbytes))
    for top in range(0, height, step):
        bottom = min(height, top + step)
        out[top:bottom] = np.asarray(im.crop((0, top, width, bottom)))
    return out


def _split(im: Image.Image, mode: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Return ``(pixels, alpha)`` as writable arrays of the storage dtype of ``mode``."""
    arr = _image_array(im)
    dtype = _STORAGE_DTYPE[mode]
    if mode in ("LA", "RGBA"):
        pixels = np.ascontiguousarray(arr[..., :-1], dtype=dtype)
        if mode == "LA":
            pixels = pixels[..., 0]
        alpha = np.ascontiguousarray(arr[..., -1], dtype=dtype)
        return pixels, alpha
    return np.ascontiguousarray(arr, dtype=dtype), None


def load_image(
    path: PathLike, *, max_pixels: int | None = None, frame: int | None = None
) -> LoadedImage:
    """Read an image file with Pillow (16-bit colour TIFFs with tifffile).

    Parameters
    ----------
    path : str or os.PathLike
        The file. Its format is found from its content, not its extension.
    max_pixels : int or None
        Refuse images with more than this many pixels (width times height), checked from the
        header before any decoding. None means :data:`DEFAULT_MAX_PIXELS`.
    frame : int or None
        Which frame (0-based) of an animation or page of a multi-page TIFF; None reads frame 0
        and records the number of frames in :attr:`LoadedImage.frame_count`.

    Returns
    -------
    LoadedImage
        Colour channels and alpha as separate arrays of the storage dtype (see
        :class:`LoadedImage`), with EXIF orientation applied.

    Raises
    ------
    InputError
        Missing file, directory, unreadable, not an image, truncated or corrupt, larger than
        ``max_pixels``, a frame index out of range, or a 16-bit colour PNG without a 16-bit
        PNG decoder.
    ParameterError
        ``max_pixels`` is not a positive integer or None.

    Notes
    -----
    Modes: L, LA, RGB, RGBA are kept; "1" becomes L (0/255); P becomes RGB, or RGBA when it
    has transparency; PA, La, RGBa become RGBA; L/RGB with a tRNS colour key become LA/RGBA;
    CMYK, YCbCr, LAB, HSV become RGB: through their embedded ICC profile to sRGB when they
    have one (the output then carries an sRGB profile), else with Pillow's plain formula and
    a note; 16-bit grayscale is kept as uint16 with mode "I;16", 16-bit RGB/RGBA as "RGB;16"
    with a uint16 alpha; I stays int32, F stays float32. Frames of animations are whole
    pictures, composited as a viewer shows them.
    """
    return _load(path, max_pixels=max_pixels, frames=[0 if frame is None else frame])[0]


def load_frames(path: PathLike, *, max_pixels: int | None = None) -> list[LoadedImage]:
    """Read every frame of an animation (GIF, APNG, WebP) or every page of a TIFF.

    Each frame is a :class:`LoadedImage` as :func:`load_image` returns it, with
    ``frame_index`` set and the timing in ``animation`` (``duration`` in milliseconds,
    ``loop``, ``disposal``). The frames of an animation all get the same mode (the widest:
    alpha if any frame has it). ``max_pixels`` applies to each frame.
    """
    return _load(path, max_pixels=max_pixels, frames=None)


def _load(
    path: PathLike, *, max_pixels: int | None, frames: list[int] | None
) -> list[LoadedImage]:
    _check_max_pixels(max_pixels)
    if frames is not None and any(
        isinstance(f, bool) or not isinstance(f, int) or f < 0 for f in frames
    ):
        raise ParameterError(f"frame must be a non-negative integer, got {frames[0]!r}")
    p = Path(path)
    _check_is_file(p)
    with _open_for_reading(p) as fh:
        try:
            head = fh.read(32)
            fh.seek(0)
        except OSError as exc:
            raise InputError(f"{p}: cannot read ({_reason(exc)})") from None
        png = _png_header(head)
        with _pillow_size_checks_off():
            limit = DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels
            try:
                im = _open_raster(fh)
            except UnidentifiedImageError:
                if head.startswith(_TIFF_SIGNATURES):  # 16-bit gray+alpha: Pillow has no mode
                    return _load_tiff_gray_alpha16(p, fh, head, limit, frames)
                raise _refusal(p, head) from None
            except Exception as exc:
                raise InputError(f"{p}: truncated or corrupt image data ({_reason(exc)})") from None
            with im:
                count = max(1, int(getattr(im, "n_frames", 1) or 1))
                wanted = list(range(count)) if frames is None else frames
                for index in wanted:
                    if index >= count:
                        raise InputError(
                            f"{p}: frame {index} does not exist; it has {count} frame"
                            f"{'s' if count != 1 else ''} (--frame takes 0..{count - 1})"
                        )
                loaded = []
                encoding = _source_encoding(im, fh)
                for index in wanted:
                    try:
                        if index or count > 1:
                            im.seek(index)
                    except Exception as exc:
                        raise InputError(
                            f"{p}: frame {index} is truncated or corrupt ({_reason(exc)})"
                        ) from None
                    image = _decode(p, im, png, limit, fh, index)
                    image.frame_count = count
                    image.frame_index = index
                    image.encoding = encoding
                    loaded.append(image)
    if frames is None and len(loaded) > 1:
        _same_mode(p, loaded)
    return loaded


def _same_mode(path: Path, frames: list[LoadedImage]) -> None:
    """Give every frame the widest mode among them (in place)."""
    sixteen = {f.pixels.dtype == np.uint16 for f in frames}
    if len(sixteen) > 1 or any(f.mode in ("I", "F") for f in frames) and len(
        {f.mode for f in frames}
    ) > 1:
        raise InputError(f"{path}: its frames have different bit depths; pick one with --frame N")
    colour = any(f.pixels.ndim == 3 for f in frames)
    alpha = any(f.has_alpha for f in frames)
    top = np.iinfo(frames[0].pixels.dtype).max if frames[0].pixels.dtype.kind == "u" else None
    for f in frames:
        if colour and f.pixels.ndim == 2:
            f.pixels = np.repeat(f.pixels[:, :, None], 3, axis=2)
            f.mode = {"L": "RGB", "LA": "RGB", "I;16": "RGB;16"}.get(f.mode, f.mode)
        if alpha and f.alpha is None and top is not None:
            f.alpha = np.full(f.pixels.shape[:2], top, dtype=f.pixels.dtype)


#: The most pixels an input may have unless --max-pixels says otherwise: 2**28 (268 million),
#: three times Pillow's default. A 150-megapixel camera file (and a 240-megapixel
#: pixel-shift composite) passes; a small file that claims a gigapixel picture is still
#: refused before anything is decoded, and the pipeline checks the memory it needs first.
DEFAULT_MAX_PIXELS = 1 << 28


def _source_encoding(im: Image.Image, fh: Any) -> dict[str, Any]:
    """How the input was encoded, for outputs that keep it (see :func:`encoder_settings`)."""
    out: dict[str, Any] = {}
    if im.format == "JPEG":
        try:
            from PIL import JpegImagePlugin

            sampling = JpegImagePlugin.get_sampling(im)
        except Exception:
            sampling = -1
        names = {0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}
        if sampling in names:
            out["jpeg_subsampling"] = names[sampling]
        tables = getattr(im, "quantization", None)
        if tables:
            out["jpeg_qtables"] = {k: list(v) for k, v in tables.items()}
    elif im.format == "WEBP":
        out["webp_lossless"] = _webp_is_lossless(fh)
    elif im.format == "TIFF":
        names = {"tiff_lzw": "lzw", "tiff_adobe_deflate": "deflate", "tiff_deflate": "deflate"}
        out["tiff_compression"] = names.get(str(im.info.get("compression")), "none")
    return out


def _webp_is_lossless(fh: Any) -> bool:
    """True when the first image chunk of a WebP file is VP8L (lossless)."""
    try:
        fh.seek(12)
        data = fh.read(1 << 16)
    except OSError:
        return False
    pos = 0
    while pos + 8 <= len(data):
        kind = data[pos : pos + 4]
        size = struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        if kind in (b"VP8L", b"VP8 "):
            return kind == b"VP8L"
        if kind == b"ANMF":  # an animation frame: its image chunk follows 16 bytes of header
            pos += 8 + 16
            continue
        pos += 8 + size + (size % 2)
    return False


def _orient(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1..8) to an ``(H, W[, C])`` array, as Pillow's
    ``exif_transpose`` does to an image."""
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
        8: lambda a: np.rot90(a, 1),
    }
    op = ops.get(orientation)
    return arr if op is None else np.ascontiguousarray(op(arr))


def _tiff_bits(im: Image.Image) -> int:
    tags = getattr(im, "tag_v2", None)
    bits = tags.get(258) if tags is not None else None  # BitsPerSample
    if bits is None:
        return 8
    values = bits if isinstance(bits, tuple) else (bits,)
    return max(int(b) for b in values)


#: Leading bytes of TIFF and BigTIFF files, little- and big-endian.
_TIFF_SIGNATURES = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def _load_tiff_gray_alpha16(
    path: Path, fh: Any, head: bytes, limit: int | None, frames: list[int] | None
) -> list[LoadedImage]:
    """The pages of a 16-bit gray+alpha TIFF (which Pillow cannot open), read with tifffile;
    any other TIFF Pillow cannot open is refused as Pillow refuses it."""
    # tifffile is imported here, not at module level, for start-up time
    try:
        import tifffile
    except ImportError:
        raise _refusal(path, head) from None
    try:
        fh.seek(0)
        with tifffile.TiffFile(fh) as tif:
            pages = [(page.shape, page.dtype, page.samplesperpixel) for page in tif.pages]
            tags = tif.pages[0].tags
            icc = tags.get(34675)
            resolution = (tags.get(282), tags.get(283), tags.get(296))
            orientation = tags.get(274)
            compression = {5: "lzw", 8: "deflate", 32946: "deflate"}.get(
                int(tif.pages[0].compression), "none"
            )
            icc = icc.value if icc is not None else None
            dpi = _tiff_dpi(*(t.value if t is not None else None for t in resolution))
            orientation = int(orientation.value) if orientation is not None else 1
    except Exception:
        raise _refusal(path, head) from None
    if not pages or any(
        dtype != np.uint16 or samples != 2 or len(shape) != 3 for shape, dtype, samples in pages
    ):
        raise _refusal(path, head)
    count = len(pages)
    wanted = list(range(count)) if frames is None else frames
    loaded = []
    for index in wanted:
        if index >= count:
            raise InputError(
                f"{path}: frame {index} does not exist; it has {count} frame"
                f"{'s' if count != 1 else ''} (--frame takes 0..{count - 1})"
            )
        shape = pages[index][0]
        height, width = (shape[1], shape[2]) if shape[0] == 2 else (shape[0], shape[1])
        _refuse_too_big(path, height, width, limit)  # from the header, before decoding
        deep = _orient(_read_tiff16(path, fh, index), orientation)
        info: dict[str, Any] = {}
        if isinstance(icc, bytes | bytearray) and icc:
            info["icc_profile"] = bytes(icc)
        if dpi is not None:
            info["dpi"] = dpi[::-1] if orientation >= 5 else dpi
        loaded.append(
            LoadedImage(
                pixels=np.ascontiguousarray(deep[:, :, 0]),
                alpha=np.ascontiguousarray(deep[:, :, 1]),
                mode="I;16",
                source_mode="LA;16",
                format="TIFF",
                info=info,
                path=path,
                frame_count=count,
                frame_index=index,
                encoding={"tiff_compression": compression},
            )
        )
    return loaded


def _tiff_dpi(x: Any, y: Any, unit: Any) -> tuple[float, float] | None:
    """Dots per inch from TIFF XResolution, YResolution (rationals) and ResolutionUnit."""
    try:
        xdpi, ydpi = (float(v[0]) / float(v[1]) if isinstance(v, tuple) else float(v)
                      for v in (x, y))  # fmt: skip
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    scale = {2: 1.0, 3: 2.54}.get(int(unit) if unit is not None else 2)
    if scale is None or xdpi <= 0 or ydpi <= 0:
        return None
    return (xdpi * scale, ydpi * scale)


def _read_tiff16(path: Path, fh: Any, index: int) -> np.ndarray:
    """Page ``index`` of a TIFF of more than 8 bits per sample, read with tifffile (Pillow
    reduces such colour images to 8 bits)."""
    # tifffile is imported here, not at module level, for start-up time
    import tifffile

    try:
        fh.seek(0)
        with tifffile.TiffFile(fh) as tif:
            page = tif.pages[index]
            arr = page.asarray()
            if arr.ndim == 3 and page.planarconfig == 2 and arr.shape[0] in (2, 3, 4):
                arr = np.moveaxis(arr, 0, 2)
            associated = 1 in tuple(getattr(page, "extrasamples", ()) or ())
    except ImportError:
        raise InputError(f"{path}: reading a 16-bit colour TIFF needs tifffile") from None
    except Exception as exc:
        message = _reason(exc)
        if "imagecodecs" in message:
            raise InputError(
                f"{path}: this TIFF's compression needs the imagecodecs package "
                "(pip install 'upsamp[tiff-lzw]')"
            ) from None
        raise InputError(f"{path}: truncated or corrupt TIFF data ({message})") from None
    if arr.dtype != np.uint16 or arr.ndim != 3 or arr.shape[2] not in (2, 3, 4):
        raise InputError(
            f"{path}: a {arr.dtype} TIFF of shape {arr.shape} is not supported; "
            "16-bit gray+alpha, RGB and RGBA are"
        )
    if associated and arr.shape[2] in (2, 4):  # premultiplied alpha: store it straight
        from .colour import unpremultiply

        straight = unpremultiply(arr[:, :, :-1], arr[:, :, -1], alpha_max=65535)
        arr = arr.copy()
        arr[:, :, :-1] = np.clip(np.rint(straight), 0, 65535).astype(np.uint16)
    return arr


def read_png16(path: Path, fh: Any) -> tuple[np.ndarray, dict[str, Any]]:
    """Decode a 16-bit gray+alpha, RGB or RGBA PNG: ``(array, chunks)``.

    ``array`` is ``(H, W, C)`` uint16; ``chunks`` maps chunk types to their data for the
    metadata. The decoding is :mod:`upsamp.png_read`'s, when this build has it.
    """
    try:
        from . import png_read  # type: ignore[attr-defined]
    except ImportError:
        raise InputError(
            f"{path}: 16-bit colour PNG cannot be read by this build (it would be reduced to "
            "8 bits); save it as a 16-bit TIFF"
        ) from None
    fh.seek(0)
    return png_read.read_png(fh)


def _sixteen_bit_colour(
    path: Path, im: Image.Image, png: tuple[int, int] | None, fh: Any, index: int
) -> np.ndarray | None:
    """The uint16 ``(H, W, C)`` values of a 16-bit colour (or gray+alpha) image Pillow would
    reduce to 8 bits, or None for any other image."""
    if png is not None and png[0] == 16 and png[1] in (2, 4, 6):
        arr, _ = read_png16(path, fh)
        return arr
    if im.format == "TIFF" and im.mode not in _SIXTEEN_BIT_MODES and im.mode not in ("I", "F"):
        if _tiff_bits(im) > 8:
            return _read_tiff16(path, fh, index)
    return None


def _srgb_profile() -> bytes:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _colour_managed(path: Path, im: Image.Image, notes: list[str]) -> tuple[Image.Image, bool]:
    """Convert a non-RGB image with an embedded ICC profile to sRGB through that profile.

    Returns the image (unchanged when there is nothing to do) and whether it was converted.
    """
    if im.mode not in _CONVERTED_TO_RGB:
        return im, False
    icc = im.info.get("icc_profile")
    if not icc:
        notes.append(
            f"{path}: {im.mode} without an ICC profile; converted to RGB with the plain formula"
        )
        return im, False
    try:
        from io import BytesIO

        from PIL import ImageCms

        source = ImageCms.ImageCmsProfile(BytesIO(bytes(icc)))
        target = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
        converted = ImageCms.profileToProfile(
            im, source, target, renderingIntent=ImageCms.Intent.PERCEPTUAL, outputMode="RGB"
        )
    except Exception as exc:
        notes.append(
            f"{path}: its ICC profile cannot be used ({_reason(exc)}); {im.mode} converted to "
            "RGB with the plain formula"
        )
        return im, False
    assert converted is not None
    return converted, True


def _decode(
    path: Path,
    im: Image.Image,
    png: tuple[int, int] | None,
    limit: int | None,
    fh: Any = None,
    index: int = 0,
) -> LoadedImage:
    width, height = im.size
    _refuse_too_big(path, height, width, limit)
    source_mode = im.mode
    source_format = im.format
    notes: list[str] = []
    deep = _sixteen_bit_colour(path, im, png, fh, index)
    if deep is None:
        try:
            im.load()
        except MemoryError:
            raise InputError(
                f"{path}: not enough memory to decode a {format_size((height, width))} image"
            ) from None
        except Exception as exc:
            raise InputError(
                f"{path}: truncated or corrupt image data ({_reason(exc)})"
            ) from None

    orientation = _orientation(im)
    raw_exif = im.info.get("exif")
    if raw_exif is None and im.format == "TIFF":
        raw_exif = _tiff_exif(im)
    had_orientation = orientation != 1
    managed = False
    if deep is not None:
        mode = {2: "I;16", 3: "RGB;16", 4: "RGB;16"}[deep.shape[2]]
        deep = _orient(deep, orientation)
        if deep.shape[2] in (2, 4):
            pixels, alpha = deep[:, :, :-1], np.ascontiguousarray(deep[:, :, -1])
        else:
            pixels, alpha = deep, None
        pixels = np.ascontiguousarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)
    else:
        if had_orientation:
            try:
                im = ImageOps.exif_transpose(im)
            except Exception:  # a broken EXIF block must not make a readable image unreadable
                had_orientation = False
        try:
            managed_im, managed = _colour_managed(path, im, notes)
            converted, mode = _to_supported_mode(managed_im, png)
            pixels, alpha = _split(converted, mode)
        except (ValueError, OSError) as exc:
            raise InputError(
                f"{path}: image mode {source_mode} cannot be converted ({_reason(exc)})"
            ) from None

    info: dict[str, Any] = {}
    icc = im.info.get("icc_profile")
    if managed:
        info["icc_profile"] = _srgb_profile()
    elif isinstance(icc, bytes | bytearray) and icc and source_mode not in _CONVERTED_TO_RGB:
        info["icc_profile"] = bytes(icc)
    dpi = im.info.get("dpi")
    if isinstance(dpi, tuple | list) and len(dpi) == 2:
        try:
            xdpi, ydpi = float(dpi[0]), float(dpi[1])
        except (TypeError, ValueError):
            xdpi = ydpi = 0.0
        if xdpi > 0 and ydpi > 0:
            # orientations 5..8 swap the axes, and so the horizontal and vertical resolutions
            info["dpi"] = (ydpi, xdpi) if had_orientation and orientation >= 5 else (xdpi, ydpi)
    exif = _carried_exif(raw_exif, had_orientation)
    if exif is not None:
        info["exif"] = exif
    info.update(_other_metadata(im))
    animation: dict[str, Any] = {}
    if getattr(im, "n_frames", 1) > 1 and source_format != "TIFF":
        animation["duration"] = int(im.info.get("duration") or 0)
        if "loop" in im.info:
            animation["loop"] = int(im.info["loop"])
        disposal = getattr(im, "disposal_method", None)
        if disposal is None:
            disposal = im.info.get("disposal")
        if disposal is not None:
            animation["disposal"] = int(disposal)
    return LoadedImage(
        pixels=pixels,
        alpha=alpha,
        mode=mode,
        source_mode=source_mode,
        format=source_format,
        info=info,
        path=path,
        notes=notes,
        animation=animation,
    )


#: TIFF tags that are EXIF metadata rather than the file's structure: descriptions, camera,
#: dates, orientation and the Exif and GPS sub-directories.
_TIFF_EXIF_TAGS = (0x010E, 0x010F, 0x0110, 0x0112, 0x0131, 0x0132, 0x013B, 0x8298, 0x8769, 0x8825)


def _tiff_exif(im: Image.Image) -> bytes | None:
    """The EXIF of a TIFF (whose EXIF tags live among the image's own tags), or None."""
    try:
        source = im.getexif()
        exif = Image.Exif()
        for tag in _TIFF_EXIF_TAGS:
            if tag in source:
                exif[tag] = source.get_ifd(tag) if tag in (0x8769, 0x8825) else source[tag]
        return exif.tobytes() if len(exif) else None
    except Exception:  # unreadable EXIF is dropped rather than failing the whole image
        return None


def _other_metadata(im: Image.Image) -> dict[str, Any]:
    """XMP, IPTC, PNG text and comments of ``im``, each only when present."""
    out: dict[str, Any] = {}
    tags = getattr(im, "tag_v2", None) if im.format == "TIFF" else None
    xmp = im.info.get("xmp")
    if xmp is None and tags is not None:
        xmp = tags.get(700)
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")
    if isinstance(xmp, bytes | bytearray) and xmp:
        out["xmp"] = bytes(xmp)
    iptc = None
    if im.format in ("JPEG", "MPO"):
        for marker, data in getattr(im, "applist", []):
            if marker == "APP13":
                iptc = _iptc_from_irb(data)
                if iptc:
                    break
    elif tags is not None:
        raw = tags.get(33723)
        if isinstance(raw, tuple):  # Pillow may give LONG values for this tag
            raw = b"".join(struct.pack(">I", int(v)) for v in raw)
        iptc = raw if isinstance(raw, bytes | bytearray) else None
    if iptc:
        out["iptc"] = bytes(iptc)
    if im.format == "PNG":
        text = {
            str(k): str(v)
            for k, v in (getattr(im, "text", None) or {}).items()
            if k != "XML:com.adobe.xmp"
        }
        if text:
            out["text"] = text
    comment = im.info.get("comment")
    if isinstance(comment, str):
        comment = comment.encode("utf-8")
    if isinstance(comment, bytes | bytearray) and comment:
        out["comment"] = bytes(comment)
    return out


def _read_npy_header(path: Path, fh: Any) -> tuple[tuple[int, ...], np.dtype]:
    try:
        magic = fh.read(len(_NPY_MAGIC))
        fh.seek(0)
        if magic != _NPY_MAGIC:
            raise InputError(f"{path}: not a valid .npy file (no NumPy header)")
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, _fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        else:
            shape, _fortran, dtype = np.lib.format.read_array_header_2_0(fh)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{path}: not a valid .npy file ({_reason(exc)})") from None
    fh.seek(0)
    return tuple(shape), np.dtype(dtype)


def load_array(path: PathLike, *, max_pixels: int | None = None) -> np.ndarray:
    """Read a ``.npy`` file holding a 2-D ``(H, W)`` or 3-D ``(H, W, C)`` numeric array.

    Parameters
    ----------
    path : str or os.PathLike
        A file named ``*.npy`` (any case). Pickled objects are never loaded.
    max_pixels : int or None
        Refuse arrays with more than this many pixels (``H * W``), checked from the header
        before reading the data. None means no limit.

    Returns
    -------
    numpy.ndarray
        The array exactly as stored (dtype and values unchanged): bool, integer or float.

    Raises
    ------
    InputError
        Missing, a directory, unreadable, not named .npy, not a valid .npy file, truncated,
        not numeric (object, string, structured or complex dtype), not 2-D or 3-D, empty, or
        larger than ``max_pixels``.
    """
    _check_max_pixels(max_pixels)
    p = Path(path)
    _check_is_file(p)
    if p.suffix.lower() != ".npy":
        raise InputError(f"{p}: not a .npy file (arrays must be stored with numpy.save as .npy)")
    with _open_for_reading(p) as fh:
        shape, dtype = _read_npy_header(p, fh)
        if dtype.kind not in "biuf":
            raise InputError(f"{p}: array of dtype {dtype} is not numeric (need bool, int, float)")
        if len(shape) not in (2, 3):
            raise InputError(f"{p}: expected a 2-D (H, W) or 3-D (H, W, C) array, got {shape}")
        if 0 in shape:
            raise InputError(f"{p}: the array is empty (shape {shape})")
        _refuse_too_big(p, shape[0], shape[1], max_pixels)
        try:
            array = np.load(fh, allow_pickle=False)
        except Exception as exc:
            raise InputError(f"{p}: truncated or corrupt .npy data ({_reason(exc)})") from None
    if not isinstance(array, np.ndarray) or array.shape != shape:
        raise InputError(f"{p}: truncated or corrupt .npy data")
    return array


def array_mode(array: np.ndarray) -> str:
    """The mode an array is loaded and saved in: its dtype and channel count decide (uint8 or
    bool with 1 or 3 channels -> "L" or "RGB", uint16 with 1 or 3 -> "I;16" or "RGB;16",
    anything else -> "F"). A bool array counts as 0 and 1 in the 0-255 range of uint8.

    >>> array_mode(np.zeros((2, 2, 3), np.uint8)), array_mode(np.zeros((2, 2), np.int32))
    ('RGB', 'F')
    >>> array_mode(np.zeros((2, 2), bool))
    'L'
    """
    channels = 1 if array.ndim == 2 else array.shape[2]
    if array.dtype in (np.uint8, np.bool_) and channels in (1, 3):
        return "L" if channels == 1 else "RGB"
    if array.dtype == np.uint16 and channels in (1, 3):
        return "I;16" if channels == 1 else "RGB;16"
    return "F"


def load_input(
    path: PathLike, *, max_pixels: int | None = None, frame: int | None = None
) -> LoadedImage:
    """Read an input: a ``.npy`` array or any image Pillow can read; ``-`` is standard input.

    Parameters
    ----------
    path : str or os.PathLike
        Files whose name ends in ``.npy`` (any case) are read with :func:`load_array`, all
        others with :func:`load_image`. ``-`` reads standard input to its end (a NumPy array
        is recognised by its header).
    max_pixels : int or None
        As in :func:`load_image`; for arrays it is checked against ``H * W`` too, with the same
        default (:data:`DEFAULT_MAX_PIXELS`).
    frame : int or None
        As in :func:`load_image` (arrays have one frame: only 0 or None).

    Returns
    -------
    LoadedImage
        For an array: ``pixels`` is the array as stored (any numeric dtype, ``(H, W)`` or
        ``(H, W, C)``), ``alpha`` is None, ``source_mode`` is the dtype name, ``format`` is
        "NPY" and ``info`` is empty. A bool array is read as uint8 0 and 1 (``pixels`` is
        uint8, ``source_mode`` stays "bool"). ``mode`` follows the dtype: uint8 (or bool) with
        1 or 3 channels -> "L" or "RGB", uint16 with 1 or 3 -> "I;16" or "RGB;16", anything
        else -> "F" (a single-channel "F" result can be saved as a float TIFF; others only as
        .npy).

    Raises
    ------
    InputError
        As :func:`load_array` or :func:`load_image`.
    """
    _check_max_pixels(max_pixels)
    if str(path) == "-":
        return _load_stdin(max_pixels=max_pixels, frame=frame)
    p = Path(path)
    if p.suffix.lower() != ".npy":
        return load_image(p, max_pixels=max_pixels, frame=frame)
    if frame not in (None, 0):
        raise InputError(f"{p}: frame {frame} does not exist; an array has 1 frame")
    array = load_array(p, max_pixels=DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels)
    stored = array.dtype.name
    if array.dtype == np.bool_:  # False and True are the values 0 and 1 of a uint8 image
        array = array.astype(np.uint8)
    return LoadedImage(
        pixels=array,
        alpha=None,
        mode=array_mode(array),
        source_mode=stored,
        format="NPY",
        info={},
        path=p,
    )


#: How standard input is named in messages.
STDIN_NAME = "<stdin>"


@contextmanager
def spooled_stdin() -> Iterator[Path]:
    """Standard input copied to a temporary file (named ``*.npy`` when it holds a NumPy
    array), removed afterwards. Decoders need to seek, which a pipe cannot."""
    import sys
    import tempfile

    source = sys.stdin.buffer
    head = source.read(len(_NPY_MAGIC))
    suffix = ".npy" if head == _NPY_MAGIC else ".img"
    fd, name = tempfile.mkstemp(suffix=suffix, prefix="upsamp-stdin-")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(head)
            while block := source.read(1 << 20):
                out.write(block)
        if tmp.stat().st_size == 0:
            raise InputError(f"{STDIN_NAME}: standard input is empty")
        yield tmp
    finally:
        try:
            tmp.unlink()
        except OSError:
            pass


def _load_stdin(*, max_pixels: int | None, frame: int | None) -> LoadedImage:
    with spooled_stdin() as tmp:
        try:
            image = load_input(tmp, max_pixels=max_pixels, frame=frame)
        except InputError as exc:
            raise InputError(str(exc).replace(str(tmp), STDIN_NAME)) from None
    image.path = Path("-")
    image.notes = [n.replace(str(tmp), STDIN_NAME) for n in image.notes]
    return image


def load_input_frames(
    path: PathLike, *, max_pixels: int | None = None, frame: int | None = None
) -> list[LoadedImage]:
    """Every frame of an input (:func:`load_frames`; an array or a still image has one), or
    only ``frame`` when given (:func:`load_input`). ``-`` reads standard input."""
    if frame is not None:
        return [load_input(path, max_pixels=max_pixels, frame=frame)]
    _check_max_pixels(max_pixels)
    if str(path) == "-":
        with spooled_stdin() as tmp:
            try:
                images = load_input_frames(tmp, max_pixels=max_pixels)
            except InputError as exc:
                raise InputError(str(exc).replace(str(tmp), STDIN_NAME)) from None
        for image in images:
            image.path = Path("-")
            image.notes = [n.replace(str(tmp), STDIN_NAME) for n in image.notes]
        return images
    p = Path(path)
    if p.suffix.lower() == ".npy":
        return [load_input(p, max_pixels=max_pixels)]
    return load_frames(p, max_pixels=max_pixels)


_NPY_MAGIC = b"\x93NUMPY"
_EXIF_ORIENTATION = 0x0112


@dataclass(frozen=True)
class ImageHeader:
    """What the header of an input tells, without decoding the pixels.

    ``shape`` is the shape :attr:`upsamp.imageio.LoadedImage.shape` will have (colour channels
    only, after EXIF orientation and mode conversion); ``has_alpha`` says whether an alpha
    plane comes with it; ``format`` is Pillow's format name, or ``"NPY"``.
    """

    shape: tuple[int, ...]
    has_alpha: bool
    format: str


def probe(path: PathLike) -> ImageHeader | None:
    """Read the header of ``path`` and return what the pipeline will load, or None.

    A file whose name ends in ``.npy`` is read as a NumPy array header (as
    :func:`upsamp.imageio.load_input` does); any other file is opened with Pillow, which reads
    the header only. None means "not recognised as an input" (never raises).

    Notes
    -----
    The channel count
    follows the conversions of ``imageio.load_image``: P becomes RGB or RGBA, "1" becomes L,
    CMYK and other colour spaces become RGB, and an EXIF orientation of 5..8 swaps the axes.
    For a PNG whose EXIF block comes after the pixel data the orientation is not seen (reading
    it would mean decoding); the shape is then only used for estimates.
    """
    path = Path(path)
    try:
        if path.suffix.lower() == ".npy":
            return _probe_npy(path)
        return _probe_image(path)
    except Exception:  # any unreadable header is "not an input"
        return None


def _probe_npy(path: Path) -> ImageHeader | None:
    with path.open("rb") as fh:
        if fh.read(len(_NPY_MAGIC)) != _NPY_MAGIC:
            return None
        fh.seek(0)
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, _, _ = np.lib.format.read_array_header_1_0(fh)
        else:
            shape, _, _ = np.lib.format.read_array_header_2_0(fh)
    if len(shape) not in (2, 3) or 0 in shape:
        return None
    return ImageHeader(tuple(int(v) for v in shape), False, "NPY")


def _probe_image(path: Path) -> ImageHeader | None:
    with _pillow_size_checks_off(), _open_raster(path) as im:
        if im.format is None:
            return None
        width, height = im.size
        mode = im.mode
        transparent = bool(getattr(im, "has_transparency_data", False))
        orientation = 1
        if im.format != "PNG" or "exif" in im.info:  # PNG's getexif() would decode the image
            try:
                value = im.getexif().get(_EXIF_ORIENTATION, 1)
                orientation = int(value) if value in range(1, 9) else 1
            except Exception:
                orientation = 1
        image_format = im.format
    if orientation >= 5:
        width, height = height, width
    if mode in ("LA", "La"):
        colour, alpha = 1, True
    elif mode in ("RGBA", "RGBa", "PA"):
        colour, alpha = 3, True
    elif mode in ("L", "1", "I", "F") or mode.startswith("I;16"):
        colour, alpha = 1, mode == "L" and transparent
    elif mode in ("RGB", "P"):
        colour, alpha = 3, transparent
    else:  # CMYK, YCbCr, LAB, HSV, RGBX, ...
        colour, alpha = 3, False
    shape = (height, width) if colour == 1 else (height, width, colour)
    return ImageHeader(shape, alpha, image_format)


def is_image_file(path: PathLike) -> bool:
    """Return True when Pillow recognises the file's content as an image.

    The extension plays no part and nothing is decoded: only the header is read, and the size
    limit is not applied. Never raises (a missing file, a directory, a bad argument give
    False).
    """
    try:
        p = Path(path)
        if not p.is_file():
            return False
        with _pillow_size_checks_off(), _open_raster(p) as im:
            return im.format is not None
    except Exception:
        return False


# --------------------------------------------------------------------------------------------
# Values and modes
# --------------------------------------------------------------------------------------------


def _base_mode(mode: str) -> str:
    """Return the mode name used here for ``mode`` (16-bit variants -> "I;16")."""
    if mode in _SIXTEEN_BIT_MODES:
        return "I;16"
    if mode not in _STORAGE_DTYPE:
        known = ", ".join(_STORAGE_DTYPE)
        raise ParameterError(f"unsupported image mode {mode!r} (known: {known})")
    return mode


def split_mode(mode: str) -> tuple[str, bool]:
    """``(colour_mode, has_alpha)`` of a full mode: "RGBA;16" -> ("RGB;16", True)."""
    return (_ALPHA_MODES[mode], True) if mode in _ALPHA_MODES else (mode, False)


def with_alpha(mode: str) -> str:
    """The full mode of a colour mode with an alpha plane: "I;16" -> "LA;16"."""
    return _WITH_ALPHA.get(mode, mode)


def storage_dtype(mode: str) -> np.dtype:
    """The numpy dtype pixels of ``mode`` are stored in (uint8 for L/LA/RGB/RGBA, uint16 for
    I;16, int32 for I, float32 for F)."""
    return np.dtype(_STORAGE_DTYPE[_base_mode(mode)])


def value_range(mode: str) -> tuple[float, float] | None:
    """Return the ``(lowest, highest)`` storable value of a mode, or None for float mode F.

    (0, 255) for L, LA, RGB, RGBA; (0, 65535) for I;16 (and I;16B, I;16L, I;16N);
    (-2**31, 2**31 - 1) for I; None for F. Raises ParameterError for other modes.
    """
    base = _base_mode(mode)
    if base == "F":
        return None
    info = np.iinfo(_STORAGE_DTYPE[base])
    return float(info.min), float(info.max)


def to_storage(
    values: np.ndarray,
    mode: str,
    *,
    range_mode: str = "clip",
    value_span: tuple[float, float] | None = None,
) -> tuple[np.ndarray, float]:
    """Convert float results to the storage dtype of ``mode``.

    Parameters
    ----------
    values : numpy.ndarray
        Results of any shape and numeric dtype.
    mode : str
        Target Pillow mode (see :func:`value_range`).
    range_mode : {"clip", "rescale"}
        "clip": round, then clip to the mode's range. "rescale": first map
        ``[min(lo, vmin), max(hi, vmax)]`` linearly onto ``[lo, hi]`` (``vmin``/``vmax`` over
        the finite values), so results already in range are left unchanged and out-of-range
        ones are squeezed in, all by the same map; then round.
    value_span : (vmin, vmax), optional
        For "rescale": the minimum and maximum of the whole result when ``values`` is one band
        of it (so every band gets the same map). Default: those of ``values``.

    Returns
    -------
    stored : numpy.ndarray
        Same shape; uint8, uint16, int32 or float32 as the mode needs.
    clipped_fraction : float
        Fraction of the values that were outside the range after rounding and so were clipped
        (0.0 for mode F, and for "rescale" unless there are non-finite values).

    Notes
    -----
    Rounding is half to even (``numpy.rint``): 0.5 -> 0, 1.5 -> 2, 2.5 -> 2. NaN is stored
    as the lowest value, +inf/-inf as the highest/lowest; all three count as clipped. Mode F
    returns float32 values unchanged (no clipping). Computation is in float32 for float32
    input to 8/16-bit modes (exact: rounding a float32 gives a float32 integer) and in float64
    otherwise.
    """
    if range_mode not in ("clip", "rescale"):
        raise ParameterError(f"range_mode must be 'clip' or 'rescale', got {range_mode!r}")
    base = _base_mode(mode)
    arr = np.asarray(values)
    if arr.dtype.kind not in "biuf":
        raise ParameterError(f"values must be numeric, got dtype {arr.dtype}")
    if base == "F":
        return arr.astype(np.float32), 0.0
    bounds = value_range(base)
    assert bounds is not None
    lo, hi = bounds
    small = ("L", "RGB", "I;16", "RGB;16")
    work = np.float32 if arr.dtype == np.float32 and base in small else np.float64
    if range_mode == "clip" and arr.dtype.kind == "f" and arr.size:
        # Fast path: round once, then a min/max pass decides whether any clipping is needed
        # (NaN propagates through min/max, sending such arrays down the careful path).
        rounded = np.rint(arr.astype(work, copy=False))
        low, high = float(rounded.min()), float(rounded.max())
        if lo <= low and high <= hi:
            return rounded.astype(_STORAGE_DTYPE[base]), 0.0
    v = np.array(arr, dtype=work)  # a copy: modified in place below
    if v.size == 0:
        return v.astype(_STORAGE_DTYPE[base]), 0.0
    finite = np.isfinite(v)
    all_finite = bool(finite.all())
    if range_mode == "rescale":
        if value_span is not None:
            vmin, vmax = float(value_span[0]), float(value_span[1])
        elif all_finite:
            vmin, vmax = float(v.min()), float(v.max())
        elif finite.any():
            vmin, vmax = float(v[finite].min()), float(v[finite].max())
        else:
            vmin, vmax = lo, hi
        a, b = min(lo, vmin), max(hi, vmax)
        if a < lo or b > hi:
            v -= a
            v *= (hi - lo) / (b - a)
            v += lo
    np.rint(v, out=v)
    if not all_finite:
        nan = np.isnan(v)
        v[nan] = lo
        outside = (v < lo) | (v > hi) | nan
    else:
        outside = (v < lo) | (v > hi)
    fraction = float(np.count_nonzero(outside)) / v.size
    np.clip(v, lo, hi, out=v)
    return v.astype(_STORAGE_DTYPE[base]), fraction


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def output_format(path: PathLike, format: str | None = None) -> str:
    """Return the Pillow format name for an output path from its extension (any case).

    .png -> PNG, .jpg/.jpeg -> JPEG, .webp -> WEBP, .tif/.tiff -> TIFF, .bmp -> BMP,
    .gif -> GIF, .npy -> NPY. ``format`` (an extension without the dot, any case, or a format
    name) overrides the extension; it is needed for ``-`` (standard output). Raises
    OutputError for other extensions (listing the supported ones) and for WebP when this
    Pillow has no WebP support.
    """
    p = Path(path)
    if format is not None:
        name = str(format).lower().lstrip(".")
        fmt = _EXTENSIONS.get("." + name) or (
            name.upper() if name.upper() in _EXTENSIONS.values() else None
        )
        if fmt is None:
            known = ", ".join(sorted({e.lstrip(".") for e in _EXTENSIONS}))
            raise OutputError(f"unknown output format {format!r}; use one of {known}")
    elif str(p) == "-":
        raise OutputError("standard output: name the format with --format")
    else:
        fmt = _EXTENSIONS.get(p.suffix.lower())
    if fmt is None:
        supported = ", ".join(_EXTENSIONS)
        what = f"extension {p.suffix!r}" if p.suffix else "no extension"
        raise OutputError(f"{p}: unknown output format ({what}); use one of {supported}")
    if fmt == "WEBP" and not features.check("webp"):
        raise OutputError(f"{p}: this Pillow was built without WebP support; use .png")
    return fmt


def format_extension(format: str) -> str:
    """The extension an output in ``format`` (an extension without the dot or a format name,
    any case) gets: ``png`` -> ``.png``, ``JPEG`` -> ``.jpg``, ``tiff`` -> ``.tif``."""
    fmt = output_format(Path("-"), format)
    return {"JPEG": ".jpg", "TIFF": ".tif"}.get(fmt, "." + fmt.lower())


def parse_colour(text: str) -> tuple[int, int, int]:
    """An 8-bit RGB colour from a CSS/X11 name or hex form (``white``, ``#808080``, ``#fff``,
    ``rgb(128,128,128)``), read by Pillow's ``ImageColor``. Raises ParameterError."""
    from PIL import ImageColor

    try:
        rgb = ImageColor.getrgb(str(text).strip())
    except (ValueError, AttributeError):
        raise ParameterError(
            f"{text!r} is not a colour (use a name such as white, or #rrggbb)"
        ) from None
    return int(rgb[0]), int(rgb[1]), int(rgb[2])


def same_file(a: PathLike, b: PathLike) -> bool:
    """Return True when two paths name the same file (following links). Never raises.

    When both exist the device and inode are compared; otherwise the resolved absolute paths.
    """
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError, TypeError):
        pass
    try:
        return Path(a).resolve() == Path(b).resolve()
    except (OSError, ValueError, TypeError, RuntimeError):
        return False


def check_target(
    path: PathLike,
    overwrite: bool,
    *,
    source: PathLike | Iterable[PathLike | None] | None = None,
    folder_made_later: bool = False,
) -> None:
    """The one "may this output be written" check: raise OutputError when ``path`` is a file
    the command reads (``source``: the input, or every file it reads, the input first: kernel,
    guide, indices...; even with ``overwrite``), when its folder is missing (unless
    ``folder_made_later``) or not a folder, when it is a folder, or when it exists and
    ``overwrite`` is false."""
    path = Path(path)
    sources = [source] if isinstance(source, (str, os.PathLike)) else list(source or ())
    if path.exists():
        for index, read in enumerate(sources):
            if read is not None and Path(read).is_file() and same_file(read, path):
                what = "the input file" if index == 0 else f"{read}, which this command reads"
                raise OutputError(f"{path}: refusing to overwrite {what}")
    folder = path.parent
    if not folder.exists():
        if folder_made_later:
            return
        raise OutputError(f"{path}: folder {folder} does not exist")
    if not folder.is_dir():
        raise OutputError(f"{path}: {folder} is not a folder")
    if path.is_dir():
        raise OutputError(f"{path}: is a directory")
    if not overwrite and (path.exists() or path.is_symlink()):
        raise OutputError(f"{path}: exists; use --overwrite to replace it")


#: The run part of the temporary names this process makes (see :func:`temp_run`).
_PROCESS_RUN = secrets.token_hex(4)
_temp_run: ContextVar[str] = ContextVar("upsamp_temp_run", default=_PROCESS_RUN)

#: At most this many bytes (UTF-8, as the file system counts) of the target's name go into
#: its temporary name, which then stays under the usual 255-byte limit.
_TEMP_NAME_BYTES = 200


def temp_run_token() -> str:
    """The run part of the temporary names written now: this process's own token unless a
    :func:`temp_run` block gave another (a batch's workers write with their parent's)."""
    return _temp_run.get()


@contextmanager
def temp_run(token: str) -> Iterator[None]:
    """Within the block (in this thread), temporary files are named with ``token`` as their
    run part, so that the run that chose it can later remove exactly its own leftovers."""
    if not re.fullmatch(r"[0-9a-f]{8}", token):
        raise ValueError(f"a run token is 8 hex digits, got {token!r}")
    reset = _temp_run.set(token)
    try:
        yield
    finally:
        _temp_run.reset(reset)


def _temp_stem(name: str) -> str:
    """``name`` cut to at most :data:`_TEMP_NAME_BYTES` bytes, never inside a character."""
    raw = os.fsencode(name)
    if len(raw) <= _TEMP_NAME_BYTES:
        return name
    cut = _TEMP_NAME_BYTES
    while cut > 0 and raw[cut] & 0xC0 == 0x80:  # a UTF-8 continuation byte
        cut -= 1
    return os.fsdecode(raw[:cut])


def temp_name_pattern(path: PathLike, run: str) -> re.Pattern[str]:
    """The names of the temporary files :func:`atomic_write` makes for ``path`` in run ``run``:
    ``.<name, at most 200 bytes>.<run>.<12 hex digits>.tmp``."""
    stem = _temp_stem(Path(path).name)
    return re.compile(re.escape(f".{stem}.{run}.") + r"[0-9a-f]{12}\.tmp")


def _create_temp(path: Path, made: list[Path]) -> Path:
    """Create an empty, uniquely named temporary file next to ``path``, append its path to
    ``made`` (at once, so that a caller interrupted afterwards can still remove it) and return it.

    The name is ``.<name>.<run>.<random>.tmp`` (:func:`temp_name_pattern`); the file gets the
    default permissions (umask).
    """
    name = _temp_stem(path.name)
    run = temp_run_token()
    for _ in range(100):
        tmp = path.with_name(f".{name}.{run}.{secrets.token_hex(6)}.tmp")
        try:
            with signals_deferred():  # no interruption between creating and recording it
                os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
                made.append(tmp)
        except FileExistsError:
            continue
        except PermissionError:
            raise OutputError(f"{path}: cannot write in {path.parent}: permission denied") from None
        except OSError as exc:
            raise OutputError(f"{path}: cannot create a file ({_reason(exc)})") from None
        return tmp
    raise OutputError(f"{path}: cannot create a temporary file in {path.parent}")


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    """Make a rename durable; best effort (not every platform can open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _move_into_place(tmp: Path, path: Path, overwrite: bool) -> None:
    if overwrite:
        try:  # keep the permissions of the file being replaced
            os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))
        except OSError:
            pass
        os.replace(tmp, path)
        return
    # Without overwrite, a hard link refuses atomically to replace a file created meanwhile.
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise OutputError(f"{path}: exists; use --overwrite to replace it") from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EXDEV, errno.ENOTSUP, errno.EMLINK, errno.ENOSYS):
            raise
        if path.exists() or path.is_symlink():  # file system without hard links
            raise OutputError(f"{path}: exists; use --overwrite to replace it") from None
        os.replace(tmp, path)
        return
    os.unlink(tmp)


def atomic_write(path: PathLike, write: Callable[[Path], None], *, overwrite: bool = False) -> None:
    """Write a file atomically: all of it appears at ``path``, or nothing does.

    Parameters
    ----------
    path : str or os.PathLike
        The target. Its folder must exist.
    write : callable
        Called once with the path of an empty temporary file in the same folder, named
        ``.<name>.<run>.<random>.tmp`` (:func:`temp_name_pattern`), which it must fill (the
        suffix is not the target's: a writer that picks a format must be told it explicitly).
    overwrite : bool
        Replace an existing ``path``; otherwise an existing file is left untouched.

    Raises
    ------
    OutputError
        The folder does not exist or cannot be written, ``path`` is a directory, or it exists
        and ``overwrite`` is false, or syncing/renaming fails.

    Notes
    -----
    The temporary file is fsync'ed, then renamed over ``path`` (``os.replace``); without
    ``overwrite`` a hard link is used so that a file created meanwhile is not replaced either.
    On any exception from ``write`` (including KeyboardInterrupt) the temporary file is removed
    and the exception re-raised unchanged.
    """
    target = Path(path)
    check_target(target, overwrite)
    made: list[Path] = []
    try:  # created inside the try: an interruption right after still removes it
        tmp = _create_temp(target, made)
        write(tmp)
        try:
            _fsync_file(tmp)
            _move_into_place(tmp, target, overwrite)
        except OSError as exc:
            raise OutputError(f"{target}: cannot write ({_reason(exc)})") from None
    except BaseException:
        for leftover in made:
            try:
                leftover.unlink()
            except OSError:
                pass
        raise
    _fsync_folder(target.parent)


def _mode_for_save(mode: str, has_alpha: bool) -> tuple[str, str]:
    """Return ``(colour_mode, full_mode)`` for a save; e.g. ("RGB", "RGBA") with alpha."""
    base = "I;16" if mode in _SIXTEEN_BIT_MODES else mode
    if base in _ALPHA_MODES:
        if not has_alpha:
            raise ParameterError(f"mode {mode} needs an alpha array")
        return _ALPHA_MODES[base], base
    _base_mode(base)  # raises for unknown modes
    if has_alpha:
        return base, _WITH_ALPHA.get(base, base)  # I/F + alpha: refused by _check_format
    return base, base


_DEPTH_NAMES = {
    "I;16": ("16-bit images", ".png or .tiff"),
    "RGB;16": ("16-bit images", ".png or .tiff"),
    "I": ("32-bit integer images", ".tiff"),
    "F": ("floating-point images", ".tiff"),
}


def _check_format(path: Path, fmt: str, colour_mode: str, has_alpha: bool, ndim: int) -> None:
    """Raise OutputError when ``fmt`` cannot store an image of this kind."""
    if colour_mode in _DEPTH_NAMES:
        what, where = _DEPTH_NAMES[colour_mode]
        if has_alpha and colour_mode not in _WITH_ALPHA:
            raise OutputError(
                f"{path}: {what} with an alpha channel cannot be saved as an image; use .npy"
            )
        if colour_mode == "F" and ndim != 2:
            raise OutputError(
                f"{path}: a floating-point array with channels can only be saved as .npy"
            )
        allowed = ("PNG", "TIFF") if colour_mode in ("I;16", "RGB;16") else ("TIFF",)
        if fmt not in allowed:
            raise OutputError(f"{path}: {fmt} cannot store {what}; use {where} (or .npy)")
    if has_alpha and fmt not in _CARRIES_ALPHA:
        raise OutputError(
            f"{path}: {fmt} cannot store an alpha channel; use .png/.webp/.tiff/.gif, or "
            "flatten it with --background COLOR"
        )


def _check_shapes(pixels: np.ndarray, alpha: np.ndarray | None, colour_mode: str) -> np.ndarray:
    if colour_mode in ("RGB", "RGB;16"):
        if pixels.ndim != 3 or pixels.shape[2] != 3:
            raise ParameterError(
                f"mode {colour_mode} needs (H, W, 3) pixels, got shape {pixels.shape}"
            )
    else:
        if pixels.ndim == 3 and pixels.shape[2] == 1:
            pixels = pixels[:, :, 0]
        if pixels.ndim != 2 and colour_mode != "F":
            raise ParameterError(
                f"mode {colour_mode} needs (H, W) pixels, got shape {pixels.shape}"
            )
        if pixels.ndim not in (2, 3):
            raise ParameterError(f"pixels must be 2-D or 3-D, got shape {pixels.shape}")
    if pixels.size == 0:
        raise ParameterError(f"pixels must not be empty, got shape {pixels.shape}")
    if alpha is not None and alpha.shape != pixels.shape[:2]:
        raise ParameterError(f"alpha must have shape {pixels.shape[:2]}, got {alpha.shape}")
    return pixels


#: What each kind of metadata is called in notes, and the output formats that can hold it.
_METADATA: dict[str, tuple[str, frozenset[str]]] = {
    "icc_profile": ("ICC profile", frozenset({"PNG", "JPEG", "WEBP", "TIFF"})),
    "dpi": ("DPI", frozenset({"PNG", "JPEG", "TIFF", "BMP"})),
    "exif": ("EXIF", frozenset({"PNG", "JPEG", "WEBP", "TIFF"})),
    "xmp": ("XMP", frozenset({"PNG", "JPEG", "WEBP", "TIFF"})),
    "iptc": ("IPTC", frozenset({"JPEG", "TIFF"})),
    "text": ("PNG text", frozenset({"PNG"})),
    "comment": ("comment", frozenset({"JPEG", "GIF"})),
}

#: ``--subsampling`` values -> Pillow's JPEG subsampling names.
SUBSAMPLINGS: dict[str, str | None] = {
    "keep": None,
    "444": "4:4:4",
    "422": "4:2:2",
    "420": "4:2:0",
}
#: ``--tiff-compression`` values -> Pillow's and tifffile's names.
TIFF_COMPRESSIONS: dict[str, tuple[str, str | None]] = {
    "none": ("raw", None),
    "lzw": ("tiff_lzw", "lzw"),
    "deflate": ("tiff_adobe_deflate", "adobe_deflate"),
}


def strip_metadata(info: dict[str, Any]) -> dict[str, Any]:
    """The metadata ``--strip`` keeps: the ICC profile (the pixels mean nothing without it)
    and the DPI (the print size; it says nothing about who, where or when). EXIF (with GPS),
    XMP, IPTC, comments and PNG text go."""
    return {k: v for k, v in info.items() if k in ("icc_profile", "dpi")}


def metadata_notes(fmt: str, info: dict[str, Any], mode: str | None = None) -> list[str]:
    """One line naming the metadata of ``info`` that ``fmt`` cannot hold (empty list: all of
    it is carried). ``mode`` is the full output mode: 16-bit colour TIFFs are written by
    tifffile, which carries no EXIF."""
    lost = [
        name for key, (name, formats) in _METADATA.items() if info.get(key) and fmt not in formats
    ]
    if fmt == "TIFF" and mode in ("RGB;16", "RGBA;16", "LA;16") and info.get("exif"):
        lost.append("EXIF")
    if not lost:
        return []
    what = "NumPy arrays" if fmt == "NPY" else fmt
    return [f"{what} cannot hold the input's {', '.join(lost)}; not carried to the output"]


@dataclass(frozen=True)
class EncoderSettings:
    """How an output file is encoded (:func:`encoder_settings` decides).

    ``quality`` (JPEG/WebP lossy; None with ``keep_tables``), ``subsampling`` (JPEG:
    "4:4:4", "4:2:2" or "4:2:0"), ``keep_tables`` (JPEG: the input's quantization tables),
    ``lossless`` (WebP), ``compression`` (TIFF: none/lzw/deflate), ``compress_level`` (PNG zlib
    level).
    """

    format: str
    quality: int | None = None
    subsampling: str | None = None
    keep_tables: bool = False
    lossless: bool = False
    compression: str | None = None
    compress_level: int | None = None
    qtables: Any = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        """The settings as JSON values (only those that apply to the format)."""
        out: dict[str, Any] = {"format": self.format}
        if self.format == "JPEG":
            out["quality"] = "input's tables" if self.keep_tables else self.quality
            out["subsampling"] = self.subsampling
        elif self.format == "WEBP":
            out["lossless"] = self.lossless
            if not self.lossless:
                out["quality"] = self.quality
        elif self.format == "TIFF":
            out["compression"] = self.compression
        elif self.format == "PNG":
            out["compress_level"] = 6 if self.compress_level is None else self.compress_level
        return out


def encoder_settings(
    fmt: str,
    *,
    source: dict[str, Any] | None = None,
    quality: int | None = None,
    subsampling: str | None = None,
    tiff_compression: str | None = None,
    compress_level: int | None = None,
) -> EncoderSettings:
    """Decide the encoder settings of an output in format ``fmt``.

    ``source`` is the input's :attr:`LoadedImage.encoding`. JPEG: ``quality`` (default 95),
    ``subsampling`` one of :data:`SUBSAMPLINGS` (default: the input's when it is a JPEG, else
    4:2:0; "keep" of a JPEG input also keeps its quantization tables when ``quality`` is None).
    WebP: lossless when the input is a lossless WebP and ``quality`` is None, else lossy at
    ``quality`` (default 95). TIFF: ``tiff_compression`` one of :data:`TIFF_COMPRESSIONS`
    (default: the input's when it is a TIFF, else none). PNG: zlib ``compress_level``.
    """
    src = source or {}
    if quality is not None and (isinstance(quality, bool) or not 1 <= quality <= 100):
        raise ParameterError(f"quality must be 1..100, got {quality!r}")
    if compress_level is not None and (
        isinstance(compress_level, bool) or not 0 <= compress_level <= 9
    ):
        raise ParameterError(f"compress_level must be 0..9, got {compress_level!r}")
    if subsampling is not None and subsampling not in SUBSAMPLINGS:
        raise ParameterError(
            f"subsampling must be one of {', '.join(SUBSAMPLINGS)}, got {subsampling!r}"
        )
    if tiff_compression is not None and tiff_compression not in TIFF_COMPRESSIONS:
        raise ParameterError(
            f"tiff_compression must be one of {', '.join(TIFF_COMPRESSIONS)}, "
            f"got {tiff_compression!r}"
        )
    if fmt == "JPEG":
        chosen = SUBSAMPLINGS.get(subsampling) if subsampling else None
        if chosen is None:
            chosen = src.get("jpeg_subsampling") or "4:2:0"
        keep = subsampling == "keep" and quality is None and src.get("jpeg_qtables") is not None
        return EncoderSettings(
            fmt,
            quality=None if keep else (_DEFAULT_QUALITY if quality is None else quality),
            subsampling=chosen,
            keep_tables=keep,
            qtables=src.get("jpeg_qtables") if keep else None,
        )
    if fmt == "WEBP":
        lossless = quality is None and bool(src.get("webp_lossless"))
        return EncoderSettings(
            fmt,
            quality=None if lossless else (_DEFAULT_QUALITY if quality is None else quality),
            lossless=lossless,
        )
    if fmt == "TIFF":
        return EncoderSettings(
            fmt, compression=tiff_compression or src.get("tiff_compression") or "none"
        )
    if fmt == "PNG":
        return EncoderSettings(fmt, compress_level=compress_level)
    return EncoderSettings(fmt)


def _pillow_options(fmt: str, info: dict[str, Any], encoding: EncoderSettings) -> dict[str, Any]:
    """Keyword arguments of ``Image.save`` for the metadata and encoder settings."""
    options: dict[str, Any] = {}
    icc = info.get("icc_profile")
    holds = {key: fmt in formats for key, (_, formats) in _METADATA.items()}
    if holds["icc_profile"] and isinstance(icc, bytes | bytearray) and icc:
        options["icc_profile"] = bytes(icc)
    dpi = info.get("dpi")
    if holds["dpi"] and isinstance(dpi, tuple | list) and len(dpi) == 2:
        options["dpi"] = (float(dpi[0]), float(dpi[1]))
    exif = info.get("exif")
    if holds["exif"] and isinstance(exif, bytes | bytearray) and exif:
        if not (fmt == "JPEG" and len(exif) > 65_000):  # JPEG's APP1 segment limit
            options["exif"] = bytes(exif)
    xmp = info.get("xmp")
    if xmp and fmt in ("JPEG", "WEBP"):
        options["xmp"] = bytes(xmp)
    comment = info.get("comment")
    if comment and fmt in ("JPEG", "GIF"):
        options["comment"] = bytes(comment)
    if fmt == "TIFF" and (xmp or info.get("iptc")):
        # Pillow writes either "tiffinfo" or "exif" into a TIFF's tags: all go in one Exif
        tags = Image.Exif()
        if "exif" in options:
            tags.load(options["exif"])
        if xmp:
            tags[700] = bytes(xmp)
        if info.get("iptc"):
            tags[33723] = bytes(info["iptc"])
        options["exif"] = tags
    if fmt == "TIFF":
        options["compression"] = TIFF_COMPRESSIONS[encoding.compression or "none"][0]
    if fmt == "PNG":
        level = encoding.compress_level
        options["compress_level"] = 6 if level is None else level
        text = _png_text_info(info)
        if text is not None:
            options["pnginfo"] = text
    if fmt == "JPEG":
        if encoding.keep_tables:
            options["qtables"] = encoding.qtables
        else:
            options["quality"] = encoding.quality
        options["subsampling"] = encoding.subsampling
    if fmt == "WEBP":
        if encoding.lossless:
            options["lossless"] = True
        else:
            options["quality"] = encoding.quality
    return options


def _png_text_info(info: dict[str, Any]) -> Any:
    """A ``PngInfo`` with the PNG text and XMP of ``info``, or None."""
    text = info.get("text") or {}
    xmp = info.get("xmp")
    if not text and not xmp:
        return None
    pnginfo = PngImagePlugin.PngInfo()
    for key, value in text.items():
        pnginfo.add_itxt(str(key), str(value))
    if xmp:
        pnginfo.add_itxt("XML:com.adobe.xmp", bytes(xmp).decode("utf-8", "replace"))
    return pnginfo


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_text_chunks(info: dict[str, Any]) -> bytes:
    """iTXt chunks (ISO/IEC 15948 11.3.4.5, uncompressed, UTF-8) for PNG text and XMP."""
    items = [(str(k), str(v)) for k, v in (info.get("text") or {}).items()]
    if info.get("xmp"):
        items.append(("XML:com.adobe.xmp", bytes(info["xmp"]).decode("utf-8", "replace")))
    out = b""
    for key, value in items:
        keyword = key.encode("latin-1", "replace")[:79] or b"Comment"
        out += _png_chunk(b"iTXt", keyword + b"\0\0\0\0\0" + value.encode("utf-8"))
    return out


def _append_png_chunks(path: Path, chunks: bytes) -> None:
    """Insert ``chunks`` before the final IEND chunk of the PNG file at ``path``."""
    if not chunks:
        return
    with open(path, "r+b") as fh:
        fh.seek(-12, os.SEEK_END)
        iend = fh.read(12)
        if iend[4:8] != b"IEND":
            raise OSError("the PNG written does not end in IEND")
        fh.seek(-12, os.SEEK_END)
        fh.write(chunks + iend)


def _irb_from_iptc(iim: bytes) -> bytes:
    """A Photoshop image resource block (JPEG APP13) holding IPTC-IIM data (resource 0x0404)."""
    data = bytes(iim) + (b"\0" if len(iim) % 2 else b"")
    return (
        b"Photoshop 3.0\0"
        + b"8BIM"
        + struct.pack(">H", 0x0404)
        + b"\0\0"
        + struct.pack(">I", len(iim))
        + data
    )


def _iptc_from_irb(irb: bytes) -> bytes | None:
    """The IPTC-IIM data (resource 0x0404) of a Photoshop resource block, or None."""
    if irb.startswith(b"Photoshop 3.0\0"):
        irb = irb[14:]
    pos = 0
    while pos + 12 <= len(irb) and irb[pos : pos + 4] == b"8BIM":
        rid = struct.unpack(">H", irb[pos + 4 : pos + 6])[0]
        name_len = irb[pos + 6]
        pos += 6 + 1 + name_len + ((1 + name_len) % 2)  # Pascal name padded to even length
        size = struct.unpack(">I", irb[pos : pos + 4])[0]
        pos += 4
        if rid == 0x0404:
            return irb[pos : pos + size]
        pos += size + (size % 2)
    return None


def _splice_jpeg_app13(path: Path, iptc: bytes) -> None:
    """Insert an APP13 (IPTC) segment into the JPEG at ``path`` after its APPn segments."""
    payload = _irb_from_iptc(iptc)
    if len(payload) + 2 > 0xFFFF:
        raise OSError("the IPTC block is larger than a JPEG segment")
    data = path.read_bytes()
    pos = 2  # after SOI
    while pos + 4 <= len(data) and data[pos] == 0xFF and 0xE0 <= data[pos + 1] <= 0xEF:
        pos += 2 + struct.unpack(">H", data[pos + 2 : pos + 4])[0]
    segment = b"\xff\xed" + struct.pack(">H", len(payload) + 2) + payload
    path.write_bytes(data[:pos] + segment + data[pos:])


def _gif_frame(arr: np.ndarray, full_mode: str) -> Image.Image:
    """A palette image for GIF: at most 255 colours, and index 255 transparent where alpha is
    below half (GIF transparency is 1 bit)."""
    has_alpha = full_mode in _ALPHA_MODES
    colour = arr[:, :, :-1] if has_alpha else arr
    if colour.ndim == 3 and colour.shape[2] == 1:
        colour = colour[:, :, 0]
    base = Image.fromarray(np.ascontiguousarray(colour)).convert("RGB")
    if not has_alpha:
        return base.quantize(256)
    quantized = base.quantize(255)
    indices = np.array(quantized)
    indices[arr[:, :, -1] < 128] = 255
    palette = quantized.getpalette() or []
    palette = palette[: 255 * 3] + [0] * (255 * 3 - len(palette[: 255 * 3])) + [0, 0, 0]
    out = Image.fromarray(indices, mode="P")
    out.putpalette(palette)
    out.info["transparency"] = 255
    return out


def _pillow_frame(arr: np.ndarray, full_mode: str, fmt: str) -> Image.Image:
    if fmt == "GIF":
        return _gif_frame(arr, full_mode)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    image = Image.fromarray(np.ascontiguousarray(arr))
    if image.mode != full_mode:  # cannot happen with the checks before; guards Pillow changes
        raise ParameterError(f"internal error: built a {image.mode} image for {full_mode}")
    return image


def _write_tiff16(
    path: Path,
    frames: list[np.ndarray],
    full_mode: str,
    info: dict[str, Any],
    encoding: EncoderSettings,
) -> None:
    """16-bit colour or gray+alpha TIFF pages with tifffile (Pillow cannot write them)."""
    # tifffile is imported here, not at module level, for start-up time
    import tifffile

    compression = TIFF_COMPRESSIONS[encoding.compression or "none"][1]
    extratags = []
    if info.get("xmp"):
        extratags.append((700, 1, len(info["xmp"]), bytes(info["xmp"]), True))
    if info.get("iptc"):
        extratags.append((33723, 7, len(info["iptc"]), bytes(info["iptc"]), True))
    dpi = info.get("dpi")
    with tifffile.TiffWriter(path) as tif:
        for arr in frames:
            tif.write(
                arr,
                photometric="rgb" if full_mode in ("RGB;16", "RGBA;16") else "minisblack",
                extrasamples=["unassalpha"] if full_mode in _ALPHA_MODES else None,
                compression=compression,
                iccprofile=info.get("icc_profile") or None,
                resolution=(float(dpi[0]), float(dpi[1])) if dpi else None,
                resolutionunit="INCH" if dpi else None,
                extratags=extratags,
                metadata=None,
            )


def _check_tiff16_codec(target: Path, encoding: EncoderSettings) -> None:
    if encoding.compression == "lzw":
        try:
            import imagecodecs  # noqa: F401  (tifffile's LZW encoder)
        except ImportError:
            raise OutputError(
                f"{target}: LZW for 16-bit colour TIFF needs the imagecodecs package "
                "(pip install 'upsamp[tiff-lzw]'); use --tiff-compression deflate or none"
            ) from None


def save_image(
    path: PathLike,
    pixels: np.ndarray,
    alpha: np.ndarray | None,
    *,
    mode: str,
    info: dict[str, Any] | None = None,
    overwrite: bool = False,
    compress_level: int | None = None,
    quality: int | None = None,
    range_mode: str = "clip",
    encoding: EncoderSettings | None = None,
    format: str | None = None,
) -> float:
    """Convert float results to ``mode`` and write them atomically in the format of the suffix.

    Parameters
    ----------
    path : str or os.PathLike
        Output file; the extension picks the format (:func:`output_format`). ``"-"`` writes
        to standard output (then ``format`` names the format).
    pixels : numpy.ndarray
        Float results, ``(H, W)`` or ``(H, W, 3)`` on the scale of ``mode`` (0..255 for 8-bit).
    alpha : numpy.ndarray or None
        Float ``(H, W)`` alpha on the scale of ``mode``, or None.
    mode : str
        The source's :attr:`LoadedImage.mode`; "L"/"RGB"/"I;16"/"RGB;16" with an ``alpha``
        become "LA"/"RGBA"/"LA;16"/"RGBA;16".
    info : dict or None
        Metadata from :attr:`LoadedImage.info`; each item is written where the format can hold
        it (see :func:`metadata_notes` for what is left out).
    overwrite : bool
        Replace an existing file.
    compress_level, quality : int or None
        PNG zlib level 0..9, JPEG/WebP quality 1..100 (used when ``encoding`` is None).
    range_mode : {"clip", "rescale"}
        How colour values outside the mode's range are handled (:func:`to_storage`); alpha is
        always clipped, since rescaling it would make opaque pixels translucent.
    encoding : EncoderSettings or None
        From :func:`encoder_settings`; None means its defaults.
    format : str or None
        A format name ("PNG", "JPEG", ...) overriding the extension.

    Returns
    -------
    float
        Fraction of the colour values that were clipped (alpha not counted); 0.0 for ``.npy``.

    Raises
    ------
    OutputError
        Unknown extension, a format that cannot hold this image (alpha in JPEG/BMP; 16-bit
        outside PNG/TIFF; 32-bit integer or float outside TIFF), an existing file without
        ``overwrite``, a missing folder, or a write failure. Nothing is left at ``path``.
    ParameterError
        Shapes that do not fit ``mode``, or bad ``quality``/``compress_level``/``range_mode``.

    Notes
    -----
    For ``.npy`` the float results are saved exactly by :func:`save_array`, with alpha (if
    any) appended as the last channel. WebP has no grayscale: L/LA are stored as RGB/RGBA.
    GIF stores a palette of at most 256 colours and 1-bit transparency (alpha below half).
    """
    target = Path(path)
    fmt = output_format(target, format)
    pix = np.asarray(pixels)
    alp = None if alpha is None else np.asarray(alpha)
    if fmt == "NPY":
        if alp is not None:
            planes = pix if pix.ndim == 3 else pix[:, :, None]
            pix = np.concatenate([planes, alp[:, :, None].astype(planes.dtype)], axis=2)
        save_array(target, pix, overwrite=overwrite)
        return 0.0
    colour_mode, full_mode = _mode_for_save(mode, alp is not None)
    pix = _check_shapes(pix, alp, colour_mode)
    _check_format(target, fmt, colour_mode, alp is not None, pix.ndim)
    if str(target) != "-":
        check_target(target, overwrite)  # fail before the conversion work
    stored, fraction = to_storage(pix, colour_mode, range_mode=range_mode)
    if alp is not None:
        alpha_mode = "I;16" if stored.dtype == np.uint16 else "L"
        stored_alpha, _ = to_storage(alp, alpha_mode, range_mode="clip")
        planes = stored if stored.ndim == 3 else stored[:, :, None]
        stored = np.concatenate([planes, stored_alpha[:, :, None]], axis=2)
    if encoding is None:
        encoding = encoder_settings(fmt, quality=quality, compress_level=compress_level)
    save_frames(
        target, [stored], mode=full_mode, info=info, overwrite=overwrite, encoding=encoding,
        format=fmt,
    )  # fmt: skip
    return fraction


def save_stored(
    path: PathLike,
    stored: np.ndarray,
    *,
    mode: str,
    info: dict[str, Any] | None = None,
    overwrite: bool = False,
    compress_level: int | None = None,
    quality: int | None = None,
    encoding: EncoderSettings | None = None,
    format: str | None = None,
) -> None:
    """Write values that are already in the storage dtype of ``mode`` (see :func:`to_storage`).

    ``stored`` holds the channels of ``mode`` in order: ``(H, W)`` for L, I;16, I and F,
    ``(H, W, 3)`` for RGB and RGB;16, and the alpha plane last for LA/LA;16 ``(H, W, 2)`` and
    RGBA/RGBA;16 ``(H, W, 4)``. The banded pipeline fills one such array band by band, so no
    float copy of the whole output ever exists. Same checks, metadata and atomic write as
    :func:`save_image`.
    """
    fmt = output_format(Path(path), format)
    if encoding is None:
        encoding = encoder_settings(fmt, quality=quality, compress_level=compress_level)
    save_frames(
        path, [stored], mode=mode, info=info, overwrite=overwrite, encoding=encoding,
        format=fmt,
    )  # fmt: skip


def save_stored_bands(
    path: PathLike,
    bands: Iterable[np.ndarray],
    *,
    shape: tuple[int, int],
    mode: str,
    info: dict[str, Any] | None = None,
    overwrite: bool = False,
    compress_level: int | None = None,
    quality: int | None = None,
    encoding: EncoderSettings | None = None,
    format: str | None = None,
) -> None:
    """Write stored values (as :func:`save_stored` takes them) that arrive band by band.

    ``bands`` yields consecutive bands of rows, top to bottom, of an image of ``shape``
    ``(height, width)``; each band may be reused by the caller once the next one is asked for.
    PNG (every mode :mod:`upsamp.png` writes) and 8-bit L and RGB JPEG are encoded as the
    bands come (:class:`upsamp.png.PngWriter`, :class:`upsamp.jpeg.JpegStripWriter`), so the
    whole image is never in memory: the PNG is the same bytes :func:`save_stored` writes, the
    JPEG decodes to the same pixels (it has a restart marker every strip). Other formats
    gather the bands into one array first. Same checks, metadata and atomic write as
    :func:`save_stored`; an exception from ``bands`` leaves nothing at ``path``.
    """
    target = Path(path)
    fmt = output_format(target, format)
    if fmt == "NPY":
        raise OutputError(f"{target}: .npy outputs keep float results; use save_array")
    meta = info or {}
    if encoding is None:
        encoding = encoder_settings(fmt, quality=quality, compress_level=compress_level)
    height, width = int(shape[0]), int(shape[1])
    has_alpha = mode in _ALPHA_MODES
    colour_mode, full_mode = _mode_for_save(mode, has_alpha)
    channels = _CHANNELS[full_mode]
    png = fmt == "PNG" and full_mode in PNG_MODES
    jpeg = fmt == "JPEG" and full_mode in ("L", "RGB")
    if not (png or jpeg):
        stored = np.empty((height, width, channels), dtype=_STORAGE_DTYPE[full_mode])
        row = 0
        for band in bands:
            stored[row : row + len(band)] = band if band.ndim == 3 else band[:, :, None]
            row += len(band)
        save_stored(target, stored, mode=mode, info=meta, overwrite=overwrite,
                    encoding=encoding, format=fmt)  # fmt: skip
        return
    _check_format(target, fmt, colour_mode, has_alpha, 3 if colour_mode in ("RGB", "RGB;16") else 2)
    if str(target) != "-":
        check_target(target, overwrite)
    options = _pillow_options(fmt, meta, encoding)

    def write(tmp: Path) -> None:
        with _write_errors(target, fmt):
            with open(tmp, "wb") as fh:
                if png:
                    _stream_png(fh, bands, width, height, full_mode, options)
                else:
                    _stream_jpeg(fh, bands, width, height, channels, full_mode, options)
            if png:
                _append_png_chunks(tmp, _png_text_chunks(meta))
            elif meta.get("iptc"):
                _splice_jpeg_app13(tmp, bytes(meta["iptc"]))

    _deliver(target, write, overwrite)


def _stream_png(
    fh: Any, bands: Iterable[np.ndarray], width: int, height: int, mode: str,
    options: dict[str, Any],
) -> None:  # fmt: skip
    with PngWriter(
        fh,
        width,
        height,
        mode,
        compress_level=options.get("compress_level", 6),
        icc_profile=options.get("icc_profile"),
        dpi=options.get("dpi"),
        exif=options.get("exif"),
        threads=_cpu_count(),
    ) as writer:
        for band in bands:
            writer.write_rows(band)


def _stream_jpeg(
    fh: Any, bands: Iterable[np.ndarray], width: int, height: int, channels: int, mode: str,
    options: dict[str, Any],
) -> None:  # fmt: skip
    from .jpeg import JpegStripWriter, UnsupportedJpeg

    def encode(rows: np.ndarray) -> bytes:
        buffer = io.BytesIO()
        _pillow_frame(rows, mode, "JPEG").save(buffer, format="JPEG", **options)
        return buffer.getvalue()

    try:
        writer = JpegStripWriter(fh, width, height, channels, encode, threads=_cpu_count())
    except UnsupportedJpeg:  # settings whose files cannot be joined: encode the whole image
        stored = np.empty((height, width, channels), dtype=np.uint8)
        row = 0
        for band in bands:
            stored[row : row + len(band)] = band if band.ndim == 3 else band[:, :, None]
            row += len(band)
        _pillow_frame(stored, mode, "JPEG").save(fh, format="JPEG", **options)
        return
    with writer:
        for band in bands:
            writer.write_rows(band)


#: Formats that hold several frames (PNG as APNG, TIFF as pages).
MULTI_FRAME_FORMATS = frozenset({"GIF", "PNG", "WEBP", "TIFF"})


def check_frame_count(path: PathLike, fmt: str, frames: int) -> None:
    """Raise OutputError when ``fmt`` cannot hold ``frames`` frames (the message names the
    count and ``--frame N``)."""
    if frames > 1 and fmt not in MULTI_FRAME_FORMATS:
        what = "NumPy arrays" if fmt == "NPY" else fmt
        raise OutputError(
            f"{path}: the input has {frames} frames and {what} cannot hold several; use .gif, "
            f".png (APNG), .webp or .tiff, or pick one frame with --frame N (0..{frames - 1})"
        )


def save_frames(
    path: PathLike,
    frames: list[np.ndarray],
    *,
    mode: str,
    info: dict[str, Any] | None = None,
    overwrite: bool = False,
    encoding: EncoderSettings | None = None,
    durations: list[int] | None = None,
    loop: int | None = None,
    disposal: list[int] | None = None,
    format: str | None = None,
) -> None:
    """Write one or more stored frames (see :func:`save_stored`) as one file, atomically.

    Several frames need a format that holds them: GIF, PNG (written as APNG), WebP
    (animated) or TIFF (pages); ``durations`` (milliseconds per frame), ``loop`` (0 = for
    ever; None = play once) and ``disposal`` (GIF/APNG codes per frame) are written where the
    format has them. The frames are whole pictures: APNG frames replace the canvas (blend
    "source"), and transparent GIF frames are disposed to the background, so no frame is drawn
    over the one before.
    """
    target = Path(path)
    fmt = output_format(target, format)
    if not frames:
        raise ParameterError("save_frames needs at least one frame")
    if fmt == "NPY":
        raise OutputError(f"{target}: .npy outputs keep float results; use save_array")
    meta = info or {}
    enc = encoding if encoding is not None else encoder_settings(fmt)
    has_alpha = mode in _ALPHA_MODES
    colour_mode, full_mode = _mode_for_save(mode, has_alpha)
    channels = _CHANNELS[full_mode]
    arrays = []
    for stored in frames:
        arr = np.asarray(stored)
        if has_alpha and (arr.ndim != 3 or arr.shape[2] != channels):
            raise ParameterError(f"mode {mode} needs (H, W, {channels}) values, got {arr.shape}")
        colour = arr[:, :, :-1] if has_alpha else arr
        _check_shapes(colour, arr[:, :, -1] if has_alpha else None, colour_mode)
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[:, :, 0]
        arrays.append(arr)
    _check_format(target, fmt, colour_mode, has_alpha, 3 if colour_mode in ("RGB", "RGB;16") else 2)
    several = len(arrays) > 1
    check_frame_count(target, fmt, len(arrays))
    sixteen = _STORAGE_DTYPE[full_mode] == np.uint16 and full_mode != "I;16"
    if fmt == "TIFF" and sixteen:
        _check_tiff16_codec(target, enc)
    if several and fmt == "PNG" and sixteen:
        raise OutputError(
            f"{target}: an animated PNG of 16-bit colour cannot be written; use .tiff"
        )
    if str(target) != "-":
        check_target(target, overwrite)

    def write(tmp: Path) -> None:
        with _write_errors(target, fmt):
            if fmt == "TIFF" and sixteen:
                _write_tiff16(tmp, arrays, full_mode, meta, enc)
            elif fmt == "PNG" and not several and full_mode in PNG_MODES:
                # The project's own encoder deflates on every core (see upsamp.png).
                _write_png_file(tmp, arrays[0], full_mode, _pillow_options(fmt, meta, enc))
                _append_png_chunks(tmp, _png_text_chunks(meta))
            else:
                images = [_pillow_frame(a, full_mode, fmt) for a in arrays]
                options = _pillow_options(fmt, meta, enc)
                if several:
                    options.update(_animation_options(fmt, images, durations, loop, disposal))
                elif fmt == "GIF" and "transparency" in images[0].info:
                    options["transparency"] = images[0].info["transparency"]
                images[0].save(tmp, format=fmt, **options)
                if fmt == "JPEG" and meta.get("iptc"):
                    _splice_jpeg_app13(tmp, bytes(meta["iptc"]))

    _deliver(target, write, overwrite)


def _animation_options(
    fmt: str,
    images: list[Image.Image],
    durations: list[int] | None,
    loop: int | None,
    disposal: list[int] | None,
) -> dict[str, Any]:
    options: dict[str, Any] = {"save_all": True, "append_images": images[1:]}
    if fmt == "TIFF":
        return options
    if durations is not None:
        options["duration"] = [int(d) for d in durations]
    if loop is not None:
        options["loop"] = int(loop)
    elif fmt == "WEBP":
        options["loop"] = 0  # WebP always has a loop count; 0 is WebP's "play for ever" too
    if fmt == "GIF":
        if "transparency" in images[0].info:
            options["transparency"] = images[0].info["transparency"]
            options["disposal"] = 2  # whole frames: clear each before the next one
        elif disposal is not None:
            options["disposal"] = list(disposal)
    if fmt == "PNG":
        options["default_image"] = False
        options["blend"] = 0  # APNG_BLEND_OP_SOURCE: each frame replaces the canvas
        if disposal is not None:
            options["disposal"] = list(disposal)
    return options


def _deliver(target: Path, write: Callable[[Path], None], overwrite: bool) -> None:
    """:func:`atomic_write` to ``target``, or, for ``-``, to standard output in one piece.

    A reader that goes away (``... -o - | head -c 10``) raises BrokenPipeError, which the
    command line ends quietly with status 0, as for any other output to a closed pipe."""
    if str(target) != "-":
        atomic_write(target, write, overwrite=overwrite)
        return
    import sys
    import tempfile

    fd, name = tempfile.mkstemp(suffix=".tmp", prefix="upsamp-")
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        with tmp.open("rb") as fh:
            out = sys.stdout.buffer
            while block := fh.read(1 << 20):
                # A write can stop part-way without an error (the reader left during it): go on
                # with the rest, so that the closed pipe is noticed by the next write.
                view = memoryview(block)
                while view:
                    view = view[out.write(view) :]
            out.flush()
    finally:
        try:
            tmp.unlink()
        except OSError:
            pass


def save_array(path: PathLike, array: np.ndarray, *, overwrite: bool = False) -> None:
    """Save a numeric array exactly (dtype and values) as ``.npy``, atomically (``-``: to
    standard output).

    Raises OutputError when the name does not end in ``.npy``, the file exists and
    ``overwrite`` is false, the folder is missing, or writing fails; ParameterError when the
    array is not numeric.
    """
    target = Path(path)
    if target.suffix.lower() != ".npy" and str(target) != "-":
        raise OutputError(f"{target}: arrays are saved as .npy; name the output *.npy")
    arr = np.asarray(array)
    if arr.dtype.kind not in "biuf":
        raise ParameterError(f"array must be numeric, got dtype {arr.dtype}")

    def write(tmp: Path) -> None:
        try:
            with tmp.open("wb") as fh:
                np.save(fh, arr, allow_pickle=False)
        except OSError as exc:
            raise OutputError(f"{target}: cannot write ({_reason(exc)})") from None

    _deliver(target, write, overwrite)


def _cpu_count() -> int:
    from .threads import image_threads

    return image_threads()


def _write_png_file(path: Path, arr: np.ndarray, mode: str, options: dict[str, Any]) -> None:
    with open(path, "wb") as fh:
        write_png(
            fh,
            arr,
            mode,
            compress_level=options.get("compress_level", 6),
            icc_profile=options.get("icc_profile"),
            dpi=options.get("dpi"),
            exif=options.get("exif"),
            threads=_cpu_count(),
        )
