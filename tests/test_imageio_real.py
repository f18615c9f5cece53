"""Real images, faithfully: frames, 16-bit colour, colour management, metadata, encoding.

Each result is checked with a reader that is not the one under test (OpenCV, tifffile,
Pillow's own ImageCms, a byte-level look at the file), or against arithmetic.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from upsamp import imageio
from upsamp.errors import InputError, OutputError
from upsamp.imageio import (
    encoder_settings,
    load_frames,
    load_image,
    metadata_notes,
    save_frames,
    save_stored,
    strip_metadata,
)

CMYK_PROFILES = [
    Path("/usr/share/color/icc/ghostscript/default_cmyk.icc"),
    Path("/usr/share/color/icc/ghostscript/ps_cmyk.icc"),
]


def _frames(n: int = 3, h: int = 12, w: int = 16) -> list[np.ndarray]:
    rng = np.random.default_rng(5)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(n)]


def _gif(path: Path, frames: list[np.ndarray], durations: list[int], loop: int) -> None:
    images = [Image.fromarray(f).quantize(256, dither=Image.Dither.NONE) for f in frames]
    images[0].save(
        path, save_all=True, append_images=images[1:], duration=durations, loop=loop, disposal=1
    )


# ------------------------------------------------------------------------------------------
# frames
# ------------------------------------------------------------------------------------------


def test_gif_frames_count_durations_loop(tmp_path: Path) -> None:
    src = tmp_path / "anim.gif"
    _gif(src, _frames(), [40, 70, 120], loop=3)
    frames = load_frames(src)
    assert [f.frame_index for f in frames] == [0, 1, 2]
    assert all(f.frame_count == 3 for f in frames)
    assert [f.animation["duration"] for f in frames] == [40, 70, 120]
    assert frames[0].animation["loop"] == 3
    with Image.open(src) as im:  # each frame as Pillow shows it
        for i, f in enumerate(frames):
            im.seek(i)
            np.testing.assert_array_equal(f.pixels, np.array(im.convert("RGB")))


@pytest.mark.parametrize("suffix", [".gif", ".png", ".webp", ".tiff"])
def test_frames_round_trip(tmp_path: Path, suffix: str) -> None:
    frames = _frames()
    out = tmp_path / f"out{suffix}"
    lossless = encoder_settings(imageio.output_format(out), source={"webp_lossless": True})
    save_frames(out, frames, mode="RGB", durations=[40, 70, 120], loop=0, encoding=lossless)
    with Image.open(out) as im:
        assert im.n_frames == 3
        durations = []
        for i in range(3):
            im.seek(i)
            got = np.array(im.convert("RGB"))  # loads the frame, which sets its duration
            durations.append(im.info.get("duration"))
            if suffix != ".gif":  # GIF quantizes to 256 colours
                np.testing.assert_array_equal(got, frames[i])
    if suffix != ".tiff":
        assert durations == [40, 70, 120]


def test_frame_out_of_range_is_one_line(tmp_path: Path) -> None:
    src = tmp_path / "anim.gif"
    _gif(src, _frames(), [40, 40, 40], loop=0)
    assert load_image(src, frame=2).frame_index == 2
    with pytest.raises(InputError) as exc:
        load_image(src, frame=3)
    assert "\n" not in str(exc.value) and "has 3 frames" in str(exc.value)


def test_several_frames_refused_by_single_frame_format(tmp_path: Path) -> None:
    out = tmp_path / "out.jpg"
    with pytest.raises(OutputError, match="has 3 frames and JPEG cannot hold several.*--frame N"):
        save_frames(out, _frames(), mode="RGB")
    assert not out.exists()


def test_transparent_gif(tmp_path: Path) -> None:
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[2:6, 2:6, 3] = 255
    rgba[0, 0, 3] = 127  # below half: transparent
    rgba[0, 1, 3] = 128
    out = tmp_path / "t.gif"
    save_stored(out, rgba, mode="RGBA")
    with Image.open(out) as im:
        got = np.array(im.convert("RGBA"))
    np.testing.assert_array_equal(got[..., 3] > 0, rgba[..., 3] >= 128)
    assert (got[rgba[..., 3] >= 128][:, 0] == 200).all()


# ------------------------------------------------------------------------------------------
# 16-bit colour
# ------------------------------------------------------------------------------------------


def _deep(h: int, w: int, c: int) -> np.ndarray:
    return ((np.arange(h * w * c).reshape(h, w, c) * 4099 + 3) % 65536).astype(np.uint16)


@pytest.mark.parametrize("mode, channels", [("RGB;16", 3), ("RGBA;16", 4)])
@pytest.mark.parametrize("suffix", [".png", ".tiff"])
def test_16bit_colour_written_exactly(tmp_path: Path, mode: str, channels: int, suffix: str):
    cv2 = pytest.importorskip("cv2")
    values = _deep(9, 7, channels)
    out = tmp_path / f"deep{suffix}"
    save_stored(out, values, mode=mode)
    got = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert got.dtype == np.uint16
    order = [2, 1, 0, 3][:channels]  # OpenCV gives BGR(A)
    np.testing.assert_array_equal(got[:, :, np.argsort(order)], values)
    if suffix == ".tiff":
        back = load_image(out)
        np.testing.assert_array_equal(back.pixels, values[:, :, :3])
        if channels == 4:
            np.testing.assert_array_equal(back.alpha, values[:, :, 3])


def test_16bit_tiff_round_trip_with_deflate(tmp_path: Path) -> None:
    values = _deep(20, 30, 3)
    out = tmp_path / "d.tiff"
    save_stored(out, values, mode="RGB;16", encoding=encoder_settings("TIFF",
                tiff_compression="deflate"))  # fmt: skip
    back = load_image(out)
    assert back.encoding["tiff_compression"] == "deflate"
    np.testing.assert_array_equal(back.pixels, values)


# ------------------------------------------------------------------------------------------
# colour management
# ------------------------------------------------------------------------------------------


def test_cmyk_jpeg_with_profile_matches_imagecms(tmp_path: Path) -> None:
    profile = next((p for p in CMYK_PROFILES if p.is_file()), None)
    if profile is None:
        pytest.skip("no CMYK ICC profile installed")
    rng = np.random.default_rng(1)
    cmyk = rng.integers(0, 256, (32, 48, 4), dtype=np.uint8)
    src = tmp_path / "cmyk.jpg"
    Image.fromarray(cmyk, mode="CMYK").save(src, quality=95, icc_profile=profile.read_bytes())
    img = load_image(src)
    with Image.open(src) as im:
        want = np.array(
            ImageCms.profileToProfile(
                im, ImageCms.getOpenProfile(str(profile)), ImageCms.createProfile("sRGB"),
                outputMode="RGB",
            )
        )  # fmt: skip
        naive = np.array(im.convert("RGB"))
    error = np.abs(img.pixels.astype(float) - want).mean()
    naive_error = np.abs(naive.astype(float) - want).mean()
    assert error < 1.0 < naive_error
    srgb = ImageCms.ImageCmsProfile(io.BytesIO(img.info["icc_profile"]))
    assert "sRGB" in ImageCms.getProfileDescription(srgb)


def test_unreadable_profile_converts_without_it_with_a_note(tmp_path: Path) -> None:
    src = tmp_path / "cmyk.jpg"
    Image.fromarray(np.full((4, 4, 4), 30, np.uint8), mode="CMYK").save(
        src, icc_profile=b"not a profile at all" * 10
    )
    img = load_image(src)
    assert img.mode == "RGB" and "icc_profile" not in img.info
    assert len(img.notes) == 1 and "ICC profile cannot be used" in img.notes[0]


# ------------------------------------------------------------------------------------------
# metadata and encoding
# ------------------------------------------------------------------------------------------

XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'
IPTC = b"\x1c\x02\x00\x00\x02\x00\x04\x1c\x02\x74\x00\x05Alice"  # version, copyright


def _exif_with_gps() -> bytes:
    exif = Image.Exif()
    exif[0x013B] = "Alice"  # Artist
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 0.0)}  # GPS IFD
    return exif.tobytes()


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".tiff", ".webp"])
def test_metadata_round_trip(tmp_path: Path, suffix: str) -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    info = {
        "icc_profile": icc, "dpi": (300.0, 300.0), "exif": _exif_with_gps(), "xmp": XMP,
        "iptc": IPTC, "text": {"Author": "Alice", "Copyright": "CC0"}, "comment": b"hello",
    }  # fmt: skip
    out = tmp_path / f"m{suffix}"
    fmt = imageio.output_format(out)
    save_stored(out, np.full((6, 5, 3), 90, np.uint8), mode="RGB", info=info)
    back = load_image(out).info
    for key, (_, formats) in imageio._METADATA.items():
        if fmt in formats:
            assert back.get(key), key
    assert back["icc_profile"] == icc and XMP in back["xmp"]
    exif = Image.Exif()
    exif.load(back["exif"])
    assert 0x8825 in exif and exif[0x013B] == "Alice"  # GPS travels unless --strip
    if fmt in ("JPEG", "TIFF"):
        assert back["iptc"].rstrip(b"\0") == IPTC
    if fmt == "PNG":
        assert back["text"] == info["text"]
    notes = metadata_notes(fmt, info)
    assert len(notes) == 1 and fmt in notes[0]
    stripped = strip_metadata(info)
    assert stripped == {"icc_profile": icc, "dpi": (300.0, 300.0)}
    out2 = tmp_path / f"s{suffix}"
    save_stored(out2, np.full((6, 5, 3), 90, np.uint8), mode="RGB", info=stripped)
    kept = load_image(out2).info
    assert set(kept) <= {"icc_profile", "dpi"} and kept["icc_profile"] == icc


def test_jpeg_keep_subsampling_and_tables(tmp_path: Path) -> None:
    src = tmp_path / "in.jpg"
    rng = np.random.default_rng(2)
    Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(
        src, quality=98, subsampling="4:4:4"
    )
    img = load_image(src)
    default = encoder_settings("JPEG", source=img.encoding)
    assert default.to_json() == {"format": "JPEG", "quality": 95, "subsampling": "4:4:4"}
    keep = encoder_settings("JPEG", source=img.encoding, subsampling="keep")
    out = tmp_path / "out.jpg"
    save_stored(out, img.pixels, mode="RGB", encoding=keep)
    with Image.open(src) as a, Image.open(out) as b:
        assert a.quantization == b.quantization
        from PIL import JpegImagePlugin

        assert JpegImagePlugin.get_sampling(b) == 0
    forced = encoder_settings("JPEG", source=img.encoding, subsampling="420", quality=80)
    assert forced.to_json() == {"format": "JPEG", "quality": 80, "subsampling": "4:2:0"}


def test_lossless_webp_stays_lossless(tmp_path: Path) -> None:
    src = tmp_path / "in.webp"
    values = np.random.default_rng(3).integers(0, 256, (10, 12, 3), dtype=np.uint8)
    Image.fromarray(values).save(src, lossless=True)
    img = load_image(src)
    settings = encoder_settings("WEBP", source=img.encoding)
    assert settings.lossless and settings.to_json() == {"format": "WEBP", "lossless": True}
    out = tmp_path / "out.webp"
    save_stored(out, values, mode="RGB", encoding=settings)
    np.testing.assert_array_equal(np.array(Image.open(out)), values)
    assert not encoder_settings("WEBP", source=img.encoding, quality=80).lossless


def test_tiff_compression_kept(tmp_path: Path) -> None:
    src = tmp_path / "in.tif"
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(src, compression="tiff_lzw")
    img = load_image(src)
    out = tmp_path / "out.tif"
    save_stored(out, img.pixels, mode="RGB", encoding=encoder_settings("TIFF",
                source=img.encoding))  # fmt: skip
    with Image.open(out) as im:
        assert im.info["compression"] == "tiff_lzw"


# ------------------------------------------------------------------------------------------
# PNG text written by hand-checked chunks
# ------------------------------------------------------------------------------------------


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    pos, out = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        assert struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])[0] == zlib.crc32(
            kind + body
        )
        out.append((kind, body))
        pos += 12 + length
    return out


def test_png_text_chunks_are_valid(tmp_path: Path) -> None:
    out = tmp_path / "t.png"
    save_stored(out, np.zeros((3, 3), np.uint8), mode="L", info={"text": {"Author": "Zoë"}})
    kinds = _chunks(out.read_bytes())
    assert kinds[-1][0] == b"IEND"
    itxt = [body for kind, body in kinds if kind == b"iTXt"]
    assert itxt == [b"Author\0\0\0\0\0" + "Zoë".encode()]


@pytest.mark.parametrize("channels", [3, 4])
def test_16bit_colour_tiff_through_enlarge(tmp_path: Path, channels: int) -> None:
    import subprocess
    import sys

    tifffile = pytest.importorskip("tifffile")
    values = _deep(6, 5, channels)
    src = tmp_path / "in.tif"
    tifffile.imwrite(
        src, values, photometric="rgb", metadata=None,
        extrasamples=["unassalpha"] if channels == 4 else None,
    )  # fmt: skip
    out = tmp_path / "out.tif"
    run = subprocess.run(
        [sys.executable, "-m", "upsamp", "enlarge", str(src), "-m", "nearest", "-s", "2",
         "-o", str(out)],
        capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    got = tifffile.imread(out)
    assert got.dtype == np.uint16
    np.testing.assert_array_equal(got, values.repeat(2, 0).repeat(2, 1))
