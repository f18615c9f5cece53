"""How much of the machine a run may use: CPUs, memory, and the output budget.

One rule for the CPU count (:func:`usable_cpus`), one reading of the memory available
(:func:`available_memory`), one estimate of the working memory of an enlargement
(:func:`estimate_bytes`) and the check that refuses an output too large for either the pixel
limit or the memory (:func:`check_output_budget`). No Click, no Rich, no image I/O.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from .errors import OutputError

__all__ = [
    "DEFAULT_MAX_OUTPUT_PIXELS",
    "available_memory",
    "check_output_budget",
    "estimate_bytes",
    "usable_cpus",
]

#: Twice Pillow's decompression-bomb limit (89,478,485 pixels).
DEFAULT_MAX_OUTPUT_PIXELS = 2 * 89_478_485


def usable_cpus() -> int:
    """The number of CPUs this process may run on: its CPU affinity where the system has one,
    else ``os.cpu_count()``; at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no affinity outside Linux
        return max(1, os.cpu_count() or 1)


def estimate_bytes(
    input_shape: tuple[int, ...], out_shape: tuple[int, ...], itemsize: int = 4
) -> int:
    """Rough peak working memory of one enlargement: input as float, the output, a scatter buffer
    of the output's size, and the storage copy.

    >>> estimate_bytes((10, 10), (20, 20))
    5600
    """
    n_in = int(np.prod(input_shape))
    n_out = int(np.prod(out_shape))
    return itemsize * (n_in + 3 * n_out) + n_out


def available_memory() -> int | None:
    """Bytes of memory available to new allocations (``MemAvailable``), or None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_output_budget(
    input_shape: tuple[int, ...],
    out_shape: tuple[int, ...],
    max_output_pixels: int,
    *,
    estimate: Callable[[tuple[int, ...], tuple[int, ...]], int] = estimate_bytes,
) -> None:
    """Refuse an output larger than ``max_output_pixels`` or than the memory available (as
    ``estimate(input_shape, out_shape)`` bytes: :func:`estimate_bytes` for work done here)."""
    pixels = int(out_shape[0]) * int(out_shape[1])
    if pixels > max_output_pixels:
        raise OutputError(
            f"the output would be {out_shape[1]}x{out_shape[0]} = {pixels:,} pixels, more than "
            f"--max-output-pixels {max_output_pixels:,}"
        )
    need = estimate(input_shape, out_shape)
    available = available_memory()
    if available is not None and need > available:
        raise OutputError(
            f"the output would be {out_shape[1]}x{out_shape[0]} and needs about "
            f"{need / 2**30:.1f} GiB of memory; only {available / 2**30:.1f} GiB is available"
        )
