"""Time ``upsamp batch`` at ``--jobs 1`` and ``--jobs 2`` on real-photo crops, in one run.

Builds ``--count`` (default 64) 512×512 crops of the bundled photographs (``camera.png``, grey,
and ``chelsea.png``, colour; the cat is smaller than 512×512, so it is mirrored out to size),
varied by offsets, flips and transposes, writes them as PNG into a temporary folder, then runs
the command line exactly as a user would (``python -m upsamp batch IN -o OUT -j N -q``) for
each method and job count, and prints the wall-clock times, images per second and the speed-up,
with the machine it ran on. The ``-j 1`` and ``-j 2`` outputs are checked to be byte-identical.
Each setting runs ``--repeat`` times (default 3) and the fastest run is kept; the CPU seconds
(parent and workers) show how busy the cores were, so that a machine shared with other work is
recognisable: CPU/wall well under the job count, and a high "wait" (the share of the run's
wall-clock time during which some task waited for a CPU, from ``/proc/pressure/cpu``).

Usage::

    PYTHONPATH=. python benchmarks/bench_batch.py [--count 64] [--repeat 3] [--keep DIR]

This is a timing script, not a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import filecmp
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLES = REPO_ROOT / "sample_images"
PHOTOS = ("camera.png", "chelsea.png")
SIZE = 512

#: (label, arguments after INPUT_DIR -o OUTPUT_DIR)
METHODS = (
    ("transconv stride 2 (bilinear preset)", ["--method", "transconv", "--stride", "2"]),
    ("bilinear stride 2", ["--method", "bilinear", "--stride", "2"]),
    # PNG's zlib level 6 takes most of the time per image; level 1 shows how much.
    (
        "transconv stride 2, --compress-level 1",
        ["--method", "transconv", "--stride", "2", "--compress-level", "1"],
    ),
)


def photo_crops(count: int, size: int = SIZE) -> list[np.ndarray]:
    """``count`` different ``size``×``size`` crops of the bundled photographs."""
    photos = [np.asarray(Image.open(SAMPLES / name)) for name in PHOTOS]
    rng = np.random.default_rng(2024)
    crops = []
    for i in range(count):
        photo = photos[i % len(photos)]
        h, w = photo.shape[:2]
        pad_h, pad_w = max(0, size - h) + size // 4, max(0, size - w) + size // 4
        widths = ((pad_h, pad_h), (pad_w, pad_w)) + ((0, 0),) * (photo.ndim - 2)
        big = np.pad(photo, widths, mode="symmetric")  # mirrored out past the borders
        top = int(rng.integers(0, big.shape[0] - size + 1))
        left = int(rng.integers(0, big.shape[1] - size + 1))
        crop = big[top : top + size, left : left + size]
        variant = (i // len(photos)) % 8  # the 8 flips/rotations of the square
        if variant & 1:
            crop = crop[:, ::-1]
        if variant & 2:
            crop = crop[::-1]
        if variant & 4:
            crop = np.swapaxes(crop, 0, 1)
        crops.append(np.ascontiguousarray(crop))
    return crops


def machine() -> dict[str, str]:
    """CPU model, core counts, memory and versions."""
    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 1
    memory = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    import PIL

    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": model,
        "cores": f"{os.cpu_count()} logical, {usable} usable by this process",
        "memory": memory,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pillow": PIL.__version__,
        "platform": platform.platform(),
    }


def cpu_pressure() -> str:
    """Linux pressure-stall information: the share of time something waited for a CPU
    (``some avg10``/``avg60``); well above 0 % means other work competed for the cores."""
    try:
        line = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return "unknown"
    fields = dict(item.split("=") for item in line.split()[1:])
    return f"{fields.get('avg10', '?')} % (10 s), {fields.get('avg60', '?')} % (60 s) waiting"


def stalled_microseconds() -> int | None:
    """Total time any task waited for a CPU since boot (``/proc/pressure/cpu``), or None."""
    try:
        line = Path("/proc/pressure/cpu").read_text().splitlines()[0]
        return int(dict(item.split("=") for item in line.split()[1:])["total"])
    except (OSError, IndexError, KeyError, ValueError):
        return None


def run_batch(
    src: Path, out: Path, jobs: int, extra: list[str]
) -> tuple[float, float, float | None]:
    """Wall-clock and CPU seconds (user + system, workers included) of one ``upsamp batch``
    process, start-up included, and the share of that time some task waited for a CPU (with at
    most 2 workers on 2 cores, waiting means other work was competing)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "upsamp", "batch", str(src), "-o", str(out)]
    command += ["-j", str(jobs), "-q", *extra]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    stalled = stalled_microseconds()
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    stalled_after = stalled_microseconds()
    waiting = None if stalled is None or stalled_after is None else (stalled_after - stalled) / 1e6
    if done.returncode != 0:
        raise SystemExit(f"upsamp batch failed ({done.returncode}):\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu, None if waiting is None else waiting / seconds


def identical(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in a.iterdir())
    if names != sorted(p.name for p in b.iterdir()):
        return False
    _, mismatch, errors = filecmp.cmpfiles(a, b, names, shallow=False)
    return not mismatch and not errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=64, help="number of 512×512 images")
    parser.add_argument("--repeat", type=int, default=3, help="runs per setting (best kept)")
    parser.add_argument("--keep", type=Path, help="build the images here and keep them")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="upsamp-bench-"))
    src = args.keep or work / "in"
    src.mkdir(parents=True, exist_ok=True)
    for i, crop in enumerate(photo_crops(args.count)):
        Image.fromarray(crop).save(src / f"crop_{i:03d}.png")

    print("upsamp batch benchmark")
    print(f"  load      {' '.join(f'{v:.2f}' for v in os.getloadavg())} (1, 5, 15 min) before")
    print(f"  pressure  {cpu_pressure()} before")
    for key, value in machine().items():
        print(f"  {key:9} {value}")
    print(f"  images    {args.count} real-photo crops, {SIZE}×{SIZE} PNG (grey and RGB)")
    print()
    header = (
        f"{'method':38} {'jobs':>4} {'seconds':>8} {'images/s':>9} {'speed-up':>9} "
        f"{'CPU s':>7} {'CPU/wall':>8} {'wait':>6}"
    )
    print(header)
    print("-" * len(header))
    try:
        for label, extra in METHODS:
            best: dict[int, tuple[float, float, float | None]] = {}
            for _attempt in range(args.repeat):
                for jobs in (1, 2):  # interleaved, so background load hits both alike
                    out = work / f"out-{jobs}"
                    shutil.rmtree(out, ignore_errors=True)
                    measured = run_batch(src, out, jobs, extra)
                    if jobs not in best or measured[0] < best[jobs][0]:
                        best[jobs] = measured
            for jobs in (1, 2):
                seconds, cpu, waiting = best[jobs]
                wait = "?" if waiting is None else f"{waiting:.0%}"
                print(
                    f"{label:38} {jobs:>4} {seconds:>8.2f} {args.count / seconds:>9.1f} "
                    f"{best[1][0] / seconds:>8.2f}× {cpu:>7.2f} {cpu / seconds:>8.2f} {wait:>6}"
                )
            same = identical(work / "out-1", work / "out-2")
            print(f"{'':38} outputs of -j 1 and -j 2 byte-identical: {same}")
            if not same:
                raise SystemExit("the -j 2 outputs differ from the -j 1 outputs")
        print()
        print(f"load average after the runs: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        print(f"CPU pressure after the runs: {cpu_pressure()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
