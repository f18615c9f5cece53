"""16-bit TIFF through upsamp.imageio (tifffile underneath), checked with OpenCV (libtiff) as
the independent reader and writer."""

from __future__ import annotations

import numpy as np
import pytest

from upsamp import imageio
from upsamp.errors import InputError

pytest.importorskip("tifffile")

RNG = np.random.default_rng(3)
PIXELS = {
    "I;16": RNG.integers(0, 65536, (19, 23), dtype=np.uint16),
    "LA;16": RNG.integers(0, 65536, (19, 23, 2), dtype=np.uint16),
    "RGB;16": RNG.integers(0, 65536, (19, 23, 3), dtype=np.uint16),
    "RGBA;16": RNG.integers(0, 65536, (19, 23, 4), dtype=np.uint16),
}


def _bgr(pixels: np.ndarray) -> np.ndarray:
    return pixels[:, :, [2, 1, 0, 3][: pixels.shape[2]]] if pixels.ndim == 3 else pixels


def _save(path, mode: str, compression: str) -> None:
    encoding = imageio.encoder_settings("TIFF", tiff_compression=compression)
    imageio.save_stored(path, PIXELS[mode], mode=mode, info={"dpi": (300.0, 300.0)},
                        encoding=encoding)  # fmt: skip


def _loaded(path) -> np.ndarray:
    image = imageio.load_input(path)
    pixels = image.pixels if image.pixels.ndim == 3 else image.pixels[:, :, None]
    if image.alpha is not None:
        pixels = np.concatenate([pixels, image.alpha[:, :, None]], axis=2)
    return pixels[:, :, 0] if pixels.shape[2] == 1 else pixels


@pytest.mark.parametrize("mode", ["I;16", "RGB;16", "RGBA;16"])
@pytest.mark.parametrize("compression", ["none", "deflate"])
def test_opencv_reads_what_is_written(mode, compression, tmp_path):
    cv2 = pytest.importorskip("cv2")
    path = tmp_path / "x.tif"
    _save(path, mode, compression)
    got = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert got is not None and got.dtype == np.uint16
    np.testing.assert_array_equal(got, _bgr(PIXELS[mode]))
    np.testing.assert_array_equal(_loaded(path), PIXELS[mode])
    assert imageio.load_input(path).info["dpi"] == pytest.approx((300, 300))


@pytest.mark.parametrize("mode", ["RGB;16", "RGBA;16"])
@pytest.mark.parametrize("cv_compression", [1, 8])  # none, Adobe deflate
def test_reads_what_opencv_writes(mode, cv_compression, tmp_path):
    cv2 = pytest.importorskip("cv2")
    path = tmp_path / "cv.tif"
    flags = [cv2.IMWRITE_TIFF_COMPRESSION, cv_compression]
    assert cv2.imwrite(str(path), _bgr(PIXELS[mode]), flags)
    np.testing.assert_array_equal(_loaded(path), PIXELS[mode])


@pytest.mark.parametrize("compression", ["none", "deflate"])
def test_gray_alpha_16_reads_back_what_it_writes(compression, tmp_path):
    """Pillow cannot open a 16-bit gray+alpha TIFF; the loader reads it with tifffile."""
    path = tmp_path / "la.tif"
    _save(path, "LA;16", compression)
    image = imageio.load_input(path)
    assert image.mode == "I;16" and image.alpha is not None
    assert image.pixels.dtype == image.alpha.dtype == np.uint16
    np.testing.assert_array_equal(_loaded(path), PIXELS["LA;16"])
    assert image.info["dpi"] == pytest.approx((300, 300))
    assert image.encoding["tiff_compression"] == compression


def test_gray_alpha_16_written_by_tifffile_in_separate_planes(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    path = tmp_path / "planar.tif"
    planes = np.moveaxis(PIXELS["LA;16"], 2, 0)
    tifffile.imwrite(path, planes, photometric="minisblack", planarconfig="separate",
                     extrasamples=["unassalpha"])
    np.testing.assert_array_equal(_loaded(path), PIXELS["LA;16"])


def test_gray_alpha_16_size_limit_is_checked_before_decoding(tmp_path):
    path = tmp_path / "la.tif"
    _save(path, "LA;16", "none")
    with pytest.raises(InputError, match="pixels"):
        imageio.load_input(path, max_pixels=100)


def test_other_tiffs_pillow_cannot_open_are_still_refused(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    path = tmp_path / "f64.tif"
    tifffile.imwrite(path, np.zeros((4, 5, 2), dtype=np.float64), photometric="minisblack",
                     planarconfig="contig", extrasamples=["unassalpha"])
    with pytest.raises(InputError, match="not an image format") as caught:
        imageio.load_input(path)
    assert "\n" not in str(caught.value)
