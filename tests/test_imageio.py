"""Tests of upsamp.imageio: loading, value conversion, saving and atomic writes.

Every image is generated in tmp_path with Pillow (or byte by byte where Pillow cannot write it).
"""

from __future__ import annotations

import os
import signal
import stat
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image, ImageCms

from upsamp import imageio
from upsamp.errors import InputError, OutputError, ParameterError
from upsamp.imageio import (
    LoadedImage,
    atomic_write,
    is_image_file,
    load_array,
    load_image,
    load_input,
    output_format,
    same_file,
    save_array,
    save_image,
    to_storage,
    value_range,
)

RNG = np.random.default_rng(20240601)
H, W = 5, 7


# ------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------


def _u8(*shape: int) -> np.ndarray:
    return RNG.integers(0, 256, size=shape, dtype=np.uint8)


def _icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _png_by_hand(values: np.ndarray, colour_type: int) -> bytes:
    """A 16-bit PNG built byte by byte; ``values`` is (H, W) or (H, W, C) uint16."""
    height, width = values.shape[:2]
    rows = values.astype(">u2").reshape(height, -1)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)  # filter type 0 on each row
    ihdr = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(raw))
        + _png_chunk(b"IEND", b"")
    )


def _tiff_rgb16_by_hand(values: np.ndarray) -> bytes:
    """An uncompressed little-endian 16-bit RGB TIFF built byte by byte."""
    height, width, _ = values.shape
    data = values.astype("<u2").tobytes()
    n_entries = 10
    ifd_size = 2 + 12 * n_entries + 4
    bits_offset = 8 + ifd_size
    data_offset = bits_offset + 6

    def short(tag: int, value: int) -> bytes:
        return struct.pack("<HHIHH", tag, 3, 1, value, 0)

    def long(tag: int, value: int) -> bytes:
        return struct.pack("<HHII", tag, 4, 1, value)

    entries = [
        long(256, width),
        long(257, height),
        struct.pack("<HHII", 258, 3, 3, bits_offset),  # BitsPerSample 16,16,16
        short(259, 1),  # no compression
        short(262, 2),  # RGB
        long(273, data_offset),
        short(277, 3),
        long(278, height),
        long(279, len(data)),
        short(284, 1),  # chunky
    ]
    ifd = struct.pack("<H", n_entries) + b"".join(entries) + struct.pack("<I", 0)
    return b"II" + struct.pack("<HI", 42, 8) + ifd + struct.pack("<HHH", 16, 16, 16) + data


def _one_line_naming(exc: pytest.ExceptionInfo[BaseException], path: Path) -> str:
    message = str(exc.value)
    assert "\n" not in message
    assert str(path) in message
    return message


def _reload(path: Path) -> LoadedImage:
    return load_image(path)


# ------------------------------------------------------------------------------------------
# loading: modes
# ------------------------------------------------------------------------------------------


def test_load_l_png(tmp_path: Path) -> None:
    arr = _u8(H, W)
    path = tmp_path / "l.png"
    Image.fromarray(arr).save(path)
    img = load_image(path)
    assert img.mode == "L" and img.source_mode == "L" and img.format == "PNG"
    assert img.pixels.dtype == np.uint8 and img.alpha is None and not img.has_alpha
    assert img.shape == (H, W) and img.path == path
    np.testing.assert_array_equal(img.pixels, arr)
    assert img.pixels.flags.writeable


def test_load_la_png_splits_alpha(tmp_path: Path) -> None:
    arr = _u8(H, W, 2)
    path = tmp_path / "la.png"
    Image.fromarray(arr).save(path)
    img = load_image(path)
    assert img.mode == "LA" and img.has_alpha
    assert img.pixels.shape == (H, W) and img.alpha is not None and img.alpha.shape == (H, W)
    assert img.pixels.dtype == np.uint8 and img.alpha.dtype == np.uint8
    np.testing.assert_array_equal(img.pixels, arr[..., 0])
    np.testing.assert_array_equal(img.alpha, arr[..., 1])


def test_load_rgb_png(tmp_path: Path) -> None:
    arr = _u8(H, W, 3)
    path = tmp_path / "rgb.png"
    Image.fromarray(arr).save(path)
    img = load_image(path)
    assert img.mode == "RGB" and img.alpha is None and img.shape == (H, W, 3)
    np.testing.assert_array_equal(img.pixels, arr)


def test_load_rgba_png_splits_alpha(tmp_path: Path) -> None:
    arr = _u8(H, W, 4)
    path = tmp_path / "rgba.png"
    Image.fromarray(arr).save(path)
    img = load_image(path)
    assert img.mode == "RGBA" and img.shape == (H, W, 3)
    assert img.alpha is not None
    np.testing.assert_array_equal(img.pixels, arr[..., :3])
    np.testing.assert_array_equal(img.alpha, arr[..., 3])


def _palette_image(transparent_index: int | None) -> tuple[Image.Image, np.ndarray, np.ndarray]:
    palette = _u8(4, 3)
    index = RNG.integers(0, 4, size=(H, W), dtype=np.uint8)
    im = Image.frombytes("P", (W, H), index.tobytes())
    im.putpalette(palette.ravel().tolist())
    if transparent_index is not None:
        im.info["transparency"] = transparent_index
    return im, palette, index


def test_load_p_without_transparency_gives_rgb(tmp_path: Path) -> None:
    im, palette, index = _palette_image(None)
    path = tmp_path / "p.png"
    im.save(path)
    img = load_image(path)
    assert img.source_mode == "P" and img.mode == "RGB" and img.alpha is None
    np.testing.assert_array_equal(img.pixels, palette[index])


def test_load_p_with_transparency_gives_rgba(tmp_path: Path) -> None:
    im, palette, index = _palette_image(2)
    path = tmp_path / "pt.png"
    im.save(path, transparency=2)
    img = load_image(path)
    assert img.source_mode == "P" and img.mode == "RGBA" and img.alpha is not None
    np.testing.assert_array_equal(img.pixels, palette[index])
    np.testing.assert_array_equal(img.alpha, np.where(index == 2, 0, 255))


