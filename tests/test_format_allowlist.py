"""Only raster formats are decoded: PostScript and the other formats Pillow would hand to an
external program (Ghostscript) or a rarely used parser are refused with one line naming what the
file is, in every reading path (load, header probe, content sniffing in ``batch``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import EpsImagePlugin, Image

from upsamp import imageio

#: A PostScript program that, rendered, would draw a page and then loop for ever.
POSTSCRIPT = (
    b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 32 32\n"
    b"0 0 moveto 32 32 lineto stroke\n{ } loop\n"
)


@pytest.fixture(autouse=True)
def no_ghostscript(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any call into Pillow's Ghostscript runner fails the test (and never runs gs)."""

    def forbidden(*args: object, **kwargs: object) -> None:
        pytest.fail("Ghostscript was invoked")

    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", forbidden)
    monkeypatch.setattr(EpsImagePlugin, "has_ghostscript", lambda: True)


HOSTILE = [
    (POSTSCRIPT, "PostScript"),
    (b"\x04" + POSTSCRIPT, "PostScript"),
    (b"\xc5\xd0\xd3\xc6" + bytes(26) + POSTSCRIPT, "EPS"),
    (b"%PDF-1.7\n1 0 obj\n<< >>\nendobj\n", "PDF"),
    (b"8BPS\x00\x01" + bytes(40), "Photoshop"),
    (b"SIMPLE  =                    T" + bytes(50), "FITS"),
    (b'<svg xmlns="http://www.w3.org/2000/svg"/>', "SVG"),
]


@pytest.mark.parametrize(("content", "what"), HOSTILE)
def test_load_refuses_and_names_the_format(tmp_path: Path, content: bytes, what: str) -> None:
    path = tmp_path / "x.png"
    path.write_bytes(content)
    with pytest.raises(imageio.InputError) as exc:
        imageio.load_input(path)
    message = str(exc.value)
    assert "\n" not in message
    assert str(path) in message and what in message
    assert "raster" in message


@pytest.mark.parametrize(("content", "what"), HOSTILE)
def test_sniffing_does_not_recognise_refused_formats(
    tmp_path: Path, content: bytes, what: str
) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(content)
    assert imageio.probe(path) is None
    assert imageio.is_image_file(path) is False


def test_enlarge_refuses_postscript_named_png(run_cli, tmp_path: Path, listing) -> None:
    (tmp_path / "x.png").write_bytes(POSTSCRIPT)
    before = listing(tmp_path)
    result = run_cli("enlarge", "x.png", "--method", "nearest", "-o", "y.png")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("upsamp: error: ")
    assert "x.png" in lines[0] and "PostScript" in lines[0]
    assert listing(tmp_path) == before


def test_batch_reports_disguised_postscript_and_ignores_text(run_cli, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "x.png").write_bytes(POSTSCRIPT)
    (folder / "notes.txt").write_bytes(POSTSCRIPT)
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(folder / "good.png")
    result = run_cli("batch", "in", "-o", "out", "--method", "nearest", "--json")
    records = {Path(r["input"]).name: r for r in map(json.loads, result.stdout.splitlines())}
    assert set(records) == {"x.png", "good.png"}
    assert records["good.png"]["status"] == "ok"
    assert records["x.png"]["status"] == "failed"
    assert "PostScript" in records["x.png"]["reason"]
    assert not (tmp_path / "out" / "notes_nearestx2.txt").exists()


@pytest.mark.parametrize(
    ("suffix", "save_format"),
    [(".png", "PNG"), (".jpg", "JPEG"), (".gif", "GIF"), (".tif", "TIFF"), (".webp", "WEBP"),
     (".bmp", "BMP"), (".ppm", "PPM"), (".tga", "TGA"), (".ico", "ICO")],
)
def test_allowed_raster_formats_still_load(tmp_path: Path, suffix: str, save_format: str) -> None:
    path = tmp_path / f"img{suffix}"
    pixels = (np.arange(16 * 16 * 3) % 251).astype(np.uint8).reshape(16, 16, 3)
    Image.fromarray(pixels).save(path, format=save_format)
    loaded = imageio.load_input(path)
    assert loaded.pixels.shape[:2] == (16, 16)
    assert imageio.is_image_file(path)
    assert imageio.probe(path) is not None
