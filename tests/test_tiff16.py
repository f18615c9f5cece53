"""16-bit TIFF through upsamp.imageio (tifffile underneath), checked with OpenCV (libtiff) as
the independent reader and writer."""

from __future__ import annotations

import numpy as np
import pytest

from upsamp import imageio

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
