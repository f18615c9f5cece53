"""The PNG encoder, checked by decoding its files with Pillow, OpenCV and a plain zlib + loop
reader, and its filters against the standard's formulas written as loops."""

from __future__ import annotations

import io
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms
from png_reference import chunks, decode_plain, filter_plain, paeth_plain

from upsamp import png


def _encode(pixels: np.ndarray, mode: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    png.write_png(buf, pixels, mode, **kwargs)
    return buf.getvalue()


RNG = np.random.default_rng(7)


def _smooth(shape: tuple[int, ...], top: int, dtype) -> np.ndarray:
    """Photo-like values (a smooth ramp plus noise), so every filter type gets chosen."""
    h, w = shape[:2]
    ramp = np.add.outer(np.arange(h) * 3.0, np.arange(w) * 2.0)
    ramp = ramp.reshape(h, w, *([1] * (len(shape) - 2)))
    noise = RNG.integers(0, 6, shape)
    return ((ramp + noise) * top / (ramp.max() + 6)).astype(dtype)


CASES = {
    "L": RNG.integers(0, 256, (37, 53), dtype=np.uint8),
    "LA": RNG.integers(0, 256, (37, 53, 2), dtype=np.uint8),
    "RGB": _smooth((37, 53, 3), 255, np.uint8),
    "RGBA": RNG.integers(0, 256, (37, 53, 4), dtype=np.uint8),
    "I;16": RNG.integers(0, 65536, (37, 53), dtype=np.uint16),
    "LA;16": _smooth((37, 53, 2), 65535, np.uint16),
    "RGB;16": _smooth((37, 53, 3), 65535, np.uint16),
    "RGBA;16": RNG.integers(0, 65536, (37, 53, 4), dtype=np.uint16),
}
EIGHT_BIT = ["L", "LA", "RGB", "RGBA"]
ENGINES = ["zlib", "zlib-ng", "isal"]


def _engine_or_skip(name: str, level: int) -> None:
    if name == "zlib-ng":
        pytest.importorskip("zlib_ng")
    if name == "isal":
        pytest.importorskip("isal")
        if not 1 <= level <= 3:
            pytest.skip("isal does levels 1-3")


# -- decoded by independent readers ---------------------------------------------------------


@pytest.mark.parametrize("mode", EIGHT_BIT + ["I;16"])
@pytest.mark.parametrize("level", [0, 1, 6, 9])
def test_pillow_decodes_exactly(mode, level):
    pixels = CASES[mode]
    decoded = Image.open(io.BytesIO(_encode(pixels, mode, compress_level=level)))
    expected_mode = {"I;16": ("I;16", "I")}.get(mode, (mode,))
    assert decoded.mode in expected_mode
    np.testing.assert_array_equal(np.asarray(decoded).astype(np.int64), pixels.astype(np.int64))


@pytest.mark.parametrize("mode", list(CASES))
@pytest.mark.parametrize("strategy", png.FILTER_STRATEGIES)
def test_plain_reader_decodes_every_mode_and_filter_strategy(mode, strategy):
    pixels = CASES[mode]
    decoded = decode_plain(_encode(pixels, mode, filter_strategy=strategy))
    assert decoded.dtype == pixels.dtype
    np.testing.assert_array_equal(decoded, pixels)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("level", [0, 1, 2, 3, 4, 6, 9])
def test_every_engine_and_level_gives_the_same_pixels(engine, level):
    _engine_or_skip(engine, level)
    pixels = CASES["RGB"]
    data = _encode(pixels, "RGB", compress_level=level, engine=engine, threads=2)
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(data))), pixels)
    np.testing.assert_array_equal(decode_plain(data), pixels)


@pytest.mark.parametrize("mode", ["RGB;16", "RGBA;16", "RGB", "RGBA", "I;16"])
def test_opencv_reads_the_same_pixels(mode, tmp_path):
    cv2 = pytest.importorskip("cv2")
    pixels = CASES[mode]
    path = tmp_path / "x.png"
    png.write_png(path, pixels, mode, threads=2)
    decoded = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert decoded is not None and decoded.dtype == pixels.dtype
    if pixels.ndim == 3:  # OpenCV orders colour as BGR(A)
        order = [2, 1, 0, 3][: pixels.shape[2]]
        decoded = decoded[:, :, np.argsort(order)]
    np.testing.assert_array_equal(decoded, pixels)


