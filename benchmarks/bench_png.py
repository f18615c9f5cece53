"""PNG encoding and decoding, whole-process and huge-image runs, side by side with Pillow,
OpenCV, ImageMagick and libvips (the PNG and huge-image targets of the performance issue).

Cases (medians of interleaved runs, ratio = upsamp / reference):

1. Encode the 3840×2160 RGB result of ``upsamp enlarge --method transconv --stride 2`` of a
   1080p photo: ``upsamp.png.write_png`` (default adaptive filters; also Up only, the plain
   minimum-sum heuristic and the standard zlib engine) vs Pillow ``save(compress_level=6)``,
   with the file sizes; level 1 as well. The filter step alone is timed too.
2. Decode an 8-bit 1080p PNG (written by Pillow, and by upsamp) with ``upsamp.png_read`` vs
   Pillow; a 16-bit RGB 1080p PNG vs OpenCV ``IMREAD_UNCHANGED``.
3. Whole process, 1080p PNG -> 4K PNG: ``upsamp enlarge --method transconv --stride 2`` vs
   ImageMagick ``convert -filter Triangle -resize 200%`` and
   ``vips resize in.png out.png[filter=all] 2 --kernel linear``; output sizes.
4. Huge: 6000×4000 -> 12000×8000, PNG -> PNG (transconv) and JPEG -> JPEG (bilinear) vs
   ``vips resize`` (``--kernel linear``; PNG with ``filter=all``), wall time and peak RSS of
   the child process (``/usr/bin/time -v``), not with ``--quick``.

Tools that are not installed are skipped. Usage::

    PYTHONPATH=. python benchmarks/bench_png.py [--quick] [--repeat 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_engine import (  # noqa: E402
    REPO_ROOT,
    child_env,
    find_imagemagick,
    interleaved,
    machine,
    median,
    optional,
    photo,
    spread,
    tiled_photo,
)

ENLARGE = ["--method", "transconv", "--stride", "2"]


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def child(command: Sequence[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one child process, under ``/usr/bin/time -v``.

    (``os.wait4``'s ``ru_maxrss`` would also count the moments between fork and exec, when
    the child is still a copy of this large benchmark process.)"""
    timer = "/usr/bin/time"
    if not os.access(timer, os.X_OK):
        raise RuntimeError("/usr/bin/time is needed for peak RSS (apt-get install time)")
    start = time.perf_counter()
    done = subprocess.run([timer, "-v", *command], env=child_env(), capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, command))} failed: {done.stderr[-500:]}")
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    if not found:
        raise RuntimeError("/usr/bin/time -v printed no peak RSS")
    return wall, int(found.group(1)) / 1024


def vips_binary() -> str | None:
    return shutil.which("vips")


def rows_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| case | upsamp | reference | ratio | note |", "|---|---|---|---|---|"]
    for r in rows:
        ratio = f"{r['ours'] / r['ref']:.2f}×" if r.get("ref") else "—"
        lines.append(
            f"| {r['case']} | {fmt(r['ours'])} ±{r.get('ours_spread', 0):.0%} | "
            f"{r['reference']} {fmt(r.get('ref'))} | {ratio} | {r.get('note', '')} |"
        )
    return "\n".join(lines)