def test_load_l_with_trns_colour_key_gives_la(tmp_path: Path) -> None:
    arr = np.array([[0, 10], [20, 10]], dtype=np.uint8)
    path = tmp_path / "key.png"
    Image.fromarray(arr).save(path, transparency=10)
    img = load_image(path)
    assert img.mode == "LA" and img.alpha is not None
    np.testing.assert_array_equal(img.pixels, arr)
    np.testing.assert_array_equal(img.alpha, [[255, 0], [255, 0]])


def test_load_bilevel_gives_l_0_255(tmp_path: Path) -> None:
    bits = RNG.integers(0, 2, size=(H, W)).astype(bool)
    path = tmp_path / "one.png"
    Image.fromarray(bits).save(path)
    img = load_image(path)
    assert img.source_mode == "1" and img.mode == "L" and img.pixels.dtype == np.uint8
    np.testing.assert_array_equal(img.pixels, np.where(bits, 255, 0))


def test_load_16bit_gray_png_keeps_values(tmp_path: Path) -> None:
    arr = RNG.integers(0, 65536, size=(H, W), dtype=np.uint16)
    arr[0, 0], arr[0, 1] = 0, 65535
    path = tmp_path / "g16.png"
    Image.fromarray(arr).save(path)
    img = load_image(path)
    assert img.mode == "I;16" and img.pixels.dtype == np.uint16
    np.testing.assert_array_equal(img.pixels, arr)


def test_load_hand_built_16bit_gray_png(tmp_path: Path) -> None:
    arr = np.array([[0, 1, 256], [40000, 65534, 65535]], dtype=np.uint16)
    path = tmp_path / "hand16.png"
    path.write_bytes(_png_by_hand(arr, colour_type=0))
    img = load_image(path)
    assert img.mode == "I;16"
    np.testing.assert_array_equal(img.pixels, arr)


def test_load_16bit_big_endian_tiff_gives_native_uint16(tmp_path: Path) -> None:
    arr = np.array([[1, 2], [300, 65535]], dtype=">u2")
    path = tmp_path / "be.tif"
    Image.frombytes("I;16B", (2, 2), arr.tobytes()).save(path)
    img = load_image(path)
    assert img.source_mode == "I;16B" and img.mode == "I;16"
    assert img.pixels.dtype == np.dtype(np.uint16)
    np.testing.assert_array_equal(img.pixels, arr.astype(np.uint16))


def test_load_int32_tiff(tmp_path: Path) -> None:
    arr = RNG.integers(-(2**31), 2**31 - 1, size=(H, W), dtype=np.int32)
    path = tmp_path / "i.tif"
    Image.fromarray(arr).save(path)
    img = load_image(path)
    assert img.mode == "I" and img.pixels.dtype == np.int32
    np.testing.assert_array_equal(img.pixels, arr)


def test_load_float_tiff(tmp_path: Path) -> None:
    arr = RNG.normal(size=(H, W)).astype(np.float32)
    path = tmp_path / "f.tif"
    Image.fromarray(arr).save(path)
    img = load_image(path)
    assert img.mode == "F" and img.pixels.dtype == np.float32
    np.testing.assert_array_equal(img.pixels, arr)


def test_load_cmyk_gives_rgb_and_drops_its_icc(tmp_path: Path) -> None:
    cmyk = _u8(H, W, 4)
    im = Image.frombytes("CMYK", (W, H), cmyk.tobytes())
    path = tmp_path / "cmyk.tif"
    im.save(path, icc_profile=b"not really a CMYK profile")
    img = load_image(path)
    assert img.source_mode == "CMYK" and img.mode == "RGB" and img.alpha is None
    np.testing.assert_array_equal(img.pixels, np.array(im.convert("RGB")))
    assert "icc_profile" not in img.info


def test_load_first_frame_of_animation(tmp_path: Path) -> None:
    frames = [Image.fromarray(np.full((3, 4), v, np.uint8)) for v in (10, 200)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    img = load_image(path)
    assert img.format == "GIF" and img.shape[:2] == (3, 4)
    np.testing.assert_array_equal(img.pixels, 10)


# ------------------------------------------------------------------------------------------
# loading: metadata
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("orientation", "k"), [(6, -1), (8, 1), (3, 2)])
def test_exif_orientation_applied_and_reset(tmp_path: Path, orientation: int, k: int) -> None:
    arr = _u8(H, W, 3)
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "TestCam"
    path = tmp_path / "rot.png"
    Image.fromarray(arr).save(path, exif=exif.tobytes())
    img = load_image(path)
    np.testing.assert_array_equal(img.pixels, np.rot90(arr, k))
    carried = Image.Exif()
    carried.load(img.info["exif"])
    assert carried[0x0112] == 1
    assert carried[0x010F] == "TestCam"


def test_exif_orientation_jpeg(tmp_path: Path) -> None:
    arr = _u8(8, 16, 3)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rot.jpg"
    Image.fromarray(arr).save(path, exif=exif.tobytes(), quality=95)
    with Image.open(path) as im:
        decoded = np.array(im)  # Pillow ignores the orientation
    img = load_image(path)
    assert img.shape == (16, 8, 3)
    np.testing.assert_array_equal(img.pixels, np.rot90(decoded, -1))


def test_exif_orientation_not_applied_twice_after_save(tmp_path: Path) -> None:
    arr = _u8(H, W)
    exif = Image.Exif()
    exif[0x0112] = 8
    src = tmp_path / "src.png"
    Image.fromarray(arr).save(src, exif=exif.tobytes())
    img = load_image(src)
    out = tmp_path / "out.png"
    save_image(out, img.pixels.astype(float), None, mode=img.mode, info=img.info)
    with Image.open(out) as saved:
        assert saved.getexif()[0x0112] == 1
    np.testing.assert_array_equal(load_image(out).pixels, np.rot90(arr, 1))


