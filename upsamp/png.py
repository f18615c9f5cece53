"""A PNG encoder that filters and deflates on every core, whole images or band by band.

PNG compression is one deflate stream over the filtered scanlines (ISO/IEC 15948), and a single
deflate stream runs on one core; for a 4K photo it is most of the time of a whole enlargement.
Here the rows are cut into pieces of a fixed number of rows, and each piece is filtered and
deflated on its own thread (numpy and the deflate libraries release the GIL) with the 32 KiB of
filtered data before it as its preset dictionary, ending in a full flush so the pieces join into
one valid stream, as pigz does; the Adler-32 checksums of the pieces are combined. Pieces are
written in order as they finish, so neither the image nor the compressed stream needs to be in
memory: :class:`PngWriter` takes the rows band by band.

Filters. Each row gets the filter type (None, Sub, Up, Average, Paeth) whose output has the
smallest sum of absolute values (bytes read as signed), the heuristic of libpng and Pillow, with
the Up sum weighted by :data:`UP_WEIGHT`: enlarged images predict well from the row above, and
on them Up gives smaller deflate output than the plain heuristic picks (measured in
``benchmarks/bench_png.py``). ``filter_strategy="minsum"`` is the unweighted heuristic, and a
filter name forces that filter on every row.

Deflate engine. zlib-ng (the ``zlib-ng`` package) when installed, else the standard ``zlib``;
python-isal (the ``isal`` package), when installed, for levels 1 to 3, where it is several
times faster than both and compresses better than zlib's level 1. zlib-ng's own level 1 is a
different, much weaker method, so level 1 asks zlib-ng for its level 2. Every engine writes an
ordinary zlib stream; the decoded pixels are the same whichever ran. For one engine the file is
the same bytes whatever the number of threads and however the rows were cut into bands.

The file: signature, ``IHDR``, ``iCCP`` (ICC profile), ``pHYs`` (DPI), ``eXIf`` (EXIF), the
text chunks, ``IDAT``, ``IEND``. Modes: 8-bit ``L LA RGB RGBA`` and 16-bit ``I;16`` (gray),
``LA;16``, ``RGB;16``, ``RGBA;16`` (uint16 values in native order). This module imports no PIL.
"""

from __future__ import annotations

import importlib
import os
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import ModuleType
from typing import Any, BinaryIO

import numpy as np

from .threads import OrderedJobs

__all__ = [
    "FILTER_STRATEGIES",
    "PNG_MODES",
    "UP_WEIGHT",
    "DeflateEngine",
    "PngWriter",
    "adler32_combine",
    "deflate_engine",
    "filter_rows",
    "write_png",
]

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

#: Filter type numbers of ISO/IEC 15948, 9.2.
FILTER_TYPES = {"none": 0, "sub": 1, "up": 2, "average": 3, "paeth": 4}
#: ``filter_strategy`` values: per-row choices, then one filter on every row.
FILTER_STRATEGIES = ("adaptive", "minsum", *FILTER_TYPES)
#: Weight of the Up filter's sum of absolute values in the ``adaptive`` choice.
UP_WEIGHT = Fraction(2, 5)

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_WINDOW = 32 * 1024  # deflate's window: the dictionary each piece is primed with
_CHUNK_BYTES = 4 * 1024 * 1024  # uncompressed bytes per parallel piece
_IDAT_BYTES = 1 << 20  # PNG IDAT chunk size on disk
_BLOCK_BYTES = 192 * 1024  # rows filtered together, so the candidates stay in the CPU cache


def _chunk(kind: bytes, data: bytes | memoryview) -> bytes:
    crc = zlib.crc32(data, zlib.crc32(kind))
    return struct.pack(">I", len(data)) + kind + bytes(data) + struct.pack(">I", crc)


# --------------------------------------------------------------------------------------------
# Deflate engines


@dataclass(frozen=True)
class DeflateEngine:
    """A zlib-compatible deflate library and the level to ask it for."""

    name: str  #: ``"zlib-ng"``, ``"isal"`` or ``"zlib"``
    module: ModuleType
    level: int  #: the level passed to ``module.compressobj``