def fmt(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def row(case: str, samples: dict, ours: str, ref: str | None, reference: str, note=""):
    out = {"case": case, "reference": reference, "note": note}
    out["ours"], out["ours_spread"] = median(samples[ours]), spread(samples[ours])
    out["ref"] = median(samples[ref]) if ref else None
    out["samples"] = {k: samples[k] for k in (ours, ref) if k}
    return out


# --------------------------------------------------------------------------------------------


def bench_encode(big: np.ndarray, repeat: int) -> tuple[list[dict], dict[str, int]]:
    from upsamp import png
    from upsamp.threads import image_threads

    threads = image_threads()
    sizes: dict[str, int] = {}

    def ours(level=6, **kw) -> Callable[[], Any]:
        def run() -> int:
            buf = io.BytesIO()
            png.write_png(buf, big, "RGB", compress_level=level, threads=threads, **kw)
            return len(buf.getvalue())

        return run

    def pillow(level=6) -> Callable[[], Any]:
        def run() -> int:
            buf = io.BytesIO()
            Image.fromarray(big).save(buf, format="PNG", compress_level=level)
            return len(buf.getvalue())

        return run

    contenders = {
        "upsamp": ours(),
        "upsamp up": ours(filter_strategy="up"),
        "upsamp minsum": ours(filter_strategy="minsum"),
        "upsamp zlib": ours(engine="zlib"),
        "pillow": pillow(),
        "upsamp L1": ours(1),
        "pillow L1": pillow(1),
    }
    for name, fn in contenders.items():
        sizes[name] = fn()
    engine6, engine1 = png.deflate_engine(6).name, png.deflate_engine(1).name
    samples = interleaved(contenders, repeat)
    rows_bytes = big.reshape(big.shape[0], -1)
    filt = interleaved({"filter": lambda: png.filter_rows(rows_bytes, None, 3)}, repeat)
    P = sizes["pillow"]

    def size_note(name: str, ref: str = "pillow") -> str:
        return f"{sizes[name] / 1e6:.2f} MB = {sizes[name] / sizes[ref]:.3f}× Pillow's"

    rows = [
        row("encode 4K RGB, level 6, adaptive filters", samples, "upsamp", "pillow",
            "Pillow level 6", f"{engine6}, {threads} threads; {size_note('upsamp')}"),
        row("  Up filter on every row", samples, "upsamp up", "pillow", "Pillow level 6",
            size_note("upsamp up")),
        row("  plain minimum-sum heuristic", samples, "upsamp minsum", "pillow",
            "Pillow level 6", size_note("upsamp minsum")),
        row("  standard zlib engine", samples, "upsamp zlib", "pillow", "Pillow level 6",
            size_note("upsamp zlib")),
        row("encode 4K RGB, level 1", samples, "upsamp L1", "pillow L1", "Pillow level 1",
            f"{engine1}; {size_note('upsamp L1', 'pillow L1')}"),
        row("  filter step alone (adaptive, one thread)", filt, "filter", None, "—",
            f"{rows_bytes.nbytes / median(filt['filter']) / 1e9:.2f} GB/s"),
    ]  # fmt: skip
    sizes["pillow_level6"] = P
    return rows, sizes


def bench_decode(x: np.ndarray, repeat: int) -> list[dict]:
    from upsamp import png, png_read

    pil_buf = io.BytesIO()
    Image.fromarray(x).save(pil_buf, format="PNG")
    pil_png = pil_buf.getvalue()
    own = io.BytesIO()
    png.write_png(own, x, "RGB")
    own_png = own.getvalue()
    for data in (pil_png, own_png):
        assert np.array_equal(png_read.read_png(data)[0], x), "decoder mismatch"
    contenders = {
        "ours pil": lambda: png_read.read_png(pil_png)[0],
        "pillow pil": lambda: np.asarray(Image.open(io.BytesIO(pil_png))),
        "ours own": lambda: png_read.read_png(own_png)[0],
        "pillow own": lambda: np.asarray(Image.open(io.BytesIO(own_png))),
    }
    cv2 = optional("cv2")
    x16 = x.astype(np.uint16) * 257 + np.random.default_rng(0).integers(0, 257, x.shape).astype(
        np.uint16
    )
    if cv2 is not None:
        ok, enc = cv2.imencode(".png", x16[:, :, ::-1])
        cv_png = enc.tobytes()
        assert np.array_equal(png_read.read_png(cv_png)[0], x16), "16-bit decoder mismatch"
        arr = np.frombuffer(cv_png, np.uint8)
        contenders["ours 16"] = lambda: png_read.read_png(cv_png)[0]
        contenders["opencv 16"] = lambda: cv2.imdecode(arr, cv2.IMREAD_UNCHANGED)
    samples = interleaved(contenders, repeat)
    rows = [
        row("decode 1080p RGB PNG written by Pillow", samples, "ours pil", "pillow pil",
            "Pillow", "adaptive filters: mostly Paeth rows"),
        row("decode 1080p RGB PNG written by upsamp", samples, "ours own", "pillow own",
            "Pillow", ""),
    ]  # fmt: skip
    if cv2 is not None:
        rows.append(
            row("decode 1080p 16-bit RGB PNG written by OpenCV", samples, "ours 16",
                "opencv 16", "OpenCV IMREAD_UNCHANGED", "Pillow cannot (8 bits)")
        )  # fmt: skip
    return rows


def bench_process(work: Path, src: Path, repeat: int) -> tuple[list[dict], dict[str, int]]:
    py = sys.executable
    outs = {k: work / f"proc_{k}.png" for k in ("upsamp", "imagemagick", "vips")}
    commands = {
        "upsamp": [py, "-m", "upsamp", "enlarge", str(src), *ENLARGE, "-o", str(outs["upsamp"])]
    }
    im = find_imagemagick()
    if im:
        commands["imagemagick"] = [*im, str(src), "-filter", "Triangle", "-resize", "200%"]
        commands["imagemagick"].append(str(outs["imagemagick"]))
    vips = vips_binary()
    if vips:
        commands["vips"] = [vips, "resize", str(src), f"{outs['vips']}[filter=all]", "2"]
        commands["vips"] += ["--kernel", "linear"]

    def runner(command):
        return lambda: subprocess.run(command, env=child_env(), check=True, capture_output=True)

    before = {k: (lambda p=outs[k]: p.unlink(missing_ok=True)) for k in commands}
    samples = interleaved({k: runner(v) for k, v in commands.items()}, repeat, before=before)
    sizes = {k: outs[k].stat().st_size for k in commands}
    rows = []
    for key, label in (("imagemagick", "ImageMagick -filter Triangle -resize 200%"),
                       ("vips", "vips resize [filter=all] --kernel linear")):  # fmt: skip
        if key in samples:
            note = f"files: upsamp {sizes['upsamp'] / 1e6:.2f} MB, {key} {sizes[key] / 1e6:.2f} MB"
            rows.append(row("whole process 1080p→4K PNG, transconv", samples, "upsamp", key,
                            label, note))  # fmt: skip
        else:
            log(f"{key}: not installed, skipped")
    return rows, sizes


def bench_huge(work: Path, base: np.ndarray, repeat: int) -> list[dict]:
    py = sys.executable
    big = tiled_photo(6000, base)[:4000]  # 6000 wide, 4000 high
    src_png, src_jpg = work / "huge.png", work / "huge.jpg"
    Image.fromarray(big).save(src_png, compress_level=1)
    Image.fromarray(big).save(src_jpg, quality=95)
    del big
    vips = vips_binary()
    rows = []
    for kind, src, method in (("PNG", src_png, "transconv"), ("JPEG", src_jpg, "bilinear")):
        ext = ".png" if kind == "PNG" else ".jpg"
        outs = {k: work / f"huge_{k}{ext}" for k in ("upsamp", "vips")}
        args = ["--method", method, "--stride", "2"] if method == "transconv" else [
            "--method", method, "--scale", "2"]  # fmt: skip
        commands = {"upsamp": [py, "-m", "upsamp", "enlarge", str(src), *args, "-o",
                               str(outs["upsamp"])]}  # fmt: skip
        if vips:
            target = f"{outs['vips']}[filter=all]" if kind == "PNG" else f"{outs['vips']}[Q=95]"
            commands["vips"] = [vips, "resize", str(src), target, "2", "--kernel", "linear"]
        walls: dict[str, list[float]] = {k: [] for k in commands}
        rss: dict[str, list[float]] = {k: [] for k in commands}
        for r in range(repeat):
            names = list(commands)
            for name in names[r % len(names) :] + names[: r % len(names)]:
                outs[name].unlink(missing_ok=True)
                wall, peak = child(commands[name])
                if not outs[name].exists():
                    raise RuntimeError(f"{name} wrote no {outs[name].name}")
                walls[name].append(wall)
                rss[name].append(peak)
        note = f"peak RSS upsamp {max(rss['upsamp']):.0f} MB"
        if "vips" in commands:
            note += f", vips {max(rss['vips']):.0f} MB"
        rows.append(
            row(f"huge 6000×4000→12000×8000 {kind}→{kind}, {method}", walls, "upsamp",
                "vips" if vips else None, "vips resize --kernel linear" if vips else "—", note)
        )  # fmt: skip
        rows[-1]["peak_rss_mb"] = {k: max(v) for k, v in rss.items()}
        for p in outs.values():
            p.unlink(missing_ok=True)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="no huge-image case")
    parser.add_argument("--repeat", type=int, default=5, help="interleaved runs (at least 5)")
    parser.add_argument("--huge-repeat", type=int, default=5, help="runs of each huge case")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    parser.add_argument(
        "--cases", default="process,encode,decode,huge", help="comma-separated subset to run"
    )
    args = parser.parse_args(argv)
    if args.repeat < 5:
        parser.error("--repeat must be at least 5 (medians of >= 5 runs)")
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    info = machine(find_imagemagick())
    vips = vips_binary()
    info["vips"] = (
        subprocess.run([vips, "--version"], capture_output=True, text=True).stdout.strip()
        if vips else "not installed"
    )  # fmt: skip
    for name in ("zlib_ng", "isal", "tifffile"):
        mod = optional(name)
        info[name] = getattr(mod, "__version__", "installed") if mod else "not installed"
    work = Path(tempfile.mkdtemp(prefix="upsamp-bench-png-"))
    rows: list[dict] = []
    extra: dict[str, Any] = {}
    try:
        x = photo((1920, 1080))
        src = work / "photo1080.png"
        Image.fromarray(x).save(src)
        cases = set(args.cases.split(","))
        if cases & {"process", "encode"}:
            log("whole process")
            process_rows, extra["process_sizes"] = bench_process(work, src, args.repeat)
            if "encode" in cases:
                log("encode")
                big = np.asarray(Image.open(work / "proc_upsamp.png"))
                encode_rows, extra["encode_sizes"] = bench_encode(big, args.repeat)
                rows += encode_rows
                del big
            if "process" in cases:
                rows += process_rows
        if "decode" in cases:
            log("decode")
            rows += bench_decode(x, args.repeat)
        if "huge" in cases and not args.quick:
            log("huge images")
            rows += bench_huge(work, x, max(1, args.huge_repeat))
        info["load (1, 5, 15 min) at end"] = " ".join(f"{v:.2f}" for v in os.getloadavg())
        print("\n".join(f"- {k}: {v}" for k, v in info.items()))
        print()
        print(rows_table(rows))
        print("\nPeak RSS: /usr/bin/time -v of each child, the maximum over its runs.")
        if args.json:
            args.json.write_text(
                json.dumps({"machine": info, "rows": rows, **extra}, indent=1, default=str)
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