def test_a_photo_enlargement_decodes_exactly_in_pillow_and_opencv(tmp_path):
    cv2 = pytest.importorskip("cv2")
    from conftest import SAMPLE_DIR

    photo = np.asarray(Image.open(SAMPLE_DIR / "chelsea.png").convert("RGB"))
    pixels = np.repeat(np.repeat(photo, 2, axis=0), 2, axis=1)[:, :-1]  # odd width too
    path = tmp_path / "big.png"
    png.write_png(path, pixels, "RGB", threads=2)
    np.testing.assert_array_equal(np.asarray(Image.open(path)), pixels)
    np.testing.assert_array_equal(cv2.imread(str(path), cv2.IMREAD_UNCHANGED)[:, :, ::-1], pixels)


# -- filters -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(png.FILTER_TYPES))
@pytest.mark.parametrize("bpp", [1, 2, 3, 4, 6, 8])
def test_each_filter_equals_the_standard_formula(kind, bpp):
    rows = RNG.integers(0, 256, (9, 5 * bpp), dtype=np.uint8)
    rows[3] = 255  # extremes and flat runs
    rows[4, ::2] = 0
    expected = filter_plain(rows.tolist(), [png.FILTER_TYPES[kind]] * 9, bpp)
    assert png.filter_rows(rows, None, bpp, kind).tolist() == expected


def test_paeth_predictor_on_a_grid_of_triples_and_random_ones():
    grid = np.array(sorted(set(range(0, 256, 15)) | {1, 2, 127, 128, 129, 254, 255}))
    a, b, c = (v.ravel().astype(np.uint8) for v in np.meshgrid(grid, grid, grid))
    more = RNG.integers(0, 256, (3, 20000), dtype=np.uint8)
    a, b, c = (np.concatenate([x, y]) for x, y in zip((a, b, c), more, strict=True))
    got = png._paeth_predictor(a[None], b[None], c[None])[0]
    expected = [paeth_plain(int(x), int(y), int(z)) for x, y, z in zip(a, b, c, strict=True)]
    assert got.tolist() == expected


@pytest.mark.parametrize("strategy", ["minsum", "adaptive"])
def test_per_row_choice_is_the_smallest_weighted_sum(strategy):
    rows = _smooth((40, 30), 255, np.uint8)
    rows[10:14] = RNG.integers(0, 256, (4, 30))  # noise rows: other choices
    rows[20:23] = rows[19]  # repeated rows: Up gives zeros
    bpp = 1
    candidates = [filter_plain(rows.tolist(), [k] * 40, bpp) for k in range(5)]
    weight = {2: png.UP_WEIGHT} if strategy == "adaptive" else {}
    expected_kinds = []
    for y in range(40):
        sums = [
            sum(min(v, 256 - v) for v in candidates[k][y][1:]) * weight.get(k, 1) for k in range(5)
        ]
        expected_kinds.append(sums.index(min(sums)))  # ties: the lowest type
    got = png.filter_rows(rows, None, bpp, strategy)
    assert got[:, 0].tolist() == expected_kinds
    assert got.tolist() == filter_plain(rows.tolist(), expected_kinds, bpp)
    assert len(set(expected_kinds)) >= 3  # the test exercises real choices


def test_filtering_in_parts_equals_filtering_at_once():
    rows = CASES["RGBA"].reshape(37, -1)
    whole = png.filter_rows(rows, None, 4)
    parts = [png.filter_rows(rows[:5], None, 4)]
    parts += [png.filter_rows(rows[a : a + 5], rows[a - 1], 4) for a in range(5, 37, 5)]
    np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_unknown_filter_strategy_is_refused():
    with pytest.raises(ValueError, match="filter strategy must be one of adaptive"):
        _encode(CASES["L"], "L", filter_strategy="best")


# -- streaming and pieces ------------------------------------------------------------------


def _stream(pixels: np.ndarray, mode: str, cuts: list[int], **kwargs) -> bytes:
    buf = io.BytesIO()
    h, w = pixels.shape[:2]
    with png.PngWriter(buf, w, h, mode, **kwargs) as writer:
        for a, b in zip([0, *cuts], [*cuts, h], strict=True):
            band = pixels[a:b].copy()
            writer.write_rows(band)
            band[...] = 0  # the writer must not keep a view of the caller's array
    return buf.getvalue()


