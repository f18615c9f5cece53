"""The PNG reader against Pillow (8-bit), OpenCV and a plain zlib + loop reader (16-bit)."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, PngImagePlugin
from png_reference import chunks, decode_plain, filter_plain

from upsamp import png, png_read
from upsamp.errors import InputError, UpsampError

RNG = np.random.default_rng(11)


def _pillow_png(pixels: np.ndarray, **kwargs) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG", **kwargs)
    return buf.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _handmade(pixels: np.ndarray, colour: int, kinds: list[int], *, interlace: bool = False):
    """A PNG assembled here: the standard's filters as loops, zlib, chunks by hand."""
    h, w = pixels.shape[:2]
    depth = 16 if pixels.dtype == np.uint16 else 8
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    bpp = channels * depth // 8
    big = pixels.astype(">u2") if depth == 16 else pixels
    rows = np.ascontiguousarray(big).view(np.uint8).reshape(h, w * bpp)
    if interlace:
        raw = b""
        for n, (x0, y0, dx, dy) in enumerate(png_read._ADAM7):
            sub = rows.reshape(h, w, bpp)[y0::dy, x0::dx]
            if sub.size:  # an empty pass has no bytes at all
                sub = sub.reshape(sub.shape[0], -1)
                pass_kinds = [(n + i) % 5 for i in range(sub.shape[0])]
                raw += bytes(sum(filter_plain(sub.tolist(), pass_kinds, bpp), []))
    else:
        raw = bytes(sum(filter_plain(rows.tolist(), kinds, bpp), []))
    header = struct.pack(">IIBBBBB", w, h, depth, colour, 0, 0, int(interlace))
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"gAMA", struct.pack(">I", 45455))
        + _chunk(b"IDAT", zlib.compress(raw)[:7])  # the stream split over two IDAT chunks
        + _chunk(b"IDAT", zlib.compress(raw)[7:])
        + _chunk(b"tEXt", b"Comment\x00after the data")
        + _chunk(b"IEND", b"")
    )


SIXTEEN = {
    2: RNG.integers(0, 65536, (13, 17, 3), dtype=np.uint16),
    6: RNG.integers(0, 65536, (13, 17, 4), dtype=np.uint16),
    0: RNG.integers(0, 65536, (13, 17), dtype=np.uint16),
    4: RNG.integers(0, 65536, (13, 17, 2), dtype=np.uint16),
}
EIGHT = {
    2: RNG.integers(0, 256, (13, 17, 3), dtype=np.uint8),
    6: RNG.integers(0, 256, (13, 17, 4), dtype=np.uint8),
    0: RNG.integers(0, 256, (13, 17), dtype=np.uint8),
    4: RNG.integers(0, 256, (13, 17, 2), dtype=np.uint8),
}
ALL_FILTERS = [0, 1, 2, 3, 4, 4, 3, 2, 1, 0, 4, 2, 3]


@pytest.mark.parametrize("colour", [0, 2, 4, 6])
@pytest.mark.parametrize("depth", [8, 16])
@pytest.mark.parametrize("interlace", [False, True])
def test_every_colour_type_depth_and_filter_against_the_plain_reader(colour, depth, interlace):
    pixels = (SIXTEEN if depth == 16 else EIGHT)[colour]
    data = _handmade(pixels, colour, ALL_FILTERS, interlace=interlace)
    got, info = png_read.read_png(data)
    assert got.dtype == pixels.dtype and info.interlaced == interlace
    np.testing.assert_array_equal(got, pixels)
    if not interlace:
        np.testing.assert_array_equal(decode_plain(data), pixels)  # the reference agrees
    assert info.chunks[b"gAMA"] == [struct.pack(">I", 45455)]
    assert info.chunks[b"tEXt"] == [b"Comment\x00after the data"]  # read after the rows


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
@pytest.mark.parametrize("optimize", [False, True])
def test_eight_bit_files_written_by_pillow(mode, optimize):
    channels = len(mode)
    shape = (40, 33) if channels == 1 else (40, 33, channels)
    ramp = np.add.outer(np.arange(40), np.arange(33) * 2).reshape(40, 33, *([1] * (channels > 1)))
    pixels = ((ramp + RNG.integers(0, 9, shape)) % 256).astype(np.uint8)
    data = _pillow_png(pixels, optimize=optimize)
    got, info = png_read.read_png(data)
    assert info.mode == mode
    np.testing.assert_array_equal(got, np.asarray(Image.open(io.BytesIO(data))))


def test_interlaced_odd_sizes_with_empty_passes():
    for h, w in [(1, 1), (3, 2), (9, 11), (17, 5), (2, 9)]:
        pixels = RNG.integers(0, 65536, (h, w, 3), dtype=np.uint16)
        data = _handmade(pixels, 2, [], interlace=True)
        assert chunks(data)[0][1][-1] == 1  # really interlaced
        np.testing.assert_array_equal(png_read.read_png(data)[0], pixels)


