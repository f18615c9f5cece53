"""Time upsamp's engine, command line, start-up and memory against Pillow, OpenCV, PyTorch and
ImageMagick, side by side in one run (the targets of the performance issue).

Every comparison runs in this one process, interleaved: each repetition calls every contender
once, in a rotating order, so that a burst of load from other work on the machine hits all of
them alike. The table shows medians and the ratio ``upsamp / reference`` (below 1 = upsamp is
faster); absolute times vary from run to run, the ratios much less.

Cases (1920×1080 RGB photo content, ×2, unless ``--image`` is given):

1. ``upsamp.transconv`` float32 (depthwise 4×4 and 3×3 stride 2, 3→3 channel-mixing 4×4) vs
   ``torch.nn.functional.conv_transpose2d`` with 2 threads; the plain scatter of the tests
   (``tests/reference_impl.py``, float64, one strided slice per tap) for reference.
2. ``upsamp.bilinear(x_u8, 2, keep_dtype=True)`` (exact integer path, uint8 out) vs Pillow
   BILINEAR (and OpenCV INTER_LINEAR); also the float result followed by ``to_storage``.
3. nearest, bed of nails, max-unpool (uint8 → uint8 with ``keep_dtype``) vs Pillow NEAREST.
4. Achieved memory bandwidth of upsamp: (input bytes + output bytes) / median time.
5. Whole process: ``upsamp enlarge`` vs ImageMagick ``convert -filter Triangle -resize 200%`` and
   a bare Pillow script (same decode, bilinear ×2, PNG encode at Pillow's default level).
6. Start-up: ``upsamp --help`` / ``upsamp kernels list`` vs ``python -c "import numpy, click"``,
   and whether scipy or rich.progress get imported.
7. Peak RSS (``/usr/bin/time -v``) of ``upsamp enlarge`` 1080p → 4K, and (not with ``--quick``)
   of an 8000×8000 RGB PNG ×2 with ``--kernel bilinear``.

PyTorch, OpenCV and ImageMagick are optional: their rows are skipped when they are missing. A
``convert`` that is not the real ImageMagick binary (a script stand-in) is ignored.

Usage::

    PYTHONPATH=. python benchmarks/bench_engine.py [--quick] [--repeat 7] [--image PATH]
                                                   [--json results.json] [--profile]

This is a timing script, not a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from rich.markup import escape

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLES = REPO_ROOT / "sample_images"
PHOTOS = ("chelsea.png", "horse.png", "camera.png")
SIZE = (1920, 1080)  # (width, height) of the default input
TORCH_THREADS = 2
#: Largest acceptable ratios upsamp / reference (the engine targets of the performance issue).
TARGETS = {
    "transconv": 0.25,  # vs torch conv_transpose2d
    "bilinear_opencv": 3.0,  # bit-exact uint8 bilinear vs OpenCV INTER_LINEAR
    "bilinear_pillow": 1.0,  # the same vs Pillow BILINEAR
    "copies": 1.2,  # nearest and bed of nails vs Pillow NEAREST
    "max_unpool": 2.0,  # max-unpool vs Pillow NEAREST
}
ENLARGE = ["--method", "transconv", "--stride", "2"]  #: the whole-process enlarge's options

#: A bare Pillow script: decode, bilinear ×2, encode at Pillow's default PNG level (zlib's 6),
#: which is also what ``upsamp enlarge`` uses when ``--compress-level`` is not given.
PILLOW_SCRIPT = (
    "import sys\n"
    "from PIL import Image\n"
    "im = Image.open(sys.argv[1])\n"
    "im.resize((im.width * 2, im.height * 2), Image.Resampling.BILINEAR).save(sys.argv[2])\n"
)

#: Imports the command line, runs it with the given arguments and reports what got imported.
MODULES_SCRIPT = (
    "import contextlib, io, json, runpy, sys\n"
    "sys.argv = ['upsamp'] + sys.argv[1:]\n"
    "try:\n"
    "    with contextlib.redirect_stdout(io.StringIO()):\n"
    "        runpy.run_module('upsamp', run_name='__main__', alter_sys=True)\n"
    "except SystemExit:\n"
    "    pass\n"
    "mods = sys.modules\n"
    "print(json.dumps({\n"
    "    'scipy': sorted(m for m in mods if m == 'scipy' or m.startswith('scipy.')),\n"
    "    'rich.progress': sorted(m for m in mods if m.startswith('rich.progress')),\n"
    "    'rich': 'rich' in mods, 'PIL.Image': 'PIL.Image' in mods, 'torch': 'torch' in mods,\n"
    "    'count': len(mods)}))\n"
)


# --------------------------------------------------------------------------------------------
# Results


@dataclass
class Row:
    """One line of the table: ``ours`` and ``ref`` are median seconds."""

    section: str
    case: str
    ours: float | None
    reference: str
    ref: float | None
    target: float | None = None  #: largest acceptable ratio; None = informational
    bytes_moved: int | None = None  #: input + output bytes of upsamp's call
    note: str = ""
    valid: bool = True  #: False: wrong result or unwanted import, the case fails whatever the time
    ours_samples: list[float] = field(default_factory=list)
    ref_samples: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float | None:
        if self.ours is None or self.ref is None or self.ref <= 0:
            return None
        return self.ours / self.ref

    @property
    def met(self) -> bool | None:
        if not self.valid:
            return False
        if self.target is None or self.ratio is None:
            return None
        return self.ratio <= self.target

    @property
    def bandwidth(self) -> float | None:
        """GB/s achieved by upsamp's call."""
        if self.bytes_moved is None or not self.ours:
            return None
        return self.bytes_moved / self.ours / 1e9

    def as_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc.update(ratio=self.ratio, met=self.met, bandwidth_gb_s=self.bandwidth)
        return doc