@pytest.mark.parametrize("mode", ["RGB", "RGBA;16", "L"])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_bands_give_the_same_bytes_as_one_call_whatever_the_threads(mode, threads, monkeypatch):
    monkeypatch.setattr(png, "_CHUNK_BYTES", 700)  # many pieces, each primed by the ones before
    pixels = CASES[mode]
    whole = _encode(pixels, mode, threads=1)
    cuts = sorted(set(RNG.integers(1, 37, 6).tolist()))
    assert _stream(pixels, mode, cuts, threads=threads) == whole
    assert _stream(pixels, mode, list(range(1, 37)), threads=threads) == whole  # row by row
    np.testing.assert_array_equal(decode_plain(whole), pixels)


def test_many_pieces_on_two_threads_join_into_one_valid_stream(monkeypatch):
    monkeypatch.setattr(png, "_CHUNK_BYTES", 1000)
    pixels = np.asarray(
        np.add.outer(np.arange(120), np.arange(90))[:, :, None] * [1, 2, 3] % 256, dtype=np.uint8
    )
    data = _encode(pixels, "RGB", threads=2)
    stream = b"".join(body for kind, body in chunks(data) if kind == b"IDAT")
    raw = zlib.decompress(stream)  # checks the zlib header and the Adler-32 of the whole data
    assert raw == png.filter_rows(pixels.reshape(120, -1), None, 3).tobytes()
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(data))), pixels)


def test_one_row_pieces_with_one_thread(monkeypatch):
    monkeypatch.setattr(png, "_CHUNK_BYTES", 1)  # a piece per row
    pixels = CASES["I;16"]
    decoded = Image.open(io.BytesIO(_encode(pixels, "I;16", threads=1)))
    np.testing.assert_array_equal(np.asarray(decoded).astype(np.int64), pixels.astype(np.int64))


def test_writer_to_a_path_closes_its_file(tmp_path):
    path = tmp_path / "x.png"
    writer = png.PngWriter(path, 53, 37, "RGB", threads=2)
    writer.write_rows(CASES["RGB"][:20])
    writer.write_rows(CASES["RGB"][20:])
    assert writer.rows_written == 37
    writer.close()
    writer.close()  # a second close does nothing
    np.testing.assert_array_equal(np.asarray(Image.open(path)), CASES["RGB"])


def test_missing_rows_are_an_error_and_leave_no_valid_png(tmp_path):
    path = tmp_path / "x.png"
    writer = png.PngWriter(path, 53, 37, "RGB")
    writer.write_rows(CASES["RGB"][:10])
    with pytest.raises(ValueError, match="only 10 given"):
        writer.close()
    assert b"IEND" not in path.read_bytes()


def test_an_exception_inside_the_block_aborts(tmp_path):
    path = tmp_path / "x.png"
    with pytest.raises(RuntimeError), png.PngWriter(path, 53, 37, "RGB", threads=2) as writer:
        writer.write_rows(CASES["RGB"][:30])
        raise RuntimeError("engine failed")
    assert b"IEND" not in path.read_bytes()
    with pytest.raises(ValueError, match="closed"):
        writer.write_rows(CASES["RGB"][30:])


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (np.zeros((3, 53, 4), np.uint8), r"rows of shape \(n, 53, 3\)"),
        (np.zeros((3, 52, 3), np.uint8), r"rows of shape \(n, 53, 3\)"),
        (np.zeros((3, 53, 3), np.uint16), "needs uint8 values"),
        (np.zeros((38, 53, 3), np.uint8), "38 rows given"),
    ],
)
def test_bad_rows_are_refused(rows, message):
    writer = png.PngWriter(io.BytesIO(), 53, 37, "RGB")
    with pytest.raises(ValueError, match=message):
        writer.write_rows(rows)
    writer.abort()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((53, 37, "CMYK"), "PNG mode must be one of L, LA, RGB"),
        ((0, 37, "RGB"), "PNG size"),
        ((53, 2**31, "RGB"), "PNG size"),
    ],
)
def test_bad_writer_arguments_are_refused(args, message):
    with pytest.raises(ValueError, match=message):
        png.PngWriter(io.BytesIO(), *args)


def test_wrong_channel_count_is_refused():
    with pytest.raises(ValueError, match="needs 3 channels"):
        _encode(CASES["L"], "RGB")


