"""Tests of upsamp.figures: the three report figures are drawn, sized, not blank, show what was
measured, and are written without replacing files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from upsamp import figures
from upsamp.diagnostics import detail_region
from upsamp.errors import OutputError
from upsamp.report import method_entries, report_arrays

SAMPLES = Path(__file__).resolve().parent.parent / "sample_images"


def _sample(name: str, mode: str) -> np.ndarray:
    with Image.open(SAMPLES / name) as im:
        return np.array(im.convert(mode))


@pytest.fixture(scope="module")
def gray_report():
    """Round trip of a 96×96 camera crop at stride 2: five methods and the grid kernel."""
    image = _sample("camera.png", "L")[80:176, 180:276]
    five = ["nearest", "bilinear", "bed-of-nails", "max-unpool", "transconv"]
    entries = method_entries(five, ["checkerboard"], stride=2)
    return report_arrays(image, entries, stride=2, mode="L", name="camera_crop.png")


@pytest.fixture(scope="module")
def rgb_report():
    """No round trip, stride 3, on a 60×45 RGB crop of the cat."""
    image = _sample("chelsea.png", "RGB")[80:125, 160:220]
    entries = method_entries(["nearest", "bed-of-nails"], ["checkerboard", "bicubic"], stride=3)
    return report_arrays(image, entries, stride=3, mode="RGB", roundtrip=False, name="cat.png")


def pixels(image: Image.Image) -> np.ndarray:
    assert image.mode == "RGB"
    return np.asarray(image)


def colours(image: Image.Image) -> set[tuple[int, int, int]]:
    flat = pixels(image).reshape(-1, 3).astype(np.int64)
    packed = np.unique((flat[:, 0] << 16) | (flat[:, 1] << 8) | flat[:, 2])
    return {(int(v >> 16), int((v >> 8) & 255), int(v & 255)) for v in packed}


def find_block(haystack: np.ndarray, block: np.ndarray, x: int) -> int | None:
    """The row where ``block`` sits in ``haystack`` with its left edge at column ``x``."""
    h, w = block.shape[:2]
    for y in range(haystack.shape[0] - h + 1):
        if np.array_equal(haystack[y, x : x + w], block[0]) and np.array_equal(
            haystack[y : y + h, x : x + w], block
        ):
            return y
    return None


def assert_not_blank(image: Image.Image, minimum_colours: int) -> None:
    arr = pixels(image).astype(float)
    assert arr.std() > 20, "the figure is nearly uniform"
    assert len(colours(image)) >= minimum_colours
    assert (arr.min(axis=2) > 250).mean() > 0.2  # a white page, not a flood of colour


# --------------------------------------------------------------------------------------------
# contact sheet
# --------------------------------------------------------------------------------------------


def test_contact_sheet_layout_and_content(gray_report):
    sheet = figures.contact_sheet(gray_report)
    # eight panels (where + ground truth + six methods), four columns of 240-px panels
    assert sheet.width == 2 * figures.MARGIN + 4 * 240 + 3 * figures.GAP
    assert 2 * 240 < sheet.height < 2 * 240 + 400
    assert_not_blank(sheet, 100)
    found = colours(sheet)
    assert figures.VERDICT_COLOURS["clean"] in found
    assert figures.VERDICT_COLOURS["checkerboard"] in found
    assert figures.GRID_MARK in found  # the frame around the crop in the thumbnail


def test_contact_sheet_shows_the_same_zoomed_crop_of_each_output(gray_report):
    sheet = pixels(figures.contact_sheet(gray_report))
    top, left, side = detail_region(gray_report.reference, figures.CROP_SIDE, align=2)
    zoom = figures.PANEL // side
    cell = max(side * zoom, 200) + figures.GAP

    def zoomed(array: np.ndarray) -> np.ndarray:
        crop = np.asarray(array)[top : top + side, left : left + side]
        crop = np.repeat(np.repeat(crop, zoom, axis=0), zoom, axis=1)
        return np.repeat(crop[:, :, None], 3, axis=2).astype(np.uint8)

    row_y = find_block(sheet, zoomed(gray_report.reference), figures.MARGIN + cell)
    assert row_y is not None, "the ground-truth crop is not in panel 1"
    by_name = {m.name: m for m in gray_report.methods}
    for index, name in ((2, "nearest"), (3, "bilinear")):
        assert np.array_equal(
            sheet[row_y : row_y + side * zoom, figures.MARGIN + index * cell :][:, : side * zoom],
            zoomed(by_name[name].stored),
        ), name


def test_contact_sheet_without_round_trip_and_stride_3(rgb_report):
    sheet = figures.contact_sheet(rgb_report)
    assert_not_blank(sheet, 200)
    assert sheet.width == 2 * figures.MARGIN + 4 * 240 + 3 * figures.GAP


def test_contact_sheet_of_a_16_bit_image_uses_the_16_bit_range():
    image = _sample("camera.png", "L")[80:144, 180:244].astype(np.uint16) * 257
    rep = report_arrays(image, method_entries(["nearest"], stride=2), stride=2, mode="I;16")
    sheet = pixels(figures.contact_sheet(rep))
    greys = sheet[(sheet[:, :, 0] == sheet[:, :, 1]) & (sheet[:, :, 1] == sheet[:, :, 2])][:, 0]
    assert len(np.unique(greys)) > 100  # neither saturated nor crushed to black


# --------------------------------------------------------------------------------------------
# phase means
# --------------------------------------------------------------------------------------------


def test_phase_mean_figure_colours_the_phases(gray_report):
    image = figures.phase_mean_figure(gray_report)
    assert_not_blank(image, 30)
    found = colours(image)
    # bed of nails puts all of a flat input on one phase: the hottest colour of the scale
    assert figures._diverging(1.0) in found
    assert figures._diverging(-1.0 / 3.0) in found  # its empty phases (0.00 on a ±3 scale)
    n = len(gray_report.methods)
    assert image.width >= 2 * figures.MARGIN + n * 128
    assert image.height > 2 * 2 * 26


def test_phase_mean_figure_at_stride_3(rgb_report):
    image = figures.phase_mean_figure(rgb_report)
    assert_not_blank(image, 30)
    assert figures._diverging(1.0) in colours(image)


# --------------------------------------------------------------------------------------------
# spectra
# --------------------------------------------------------------------------------------------


def test_spectra_figure_marks_the_grid_frequencies(gray_report):
    image = figures.spectra_figure(gray_report)
    assert_not_blank(image, 200)
    found = colours(image)
    assert figures.GRID_MARK in found and figures.DC_MARK in found
    # seven panels (ground truth + six methods) in rows of four: 96×96 spectra zoomed ×2,
    # with room for the circles (radius 9) around each
    cell = 2 * 96 + 2 * (9 + 3)
    assert image.width == 2 * figures.MARGIN + 4 * cell + 3 * figures.GAP
    assert image.height > 2 * cell


def test_spectra_figure_without_round_trip(rgb_report):
    image = figures.spectra_figure(rgb_report)
    assert_not_blank(image, 100)
    assert figures.GRID_MARK in colours(image)


# --------------------------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------------------------


def test_write_figures_creates_the_folder_and_writes_three_pngs(gray_report, tmp_path):
    folder = tmp_path / "a" / "figs"
    written = figures.write_figures(gray_report, folder)
    assert sorted(p.name for p in written) == [
        "contact_sheet.png",
        "phase_means.png",
        "spectra.png",
    ]
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in written)
    with Image.open(folder / "contact_sheet.png") as im:
        assert im.format == "PNG"
        assert im.size == figures.contact_sheet(gray_report).size


def test_write_figures_never_replaces_without_overwrite(gray_report, tmp_path):
    (tmp_path / "spectra.png").write_bytes(b"precious")
    with pytest.raises(OutputError, match="exists"):
        figures.write_figures(gray_report, tmp_path)
    assert (tmp_path / "spectra.png").read_bytes() == b"precious"
    assert not (tmp_path / "contact_sheet.png").exists()
    figures.write_figures(gray_report, tmp_path, overwrite=True)
    with Image.open(tmp_path / "spectra.png") as im:
        assert im.format == "PNG"
