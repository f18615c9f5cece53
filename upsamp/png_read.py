"""A PNG reader for 8- and 16-bit images, whole or band by band, without PIL.

Pillow opens 16-bit RGB and RGBA PNGs in its 8-bit modes, dropping the low byte of every
sample; this reader keeps them. It reads gray, gray+alpha, RGB and RGBA at 8 and 16 bits
(ISO/IEC 15948), non-interlaced or Adam7-interlaced, and returns the samples as a numpy array
(uint8, or uint16 in native byte order) together with the ancillary chunks that carry metadata,
raw (``iCCP pHYs tEXt zTXt iTXt eXIf gAMA sRGB cHRM tRNS``). Palette images and bit depths
below 8 are refused with one line (Pillow reads those without loss).

Rows are inflated as they are needed (zlib-ng's inflate when the ``zlib-ng`` package is
installed), and :class:`PngReader` hands them out band by band, so a huge image need not be in
memory at once. Unfiltering: rows filtered with None, Sub or Up are undone with whole-row
numpy operations; runs of Average and Paeth rows, where each byte depends on the byte decoded
just before it, are undone along anti-diagonals (every byte of a diagonal depends only on the
two diagonals before it), one numpy step per diagonal.

Every problem with the file (not a PNG, truncated, a bad checksum, corrupt compressed data,
too many pixels) raises :class:`PngFormatError`, an :class:`upsamp.errors.InputError`, with a
one-line message.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .errors import InputError

__all__ = ["ANCILLARY", "PngFormatError", "PngInfo", "PngReader", "read_png"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Chunks returned raw in :attr:`PngInfo.chunks`.
ANCILLARY = (
    b"iCCP", b"pHYs", b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"gAMA", b"sRGB", b"cHRM", b"tRNS"
)  # fmt: skip
#: Colour type -> (channels, mode at 8 bits, mode at 16 bits); the names of upsamp.png.
_COLOUR_TYPES = {
    0: (1, "L", "I;16"),
    2: (3, "RGB", "RGB;16"),
    4: (2, "LA", "LA;16"),
    6: (4, "RGBA", "RGBA;16"),
}
#: Adam7 passes: (first column, first row, column step, row step).
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
          (0, 1, 1, 2))  # fmt: skip
_READ_BYTES = 1 << 20


class PngFormatError(InputError):
    """A PNG file that cannot be read: not a PNG, truncated, corrupt, unsupported or too big."""


def _inflater() -> tuple[Any, type[Exception]]:
    """A decompressor and the exception its library raises on corrupt data."""
    try:  # zlib-ng inflates faster; same stream format
        from zlib_ng import zlib_ng

        return zlib_ng.decompressobj(), zlib_ng.error
    except ImportError:
        return zlib.decompressobj(), zlib.error


@dataclass
class PngInfo:
    """What the header and the ancillary chunks say."""

    width: int
    height: int
    bit_depth: int  #: 8 or 16
    colour_type: int  #: 0 gray, 2 RGB, 4 gray+alpha, 6 RGBA
    interlaced: bool
    #: Ancillary chunks in file order, raw bodies: ``{b"tEXt": [body, ...], ...}``.
    chunks: dict[bytes, list[bytes]] = field(default_factory=dict)

    @property
    def channels(self) -> int:
        return _COLOUR_TYPES[self.colour_type][0]

    @property
    def mode(self) -> str:
        """``L LA RGB RGBA`` (8-bit) or ``I;16 LA;16 RGB;16 RGBA;16`` (16-bit)."""
        _, eight, sixteen = _COLOUR_TYPES[self.colour_type]
        return sixteen if self.bit_depth == 16 else eight

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.uint16 if self.bit_depth == 16 else np.uint8)

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the whole array: ``(H, W)`` for gray, else ``(H, W, C)``."""
        rest = () if self.channels == 1 else (self.channels,)
        return (self.height, self.width, *rest)

    @property
    def bpp(self) -> int:
        """Bytes per complete pixel."""
        return self.channels * self.bit_depth // 8


