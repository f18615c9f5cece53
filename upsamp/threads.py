"""How many threads one image may use.

The transposed-convolution engine splits an image into bands and the PNG encoder deflates in
pieces; both run them on this many threads: the value of the environment variable
``UPSAMP_THREADS`` when it is set (``upsamp batch`` sets it in each worker process so that the
workers together use the CPUs once), else every CPU this process may run on. The thread count
never changes a result, only how fast it comes.
"""

from __future__ import annotations

import os

from .resources import usable_cpus

__all__ = ["THREADS_VARIABLE", "image_threads"]

THREADS_VARIABLE = "UPSAMP_THREADS"


def image_threads() -> int:
    """Threads for one image: ``$UPSAMP_THREADS`` if set to a positive integer, else the CPUs
    this process may use."""
    value = os.environ.get(THREADS_VARIABLE, "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    return usable_cpus()
