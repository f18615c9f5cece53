"""How many threads one image may use.

The transposed-convolution engine splits an image into bands and the PNG encoder deflates in
pieces; both run them on this many threads: the value of the environment variable
``UPSAMP_THREADS`` when it is set (``upsamp batch`` sets it in each worker process so that the
workers together use the CPUs once), else every CPU this process may run on. The thread count
never changes a result, only how fast it comes. :func:`run_in_bands` is the band runner the
numeric engines share.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from .resources import usable_cpus

__all__ = ["THREADS_VARIABLE", "image_threads", "run_in_bands"]

THREADS_VARIABLE = "UPSAMP_THREADS"


def image_threads() -> int:
    """Threads for one image: ``$UPSAMP_THREADS`` if set to a positive integer, else the CPUs
    this process may use."""
    value = os.environ.get(THREADS_VARIABLE, "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    return usable_cpus()


def run_in_bands(
    work: Callable[[int, int], None],
    start: int,
    stop: int,
    *,
    rows_per_band: int,
    threads: int | None = None,
) -> None:
    """Call ``work(a, b)`` for consecutive bands ``[a, b)`` covering ``[start, stop)``, on a
    thread pool of ``threads`` (default :func:`image_threads`) when there is more than one band.
    """
    bounds = [(a, min(a + rows_per_band, stop)) for a in range(start, stop, rows_per_band)]
    n_threads = min(threads or image_threads(), len(bounds))
    if n_threads <= 1:
        for a, b in bounds:
            work(a, b)
        return
    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        list(pool.map(lambda ab: work(*ab), bounds))