def test_orientation_swaps_dpi(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "dpi_rot.jpg"
    Image.fromarray(_u8(H, W)).save(path, exif=exif.tobytes(), dpi=(100, 200))
    assert load_image(path).info["dpi"] == (200.0, 100.0)


def test_icc_profile_kept_on_load(tmp_path: Path) -> None:
    icc = _icc()
    path = tmp_path / "icc.png"
    Image.fromarray(_u8(H, W, 3)).save(path, icc_profile=icc)
    assert load_image(path).info["icc_profile"] == icc


def test_no_metadata_gives_empty_info(tmp_path: Path) -> None:
    path = tmp_path / "plain.png"
    Image.fromarray(_u8(H, W)).save(path)
    assert load_image(path).info == {}


def test_dpi_carried_on_load(tmp_path: Path) -> None:
    path = tmp_path / "dpi.png"
    Image.fromarray(_u8(H, W)).save(path, dpi=(150, 300))
    xdpi, ydpi = load_image(path).info["dpi"]
    assert xdpi == pytest.approx(150, abs=0.1) and ydpi == pytest.approx(300, abs=0.1)


# ------------------------------------------------------------------------------------------
# loading: refusals and errors
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("colour_type", "channels"), [(2, 3), (6, 4), (4, 2)])
def test_16bit_colour_png_read_exactly(
    tmp_path: Path, colour_type: int, channels: int
) -> None:
    values = (np.arange(2 * 3 * channels, dtype=np.uint64).reshape(2, 3, channels) * 2741 + 7)
    values = (values % 65536).astype(np.uint16)
    path = tmp_path / "deep.png"
    path.write_bytes(_png_by_hand(values, colour_type))
    img = load_image(path)
    assert img.pixels.dtype == np.uint16
    assert (img.alpha is not None) == (channels in (2, 4))
    if img.alpha is not None:
        assert img.alpha.dtype == np.uint16
        np.testing.assert_array_equal(img.alpha, values[:, :, -1])
    colour = values[:, :, :-1] if channels in (2, 4) else values
    np.testing.assert_array_equal(img.pixels, colour[:, :, 0] if channels == 2 else colour)


def test_16bit_rgb_tiff_read_exactly(tmp_path: Path) -> None:
    values = ((np.arange(2 * 3 * 3).reshape(2, 3, 3) * 3001 + 11) % 65536).astype(np.uint16)
    path = tmp_path / "rgb16.tif"
    path.write_bytes(_tiff_rgb16_by_hand(values))
    with Image.open(path) as im:  # the fixture really is one Pillow reads, as 8-bit RGB
        assert im.mode == "RGB"
    img = load_image(path)
    assert img.mode == "RGB;16" and img.pixels.dtype == np.uint16 and img.alpha is None
    np.testing.assert_array_equal(img.pixels, values)


def test_max_pixels_refuses_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    Image.fromarray(_u8(10, 20)).save(path)
    assert load_image(path, max_pixels=200).shape == (10, 20)
    with pytest.raises(InputError) as exc:
        load_image(path, max_pixels=199)
    message = _one_line_naming(exc, path)
    assert "20×10" in message and "--max-pixels" in message


