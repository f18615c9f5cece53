"""Small arrays typed on the command line or read from small files (``upsamp explain``).

An ARRAY is one of

* inline JSON: ``"[[1, 2], [3, 4]]"`` (a flat list ``"[1, 2, 3]"`` is one row);
* rows separated by semicolons, values by spaces or commas: ``"1 2; 3 4"``;
* a file: ``.npy`` (read with ``allow_pickle=False``), ``.json`` (a nested list), ``.csv`` or
  ``.txt`` (one row per line, values separated by commas or spaces).

Every problem is a :class:`~upsamp.errors.InputError` with a one-line message that names the
argument: a ragged or non-numeric array, an empty one, NaN or infinity, a rank other than 1 or 2,
or more than ``limit`` rows or columns. The result is always a 2-D float64 array.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..geometry import format_size

__all__ = ["ARRAY_LIMIT", "FILE_SUFFIXES", "looks_like_file", "parse_array"]

#: Largest number of rows or columns ``explain`` takes for an input or a kernel.
ARRAY_LIMIT = 16

#: File types an ARRAY may name.
FILE_SUFFIXES = (".npy", ".json", ".csv", ".txt")

_SEPARATOR = re.compile(r"[,\s]+")


def looks_like_file(text: str) -> bool:
    """True when ``text`` names an existing file or ends in one of :data:`FILE_SUFFIXES`."""
    stripped = text.strip()
    if not stripped or stripped.startswith("[") or ";" in stripped:
        return False
    path = Path(stripped)
    try:
        return path.suffix.lower() in FILE_SUFFIXES or path.is_file()
    except (OSError, ValueError):  # a name the file system cannot even look up
        return False


def parse_array(text: str, *, name: str = "ARRAY", limit: int = ARRAY_LIMIT) -> np.ndarray:
    """Parse an ARRAY argument (see the module docstring) into a 2-D float64 array.

    Parameters
    ----------
    text : str
        Inline JSON, semicolon-separated rows, or the path of a .npy/.json/.csv/.txt file.
    name : str
        How error messages call the argument (``--input``).
    limit : int
        Largest number of rows and of columns accepted.

    Examples
    --------
    >>> parse_array("[[1, 2], [3, 4]]")
    array([[1., 2.],
           [3., 4.]])
    >>> parse_array("1 2; 3 4").tolist()
    [[1.0, 2.0], [3.0, 4.0]]
    >>> parse_array("[1, 2, 3]").shape
    (1, 3)
    """
    stripped = text.strip()
    if looks_like_file(stripped):
        array = _read_file(Path(stripped), name)
    elif stripped.startswith("["):
        try:
            doc = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{name}: not a valid JSON array ({exc.msg} at column {exc.colno})"
            ) from None
        array = _from_nested(doc, name)
    else:
        array = _from_rows(stripped.split(";"), name)
    return _checked(array, name, limit)


def _read_file(path: Path, name: str) -> np.ndarray:
    origin = f"{name} {path}"
    if not path.is_file():
        raise InputError(f"{origin}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            raw = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(f"{origin}: not a readable .npy array ({reason})") from None
        if not isinstance(raw, np.ndarray) or raw.dtype.kind not in "biuf":
            kind = raw.dtype if isinstance(raw, np.ndarray) else type(raw).__name__
            raise InputError(f"{origin}: the array must be numeric, got {kind}")
        return raw.astype(np.float64)
    try:
        content = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{origin}: cannot be read as text ({type(exc).__name__})") from None
    if suffix == ".json":
        try:
            doc = json.loads(content)
        except json.JSONDecodeError as exc:
            raise InputError(f"{origin}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        return _from_nested(doc, origin)
    if suffix in (".csv", ".txt"):
        return _from_rows(content.splitlines(), origin)
    raise InputError(f"{origin}: arrays are read from {', '.join(FILE_SUFFIXES)} files")


def _number(value: Any, name: str) -> float:
    """A JSON value that must be a number (booleans are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{name}: {json.dumps(value)[:20]} is not a number")
    return float(value)


def _from_nested(doc: Any, name: str) -> np.ndarray:
    """A JSON document that must be a list of numbers or a list of equally long rows."""
    if not isinstance(doc, list):
        raise InputError(f"{name}: expected a list of rows such as [[1, 2], [3, 4]]")
    if not doc:
        raise InputError(f"{name}: the array is empty")
    if all(not isinstance(item, list) for item in doc):
        return np.array([[_number(v, name) for v in doc]])
    if not all(isinstance(item, list) for item in doc):
        raise InputError(f"{name}: mixes numbers and rows; write every row as a list")
    rows = []
    for row in doc:
        if any(isinstance(v, list) for v in row):
            raise InputError(f"{name}: explain takes 2-D arrays (rows of numbers), not deeper")
        rows.append([_number(v, name) for v in row])
    return _rectangular(rows, name)


def _from_rows(lines: list[str], name: str) -> np.ndarray:
    """Rows of numbers separated by commas or spaces; blank rows are skipped."""
    rows = []
    for line in lines:
        tokens = [t for t in _SEPARATOR.split(line.strip()) if t]
        if not tokens:
            continue
        row = []
        for token in tokens:
            try:
                row.append(float(token))
            except ValueError:
                raise InputError(f"{name}: {token[:20]!r} is not a number") from None
        rows.append(row)
    if not rows:
        raise InputError(f"{name}: the array is empty")
    return _rectangular(rows, name)


def _rectangular(rows: list[list[float]], name: str) -> np.ndarray:
    lengths = sorted({len(row) for row in rows})
    if len(lengths) > 1:
        raise InputError(
            f"{name}: ragged array: rows have different lengths "
            f"({', '.join(str(n) for n in lengths)})"
        )
    if lengths[0] == 0:
        raise InputError(f"{name}: the array is empty")
    return np.array(rows, dtype=np.float64)


def _checked(array: np.ndarray, name: str, limit: int) -> np.ndarray:
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2:
        raise InputError(f"{name}: explain takes 2-D arrays, got shape {array.shape}")
    if array.size == 0:
        raise InputError(f"{name}: the array is empty (shape {array.shape})")
    if not np.all(np.isfinite(array)):
        raise InputError(f"{name}: values must be finite numbers (found NaN or infinity)")
    rows, cols = array.shape
    if rows > limit or cols > limit:
        raise InputError(
            f"{name}: the array is {format_size(array.shape)}; explain shows arrays up to "
            f"{limit}×{limit}"
        )
    return array.astype(np.float64, copy=False)
