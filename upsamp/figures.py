"""The pictures of ``upsamp report --figures``: drawn with Pillow, no plotting library.

This module and :mod:`upsamp.imageio` are the only modules of the package that import Pillow
(PIL). Every number drawn here comes from :mod:`upsamp.report`; this module only lays out pixels
and text. Files are written through :func:`upsamp.imageio.atomic_write` (a temporary file, then
a rename; nothing is replaced unless ``overwrite``).

Three figures, each with a title, labels and a legend:

``contact_sheet.png``
    Where the crop is in the whole picture, then the same zoomed crop (the ``side×side`` window
    of highest variance, enlarged with nearest so every pixel shows) from the ground truth and
    every method side by side, labelled with the method's name, PSNR/SSIM, cb_dc/cb_rel and its
    verdict.
``phase_means.png``
    Per method, an ``s_h×s_w`` grid of cells, one per output phase, coloured and labelled with
    its value: the flat-input probe's phase means divided by their mean (1.00 everywhere when a
    flat region stays flat), and the phase means of the residual of this image's output. One
    colour scale per row, so the methods can be compared.
``spectra.png``
    Per method, the log-magnitude spectrum of the output, with the checkerboard frequencies
    ``(k1/s_h, k2/s_w)`` cycles per pixel circled and DC crossed: a bright spot inside a circle
    is a grid.

And one picture per image for ``upsamp measure --figures`` (:func:`measure_figure`): for the
image and its baseline (:mod:`upsamp.measure`), the residual phase means (``r = y - s×s box mean
of y``, mean of ``r`` on each output phase, the channel where they vary most), the spectrum with
the checkerboard frequencies circled, cb_rel, its worst tile and the energy on the circles; the
verdict and its bound close it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from . import imageio
from .diagnostics import detail_region, spectrum, worst_plane
from .measure import baseline_image, measure_image
from .report import Report, format_score, reference_crop
from .report_files import check_free, prepare_folder

__all__ = [
    "contact_sheet",
    "figure_files",
    "measure_figure",
    "phase_mean_figure",
    "spectra_figure",
    "write_figures",
    "write_measure_figure",
]

RGB = tuple[int, int, int]

BACKGROUND: RGB = (255, 255, 255)
INK: RGB = (33, 37, 41)
MUTED: RGB = (100, 106, 112)
FRAME: RGB = (190, 194, 198)
NO_DATA: RGB = (255, 0, 255)
VERDICT_COLOURS: dict[str, RGB] = {"clean": (26, 127, 55), "checkerboard": (207, 34, 46)}
GRID_MARK: RGB = (255, 59, 48)
DC_MARK: RGB = (0, 200, 255)

# Diverging colour map: negative -> blue, 0 -> white, positive -> red (ColorBrewer RdBu).
_COLD: RGB = (33, 102, 172)
_HOT: RGB = (178, 24, 43)

#: Side of the zoomed crop in reference pixels, and the size a panel is enlarged to.
CROP_SIDE = 48
PANEL = 240
MARGIN = 16
GAP = 14


# --------------------------------------------------------------------------------------------
# Drawing helpers
# --------------------------------------------------------------------------------------------


def _font(size: int) -> Any:
    """Pillow's built-in font at ``size`` pixels (its bitmap font without FreeType)."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ValueError, OSError, ImportError):
        return ImageFont.load_default()


#: Characters Pillow's built-in font lacks, and what is drawn instead.
_PLAIN = str.maketrans({"×": "x", "÷": "/", "—": "-", "–": "-", "−": "-", "∞": "inf", "∈": "in"})


def _plain(text: str) -> str:
    """``text`` with the characters the built-in font cannot draw replaced (× -> x, ...)."""
    return text.translate(_PLAIN).replace("½", "1/2")


def _draw_text(draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str, **kwargs: Any) -> None:
    draw.text(xy, _plain(text), **kwargs)


