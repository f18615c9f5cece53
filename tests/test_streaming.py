"""The streamed save path: bands go from the engine to the encoder, with the same file (PNG)
or the same pixels (JPEG) as the whole-array path, progress reported, nothing left on failure."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from upsamp import imageio, pipeline
from upsamp.errors import OutputError
from upsamp.jpeg import JpegStripWriter, UnsupportedJpeg, split_jpeg
from upsamp.kernels import preset
from upsamp.methods import MethodOptions
from upsamp.pipeline import Compute, EnlargeSettings, enlarge_file


def _photo(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Smooth gradients plus noise, uint8."""
    rng = np.random.default_rng(seed)
    rows = np.linspace(0, 180, shape[0])[:, None]
    cols = np.linspace(0, 60, shape[1])[None, :]
    base = rows + cols
    if len(shape) == 3:
        base = base[:, :, None] + np.arange(shape[2]) * 10
    return np.clip(base + rng.normal(0, 12, shape), 0, 255).astype(np.uint8)


@pytest.fixture
def small_bands(monkeypatch):
    """Bands of a few rows, so a small image crosses many of them."""
    monkeypatch.setattr(pipeline, "BAND_VALUES", 600)


def _both(tmp_path: Path, name: str, settings: EnlargeSettings, **kwargs) -> tuple[Path, Path]:
    streamed = tmp_path / f"streamed_{name}"
    whole = tmp_path / f"whole_{name}"
    enlarge_file(tmp_path / "in.png", streamed, settings, **kwargs)
    enlarge_file(tmp_path / "in.png", whole, settings, compute=Compute())
    return streamed, whole


CASES = [
    ("RGB", (37, 29, 3), "transconv"),
    ("RGBA", (37, 29, 4), "bilinear"),
    ("L", (23, 41), "nearest"),
    ("RGB", (37, 29, 3), "bilinear"),
]


@pytest.mark.parametrize("mode, shape, method", CASES)
def test_streamed_png_is_the_whole_array_file(tmp_path, small_bands, mode, shape, method):
    Image.fromarray(_photo(shape), mode).save(tmp_path / "in.png")
    kernel = preset("bilinear", 2) if method == "transconv" else None
    options = MethodOptions(kernel=kernel) if kernel else MethodOptions()
    settings = EnlargeSettings(method=method, options=options)
    streamed, whole = _both(tmp_path, "o.png", settings)
    assert streamed.read_bytes() == whole.read_bytes()


def test_streamed_png_16_bit(tmp_path, small_bands):
    values = (_photo((19, 17, 3)).astype(np.uint16) * 257 + 3).astype(np.uint16)
    # a 16-bit RGB PNG written with the project's own encoder
    from upsamp.png import write_png

    write_png(tmp_path / "in.png", values, "RGB;16")
    settings = EnlargeSettings(method="bilinear")
    streamed, whole = _both(tmp_path, "o.png", settings)
    assert streamed.read_bytes() == whole.read_bytes()
    assert imageio.load_input(streamed).pixels.dtype == np.uint16


@pytest.mark.parametrize("mode, shape", [("RGB", (70, 45, 3)), ("L", (33, 50))])
def test_streamed_jpeg_has_the_whole_array_pixels(tmp_path, small_bands, mode, shape):
    Image.fromarray(_photo(shape), mode).save(tmp_path / "in.png")
    settings = EnlargeSettings(method="bilinear", quality=90)
    streamed, whole = _both(tmp_path, "o.jpg", settings)
    a = np.asarray(Image.open(streamed))
    b = np.asarray(Image.open(whole))
    assert a.shape == b.shape == (shape[0] * 2, shape[1] * 2) + shape[2:]
    assert np.array_equal(a, b)
    assert b"\xff\xdd" in streamed.read_bytes()  # restart markers join the strips


def test_streamed_other_formats_gather_the_bands(tmp_path, small_bands):
    Image.fromarray(_photo((21, 13, 3)), "RGB").save(tmp_path / "in.png")
    streamed, whole = _both(tmp_path, "o.tiff", EnlargeSettings(method="nearest"))
    assert np.array_equal(np.asarray(Image.open(streamed)), np.asarray(Image.open(whole)))


