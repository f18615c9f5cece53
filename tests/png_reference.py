"""A slow, plain PNG reader and filter for the tests, written from ISO/IEC 15948 with zlib and
Python loops: it shares no code with ``upsamp.png`` or ``upsamp.png_read``.

>>> unfilter_plain(bytes([0, 7, 9, 2, 1, 3]), 2, 2, 1)  # 2x2 gray: filter None, then Up
[[7, 9], [8, 12]]
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

__all__ = ["chunks", "decode_plain", "filter_plain", "paeth_plain", "unfilter_plain"]

_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}


def chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """The chunks of a PNG file as ``(type, body)``, checking each CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    out, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body), f"bad CRC in {kind!r}"
        out.append((kind, body))
        pos += 12 + length
    return out


def paeth_plain(a: int, b: int, c: int) -> int:
    """The Paeth predictor exactly as written in the standard."""
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    if pb <= pc:
        return b
    return c


def _predict(kind: int, a: int, b: int, c: int) -> int:
    if kind == 0:
        return 0
    if kind == 1:
        return a
    if kind == 2:
        return b
    if kind == 3:
        return (a + b) // 2
    if kind == 4:
        return paeth_plain(a, b, c)
    raise ValueError(f"filter type {kind}")


def filter_plain(rows: list[list[int]], kinds: list[int], bpp: int) -> list[list[int]]:
    """Filter byte rows with the given filter type per row; each output row starts with it."""
    out = []
    for y, row in enumerate(rows):
        above = rows[y - 1] if y > 0 else [0] * len(row)
        line = [kinds[y]]
        for i, x in enumerate(row):
            a = row[i - bpp] if i >= bpp else 0
            c = above[i - bpp] if i >= bpp else 0
            line.append((x - _predict(kinds[y], a, above[i], c)) % 256)
        out.append(line)
    return out


def unfilter_plain(raw: bytes, height: int, row_bytes: int, bpp: int) -> list[list[int]]:
    """Undo the filters of ``height`` rows of ``row_bytes`` bytes (each led by its type)."""
    rows: list[list[int]] = []
    pos = 0
    for _ in range(height):
        kind, line = raw[pos], raw[pos + 1 : pos + 1 + row_bytes]
        pos += 1 + row_bytes
        above = rows[-1] if rows else [0] * row_bytes
        row: list[int] = []
        for i, value in enumerate(line):
            a = row[i - bpp] if i >= bpp else 0
            c = above[i - bpp] if i >= bpp else 0
            row.append((value + _predict(kind, a, above[i], c)) % 256)
        rows.append(row)
    return rows


def decode_plain(data: bytes) -> np.ndarray:
    """Pixels of a non-interlaced 8- or 16-bit gray/gray+alpha/RGB/RGBA PNG: uint8 or uint16,
    ``(H, W)`` for one channel, else ``(H, W, C)``."""
    parts = chunks(data)
    assert parts[0][0] == b"IHDR" and parts[-1][0] == b"IEND"
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", parts[0][1])
    assert interlace == 0 and depth in (8, 16) and colour in _CHANNELS
    channels = _CHANNELS[colour]
    bpp = channels * depth // 8
    raw = zlib.decompress(b"".join(body for kind, body in parts if kind == b"IDAT"))
    rows = unfilter_plain(raw, height, width * bpp, bpp)
    flat = np.array(rows, dtype=np.uint8).reshape(height, width * bpp)
    if depth == 16:
        values = flat.view(">u2").astype(np.uint16)
    else:
        values = flat
    values = values.reshape(height, width, channels)
    return values[:, :, 0] if channels == 1 else values
