"""16-bit TIFF through tifffile, checked with OpenCV (libtiff) as the independent reader."""

from __future__ import annotations

import numpy as np
import pytest

from upsamp.errors import InputError, OutputError

pytest.importorskip("tifffile")
from upsamp import tiff16  # noqa: E402

RNG = np.random.default_rng(3)
PIXELS = {
    "I;16": RNG.integers(0, 65536, (19, 23), dtype=np.uint16),
    "LA;16": RNG.integers(0, 65536, (19, 23, 2), dtype=np.uint16),
    "RGB;16": RNG.integers(0, 65536, (19, 23, 3), dtype=np.uint16),
    "RGBA;16": RNG.integers(0, 65536, (19, 23, 4), dtype=np.uint16),
}


def _bgr(pixels: np.ndarray) -> np.ndarray:
    return pixels[:, :, [2, 1, 0, 3][: pixels.shape[2]]] if pixels.ndim == 3 else pixels


@pytest.mark.parametrize("mode", ["I;16", "RGB;16", "RGBA;16"])
@pytest.mark.parametrize("compression", ["none", "deflate"])
def test_opencv_reads_what_is_written(mode, compression, tmp_path):
    cv2 = pytest.importorskip("cv2")
    path = tmp_path / "x.tif"
    tiff16.write_tiff16(path, PIXELS[mode], mode, compression=compression, dpi=(300, 300))
    got = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert got is not None and got.dtype == np.uint16
    np.testing.assert_array_equal(got, _bgr(PIXELS[mode]))
    back, info = tiff16.read_tiff16(path)
    np.testing.assert_array_equal(back, PIXELS[mode])
    assert info.mode == mode and info.compression == compression
    assert info.dpi == pytest.approx((300, 300))


@pytest.mark.parametrize("mode", ["RGB;16", "RGBA;16"])
@pytest.mark.parametrize("cv_compression", [1, 8])  # none, Adobe deflate
def test_reads_what_opencv_writes(mode, cv_compression, tmp_path):
    cv2 = pytest.importorskip("cv2")
    path = tmp_path / "cv.tif"
    flags = [cv2.IMWRITE_TIFF_COMPRESSION, cv_compression]
    assert cv2.imwrite(str(path), _bgr(PIXELS[mode]), flags)
    got, info = tiff16.read_tiff16(path)
    assert info.mode == mode and info.compression == ("none" if cv_compression == 1 else "deflate")
    np.testing.assert_array_equal(got, PIXELS[mode])


def test_gray_alpha_round_trip_and_icc(tmp_path):
    path = tmp_path / "la.tif"
    tiff16.write_tiff16(path, PIXELS["LA;16"], "LA;16", compression="deflate", icc_profile=b"icc!")
    got, info = tiff16.read_tiff16(path)
    np.testing.assert_array_equal(got, PIXELS["LA;16"])
    assert info.icc_profile == b"icc!" and info.pages == 1


def test_lzw_without_imagecodecs_is_one_line(tmp_path):
    try:
        import imagecodecs  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("imagecodecs is installed: LZW works")
    with pytest.raises(OutputError, match="LZW compression needs the imagecodecs package"):
        tiff16.write_tiff16(tmp_path / "x.tif", PIXELS["RGB;16"], "RGB;16", compression="lzw")
    cv2 = pytest.importorskip("cv2")
    path = tmp_path / "cv.tif"
    cv2.imwrite(str(path), PIXELS["RGB;16"])  # OpenCV's default TIFF compression is LZW
    with pytest.raises(InputError, match="needs the imagecodecs package") as exc:
        tiff16.read_tiff16(path)
    assert "\n" not in str(exc.value)


def test_refusals(tmp_path):
    path = tmp_path / "x.tif"
    tiff16.write_tiff16(path, PIXELS["RGB;16"], "RGB;16")
    with pytest.raises(InputError, match="437 pixels is more than the limit of 100"):
        tiff16.read_tiff16(path, max_pixels=100)
    with pytest.raises(InputError, match="page 1 does not exist"):
        tiff16.read_tiff16(path, page=1)
    import tifffile

    tifffile.imwrite(tmp_path / "u8.tif", PIXELS["RGB;16"].astype(np.uint8))
    with pytest.raises(InputError, match="not a 16-bit TIFF"):
        tiff16.read_tiff16(tmp_path / "u8.tif")
    (tmp_path / "junk.tif").write_bytes(b"II*\x00junk")
    with pytest.raises(InputError, match="cannot read TIFF"):
        tiff16.read_tiff16(tmp_path / "junk.tif")
    with pytest.raises(ValueError, match="needs uint16 values with 4 channels"):
        tiff16.write_tiff16(path, PIXELS["RGB;16"], "RGBA;16")
    with pytest.raises(ValueError, match="compression must be one of none, deflate, lzw"):
        tiff16.write_tiff16(path, PIXELS["RGB;16"], "RGB;16", compression="jpeg")