@dataclass
class MemoryRow:
    case: str
    peak_rss_mb: float | None
    wall_s: float | None
    target_mb: float | None
    note: str = ""

    @property
    def met(self) -> bool | None:
        if self.target_mb is None or self.peak_rss_mb is None:
            return None
        return self.peak_rss_mb <= self.target_mb


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def spread(samples: Sequence[float]) -> float:
    """Median absolute deviation relative to the median (0.05 = ±5 %)."""
    m = median(samples)
    return median([abs(s - m) for s in samples]) / m if m > 0 else 0.0


# --------------------------------------------------------------------------------------------
# Timing


def interleaved(
    contenders: dict[str, Callable[[], Any]],
    repeat: int,
    *,
    warmup: int = 1,
    before: dict[str, Callable[[], Any]] | None = None,
) -> dict[str, list[float]]:
    """Wall seconds of each contender, ``repeat`` samples each, taken in rotating order.

    Repetition ``r`` runs the contenders starting at the ``r % n``-th, so none is always first
    (caches, turbo) or always last. ``before[name]`` runs untimed before each call (cleaning up
    output files); results are dropped after the clock stops; ``gc.collect()`` runs in between.
    """
    names = list(contenders)
    before = before or {}
    for _ in range(warmup):
        for name in names:
            if name in before:
                before[name]()
            contenders[name]()
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeat):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            if name in before:
                before[name]()
            gc.collect()
            start = time.perf_counter()
            result = contenders[name]()
            samples[name].append(time.perf_counter() - start)
            del result
    return samples


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


def run(command: Sequence[str], *, timeout: float = 3600) -> subprocess.CompletedProcess:
    done = subprocess.run(
        list(command), env=child_env(), capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(map(str, command))} failed ({done.returncode}):\n{done.stderr[-2000:]}"
        )
    return done


def runner(command: Sequence[str]) -> Callable[[], Any]:
    return lambda: run(command)


# --------------------------------------------------------------------------------------------
# Machine and optional references


def machine(imagemagick: list[str] | None) -> dict[str, Any]:
    """CPU model, cores, memory, load and library versions."""
    model = platform.processor() or "unknown"
    memory = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 1
    import PIL

    info: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": model,
        "cores": f"{os.cpu_count()} logical, {usable} usable by this process",
        "memory": memory,
        "load (1, 5, 15 min) at start": " ".join(f"{v:.2f}" for v in os.getloadavg()),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pillow": PIL.__version__,
    }
    torch = optional("torch")
    info["torch"] = f"{torch.__version__} ({TORCH_THREADS} threads)" if torch else "not installed"
    cv2 = optional("cv2")
    info["opencv"] = (
        f"{cv2.__version__} ({cv2.getNumThreads()} threads)" if cv2 else "not installed"
    )
    if imagemagick:
        version = run([*imagemagick, "-version"]).stdout.splitlines()[0]
        info["imagemagick"] = f"{version.removeprefix('Version: ')} [{imagemagick[0]}]"
    else:
        info["imagemagick"] = "not found (real binary needed)"
    return info


def optional(name: str) -> Any:
    try:
        return __import__(name)
    except ImportError:
        return None