class PngReader:
    """Read a PNG band by band.

    ``PngReader(source, max_pixels=None)`` reads the chunks up to the image data (``source``:
    a path, a binary file object or the bytes of a file) and refuses, before allocating
    anything, an image of more than ``max_pixels`` pixels. :meth:`read_rows` returns the next
    rows; iterating yields bands of ``band_rows`` rows; :attr:`info` ``.chunks`` also holds the
    chunks after the image data once the last row has been read. An interlaced image is
    decoded whole on the first read (its rows are spread over seven passes).

    >>> import io
    >>> from upsamp.png import write_png
    >>> buf = io.BytesIO()
    >>> write_png(buf, np.arange(12, dtype=np.uint16).reshape(2, 2, 3), "RGB;16")
    >>> with PngReader(buf.getvalue()) as png:
    ...     print(png.info.mode, png.read_rows(1).tolist())
    RGB;16 [[[0, 1, 2], [3, 4, 5]]]
    """

    def __init__(
        self,
        source: str | os.PathLike[str] | BinaryIO | bytes,
        *,
        max_pixels: int | None = None,
        band_rows: int = 256,
    ) -> None:
        self._name = str(source) if isinstance(source, (str, os.PathLike)) else "PNG"
        self._owns = isinstance(source, (str, os.PathLike))
        if isinstance(source, (bytes, bytearray, memoryview)):
            import io

            self._fh: BinaryIO = io.BytesIO(bytes(source))
        elif self._owns:
            try:
                self._fh = open(source, "rb")  # noqa: SIM115 - closed by close()
            except OSError as exc:
                raise PngFormatError(f"{self._name}: cannot read ({exc.strerror})") from None
        else:
            self._fh = source  # type: ignore[assignment]
        self.band_rows = max(1, int(band_rows))
        try:
            self.info = self._read_header(max_pixels)
        except BaseException:
            self.close()
            raise
        self._inflate, self._inflate_error = _inflater()
        self._raw = bytearray()  # inflated, not yet unfiltered
        self._idat_left = self._first_idat  # bytes of the current IDAT chunk not yet read
        self._idat_done = False
        self._row = 0
        self._above: np.ndarray | None = None
        self._whole: np.ndarray | None = None  # interlaced images

    # -- chunks ------------------------------------------------------------------------------

    def _fail(self, what: str) -> PngFormatError:
        return PngFormatError(f"{self._name}: {what}")

    def _read_exact(self, n: int, where: str) -> bytes:
        data = self._fh.read(n)
        if len(data) != n:
            raise self._fail(f"truncated PNG (the file ends {where})")
        return data

    def _chunk_head(self) -> tuple[int, bytes]:
        head = self._read_exact(8, "where a chunk should start")
        length, kind = struct.unpack(">I", head[:4])[0], head[4:]
        if length > 2**31 - 1 or not kind.isalpha():
            raise self._fail("corrupt PNG (bad chunk header)")
        return length, kind

    def _chunk_body(self, length: int, kind: bytes) -> bytes:
        name = kind.decode("latin-1")
        body = self._read_exact(length, f"inside chunk {name}")
        (crc,) = struct.unpack(">I", self._read_exact(4, f"inside chunk {name}"))
        if zlib.crc32(body, zlib.crc32(kind)) != crc:
            raise self._fail(f"corrupt PNG (checksum mismatch in chunk {name})")
        return body

    def _read_header(self, max_pixels: int | None) -> PngInfo:
        if self._fh.read(8) != _SIGNATURE:
            raise self._fail("not a PNG file (no PNG signature)")
        length, kind = self._chunk_head()
        if kind != b"IHDR" or length != 13:
            raise self._fail("corrupt PNG (the first chunk is not a 13-byte IHDR)")
        width, height, depth, colour, method, filters, interlace = struct.unpack(
            ">IIBBBBB", self._chunk_body(length, kind)
        )
        if width == 0 or height == 0 or method != 0 or filters != 0 or interlace > 1:
            raise self._fail("corrupt PNG (invalid IHDR)")
        if colour == 3:
            raise self._fail("palette PNG: not read here (Pillow reads it without loss)")
        if colour not in _COLOUR_TYPES or depth not in (1, 2, 4, 8, 16):
            raise self._fail(f"corrupt PNG (colour type {colour}, bit depth {depth})")
        if depth < 8:
            raise self._fail(f"{depth}-bit PNG: not read here (Pillow reads it without loss)")
        if max_pixels is not None and width * height > max_pixels:
            raise self._fail(
                f"{width}×{height} = {width * height} pixels is more than the limit of {max_pixels}"
            )
        info = PngInfo(width, height, depth, colour, bool(interlace))
        while True:
            length, kind = self._chunk_head()
            if kind == b"IDAT":
                self._first_idat = length
                return info
            if kind == b"IEND":
                raise self._fail("corrupt PNG (no image data)")
            body = self._chunk_body(length, kind)
            if kind in ANCILLARY:
                info.chunks.setdefault(kind, []).append(body)
            elif kind[0:1].isupper() and kind not in (b"PLTE",):
                raise self._fail(f"unsupported PNG (critical chunk {kind.decode('latin-1')})")

    def _more_compressed(self) -> bytes:
        """The next piece of the IDAT stream, or b"" after the last IDAT chunk."""
        while self._idat_left == 0:
            self._fh.read(4)  # CRC of the IDAT chunk just read: checked through zlib's Adler
            length, kind = self._chunk_head()
            if kind != b"IDAT":
                self._after_idat(length, kind)
                return b""
            self._idat_left = length
        data = self._fh.read(min(self._idat_left, _READ_BYTES))
        if not data:
            raise self._fail("truncated PNG (the file ends inside the image data)")
        self._idat_left -= len(data)
        return data

    def _after_idat(self, length: int, kind: bytes) -> None:
        self._idat_done = True
        while kind != b"IEND":
            body = self._chunk_body(length, kind)
            if kind in ANCILLARY:
                self.info.chunks.setdefault(kind, []).append(body)
            length, kind = self._chunk_head()

    def _inflate_until(self, nbytes: int) -> None:
        """Inflate until ``self._raw`` holds at least ``nbytes`` bytes."""
        while len(self._raw) < nbytes:
            data = self._inflate.unconsumed_tail
            if not data and not self._idat_done:
                data = self._more_compressed()
            try:
                if not data:
                    self._raw += self._inflate.flush()
                    if len(self._raw) < nbytes:
                        raise self._fail("corrupt PNG (the image data ends too soon)")
                    return
                self._raw += self._inflate.decompress(data, max(nbytes - len(self._raw), 1 << 16))
            except self._inflate_error as exc:
                raise self._fail(f"corrupt PNG (bad compressed data: {exc})") from None
            if self._inflate.eof and len(self._raw) < nbytes:
                raise self._fail("corrupt PNG (the image data ends too soon)")

    # -- rows --------------------------------------------------------------------------------

    def read_rows(self, count: int) -> np.ndarray:
        """The next ``count`` rows (fewer at the end; ``(0, ...)`` after the last)."""
        info = self.info
        count = max(0, min(int(count), info.height - self._row))
        if info.interlaced:
            if self._whole is None:
                self._whole = self._read_interlaced()
            rows = self._whole[self._row : self._row + count]
        else:
            row_bytes = info.width * info.bpp
            need = count * (row_bytes + 1)
            self._inflate_until(need)
            filtered = np.frombuffer(bytes(self._raw[:need]), np.uint8)
            del self._raw[:need]
            raw = unfilter_rows(filtered.reshape(count, row_bytes + 1), self._above, info.bpp,
                                self._fail)  # fmt: skip
            if count:
                self._above = raw[-1]
            rows = _samples(raw, info)
        self._row += count
        if self._row == info.height:
            self._finish()
        return rows

    def _finish(self) -> None:
        """Inflate the end of the stream (zlib checks its Adler-32 there) and read the chunks
        after the image data."""
        while not self._inflate.eof:
            data = self._inflate.unconsumed_tail
            if not data and not self._idat_done:
                data = self._more_compressed()
            if not data:
                break  # a stream without its checksum: the rows are all there, as Pillow reads
            try:
                self._inflate.decompress(data, 1 << 16)
            except self._inflate_error as exc:
                raise self._fail(f"corrupt PNG (bad compressed data: {exc})") from None
        while not self._idat_done:
            self._idat_left = 0 if self._inflate.eof else self._idat_left
            if not self._more_compressed():
                break

    def _read_interlaced(self) -> np.ndarray:
        info = self.info
        out = np.empty((info.height, info.width * info.bpp), np.uint8)
        bpp = info.bpp
        for x0, y0, dx, dy in _ADAM7:
            w = (info.width - x0 + dx - 1) // dx
            h = (info.height - y0 + dy - 1) // dy
            if w <= 0 or h <= 0:
                continue  # an empty pass has no filter bytes at all
            need = h * (w * bpp + 1)
            self._inflate_until(need)
            filtered = np.frombuffer(bytes(self._raw[:need]), np.uint8).reshape(h, -1)
            del self._raw[:need]
            raw = unfilter_rows(filtered, None, bpp, self._fail).reshape(h, w, bpp)
            out.reshape(info.height, info.width, bpp)[y0::dy, x0::dx] = raw
        return _samples(out, info)

    def __iter__(self) -> Iterator[np.ndarray]:
        while self._row < self.info.height:
            yield self.read_rows(self.band_rows)

    def close(self) -> None:
        if self._owns:
            self._fh.close()

    def __enter__(self) -> PngReader:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _samples(raw: np.ndarray, info: PngInfo) -> np.ndarray:
    """Byte rows -> samples of ``info.shape`` (16-bit: big-endian bytes to native uint16)."""
    n = raw.shape[0]
    if info.bit_depth == 16:
        values = raw.view(">u2").astype(np.uint16)
    else:
        values = raw
    return values.reshape(n, *info.shape[1:])


