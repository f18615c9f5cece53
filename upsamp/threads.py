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
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from .resources import usable_cpus

__all__ = ["THREADS_VARIABLE", "OrderedJobs", "image_threads", "run_in_bands"]

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


class OrderedJobs:
    """Jobs run on up to ``threads`` worker threads, their results handed to ``emit`` in the
    order the jobs were submitted, with at most ``2 · threads`` jobs in flight (so a producer
    faster than the workers waits instead of queueing without bound). With one thread each job
    runs at once in the caller's thread. The stream encoders (PNG pieces, JPEG strips) use it.
    """

    def __init__(self, threads: int, emit: Callable[[Any], None]) -> None:
        self._threads = max(1, int(threads))
        self._emit = emit
        self._pool: ThreadPoolExecutor | None = None
        self._pending: deque[Future] = deque()

    def submit(self, job: Callable[..., Any], *args: Any) -> None:
        """Run ``job(*args)``; emit the results that are due."""
        if self._threads == 1:
            self._emit(job(*args))
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self._threads)
        self._pending.append(self._pool.submit(job, *args))
        while len(self._pending) >= 2 * self._threads:
            self._emit(self._pending.popleft().result())

    def drain(self) -> None:
        """Wait for every job and emit the remaining results in order."""
        while self._pending:
            self._emit(self._pending.popleft().result())

    def cancel(self) -> None:
        """Drop the jobs not started; their results are never emitted."""
        for future in self._pending:
            future.cancel()
        self._pending.clear()

    def shutdown(self) -> None:
        """Stop the worker threads (after the running jobs end)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
