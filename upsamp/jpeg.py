"""A baseline JPEG written strip by strip, so the whole image never has to be in memory.

A JPEG encoder works on MCUs (minimum coded units: 8×8 pixels per block, 16×16 for 4:2:0
colour), and with a restart interval (ITU-T T.81, B.2.4.4 and F.1.2.3) the entropy-coded data
restarts every ``Ri`` MCUs: the DC predictions go back to zero and the bits are padded to a
byte before a ``RSTn`` marker. A strip of rows whose height is a multiple of the MCU height,
encoded on its own as a baseline JPEG, is therefore exactly the data of one restart interval
of ``Ri = MCUs per strip``: its DC predictions also start at zero and its bits are padded the
same way. :class:`JpegStripWriter` has each strip encoded on its own (by the ``encode``
callable it is given, on a thread pool), then writes the first strip's header with the full
height and a ``DRI`` segment, the strips' entropy-coded data separated by ``RST0..RST7``, and
``EOI``. With the same encoder settings the file is the one the encoder writes for the whole
image with a restart marker every strip (Pillow's ``restart_marker_rows``), byte for byte.

Only single-scan baseline files (``SOF0``, Huffman coding with fixed tables, no restart
interval of their own) can be joined; :class:`JpegStripWriter` checks that on a small probe
strip before anything is written and raises :class:`UnsupportedJpeg` otherwise. The MCU size
is read from the probe's frame header. This module imports no PIL.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, BinaryIO

import numpy as np

from .threads import OrderedJobs

__all__ = ["JpegStripWriter", "UnsupportedJpeg", "split_jpeg"]

#: Uncompressed bytes per strip (rounded to whole MCU rows).
STRIP_BYTES = 8 * 1024 * 1024
_MAX_INTERVAL = 0xFFFF  # the restart interval is a 16-bit count of MCUs


class UnsupportedJpeg(ValueError):
    """The encoder's output is not a single-scan baseline JPEG that strips can be joined in."""


