"""The picture of ``upsamp measure --figures``: one PNG per image, drawn with Pillow.

A figure module (it imports Pillow, as :mod:`upsamp.figures` does, whose drawing helpers it
shares); every number drawn comes from :mod:`upsamp.measure` and :func:`upsamp.report.spectrum`.
Per column (the image, then its baseline when there is one):

* the residual phase means (``r = y - s×s box mean of y``, mean of ``r`` on each output phase,
  in pixel values, the channel where they vary most): a grid shows as cells far from 0;
* the log-magnitude spectrum of the central crop with the checkerboard frequencies circled;
* cb_rel, its worst tile and the energy share on the circles.

The verdict and its bound close the figure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from . import imageio
from .figures import (
    BACKGROUND,
    FRAME,
    GAP,
    INK,
    MARGIN,
    MUTED,
    _diverging,
    _draw_text,
    _fit,
    _font,
    _ink_for,
    _marks,
    _spectrum_rgb,
    _text_size,
    _title,
    _verdict_line,
    _zoom,
)
from .measure import baseline_image, measure_image
from .report import format_score, spectrum

__all__ = ["measure_figure", "write_measure_figure"]

#: Largest side of a spectrum panel in pixels (a smaller crop is zoomed up to it).
PANEL = 256


def _worst_plane(means: np.ndarray) -> np.ndarray:
    """The ``(s_h, s_w)`` plane of the channel whose phase means vary most."""
    planes = means[:, :, None] if means.ndim == 2 else means
    spreads = [float(np.sqrt(np.mean((p - p.mean()) ** 2))) for p in np.moveaxis(planes, 2, 0)]
    return planes[:, :, int(np.argmax(spreads))]


def _cell_size(stride: tuple[int, ...]) -> int:
    return max(24, min(64, 192 // max(stride)))


def _phase_grid(
    draw: ImageDraw.ImageDraw, xy: tuple[int, int], grid: np.ndarray, scale: float
) -> None:
    s_h, s_w = grid.shape
    cell = _cell_size(grid.shape)
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
    grids = [_worst_plane(np.asarray(col[2]["residual_phase_means"])) for col in columns]
    scale = max([1e-12] + [float(np.max(np.abs(g))) for g in grids])
    spectra = [spectrum(np.asarray(col[1], dtype=np.float64), s) for col in columns]

    name_font, small = _font(15), _font(13)
    line_h = _text_size(small, "Ag")[1] + 4
    n = spectra[0].log_magnitude.shape[0]
    zoom = max(1, PANEL // n)
    side = n * zoom
    radius = max(6, min(12, side // 20))
    cell = _cell_size(s)
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
        _phase_grid(draw, (x, y), grid, scale)
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
