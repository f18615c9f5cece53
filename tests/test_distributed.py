"""upsamp.distributed without a real cluster: the chunked single-image path against the local
result for every method (an in-process Dask cluster), the batch runner hook, and the core
install without Dask.

The Dask tests are skipped when the ``distributed`` extra is not installed; the hook and
"no Dask" tests run either way. The real loopback cluster is in tests/cli/.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from upsamp import batch as lib
from upsamp import imageio
from upsamp.cli import cli
from upsamp.errors import ExitCode, ParameterError
from upsamp.imageio import LoadedImage
from upsamp.indices import indices_payload
from upsamp.kernels import build_kernel
from upsamp.methods import MethodOptions
from upsamp.pipeline import (
    EnlargeSettings,
    enlarge_file,
    enlarge_image,
    enlarge_to_storage,
    prepare,
)
from upsamp.pool_job import pool_image

REPO_ROOT = Path(__file__).resolve().parents[1]


def _noise(shape: tuple[int, ...], seed: int, dtype: type = np.uint8) -> np.ndarray:
    high = 65536 if dtype == np.uint16 else 256
    return np.random.default_rng(seed).integers(0, high, size=shape).astype(dtype)


def _image(pixels: np.ndarray, alpha: np.ndarray | None, mode: str) -> LoadedImage:
    return LoadedImage(pixels, alpha, mode, mode, "PNG")


def _transconv(kernel: str = "bicubic", stride=(2, 2), **geometry) -> EnlargeSettings:
    built = build_kernel(kernel, stride=stride, **geometry)
    return EnlargeSettings(
        method="transconv", options=MethodOptions(stride=built.stride, kernel=built)
    )


def _settings(method: str, **options) -> EnlargeSettings:
    return EnlargeSettings(method=method, options=MethodOptions(**options))


RGB = _noise((13, 11, 3), 1)
RGBA_COLOUR, RGBA_ALPHA = _noise((9, 14, 3), 2), _noise((9, 14), 3)
GREY = _noise((11, 7), 4)
GREY16 = _noise((7, 9), 5, np.uint16)
FLOAT = np.random.default_rng(6).normal(size=(8, 10)).astype(np.float32)
MIXING = np.random.default_rng(7).normal(size=(3, 3, 4, 4)).astype(np.float32) / 4

#: id -> (image, settings, mode): every method, odd sizes, alpha, every integer path.
CASES: dict[str, tuple[LoadedImage, EnlargeSettings, str]] = {
    "nearest-2x3-rgb": (_image(RGB, None, "RGB"), _settings("nearest", stride=(2, 3)), "RGB"),
    "nearest-scale-1.7-la": (
        _image(GREY, _noise((11, 7), 8), "LA"),
        _settings("nearest", scale=1.7),
        "LA",
    ),
    "bilinear-exact-integer-rgb": (_image(RGB, None, "RGB"), _settings("bilinear"), "RGB"),
    "bilinear-exact-integer-rgba-x3": (
        _image(RGBA_COLOUR, RGBA_ALPHA, "RGBA"),
        _settings("bilinear", stride=(3, 3)),
        "RGBA",
    ),
    "bilinear-exact-integer-16-bit": (
        _image(GREY16, None, "I;16"),
        _settings("bilinear"),
        "I;16",
    ),
    "bilinear-align-corners": (
        _image(RGB, None, "RGB"),
        _settings("bilinear", align_corners=True),
        "RGB",
    ),
    "bilinear-size-odd": (
        _image(RGBA_COLOUR, RGBA_ALPHA, "RGBA"),
        _settings("bilinear", size=(23, 31)),
        "RGBA",
    ),
    "bed-of-nails-3": (_image(GREY, None, "L"), _settings("bed-of-nails", stride=(3, 3)), "L"),
    "transconv-bilinear-exact-integer": (
        _image(RGBA_COLOUR, RGBA_ALPHA, "RGBA"),
        _transconv("bilinear"),
        "RGBA",
    ),
    "transconv-bicubic-same-replicate": (
        _image(RGB, None, "RGB"),
        _transconv("bicubic", padding="same", edge="replicate"),
        "RGB",
    ),
    "transconv-padding-dilation-reflect": (
        _image(RGBA_COLOUR, RGBA_ALPHA, "RGBA"),
        _transconv("bicubic", padding=(1, 2), dilation=(2, 1), edge="reflect"),
        "RGBA",
    ),
    "transconv-output-padding-zero-3x2": (
        _image(GREY, None, "L"),
        _transconv("bicubic", stride=(3, 2), output_padding=(1, 0), edge="zero"),
        "L",
    ),
    "transconv-float-image": (_image(FLOAT, None, "F"), _transconv("gaussian"), "F"),
    "transconv-checkerboard-clipped": (
        _image(RGB, None, "RGB"),
        _transconv("checkerboard", stride=(3, 3)),
        "RGB",
    ),
}


def _with_kernel(method: str, spec: str | None, stride=(2, 2), **options) -> EnlargeSettings:
    """A kernel-bearing method with its kernel built as the command line builds it."""
    from upsamp.methods import get_method

    built = get_method(method).build_kernel(spec, stride, resize=options.get("resize"))
    return EnlargeSettings(
        method=method, options=MethodOptions(stride=built.stride, kernel=built, **options)
    )


CASES.update({
    "pixel-shuffle-icnr-rgba-x3": (
        _image(RGBA_COLOUR, RGBA_ALPHA, "RGBA"),
        _with_kernel("pixel-shuffle", "icnr:bicubic", stride=(3, 3)),
        "RGBA",
    ),
    "pixel-shuffle-bilinear-rgb": (
        _image(RGB, None, "RGB"), _with_kernel("pixel-shuffle", "bilinear"), "RGB",
    ),
    "resize-conv-bilinear-la": (
        _image(GREY, _noise((11, 7), 8), "LA"),
        _with_kernel("resize-conv", None, resize="bilinear"),
        "LA",
    ),
    "bicubic-scale-1.5-rgba": (
        _image(RGBA_COLOUR, RGBA_ALPHA, "RGBA"),
        _settings("bicubic", scale=1.5, cubic_a=-0.5),
        "RGBA",
    ),
    "lanczos-size-odd-16-bit": (
        _image(GREY16, None, "I;16"), _settings("lanczos", size=(17, 23)), "I;16",
    ),
})  # fmt: skip


CASES["transconv-rescale"] = (
    CASES["transconv-padding-dilation-reflect"][0],
    replace(CASES["transconv-padding-dilation-reflect"][1], range_mode="rescale"),
    "RGBA",
)


def _mixing_kernel_case() -> tuple[LoadedImage, EnlargeSettings, str]:
    from upsamp.kernels import Kernel

    kernel = Kernel(
        weight=MIXING, stride=(2, 2), padding=(1, 1), output_padding=(1, 1), name="mixing"
    )
    settings = EnlargeSettings(method="transconv", options=MethodOptions(kernel=kernel))
    return _image(RGBA_COLOUR, RGBA_ALPHA, "RGBA"), settings, "RGBA"


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    """An in-process Dask cluster of two single-thread workers (fast to start)."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=False,
            dashboard_address=None,
            scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
            silence_logs=logging.ERROR,
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as dask_client,
    ):
        yield dask_client


