"""The parallel PNG encoder, checked by decoding its files with Pillow and zlib."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms

from upsamp import png


def _encode(pixels: np.ndarray, mode: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    png.write_png(buf, pixels, mode, **kwargs)
    return buf.getvalue()


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    out, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body)
        out.append((kind, body))
        pos += 12 + length
    return out


RNG = np.random.default_rng(7)
CASES = {
    "L": RNG.integers(0, 256, (37, 53), dtype=np.uint8),
    "LA": RNG.integers(0, 256, (37, 53, 2), dtype=np.uint8),
    "RGB": RNG.integers(0, 256, (37, 53, 3), dtype=np.uint8),
    "RGBA": RNG.integers(0, 256, (37, 53, 4), dtype=np.uint8),
    "I;16": RNG.integers(0, 65536, (37, 53), dtype=np.uint16),
}


@pytest.mark.parametrize("mode", list(CASES))
@pytest.mark.parametrize("level", [0, 1, 6, 9])
def test_pillow_decodes_exactly(mode, level):
    pixels = CASES[mode]
    decoded = Image.open(io.BytesIO(_encode(pixels, mode, compress_level=level)))
    expected_mode = {"I;16": ("I;16", "I")}.get(mode, (mode,))
    assert decoded.mode in expected_mode
    np.testing.assert_array_equal(np.asarray(decoded).astype(np.int64), pixels.astype(np.int64))


def test_many_pieces_on_two_threads_join_into_one_valid_stream(monkeypatch):
    monkeypatch.setattr(png, "_CHUNK_BYTES", 1000)  # many pieces, each primed by the last
    pixels = np.asarray(
        np.add.outer(np.arange(120), np.arange(90))[:, :, None] * [1, 2, 3] % 256, dtype=np.uint8
    )
    data = _encode(pixels, "RGB", threads=2)
    stream = b"".join(body for kind, body in _chunks(data) if kind == b"IDAT")
    raw = zlib.decompress(stream)  # checks the zlib header and the Adler-32 of the whole data
    assert raw == png.filtered_scanlines(pixels, "RGB")
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(data))), pixels)


def test_up_filter_definition():
    pixels = np.array([[10, 200], [5, 7]], dtype=np.uint8)
    rows = np.frombuffer(png.filtered_scanlines(pixels, "L"), dtype=np.uint8).reshape(2, 3)
    assert rows.tolist() == [[2, 10, 200], [2, (5 - 10) % 256, (7 - 200) % 256]]


def test_metadata_is_read_back_by_pillow():
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "upsamp test"  # Make
    data = _encode(CASES["RGB"], "RGB", icc_profile=icc, dpi=(300, 150), exif=exif.tobytes())
    decoded = Image.open(io.BytesIO(data))
    assert decoded.info["icc_profile"] == icc
    assert tuple(round(v) for v in decoded.info["dpi"]) == (300, 150)
    assert decoded.getexif()[0x010F] == "upsamp test"


def test_wrong_channel_count_is_refused():
    with pytest.raises(ValueError, match="needs 3 channels"):
        _encode(CASES["L"], "RGB")


@settings(max_examples=200, deadline=None)
@given(a=st.binary(max_size=300), b=st.binary(max_size=300), repeat=st.integers(1, 400))
def test_adler32_combine_equals_the_checksum_of_the_concatenation(a, b, repeat):
    b = b * repeat  # lengths past the modulus 65521 too
    combined = png.adler32_combine(zlib.adler32(a), zlib.adler32(b), len(b))
    assert combined == zlib.adler32(a + b)


def test_row_ranges_of_the_filter_join_into_the_whole():
    pixels = CASES["RGBA"]
    whole = png.filtered_scanlines(pixels, "RGBA")
    parts = b"".join(
        png.filtered_scanlines(pixels, "RGBA", a, min(a + 5, 37)) for a in range(0, 37, 5)
    )
    assert parts == whole


def test_one_row_pieces_with_one_thread(monkeypatch):
    monkeypatch.setattr(png, "_CHUNK_BYTES", 1)  # a piece per row
    pixels = CASES["I;16"]
    decoded = Image.open(io.BytesIO(_encode(pixels, "I;16", threads=1)))
    np.testing.assert_array_equal(np.asarray(decoded).astype(np.int64), pixels.astype(np.int64))