def _text_size(font: Any, text: str) -> tuple[int, int]:
    left, top, right, bottom = font.getbbox(_plain(text))
    return int(math.ceil(right - min(left, 0))), int(math.ceil(bottom))


def _to_rgb8(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Map ``[lo, hi]`` to 0..255 as an ``(H, W, 3)`` uint8 array; NaN shows as magenta."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 3 and arr.shape[2] != 3:
        arr = arr.mean(axis=2)
    missing = np.isnan(arr) if arr.ndim == 2 else np.isnan(arr).any(axis=2)
    scaled = np.clip((np.nan_to_num(arr, nan=lo) - lo) / (hi - lo) * 255.0, 0, 255)
    rgb = np.rint(scaled).astype(np.uint8)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[:, :, None], 3, axis=2)
    rgb[missing] = NO_DATA
    return rgb


def _zoom(rgb: np.ndarray, factor: int) -> np.ndarray:
    return np.repeat(np.repeat(rgb, factor, axis=0), factor, axis=1)


def _diverging(t: float) -> RGB:
    """``t`` in [-1, 1] -> blue .. white .. red."""
    t = max(-1.0, min(1.0, t))
    end = _HOT if t >= 0 else _COLD
    a = abs(t)
    return tuple(int(round(255 + (c - 255) * a)) for c in end)  # type: ignore[return-value]


def _ink_for(fill: RGB) -> RGB:
    luminance = 0.299 * fill[0] + 0.587 * fill[1] + 0.114 * fill[2]
    return INK if luminance > 140 else (255, 255, 255)


def _title(draw: ImageDraw.ImageDraw, width: int, title: str, subtitle: str) -> int:
    """Draw the title and subtitle at the top; return the y below them."""
    big, small = _font(22), _font(14)
    _draw_text(draw, (MARGIN, MARGIN), title, font=big, fill=INK)
    y = MARGIN + _text_size(big, title)[1] + 6
    for line in _wrap(subtitle, small, width - 2 * MARGIN):
        _draw_text(draw, (MARGIN, y), line, font=small, fill=MUTED)
        y += _text_size(small, "Ag")[1] + 4
    return y + 10


def _wrap(text: str, font: Any, width: int) -> list[str]:
    words = text.split()
    lines: list[str] = []
    current = ""
    for word in words:
        trial = f"{current} {word}".strip()
        if current and _text_size(font, trial)[0] > width:
            lines.append(current)
            current = word
        else:
            current = trial
    if current:
        lines.append(current)
    return lines or [""]


def _fit(text: str, font: Any, width: int) -> str:
    """``text`` shortened with an ellipsis to fit ``width`` pixels."""
    if _text_size(font, text)[0] <= width:
        return text
    while text and _text_size(font, text + "…")[0] > width:
        text = text[:-1]
    return text + "…"


def _verdict_line(draw: ImageDraw.ImageDraw, xy: tuple[int, int], verdict: str, font: Any) -> None:
    colour = VERDICT_COLOURS.get(verdict, INK)
    x, y = xy
    size = _text_size(font, "Ag")[1]
    draw.rectangle((x, y + 2, x + size - 4, y + size - 2), fill=colour)
    _draw_text(draw, (x + size + 2, y), verdict, font=font, fill=colour)


# --------------------------------------------------------------------------------------------
# Contact sheet
# --------------------------------------------------------------------------------------------


def _stride_text(stride: tuple[int, int]) -> str:
    return str(stride[0]) if stride[0] == stride[1] else f"{stride[0]}×{stride[1]}"