def read_png(
    source: str | os.PathLike[str] | BinaryIO | bytes | Path, *, max_pixels: int | None = None
) -> tuple[np.ndarray, PngInfo]:
    """The whole image and its :class:`PngInfo` (see :class:`PngReader`)."""
    with PngReader(source, max_pixels=max_pixels) as reader:
        out = np.empty(reader.info.shape, reader.info.dtype)
        done = 0
        while done < reader.info.height:
            band = reader.read_rows(max(1, (64 << 20) // max(1, reader.info.width * 8)))
            out[done : done + len(band)] = band
            done += len(band)
        return out, reader.info


# --------------------------------------------------------------------------------------------
# Unfiltering


def unfilter_rows(
    filtered: np.ndarray, above: np.ndarray | None, bpp: int, fail: Any = None
) -> np.ndarray:
    """Undo the PNG filters: ``filtered`` is ``(n, 1 + row_bytes)`` uint8 (each row led by its
    filter type), ``above`` the decoded row before the first (None: zeros). Returns the
    ``(n, row_bytes)`` decoded bytes.

    >>> unfilter_rows(np.array([[1, 7, 1, 1], [2, 1, 1, 1]], np.uint8), None, 1).tolist()
    [[7, 8, 9], [8, 9, 10]]
    """
    n, width = filtered.shape[0], filtered.shape[1] - 1
    kinds = filtered[:, 0]
    if n and int(kinds.max()) > 4:
        bad = int(kinds.max())
        message = f"corrupt PNG (filter type {bad})"
        raise (fail(message) if fail else ValueError(message))
    out = np.empty((n, width), np.uint8)
    prev = np.zeros(width, np.uint8) if above is None else above
    if n and int(kinds.max()) >= 3:  # Average or Paeth somewhere: along anti-diagonals
        _unfilter_diagonals(filtered, prev, bpp, out)
        return out
    for y in range(n):
        kind, data, row = int(kinds[y]), filtered[y, 1:], out[y]
        if kind == 0:
            row[...] = data
        elif kind == 2:
            np.add(data, prev, out=row)
        else:  # Sub: a running sum, per byte of the pixel
            np.cumsum(data.reshape(-1, bpp), axis=0, dtype=np.uint8, out=row.reshape(-1, bpp))
        prev = row
    return out


def _unfilter_diagonals(filtered: np.ndarray, above: np.ndarray, bpp: int, out: np.ndarray):
    """Undo the filters of ``k`` rows of any types at once.

    Byte rows are handled as ``(k, W, bpp)`` pixels. Pixel ``(y, x)`` needs ``(y, x - 1)``,
    ``(y - 1, x)`` and ``(y - 1, x - 1)``, all on earlier anti-diagonals ``y + x``; in a
    sheared copy ``S[y + 1, x + y + 1] = pixel (y, x)`` (the row above at ``S[0, x]``) each
    diagonal is one column, so step ``s`` reads columns ``s - 1`` and ``s`` and writes
    column ``s + 1``: ``W + k - 1`` vector steps instead of ``W * k`` byte steps.
    """
    k = filtered.shape[0]
    width = (filtered.shape[1] - 1) // bpp
    kinds = filtered[:, 0].astype(np.intp)[:, None]
    any_paeth = bool((kinds == 4).any())
    sheared = np.zeros((k + 1, width + k + 1, bpp), np.int16)
    sheared[0, :width] = above.reshape(width, bpp)
    target = np.zeros((k, width + k, bpp), np.int16)  # the filtered bytes, sheared alike
    data = filtered[:, 1:].reshape(k, width, bpp)
    for y in range(k):
        target[y, y : y + width] = data[y]
    zeros = np.zeros((k, bpp), np.int16)
    for s in range(width + k - 1):
        lo, hi = max(0, s - width + 1), min(k, s + 1)  # rows whose pixel lies on diagonal s
        a = sheared[lo + 1 : hi + 1, s]
        b = sheared[lo:hi, s]
        c = sheared[lo:hi, s - 1] if s >= 1 else zeros[: hi - lo]
        mean = (a + b) >> 1
        if any_paeth:
            pa = np.abs(b - c)
            pb = np.abs(a - c)
            pc = np.abs((a - c) + (b - c))
            paeth = np.where(pb <= pc, b, c)
            np.copyto(paeth, a, where=(pa <= pb) & (pa <= pc))
        else:
            paeth = mean
        pred = np.choose(kinds[lo:hi], (zeros[: hi - lo], a, b, mean, paeth))
        pred += target[lo:hi, s]
        pred &= 0xFF
        sheared[lo + 1 : hi + 1, s + 1] = pred
    for y in range(k):
        out[y] = sheared[y + 1, y + 1 : y + 1 + width].reshape(-1)