@pytest.mark.parametrize("colour", [2, 6])
def test_sixteen_bit_colour_against_opencv(colour, tmp_path):
    cv2 = pytest.importorskip("cv2")
    pixels = SIXTEEN[colour]
    bgr = pixels[:, :, [2, 1, 0, 3][: pixels.shape[2]]]
    path = tmp_path / "cv.png"
    assert cv2.imwrite(str(path), bgr)  # written by OpenCV (libpng)
    got, info = png_read.read_png(path)
    assert info.mode == ("RGB;16" if colour == 2 else "RGBA;16")
    np.testing.assert_array_equal(got, pixels)


def test_metadata_chunks_come_back_raw():
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "someone")
    info.add_itxt("Title", "雪", zip=True)
    data = _pillow_png(EIGHT[2], pnginfo=info, dpi=(300, 300), icc_profile=b"fake profile")
    _, got = png_read.read_png(data)
    assert got.chunks[b"tEXt"] == [b"Author\x00someone"]
    assert len(got.chunks[b"iTXt"]) == 1 and got.chunks[b"iTXt"][0].startswith(b"Title\x00\x01")
    assert b"iCCP" in got.chunks and b"pHYs" in got.chunks


@pytest.mark.parametrize("band_rows", [1, 4, 100])
def test_bands_join_into_the_whole_image(band_rows, monkeypatch):
    pixels = SIXTEEN[2]
    data = _handmade(pixels, 2, ALL_FILTERS)
    with png_read.PngReader(io.BytesIO(data), band_rows=band_rows) as reader:
        bands = list(reader)
    assert all(len(b) <= band_rows for b in bands)
    np.testing.assert_array_equal(np.concatenate(bands), pixels)


def test_own_encoder_round_trip_in_bands_with_tiny_reads(monkeypatch):
    monkeypatch.setattr(png_read, "_READ_BYTES", 5)  # the compressed data arrives in crumbs
    monkeypatch.setattr(png, "_CHUNK_BYTES", 300)
    pixels = RNG.integers(0, 65536, (30, 20, 4), dtype=np.uint16)
    buf = io.BytesIO()
    png.write_png(buf, pixels, "RGBA;16", threads=2)
    with png_read.PngReader(buf.getvalue(), band_rows=7) as reader:
        np.testing.assert_array_equal(np.concatenate(list(reader)), pixels)
        assert reader.read_rows(5).shape == (0, 20, 4)


# -- refusals ----------------------------------------------------------------------------------


def _one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text and isinstance(exc.value, InputError | UpsampError)
    return text


def test_too_many_pixels_is_refused_before_reading_the_data():
    header = struct.pack(">IIBBBBB", 100000, 100000, 16, 6, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)  # no image data at all
    with pytest.raises(png_read.PngFormatError) as exc:
        png_read.read_png(data, max_pixels=10**9)
    assert "10000000000 pixels is more than the limit of 1000000000" in _one_line(exc)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: b"GIF89a" + d[6:], "not a PNG file"),
        (lambda d: d[:20], "truncated PNG"),
        (lambda d: d[:-30], "truncated PNG"),
        (lambda d: d[:30] + bytes([d[30] ^ 1]) + d[31:], "checksum mismatch in chunk IHDR"),
        (lambda d: d.replace(b"gAMA", b"gAMB"), "checksum mismatch in chunk gAMB"),
    ],
)
def test_broken_files_give_one_line(mutate, message):
    data = _handmade(EIGHT[2], 2, ALL_FILTERS)
    with pytest.raises(png_read.PngFormatError) as exc:
        png_read.read_png(mutate(data))
    assert message in _one_line(exc)


def test_corrupt_compressed_data_gives_one_line():
    raw = bytes([0] + [1] * 6) * 2
    body = bytearray(zlib.compress(raw))
    body[3] ^= 0xFF
    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", bytes(body))
    with pytest.raises(png_read.PngFormatError) as exc:
        png_read.read_png(data + _chunk(b"IEND", b""))
    assert "corrupt PNG" in _one_line(exc)


def test_bad_filter_type_and_short_data():
    header = struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 0)
    for raw, message in [(bytes([7, 1, 1, 0, 1, 1]), "filter type 7"), (b"\x00\x01", "too soon")]:
        data = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
        data += _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b"")
        with pytest.raises(png_read.PngFormatError) as exc:
            png_read.read_png(data)
        assert message in _one_line(exc)


def test_palette_and_low_bit_depths_are_refused(tmp_path):
    path = tmp_path / "p.png"
    Image.fromarray(EIGHT[2]).convert("P").save(path)
    with pytest.raises(png_read.PngFormatError, match="palette PNG"):
        png_read.read_png(path)
    Image.fromarray(EIGHT[0] > 128).save(path)
    with pytest.raises(png_read.PngFormatError, match="1-bit PNG"):
        png_read.read_png(path)


def test_missing_file_is_one_line(tmp_path):
    with pytest.raises(png_read.PngFormatError, match="cannot read"):
        png_read.read_png(tmp_path / "none.png")