def contact_sheet(report: Report) -> Image.Image:
    """The same zoomed crop from the reference and every method, side by side (RGB image)."""
    s = report.stride
    lo, hi = report.display_range
    align = math.lcm(s[0], s[1])
    if report.roundtrip:
        top, left, side = detail_region(report.reference, CROP_SIDE, align=align)
        ref_crop = np.asarray(report.reference, dtype=np.float64)[
            top : top + side, left : left + side
        ]
        ref_label = "ground truth"
        ref_lines = [f"{report.reference.shape[1]}×{report.reference.shape[0]} original"]
        crop_h = crop_w = side
    else:
        side_in = max(3, CROP_SIDE // max(s))
        top_in, left_in, side_in = detail_region(report.reference, side_in)
        top, left = top_in * s[0], left_in * s[1]
        crop_h, crop_w = side_in * s[0], side_in * s[1]
        small = np.asarray(report.reference, dtype=np.float64)[
            top_in : top_in + side_in, left_in : left_in + side_in
        ]
        ref_crop = np.repeat(np.repeat(small, s[0], axis=0), s[1], axis=1)
        ref_label = "input"
        ref_lines = [f"shown ×{_stride_text(s)} by pixel repetition"]
    zoom = max(1, PANEL // max(crop_h, crop_w))
    panel_w, panel_h = crop_w * zoom, crop_h * zoom

    panels: list[tuple[np.ndarray, str, list[str], str | None]] = []
    # Where the crop is: the whole reference, scaled to fit, with the crop framed.
    ref_full = np.asarray(report.reference, dtype=np.float64)
    panels.append((ref_crop, ref_label, ref_lines, None))
    for result in report.methods:
        crop = reference_crop(result.stored, result.offset, top, left, crop_h, crop_w, math.nan)
        if report.roundtrip:
            scores = f"PSNR {format_score(result.psnr, 2)} dB · SSIM {format_score(result.ssim, 3)}"
        else:
            scores = "no round trip: no PSNR/SSIM"
        lines = [
            scores,
            f"cb_dc {format_score(result.cb_dc, 3)} · cb_rel {format_score(result.cb_rel, 3)}",
        ]
        panels.append((crop, result.name, lines, result.verdict))

    name_font, line_font = _font(16), _font(13)
    line_h = _text_size(line_font, "Ag")[1] + 4
    label_h = _text_size(name_font, "Ag")[1] + 6 + 3 * line_h + 6
    cell_w = max(panel_w, 200)
    columns = min(4, len(panels) + 1)
    rows = math.ceil((len(panels) + 1) / columns)
    width = 2 * MARGIN + columns * cell_w + (columns - 1) * GAP
    title = f"upsamp report · {Path(report.image).name} · stride {_stride_text(s)}"
    subtitle = (
        f"The same {crop_w}×{crop_h}-pixel crop (the most detailed region, at x={left}, y={top}) "
        f"from every method, enlarged ×{zoom} with nearest so each pixel shows. "
        + (
            f"Round trip: the original was averaged down ÷{_stride_text(s)} and each method "
            "enlarged it back."
            if report.roundtrip
            else "No round trip: the image was the input."
        )
        + " Verdict: checkerboard when a flat region does not come out flat."
    )
    probe = Image.new("RGB", (width, 10))
    header = _title(ImageDraw.Draw(probe), width, title, subtitle)
    height = header + rows * (panel_h + label_h) + (rows - 1) * GAP + MARGIN
    sheet = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    _title(draw, width, title, subtitle)

    def origin(index: int) -> tuple[int, int]:
        r, c = divmod(index, columns)
        return MARGIN + c * (cell_w + GAP), header + r * (panel_h + label_h + GAP)

    # Panel 0: the whole picture with the crop framed.
    x0, y0 = origin(0)
    full_rgb = Image.fromarray(_to_rgb8(ref_full, lo, hi))
    scale = min(cell_w / full_rgb.width, panel_h / full_rgb.height)
    thumb_size = (max(1, int(full_rgb.width * scale)), max(1, int(full_rgb.height * scale)))
    thumb = full_rgb.resize(thumb_size, Image.Resampling.BILINEAR)
    sheet.paste(thumb, (x0, y0))
    grid_scale = s if not report.roundtrip else (1, 1)
    fx = scale / grid_scale[1]
    fy = scale / grid_scale[0]
    draw.rectangle(
        (
            x0 + int(left * fx),
            y0 + int(top * fy),
            x0 + int((left + crop_w) * fx),
            y0 + int((top + crop_h) * fy),
        ),
        outline=GRID_MARK,
        width=2,
    )
    _draw_text(draw, (x0, y0 + panel_h + 6), "where the crop is", font=name_font, fill=INK)
    _draw_text(
        draw,
        (x0, y0 + panel_h + 6 + _text_size(name_font, "Ag")[1] + 6),
        _fit(Path(report.image).name, line_font, cell_w),
        font=line_font,
        fill=MUTED,
    )

    for index, (crop, label, lines, verdict) in enumerate(panels, start=1):
        x, y = origin(index)
        rgb = _zoom(_to_rgb8(crop, lo, hi), zoom)
        sheet.paste(Image.fromarray(rgb), (x, y))
        draw.rectangle((x - 1, y - 1, x + panel_w, y + panel_h), outline=FRAME)
        ty = y + panel_h + 6
        _draw_text(draw, (x, ty), _fit(label, name_font, cell_w), font=name_font, fill=INK)
        ty += _text_size(name_font, "Ag")[1] + 6
        for line in lines:
            _draw_text(draw, (x, ty), _fit(line, line_font, cell_w), font=line_font, fill=MUTED)
            ty += line_h
        if verdict is not None:
            _verdict_line(draw, (x, ty), verdict, line_font)
    return sheet


# --------------------------------------------------------------------------------------------
# Phase-mean heatmaps
# --------------------------------------------------------------------------------------------


def _colour_bar(
    draw: ImageDraw.ImageDraw,
    xy: tuple[int, int],
    height: int,
    labels: tuple[str, str, str],
    caption: str,
    font: Any,
) -> None:
    """A vertical bar from red (top, +) through white to blue (bottom, −) with three labels."""
    x, y = xy
    bar_w = 16
    for i in range(height):
        t = 1.0 - 2.0 * i / max(1, height - 1)
        draw.line((x, y + i, x + bar_w, y + i), fill=_diverging(t))
    draw.rectangle((x, y, x + bar_w, y + height), outline=FRAME)
    th = _text_size(font, "Ag")[1]
    for label, ty in zip(labels, (y, y + height // 2 - th // 2, y + height - th), strict=True):
        _draw_text(draw, (x + bar_w + 6, ty), label, font=font, fill=INK)
    _draw_text(draw, (x, y + height + 6), caption, font=font, fill=MUTED)


def _cell_text(value: float, relative: bool) -> str:
    if relative:
        return f"{value:.2f}"
    return f"{value:+.2f}" if abs(value) < 100 else f"{value:+.3g}"


def phase_mean_figure(report: Report) -> Image.Image:
    """Phase-mean heatmaps: flat-input probe (top row) and this image's residual (bottom row)."""
    s = report.stride
    methods = report.methods
    cell = max(26, min(64, 192 // max(s)))
    grid_w, grid_h = s[1] * cell, s[0] * cell
    value_font = _font(max(10, min(16, cell // 4)))
    name_font, small = _font(15), _font(13)
    col_w = max([grid_w, 130] + [_text_size(name_font, m.name)[0] + 8 for m in methods])
    col_w = min(col_w, max(grid_w, 260))
    label_w = 170
    legend_w = 150

    probes = [m.probe_phase_means for m in methods]
    residuals = [m.residual_phase_means for m in methods]
    probe_scale = max([0.05] + [float(np.max(np.abs(p - 1.0))) for p in probes])
    residual_scale = max([report.data_range * 1e-3] + [float(np.max(np.abs(r))) for r in residuals])

    name_h = _text_size(name_font, "Ag")[1] + 8
    row_h = name_h + grid_h + 28
    width = 2 * MARGIN + label_w + len(methods) * col_w + (len(methods) - 1) * GAP + legend_w
    title = f"Phase means · {Path(report.image).name} · stride {_stride_text(s)}"
    subtitle = (
        "Each cell is one output phase (row mod s, column mod s). Top: a flat image through "
        "each method, phase mean ÷ overall mean: 1.00 everywhere means a flat region stays flat. "
        "Bottom: this image's output minus its s×s box mean (the residual r), mean of r on each "
        "phase, in pixel values: a grid shows as cells far from 0."
    )
    probe = Image.new("RGB", (width, 10))
    header = _title(ImageDraw.Draw(probe), width, title, subtitle)
    height = header + 2 * row_h + GAP + MARGIN
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    _title(draw, width, title, subtitle)

    rows = (
        ("flat input", "phase mean ÷ mean", probes, probe_scale, True),
        ("this image", "residual phase mean", residuals, residual_scale, False),
    )
    for row_index, (label, unit, grids, scale, relative) in enumerate(rows):
        y = header + row_index * (row_h + GAP)
        _draw_text(draw, (MARGIN, y + name_h + grid_h // 2 - 18), label, font=name_font, fill=INK)
        _draw_text(draw, (MARGIN, y + name_h + grid_h // 2 + 2), unit, font=small, fill=MUTED)
        for index, (result, grid) in enumerate(zip(methods, grids, strict=True)):
            x = MARGIN + label_w + index * (col_w + GAP)
            _draw_text(draw, (x, y), _fit(result.name, name_font, col_w), font=name_font, fill=INK)
            gy = y + name_h
            for p in range(s[0]):
                for q in range(s[1]):
                    value = float(grid[p, q])
                    t = (value - 1.0) / scale if relative else value / scale
                    fill = _diverging(t)
                    box = (
                        x + q * cell,
                        gy + p * cell,
                        x + (q + 1) * cell - 1,
                        gy + (p + 1) * cell - 1,
                    )
                    draw.rectangle(box, fill=fill, outline=FRAME)
                    text = _cell_text(value, relative)
                    tw, th = _text_size(value_font, text)
                    _draw_text(
                        draw,
                        (box[0] + (cell - tw) // 2, box[1] + (cell - th) // 2 - 1),
                        text,
                        font=value_font,
                        fill=_ink_for(fill),
                    )
            verdict_y = gy + grid_h + 6
            if relative:
                _verdict_line(draw, (x, verdict_y), result.verdict, small)
            else:
                _draw_text(
                    draw,
                    (x, verdict_y),
                    f"cb_rel {format_score(result.cb_rel, 3)}",
                    font=small,
                    fill=MUTED,
                )
        bar_x = width - MARGIN - legend_w + 20
        if relative:
            labels = (f"{1 + scale:.2f}", "1.00", f"{1 - scale:.2f}")
        else:
            labels = (f"+{scale:.3g}", "0", f"−{scale:.3g}")
        _colour_bar(draw, (bar_x, y + name_h), grid_h, labels, "colour scale", small)
    return image


# --------------------------------------------------------------------------------------------
# Spectra
# --------------------------------------------------------------------------------------------


def _spectrum_rgb(log_magnitude: np.ndarray) -> np.ndarray:
    lo = float(np.percentile(log_magnitude, 1.0))
    hi = float(np.percentile(log_magnitude, 99.95))
    if hi <= lo:
        hi = lo + 1.0
    return _to_rgb8(log_magnitude, lo, hi)


def _fraction(k: int, s: int) -> str:
    """``k/s`` in lowest terms, as a frequency in (-1/2, 1/2]: 0, 1/3, -1/3, 1/2."""
    if k == 0:
        return "0"
    if 2 * k > s:
        k -= s
    d = math.gcd(abs(k), s)
    return f"{k // d}/{s // d}"


def _marks(
    draw: ImageDraw.ImageDraw,
    origin: tuple[int, int],
    bins: Sequence[tuple[int, int]],
    dc: tuple[int, int],
    zoom: int,
    radius: int,
) -> None:
    x0, y0 = origin
    n = 2 * dc[0]
    for row, col in bins:
        # Frequency -1/2 (index 0 after the shift) is also +1/2: mark it on both edges.
        for r in (row, n) if row == 0 else (row,):
            for c in (col, n) if col == 0 else (col,):
                cx, cy = x0 + c * zoom + zoom // 2, y0 + r * zoom + zoom // 2
                draw.ellipse(
                    (cx - radius, cy - radius, cx + radius, cy + radius),
                    outline=GRID_MARK,
                    width=2,
                )
    cx, cy = x0 + dc[1] * zoom + zoom // 2, y0 + dc[0] * zoom + zoom // 2
    draw.line((cx - radius, cy, cx + radius, cy), fill=DC_MARK, width=2)
    draw.line((cx, cy - radius, cx, cy + radius), fill=DC_MARK, width=2)


def spectra_figure(report: Report) -> Image.Image:
    """Log-magnitude spectra with the checkerboard frequencies marked, one panel per output."""
    s = report.stride
    entries: list[tuple[str, np.ndarray, str | None]] = []
    if report.roundtrip:
        entries.append(("ground truth", np.asarray(report.reference, dtype=np.float64), None))
    entries += [(m.name, m.output, m.verdict) for m in report.methods]
    spectra = [spectrum(array, s) for _, array, _ in entries]
    n = spectra[0].log_magnitude.shape[0]
    zoom = max(1, 200 // n)
    side = n * zoom
    radius = max(6, min(12, side // 20))
    pad = radius + 3
    name_font, small = _font(15), _font(13)
    line_h = _text_size(small, "Ag")[1] + 4
    label_h = _text_size(name_font, "Ag")[1] + 8 + 2 * line_h
    cell_w = max(side + 2 * pad, 200)
    columns = min(4, len(entries))
    rows = math.ceil(len(entries) / columns)
    width = max(2 * MARGIN + columns * cell_w + (columns - 1) * GAP, 760)
    title = f"Spectra · {Path(report.image).name} · stride {_stride_text(s)}"
    subtitle = (
        f"log(1 + |FFT|) of the central {n}×{n} pixels of each output (luminance, periodic "
        "component so the borders do not draw a cross), zero frequency in the middle, "
        "horizontal frequency kx left to right and vertical ky top to bottom, from −½ to +½ "
        "cycles per pixel. A grid of period s puts bright spots inside the circles."
    )
    probe = Image.new("RGB", (width, 10))
    header = _title(ImageDraw.Draw(probe), width, title, subtitle)
    legend_h = 3 * line_h + 16
    height = header + rows * (side + 2 * pad + label_h) + (rows - 1) * GAP + legend_h + MARGIN
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    _title(draw, width, title, subtitle)
    for index, ((name, _, verdict), spec) in enumerate(zip(entries, spectra, strict=True)):
        r, c = divmod(index, columns)
        x = MARGIN + c * (cell_w + GAP)
        y = header + r * (side + 2 * pad + label_h + GAP)
        px, py = x + pad, y + pad
        image.paste(Image.fromarray(_zoom(_spectrum_rgb(spec.log_magnitude), zoom)), (px, py))
        draw.rectangle((px - 1, py - 1, px + side, py + side), outline=FRAME)
        _marks(draw, (px, py), spec.grid_bins, spec.dc, zoom, radius)
        ty = y + side + 2 * pad
        _draw_text(draw, (x, ty), _fit(name, name_font, cell_w), font=name_font, fill=INK)
        ty += _text_size(name_font, "Ag")[1] + 8
        share = f"energy on the circles {100 * spec.energy_share:.2f}%"
        _draw_text(draw, (x, ty), _fit(share, small, cell_w), font=small, fill=MUTED)
        ty += line_h
        if verdict is not None:
            _verdict_line(draw, (x, ty), verdict, small)
    ly = height - MARGIN - legend_h + 8
    lx = MARGIN
    draw.ellipse((lx, ly, lx + 2 * radius, ly + 2 * radius), outline=GRID_MARK, width=2)
    kx = ", ".join(_fraction(k, s[1]) for k in range(s[1]))
    ky = ", ".join(_fraction(k, s[0]) for k in range(s[0]))
    _draw_text(
        draw,
        (lx + 2 * radius + 10, ly + radius - 8),
        f"checkerboard frequency: kx ∈ {{{kx}}}, ky ∈ {{{ky}}} cycles/pixel (not both 0)",
        font=small,
        fill=INK,
    )
    ly += 2 * radius + 8
    cx, cy = lx + radius, ly + radius
    draw.line((cx - radius, cy, cx + radius, cy), fill=DC_MARK, width=2)
    draw.line((cx, cy - radius, cx, cy + radius), fill=DC_MARK, width=2)
    _draw_text(
        draw,
        (lx + 2 * radius + 10, ly + radius - 8),
        "zero frequency (the mean); the percentage is the share of the energy (not counting "
        "the mean) on the circles",
        font=small,
        fill=INK,
    )
    return image


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------


def figure_files(folder: str | Path) -> dict[str, Path]:
    """``{"contact_sheet", "phase_means", "spectra"}`` -> the PNG paths in ``folder``."""
    folder = Path(folder)
    return {
        "contact_sheet": folder / "contact_sheet.png",
        "phase_means": folder / "phase_means.png",
        "spectra": folder / "spectra.png",
    }


def write_figures(report: Report, folder: str | Path, *, overwrite: bool = False) -> list[Path]:
    """Draw the three figures and write them as PNG in ``folder`` (created when missing).

    Every target is checked before the first is written; an existing file is kept unless
    ``overwrite``.
    """
    files = figure_files(folder)
    prepare_folder(folder)
    check_free(list(files.values()), overwrite=overwrite, sources=[report.image])
    drawings = {
        "contact_sheet": contact_sheet(report),
        "phase_means": phase_mean_figure(report),
        "spectra": spectra_figure(report),
    }
    for key, path in files.items():
        picture = drawings[key]

        def write(tmp: Path, picture: Image.Image = picture) -> None:
            picture.save(tmp, format="PNG")

        imageio.atomic_write(path, write, overwrite=overwrite)
    return list(files.values())


# --------------------------------------------------------------------------------------------
# upsamp measure --figures: one picture per measured image
# --------------------------------------------------------------------------------------------

#: Largest side of a spectrum panel of the measure figure (a smaller crop is zoomed up to it).
MEASURE_PANEL = 256


def _measure_cell_size(stride: tuple[int, ...]) -> int:
    return max(24, min(64, 192 // max(stride)))


def _residual_grid(
    draw: ImageDraw.ImageDraw, xy: tuple[int, int], grid: np.ndarray, scale: float
) -> None:
    s_h, s_w = grid.shape
    cell = _measure_cell_size(grid.shape)
    font = _font(max(10, min(16, cell // 4)))
    x, y = xy
    for p in range(s_h):
        for q in range(s_w):
            value = float(grid[p, q])
            fill = _diverging(value / scale)
            box = (x + q * cell, y + p * cell, x + (q + 1) * cell - 1, y + (p + 1) * cell - 1)
            draw.rectangle(box, fill=fill, outline=FRAME)
            text = f"{value:+.2f}" if abs(value) < 100 else f"{value:+.3g}"
            tw, th = _text_size(font, text)
            _draw_text(
                draw,
                (box[0] + (cell - tw) // 2, box[1] + (cell - th) // 2 - 1),
                text,
                font=font,
                fill=_ink_for(fill),
            )


def measure_figure(
    image: np.ndarray, result: dict[str, Any], *, name: str = "image"
) -> Image.Image:
    """The figure of one :func:`upsamp.measure.measure_image` result (RGB image)."""
    s = tuple(result["stride"])
    columns: list[tuple[str, np.ndarray, dict[str, Any]]] = [("this image", image, result)]
    if result["baseline"] is not None:
        method = result["baseline"]["method"]
        enlarged = baseline_image(image, s, method)
        columns.append((f"baseline: ÷{s[0]} then {method}", enlarged, measure_image(enlarged, s)))
    grids = [
        worst_plane(np.asarray(col[2]["residual_phase_means"]), relative=False) for col in columns
    ]
    scale = max([1e-12] + [float(np.max(np.abs(g))) for g in grids])
    spectra = [spectrum(np.asarray(col[1], dtype=np.float64), s) for col in columns]

    name_font, small = _font(15), _font(13)
    line_h = _text_size(small, "Ag")[1] + 4
    n = spectra[0].log_magnitude.shape[0]
    zoom = max(1, MEASURE_PANEL // n)
    side = n * zoom
    radius = max(6, min(12, side // 20))
    cell = _measure_cell_size(s)
    grid_h = s[0] * cell
    panel_w = max(side + 2 * radius, s[1] * cell)
    col_w = panel_w + GAP
    width = max(2 * MARGIN + len(columns) * col_w, 560)
    stride_text = str(s[0]) if s[0] == s[1] else f"{s[0]}×{s[1]}"
    title = f"Checkerboard · {Path(name).name} · stride {stride_text}"
    subtitle = (
        "Top: mean of the residual (image minus its s×s box mean) on each output phase, in "
        "pixel values: a grid shows as cells far from 0 (one colour scale for both columns). "
        "Bottom: log(1 + |FFT|) of the central crop, zero frequency in the middle; a grid of "
        "period s puts bright spots inside the circles."
    )
    header = _title(ImageDraw.Draw(Image.new("RGB", (width, 10))), width, title, subtitle)
    column_h = line_h + 8 + grid_h + 3 * radius + side + 4 * line_h
    height = header + column_h + 3 * line_h + MARGIN
    picture = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(picture)
    _title(draw, width, title, subtitle)
    for index, ((label, _, numbers), grid, spec) in enumerate(
        zip(columns, grids, spectra, strict=True)
    ):
        x = MARGIN + index * col_w
        y = header
        _draw_text(draw, (x, y), _fit(label, name_font, panel_w), font=name_font, fill=INK)
        y += line_h + 8
        _residual_grid(draw, (x, y), grid, scale)
        y += grid_h + 2 * radius
        px, py = x + radius, y
        picture.paste(Image.fromarray(_zoom(_spectrum_rgb(spec.log_magnitude), zoom)), (px, py))
        draw.rectangle((px - 1, py - 1, px + side, py + side), outline=FRAME)
        _marks(draw, (px, py), spec.grid_bins, spec.dc, zoom, radius)
        y = py + side + radius
        for text in (
            f"cb_rel {format_score(numbers['cb_rel'], 4)}"
            f" · tile max {format_score(numbers['tile_max'], 3)}",
            f"energy on the circles {100 * numbers['checkerboard_energy']:.4f}%",
        ):
            _draw_text(draw, (x, y), _fit(text, small, panel_w), font=small, fill=MUTED)
            y += line_h
    y = height - MARGIN - 2 * line_h
    if result["verdict"] is None:
        _draw_text(draw, (MARGIN, y), "no verdict without a baseline", font=small, fill=MUTED)
    else:
        _verdict_line(draw, (MARGIN, y), result["verdict"], name_font)
        rule = (
            f"cb_rel {format_score(result['cb_rel'], 4)} vs bound "
            f"{format_score(result['bound'], 4)} (baseline cb_rel + 0.05)"
        )
        _draw_text(draw, (MARGIN + 150, y + 2), rule, font=small, fill=MUTED)
    return picture


def write_measure_figure(
    path: str | Path,
    image: np.ndarray,
    result: dict[str, Any],
    *,
    name: str = "image",
    overwrite: bool = False,
) -> Path:
    """Draw :func:`measure_figure` and write it as PNG at ``path`` (atomically; an existing
    file is kept unless ``overwrite``)."""
    picture = measure_figure(image, result, name=name)

    def write(tmp: Path) -> None:
        picture.save(tmp, format="PNG")

    imageio.atomic_write(Path(path), write, overwrite=overwrite)
    return Path(path)