def find_imagemagick() -> list[str] | None:
    """The command prefix of a real ImageMagick (``magick`` or ``convert``), else None.

    A candidate must be a native executable (not a script stand-in) whose ``-version`` names
    ImageMagick."""
    candidates = [shutil.which("magick"), "/usr/bin/convert-im6.q16", "/usr/bin/convert"]
    candidates += [shutil.which("convert")]
    seen: set[str] = set()
    for candidate in filter(None, candidates):
        path = os.path.realpath(candidate)
        if path in seen or not os.access(path, os.X_OK):
            continue
        seen.add(path)
        try:
            with open(path, "rb") as f:
                if f.read(4) != b"\x7fELF":
                    continue
            out = subprocess.run([path, "-version"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.returncode == 0 and "ImageMagick" in out.stdout:
            return [path]
    return None


def time_v() -> str | None:
    path = "/usr/bin/time"
    return path if os.access(path, os.X_OK) else None


# --------------------------------------------------------------------------------------------
# Inputs


def photo(size: tuple[int, int] | None, image: Path | None = None) -> np.ndarray:
    """An RGB uint8 photo: ``image`` (default: the first bundled photo found), resized (BICUBIC)
    to ``size`` (width, height) unless that is None."""
    if image is None:
        image = next((SAMPLES / n for n in PHOTOS if (SAMPLES / n).exists()), None)
        if image is None:
            raise SystemExit(f"no photo found in {SAMPLES}; pass --image")
    with Image.open(image) as im:
        rgb = im.convert("RGB")
        if size is not None and rgb.size != size:
            rgb = rgb.resize(size, Image.Resampling.BICUBIC)
        return np.asarray(rgb)


def tiled_photo(side: int, base: np.ndarray) -> np.ndarray:
    """A ``side``×``side`` RGB photo: ``base`` resized to a quarter of the side and mirror-tiled."""
    tile = side // 4
    small = np.asarray(Image.fromarray(base).resize((tile, tile), Image.Resampling.BICUBIC))
    row = np.concatenate([small, small[:, ::-1]] * 2, axis=1)
    full = np.concatenate([row, row[::-1]] * 2, axis=0)
    return np.ascontiguousarray(full[:side, :side])


def close(a: np.ndarray, b: np.ndarray, rtol: float = 1e-4) -> tuple[bool, float]:
    """``max|a - b| <= rtol * max|b|``; returns (ok, relative error)."""
    scale = float(np.max(np.abs(b))) or 1.0
    err = float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) / scale
    return err <= rtol, err


# --------------------------------------------------------------------------------------------
# 1. transconv


def bench_transconv(up: Any, x: np.ndarray, repeat: int, log: Callable[[str], None]) -> list[Row]:
    from reference_impl import scatter_transconv

    from upsamp.kernels import preset

    torch = optional("torch")
    bil = preset("bilinear", 2)
    chk = preset("checkerboard", 2)
    c = x.shape[2]
    mixing = np.random.default_rng(5).standard_normal((c, c, 4, 4)).astype(np.float32)
    cases = [
        ("depthwise 4×4 s2 p1 (bilinear taps)", bil.weight.astype(np.float32), 1, 0),
        ("depthwise 3×3 s2 (checkerboard taps)", chk.weight.astype(np.float32), 1, 1),
        ("3→3 mixing 4×4 s2 p1 (random)", mixing, 1, 0),
    ]
    rows = []
    for label, w, pad, opad in cases:
        depthwise = w.ndim == 2
        kwargs = dict(stride=2, padding=pad, output_padding=opad)
        w_plain = np.broadcast_to(w, (c, 1) + w.shape) if depthwise else w
        plain_kwargs = dict(kwargs, groups=c if depthwise else 1)
        contenders: dict[str, Callable[[], Any]] = {
            "upsamp": lambda w=w, kw=kwargs: up.transconv(x, w, **kw),
            "plain": lambda w=w_plain, kw=plain_kwargs: scatter_transconv(x, w, **kw),
        }
        y = up.transconv(x, w, **kwargs)
        y_plain = scatter_transconv(x, w_plain, **plain_kwargs)
        notes = []
        if torch is not None:
            xt = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1))[None])
            w4 = np.broadcast_to(w, (c, 1) + w.shape) if depthwise else w
            wt = torch.from_numpy(np.ascontiguousarray(w4))
            groups = c if depthwise else 1

            def ref(xt=xt, wt=wt, groups=groups, pad=pad, opad=opad):
                with torch.no_grad():
                    return torch.nn.functional.conv_transpose2d(
                        xt, wt, stride=2, padding=pad, output_padding=opad, groups=groups
                    )

            contenders["torch"] = ref
            y_ref = ref()[0].permute(1, 2, 0).numpy()
            ref_name = "torch conv_transpose2d"
        else:
            y_ref, ref_name = y_plain, "plain engine (torch missing)"
        ok, err = close(y, y_ref)
        ok_plain, err_plain = close(y_plain, y_ref)
        notes.append(f"max err {err:.1e}" + ("" if ok else " MISMATCH"))
        log(f"transconv {label}: rel. error vs reference {err:.2e}, plain {err_plain:.2e}")
        samples = interleaved(contenders, repeat)
        ref_key = "torch" if "torch" in samples else "plain"
        moved = x.nbytes + y.nbytes
        speedup = median(samples["plain"]) / median(samples["upsamp"])
        rows.append(
            Row(
                "engine",
                f"transconv f32 {label}",
                median(samples["upsamp"]),
                ref_name,
                median(samples[ref_key]),
                target=TARGETS["transconv"] if ref_key == "torch" else None,
                valid=ok,
                bytes_moved=moved,
                note="; ".join(notes) + f"; {speedup:.1f}× faster than plain",
                ours_samples=samples["upsamp"],
                ref_samples=samples[ref_key],
            )
        )
        if ref_key == "torch":
            rows.append(
                Row(
                    "engine",
                    f"  plain engine, {label}",
                    median(samples["plain"]),
                    ref_name,
                    median(samples["torch"]),
                    bytes_moved=moved,
                    note=f"max err {err_plain:.1e}" + ("" if ok_plain else " MISMATCH"),
                    ours_samples=samples["plain"],
                    ref_samples=samples["torch"],
                )
            )
    return rows


# --------------------------------------------------------------------------------------------
# 2. bilinear uint8 -> uint8


