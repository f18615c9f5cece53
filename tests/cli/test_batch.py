"""``upsamp batch``: discovery, naming, failures, exit codes, JSON, dry runs, parallel runs and
interruptions.

Most runs go through Click's runner in this process with ``-j 1``; the parallel and signal
tests start ``python -m upsamp`` (spawned worker processes, real signals).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from batch_files import SLOW_ARGS, make_slow_inputs, temp_files, wait_until_writing
from batch_files import noise as _noise
from batch_files import run_cli as run
from batch_files import save_image as _save
from PIL import Image

from upsamp import batch as lib

REPO_ROOT = Path(__file__).resolve().parents[2]
JSON_KEYS = {
    "input", "output", "status", "reason", "input_shape", "output_shape", "frames", "notes",
    "seconds",
}


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def run_process(*args: object, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``python -m upsamp ARGS`` in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "upsamp", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_env(),
    )


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env.setdefault("COLUMNS", "200")
    return env


def records(stdout: str) -> list[dict]:
    """Every stdout line as a JSON object (fails on any line that is not JSON)."""
    lines = stdout.splitlines()
    parsed = [json.loads(line) for line in lines]
    assert all(isinstance(p, dict) for p in parsed)
    return parsed


def by_input(stdout: str, root: Path) -> dict[str, dict]:
    """The JSON records keyed by input path relative to ``root``."""
    out = {}
    for record in records(stdout):
        assert set(record) == JSON_KEYS
        out[Path(record["input"]).relative_to(root).as_posix()] = record
    return out


def snapshot(root: Path, *, skip: Path | None = None) -> dict[str, tuple]:
    """Every file and folder under ``root`` (hidden ones included) with size, mtime and hash."""
    state: dict[str, tuple] = {}
    for path in sorted(root.rglob("*")):
        if skip is not None and (path == skip or skip in path.parents):
            continue
        rel = path.relative_to(root).as_posix()
        if path.is_dir():
            state[rel] = ("dir",)
        else:
            data = path.read_bytes()
            state[rel] = (len(data), path.stat().st_mtime_ns, hashlib.sha256(data).hexdigest())
    return state


def files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


# --------------------------------------------------------------------------------------------
# the mixed tree
# --------------------------------------------------------------------------------------------

#: input (relative) -> (output relative to OUTPUT_DIR, output (width, height), output mode)
EXPECTED_OK = {
    "top_rgb.png": ("top_rgb_bilinearx2.png", (48, 32), "RGB"),
    "top_l.jpg": ("top_l_bilinearx2.jpg", (32, 32), "L"),
    "noext": ("noext_bilinearx2.png", (24, 20), "RGB"),
    "odd.dat": ("odd.dat_bilinearx2.png", (20, 20), "L"),
    "sub/rgba.png": ("sub/rgba_bilinearx2.png", (40, 28), "RGBA"),
    "sub/pal.png": ("sub/pal_bilinearx2.png", (24, 20), "RGB"),
    "sub/pal_alpha.png": ("sub/pal_alpha_bilinearx2.png", (24, 20), "RGBA"),
    "sub/gray16.png": ("sub/gray16_bilinearx2.png", (16, 12), "I;16"),
    "sub/deeper/scan.tif": ("sub/deeper/scan_bilinearx2.tif", (16, 12), "RGB"),
    "sub/deeper/photo.webp": ("sub/deeper/photo_bilinearx2.webp", (20, 20), "RGB"),
}
#: input -> a word the failure reason must contain
EXPECTED_FAILED = {
    "notes.png": "not an image",
    "sub/truncated.png": "truncated",
    "sub/deeper/done.png": "exists",
}
PRE_EXISTING = "sub/deeper/done_bilinearx2.png"


def make_tree(root: Path) -> Path:
    """The mixed input tree of the issue; returns INPUT_DIR (``root/in``)."""
    src = root / "in"
    _save(src / "top_rgb.png", _noise((16, 24, 3), 1))
    _save(src / "top_l.jpg", _noise((16, 16), 2), quality=90)
    _save(src / "noext", _noise((10, 12, 3), 3), format="PNG")  # an image without extension
    _save(src / "odd.dat", _noise((10, 10), 4), format="PNG")  # an image with an odd one
    (src / "notes.png").write_text("not a picture\n")  # named like an image: a failure
    (src / "readme.txt").write_text("ignored\n")  # neither: ignored
    (src / "data.bin").write_bytes(bytes(range(256)))
    _save(src / ".hidden.png", _noise((6, 6, 3), 5))
    _save(src / ".hiddendir" / "inside.png", _noise((6, 6, 3), 6))
    _save(src / "sub" / "rgba.png", _noise((14, 20, 4), 7))
    _save(src / "sub" / "pal.png", Image.fromarray(_noise((10, 12, 3), 8)).quantize(16))
    pal_alpha = Image.fromarray(_noise((10, 12, 3), 9)).quantize(8)
    pal_alpha.info["transparency"] = 0
    _save(src / "sub" / "pal_alpha.png", pal_alpha, transparency=0)
    _save(src / "sub" / "gray16.png", _noise((6, 8), 10, np.uint16))
    good = (src / "top_rgb.png").read_bytes()
    (src / "sub" / "truncated.png").write_bytes(good[: len(good) // 2])
    _save(src / "sub" / "deeper" / "scan.tif", _noise((6, 8, 3), 11))
    _save(src / "sub" / "deeper" / "photo.webp", _noise((10, 10, 3), 12), lossless=True)
    _save(src / "sub" / "deeper" / "done.png", _noise((5, 5, 3), 13))
    return src


@pytest.fixture(autouse=True)
def wide_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich tables on a non-terminal are 80 columns wide; wider keeps each name on one line."""
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    """``(INPUT_DIR, OUTPUT_DIR)``: the mixed tree, and an output folder holding one output."""
    src = make_tree(tmp_path)
    out = tmp_path / "out"
    (out / PRE_EXISTING).parent.mkdir(parents=True)
    (out / PRE_EXISTING).write_bytes(b"an earlier result")
    return src, out


