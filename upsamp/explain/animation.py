"""The animated GIF of ``upsamp explain --gif``: the scatter steps, drawn with Pillow.

One frame per input element (the element highlighted in the input, its partial product
``x[i, j]·K`` in the full output, and the running sum), then one frame with the sum and the
output that padding crops from it. Like :mod:`upsamp.figures`, this module only lays out pixels
and text; every number comes from the explanation (:func:`upsamp.explain.views.explain`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

__all__ = ["frames", "save_gif"]

CELL = 44
MARGIN = 24
GAP = 40
TITLE = 64
LABEL = 26

BACKGROUND = (255, 255, 255)
INK = (33, 37, 41)
MUTED = (150, 154, 158)
GRID = (190, 194, 198)
MARK = (214, 51, 51)
FILLED = (255, 236, 179)
CUT = (232, 232, 232)

#: Milliseconds per step frame, and for the last (sum) frame.
STEP_MS = 1000
LAST_MS = 3000


def _font(size: int) -> Any:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _number(value: float) -> str:
    number = float(value)
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return f"{number:.3g}"


def _grid_width(grid: list[list[Any]]) -> int:
    return len(grid[0]) * CELL


def _draw_grid(
    draw: Any,
    origin: tuple[int, int],
    grid: list[list[float]],
    label: str,
    font: Any,
    *,
    marks: set[tuple[int, int]] = frozenset(),  # type: ignore[assignment]
    fills: set[tuple[int, int]] = frozenset(),  # type: ignore[assignment]
    cut: set[tuple[int, int]] = frozenset(),  # type: ignore[assignment]
    dots: bool = False,
) -> None:
    x0, y0 = origin
    draw.text((x0, y0), label, fill=INK, font=font)
    y0 += LABEL
    for r, row in enumerate(grid):
        for c, value in enumerate(row):
            box = (x0 + c * CELL, y0 + r * CELL, x0 + (c + 1) * CELL, y0 + (r + 1) * CELL)
            background = CUT if (r, c) in cut else FILLED if (r, c) in fills else BACKGROUND
            draw.rectangle(box, fill=background, outline=GRID)
            if (r, c) in marks:
                draw.rectangle(
                    (box[0] + 1, box[1] + 1, box[2] - 1, box[3] - 1), outline=MARK, width=3
                )
            text = "·" if dots and value == 0 else _number(value)
            colour = MUTED if (dots and value == 0) or (r, c) in cut else INK
            draw.text(
                ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2),
                text,
                fill=colour,
                font=font,
                anchor="mm",
            )


def _step_title(step: dict) -> str:
    i, j = step["at"]
    return (
        f"x[{i},{j}] = {_number(step['value'])}: add x[{i},{j}]·K at "
        f"({step['offset'][0]}, {step['offset'][1]})"
    )


def _last_title(view: dict) -> str:
    cut = " (grey: cut by padding)" if any(view["crop"]) else ""
    return f"the sum of the {len(view['partials'])} partial products{cut}"


def frames(doc: dict) -> list[Image.Image]:
    """The frames of the scatter animation of an explanation that has the scatter view."""
    if "scatter" not in doc:
        raise ValueError("the animation needs the scatter view")
    view = doc["scatter"]
    x = doc["edge"]["input"] if "edge" in doc else doc["input"]
    full, output = view["full"], doc["output"]
    title_font, font = _font(20), _font(16)
    width = MARGIN * 2 + _grid_width(x) + GAP + _grid_width(full) * 2 + GAP
    width = max(width, MARGIN * 2 + _grid_width(full) + GAP + _grid_width(output), 520)
    titles = [_step_title(step) for step in view["partials"]] + [_last_title(view)]
    width = max(width, MARGIN * 2 + max(int(title_font.getlength(t)) + 1 for t in titles))
    height = MARGIN + TITLE + LABEL + max(len(x), len(full)) * CELL + MARGIN
    running = [[0.0] * len(full[0]) for _ in full]
    images = []
    for step in view["partials"]:
        for r, row in enumerate(step["partial"]):
            for c, value in enumerate(row):
                running[r][c] += value
        touched = {
            (r, c) for r, row in enumerate(step["partial"]) for c, v in enumerate(row) if v != 0
        }
        image = Image.new("RGB", (width, height), BACKGROUND)
        draw = ImageDraw.Draw(image)
        i, j = step["at"]
        draw.text((MARGIN, MARGIN), _step_title(step), fill=INK, font=title_font)
        top = MARGIN + TITLE
        left = MARGIN
        _draw_grid(draw, (left, top), x, "input x", font, marks={(i, j)})
        left += _grid_width(x) + GAP
        _draw_grid(draw, (left, top), step["partial"], f"x[{i},{j}]·K", font, dots=True)
        left += _grid_width(full) + GAP
        _draw_grid(draw, (left, top), running, "sum so far", font, fills=touched)
        images.append(image)
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    crop = view["crop"]
    draw.text((MARGIN, MARGIN), _last_title(view), fill=INK, font=title_font)
    rows, cols = len(full), len(full[0])
    cut = {
        (r, c)
        for r in range(rows)
        for c in range(cols)
        if r < crop[0] or c < crop[1] or r >= rows - max(crop[2], 0) or c >= cols - max(crop[3], 0)
    }
    top = MARGIN + TITLE
    _draw_grid(draw, (MARGIN, top), full, "full sum", font, cut=cut)
    _draw_grid(draw, (MARGIN + _grid_width(full) + GAP, top), output, "output y", font)
    images.append(image)
    return images


def save_gif(doc: dict, path: str | Path) -> None:
    """Write the animation to ``path`` as a looping GIF (the caller makes the write atomic)."""
    images = frames(doc)
    durations = [STEP_MS] * (len(images) - 1) + [LAST_MS]
    images[0].save(
        path,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=durations,
        loop=0,
        disposal=1,
    )