def test_max_pixels_checked_from_header_only(tmp_path: Path) -> None:
    # A header that claims a huge size and no pixel data: refused by size, not as corrupt.
    path = tmp_path / "bomb.png"
    ihdr = struct.pack(">IIBBBBB", 50_000, 50_000, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IEND", b""))
    with pytest.raises(InputError, match="--max-pixels"):
        load_image(path, max_pixels=1_000_000)
    with pytest.raises(InputError, match="--max-pixels"):
        load_image(path)  # the default limit (2**28) applies


def test_default_limit_is_ours_and_pillows_is_restored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "small.png"
    Image.fromarray(_u8(10, 10)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 50)
    assert load_image(path).shape == (10, 10)  # Pillow's own limit plays no part
    monkeypatch.setattr(imageio, "DEFAULT_MAX_PIXELS", 50)
    with pytest.raises(InputError, match="--max-pixels"):
        load_image(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DecompressionBombWarning either
        assert load_image(path, max_pixels=1000).shape == (10, 10)
    assert Image.MAX_IMAGE_PIXELS == 50


def test_bad_max_pixels_is_a_parameter_error(tmp_path: Path) -> None:
    with pytest.raises(ParameterError):
        load_image(tmp_path / "x.png", max_pixels=0)


def test_truncated_png(tmp_path: Path) -> None:
    full = tmp_path / "full.png"
    Image.fromarray(_u8(64, 64, 3)).save(full)
    data = full.read_bytes()
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as exc:
        load_image(path)
    assert "truncated or corrupt" in _one_line_naming(exc, path)


def test_text_named_png_is_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("hello, I am not a picture\n")
    with pytest.raises(InputError) as exc:
        load_image(path)
    assert "not an image format upsamp reads" in _one_line_naming(exc, path)


def test_empty_file_is_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(InputError, match="not an image"):
        load_image(path)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.png"
    with pytest.raises(InputError) as exc:
        load_image(path)
    assert "no such file" in _one_line_naming(exc, path)


def test_directory(tmp_path: Path) -> None:
    path = tmp_path / "folder.png"
    path.mkdir()
    with pytest.raises(InputError) as exc:
        load_image(path)
    assert "directory" in _one_line_naming(exc, path)


def test_permission_denied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secret.png"
    Image.fromarray(_u8(H, W)).save(path)
    real_open = Path.open

    def refuse(self: Path, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(InputError) as exc:
        load_image(path)
    assert "permission denied" in _one_line_naming(exc, path)


# ------------------------------------------------------------------------------------------
# round trips through save_image
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "suffix", "pixels", "alpha"),
    [
        ("L", ".png", _u8(H, W), None),
        ("LA", ".png", _u8(H, W), _u8(H, W)),
        ("RGB", ".png", _u8(H, W, 3), None),
        ("RGBA", ".png", _u8(H, W, 3), _u8(H, W)),
        ("I;16", ".png", RNG.integers(0, 65536, (H, W), dtype=np.uint16), None),
        ("I;16", ".tiff", RNG.integers(0, 65536, (H, W), dtype=np.uint16), None),
        ("I", ".tif", RNG.integers(-(2**31), 2**31 - 1, (H, W), dtype=np.int32), None),
        ("F", ".tif", RNG.normal(size=(H, W)).astype(np.float32), None),
        ("RGB", ".bmp", _u8(H, W, 3), None),
        ("L", ".tif", _u8(H, W), None),
        ("RGBA", ".tif", _u8(H, W, 3), _u8(H, W)),
    ],
)
def test_save_image_round_trip(
    tmp_path: Path, mode: str, suffix: str, pixels: np.ndarray, alpha: np.ndarray | None
) -> None:
    path = tmp_path / f"out{suffix}"
    float_alpha = None if alpha is None else alpha.astype(np.float64)
    clipped = save_image(path, pixels.astype(np.float64), float_alpha, mode=mode)
    assert clipped == 0.0
    back = load_image(path)
    assert back.mode == mode
    assert back.pixels.dtype == pixels.dtype
    np.testing.assert_array_equal(back.pixels, pixels)
    if alpha is None:
        assert back.alpha is None
    else:
        assert back.alpha is not None
        np.testing.assert_array_equal(back.alpha, alpha)


def test_load_then_save_16bit_stays_16bit_png(tmp_path: Path) -> None:
    arr = np.array([[0, 1, 2], [1000, 50000, 65535]], dtype=np.uint16)
    src = tmp_path / "src.png"
    Image.fromarray(arr).save(src)
    img = load_image(src)
    out = tmp_path / "out.png"
    save_image(out, img.pixels.astype(np.float32), None, mode=img.mode)
    with Image.open(out) as im:
        assert im.mode == "I;16"
    np.testing.assert_array_equal(load_image(out).pixels, arr)


def test_save_image_promotes_mode_when_alpha_given(tmp_path: Path) -> None:
    path = tmp_path / "promoted.png"
    save_image(path, np.full((H, W, 3), 7.0), np.full((H, W), 9.0), mode="RGB")
    back = load_image(path)
    assert back.mode == "RGBA" and back.alpha is not None
    np.testing.assert_array_equal(back.alpha, 9)


def test_save_image_rounds_clips_and_reports(tmp_path: Path) -> None:
    pixels = np.array([[-10.0, 0.5, 1.5], [2.5, 254.6, 300.0]])
    path = tmp_path / "clip.png"
    clipped = save_image(path, pixels, None, mode="L")
    assert clipped == pytest.approx(2 / 6)
    np.testing.assert_array_equal(load_image(path).pixels, [[0, 0, 2], [2, 255, 255]])


def test_save_image_rescale(tmp_path: Path) -> None:
    pixels = np.array([[-255.0, 0.0], [255.0, 255.0]])
    path = tmp_path / "rescale.png"
    clipped = save_image(path, pixels, None, mode="L", range_mode="rescale")
    assert clipped == 0.0
    np.testing.assert_array_equal(load_image(path).pixels, [[0, 128], [255, 255]])


def test_save_image_alpha_clipped_but_not_counted(tmp_path: Path) -> None:
    path = tmp_path / "alpha.png"
    clipped = save_image(
        path, np.full((2, 2), 10.0), np.array([[-3.0, 100.0], [260.0, 255.0]]), mode="LA"
    )
    assert clipped == 0.0
    back = load_image(path)
    assert back.alpha is not None
    np.testing.assert_array_equal(back.alpha, [[0, 100], [255, 255]])


def test_save_image_rescale_leaves_alpha_alone(tmp_path: Path) -> None:
    path = tmp_path / "alpha_rescale.png"
    colour = np.array([[0.0, 510.0], [255.0, 0.0]])
    alpha = np.array([[255.0, 300.0], [128.0, 0.0]])
    assert save_image(path, colour, alpha, mode="LA", range_mode="rescale") == 0.0
    back = load_image(path)
    assert back.alpha is not None
    np.testing.assert_array_equal(back.pixels, [[0, 255], [128, 0]])
    np.testing.assert_array_equal(back.alpha, [[255, 255], [128, 0]])


def test_save_image_carries_icc_dpi_exif(tmp_path: Path) -> None:
    icc = _icc()
    exif = Image.Exif()
    exif[0x010F] = "TestCam"
    exif[0x0112] = 1
    info = {"icc_profile": icc, "dpi": (150.0, 300.0), "exif": exif.tobytes()}
    for suffix in (".png", ".jpg", ".tif"):
        path = tmp_path / f"meta{suffix}"
        save_image(path, np.full((H, W, 3), 100.0), None, mode="RGB", info=info)
        with Image.open(path) as im:
            assert im.info["icc_profile"] == icc, suffix
            xdpi, ydpi = im.info["dpi"]
            assert (xdpi, ydpi) == (pytest.approx(150, abs=0.5), pytest.approx(300, abs=0.5))
            assert im.getexif()[0x010F] == "TestCam", suffix
    webp = tmp_path / "meta.webp"
    save_image(webp, np.full((H, W, 3), 100.0), None, mode="RGB", info=info)
    with Image.open(webp) as im:
        assert im.info["icc_profile"] == icc


def test_icc_round_trip_through_load_and_save(tmp_path: Path) -> None:
    icc = _icc()
    src = tmp_path / "src.png"
    Image.fromarray(_u8(H, W, 3)).save(src, icc_profile=icc, dpi=(72, 72))
    img = load_image(src)
    out = tmp_path / "out.png"
    save_image(out, img.pixels.astype(float), None, mode=img.mode, info=img.info)
    assert load_image(out).info["icc_profile"] == icc


def test_save_image_jpeg_quality(tmp_path: Path) -> None:
    noise = _u8(32, 32, 3).astype(float)
    low, high = tmp_path / "low.jpg", tmp_path / "high.jpg"
    save_image(low, noise, None, mode="RGB", quality=10)
    save_image(high, noise, None, mode="RGB")  # default quality 95
    assert low.stat().st_size < high.stat().st_size
    assert load_image(high).mode == "RGB"


def test_save_image_png_compress_level(tmp_path: Path) -> None:
    flat = np.zeros((64, 64))
    raw, packed = tmp_path / "raw.png", tmp_path / "packed.png"
    save_image(raw, flat, None, mode="L", compress_level=0)
    save_image(packed, flat, None, mode="L", compress_level=9)
    assert packed.stat().st_size < raw.stat().st_size


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"quality": 0}, "quality"),
        ({"quality": 101}, "quality"),
        ({"compress_level": 10}, "compress_level"),
        ({"range_mode": "wrap"}, "range_mode"),
    ],
)
def test_save_image_bad_options(tmp_path: Path, kwargs: dict, match: str) -> None:
    path = tmp_path / "x.png"
    with pytest.raises(ParameterError, match=match):
        save_image(path, np.zeros((2, 2)), None, mode="L", **kwargs)
    assert not path.exists()