def bench_bilinear(up: Any, x: np.ndarray, repeat: int, log: Callable[[str], None]) -> list[Row]:
    from upsamp.imageio import to_storage

    cv2 = optional("cv2")
    h, w = x.shape[:2]
    im = Image.fromarray(x)
    contenders: dict[str, Callable[[], Any]] = {
        "upsamp": lambda: up.bilinear(x, 2, keep_dtype=True),
        "upsamp float+round": lambda: to_storage(up.bilinear(x, 2), "RGB")[0],
        "upsamp float": lambda: up.bilinear(x, 2),
        "pillow": lambda: im.resize((2 * w, 2 * h), Image.Resampling.BILINEAR),
    }
    if cv2 is not None:
        contenders["opencv"] = lambda: cv2.resize(x, (2 * w, 2 * h), interpolation=cv2.INTER_LINEAR)
    ours = contenders["upsamp"]()
    if not np.array_equal(ours, contenders["upsamp float+round"]()):
        log("bilinear uint8: integer path and rounded float path differ (float ties)")
    theirs = np.asarray(contenders["pillow"]())
    diff = np.abs(ours.astype(np.int16) - theirs.astype(np.int16))
    agree = f"vs Pillow: max diff {int(diff.max())}, {np.mean(diff > 0):.1%} differ"
    log(f"bilinear uint8 {agree}")
    samples = interleaved(contenders, repeat)
    out_u8 = 4 * x.nbytes
    rows = [
        Row(
            "engine",
            "bilinear ×2 uint8→uint8 (bilinear keep_dtype)",
            median(samples["upsamp"]),
            "Pillow BILINEAR",
            median(samples["pillow"]),
            target=TARGETS["bilinear_pillow"],
            bytes_moved=x.nbytes + out_u8,
            note=agree,
            ours_samples=samples["upsamp"],
            ref_samples=samples["pillow"],
        ),
        Row(
            "engine",
            "  bilinear ×2 uint8→float32→uint8 (to_storage)",
            median(samples["upsamp float+round"]),
            "Pillow BILINEAR",
            median(samples["pillow"]),
            bytes_moved=x.nbytes + out_u8,
            note="the float path, rounded afterwards",
            ours_samples=samples["upsamp float+round"],
            ref_samples=samples["pillow"],
        ),
        Row(
            "engine",
            "  bilinear ×2 uint8→float32 only",
            median(samples["upsamp float"]),
            "Pillow BILINEAR",
            median(samples["pillow"]),
            bytes_moved=x.nbytes + 4 * out_u8,
            note="no rounding",
            ours_samples=samples["upsamp float"],
            ref_samples=samples["pillow"],
        ),
    ]
    if "opencv" in samples:
        rows.append(
            Row(
                "engine",
                "bilinear ×2 uint8→uint8 (bilinear keep_dtype)",
                median(samples["upsamp"]),
                "OpenCV INTER_LINEAR",
                median(samples["opencv"]),
                target=TARGETS["bilinear_opencv"],
                bytes_moved=x.nbytes + out_u8,
                note="bit-exact integer path",
                ours_samples=samples["upsamp"],
                ref_samples=samples["opencv"],
            )
        )
    return rows


# --------------------------------------------------------------------------------------------
# 3. nearest, bed of nails, max-unpool


def bench_copies(
    up: Any, x: np.ndarray, image: Path | None, repeat: int, log: Callable[[str], None]
) -> list[Row]:
    cv2 = optional("cv2")
    h, w = x.shape[:2]
    im = Image.fromarray(x)
    big = photo((2 * w, 2 * h), image)  # the pooled-from photo, at the output size
    pooled, idx = up.max_pool(big, 2)
    pooled_u8 = pooled.astype(np.uint8)  # exact: the maxima of uint8 values
    # The form the command line unpools from: the offset inside each window, one byte per value.
    offsets = up.methods.pooling.window_offsets(idx, 2, big.shape[:2])
    contenders: dict[str, Callable[[], Any]] = {
        "pillow": lambda: im.resize((2 * w, 2 * h), Image.Resampling.NEAREST),
        "nearest u8": lambda: up.nearest(x, 2, keep_dtype=True),
        "nearest f32": lambda: up.nearest(x, 2),
        "bed-of-nails u8": lambda: up.bed_of_nails(x, 2, keep_dtype=True),
        "bed-of-nails f32": lambda: up.bed_of_nails(x, 2),
        "max-unpool u8": lambda: up.max_unpool(pooled_u8, offsets, 2, keep_dtype=True),
        "max-unpool f32": lambda: up.max_unpool(pooled_u8, offsets, 2),
        "max-unpool int64 u8": lambda: up.max_unpool(pooled_u8, idx, 2, keep_dtype=True),
    }
    if cv2 is not None:
        contenders["opencv"] = lambda: cv2.resize(
            x, (2 * w, 2 * h), interpolation=cv2.INTER_NEAREST
        )
    # Correctness (untimed): uint8 results, the same pixels as Pillow / the definition.
    checks = {
        "nearest u8": bool(np.array_equal(contenders["nearest u8"](), contenders["pillow"]())),
        "bed-of-nails u8": bool(np.array_equal(contenders["bed-of-nails u8"]()[::2, ::2], x)),
        "max-unpool u8": bool(
            np.array_equal(
                contenders["max-unpool u8"]().reshape(h, 2, w, 2, -1).max(axis=(1, 3)), pooled_u8
            )
        ),
    }
    checks["max-unpool int64 u8"] = bool(
        np.array_equal(contenders["max-unpool int64 u8"](), contenders["max-unpool u8"]())
    )
    for key in ("nearest u8", "bed-of-nails u8", "max-unpool u8", "max-unpool int64 u8"):
        dtype = contenders[key]().dtype
        log(f"{key}: result dtype {dtype}, correct: {checks[key]}")
        if dtype != np.uint8:
            checks[key] = False
    samples = interleaved(contenders, repeat)
    ref = median(samples["pillow"])
    rows = []
    out_u8 = 4 * x.nbytes
    for method in ("nearest", "bed-of-nails", "max-unpool"):
        extra = offsets.offsets.nbytes if method == "max-unpool" else 0  # the offsets are read too
        src = pooled_u8.nbytes if method == "max-unpool" else x.nbytes
        u8_target = TARGETS["max_unpool" if method == "max-unpool" else "copies"]
        for kind, target, out_bytes in (("u8", u8_target, out_u8), ("f32", None, 4 * out_u8)):
            key = f"{method} {kind}"
            label = f"{method} ×2 uint8→uint8 (keep_dtype)"
            if kind == "f32":
                label = f"  {method} ×2 uint8→float32"
            note = ""
            if kind == "u8":
                note = "correct" if checks[key] else "WRONG RESULT"
            if method == "max-unpool":
                note = (note + "; " if note else "") + "reads uint8 window offsets"
            rows.append(
                Row(
                    "engine",
                    label,
                    median(samples[key]),
                    "Pillow NEAREST",
                    ref,
                    target=target,
                    bytes_moved=src + extra + out_bytes,
                    note=note,
                    valid=checks.get(key, True),
                    ours_samples=samples[key],
                    ref_samples=samples["pillow"],
                )
            )
    rows.append(
        Row(
            "engine",
            "  max-unpool ×2 uint8→uint8, int64 PyTorch-layout indices",
            median(samples["max-unpool int64 u8"]),
            "Pillow NEAREST",
            ref,
            bytes_moved=pooled_u8.nbytes + idx.nbytes + out_u8,
            note=("correct" if checks["max-unpool int64 u8"] else "WRONG RESULT")
            + "; informational: the scatter path of max_unpool(x, indices)",
            valid=checks["max-unpool int64 u8"],
            ours_samples=samples["max-unpool int64 u8"],
            ref_samples=samples["pillow"],
        )
    )
    if "opencv" in samples:
        rows.append(
            Row(
                "engine",
                "  nearest ×2 uint8→uint8",
                median(samples["nearest u8"]),
                "OpenCV INTER_NEAREST",
                median(samples["opencv"]),
                bytes_moved=x.nbytes + out_u8,
                note="informational",
                ours_samples=samples["nearest u8"],
                ref_samples=samples["opencv"],
            )
        )
    return rows


