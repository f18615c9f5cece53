"""The report's output files: where each method's saved result goes, and writing them all.

Every target is checked (:func:`upsamp.imageio.check_target`) before the first is written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import imageio
from .errors import OutputError
from .report import Report

__all__ = ["check_free", "output_files", "prepare_folder", "save_outputs"]


def _file_stem(name: str) -> str:
    """``transconv:checkerboard`` -> ``transconv_checkerboard``; only ``[A-Za-z0-9._-]`` kept."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name.replace(":", "_")) or "output"


def _extension(mode: str, array: np.ndarray) -> str:
    channels = array.shape[2] if array.ndim == 3 else 1
    if (mode in ("L", "I;16") and channels == 1) or (mode == "RGB" and channels == 3):
        return ".png"
    return ".npy"


def output_files(report: Report, folder: str | Path) -> dict[str, Path]:
    """Where :func:`save_outputs` writes: ``{"ground-truth" (round trip only), method name:
    path}``. Each method's file is ``<name>.png`` with ``:`` replaced by ``_`` (``.npy`` when
    the mode or channel count has no image format: 32-bit, float, or other channel counts)."""
    folder = Path(folder)
    files: dict[str, Path] = {}
    if report.roundtrip:
        files["ground-truth"] = folder / f"ground-truth{_extension(report.mode, report.reference)}"
    for result in report.methods:
        files[result.name] = (
            folder / f"{_file_stem(result.name)}{_extension(report.mode, result.stored)}"
        )
    return files


def prepare_folder(folder: str | Path) -> Path:
    """Create ``folder`` (and its parents) when missing; refuse a path that is not a folder."""
    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path}: exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{path}: cannot create the folder ({exc.strerror or exc})") from None
    return path


def check_free(paths: Sequence[Path], *, overwrite: bool) -> None:
    """Raise :class:`~upsamp.errors.OutputError` for the first path that exists (unless
    ``overwrite``) or is a folder, before anything is written."""
    for path in paths:
        imageio.check_target(path, overwrite, folder_made_later=True)


def save_outputs(report: Report, folder: str | Path, *, overwrite: bool = False) -> list[Path]:
    """Write each method's output as saved (quantized to the image's dtype, in its mode), and
    the cropped ground truth for a round trip, so every number can be checked independently.

    The folder is created when missing; no file is replaced unless ``overwrite`` (every target
    is checked before the first is written).
    """
    files = output_files(report, folder)
    prepare_folder(folder)
    check_free(list(files.values()), overwrite=overwrite)
    arrays = {"ground-truth": report.reference} if report.roundtrip else {}
    arrays.update({m.name: m.stored for m in report.methods})
    for key, path in files.items():
        imageio.save_image(path, arrays[key], None, mode=report.mode, overwrite=overwrite)
    return list(files.values())