def test_tree_is_what_the_tests_expect(tree: tuple[Path, Path]) -> None:
    src, _ = tree
    modes = {name: Image.open(src / name).mode for name in ("sub/pal.png", "sub/rgba.png")}
    assert modes == {"sub/pal.png": "P", "sub/rgba.png": "RGBA"}
    assert Image.open(src / "sub/pal_alpha.png").info.get("transparency") is not None
    assert Image.open(src / "sub/gray16.png").mode.startswith("I;16")


# --------------------------------------------------------------------------------------------
# a full run over the mixed tree
# --------------------------------------------------------------------------------------------


def test_tree_outputs_failures_and_nothing_else_written(
    tmp_path: Path, tree: tuple[Path, Path]
) -> None:
    src, out = tree
    before_inputs = snapshot(src)
    before_elsewhere = snapshot(tmp_path, skip=out)
    earlier = (out / PRE_EXISTING).read_bytes()

    result = run("batch", src, "-o", out, "-r", "-j", "1", "--json")

    assert result.exit_code == 1, result.stderr
    found = by_input(result.stdout, src)
    assert set(found) == set(EXPECTED_OK) | set(EXPECTED_FAILED)  # hidden/non-images absent
    for name, (output, size, mode) in EXPECTED_OK.items():
        record = found[name]
        assert record["status"] == "ok", record
        assert record["reason"] is None
        assert Path(record["output"]) == out / output
        with Image.open(out / output) as im:
            assert im.size == size, name
            assert im.mode == mode, name
        assert record["output_shape"][:2] == [size[1], size[0]]
        assert record["seconds"] > 0
    for name, word in EXPECTED_FAILED.items():
        assert found[name]["status"] == "failed"
        assert word in found[name]["reason"], found[name]
    assert (out / PRE_EXISTING).read_bytes() == earlier  # reported, not overwritten
    expected_files = {o for o, _, _ in EXPECTED_OK.values()} | {PRE_EXISTING}
    assert files_under(out) == expected_files  # no outputs for failures, no temporary files
    assert snapshot(src) == before_inputs
    assert snapshot(tmp_path, skip=out) == before_elsewhere
    for name in EXPECTED_FAILED:  # the summary table on stderr, names relative to INPUT_DIR
        assert name in result.stderr
    assert "failed" in result.stderr and "processed" in result.stderr


def test_second_run_with_skip_existing_redoes_nothing(tree: tuple[Path, Path]) -> None:
    src, out = tree
    assert run("batch", src, "-o", out, "-r", "-j", "1").exit_code == 1
    before = snapshot(out)

    result = run("batch", src, "-o", out, "-r", "-j", "1", "--skip-existing", "--json")

    found = by_input(result.stdout, src)
    for name in EXPECTED_OK:
        assert found[name]["status"] == "skipped"
        assert found[name]["output_shape"] is not None
    assert found["sub/deeper/done.png"]["status"] == "skipped"
    assert found["notes.png"]["status"] == "failed"
    assert found["sub/truncated.png"]["status"] == "failed"
    assert snapshot(out) == before  # same files, same modification times
    assert result.exit_code == 1  # the two broken inputs still fail


