"""A PNG encoder that deflates on every core.

PNG compression is one deflate stream over the filtered scanlines, and a single zlib stream runs
on one core; for a 4K photo it is most of the time of a whole enlargement. Here the scanlines are
filtered with the "Up" filter (each byte minus the byte above it; filter type 2 on every row),
the data is cut into chunks, and each chunk is deflated on its own thread (zlib releases the
GIL) with the previous 32 KiB as its preset dictionary, ending in a full flush so the pieces
join into one valid stream, as pigz does. The file is ordinary PNG (ISO/IEC 15948): signature,
``IHDR``, ``iCCP`` (ICC profile), ``pHYs`` (DPI), ``eXIf`` (EXIF), ``IDAT``, ``IEND``.

Only 8-bit L/LA/RGB/RGBA and 16-bit grayscale are handled; the caller uses Pillow otherwise.
This module imports no PIL.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import BinaryIO

import numpy as np

__all__ = ["PNG_MODES", "write_png"]

#: Mode -> (PNG colour type, bit depth, channels).
PNG_MODES = {
    "L": (0, 8, 1),
    "LA": (4, 8, 2),
    "RGB": (2, 8, 3),
    "RGBA": (6, 8, 4),
    "I;16": (0, 16, 1),
}

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_WINDOW = 32 * 1024  # deflate's window: the dictionary each chunk is primed with
_CHUNK_BYTES = 4 * 1024 * 1024  # uncompressed bytes per parallel piece
_IDAT_BYTES = 1 << 20  # PNG IDAT chunk size on disk


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def filtered_scanlines(pixels: np.ndarray, mode: str) -> bytes:
    """The scanlines of ``pixels`` with filter type 2 ("Up": ``Filt(x) = Orig(x) - Orig(b)``,
    ``b`` the byte above, 0 on the first row), each row led by its filter-type byte."""
    _, depth, channels = PNG_MODES[mode]
    if depth == 16:
        pixels = pixels.astype(">u2")
    rows = np.ascontiguousarray(pixels).view(np.uint8).reshape(pixels.shape[0], -1)
    out = np.empty((rows.shape[0], rows.shape[1] + 1), dtype=np.uint8)
    out[:, 0] = 2
    out[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=out[1:, 1:])  # uint8 arithmetic wraps modulo 256
    return out.tobytes()


def _deflate_piece(data: memoryview, start: int, stop: int, level: int, last: bool) -> bytes:
    if start:
        primer = bytes(data[max(0, start - _WINDOW) : start])
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15, zdict=primer)
    else:
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    body = compressor.compress(data[start:stop])
    return body + compressor.flush(zlib.Z_FINISH if last else zlib.Z_FULL_FLUSH)


def parallel_deflate(data: bytes, level: int, threads: int) -> bytes:
    """One zlib stream (RFC 1950) of ``data``, deflated in pieces on ``threads`` threads."""
    view = memoryview(data)
    bounds = list(range(0, len(data), _CHUNK_BYTES)) or [0]
    pieces = [(a, min(a + _CHUNK_BYTES, len(data))) for a in bounds]
    jobs = [(view, a, b, level, n == len(pieces) - 1) for n, (a, b) in enumerate(pieces)]
    if threads > 1 and len(jobs) > 1:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            bodies = list(pool.map(lambda job: _deflate_piece(*job), jobs))
    else:
        bodies = [_deflate_piece(*job) for job in jobs]
    return _zlib_header(level) + b"".join(bodies) + struct.pack(">I", zlib.adler32(data))


def _zlib_header(level: int) -> bytes:
    """CMF/FLG bytes: deflate with a 32 KiB window, the level hint, and the FCHECK bits."""
    cmf = 0x78
    flevel = 0 if level < 2 else 1 if level < 6 else 2 if level == 6 else 3
    flg = flevel << 6
    flg += 31 - ((cmf << 8) + flg) % 31
    return bytes([cmf, flg])


def _idat_chunks(stream: bytes) -> Iterable[bytes]:
    for start in range(0, len(stream), _IDAT_BYTES):
        yield _chunk(b"IDAT", stream[start : start + _IDAT_BYTES])


def write_png(
    fh: BinaryIO,
    pixels: np.ndarray,
    mode: str,
    *,
    compress_level: int = 6,
    icc_profile: bytes | None = None,
    dpi: tuple[float, float] | None = None,
    exif: bytes | None = None,
    threads: int = 1,
) -> None:
    """Write ``pixels`` (``(H, W)`` or ``(H, W, C)``, uint8, or uint16 for I;16) as a PNG."""
    colour_type, depth, channels = PNG_MODES[mode]
    height, width = pixels.shape[:2]
    if (pixels.shape[2] if pixels.ndim == 3 else 1) != channels:
        raise ValueError(f"mode {mode} needs {channels} channels, got shape {pixels.shape}")
    fh.write(_SIGNATURE)
    fh.write(_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)))
    if icc_profile:
        fh.write(_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc_profile)))
    if dpi:
        per_metre = [max(1, int(round(float(v) / 0.0254))) for v in dpi]
        fh.write(_chunk(b"pHYs", struct.pack(">IIB", per_metre[0], per_metre[1], 1)))
    if exif:
        fh.write(_chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\x00\x00") else exif))
    stream = parallel_deflate(filtered_scanlines(pixels, mode), compress_level, threads)
    for chunk in _idat_chunks(stream):
        fh.write(chunk)
    fh.write(_chunk(b"IEND", b""))