def test_save_image_shape_mismatch_is_a_parameter_error(tmp_path: Path) -> None:
    with pytest.raises(ParameterError):
        save_image(tmp_path / "a.png", np.zeros((2, 2)), None, mode="RGB")
    with pytest.raises(ParameterError):
        save_image(tmp_path / "b.png", np.zeros((2, 2)), np.zeros((3, 3)), mode="L")
    with pytest.raises(ParameterError):
        save_image(tmp_path / "c.png", np.zeros((2, 2)), None, mode="LA")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("suffix", "mode", "alpha", "match"),
    [
        (".jpg", "RGBA", True, "JPEG cannot store an alpha channel; use .png/.webp/.tiff/.gif"),
        (".jpeg", "LA", True, "JPEG cannot store an alpha channel"),
        (".bmp", "RGBA", True, "BMP cannot store an alpha channel"),
        (".jpg", "I;16", False, "JPEG cannot store 16-bit"),
        (".webp", "I;16", False, "WEBP cannot store 16-bit"),
        (".png", "I", False, "PNG cannot store 32-bit integer"),
        (".png", "F", False, "PNG cannot store floating-point"),
        (".jpg", "F", False, "JPEG cannot store floating-point"),
    ],
)
def test_save_image_refuses_what_the_format_cannot_hold(
    tmp_path: Path, suffix: str, mode: str, alpha: bool, match: str
) -> None:
    path = tmp_path / f"out{suffix}"
    colour = np.zeros((H, W, 3)) if mode.startswith("RGB") else np.zeros((H, W))
    with pytest.raises(OutputError, match=match) as exc:
        save_image(path, colour, np.zeros((H, W)) if alpha else None, mode=mode)
    _one_line_naming(exc, path)
    assert list(tmp_path.iterdir()) == []


def test_save_image_unknown_extension(tmp_path: Path) -> None:
    path = tmp_path / "out.xyz"
    with pytest.raises(OutputError, match=r"\.png") as exc:
        save_image(path, np.zeros((2, 2)), None, mode="L")
    _one_line_naming(exc, path)
    assert not path.exists()


def test_save_image_refuses_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "exists.png"
    path.write_bytes(b"original")
    with pytest.raises(OutputError, match="exists; use --overwrite"):
        save_image(path, np.zeros((2, 2)), None, mode="L")
    assert path.read_bytes() == b"original"
    save_image(path, np.zeros((2, 2)), None, mode="L", overwrite=True)
    assert load_image(path).shape == (2, 2)


def test_save_image_webp_and_gif(tmp_path: Path) -> None:
    colour = np.full((H, W, 3), 100.0)
    webp = tmp_path / "a.webp"
    alpha = np.tile(np.array([0.0, 255.0]), (H, 4))[:, :W]
    save_image(webp, colour, alpha, mode="RGBA")
    back = load_image(webp)
    assert back.mode == "RGBA" and back.alpha is not None
    np.testing.assert_array_equal(back.alpha, alpha)  # WebP keeps alpha losslessly
    gif = tmp_path / "g.gif"
    save_image(gif, np.full((H, W), 77.0), None, mode="L")
    np.testing.assert_array_equal(load_image(gif).pixels[..., 0], 77)


def test_save_image_npy_keeps_floats_and_appends_alpha(tmp_path: Path) -> None:
    colour = RNG.normal(size=(H, W, 3))
    alpha = RNG.normal(size=(H, W))
    path = tmp_path / "out.npy"
    assert save_image(path, colour, alpha, mode="RGBA") == 0.0
    stored = np.load(path)
    np.testing.assert_array_equal(stored[..., :3], colour)
    np.testing.assert_array_equal(stored[..., 3], alpha)


def test_save_image_leaves_no_temp_file(tmp_path: Path) -> None:
    save_image(tmp_path / "only.png", np.zeros((2, 2)), None, mode="L")
    assert [p.name for p in tmp_path.iterdir()] == ["only.png"]


# ------------------------------------------------------------------------------------------
# to_storage / value_range
# ------------------------------------------------------------------------------------------


def test_value_range() -> None:
    assert value_range("L") == (0, 255)
    assert value_range("LA") == (0, 255)
    assert value_range("RGB") == (0, 255)
    assert value_range("RGBA") == (0, 255)
    assert value_range("I;16") == (0, 65535)
    assert value_range("I;16B") == (0, 65535)
    assert value_range("I") == (-(2**31), 2**31 - 1)
    assert value_range("F") is None
    with pytest.raises(ParameterError):
        value_range("CMYK")


def test_to_storage_rounds_half_to_even() -> None:
    stored, clipped = to_storage(np.array([0.5, 1.5, 2.5, 3.5, -0.5, 254.5]), "L")
    assert stored.dtype == np.uint8
    np.testing.assert_array_equal(stored, [0, 2, 2, 4, 0, 254])
    assert clipped == 0.0


def test_to_storage_clips_and_counts() -> None:
    stored, clipped = to_storage(np.array([-1.0, 0.0, 100.2, 255.4, 255.6, 1e9]), "L")
    np.testing.assert_array_equal(stored, [0, 0, 100, 255, 255, 255])
    assert clipped == pytest.approx(3 / 6)