# -- metadata --------------------------------------------------------------------------------


def test_metadata_is_read_back_by_pillow():
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "upsamp test"  # Make
    text = {"Author": "A. Müller", "Title": "雪"}  # Latin-1 -> tEXt, else iTXt
    data = _encode(
        CASES["RGB"], "RGB", icc_profile=icc, dpi=(300, 150), exif=exif.tobytes(), text=text
    )
    decoded = Image.open(io.BytesIO(data))
    assert decoded.info["icc_profile"] == icc
    assert tuple(round(v) for v in decoded.info["dpi"]) == (300, 150)
    assert decoded.getexif()[0x010F] == "upsamp test"
    assert decoded.text == text
    kinds = [kind for kind, _ in chunks(data)]
    assert b"tEXt" in kinds and b"iTXt" in kinds


def test_bad_text_key_is_refused():
    with pytest.raises(ValueError, match="text key"):
        _encode(CASES["L"], "L", text={"": "x"})


# -- engines and checksums -------------------------------------------------------------------


def test_engine_choice(monkeypatch):
    monkeypatch.delenv("UPSAMP_DEFLATE", raising=False)
    assert png.deflate_engine(6, "zlib") == png.DeflateEngine("zlib", zlib, 6)
    assert png.deflate_engine(0).level == 0
    if png._load_engine("zlib-ng") is not None:
        assert png.deflate_engine(6).name == "zlib-ng"
        assert png.deflate_engine(1, "zlib-ng").level == 2  # its own level 1 is far weaker
    real = png._load_engine
    monkeypatch.setattr(png, "_load_engine", lambda name: None if name != "zlib" else real(name))
    assert png.deflate_engine(6).name == "zlib"  # the fallback
    assert png.deflate_engine(1).name == "zlib"
    with pytest.raises(ValueError, match="zlib-ng is not installed"):
        png.deflate_engine(6, "zlib-ng")


def test_engine_from_the_environment(monkeypatch):
    monkeypatch.setenv("UPSAMP_DEFLATE", "zlib")
    assert png.deflate_engine(9).name == "zlib"
    monkeypatch.setenv("UPSAMP_DEFLATE", "lzma")
    with pytest.raises(ValueError, match="deflate engine must be one of zlib-ng, isal, zlib"):
        png.deflate_engine(6)


def test_bad_levels_are_refused():
    with pytest.raises(ValueError, match="0-9"):
        png.deflate_engine(10)
    if png._load_engine("isal") is not None:
        with pytest.raises(ValueError, match="levels 1-3"):
            png.deflate_engine(6, "isal")


@settings(max_examples=200, deadline=None)
@given(a=st.binary(max_size=300), b=st.binary(max_size=300), repeat=st.integers(1, 400))
def test_adler32_combine_equals_the_checksum_of_the_concatenation(a, b, repeat):
    b = b * repeat  # lengths past the modulus 65521 too
    combined = png.adler32_combine(zlib.adler32(a), zlib.adler32(b), len(b))
    assert combined == zlib.adler32(a + b)


@settings(max_examples=40, deadline=None)
@given(
    height=st.integers(1, 12),
    width=st.integers(1, 9),
    channels=st.sampled_from([1, 2, 3, 4]),
    seed=st.integers(0, 2**32 - 1),
    cut=st.integers(1, 11),
)
def test_any_small_image_round_trips(height, width, channels, seed, cut):
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[channels]
    shape = (height, width) if channels == 1 else (height, width, channels)
    pixels = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    data = _stream(pixels, mode, [c for c in (cut,) if c < height])
    np.testing.assert_array_equal(decode_plain(data), pixels)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "RGB;16", "LA;16"])
def test_libvips_reads_the_same_pixels(mode, tmp_path):
    import shutil
    import subprocess

    vips = shutil.which("vips")
    if vips is None:
        pytest.skip("libvips (vips command) is not installed")
    pixels = CASES[mode]
    path, raw = tmp_path / "x.png", tmp_path / "x.raw"
    png.write_png(path, pixels, mode, threads=2)
    subprocess.run([vips, "rawsave", str(path), str(raw)], check=True, capture_output=True)
    decoded = np.fromfile(raw, dtype=pixels.dtype).reshape(pixels.shape)  # native order
    np.testing.assert_array_equal(decoded, pixels)