def _max_unpool_settings(tmp_path: Path, image: LoadedImage, via: str) -> EnlargeSettings:
    """Max-unpool positions of a 2x pooling of a bigger image, from an indices file or a guide."""
    big = _noise((image.shape[0] * 2, image.shape[1] * 2, 4), 9)
    _, _, found = pool_image(_image(big[:, :, :3], big[:, :, 3], "RGBA"), (2, 2))
    if via == "indices":
        path = tmp_path / "positions.npz"
        np.savez(path, **indices_payload(found))
        return EnlargeSettings(method="max-unpool", indices_file=path, stride_given=False)
    path = tmp_path / "guide.png"
    Image.fromarray(big).save(path)
    return EnlargeSettings(method="max-unpool", guide_file=path, stride_given=False)


def _assert_same_storage(image, settings, mode, client, chunk_rows) -> None:
    from upsamp.distributed import distributed_storage

    local, local_clipped = enlarge_to_storage(image, prepare(image, settings), mode)
    chunked, chunked_clipped = distributed_storage(
        image, settings, mode, client, chunk_rows=chunk_rows
    )
    assert chunked.dtype == local.dtype
    assert chunked.shape == local.shape
    np.testing.assert_array_equal(chunked, local)
    assert chunked_clipped == pytest.approx(local_clipped, abs=1e-12)