def test_to_storage_16bit_and_32bit() -> None:
    stored, clipped = to_storage(np.array([-5.0, 65535.4, 70000.0]), "I;16")
    assert stored.dtype == np.uint16
    np.testing.assert_array_equal(stored, [0, 65535, 65535])
    assert clipped == pytest.approx(2 / 3)
    stored, clipped = to_storage(np.array([-3e9, -7.5, 3e9]), "I")
    assert stored.dtype == np.int32
    np.testing.assert_array_equal(stored, [-(2**31), -8, 2**31 - 1])
    assert clipped == pytest.approx(2 / 3)


def test_to_storage_float_mode_passes_through() -> None:
    values = np.array([[-1e6, 0.25], [3.5, 1e6]])
    stored, clipped = to_storage(values, "F", range_mode="rescale")
    assert stored.dtype == np.float32 and clipped == 0.0
    np.testing.assert_array_equal(stored, values.astype(np.float32))


def test_to_storage_rescale() -> None:
    inside = np.array([0.0, 12.3, 255.0])
    stored, clipped = to_storage(inside, "L", range_mode="rescale")
    np.testing.assert_array_equal(stored, [0, 12, 255])  # nothing out of range: unchanged
    assert clipped == 0.0
    stored, clipped = to_storage(np.array([-255.0, 0.0, 255.0]), "L", range_mode="rescale")
    np.testing.assert_array_equal(stored, [0, 128, 255])  # [-255, 255] -> [0, 255]
    assert clipped == 0.0
    stored, _ = to_storage(np.array([0.0, 255.0, 510.0]), "L", range_mode="rescale")
    np.testing.assert_array_equal(stored, [0, 128, 255])  # [0, 510] -> [0, 255]


def test_to_storage_non_finite() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NaN is handled, not left to a cast that warns
        stored, clipped = to_storage(np.array([np.nan, np.inf, -np.inf, 7.0]), "L")
    np.testing.assert_array_equal(stored, [0, 255, 0, 7])
    assert clipped == pytest.approx(3 / 4)
    stored, clipped = to_storage(np.array([np.nan, 300.0, 0.0]), "L", range_mode="rescale")
    assert clipped == pytest.approx(1 / 3)
    np.testing.assert_array_equal(stored, [0, 255, 0])


def test_to_storage_bad_arguments() -> None:
    with pytest.raises(ParameterError):
        to_storage(np.zeros(3), "L", range_mode="wrap")
    with pytest.raises(ParameterError):
        to_storage(np.zeros(3), "P")


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=1, max_dims=3, max_side=6),
        elements=st.floats(-1e6, 1e6),
    ),
    st.sampled_from(["L", "I;16", "I"]),
)
def test_to_storage_clip_matches_rint_then_clip(values: np.ndarray, mode: str) -> None:
    lo, hi = value_range(mode)  # type: ignore[misc]
    stored, clipped = to_storage(values, mode)
    expected = np.clip(np.rint(values), lo, hi)
    np.testing.assert_array_equal(stored, expected)
    outside = np.count_nonzero((np.rint(values) < lo) | (np.rint(values) > hi))
    assert clipped == pytest.approx(outside / values.size)
    rescaled, zero = to_storage(values, mode, range_mode="rescale")
    assert zero == 0.0
    assert rescaled.min() >= lo and rescaled.max() <= hi


# ------------------------------------------------------------------------------------------
# output_format, same_file, is_image_file
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.png", "PNG"),
        ("a.PNG", "PNG"),
        ("a.jpg", "JPEG"),
        ("a.jpeg", "JPEG"),
        ("a.webp", "WEBP"),
        ("a.tif", "TIFF"),
        ("a.tiff", "TIFF"),
        ("a.bmp", "BMP"),
        ("a.gif", "GIF"),
        ("a.npy", "NPY"),
    ],
)
def test_output_format(name: str, fmt: str) -> None:
    assert output_format(name) == fmt


@pytest.mark.parametrize("name", ["a.xyz", "noext", "a.png.bak"])
def test_output_format_unknown(name: str) -> None:
    with pytest.raises(OutputError) as exc:
        output_format(name)
    message = str(exc.value)
    assert name in message and ".png" in message and ".tiff" in message and ".npy" in message


def test_same_file(tmp_path: Path) -> None:
    a = tmp_path / "a.png"
    a.write_bytes(b"x")
    b = tmp_path / "b.png"
    b.write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    assert same_file(a, tmp_path / "sub" / ".." / "a.png")
    assert not same_file(a, b)
    link = tmp_path / "link.png"
    link.symlink_to(a)
    assert same_file(a, link)
    hard = tmp_path / "hard.png"
    os.link(a, hard)
    assert same_file(str(hard), a)
    assert same_file(tmp_path / "new.png", tmp_path / "." / "new.png")
    assert not same_file(a, tmp_path / "missing.png")


def test_is_image_file_by_content(tmp_path: Path) -> None:
    png_as_dat = tmp_path / "picture.dat"
    Image.fromarray(_u8(H, W)).save(png_as_dat, format="PNG")
    assert is_image_file(png_as_dat) is True
    text_as_png = tmp_path / "text.png"
    text_as_png.write_text("not an image")
    assert is_image_file(text_as_png) is False
    assert is_image_file(tmp_path / "missing.png") is False
    assert is_image_file(tmp_path) is False


def test_is_image_file_ignores_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.png"
    Image.fromarray(_u8(30, 30)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10)  # Pillow alone would refuse it
    assert is_image_file(path) is True
    assert Image.MAX_IMAGE_PIXELS == 10


# ------------------------------------------------------------------------------------------
# atomic_write
# ------------------------------------------------------------------------------------------


