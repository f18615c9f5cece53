"""Generate synthetic test patterns that make upsampling artifacts easy to see.

Every pattern is computed from a closed-form formula with NumPy (no randomness), so running
the script twice gives the same pixel values, and saved as a PNG with Pillow (no metadata).

Patterns (file: mode, width x height):

- ``zone_plate.png``: L, 256x256. Circular zone plate; aliasing and ringing show as moire.
- ``checker_fine.png``: L, 128x128. 1-pixel checkerboard, the highest representable frequency.
- ``checker_4px.png``: L, 128x128. 4-pixel checkerboard; sharp edges show ringing/blur.
- ``gradient.png``: RGB, 256x64. Smooth ramps; any grid or banding artifact stands out.
- ``flat_gray.png``: L, 64x64. Constant 128; a correct upsampler must keep it exactly flat.
- ``small_4x4.png``: L, 4x4. Values 0, 16, ..., 240 row-major; small enough to print.

Usage::

    python benchmarks/make_test_patterns.py               # writes into sample_images/
    python benchmarks/make_test_patterns.py out_dir --overwrite

Existing files are left alone unless ``--overwrite`` is given.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image


def zone_plate(size: int = 256) -> np.ndarray:
    """Return a ``(size, size)`` uint8 circular zone plate.

    ``value = round(127.5 + 127.5 * cos(k * r**2))`` where ``r`` is the distance of the pixel
    centre from the image centre ``((size - 1) / 2, (size - 1) / 2)``, so the pattern is
    symmetric under horizontal and vertical flips.

    The phase ``k * r**2`` has local frequency ``f(r) = k * r / pi`` cycles/pixel. With
    ``k = pi / size`` the frequency grows linearly from 0 at the centre to 0.5 cycles/pixel
    (Nyquist) at ``r = size / 2``, i.e. the middle of each edge; towards the corners
    (``r`` up to ``size / sqrt(2)``) it exceeds Nyquist (about 0.71 cycles/pixel), so the
    corners already contain aliased rings in the source image itself.
    """
    k = np.pi / size
    c = (size - 1) / 2.0
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    r2 = (x - c) ** 2 + (y - c) ** 2
    values = 127.5 + 127.5 * np.cos(k * r2)
    return np.rint(values).astype(np.uint8)


def checkerboard(size: int = 128, square: int = 1) -> np.ndarray:
    """Return a ``(size, size)`` uint8 checkerboard of ``square``-pixel squares.

    ``value = 255 * ((x // square + y // square) % 2)``: the top-left square is 0 (black).
    With ``square=1`` neighbouring pixels alternate 0/255 (0.5 cycles/pixel in x and y).
    """
    y, x = np.mgrid[0:size, 0:size]
    return (255 * ((x // square + y // square) % 2)).astype(np.uint8)


def gradient(width: int = 256, height: int = 64) -> np.ndarray:
    """Return a ``(height, width, 3)`` uint8 RGB image of smooth ramps.

    ``R = round(255 * x / (width - 1))`` (horizontal ramp, 0 at the left to 255 at the right),
    ``G = round(255 * y / (height - 1))`` (vertical ramp, 0 at the top to 255 at the bottom),
    ``B = 128`` everywhere. With the default width of 256, ``R`` equals ``x`` exactly.
    """
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    rgb = np.empty((height, width, 3), dtype=np.uint8)
    rgb[..., 0] = np.rint(255.0 * x / (width - 1))
    rgb[..., 1] = np.rint(255.0 * y / (height - 1))
    rgb[..., 2] = 128
    return rgb


def flat_gray(size: int = 64, value: int = 128) -> np.ndarray:
    """Return a ``(size, size)`` uint8 image with every pixel equal to ``value`` (default 128)."""
    return np.full((size, size), value, dtype=np.uint8)


def small_4x4() -> np.ndarray:
    """Return a ``(4, 4)`` uint8 image: ``value[y, x] = 16 * (4 * y + x)``, i.e. 0, 16, ..., 240
    row-major."""
    return (16 * np.arange(16, dtype=np.uint8)).reshape(4, 4)


#: File name -> function returning the pattern's array (2-D means L, (H, W, 3) means RGB).
PATTERNS: dict[str, Callable[[], np.ndarray]] = {
    "zone_plate.png": zone_plate,
    "checker_fine.png": lambda: checkerboard(128, 1),
    "checker_4px.png": lambda: checkerboard(128, 4),
    "gradient.png": gradient,
    "flat_gray.png": flat_gray,
    "small_4x4.png": small_4x4,
}


def write_patterns(out_dir: Path, overwrite: bool = False) -> list[Path]:
    """Write every pattern in :data:`PATTERNS` into ``out_dir`` (created if needed).

    Files that already exist are skipped unless ``overwrite`` is true. Returns the paths written.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, make in PATTERNS.items():
        path = out_dir / name
        if path.exists() and not overwrite:
            print(f"skip   {path} (exists; use --overwrite to replace)")
            continue
        image = Image.fromarray(make())  # uint8 2-D -> "L", uint8 (H, W, 3) -> "RGB"
        image.save(path, format="PNG", optimize=True)
        print(f"wrote  {path} ({image.mode}, {image.width}x{image.height})")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the process exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "out_dir",
        nargs="?",
        default="sample_images",
        type=Path,
        help="folder to write the PNG files into (default: sample_images)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace files that already exist"
    )
    args = parser.parse_args(argv)
    write_patterns(args.out_dir, overwrite=args.overwrite)
    return 0


if __name__ == "__main__":
    sys.exit(main())