def test_overwrite_replaces_existing_outputs(tree: tuple[Path, Path]) -> None:
    src, out = tree
    result = run(
        "batch",
        src / "sub" / "deeper",
        "-o",
        out / "sub" / "deeper",
        "--overwrite",
        "-j",
        "1",
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    with Image.open(out / PRE_EXISTING) as im:
        assert im.size == (10, 10)


def test_hidden_files_and_folders_only_with_hidden(tmp_path: Path) -> None:
    src = make_tree(tmp_path)
    result = run("batch", src, "-o", tmp_path / "out", "-r", "-j", "1", "--hidden", "--json")
    found = by_input(result.stdout, src)
    assert found[".hidden.png"]["status"] == "ok"
    assert found[".hiddendir/inside.png"]["status"] == "ok"
    without = run("batch", src, "-o", tmp_path / "out2", "-r", "-j", "1", "--json")
    assert not any(name.startswith(".") for name in by_input(without.stdout, src))


def test_recursive_off_takes_the_top_folder_only(tmp_path: Path) -> None:
    src = make_tree(tmp_path)
    out = tmp_path / "out"
    result = run("batch", src, "-o", out, "-j", "1", "--json")
    found = by_input(result.stdout, src)
    assert set(found) == {"top_rgb.png", "top_l.jpg", "noext", "odd.dat", "notes.png"}
    assert not (out / "sub").exists()


# --------------------------------------------------------------------------------------------
# selection and naming
# --------------------------------------------------------------------------------------------


@pytest.fixture
def plain_tree(tmp_path: Path) -> Path:
    src = tmp_path / "in"
    for i, rel in enumerate(["a.png", "b.jpg", "sub/c.png", "sub/skip/d.png", "sub/e.jpg"]):
        _save(src / rel, _noise((4, 6, 3), i), **({"quality": 90} if rel.endswith("jpg") else {}))
    return src


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ([], {"a.png", "b.jpg", "sub/c.png", "sub/skip/d.png", "sub/e.jpg"}),
        (["--include", "*.png"], {"a.png", "sub/c.png", "sub/skip/d.png"}),
        (["--include", "*.png", "--exclude", "skip"], {"a.png", "sub/c.png"}),
        (["--include", "sub/*.jpg", "--include", "a.*"], {"a.png", "sub/e.jpg"}),
        (["--exclude", "sub/skip/*", "--exclude", "*.jpg"], {"a.png", "sub/c.png"}),
        (["--include", "c.png"], {"sub/c.png"}),  # the file name alone matches too
    ],
)
def test_include_and_exclude(
    tmp_path: Path, plain_tree: Path, flags: list[str], expected: set[str]
) -> None:
    result = run("batch", plain_tree, "-o", tmp_path / "out", "-r", "-j", "1", "--json", *flags)
    assert result.exit_code == 0, result.stderr
    assert set(by_input(result.stdout, plain_tree)) == expected


def test_output_dir_inside_input_dir_is_never_an_input(tmp_path: Path, plain_tree: Path) -> None:
    out = plain_tree / "sub" / "results"
    first = run("batch", plain_tree, "-o", out, "-r", "-j", "1", "--json")
    assert first.exit_code == 0, first.stderr
    names = set(by_input(first.stdout, plain_tree))
    assert len(names) == 5 and not any("results" in n for n in names)
    second = run("batch", plain_tree, "-o", out, "-r", "-j", "1", "--json", "--skip-existing")
    found = by_input(second.stdout, plain_tree)
    assert set(found) == names
    assert {r["status"] for r in found.values()} == {"skipped"}
    assert not any("x2_bilinear" in p.name for p in out.rglob("*"))
    assert len(files_under(out)) == 5


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder")
def test_unreadable_folder_is_reported(tmp_path: Path, plain_tree: Path) -> None:
    locked = plain_tree / "sub" / "skip"
    locked.chmod(0)
    try:
        result = run("batch", plain_tree, "-o", tmp_path / "out", "-r", "-j", "1", "--json")
    finally:
        locked.chmod(0o755)
    assert result.exit_code == 0
    assert "cannot read the folder" in result.stderr
    assert "sub/skip/d.png" not in by_input(result.stdout, plain_tree)


def test_unreadable_folder_problems_are_collected(tmp_path: Path) -> None:
    problems: list[str] = []
    missing = tmp_path / "gone"
    files, filtered = lib.candidate_files(missing, lib.BatchOptions(), (), problems)
    assert (files, filtered) == ([], 0)
    assert problems and "cannot read the folder" in problems[0]


def test_output_dir_equal_to_input_dir_is_a_usage_error(plain_tree: Path) -> None:
    result = run("batch", plain_tree, "-o", plain_tree)
    assert result.exit_code == 2
    assert "differ" in result.stderr