def test_atomic_write_success_leaves_only_target(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    seen: list[Path] = []

    def write(tmp: Path) -> None:
        seen.append(tmp)
        assert tmp.parent == tmp_path and tmp.exists()
        assert tmp.name.startswith(".out.bin.") and tmp.name.endswith(".tmp")
        tmp.write_bytes(b"payload")

    atomic_write(target, write)
    assert target.read_bytes() == b"payload"
    assert list(tmp_path.iterdir()) == [target]
    assert len(seen) == 1 and not seen[0].exists()


@pytest.mark.parametrize(
    "name",
    [
        "a" * 240 + ".png",  # 244 bytes, one byte each
        "é" * 120 + ".png",  # 244 bytes, two bytes each: byte 200 starts a character
        "a" + "é" * 119 + "b" + ".png",  # 244 bytes: byte 200 is inside a character
        "x" + "漢" * 79 + "yy.png",  # 244 bytes, three bytes each
    ],
    ids=["ascii", "two-byte", "cut-inside", "three-byte"],
)
def test_atomic_write_accepts_a_244_byte_name(tmp_path: Path, name: str) -> None:
    """The longest names a file system takes (255 bytes) leave room for nothing more: the
    temporary name is cut by bytes (never inside a character) and stays unique."""
    assert len(os.fsencode(name)) == 244
    target = tmp_path / name
    seen: list[str] = []

    def write(tmp: Path) -> None:
        seen.append(tmp.name)
        tmp.write_bytes(b"payload")

    atomic_write(target, write)
    atomic_write(target, write, overwrite=True)
    assert target.read_bytes() == b"payload"
    assert list(tmp_path.iterdir()) == [target]
    assert len(set(seen)) == 2  # unique
    for tmp_name in seen:
        raw = os.fsencode(tmp_name)
        assert len(raw) <= 255
        raw.decode("utf-8")  # whole characters only
        pattern = imageio.temp_name_pattern(target, imageio.temp_run_token())
        assert pattern.fullmatch(tmp_name)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_right_after_the_temporary_file_is_created_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signum: int
) -> None:
    """A Ctrl-C or SIGTERM (which the commands turn into KeyboardInterrupt) that lands just
    after the temporary file exists, before anything is written, still removes it."""
    from upsamp.process import sigterm_as_keyboard_interrupt

    create = imageio._create_temp
    created: list[Path] = []

    def create_then_signal(path: Path, *args: object) -> Path:
        tmp = create(path, *args)
        created.append(tmp)
        os.kill(os.getpid(), signum)
        for _ in range(10_000):  # the handler runs at the next check, inside this function
            pass
        return tmp

    monkeypatch.setattr(imageio, "_create_temp", create_then_signal)
    writes: list[Path] = []
    with sigterm_as_keyboard_interrupt(), pytest.raises(KeyboardInterrupt):
        atomic_write(tmp_path / "out.bin", writes.append)
    assert len(created) == 1 and not writes  # the temporary file existed, nothing was written
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_uses_default_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        target = tmp_path / "perm.bin"
        atomic_write(target, lambda tmp: tmp.write_bytes(b"x"))
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_atomic_write_refuses_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"original")
    called = []
    with pytest.raises(OutputError) as exc:
        atomic_write(target, lambda tmp: called.append(tmp))
    assert "exists; use --overwrite" in _one_line_naming(exc, target)
    assert target.read_bytes() == b"original" and called == []
    assert list(tmp_path.iterdir()) == [target]


def test_atomic_write_overwrite_replaces_and_keeps_permissions(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"original")
    target.chmod(0o600)
    atomic_write(target, lambda tmp: tmp.write_bytes(b"new"), overwrite=True)
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert list(tmp_path.iterdir()) == [target]


def test_atomic_write_does_not_replace_a_file_created_meanwhile(tmp_path: Path) -> None:
    target = tmp_path / "race.bin"

    def write(tmp: Path) -> None:
        tmp.write_bytes(b"ours")
        target.write_bytes(b"theirs")  # someone else created the target in between

    with pytest.raises(OutputError, match="exists"):
        atomic_write(target, write)
    assert target.read_bytes() == b"theirs"
    assert list(tmp_path.iterdir()) == [target]


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_atomic_write_failure_leaves_nothing(tmp_path: Path, error: BaseException) -> None:
    target = tmp_path / "out.bin"

    def write(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise error

    with pytest.raises(type(error)):
        atomic_write(target, write)
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_failure_keeps_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"original")

    def write(tmp: Path) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, write, overwrite=True)
    assert target.read_bytes() == b"original"
    assert list(tmp_path.iterdir()) == [target]


def test_atomic_write_missing_folder(tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "out.png"
    with pytest.raises(OutputError) as exc:
        atomic_write(target, lambda tmp: tmp.write_bytes(b"x"))
    assert "does not exist" in _one_line_naming(exc, target)


def test_atomic_write_target_is_a_directory(tmp_path: Path) -> None:
    target = tmp_path / "dir.png"
    target.mkdir()
    with pytest.raises(OutputError, match="directory"):
        atomic_write(target, lambda tmp: tmp.write_bytes(b"x"), overwrite=True)


# ------------------------------------------------------------------------------------------
# arrays
# ------------------------------------------------------------------------------------------


def test_save_and_load_array_exact(tmp_path: Path) -> None:
    arr = RNG.normal(size=(H, W, 2))
    path = tmp_path / "a.npy"
    save_array(path, arr)
    back = load_array(path)
    assert back.dtype == np.float64
    np.testing.assert_array_equal(back, arr)
    assert list(tmp_path.iterdir()) == [path]
    with pytest.raises(OutputError, match="exists"):
        save_array(path, arr)
    save_array(path, arr * 2, overwrite=True)
    np.testing.assert_array_equal(load_array(path), arr * 2)


def test_save_array_needs_npy_name(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"\.npy"):
        save_array(tmp_path / "a.png", np.zeros((2, 2)))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("array", "match"),
    [
        (np.zeros(5), "2-D"),
        (np.zeros((2, 2, 2, 2)), "2-D"),
        (np.array([["a", "b"], ["c", "d"]]), "not numeric"),
        (np.zeros((2, 2), dtype=complex), "not numeric"),
        (np.zeros((0, 3)), "empty"),
    ],
)
def test_load_array_refuses(tmp_path: Path, array: np.ndarray, match: str) -> None:
    path = tmp_path / "bad.npy"
    np.save(path, array)
    with pytest.raises(InputError, match=match) as exc:
        load_array(path)
    _one_line_naming(exc, path)