@pytest.mark.parametrize("chunk_rows", [1, 5, None])
@pytest.mark.parametrize("case", list(CASES))
def test_chunked_storage_equals_the_local_result(client, case: str, chunk_rows) -> None:
    image, settings, mode = CASES[case]
    _assert_same_storage(image, settings, mode, client, chunk_rows)


@pytest.mark.parametrize("via", ["indices", "guide"])
def test_chunked_max_unpool_equals_the_local_result(client, tmp_path: Path, via: str) -> None:
    image = _image(RGBA_COLOUR, RGBA_ALPHA, "RGBA")
    settings = _max_unpool_settings(tmp_path, image, via)
    for chunk_rows in (1, 4):
        _assert_same_storage(image, settings, "RGBA", client, chunk_rows)


def test_chunked_channel_mixing_kernel_with_alpha(client) -> None:
    image, settings, mode = _mixing_kernel_case()
    local, _ = enlarge_to_storage(image, settings, "RGBA")
    assert local.shape[2] == 4  # 3 colour channels mixed, alpha resampled bilinearly
    for chunk_rows in (1, 3):
        _assert_same_storage(image, settings, mode, client, chunk_rows)


@pytest.mark.parametrize("case", ["transconv-padding-dilation-reflect", "bilinear-size-odd"])
def test_chunked_float_arrays_equal_the_local_result(client, case: str) -> None:
    from upsamp.distributed import distributed_arrays

    image, settings, _ = CASES[case]
    colour, alpha = enlarge_image(image, settings)
    for chunk_rows in (1, 4, 1000):
        got_colour, got_alpha = distributed_arrays(image, settings, client, chunk_rows=chunk_rows)
        assert got_colour.dtype == colour.dtype
        np.testing.assert_array_equal(got_colour, colour)
        np.testing.assert_array_equal(got_alpha, alpha)


@pytest.mark.parametrize("suffix", [".png", ".npy", ".tif"])
def test_enlarge_on_cluster_writes_the_same_file(client, tmp_path: Path, suffix: str) -> None:
    from upsamp.distributed import enlarge_on_cluster

    source = tmp_path / "in.png"
    Image.fromarray(np.dstack([RGBA_COLOUR, RGBA_ALPHA])).save(source)
    settings = _transconv("bicubic", padding="same", edge="reflect")
    here = enlarge_file(source, tmp_path / f"here{suffix}", settings)
    there = enlarge_on_cluster(source, tmp_path / f"there{suffix}", settings, client, chunk_rows=3)
    assert (tmp_path / f"there{suffix}").read_bytes() == (tmp_path / f"here{suffix}").read_bytes()
    assert there.output_shape == here.output_shape
    assert there.clipped_fraction == pytest.approx(here.clipped_fraction, abs=1e-12)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["in.png", f"here{suffix}", f"there{suffix}"]
    )  # no temporary files


def test_a_kernel_that_does_not_fit_fails_before_any_task(client) -> None:
    from upsamp.distributed import distributed_storage
    from upsamp.errors import KernelError

    _, settings, _ = _mixing_kernel_case()
    with pytest.raises(KernelError, match="input channels"):
        distributed_storage(_image(GREY, None, "L"), settings, "L", client, chunk_rows=2)