def test_progress_counts_every_output_row(tmp_path, small_bands):
    Image.fromarray(_photo((30, 20, 3)), "RGB").save(tmp_path / "in.png")
    calls: list[tuple[int, int]] = []
    enlarge_file(
        tmp_path / "in.png", tmp_path / "o.png", EnlargeSettings(method="nearest"),
        progress=lambda done, total: calls.append((done, total)),
    )  # fmt: skip
    assert len(calls) > 3
    assert all(total == 60 for _, total in calls)
    done = [d for d, _ in calls]
    assert done == sorted(done) and done[-1] == 60 and done[0] > 0


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_a_failure_mid_stream_leaves_nothing(tmp_path, small_bands, suffix):
    Image.fromarray(_photo((30, 20, 3)), "RGB").save(tmp_path / "in.png")
    before = set(tmp_path.iterdir())

    def fail_late(done: int, total: int) -> None:
        if done > total // 2:
            raise OutputError("stopped half-way")

    with pytest.raises(OutputError, match="half-way"):
        enlarge_file(
            tmp_path / "in.png", tmp_path / f"o{suffix}", EnlargeSettings(method="nearest"),
            progress=fail_late,
        )  # fmt: skip
    assert set(tmp_path.iterdir()) == before


def test_an_existing_output_is_refused_before_any_work(tmp_path):
    Image.fromarray(_photo((10, 10, 3)), "RGB").save(tmp_path / "in.png")
    (tmp_path / "o.png").write_bytes(b"keep")
    calls = []
    with pytest.raises(OutputError, match="exists"):
        enlarge_file(tmp_path / "in.png", tmp_path / "o.png", EnlargeSettings(method="nearest"),
                     progress=lambda d, t: calls.append(d))  # fmt: skip
    assert calls == [] and (tmp_path / "o.png").read_bytes() == b"keep"


# ------------------------------------------------------------------------------------------
# JpegStripWriter
# ------------------------------------------------------------------------------------------


def _encoder(**options):
    def encode(rows: np.ndarray) -> bytes:
        buffer = io.BytesIO()
        Image.fromarray(rows).save(buffer, format="JPEG", **options)
        return buffer.getvalue()

    return encode


@pytest.mark.parametrize(
    "shape, subsampling, mcu_rows",
    [((301, 517, 3), 2, 16), ((300, 517, 3), 0, 8), ((77, 33, 3), 1, 8), ((150, 97), None, 8)],
)
@pytest.mark.parametrize("threads", [1, 2])
def test_joined_strips_are_the_encoders_file_with_restart_markers(
    shape, subsampling, mcu_rows, threads
):
    pixels = _photo(shape, seed=3)
    options = {"quality": 90} | ({} if subsampling is None else {"subsampling": subsampling})
    out = io.BytesIO()
    with JpegStripWriter(
        out, shape[1], shape[0], shape[2] if len(shape) == 3 else 1, _encoder(**options),
        threads=threads, strip_bytes=2_000,
    ) as writer:  # fmt: skip
        for start in range(0, shape[0], 23):
            writer.write_rows(pixels[start : start + 23])
    assert writer.strip_rows % mcu_rows == 0 and writer.strip_rows < shape[0]
    reference = io.BytesIO()
    Image.fromarray(pixels).save(
        reference, format="JPEG", restart_marker_rows=writer.strip_rows // mcu_rows, **options
    )
    assert out.getvalue() == reference.getvalue()
    plain = np.asarray(Image.open(io.BytesIO(_encoder(**options)(pixels))))
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(out.getvalue()))), plain)


def test_progressive_files_cannot_be_joined():
    with pytest.raises(UnsupportedJpeg):
        JpegStripWriter(io.BytesIO(), 40, 40, 3, _encoder(progressive=True))


def test_missing_rows_and_extra_rows_are_refused():
    writer = JpegStripWriter(io.BytesIO(), 16, 20, 1, _encoder())
    with pytest.raises(ValueError, match="21"):
        writer.write_rows(np.zeros((21, 16), np.uint8))
    writer.write_rows(np.zeros((10, 16), np.uint8))
    with pytest.raises(ValueError, match="only 10"):
        writer.close()


def test_split_jpeg_reads_the_mcu_size():
    header, body, sof, mcu = split_jpeg(_encoder(subsampling=2)(_photo((20, 20, 3))))
    assert header[sof : sof + 2] == b"\xff\xc0" and mcu == (16, 16) and body
    with pytest.raises(UnsupportedJpeg):
        split_jpeg(b"not a jpeg")


def test_a_big_decoded_image_goes_to_numpy_in_strips_unchanged():
    pixels = _photo((97, 41, 3), seed=5)
    image = Image.fromarray(pixels)
    assert np.array_equal(imageio._image_array(image, strip_bytes=500), pixels)
    gray = Image.fromarray(pixels[:, :, 0])
    assert np.array_equal(imageio._image_array(gray, strip_bytes=100), pixels[:, :, 0])