def test_load_array_refuses_pickles(tmp_path: Path) -> None:
    path = tmp_path / "obj.npy"
    np.save(path, np.array([[1, "x"], [None, 2.0]], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match="not numeric"):
        load_array(path)


def test_load_array_file_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_array(tmp_path / "missing.npy")
    folder = tmp_path / "dir.npy"
    folder.mkdir()
    with pytest.raises(InputError, match="directory"):
        load_array(folder)
    other = tmp_path / "a.txt"
    other.write_text("1 2 3")
    with pytest.raises(InputError, match="not a .npy file"):
        load_array(other)
    text = tmp_path / "text.npy"
    text.write_text("1 2 3")
    with pytest.raises(InputError, match="not a valid .npy file"):
        load_array(text)
    good = tmp_path / "good.npy"
    np.save(good, np.zeros((50, 50)))
    cut = tmp_path / "cut.npy"
    cut.write_bytes(good.read_bytes()[:1000])
    with pytest.raises(InputError, match="truncated or corrupt") as exc:
        load_array(cut)
    _one_line_naming(exc, cut)


def test_load_array_max_pixels(tmp_path: Path) -> None:
    path = tmp_path / "a.npy"
    np.save(path, np.zeros((10, 20, 3)))
    assert load_array(path, max_pixels=200).shape == (10, 20, 3)
    with pytest.raises(InputError, match="--max-pixels"):
        load_array(path, max_pixels=199)


@pytest.mark.parametrize(
    ("array", "mode"),
    [
        (np.zeros((H, W)), "F"),
        (np.zeros((H, W, 3)), "F"),
        (np.zeros((H, W), np.uint8), "L"),
        (np.zeros((H, W, 3), np.uint8), "RGB"),
        (np.zeros((H, W, 4), np.uint8), "F"),
        (np.zeros((H, W), np.uint16), "I;16"),
    ],
)
def test_load_input_npy(tmp_path: Path, array: np.ndarray, mode: str) -> None:
    path = tmp_path / "in.NPY"
    with path.open("wb") as fh:
        np.save(fh, array)
    img = load_input(path)
    assert img.format == "NPY" and img.mode == mode and img.alpha is None
    assert img.source_mode == array.dtype.name and img.info == {}
    assert img.pixels.dtype == array.dtype
    np.testing.assert_array_equal(img.pixels, array)


@pytest.mark.parametrize(("shape", "mode"), [((H, W), "L"), ((H, W, 3), "RGB")])
def test_load_input_reads_a_bool_array_as_0_and_1(
    tmp_path: Path, shape: tuple[int, ...], mode: str
) -> None:
    """A bool array is an image of 0s and 1s (uint8), not a floating-point one."""
    array = np.random.default_rng(3).random(shape) > 0.5
    path = tmp_path / "mask.npy"
    np.save(path, array)
    img = load_input(path)
    assert img.mode == mode and img.source_mode == "bool"
    assert img.pixels.dtype == np.uint8
    np.testing.assert_array_equal(img.pixels, np.where(array, 1, 0))
    assert imageio.array_mode(array) == mode


def test_enlarge_bool_array_to_png(tmp_path: Path) -> None:
    """``enlarge mask.npy -o out.png`` writes the 0/1 values (it was refused as floating-point)."""
    import subprocess
    import sys

    array = np.array([[True, False], [False, True]])
    np.save(tmp_path / "mask.npy", array)
    out = tmp_path / "out.png"
    done = subprocess.run(
        [sys.executable, "-m", "upsamp", "enlarge", str(tmp_path / "mask.npy"), "-o", str(out)]
        + ["--method", "nearest", "--stride", "2"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert done.returncode == 0, done.stderr
    with Image.open(out) as im:
        assert im.mode == "L"
        expected = np.kron(array, np.ones((2, 2))).astype(np.uint8)
        np.testing.assert_array_equal(np.asarray(im), expected)


def test_load_input_npy_default_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "in.npy"
    np.save(path, np.zeros((10, 10)))
    monkeypatch.setattr(imageio, "DEFAULT_MAX_PIXELS", 50)
    with pytest.raises(InputError, match="--max-pixels"):
        load_input(path)
    assert load_input(path, max_pixels=100).shape == (10, 10)


def test_load_input_image(tmp_path: Path) -> None:
    path = tmp_path / "in.png"
    arr = _u8(H, W, 3)
    Image.fromarray(arr).save(path)
    img = load_input(path)
    assert img.format == "PNG" and img.mode == "RGB"
    np.testing.assert_array_equal(img.pixels, arr)


def test_save_float_npy_result_as_tiff(tmp_path: Path) -> None:
    src = tmp_path / "in.npy"
    arr = RNG.normal(size=(H, W))
    np.save(src, arr)
    img = load_input(src)
    out = tmp_path / "out.tif"
    save_image(out, img.pixels, None, mode=img.mode)
    np.testing.assert_array_equal(load_image(out).pixels, arr.astype(np.float32))
    with pytest.raises(OutputError, match="only be saved as .npy"):
        save_image(tmp_path / "c.tif", np.zeros((H, W, 2)), None, mode="F")


def test_module_is_the_pillow_boundary() -> None:
    source = Path(imageio.__file__).read_text()
    assert "print(" not in source
    assert "import click" not in source and "import rich" not in source


def test_save_failure_message_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_save(self: Image.Image, *args: object, **kwargs: object) -> None:
        raise OSError("first line\nsecond line")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    monkeypatch.setattr(imageio, "write_png", lambda *a, **k: broken_save(None))
    path = tmp_path / "out.png"
    with pytest.raises(OutputError) as exc:
        save_image(path, np.zeros((2, 2)), None, mode="L")
    assert "first line second line" in _one_line_naming(exc, path)
    assert list(tmp_path.iterdir()) == []


def test_decode_memory_error_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "mem.png"
    Image.fromarray(_u8(H, W)).save(path)

    def no_memory(self: Image.Image) -> None:
        raise MemoryError

    monkeypatch.setattr(Image.Image, "load", no_memory)
    monkeypatch.setattr("PIL.ImageFile.ImageFile.load", no_memory)
    with pytest.raises(InputError) as exc:
        load_image(path)
    assert "not enough memory" in _one_line_naming(exc, path)