def test_chunk_helpers() -> None:
    from upsamp.distributed import chunk_bounds, default_chunk_rows

    assert chunk_bounds(7, 7) == [(0, 7)]
    assert chunk_bounds(7, 100) == [(0, 7)]
    assert chunk_bounds(5, 1) == [(i, i + 1) for i in range(5)]
    with pytest.raises(ParameterError, match="at least 1"):
        chunk_bounds(5, 0)
    assert default_chunk_rows((10, 4), threads=0) == 3  # 4 chunks per thread, at least 1 thread
    assert default_chunk_rows((100_000, 100_000, 3), threads=2) == 55  # capped by message size
    assert default_chunk_rows((1, 1), threads=64) == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("local", "local"),
        (" Local ", "local"),
        ("tcp://127.0.0.1:8786", "tcp://127.0.0.1:8786"),
        ("tls://scheduler.example.org:8786", "tls://scheduler.example.org:8786"),
        ("10.0.0.5:8786", "10.0.0.5:8786"),
        ("tcp://[::1]:8786", "tcp://[::1]:8786"),
    ],
)
def test_check_scheduler_accepts(text: str, expected: str) -> None:
    from upsamp.distributed import check_scheduler

    assert check_scheduler(text) == expected


@pytest.mark.parametrize("text", ["", "http://host:8786/", "tcp://", "a b:1", "tcp://h:port"])
def test_check_scheduler_refuses(text: str) -> None:
    from upsamp.distributed import check_scheduler

    with pytest.raises(ParameterError, match="scheduler address"):
        check_scheduler(text)


# --------------------------------------------------------------------------------------------
# The pipeline's row chunks and the batch hook (no Dask needed)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(CASES))
def test_storage_rows_put_together_are_the_whole_result(case: str) -> None:
    from upsamp.pipeline import result_span

    image, settings, mode = CASES[case]
    whole, _ = enlarge_to_storage(image, settings, mode)
    span = result_span(image, settings)
    bounds = [(start, min(start + 4, whole.shape[0])) for start in range(0, whole.shape[0], 4)]
    chunks = [
        enlarge_to_storage(image, settings, mode, rows=rows, value_span=span)[0] for rows in bounds
    ]
    np.testing.assert_array_equal(np.concatenate(chunks), whole)
    spans = [s for s in (result_span(image, settings, rows=rows) for rows in bounds) if s]
    assert span == (min(s[0] for s in spans), max(s[1] for s in spans))


def _plan(tmp_path: Path, n: int) -> lib.BatchPlan:
    src = tmp_path / "in"
    src.mkdir()
    for i in range(n):
        Image.fromarray(_noise((6, 8 + i, 3), 20 + i)).save(src / f"img{i}.png")
    (src / "broken.png").write_text("not an image")
    return lib.plan_batch(src, tmp_path / "out", EnlargeSettings(method="nearest"))


def test_runner_hook_reuses_results_order_and_clean_up(tmp_path: Path) -> None:
    plan = _plan(tmp_path, 4)
    seen: list[list[int]] = []

    def runner(tasks, fail_fast, report) -> bool:
        seen.append([t.index for t in tasks])
        for task in tasks:
            if task.input.name == "img1.png":  # a "worker" that died mid-write
                task.output.parent.mkdir(parents=True, exist_ok=True)
                leftover = f".{task.output.name}.{task.run}.0123456789ab.tmp"
                (task.output.parent / leftover).write_bytes(b"x")
                report(lib.FileResult(task.index, task.input, task.output, "failed", "died"))
            else:
                report(lib.run_task(task))
        return False

    streamed: list[str] = []
    report = lib.run_batch(plan, runner=runner, on_result=lambda r: streamed.append(r.input.name))
    sizes = {t.index: t.estimated_bytes for t in plan.to_run}
    assert [sizes[i] for i in seen[0]] == sorted(sizes.values(), reverse=True)  # largest first
    assert streamed == [t.input.name for t in plan.tasks]  # plan order, as a local run
    assert report.count("ok") == 3 and report.count("failed") == 2
    assert report.exit_code == ExitCode.FAILURE
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "img0_nearestx2.png",
        "img2_nearestx2.png",
        "img3_nearestx2.png",
    ]  # the temporary file of the dead "worker" was swept


