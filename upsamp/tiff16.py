"""16-bit TIFF in and out through tifffile.

Pillow opens 16-bit RGB and RGBA TIFFs in 8-bit modes; tifffile reads and writes them exactly.
It is imported inside the functions (start-up time: about 14 ms on top of numpy) and only when a
16-bit TIFF is met. tifffile deflates with zlib by itself; LZW needs the ``imagecodecs``
package as well, and without it an LZW file is refused with one line naming that package.

Modes are those of :mod:`upsamp.png`: ``I;16`` (gray), ``LA;16``, ``RGB;16``, ``RGBA;16``;
arrays are uint16 in native byte order, ``(H, W)`` for gray, else ``(H, W, C)``. Alpha is
stored as unassociated (straight) alpha, ExtraSamples = 2.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np

from .errors import InputError, OutputError

__all__ = ["COMPRESSIONS", "TiffInfo", "read_tiff16", "write_tiff16"]

#: ``compression`` names -> tifffile's names.
COMPRESSIONS = {"none": None, "deflate": "adobe_deflate", "lzw": "lzw"}
_MODES = {"I;16": 1, "LA;16": 2, "RGB;16": 3, "RGBA;16": 4}


@dataclass
class TiffInfo:
    """What the first page says besides its samples."""

    mode: str
    compression: str  #: ``none``, ``deflate``, ``lzw`` or tifffile's name of another
    pages: int
    dpi: tuple[float, float] | None
    icc_profile: bytes | None


def _tifffile() -> Any:
    try:
        import tifffile  # here, not at the top: start-up time
    except ImportError:
        raise InputError("16-bit TIFF needs the tifffile package (pip install tifffile)") from None
    return tifffile


def read_tiff16(
    source: str | os.PathLike[str] | BinaryIO, *, max_pixels: int | None = None, page: int = 0
) -> tuple[np.ndarray, TiffInfo]:
    """Samples and :class:`TiffInfo` of page ``page`` of a 16-bit gray/gray+alpha/RGB/RGBA
    TIFF. Refused with one line (InputError): not such a TIFF, more than ``max_pixels`` pixels
    (checked before the samples are read), a compression that needs a missing package."""
    tifffile = _tifffile()
    name = str(source) if isinstance(source, (str, os.PathLike)) else "TIFF"
    try:
        with tifffile.TiffFile(source) as tif:
            pages = len(tif.pages)
            if pages == 0:
                raise InputError(f"{name}: cannot read TIFF (no image in it)")
            if not 0 <= page < pages:
                raise InputError(f"{name}: page {page} does not exist ({pages} pages)")
            p = tif.pages[page]
            if p.dtype != np.uint16:
                raise InputError(f"{name}: not a 16-bit TIFF ({p.dtype} samples)")
            height, width = p.imagelength, p.imagewidth
            if max_pixels is not None and height * width > max_pixels:
                raise InputError(
                    f"{name}: {width}×{height} = {width * height} pixels is more than the limit "
                    f"of {max_pixels}"
                )
            photometric = int(p.photometric)
            channels = p.samplesperpixel
            if photometric not in (1, 2) or channels not in (1, 2, 3, 4):
                raise InputError(
                    f"{name}: 16-bit TIFF with photometric {photometric} and {channels} samples "
                    "is not supported (gray, gray+alpha, RGB or RGBA only)"
                )
            codec = int(p.compression)
            data = p.asarray()
            info = TiffInfo(
                mode={1: "I;16", 2: "LA;16", 3: "RGB;16", 4: "RGBA;16"}[channels],
                compression={1: "none", 8: "deflate", 32946: "deflate", 5: "lzw"}.get(
                    codec, tifffile.COMPRESSION(codec).name.lower()
                ),
                pages=pages,
                dpi=_dpi(p),
                icc_profile=_tag(p, 34675),
            )
    except InputError:
        raise
    except ValueError as exc:  # tifffile: a codec that needs imagecodecs, bad data
        reason = str(exc)
        if "imagecodecs" in reason:
            raise InputError(
                f"{name}: this TIFF's compression needs the imagecodecs package "
                "(pip install imagecodecs)"
            ) from None
        raise InputError(f"{name}: cannot read TIFF ({reason.splitlines()[0]})") from None
    except (OSError, KeyError, IndexError, tifffile.TiffFileError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{name}: cannot read TIFF ({reason})") from None
    if p.planarconfig == 2 and data.ndim == 3 and channels > 1:  # separate planes
        data = np.moveaxis(data, 0, -1)
    return np.ascontiguousarray(data, dtype=np.uint16), info


def _tag(page: Any, code: int) -> Any:
    tag = page.tags.get(code)
    return None if tag is None else tag.value


def _dpi(page: Any) -> tuple[float, float] | None:
    x, y, unit = _tag(page, 282), _tag(page, 283), _tag(page, 296)
    if x is None or y is None:
        return None
    per_unit = [n / d if d else 0.0 for n, d in (x, y)]
    if int(unit or 2) == 3:  # centimetres
        per_unit = [v * 2.54 for v in per_unit]
    return per_unit[0], per_unit[1]


def write_tiff16(
    target: str | os.PathLike[str] | BinaryIO,
    pixels: np.ndarray,
    mode: str,
    *,
    compression: str = "none",
    icc_profile: bytes | None = None,
    dpi: tuple[float, float] | None = None,
) -> None:
    """Write uint16 ``pixels`` as a TIFF of ``mode`` (``I;16 LA;16 RGB;16 RGBA;16``) with
    ``compression`` ``none``, ``deflate`` or ``lzw`` (lzw needs imagecodecs)."""
    tifffile = _tifffile()
    name = str(target) if isinstance(target, (str, os.PathLike)) else "TIFF"
    if mode not in _MODES:
        raise ValueError(f"16-bit TIFF mode must be one of {', '.join(_MODES)}, got {mode!r}")
    if compression not in COMPRESSIONS:
        raise ValueError(f"TIFF compression must be one of {', '.join(COMPRESSIONS)}")
    arr = np.asarray(pixels)
    channels = _MODES[mode]
    if arr.dtype != np.uint16 or (arr.shape[2] if arr.ndim == 3 else 1) != channels:
        raise ValueError(f"mode {mode} needs uint16 values with {channels} channels")
    options: dict[str, Any] = {
        "photometric": "rgb" if channels >= 3 else "minisblack",
        "compression": COMPRESSIONS[compression],
        "planarconfig": "contig" if channels > 1 else None,
        "extrasamples": ("unassalpha",) if channels in (2, 4) else None,
        "metadata": None,
    }
    if dpi:
        options.update(resolution=(float(dpi[0]), float(dpi[1])), resolutionunit="inch")
    extratags = [(34675, 7, len(icc_profile), icc_profile, True)] if icc_profile else []
    try:
        tifffile.imwrite(target, arr, extratags=extratags, **options)
    except (KeyError, ValueError) as exc:
        if "imagecodecs" in str(exc):
            raise OutputError(
                f"{name}: LZW compression needs the imagecodecs package (pip install "
                "imagecodecs); use --tiff-compression deflate"
            ) from None
        raise OutputError(f"{name}: cannot write TIFF ({str(exc).splitlines()[0]})") from None
    except OSError as exc:
        raise OutputError(f"{name}: cannot write TIFF ({exc.strerror or exc})") from None