def split_jpeg(data: bytes) -> tuple[bytes, bytes, int, tuple[int, int]]:
    """Split a baseline JPEG into ``(header, entropy-coded data, SOF offset, MCU size)``.

    ``header`` runs from ``SOI`` to the end of the ``SOS`` segment; the entropy-coded data is
    everything between it and ``EOI``. The SOF offset points at the ``SOF0`` marker inside the
    header; the MCU size ``(height, width)`` comes from its sampling factors.
    """
    if data[:2] != b"\xff\xd8" or data[-2:] != b"\xff\xd9":
        raise UnsupportedJpeg("not a complete JPEG stream")
    pos = 2
    sof = -1
    mcu = (8, 8)
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise UnsupportedJpeg(f"no marker at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if marker in (0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            raise UnsupportedJpeg("not a baseline JPEG")
        if marker == 0xDD:
            raise UnsupportedJpeg("the encoder set a restart interval of its own")
        if marker == 0xC0:
            sof = pos
            components = data[pos + 9]
            factors = [data[pos + 11 + 3 * i] for i in range(components)]
            if components > 1:
                mcu = (8 * max(f & 15 for f in factors), 8 * max(f >> 4 for f in factors))
        if marker == 0xDA:
            if sof < 0:
                raise UnsupportedJpeg("a scan before the frame header")
            if data[pos + 4] != data[sof + 9]:
                raise UnsupportedJpeg("a scan without every component")
            end = pos + 2 + length
            body = data[end:-2]
            if b"\xff\xda" in body or b"\xff\xd8" in body:
                raise UnsupportedJpeg("more than one scan")
            return data[:end], body, sof, mcu
        pos += 2 + length
    raise UnsupportedJpeg("no scan")


class JpegStripWriter:
    """Write a baseline JPEG from rows given band by band.

    ``encode(rows)`` must turn ``(n, width[, channels])`` stored values into a complete JPEG of
    those rows, with the same settings every time (the writer gives it strips whose height is
    a multiple of the MCU height, except the last). :meth:`write_rows` takes the next rows and
    may reuse nothing it was given; :meth:`close` checks that ``height`` rows came and ends
    the file; :meth:`abort` stops the threads. At most ``2 * threads`` strips are in flight.

    Raises :class:`UnsupportedJpeg` at construction when a probe strip shows that the
    encoder's files cannot be joined (then nothing has been written).
    """

    def __init__(
        self,
        fh: BinaryIO,
        width: int,
        height: int,
        channels: int,
        encode: Callable[[np.ndarray], bytes],
        *,
        threads: int = 1,
        strip_bytes: int = STRIP_BYTES,
    ) -> None:
        self.width, self.height, self.channels = int(width), int(height), int(channels)
        self._encode = encode
        self._fh = fh
        shape = (16, self.width) + ((self.channels,) if self.channels > 1 else ())
        _, _, _, mcu = split_jpeg(encode(np.zeros(shape, np.uint8)))
        mcus_per_row = -(-self.width // mcu[1])
        if mcus_per_row > _MAX_INTERVAL:
            raise UnsupportedJpeg("too many MCUs in one row for a restart interval")
        mcu_rows = max(1, strip_bytes // max(1, mcu[0] * self.width * self.channels))
        mcu_rows = min(mcu_rows, _MAX_INTERVAL // mcus_per_row)
        self.strip_rows = mcu_rows * mcu[0]
        self.interval = mcu_rows * mcus_per_row
        self._jobs = OrderedJobs(threads, self._emit)
        self._buffer = np.empty((self.strip_rows,) + shape[1:], dtype=np.uint8)
        self._filled = 0
        self._done = 0
        self._strips = 0
        self._closed = False

    @property
    def rows_written(self) -> int:
        """Rows received so far."""
        return self._done + self._filled

    def write_rows(self, rows: np.ndarray) -> None:
        """Append ``rows`` (uint8, ``(n, width)`` or ``(n, width, channels)``)."""
        if self._closed:
            raise ValueError("JPEG writer is closed")
        arr = np.asarray(rows)
        if arr.ndim == 3 and self.channels == 1 and arr.shape[2] == 1:
            arr = arr[:, :, 0]
        if arr.shape[1:] != self._buffer.shape[1:] or arr.dtype != np.uint8:
            raise ValueError(f"JPEG rows must be uint8 {self._buffer.shape[1:]}, got {arr.shape}")
        if self.rows_written + len(arr) > self.height:
            raise ValueError(f"JPEG of {self.height} rows: {self.rows_written + len(arr)} given")
        start = 0
        while start < len(arr):
            take = min(self.strip_rows - self._filled, len(arr) - start)
            self._buffer[self._filled : self._filled + take] = arr[start : start + take]
            self._filled += take
            start += take
            if self._filled == self.strip_rows:
                self._submit()

    def _submit(self) -> None:
        strip = self._buffer[: self._filled]
        self._done += self._filled
        self._buffer = np.empty_like(self._buffer)
        self._filled = 0
        self._jobs.submit(self._encode, strip)

    def _emit(self, data: bytes) -> None:
        header, body, sof, _ = split_jpeg(data)
        if self._strips == 0:
            sos = header.rindex(b"\xff\xda")
            patched = bytearray(header[:sos])
            patched[sof + 5 : sof + 7] = struct.pack(">H", self.height)
            self._fh.write(bytes(patched))
            self._fh.write(b"\xff\xdd" + struct.pack(">HH", 4, self.interval))
            self._fh.write(header[sos:])
        else:
            self._fh.write(bytes((0xFF, 0xD0 + (self._strips - 1) % 8)))
        self._fh.write(body)
        self._strips += 1

    def close(self) -> None:
        """Encode the last rows and end the file; ValueError if rows are missing."""
        if self._closed:
            return
        try:
            if self.rows_written != self.height:
                raise ValueError(f"JPEG of {self.height} rows: only {self.rows_written} given")
            if self._filled:
                self._submit()
            self._jobs.drain()
            self._fh.write(b"\xff\xd9")
            self._fh.flush()
        except BaseException:
            self.abort()
            raise
        self._finish()

    def abort(self) -> None:
        """Stop without ending the file."""
        self._jobs.cancel()
        self._finish()

    def _finish(self) -> None:
        self._closed = True
        self._jobs.shutdown()

    def __enter__(self) -> JpegStripWriter:
        return self

    def __exit__(self, kind: Any, value: Any, traceback: Any) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()