def copy_bandwidth(nbytes: int = 100_000_000, repeat: int = 7) -> float:
    """GB/s of ``np.copyto`` between two large arrays (read + write): the machine's practical
    streaming limit for one numpy call."""
    src = np.ones(nbytes // 4, dtype=np.float32)
    dst = np.empty_like(src)
    samples = interleaved({"copy": lambda: np.copyto(dst, src)}, repeat)
    return 2 * nbytes / median(samples["copy"]) / 1e9


# --------------------------------------------------------------------------------------------
# 5. whole process, 6. start-up


def bench_process(
    work: Path, png: Path, repeat: int, imagemagick: list[str] | None, log: Callable[[str], None]
) -> list[Row]:
    py = sys.executable
    outs = {name: work / f"out_{name}.png" for name in ("upsamp", "pillow", "imagemagick")}
    commands = {
        "upsamp": [py, "-m", "upsamp", "enlarge", str(png), *ENLARGE, "-o", str(outs["upsamp"])],
        "pillow": [py, "-c", PILLOW_SCRIPT, str(png), str(outs["pillow"])],
    }
    if imagemagick:
        commands["imagemagick"] = [*imagemagick, str(png), "-filter", "Triangle"]
        commands["imagemagick"] += ["-resize", "200%", str(outs["imagemagick"])]
    before = {name: (lambda p=outs[name]: p.unlink(missing_ok=True)) for name in commands}
    samples = interleaved({k: runner(v) for k, v in commands.items()}, repeat, before=before)
    a = np.asarray(Image.open(outs["upsamp"]).convert("RGB")).astype(np.int16)
    b = np.asarray(Image.open(outs["pillow"]).convert("RGB")).astype(np.int16)
    agree = f"output {a.shape[1]}×{a.shape[0]}; vs Pillow max diff {int(np.abs(a - b).max())}"
    log(f"enlarge: {agree}")
    rows = []
    if "imagemagick" in samples:
        rows.append(
            Row(
                "process",
                "enlarge 1080p→4K PNG, transconv",
                median(samples["upsamp"]),
                "ImageMagick convert -filter Triangle -resize 200%",
                median(samples["imagemagick"]),
                target=0.6,
                note=agree,
                ours_samples=samples["upsamp"],
                ref_samples=samples["imagemagick"],
            )
        )
    else:
        log("ImageMagick: no real binary found, its row is skipped")
    rows.append(
        Row(
            "process",
            "enlarge 1080p→4K PNG, transconv",
            median(samples["upsamp"]),
            "Pillow script (decode, BILINEAR, PNG level 6)",
            median(samples["pillow"]),
            target=1.3,
            ours_samples=samples["upsamp"],
            ref_samples=samples["pillow"],
        )
    )
    return rows


def bench_startup(repeat: int, log: Callable[[str], None]) -> tuple[list[Row], dict[str, Any]]:
    py = sys.executable
    commands = {
        "--help": [py, "-m", "upsamp", "--help"],
        "kernels list": [py, "-m", "upsamp", "kernels", "list"],
        "baseline": [py, "-c", "import numpy, click"],
    }
    samples = interleaved({k: runner(v) for k, v in commands.items()}, repeat)
    rows = []
    modules: dict[str, Any] = {}
    for key in ("--help", "kernels list"):
        found = json.loads(run([py, "-c", MODULES_SCRIPT, *key.split()]).stdout.splitlines()[-1])
        modules[key] = found
        clean = not found["scipy"] and not found["rich.progress"]
        scipy_count, progress = len(found["scipy"]), found["rich.progress"]
        note = "no scipy, no rich.progress"
        if not clean:
            note = f"IMPORTS {scipy_count} scipy modules, rich.progress: {progress}"
        note += f"; {found['count']} modules"
        log(f"upsamp {key}: {note}")
        rows.append(
            Row(
                "start-up",
                f"upsamp {key} (wall)",
                median(samples[key]),
                'python -c "import numpy, click"',
                median(samples["baseline"]),
                target=1.3,
                note=note,
                valid=clean,
                ours_samples=samples[key],
                ref_samples=samples["baseline"],
            )
        )
    modules["importtime --help"] = import_times([py, "-X", "importtime", "-m", "upsamp", "--help"])
    return rows, modules


def import_times(command: Sequence[str], top: int = 8) -> dict[str, list[tuple[str, float]]]:
    """Milliseconds from ``python -X importtime``: the ``top`` imports of the first two levels
    of the import tree by cumulative time, and the ``top`` modules by their own (self) time."""
    stderr = run(command).stderr
    shallow, own = [], []
    for line in stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if not m:
            continue
        own.append((m.group(4), int(m.group(1)) / 1000))
        if len(m.group(3)) <= 3:  # indentation 1: imported by __main__; 3: by those
            shallow.append((m.group(4), int(m.group(2)) / 1000))
    return {
        "cumulative": sorted(shallow, key=lambda item: -item[1])[:top],
        "self": sorted(own, key=lambda item: -item[1])[:top],
    }


# --------------------------------------------------------------------------------------------
# 7. peak RSS


def peak_rss(command: Sequence[str], timeout: float = 3600) -> tuple[float, float]:
    """(peak RSS in MB, wall seconds) of ``command`` under ``/usr/bin/time -v``."""
    start = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-v", *command],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}"
        )
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    if not m:
        raise RuntimeError("/usr/bin/time -v printed no 'Maximum resident set size'")
    return int(m.group(1)) / 1024, wall


