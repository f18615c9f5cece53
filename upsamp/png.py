"""A PNG encoder that deflates on every core.

PNG compression is one deflate stream over the filtered scanlines, and a single zlib stream runs
on one core; for a 4K photo it is most of the time of a whole enlargement. Here the scanlines are
filtered with the "Up" filter (each byte minus the byte above it; filter type 2 on every row),
the rows are cut into pieces, and each piece is filtered and deflated on its own thread (zlib
releases the GIL) with the previous 32 KiB as its preset dictionary, ending in a full flush so
the pieces join into one valid stream, as pigz does; the Adler-32 checksums of the pieces are
combined. Pieces are written as they finish, so the whole compressed stream is never in memory.
The file is ordinary PNG (ISO/IEC 15948): signature,
``IHDR``, ``iCCP`` (ICC profile), ``pHYs`` (DPI), ``eXIf`` (EXIF), ``IDAT``, ``IEND``.

Only 8-bit L/LA/RGB/RGBA and 16-bit gray, gray+alpha, RGB and RGBA are handled; the caller
uses Pillow otherwise.
This module imports no PIL.
"""

from __future__ import annotations

import struct
import zlib
from collections import deque
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
    "LA;16": (4, 16, 2),
    "RGB;16": (2, 16, 3),
    "RGBA;16": (6, 16, 4),
}

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_WINDOW = 32 * 1024  # deflate's window: the dictionary each chunk is primed with
_CHUNK_BYTES = 4 * 1024 * 1024  # uncompressed bytes per parallel piece
_IDAT_BYTES = 1 << 20  # PNG IDAT chunk size on disk


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def filtered_scanlines(
    pixels: np.ndarray, mode: str, start: int = 0, stop: int | None = None
) -> bytes:
    """Scanlines ``[start, stop)`` of ``pixels`` with filter type 2 ("Up":
    ``Filt(x) = Orig(x) - Orig(b)``, ``b`` the byte above, 0 on the first row of the image), each
    row led by its filter-type byte."""
    _, depth, _ = PNG_MODES[mode]
    stop = pixels.shape[0] if stop is None else stop
    above = max(start - 1, 0)
    block = pixels[above:stop]
    if depth == 16:
        block = block.astype(">u2")
    rows = np.ascontiguousarray(block).view(np.uint8).reshape(block.shape[0], -1)
    if start > 0:
        previous, rows = rows[0], rows[1:]
    else:
        previous = np.zeros(rows.shape[1], dtype=np.uint8)
    out = np.empty((rows.shape[0], rows.shape[1] + 1), dtype=np.uint8)
    out[:, 0] = 2
    np.subtract(rows[:1], previous, out=out[:1, 1:])  # uint8 arithmetic wraps modulo 256
    np.subtract(rows[1:], rows[:-1], out=out[1:, 1:])
    return out.tobytes()


def adler32_combine(first: int, second: int, second_length: int) -> int:
    """Adler-32 of ``A + B`` from ``adler32(A)``, ``adler32(B)`` and ``len(B)`` (RFC 1950's sums
    ``s1 = 1 + sum(bytes)`` and ``s2 = sum of the running s1``, modulo 65521), so pieces
    checksummed on different threads give the checksum of the whole stream."""
    base = 65521
    n = second_length % base
    a1, b1 = first & 0xFFFF, first >> 16
    a2, b2 = second & 0xFFFF, second >> 16
    a = (a1 + a2 - 1) % base
    b = (b1 + b2 + n * (a1 - 1)) % base
    return (b << 16) | a


def _deflate_rows(
    pixels: np.ndarray, mode: str, start: int, stop: int, level: int, last: bool
) -> tuple[bytes, int, int]:
    """Deflate the filtered rows ``[start, stop)`` as one piece of a raw deflate stream, primed
    with the 32 KiB of filtered data before it; returns ``(body, adler32, length)``."""
    row_bytes = len(filtered_scanlines(pixels[:1], mode))
    before = min(start, -(-_WINDOW // row_bytes))
    data = filtered_scanlines(pixels, mode, start - before, stop)
    primer, body = data[: before * row_bytes][-_WINDOW:], memoryview(data)[before * row_bytes :]
    if primer:
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15, zdict=primer)
    else:
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    deflated = compressor.compress(body)
    deflated += compressor.flush(zlib.Z_FINISH if last else zlib.Z_FULL_FLUSH)
    return deflated, zlib.adler32(body), len(body)


def _zlib_header(level: int) -> bytes:
    """CMF/FLG bytes: deflate with a 32 KiB window, the level hint, and the FCHECK bits."""
    cmf = 0x78
    flevel = 0 if level < 2 else 1 if level < 6 else 2 if level == 6 else 3
    flg = flevel << 6
    flg += 31 - ((cmf << 8) + flg) % 31
    return bytes([cmf, flg])


def _write_idat(fh: BinaryIO, pixels: np.ndarray, mode: str, level: int, threads: int) -> None:
    """The zlib stream of the filtered scanlines as IDAT chunks, one per piece of rows. Pieces
    are filtered and deflated on ``threads`` threads, at most ``2 * threads`` at a time, and
    written in order as they finish, so memory holds a few pieces, never the whole stream."""
    height = pixels.shape[0]
    row_bytes = len(filtered_scanlines(pixels[:1], mode))
    rows = max(1, _CHUNK_BYTES // row_bytes)
    pieces = [(a, min(a + rows, height)) for a in range(0, height, rows)]
    fh.write(_chunk(b"IDAT", _zlib_header(level)))
    checksum = 1  # Adler-32 of nothing
    jobs = [(pixels, mode, a, b, level, n == len(pieces) - 1) for n, (a, b) in enumerate(pieces)]
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        pending: deque = deque()
        for job in jobs:
            pending.append(pool.submit(_deflate_rows, *job))
            if len(pending) >= 2 * max(1, threads):
                checksum = _emit(fh, pending.popleft().result(), checksum)
        while pending:
            checksum = _emit(fh, pending.popleft().result(), checksum)
    fh.write(_chunk(b"IDAT", struct.pack(">I", checksum)))


def _emit(fh: BinaryIO, piece: tuple[bytes, int, int], checksum: int) -> int:
    body, adler, length = piece
    for start in range(0, len(body), _IDAT_BYTES):
        fh.write(_chunk(b"IDAT", body[start : start + _IDAT_BYTES]))
    return adler32_combine(checksum, adler, length)


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
    _write_idat(fh, pixels, mode, compress_level, threads)
    fh.write(_chunk(b"IEND", b""))
