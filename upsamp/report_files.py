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
    the mode or channel count has no image format: 32-bit, float, or other channel counts).
    Two methods whose names give one file name (``transconv:a.npy`` and ``transconv:x/a.npy``)
    get ``<name>-2``... for the later ones, key and file alike: nothing is written twice."""
    return {key: path for key, (path, _) in _planned(report, Path(folder)).items()}


def _planned(report: Report, folder: Path) -> dict[str, tuple[Path, np.ndarray]]:
    """``{key: (file, values)}`` for every file :func:`save_outputs` writes, in order."""
    planned: dict[str, tuple[Path, np.ndarray]] = {}
    if report.roundtrip:
        extension = _extension(report.mode, report.reference)
        planned["ground-truth"] = (folder / f"ground-truth{extension}", report.reference)
    taken: set[Path] = {path for path, _ in planned.values()}
    for result in report.methods:
        stem, extension = _file_stem(result.name), _extension(report.mode, result.stored)
        key, path, copy = result.name, folder / f"{stem}{extension}", 1
        while path in taken or key in planned:
            copy += 1
            key, path = f"{result.name}-{copy}", folder / f"{stem}-{copy}{extension}"
        taken.add(path)
        planned[key] = (path, result.stored)
    return planned


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


def check_free(
    paths: Sequence[Path], *, overwrite: bool, sources: Sequence[str | Path] = ()
) -> None:
    """Raise :class:`~upsamp.errors.OutputError` for the first path that exists (unless
    ``overwrite``), is a folder or is one of the files read (``sources``, never replaced),
    before anything is written."""
    for path in paths:
        imageio.check_target(path, overwrite, source=sources, folder_made_later=True)


def save_outputs(report: Report, folder: str | Path, *, overwrite: bool = False) -> list[Path]:
    """Write each method's output as saved (quantized to the image's dtype, in its mode), and
    the cropped ground truth for a round trip, so every number can be checked independently.

    The folder is created when missing; no file is replaced unless ``overwrite`` (every target
    is checked before the first is written).
    """
    planned = _planned(report, Path(folder))
    prepare_folder(folder)
    files = [path for path, _ in planned.values()]
    check_free(files, overwrite=overwrite, sources=[report.image])
    for path, values in planned.values():
        imageio.save_image(path, values, None, mode=report.mode, overwrite=overwrite)
    return files