def test_runner_interrupted_is_a_clean_interruption(tmp_path: Path) -> None:
    plan = _plan(tmp_path, 3)
    finished: list[str] = []

    def runner(tasks, fail_fast, report) -> bool:
        report(lib.run_task(tasks[0]))
        finished.append(tasks[0].output.name)
        tasks[1].output.parent.mkdir(parents=True, exist_ok=True)
        leftover = f".{tasks[1].output.name}.{tasks[1].run}.0123456789ab.tmp"
        (tasks[1].output.parent / leftover).write_bytes(b"")
        raise KeyboardInterrupt

    report = lib.run_batch(plan, runner=runner)
    assert report.interrupted and report.exit_code == ExitCode.INTERRUPTED
    assert report.not_started == 2 and report.count("ok") == 1
    assert [p.name for p in (tmp_path / "out").iterdir()] == finished  # no temporary file


# --------------------------------------------------------------------------------------------
# The core install without Dask
# --------------------------------------------------------------------------------------------


def _without_dask(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("dask", "distributed"):
        monkeypatch.setitem(sys.modules, name, None)  # import fails as when not installed


def test_scheduler_without_dask_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _without_dask(monkeypatch)
    plan = _plan(tmp_path, 1)
    runner = CliRunner()
    for args in (
        ["batch", str(plan.input_dir), "-o", str(tmp_path / "out"), "--scheduler", "local"],
        ["enlarge", str(plan.tasks[0].input), "--scheduler", "tcp://127.0.0.1:8786"],
    ):
        result = runner.invoke(cli, args, prog_name="upsamp")
        assert result.exit_code == 1, result.output
        assert "pip install 'upsamp[distributed]'" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
    # without --scheduler nothing changes
    result = runner.invoke(cli, ["batch", str(plan.input_dir), "-o", str(tmp_path / "out")])
    assert result.exit_code == 1  # broken.png
    assert len(list((tmp_path / "out").iterdir())) == 1


def test_bad_scheduler_value_is_a_usage_error(runner: CliRunner, small_rgb: Path) -> None:
    result = runner.invoke(cli, ["enlarge", str(small_rgb), "--scheduler", "http://x/"])
    assert result.exit_code == ExitCode.USAGE
    assert "scheduler address" in result.stderr


def test_help_and_a_plain_run_never_import_dask(tmp_path: Path, small_rgb: Path) -> None:
    code = (
        "import sys\n"
        "from upsamp.cli import main\n"
        "for args in (['--help'], ['batch', '--help'], ['enlarge', '--help'],\n"
        f"             ['enlarge', {str(small_rgb)!r}, '-o', {str(tmp_path / 'o.png')!r}]):\n"
        "    try:\n"
        "        main(args)\n"
        "    except SystemExit as exc:\n"
        "        assert not exc.code, exc.code\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed'))\n"
        "print('LOADED', loaded)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
        env=_env(),
    )
    assert done.returncode == 0, done.stderr
    assert "LOADED []" in done.stdout
    assert (tmp_path / "o.png").is_file()


def _env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


def test_loaded_image_info_stays_here(client, tmp_path: Path) -> None:
    """The metadata (ICC profile, EXIF...) is not sent to the workers but is written."""
    from upsamp.distributed import enlarge_on_cluster

    source = tmp_path / "in.png"
    Image.fromarray(RGB).save(source, dpi=(300, 300))
    assert imageio.load_input(source).info.get("dpi")
    enlarge_on_cluster(source, tmp_path / "out.png", _settings("nearest"), client, chunk_rows=2)
    enlarge_file(source, tmp_path / "ref.png", _settings("nearest"))
    assert (tmp_path / "out.png").read_bytes() == (tmp_path / "ref.png").read_bytes()