_ENGINE_MODULES = {"zlib-ng": "zlib_ng.zlib_ng", "isal": "isal.isal_zlib", "zlib": "zlib"}
_ENGINE_VARIABLE = "UPSAMP_DEFLATE"  # names the engine to use (tests and benchmarks)


def _load_engine(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(_ENGINE_MODULES[name])
    except ImportError:
        return None


def deflate_engine(level: int, name: str | None = None) -> DeflateEngine:
    """The engine for zlib level ``level`` (0-9): ``name`` if given (``"zlib-ng"``, ``"isal"``
    or ``"zlib"``; ValueError when it is not installed or cannot do that level), else
    ``$UPSAMP_DEFLATE`` if set, else the fastest installed one that compresses the level at
    least about as well as zlib does (see the module docstring)."""
    if not 0 <= level <= 9:
        raise ValueError(f"compress level must be 0-9, got {level}")
    name = name or os.environ.get(_ENGINE_VARIABLE, "").strip() or None
    if name is not None:
        if name not in _ENGINE_MODULES:
            raise ValueError(f"deflate engine must be one of {', '.join(_ENGINE_MODULES)}")
        module = _load_engine(name)
        if module is None:
            raise ValueError(f"deflate engine {name} is not installed")
        if name == "isal" and not 1 <= level <= 3:
            raise ValueError("the isal engine does levels 1-3 only")
        return DeflateEngine(name, module, _engine_level(name, level))
    order = ["isal", "zlib-ng", "zlib"] if 1 <= level <= 3 else ["zlib-ng", "zlib"]
    for candidate in order:
        module = _load_engine(candidate)
        if module is not None:
            return DeflateEngine(candidate, module, _engine_level(candidate, level))
    raise AssertionError("zlib is always importable")  # pragma: no cover


def _engine_level(name: str, level: int) -> int:
    if name == "isal":  # ISA-L's levels 1 and 2 both beat zlib's 1-3 in size here; 3 is slower
        return 1 if level <= 2 else 2
    if name == "zlib-ng" and level == 1:  # zlib-ng's level 1 is far weaker than zlib's
        return 2
    return level


# --------------------------------------------------------------------------------------------
# Filters


def filter_rows(
    rows: np.ndarray, above: np.ndarray | None, bpp: int, strategy: str = "adaptive"
) -> np.ndarray:
    """Filtered scanlines of ``rows`` (``(n, row_bytes)`` uint8, the bytes of n rows), each led
    by its filter-type byte: an ``(n, row_bytes + 1)`` uint8 array.

    ``above`` is the row before ``rows[0]`` (None: the first row of the image, zeros above);
    ``bpp`` the bytes per complete pixel (filters of ISO/IEC 15948, 9.2, with ``a`` the byte
    ``bpp`` to the left, ``b`` the byte above, ``c`` above-left, all modulo 256).
    ``strategy``: ``"adaptive"`` (per row, the smallest sum of |signed byte| over the five
    filters with Up's sum weighted by :data:`UP_WEIGHT`), ``"minsum"`` (the same, unweighted)
    or one filter name for every row.

    >>> filter_rows(np.array([[10, 200], [5, 7]], dtype=np.uint8), None, 1, "up").tolist()
    [[2, 10, 200], [2, 251, 63]]
    """
    if strategy not in FILTER_STRATEGIES:
        raise ValueError(f"filter strategy must be one of {', '.join(FILTER_STRATEGIES)}")
    rows = np.asarray(rows, dtype=np.uint8)
    n, width = rows.shape
    out = np.empty((n, width + 1), dtype=np.uint8)
    if n == 0:
        return out
    top = np.zeros(width, np.uint8) if above is None else np.asarray(above, np.uint8)
    block = max(1, _BLOCK_BYTES // max(width, 1))
    for start in range(0, n, block):
        stop = min(start + block, n)
        prev = rows[start - 1 : stop - 1] if start > 0 else np.vstack([top, rows[: stop - 1]])
        _filter_block(rows[start:stop], prev, bpp, strategy, out[start:stop])
    return out


def _filter_block(rows: np.ndarray, above: np.ndarray, bpp: int, strategy: str, out: np.ndarray):
    n, width = rows.shape
    if strategy in FILTER_TYPES:
        kind = FILTER_TYPES[strategy]
        out[:, 0] = kind
        _apply_filter(kind, rows, above, bpp, out[:, 1:])
        return
    candidates = np.empty((5, n, width), dtype=np.uint8)
    for kind in range(5):
        _apply_filter(kind, rows, above, bpp, candidates[kind])
    sums = np.empty((5, n), dtype=np.uint64)
    magnitude = np.empty((n, width), dtype=np.uint8)
    total = np.uint32 if 255 * width < 2**32 else np.uint64
    for kind in range(5):
        np.abs(candidates[kind].view(np.int8), out=magnitude.view(np.int8))  # |-128| -> 128
        sums[kind] = magnitude.sum(axis=1, dtype=total)
    if strategy == "adaptive":  # integer weights, so the choice is exact and portable
        sums *= UP_WEIGHT.denominator
        sums[FILTER_TYPES["up"]] //= UP_WEIGHT.denominator
        sums[FILTER_TYPES["up"]] *= UP_WEIGHT.numerator
    choice = sums.argmin(axis=0)  # ties: the lower filter type, as libpng
    out[:, 0] = choice
    out[:, 1:] = candidates[choice, np.arange(n)]


def _apply_filter(kind: int, x: np.ndarray, b: np.ndarray, bpp: int, out: np.ndarray) -> None:
    """``out = Filt(x)`` for filter type ``kind`` on rows ``x`` with rows above ``b``."""
    if kind == 0:
        out[...] = x
    elif kind == 1:
        out[:, :bpp] = x[:, :bpp]
        np.subtract(x[:, bpp:], x[:, :-bpp], out=out[:, bpp:])
    elif kind == 2:
        np.subtract(x, b, out=out)
    elif kind == 3:
        left, up = x[:, :-bpp], b[:, bpp:]
        mean = np.bitwise_and(left, up)  # floor((a + b) / 2) without leaving 8 bits
        mean &= 1
        mean += left >> 1
        mean += up >> 1
        np.subtract(x[:, bpp:], mean, out=out[:, bpp:])
        np.subtract(x[:, :bpp], b[:, :bpp] >> 1, out=out[:, :bpp])
    else:
        np.subtract(x[:, :bpp], b[:, :bpp], out=out[:, :bpp])  # a = c = 0: predictor b
        np.subtract(
            x[:, bpp:], _paeth_predictor(x[:, :-bpp], b[:, bpp:], b[:, :-bpp]), out=out[:, bpp:]
        )


def _paeth_predictor(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Paeth's predictor in 8-bit arithmetic.

    With ``pa = |b - c|``, ``pb = |a - c|`` and ``pc = |(a - c) + (b - c)|``, the predictor is
    ``a`` if ``pa <= pb and pa <= pc``, else ``b`` if ``pb <= pc``, else ``c``. When ``a - c``
    and ``b - c`` do not have opposite signs, ``pc = pa + pb`` and ``c`` is never chosen;
    otherwise ``pc = |pa - pb|`` and ``c`` is chosen exactly when ``min(pa, pb) > |pa - pb|``.
    """
    pa = np.maximum(b, c)
    pa -= np.minimum(b, c)
    pb = np.maximum(a, c)
    pb -= np.minimum(a, c)
    a_first = _mask(np.less_equal(pa, pb))
    low = np.minimum(pa, pb)
    high = np.maximum(pa, pb, out=pa)
    high -= low
    take_c = _mask(np.greater(low, high))
    take_c &= _mask(np.greater_equal(a, c) != np.greater_equal(b, c))
    # Opposite signs need both differences non-zero, which low > high (>= 0) implies.
    # Selections as bit masks (x ^ ((x ^ y) & mask)): numpy's where is several times slower.
    predictor = np.bitwise_xor(a, b)
    predictor &= a_first
    predictor ^= b
    c_or_not = np.bitwise_xor(predictor, c)
    c_or_not &= take_c
    predictor ^= c_or_not
    return predictor


def _mask(condition: np.ndarray) -> np.ndarray:
    """0xFF where ``condition`` holds, else 0 (uint8)."""
    bits = condition.view(np.uint8)
    return np.negative(bits, out=bits)


# --------------------------------------------------------------------------------------------
# Adler-32 and the zlib wrapper


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


def _zlib_header(level: int) -> bytes:
    """CMF/FLG bytes: deflate with a 32 KiB window, the level hint, and the FCHECK bits."""
    cmf = 0x78
    flevel = 0 if level < 2 else 1 if level < 6 else 2 if level == 6 else 3
    flg = flevel << 6
    flg += 31 - ((cmf << 8) + flg) % 31
    return bytes([cmf, flg])


def _deflate_piece(
    engine: DeflateEngine,
    before: np.ndarray,
    rows: np.ndarray,
    at_top: bool,
    bpp: int,
    strategy: str,
    last: bool,
) -> tuple[bytes, int, int]:
    """Filter and deflate one piece of rows as part of a raw deflate stream.

    ``before`` holds the raw rows just above the piece (empty at the top of the image);
    ``at_top``: ``before`` starts at the image's first row. The filtered bytes of ``before``
    (at most the last 32 KiB) prime the compressor, as they precede the piece in the stream.
    Returns ``(deflated bytes, adler32 of the filtered piece, its length)``."""
    above = before[-1] if len(before) else None
    data = filter_rows(rows, above, bpp, strategy)
    body = memoryview(data).cast("B")
    module = engine.module
    primer = b""
    if len(before) > (0 if at_top else 1):
        start = None if at_top else before[0]
        primed = filter_rows(before if at_top else before[1:], start, bpp, strategy)
        primer = primed.tobytes()[-_WINDOW:]
    if primer:
        compressor = module.compressobj(engine.level, module.DEFLATED, -15, zdict=primer)
    else:
        compressor = module.compressobj(engine.level, module.DEFLATED, -15)
    deflated = compressor.compress(body)
    deflated += compressor.flush(module.Z_FINISH if last else module.Z_FULL_FLUSH)
    return deflated, zlib.adler32(body), len(body)


# --------------------------------------------------------------------------------------------
# The writer


class PngWriter:
    """Write a PNG from rows given band by band.

    ``PngWriter(target, width, height, mode, ...)`` writes the header chunks at once;
    :meth:`write_rows` takes the next rows (``(n, width)`` or ``(n, width, channels)``, uint8
    for the 8-bit modes, uint16 for the 16-bit ones); :meth:`close` checks that ``height`` rows
    came and ends the file. Rows are copied into pieces of a fixed number of rows (so the bytes
    do not depend on how they were cut into bands), and at most ``2 * threads`` pieces are in
    flight; memory stays a few pieces, whatever the image size.

    ``target`` is a path (opened, written and closed here) or a binary file object (left open).
    Use it as a context manager: leaving the block on an exception calls :meth:`abort`, which
    stops the threads and leaves an unfinished file (the caller writes to a temporary file
    and renames it when done).

    >>> import io
    >>> buf = io.BytesIO()
    >>> with PngWriter(buf, 3, 2, "L") as png:
    ...     png.write_rows(np.zeros((1, 3), np.uint8))
    ...     png.write_rows(np.ones((1, 3), np.uint8))
    >>> buf.getvalue()[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
    """

    def __init__(
        self,
        target: str | os.PathLike[str] | BinaryIO,
        width: int,
        height: int,
        mode: str,
        *,
        compress_level: int = 6,
        icc_profile: bytes | None = None,
        dpi: tuple[float, float] | None = None,
        exif: bytes | None = None,
        text: Sequence[tuple[str, str]] | dict[str, str] | None = None,
        threads: int = 1,
        filter_strategy: str = "adaptive",
        engine: str | None = None,
    ) -> None:
        if mode not in PNG_MODES:
            raise ValueError(f"PNG mode must be one of {', '.join(PNG_MODES)}, got {mode!r}")
        if filter_strategy not in FILTER_STRATEGIES:
            raise ValueError(f"filter strategy must be one of {', '.join(FILTER_STRATEGIES)}")
        if not (0 < width < 2**31 and 0 < height < 2**31):
            raise ValueError(f"PNG size must be 1 to 2**31-1 pixels a side, got {width}×{height}")
        colour_type, depth, channels = PNG_MODES[mode]
        self.width, self.height, self.mode = int(width), int(height), mode
        self._channels = channels
        self._dtype = np.dtype(np.uint16 if depth == 16 else np.uint8)
        self._bpp = channels * depth // 8
        self._row_bytes = self.width * self._bpp
        self._engine = deflate_engine(compress_level, engine)
        self._strategy = filter_strategy
        self._piece_rows = max(1, _CHUNK_BYTES // (self._row_bytes + 1))
        self._context_rows = -(-_WINDOW // (self._row_bytes + 1)) + 1  # primer rows + one above
        self._owns_file = not hasattr(target, "write")
        self._fh: BinaryIO = open(target, "wb") if self._owns_file else target  # type: ignore[arg-type]
        self._jobs = OrderedJobs(threads, self._emit)
        self._buffer = np.empty((self._piece_rows, self._row_bytes), dtype=np.uint8)
        self._filled = 0  # rows in the buffer
        self._done = 0  # rows handed to pieces
        self._context = np.empty((0, self._row_bytes), dtype=np.uint8)  # raw rows above
        self._checksum = 1  # Adler-32 of nothing
        self._closed = False
        try:
            self._write_header(colour_type, depth, icc_profile, dpi, exif, text)
        except BaseException:
            self.abort()
            raise

    # -- header ------------------------------------------------------------------------------

    def _write_header(self, colour_type, depth, icc_profile, dpi, exif, text) -> None:
        fh = self._fh
        fh.write(_SIGNATURE)
        header = struct.pack(">IIBBBBB", self.width, self.height, depth, colour_type, 0, 0, 0)
        fh.write(_chunk(b"IHDR", header))
        if icc_profile:
            fh.write(_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc_profile)))
        if dpi:
            per_metre = [max(1, int(round(float(v) / 0.0254))) for v in dpi]
            fh.write(_chunk(b"pHYs", struct.pack(">IIB", per_metre[0], per_metre[1], 1)))
        if exif:
            fh.write(_chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\x00\x00") else exif))
        items = text.items() if isinstance(text, dict) else (text or ())
        for key, value in items:
            fh.write(_text_chunk(key, value))
        fh.write(_chunk(b"IDAT", _zlib_header(self._engine.level)))

    # -- rows --------------------------------------------------------------------------------

    @property
    def rows_written(self) -> int:
        """Rows received so far."""
        return self._done + self._filled

    def write_rows(self, rows: np.ndarray) -> None:
        """Append ``rows``: ``(n, width)`` or ``(n, width, channels)`` values of this mode's
        dtype. The array may be reused by the caller as soon as this returns."""
        if self._closed:
            raise ValueError("PNG writer is closed")
        arr = np.asarray(rows)
        expected = (self.width,) if self._channels == 1 else (self.width, self._channels)
        if arr.ndim == 3 and self._channels == 1 and arr.shape[2] == 1:
            arr = arr[:, :, 0]
        if arr.shape[1:] != expected:
            raise ValueError(
                f"mode {self.mode} needs rows of shape (n, {', '.join(map(str, expected))}), "
                f"got {arr.shape}"
            )
        if arr.dtype != self._dtype:
            raise ValueError(f"mode {self.mode} needs {self._dtype} values, got {arr.dtype}")
        if self.rows_written + arr.shape[0] > self.height:
            raise ValueError(
                f"PNG of {self.height} rows: {self.rows_written + arr.shape[0]} rows given"
            )
        flat = arr.reshape(arr.shape[0], -1)
        start = 0
        while start < flat.shape[0]:
            take = min(self._piece_rows - self._filled, flat.shape[0] - start)
            target = self._buffer[self._filled : self._filled + take]
            if self._dtype.itemsize == 2:  # PNG stores 16-bit samples big-endian
                target.view(">u2")[...] = flat[start : start + take]
            else:
                target[...] = flat[start : start + take]
            self._filled += take
            start += take
            if self._filled == self._piece_rows:
                self._submit()

    def _submit(self) -> None:
        piece = self._buffer[: self._filled]
        last = self._done + self._filled == self.height
        job = (self._engine, self._context, piece, self._done - len(self._context) == 0)
        job += (self._bpp, self._strategy, last)
        self._done += self._filled
        keep = min(self._context_rows, self._done)
        if len(piece) >= keep:
            self._context = piece[len(piece) - keep :]
        else:
            self._context = np.concatenate([self._context, piece])[-keep:]
        self._buffer = np.empty_like(self._buffer)
        self._filled = 0
        self._jobs.submit(_deflate_piece, *job)

    def _emit(self, piece: tuple[bytes, int, int]) -> None:
        body, adler, length = piece
        view = memoryview(body)
        for start in range(0, len(body), _IDAT_BYTES):
            self._fh.write(_chunk(b"IDAT", view[start : start + _IDAT_BYTES]))
        self._checksum = adler32_combine(self._checksum, adler, length)

    def close(self) -> None:
        """Deflate the last rows and end the file; ValueError if fewer than ``height`` rows
        were given (the file is then left unfinished)."""
        if self._closed:
            return
        try:
            if self.rows_written != self.height:
                raise ValueError(f"PNG of {self.height} rows: only {self.rows_written} given")
            if self._filled:
                self._submit()
            self._jobs.drain()
            self._fh.write(_chunk(b"IDAT", struct.pack(">I", self._checksum)))
            self._fh.write(_chunk(b"IEND", b""))
            self._fh.flush()
        except BaseException:
            self.abort()
            raise
        self._finish()

    def abort(self) -> None:
        """Stop without ending the file (its content is then not a valid PNG)."""
        self._jobs.cancel()
        self._finish()

    def _finish(self) -> None:
        self._closed = True
        self._jobs.shutdown()
        if self._owns_file:
            self._fh.close()

    def __enter__(self) -> PngWriter:
        return self

    def __exit__(self, kind: Any, value: Any, traceback: Any) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


def _text_chunk(key: str, value: str) -> bytes:
    """``tEXt`` when key and value are Latin-1, else ``iTXt`` (UTF-8); keys are 1-79 bytes."""
    if not 1 <= len(key) <= 79 or "\x00" in key or "\x00" in value:
        raise ValueError(f"PNG text key must be 1-79 characters without NUL, got {key!r}")
    try:
        return _chunk(b"tEXt", key.encode("latin-1") + b"\x00" + value.encode("latin-1"))
    except UnicodeEncodeError:
        body = key.encode("utf-8") + b"\x00\x00\x00\x00\x00" + value.encode("utf-8")
        return _chunk(b"iTXt", body)


def write_png(
    target: str | os.PathLike[str] | BinaryIO | Path,
    pixels: np.ndarray,
    mode: str,
    *,
    compress_level: int = 6,
    icc_profile: bytes | None = None,
    dpi: tuple[float, float] | None = None,
    exif: bytes | None = None,
    text: Sequence[tuple[str, str]] | dict[str, str] | None = None,
    threads: int = 1,
    filter_strategy: str = "adaptive",
    engine: str | None = None,
) -> None:
    """Write ``pixels`` (``(H, W)`` or ``(H, W, C)``; uint8, or uint16 for the 16-bit modes)
    as a PNG: the same bytes as :class:`PngWriter` given the rows in any bands."""
    pixels = np.asarray(pixels)
    _, _, channels = PNG_MODES[mode] if mode in PNG_MODES else (0, 0, 0)
    if mode in PNG_MODES and (pixels.shape[2] if pixels.ndim == 3 else 1) != channels:
        raise ValueError(f"mode {mode} needs {channels} channels, got shape {pixels.shape}")
    if pixels.ndim not in (2, 3):
        raise ValueError(f"pixels must be (H, W) or (H, W, C), got shape {pixels.shape}")
    height, width = pixels.shape[:2]
    with PngWriter(
        target,
        width,
        height,
        mode,
        compress_level=compress_level,
        icc_profile=icc_profile,
        dpi=dpi,
        exif=exif,
        text=text,
        threads=threads,
        filter_strategy=filter_strategy,
        engine=engine,
    ) as writer:
        writer.write_rows(pixels)