def test_suffix_and_format(tmp_path: Path, plain_tree: Path) -> None:
    out = tmp_path / "out"
    result = run(
        "batch",
        plain_tree,
        "-o",
        out,
        "-r",
        "-j",
        "1",
        "--suffix",
        "_big",
        "--format",
        "webp",
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    assert files_under(out) == {
        "a_big.webp",
        "b_big.webp",
        "sub/c_big.webp",
        "sub/skip/d_big.webp",
        "sub/e_big.webp",
    }
    with Image.open(out / "a_big.webp") as im:
        assert im.format == "WEBP" and im.size == (12, 8)


def test_empty_suffix_keeps_the_name(tmp_path: Path, plain_tree: Path) -> None:
    out = tmp_path / "out"
    assert run("batch", plain_tree, "-o", out, "-j", "1", "--suffix", "").exit_code == 0
    assert files_under(out) == {"a.png", "b.jpg"}


def test_two_inputs_with_one_output_name(tmp_path: Path) -> None:
    src = tmp_path / "in"
    _save(src / "a.jpg", _noise((4, 4, 3), 1), quality=90)
    _save(src / "a.png", _noise((4, 4, 3), 2))
    result = run("batch", src, "-o", tmp_path / "out", "--format", "png", "-j", "1", "--json")
    found = by_input(result.stdout, src)
    assert found["a.jpg"]["status"] == "ok"
    assert found["a.png"]["status"] == "failed"
    assert "same output" in found["a.png"]["reason"]
    assert result.exit_code == 1


def test_jpeg_cannot_hold_alpha_is_a_per_file_failure(tmp_path: Path) -> None:
    src = tmp_path / "in"
    _save(src / "rgb.png", _noise((4, 4, 3), 1))
    _save(src / "rgba.png", _noise((4, 4, 4), 2))
    result = run("batch", src, "-o", tmp_path / "out", "--format", "jpeg", "-j", "1", "--json")
    found = by_input(result.stdout, src)
    assert found["rgb.png"]["status"] == "ok"
    assert found["rgba.png"]["status"] == "failed" and "alpha" in found["rgba.png"]["reason"]
    assert files_under(tmp_path / "out") == {"rgb_bilinearx2.jpg"}


# --------------------------------------------------------------------------------------------
# exit codes, fail-fast, output channels
# --------------------------------------------------------------------------------------------


def test_all_good_exits_0_and_all_skipped_too(tmp_path: Path, plain_tree: Path) -> None:
    out = tmp_path / "out"
    assert run("batch", plain_tree, "-o", out, "-r", "-j", "1").exit_code == 0
    assert run("batch", plain_tree, "-o", out, "-r", "-j", "1", "--skip-existing").exit_code == 0


def test_every_file_failing_exits_3(tmp_path: Path) -> None:
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    (src / "a.png").write_text("text")  # fails while planning
    good = _save(tmp_path / "good.png", _noise((16, 16, 3), 1)).read_bytes()
    (src / "sub" / "b.png").write_bytes(good[: len(good) // 2])  # fails while running
    result = run("batch", src, "-o", tmp_path / "out", "-r", "-j", "1", "--json")
    assert result.exit_code == 3, result.stderr
    assert [r["status"] for r in records(result.stdout)] == ["failed", "failed"]
    assert "truncated" in records(result.stdout)[1]["reason"]
    assert not (tmp_path / "out").exists()  # folders created for nothing are removed again


def test_some_failing_exits_1_and_all_failing_beats_skipped(tmp_path: Path) -> None:
    src = tmp_path / "in"
    _save(src / "good.png", _noise((4, 4), 1))
    (src / "bad.png").write_text("text")
    assert run("batch", src, "-o", tmp_path / "out", "-j", "1").exit_code == 1
    # good is skipped now, bad fails: something is done, so not 3
    result = run("batch", src, "-o", tmp_path / "out", "-j", "1", "--skip-existing")
    assert result.exit_code == 1


def test_fail_fast_stops_at_the_first_failure(tmp_path: Path) -> None:
    src = tmp_path / "in"
    good = _save(tmp_path / "good.png", _noise((8, 8, 3), 1)).read_bytes()
    src.mkdir()
    (src / "a_truncated.png").write_bytes(good[: len(good) // 2])  # fails while running
    for i in range(4):
        _save(src / f"b{i}.png", _noise((8, 8, 3), i))
    out = tmp_path / "out"
    result = run("batch", src, "-o", out, "-j", "1", "--fail-fast", "--json")
    assert result.exit_code == 3  # nothing succeeded
    # stdout alone names every file: the four never started get a not-started record
    assert [(Path(r["input"]).name, r["status"]) for r in records(result.stdout)] == [
        ("a_truncated.png", "failed")
    ] + [(f"b{i}.png", "not-started") for i in range(4)]
    assert {r["reason"] for r in records(result.stdout)[1:]} == {
        "the run stopped at the first failure"
    }
    assert "not started" in result.stderr and "--fail-fast" in result.stderr
    assert not out.exists()
    without = run("batch", src, "-o", out, "-j", "1", "--json")
    assert [r["status"] for r in records(without.stdout)] == ["failed"] + ["ok"] * 4


def test_fail_fast_stops_before_starting_on_a_planned_failure(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.png").write_text("text")
    _save(src / "b.png", _noise((8, 8), 1))
    result = run("batch", src, "-o", tmp_path / "out", "-j", "1", "--fail-fast", "--json")
    assert [(r["input"], r["status"]) for r in records(result.stdout)] == [
        (str(src / "a.png"), "failed"), (str(src / "b.png"), "not-started")
    ]
    assert not (tmp_path / "out").exists()


def test_json_stdout_has_one_object_per_file_and_nothing_else(tree: tuple[Path, Path]) -> None:
    src, out = tree
    result = run("batch", src, "-o", out, "-r", "-j", "1", "--json")
    parsed = records(result.stdout)  # raises on any non-JSON line
    assert len(parsed) == len(EXPECTED_OK) + len(EXPECTED_FAILED)
    assert [p["input"] for p in parsed] == sorted(
        (p["input"] for p in parsed), key=lambda s: Path(s).relative_to(src).parts
    )  # plan order: sorted by relative path
    assert {p["status"] for p in parsed} == {"ok", "failed"}


def test_quiet_prints_failures_only(tree: tuple[Path, Path]) -> None:
    src, out = tree
    result = run("batch", src, "-o", out, "-r", "-j", "1", "-q")
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == len(EXPECTED_FAILED)
    assert all(line.startswith("upsamp: failed: ") for line in lines)


def test_no_images_warns_and_exits_0(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "notes.txt").write_text("x")
    result = run("batch", src, "-o", tmp_path / "out")
    assert result.exit_code == 0
    assert "no images" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--skip-existing", "--overwrite"], "not both"),
        (["--indices", "x.npz", "--method", "max-unpool"], "--indices-dir"),
        (["--method", "max-unpool"], "--indices-dir"),
        (["--indices-dir", "{src}"], "does not apply to bilinear"),
        (["--suffix", "a/b"], "separator"),
        (["--format", "bmp"], "bmp"),
        (["--jobs", "0"], "0"),
    ],
)
def test_usage_errors_exit_2(
    plain_tree: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    args = [a.replace("{src}", str(plain_tree)) for a in args]
    result = run("batch", plain_tree, "-o", tmp_path / "out", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------------------------
# dry run, memory, progress
# --------------------------------------------------------------------------------------------


def test_dry_run_writes_nothing(tmp_path: Path, tree: tuple[Path, Path]) -> None:
    src, out = tree
    before = snapshot(tmp_path)
    result = run("batch", src, "-o", tmp_path / "new" / "out", "-r", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert snapshot(tmp_path) == before  # no file and no folder
    assert f"{src / 'top_rgb.png'} → {tmp_path / 'new/out/top_rgb_bilinearx2.png'}  48×32" in (
        result.stdout
    )
    assert "nothing was written" in result.stderr
    assert "fail: " in result.stdout  # notes.png and the truncated file are announced
    listed = run("batch", src, "-o", out, "-r", "--dry-run", "--json")
    plan = {Path(r["input"]).relative_to(src).as_posix(): r for r in records(listed.stdout)}
    assert plan["sub/deeper/done.png"]["action"] == "fail"
    assert plan["sub/rgba.png"]["action"] == "run"
    assert plan["sub/rgba.png"]["output_shape"] == [28, 40, 3]
    assert plan["sub/rgba.png"]["estimated_bytes"] > 0
    assert snapshot(tmp_path) == before


def _plan_of(estimates: list[int]) -> lib.BatchPlan:
    tasks = [
        lib.BatchTask(
            i,
            Path(f"{i}.png"),
            Path(f"{i}.png"),
            Path(f"o/{i}.png"),
            None,
            "run",
            estimated_bytes=e,
        )
        for i, e in enumerate(estimates)
    ]
    return lib.BatchPlan(Path("in"), Path("o"), tasks)


def test_effective_jobs_lowers_parallelism_to_fit_memory() -> None:
    gib = 2**30
    assert lib.effective_jobs(_plan_of([gib] * 8), 4, available=100 * gib) == (4, None)
    jobs, warning = lib.effective_jobs(_plan_of([gib] * 8), 4, available=3 * gib)
    assert jobs == 2 and "instead of 4" in warning
    jobs, warning = lib.effective_jobs(_plan_of([10 * gib, 1]), 2, available=4 * gib)
    assert jobs == 1 and "largest image" in warning
    assert lib.effective_jobs(_plan_of([1, 1]), 8, available=gib) == (2, None)  # 2 files
    assert _plan_of([3, 1, 2]).peak_bytes(2) == 5


def test_memory_warning_on_the_command_line(
    tmp_path: Path, plain_tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lib, "available_memory", lambda: 200 * 2**20)
    result = run("batch", plain_tree, "-o", tmp_path / "out", "-r", "-j", "4", "--dry-run")
    assert "running 1 job instead of 4" in " ".join(result.stderr.split())


def test_progress_bar_only_on_a_terminal(
    tmp_path: Path, plain_tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rich.console import Console

    from upsamp.cli import batch as command
    from upsamp.cli import render

    buffer = io.StringIO()
    terminal = Console(file=buffer, force_terminal=True, width=120)
    assert command._progress_wanted(terminal, quiet=False, as_json=False)
    assert not command._progress_wanted(terminal, quiet=True, as_json=False)
    assert not command._progress_wanted(terminal, quiet=False, as_json=True)
    assert not command._progress_wanted(Console(file=io.StringIO()), quiet=False, as_json=False)
    monkeypatch.setattr(render, "stderr_console", lambda: terminal)
    result = run("batch", plain_tree, "-o", tmp_path / "out", "-r", "-j", "1")
    assert result.exit_code == 0
    shown = buffer.getvalue()
    assert "5/5" in shown and "ETA" in shown  # the bar, then the summary
    assert "processed" in shown


# --------------------------------------------------------------------------------------------
# max-unpool from mirrored folders
# --------------------------------------------------------------------------------------------


def test_max_unpool_with_indices_dir_and_guide_dir(tmp_path: Path) -> None:
    originals = tmp_path / "orig"
    pooled = tmp_path / "pooled"
    indices = tmp_path / "idx"
    for rel in ("a.png", "sub/b.png", "sub/c.png"):
        _save(originals / rel, _noise((8, 10, 3), len(rel)))
        (pooled / rel).parent.mkdir(parents=True, exist_ok=True)
        (indices / rel).parent.mkdir(parents=True, exist_ok=True)
        if rel != "sub/c.png":  # c has no indices file
            pool = run(
                "pool",
                originals / rel,
                "-o",
                pooled / rel,
                "--stride",
                "2",
                "--indices-out",
                (indices / rel).with_suffix(".npz"),
            )
            assert pool.exit_code == 0, pool.stderr
        else:
            _save(pooled / rel, _noise((4, 5, 3), 9))
    result = run(
        "batch",
        pooled,
        "-o",
        tmp_path / "out",
        "-r",
        "-j",
        "1",
        "--json",
        "--method",
        "max-unpool",
        "--indices-dir",
        indices,
    )
    found = by_input(result.stdout, pooled)
    assert found["a.png"]["status"] == "ok" and found["sub/b.png"]["status"] == "ok"
    assert found["a.png"]["output_shape"] == [8, 10, 3]
    assert found["sub/c.png"]["status"] == "failed"
    assert "indices" in found["sub/c.png"]["reason"]
    assert result.exit_code == 1

    guided = run(
        "batch",
        pooled,
        "-o",
        tmp_path / "out2",
        "-r",
        "-j",
        "1",
        "--json",
        "--method",
        "max-unpool",
        "--guide-dir",
        originals,
    )
    found = by_input(guided.stdout, pooled)
    assert {r["status"] for r in found.values()} == {"ok"}, found
    with Image.open(tmp_path / "out2" / "sub" / "c_max-unpoolx2.png") as im:
        assert im.size == (10, 8)


def test_missing_guide_is_a_per_file_failure(tmp_path: Path) -> None:
    src = tmp_path / "in"
    guides = tmp_path / "guides"
    guides.mkdir()
    _save(src / "a.png", _noise((4, 4), 1))
    _save(guides / "a.png", _noise((8, 8), 2))
    _save(src / "b.png", _noise((4, 4), 3))
    result = run(
        "batch",
        src,
        "-o",
        tmp_path / "out",
        "-j",
        "1",
        "--json",
        "--method",
        "max-unpool",
        "--guide-dir",
        guides,
    )
    found = by_input(result.stdout, src)
    assert found["a.png"]["status"] == "ok"
    assert found["b.png"]["status"] == "failed" and "guide" in found["b.png"]["reason"]


# --------------------------------------------------------------------------------------------
# library pieces
# --------------------------------------------------------------------------------------------


def test_probe_matches_what_the_pipeline_loads(tree: tuple[Path, Path]) -> None:
    from upsamp import imageio

    src, _ = tree
    for name in EXPECTED_OK:
        header = imageio.probe(src / name)
        loaded = imageio.load_input(src / name)
        assert header is not None, name
        assert header.shape == loaded.shape, name
        assert header.has_alpha == loaded.has_alpha, name
    assert imageio.probe(src / "notes.png") is None
    assert imageio.probe(src / "readme.txt") is None


def test_probe_sees_exif_rotation(tmp_path: Path) -> None:
    from upsamp import imageio

    image = Image.fromarray(_noise((4, 6, 3), 1))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90°: a 6×4 file is shown 4×6
    path = tmp_path / "rotated.jpg"
    image.save(path, exif=exif.tobytes(), quality=90)
    header = imageio.probe(path)
    assert header is not None and header.shape == (6, 4, 3)


def test_sweep_removes_only_this_runs_temporary_files(tmp_path: Path) -> None:
    out = tmp_path / "a_x2.png"
    leftover = tmp_path / ".a_x2.png.0badcafe.0123456789ab.tmp"
    other_run = tmp_path / ".a_x2.png.12345678.0123456789ab.tmp"
    other = tmp_path / ".b_x2.png.0badcafe.0123456789ab.tmp"
    unrelated = tmp_path / ".a_x2.png.tmp"
    old_style = tmp_path / ".a_x2.png.0123456789ab.tmp"
    for path in (leftover, other_run, other, unrelated, old_style):
        path.write_bytes(b"partial")
    assert lib.sweep_temporary_files([out], "0badcafe") == [leftover]
    assert not leftover.exists()
    assert all(p.exists() for p in (other_run, other, unrelated, old_style))


def test_two_runs_into_one_folder_keep_each_others_temporary_files(tmp_path: Path) -> None:
    """Another batch writing into the same folder at the same time: its temporary file (here
    one it is still writing) survives this run's final sweep; this run's own leftover (from a
    worker that died mid-file) does not."""
    from upsamp import imageio
    from upsamp.pipeline import EnlargeSettings

    src = tmp_path / "in"
    src.mkdir()
    for name in ("a.png", "b.png"):
        _save(src / name, _noise((5, 7, 3), len(name)))
    out = tmp_path / "out"
    out.mkdir()
    plan = lib.plan_batch(src, out, EnlargeSettings(method="nearest"))
    other_token = "f" * 8 if imageio.temp_run_token() != "f" * 8 else "e" * 8
    with imageio.temp_run(other_token):  # the other run, busy with the same output name
        theirs = imageio._create_temp(plan.to_run[0].output, [])
    ours: list[Path] = []

    def runner(tasks, fail_fast, report) -> bool:
        for task in tasks:
            if task.input.name == "a.png":  # a worker of this run that died mid-write
                with imageio.temp_run(task.run):
                    imageio._create_temp(task.output, ours)
                report(lib.FileResult(task.index, task.input, task.output, "failed", "died"))
            else:
                report(lib.run_task(task))
        return False

    lib.run_batch(plan, runner=runner)
    assert len(ours) == 1 and not ours[0].exists()
    assert theirs.exists()
    assert sorted(p.name for p in out.iterdir()) == sorted([theirs.name, "b_nearestx2.png"])


def test_default_suffix_is_the_enlarge_tag() -> None:
    from upsamp.methods import MethodOptions
    from upsamp.pipeline import EnlargeSettings

    assert lib.default_suffix(EnlargeSettings(method="bilinear")) == "_bilinearx2"
    scaled = EnlargeSettings(method="bilinear", options=MethodOptions(scale=1.5))
    assert lib.default_suffix(scaled) == "_bilinearx1.5"


# --------------------------------------------------------------------------------------------
# parallel runs and interruptions (real processes)
# --------------------------------------------------------------------------------------------


def test_jobs_2_is_byte_identical_to_jobs_1(tmp_path: Path) -> None:
    src = make_tree(tmp_path)
    for i in range(6):  # enough files for both workers to be busy
        _save(src / "more" / f"m{i}.png", _noise((24, 32, 3), 100 + i))
    common = ["batch", src, "-r", "--method", "transconv", "--kernel", "bicubic", "--json"]
    one = run(*common, "-o", tmp_path / "one", "-j", "1")
    two = run_process(*common, "-o", tmp_path / "two", "-j", "2")
    assert one.exit_code == two.returncode == 1
    names = files_under(tmp_path / "one")
    assert names == files_under(tmp_path / "two")
    assert len(names) == len(EXPECTED_OK) + 1 + 6  # done.png has no earlier output here
    for name in names:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    strip = [
        {k: v for k, v in r.items() if k not in ("seconds", "output")} for r in records(one.stdout)
    ]
    assert strip == [
        {k: v for k, v in r.items() if k not in ("seconds", "output")} for r in records(two.stdout)
    ]


N_SLOW = 14


@pytest.fixture(scope="module")
def slow_inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Images that take a noticeable time each, and their outputs from an uninterrupted run."""
    return make_slow_inputs(tmp_path_factory.mktemp("slow"), N_SLOW, 200)


@pytest.mark.parametrize(
    ("signum", "jobs"),
    [(signal.SIGINT, 2), (signal.SIGTERM, 2), (signal.SIGTERM, 1)],
    ids=["sigint-2-jobs", "sigterm-2-jobs", "sigterm-1-job"],
)
def test_interrupted_run_leaves_complete_files_only_and_resumes(
    tmp_path: Path, slow_inputs: tuple[Path, Path], signum: int, jobs: int
) -> None:
    src, reference = slow_inputs
    out = tmp_path / "out"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "upsamp",
            "batch",
            str(src),
            "-o",
            str(out),
            "-j",
            str(jobs),
            "--json",
            *SLOW_ARGS,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        start_new_session=True,  # its own process group, as a terminal gives a command
    )
    try:
        wait_until_writing(process, out, timeout=30)
        if signum == signal.SIGINT:  # Ctrl-C: the terminal signals the whole process group
            os.killpg(process.pid, signum)
        else:  # kill PID
            process.send_signal(signum)
        signalled = time.monotonic()
        saw_temporary = bool(temp_files(out))
        stdout, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, stderr
    assert time.monotonic() - signalled < 8, "the run did not stop promptly"
    assert "interrupted" in stderr and "not started" in stderr
    assert "Traceback" not in stderr  # the parent stops the workers; none dies noisily
    assert temp_files(out) == []
    print(f"a temporary file existed when the signal was sent: {saw_temporary}")
    present = files_under(out)
    assert 0 < len(present) < N_SLOW, "the run should have been stopped part-way"
    for name in present:  # every file there is complete: the same bytes as a full run
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name
    # one record per file: ok for files reported written, not-started for every other one (a
    # worker may finish a file as the run stops, before its result arrives: it is complete on
    # disk but reported not-started, and --skip-existing keeps it)
    listed = {Path(r["output"]).name: r["status"] for r in records(stdout)}
    assert len(records(stdout)) == N_SLOW == len(listed)
    assert {n for n, s in listed.items() if s == "ok"} <= present
    assert {s for s in listed.values() if s != "ok"} == {"not-started"}
    assert set(listed) - present <= {n for n, s in listed.items() if s == "not-started"}

    resumed = run_process(
        "batch", src, "-o", out, "-j", "2", "--json", "--skip-existing", *SLOW_ARGS
    )
    assert resumed.returncode == 0, resumed.stderr
    statuses = {Path(r["output"]).name: r["status"] for r in records(resumed.stdout)}
    assert {n for n, s in statuses.items() if s == "skipped"} == present
    assert len(statuses) == N_SLOW
    assert files_under(out) == files_under(reference)
    for name in files_under(reference):
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name


def test_workers_ignore_sigint_and_do_not_oversubscribe() -> None:
    """The pool set-up of run_batch: workers leave Ctrl-C to the parent, and each worker's
    BLAS and band threads are capped at cpus // jobs."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from upsamp import imageio
    from upsamp import threads as upsamp_threads

    jobs = 2
    threads = lib.threads_per_worker(jobs)
    assert threads == max(1, lib.default_jobs() // jobs)
    assert lib.threads_per_worker(10**6) == 1
    with (
        lib._thread_limits_for_workers(threads),
        ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=lib._init_worker,
            initargs=(threads,),
        ) as pool,
    ):
        assert pool.submit(signal.getsignal, signal.SIGINT).result() == signal.SIG_IGN
        for name in lib.THREAD_LIMIT_VARIABLES:
            assert pool.submit(os.getenv, name).result() == os.environ.get(name, str(threads))
        assert pool.submit(upsamp_threads.image_threads).result() == threads
        assert pool.submit(imageio._cpu_count).result() == threads  # the PNG encoder's
    assert signal.getsignal(signal.SIGINT) != signal.SIG_IGN  # this process is untouched
    assert upsamp_threads.image_threads() == lib.default_jobs()
    assert imageio._cpu_count() == lib.default_jobs()