def bench_memory(
    work: Path, png: Path, base: np.ndarray, big: bool, log: Callable[[str], None]
) -> list[MemoryRow]:
    if time_v() is None:
        log("/usr/bin/time missing: peak RSS skipped (apt-get install time)")
        return []
    py = sys.executable
    out = work / "rss_out.png"
    rows = []
    runs = []
    for _ in range(2):
        out.unlink(missing_ok=True)
        runs.append(peak_rss([py, "-m", "upsamp", "enlarge", str(png), *ENLARGE, "-o", str(out)]))
    rows.append(
        MemoryRow(
            "enlarge 1080p→4K transconv 4×4 s2 (bilinear preset)",
            max(r[0] for r in runs),
            median([r[1] for r in runs]),
            200,
            note="max of 2 runs",
        )
    )
    out.unlink(missing_ok=True)
    rss, wall = peak_rss([py, "-c", PILLOW_SCRIPT, str(png), str(out)])
    rows.append(MemoryRow("  Pillow script, same job (reference)", rss, wall, None))
    out.unlink(missing_ok=True)
    if big:
        side = 8000
        src = work / f"photo{side}.png"
        log(f"writing a {side}×{side} RGB PNG (compress_level=1)")
        Image.fromarray(tiled_photo(side, base)).save(src, compress_level=1)
        out = work / f"out{side}.png"
        guard = ["--max-output-pixels", str(4 * side * side)]  # the default refuses 256 Mpx
        log("enlarging it ×2 with --kernel bilinear (slow: a 16000×16000 PNG at level 6)")
        command = [py, "-m", "upsamp", "enlarge", str(src), *ENLARGE, "--kernel", "bilinear"]
        case = f"enlarge {side}×{side} RGB PNG ×2, --kernel bilinear"
        try:
            rss, wall = peak_rss([*command, *guard, "-o", str(out)])
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            log(f"[red]{case} failed[/]: {escape(str(exc))}")
            rows.append(MemoryRow(case, None, None, 2560, note=f"FAILED: {str(exc)[-200:]}"))
        else:
            width, height = png_size(out)
            rows.append(
                MemoryRow(
                    case,
                    rss,
                    wall,
                    2560,
                    note=f"output {width}×{height}; {' '.join(guard)} (default guard: 179 Mpx)",
                )
            )
        out.unlink(missing_ok=True)
    return rows


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's header (Pillow's open refuses images over 179 Mpx)."""
    with open(path, "rb") as f:
        head = f.read(24)
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def profile_enlarge(png: Path, work: Path, lines: int = 30) -> str:
    """Top of ``python -m cProfile -s cumtime`` for the whole-process enlarge."""
    out = work / "profile_out.png"
    out.unlink(missing_ok=True)
    profiler = [sys.executable, "-m", "cProfile", "-s", "cumtime"]
    text = run([*profiler, "-m", "upsamp", "enlarge", str(png), *ENLARGE, "-o", str(out)]).stdout
    body = text.splitlines()
    start = next((i for i, line in enumerate(body) if "ncalls" in line), 0)
    return "\n".join(body[max(0, start - 2) : start + lines + 1])


# --------------------------------------------------------------------------------------------
# Output


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def fmt_cell(seconds: float | None, samples: Sequence[float]) -> str:
    text = fmt_time(seconds)
    if samples and seconds:
        text += f" ±{spread(samples):.0%}"
    return text


def verdict(met: bool | None) -> str:
    return "—" if met is None else "[green]yes[/]" if met else "[bold red]NO[/]"


def render(
    console: Any,
    info: dict[str, Any],
    rows: list[Row],
    memory: list[MemoryRow],
    extra: dict[str, Any],
) -> None:
    from rich.table import Table

    console.print("[bold]upsamp engine benchmark[/] (medians; ratio = upsamp / reference)")
    for key, value in info.items():
        console.print(f"  {key:30} {value}", highlight=False, markup=False)
    console.print()
    table = Table(title="Side by side, interleaved in one process", show_lines=False)
    for name, justify in (
        ("case", "left"),
        ("upsamp median", "right"),
        ("reference", "left"),
        ("reference median", "right"),
        ("ratio", "right"),
        ("target", "right"),
        ("met?", "center"),
        ("upsamp GB/s", "right"),
        ("note", "left"),
    ):
        table.add_column(name, justify=justify)
    section = None
    for row in rows:
        if section is not None and row.section != section:
            table.add_section()
        section = row.section
        table.add_row(
            row.case,
            fmt_cell(row.ours, row.ours_samples),
            row.reference,
            fmt_cell(row.ref, row.ref_samples),
            "—" if row.ratio is None else f"{row.ratio:.2f}×",
            "—" if row.target is None else f"≤ {row.target:g}×",
            verdict(row.met),
            "—" if row.bandwidth is None else f"{row.bandwidth:.2f}",
            row.note,
        )
    console.print(table)
    if memory:
        mem = Table(title="Peak RSS of the whole process (/usr/bin/time -v)")
        for name in ("case", "peak RSS", "wall", "target", "met?", "note"):
            mem.add_column(name, justify="left" if name in ("case", "note") else "right")
        for m in memory:
            mem.add_row(
                m.case,
                "—" if m.peak_rss_mb is None else f"{m.peak_rss_mb:.0f} MB",
                fmt_time(m.wall_s),
                "—" if m.target_mb is None else f"≤ {m.target_mb:g} MB",
                verdict(m.met),
                m.note,
            )
        console.print(mem)
    if "copy_bandwidth_gb_s" in extra:
        console.print(
            f"numpy copy (read + write) on this machine: {extra['copy_bandwidth_gb_s']:.1f} GB/s "
            "— the GB/s column's practical ceiling for a single pass."
        )
    if "importtime --help" in extra.get("startup", {}):
        for kind, items in extra["startup"]["importtime --help"].items():
            tops = ", ".join(f"{n} {ms:.0f}" for n, ms in items)
            console.print(f"'upsamp --help' imports, {kind} ms: {tops}", highlight=False)
    failed = [f"{r.case.strip()} vs {r.reference}" for r in rows if r.met is False]
    failed += [m.case.strip() for m in memory if m.met is False]
    console.print(f"load (1, 5, 15 min) at end: {extra.get('load_end', '?')}")
    for error in extra.get("errors", []):
        console.print(f"[bold red]failed[/]: {escape(error)}", highlight=False)
    if failed:
        console.print(f"[bold red]targets missed[/]: {'; '.join(failed)}")
    else:
        console.print("[green]every measured target met[/]")
    console.print(
        "Other work on this machine makes absolute times noisy (± = median absolute deviation); "
        "the ratios are measured side by side and are the figures to compare."
    )


# --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs; no 8000×8000 case")
    parser.add_argument("--repeat", type=int, help="runs per in-process case (default 7; 5 quick)")
    parser.add_argument("--image", type=Path, help="input photo (default: 1920×1080 from sample)")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--profile", action="store_true", help="cProfile the whole enlarge")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep its files")
    args = parser.parse_args(argv)
    repeat = args.repeat or (5 if args.quick else 7)
    if repeat < 5:
        parser.error("--repeat must be at least 5 (medians of >= 5 runs)")
    process_repeat = 3 if args.quick else 5

    from rich.console import Console

    console = Console(width=None if sys.stdout.isatty() else 220)
    err = Console(stderr=True, width=None if sys.stderr.isatty() else 200)

    def log(message: str) -> None:
        err.print(f"[dim]{time.strftime('%H:%M:%S')}[/] {message}", highlight=False)

    # the tree's own package, and the tests' reference implementations (the plain scatter)
    for folder in (REPO_ROOT, REPO_ROOT / "tests"):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    import upsamp as up

    torch = optional("torch")
    if torch is not None:
        torch.set_num_threads(TORCH_THREADS)
    imagemagick = find_imagemagick()
    info = machine(imagemagick)

    work = args.keep or Path(tempfile.mkdtemp(prefix="upsamp-bench-engine-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        x_u8 = photo(None if args.image else SIZE, args.image)
        h, w = x_u8.shape[:2]
        info["input"] = f"{w}×{h} RGB photo" + (f" ({args.image})" if args.image else "")
        png = work / f"photo{h}.png"
        Image.fromarray(x_u8).save(png)
        x_f32 = x_u8.astype(np.float32)

        rows: list[Row] = []
        extra: dict[str, Any] = {"errors": []}

        def section(name: str, action: Callable[[], Any], fallback: Any) -> Any:
            """Run one part; a failure is logged and recorded, and the other parts still run."""
            try:
                return action()
            except Exception as exc:  # report it and go on with the next part
                log(f"[red]{name} failed[/]: {escape(str(exc))}")
                extra["errors"].append(f"{name}: {exc}")
                return fallback

        log(f"in-process cases, {repeat} interleaved runs each")
        rows += section("transconv", lambda: bench_transconv(up, x_f32, repeat, log), [])
        rows += section("bilinear", lambda: bench_bilinear(up, x_u8, repeat, log), [])
        rows += section("new methods", lambda: bench_new_methods(up, x_f32, x_u8, repeat, log), [])
        rows += section(
            "nearest/bed-of-nails/max-unpool",
            lambda: bench_copies(up, x_u8, args.image, repeat, log),
            [],
        )
        extra["copy_bandwidth_gb_s"] = copy_bandwidth(repeat=repeat)
        log(f"whole process, {process_repeat} interleaved runs each")
        rows += section(
            "whole process",
            lambda: bench_process(work, png, process_repeat, imagemagick, log),
            [],
        )
        log(f"start-up, {2 * repeat} interleaved runs each")
        startup_rows, extra["startup"] = section(
            "start-up", lambda: bench_startup(2 * repeat, log), ([], {})
        )
        rows += startup_rows
        log("peak RSS")
        memory = section("peak RSS", lambda: bench_memory(work, png, x_u8, not args.quick, log), [])
        extra["load_end"] = " ".join(f"{v:.2f}" for v in os.getloadavg())
        render(console, info, rows, memory, extra)
        if args.profile:
            console.print("\n[bold]cProfile of the whole-process enlarge (top, by cumtime)[/]")
            extra["profile"] = profile_enlarge(png, work)
            console.print(extra["profile"], highlight=False, markup=False)
        if args.json:
            doc = {
                "machine": info,
                "repeat": repeat,
                "process_repeat": process_repeat,
                "rows": [r.as_json() for r in rows],
                "memory": [asdict(m) | {"met": m.met} for m in memory],
                **extra,
            }
            args.json.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
            log(f"results written to {args.json}")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


# --------------------------------------------------------------------------------------------
# 8. sub-pixel convolution, resize-convolution, bicubic and Lanczos at any scale


def bench_new_methods(
    up: Any, x: np.ndarray, x_u8: np.ndarray, repeat: int, log: Callable[[str], None]
) -> list[Row]:
    """upsamp's pixel shuffle, resize-conv, bicubic and Lanczos (float32) vs PyTorch's
    ``pixel_shuffle(conv2d)``, ``conv2d(interpolate)``, ``interpolate(bicubic)`` and Pillow's
    LANCZOS (uint8 RGB, its usual use)."""
    from upsamp.kernel_convert import transconv_to_pixel_shuffle
    from upsamp.kernels import preset
    from upsamp.methods.cubic import bicubic
    from upsamp.methods.lanczos import lanczos
    from upsamp.methods.pixel_shuffle import pixel_shuffle
    from upsamp.methods.resize_conv import resize_conv

    torch = optional("torch")
    c = x.shape[2]
    h, w = x.shape[:2]
    sub = transconv_to_pixel_shuffle(preset("bilinear", 2))
    sub_w = sub.weight.astype(np.float32)
    mixing = np.random.default_rng(6).standard_normal((c, c, 3, 3)).astype(np.float32) / 9
    cases: list[tuple[str, Callable[[], Any], Callable[[], Any] | None, str]] = []
    if torch is not None:
        F = torch.nn.functional
        xt = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1))[None])
        wt = torch.from_numpy(
            np.ascontiguousarray(np.tile(sub_w[None], (c, 1, 1, 1))).reshape(c * 4, 1, 3, 3)
        )
        mt = torch.from_numpy(mixing)

        def no_grad(fn: Callable[[], Any]) -> Callable[[], Any]:
            def run() -> Any:
                with torch.no_grad():
                    return fn()[0].permute(1, 2, 0).numpy()

            return run

        cases += [
            (
                "pixel shuffle f32, bilinear preset as 3×3 sub-pixel kernels",
                lambda: pixel_shuffle(x, sub_w, 2, padding=sub.padding),
                no_grad(lambda: F.pixel_shuffle(F.conv2d(xt, wt, padding=1, groups=c), 2)),
                "torch pixel_shuffle(conv2d)",
            ),
            (
                "resize-conv f32, nearest ×2 then 3→3 3×3",
                lambda: resize_conv(x, mixing, 2),
                no_grad(lambda: F.conv2d(F.interpolate(xt, scale_factor=2), mt, padding="same")),
                "torch conv2d(interpolate)",
            ),
            (
                "bicubic f32 ×2",
                lambda: bicubic(x, 2),
                no_grad(lambda: F.interpolate(xt, scale_factor=2, mode="bicubic")),
                "torch interpolate bicubic",
            ),
            (
                "bicubic f32 ×1.5",
                lambda: bicubic(x, 1.5),
                no_grad(lambda: F.interpolate(xt, scale_factor=1.5, mode="bicubic")),
                "torch interpolate bicubic",
            ),
        ]
    im = Image.fromarray(x_u8)
    cases.append(
        (
            "Lanczos-3 f32 ×2",
            lambda: lanczos(x, 2),
            lambda: im.resize((2 * w, 2 * h), Image.Resampling.LANCZOS),
            "Pillow LANCZOS (uint8)",
        )
    )
    rows = []
    for label, ours, ref, ref_name in cases:
        assert ref is not None
        y = ours()
        expected = np.asarray(ref(), dtype=np.float32)
        ok, err = close(y, expected, rtol=1e-4 if "uint8" not in ref_name else 1e-2)
        log(f"{label}: rel. error vs {ref_name} {err:.2e}")
        samples = interleaved({"upsamp": ours, "ref": ref}, repeat)
        rows.append(
            Row(
                "new methods",
                label,
                median(samples["upsamp"]),
                ref_name,
                median(samples["ref"]),
                valid=ok,
                bytes_moved=x.nbytes + y.nbytes,
                note=f"max err {err:.1e}" + ("" if ok else " MISMATCH"),
                ours_samples=samples["upsamp"],
                ref_samples=samples["ref"],
            )
        )
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
