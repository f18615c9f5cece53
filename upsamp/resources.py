"""How much of the machine a run may use: CPUs, memory, and the output budget.

One rule for the CPU count (:func:`usable_cpus`), one reading of the memory available
(:func:`available_memory`), both bounded by the limits of the control group the process runs
in (Docker, Kubernetes, SLURM: :mod:`upsamp.cgroup`), one estimate of the working memory of an
enlargement (:func:`estimate_bytes`) and the check that refuses an output too large for either
the pixel limit or the memory (:func:`check_output_budget`). No Click, no Rich, no image I/O.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from . import cgroup
from .errors import KernelError, OutputError
from .geometry import check_output_size, format_size

__all__ = [
    "DEFAULT_MAX_OUTPUT_PIXELS",
    "CGROUP_ROOT",
    "MAX_KERNEL_FILE_BYTES",
    "MAX_KERNEL_TAPS",
    "MAX_KERNEL_WORK",
    "check_kernel_size",
    "available_memory",
    "banded_bytes",
    "check_output_budget",
    "estimate_bytes",
    "usable_cpus",
]

#: 2**30 (1,073,741,824) pixels: a x2 enlargement of the largest input read by default
#: (2**28 pixels, :data:`upsamp.imageio.DEFAULT_MAX_PIXELS`), so that a 150-megapixel photo can
#: be enlarged x2 without options; the memory check below is the guard that matters.
DEFAULT_MAX_OUTPUT_PIXELS = 1 << 30

#: The directory standing for ``/`` when the cgroup files are read (tests point it at a fake tree).
CGROUP_ROOT = "/"


#: The largest kernel upsamp builds, reads or analyses: taps of the whole weight, and phases
#: (``s_h · s_w``, each a small array in the analysis). 2**24 taps are 128 MiB of float64.
MAX_KERNEL_TAPS = 1 << 24

#: The most work spent on building or repairing one kernel, in multiply-adds (a few seconds).
MAX_KERNEL_WORK = 1 << 31

#: The largest kernel file read (a JSON kernel is parsed whole; use .npy beyond this).
MAX_KERNEL_FILE_BYTES = 16 << 20


def check_kernel_size(
    taps: int, stride: tuple[int, int], what: str, *, copies: int = 4, work: int = 0
) -> None:
    """Refuse, before it is built, a kernel of ``taps`` values at ``stride`` that is larger than
    :data:`MAX_KERNEL_TAPS` (taps or phases), than the memory available for ``copies``
    float64 copies of it, or whose making takes more than :data:`MAX_KERNEL_WORK`
    multiply-adds (``work``). ``what`` names it (a file, or ``bilinear at stride 9x9``).

    >>> check_kernel_size(16, (2, 2), "k.json")
    >>> check_kernel_size(16, (5000, 5000), "k.json")
    Traceback (most recent call last):
    ...
    upsamp.errors.KernelError: k.json: stride 5000x5000 has 25,000,000 phases, more than \
upsamp handles (16,777,216)
    """
    phases = int(stride[0]) * int(stride[1])
    if phases > MAX_KERNEL_TAPS:
        raise KernelError(
            f"{what}: stride {stride[0]}x{stride[1]} has {phases:,} phases, more than upsamp "
            f"handles ({MAX_KERNEL_TAPS:,})"
        )
    if taps > MAX_KERNEL_TAPS:
        raise KernelError(
            f"{what}: {taps:,} kernel taps, more than upsamp handles ({MAX_KERNEL_TAPS:,})"
        )
    if work > MAX_KERNEL_WORK:
        raise KernelError(
            f"{what}: {work:,} multiply-adds to build, more than upsamp handles "
            f"({MAX_KERNEL_WORK:,}); use a smaller stride or kernel"
        )
    need = 8 * copies * (taps + phases)
    available = available_memory()
    if available is not None and need > available:
        raise KernelError(
            f"{what}: the kernel needs about {need / 2**30:.1f} GiB of memory; only "
            f"{available / 2**30:.1f} GiB is available"
        )


def usable_cpus() -> int:
    """The number of CPUs this process may use: its CPU affinity where the system has one (else
    ``os.cpu_count()``), lowered to the cgroup's CPU quota rounded up
    (:func:`upsamp.cgroup.cpu_limit`) when that is smaller; at least 1."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # no affinity outside Linux
        cpus = os.cpu_count() or 1
    quota = cgroup.cpu_limit(CGROUP_ROOT)
    if quota is not None:
        cpus = min(cpus, quota)
    return max(1, cpus)


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


def banded_bytes(
    input_shape: tuple[int, ...],
    out_shape: tuple[int, ...],
    *,
    storage_itemsize: int,
    alpha: bool,
    band_values: int,
) -> int:
    """Peak working memory of a banded enlargement into an image: the stored output (its
    colour and alpha in the storage type), a float32 copy of the input (premultiplied or
    linear colour), and a few float32 bands of ``band_values`` values.

    >>> banded_bytes((10, 10), (20, 20), storage_itemsize=1, alpha=False, band_values=100)
    2400
    """
    plane_out = int(out_shape[0]) * int(out_shape[1])
    plane_in = int(input_shape[0]) * int(input_shape[1])
    out_values = int(np.prod(out_shape)) + (plane_out if alpha else 0)
    in_values = int(np.prod(input_shape)) + (plane_in if alpha else 0)
    return storage_itemsize * out_values + 4 * in_values + 4 * 4 * band_values


def available_memory() -> int | None:
    """Bytes of memory available to new allocations: the host's (``MemAvailable``), lowered to
    what the cgroup still allows (its limit minus its usage, :func:`upsamp.cgroup.memory_available`)
    when that is smaller; None if neither is known."""
    host = _host_available_memory()
    group = cgroup.memory_available(CGROUP_ROOT)
    known = [value for value in (host, group) if value is not None]
    return min(known) if known else None


def _host_available_memory() -> int | None:
    """The host's ``MemAvailable`` (or free pages where there is no ``/proc``), or None."""
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
    ``estimate(input_shape, out_shape)`` bytes: :func:`estimate_bytes` for work done here),
    after refusing an empty or negative one (:func:`upsamp.geometry.check_output_size`), so that
    no pixel count is worked out from a negative size."""
    check_output_size(out_shape[:2], input_shape[:2])
    pixels = int(out_shape[0]) * int(out_shape[1])
    if pixels > max_output_pixels:
        raise OutputError(
            f"the output would be {format_size(out_shape)} = {pixels:,} pixels, more than "
            f"--max-output-pixels {max_output_pixels:,}"
        )
    need = estimate(input_shape, out_shape)
    available = available_memory()
    if available is not None and need > available:
        raise OutputError(
            f"the output would be {format_size(out_shape)} and needs about "
            f"{need / 2**30:.1f} GiB of memory; only {available / 2**30:.1f} GiB is available"
        )
