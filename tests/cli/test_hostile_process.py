"""Hostile names, terminals, streams, warnings and signals (issue 16, findings 2, 6, 8, 12 and
part of 15): every one ends in one line and the documented exit code, never a traceback.

Hostile files and names are generated here; processes started here are bounded in time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import upsamp.imageio as upsamp_imageio
import upsamp.pipeline as upsamp_pipeline

REPO_ROOT = Path(__file__).resolve().parents[2]

#: Seconds any process started here may take.
TIMEOUT = 120


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def upsamp_process(*args: object, cwd: Path, **kwargs: object) -> subprocess.CompletedProcess:
    """``python -m upsamp ARGS`` in ``cwd``, this tree's package, bounded in time."""
    env = kwargs.pop("env", None) or _env()
    return subprocess.run(
        [sys.executable, "-m", "upsamp", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        timeout=TIMEOUT,
        **kwargs,
    )


def _png(path: Path, shape: tuple[int, ...] = (6, 5, 3), seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def _no_traceback(result) -> None:
    text = result.output if hasattr(result, "output") else result.stderr.decode()
    assert "Traceback" not in text, text


# --------------------------------------------------------------------------------------------
# Finding 2: Rich markup in names and user text is printed as it is
# --------------------------------------------------------------------------------------------

MARKUP_NAMES = ["a[/y]", "b[/]", "[bold]c", "d[link=x]e", "[red]f[/red]"]


@pytest.mark.parametrize("name", MARKUP_NAMES)
def test_batch_prints_markup_in_names_as_text(run_cli, tmp_path, name):
    """A folder or file name that is Rich markup appears literally in the failure table and
    the title (a closing tag without an opening one used to raise MarkupError)."""
    src = tmp_path / "in"
    broken = src / f"{name}.png"
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_bytes(b"not an image")
    _png(src / "good.png")
    result = run_cli("batch", "in", "-o", f"out{name}", "-r", "--method", "nearest")
    _no_traceback(result)
    assert result.exit_code == 1, result.output
    assert f"{name}.png" in result.stderr
    assert f"out{name}" in result.stderr


def test_batch_empty_folder_warning_prints_markup(run_cli, tmp_path):
    (tmp_path / "e[" / "b]").mkdir(parents=True)
    result = run_cli("batch", "e[/b]", "-o", "out", "--method", "nearest")
    _no_traceback(result)
    assert result.exit_code == 0
    assert "no images found in e[/b]" in result.stderr


@pytest.mark.parametrize("name", MARKUP_NAMES)
def test_report_prints_markup_in_the_path(run_cli, tmp_path, name):
    image = _png(tmp_path / f"{name}.png", (24, 24, 3))
    result = run_cli("report", image.relative_to(tmp_path), "--stride", "2")
    _no_traceback(result)
    assert result.exit_code == 0, result.output
    assert f"{name}.png" in result.stdout


@pytest.mark.parametrize("stem", ["[bold]w", "w[red]", "[link=x]w"])
def test_kernel_file_name_with_markup(run_cli, tmp_path, stem):
    """The kernel's name (its file's stem) is printed as it is, not read as a style."""
    np.save(tmp_path / f"{stem}.npy", np.ones((3, 3)))
    result = run_cli("kernels", "show", f"{stem}.npy", "--stride", "2")
    _no_traceback(result)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{stem}  shape")


# --------------------------------------------------------------------------------------------
# Finding 15 (names): control characters never reach the terminal raw
# --------------------------------------------------------------------------------------------

ESCAPES = ["\x1b[2J", "\x1b]0;title\x07", "\r", "\x08\x08", "\x9b31m"]


@pytest.mark.parametrize("sequence", ESCAPES)
def test_error_line_escapes_control_characters(run_cli, sequence):
    result = run_cli("enlarge", f"x{sequence}y.png", "--method", "nearest")
    assert result.exit_code == 1
    line = result.stderr.strip()
    assert line.startswith("upsamp: error: x\\x") and "no such file" in line
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in line), repr(line)


@pytest.mark.parametrize("sequence", ESCAPES)
def test_batch_table_escapes_control_characters(run_cli, tmp_path, sequence):
    src = tmp_path / "in"
    src.mkdir()
    (src / f"bad{sequence}.png").write_bytes(b"not an image")
    _png(src / "good.png")
    result = run_cli("batch", "in", "-o", "out", "--method", "nearest")
    assert result.exit_code == 1
    assert "bad\\x" in result.stderr
    assert not any(ord(c) < 0x20 and c != "\n" or 0x7F <= ord(c) < 0xA0 for c in result.stderr)


def test_columns_zero_still_shows_the_summary(tmp_path):
    _png(tmp_path / "in" / "a.png")
    (tmp_path / "in" / "b.png").write_bytes(b"broken")
    done = upsamp_process(
        "batch", "in", "-o", "out", "--method", "nearest", cwd=tmp_path, env=_env(COLUMNS="0")
    )
    assert done.returncode == 1
    stderr = done.stderr.decode()
    assert "processed" in stderr and "failed" in stderr and "b.png" in stderr, stderr


# --------------------------------------------------------------------------------------------
# Finding 6 and issue 15 item 2: ASCII terminals, missing stdout, broken pipes
# --------------------------------------------------------------------------------------------

ASCII_COMMANDS = [
    ("kernels", "show", "bilinear", "--stride", "2"),
    ("kernels", "show", "checkerboard", "--stride", "2"),
    ("enlarge", "in.png", "--method", "nearest", "-o", "o.png"),
    ("enlarge", "x.npy", "--method", "nearest", "-o", "o.npy", "--show"),
    ("report", "big.png", "--stride", "2"),
    ("pool", "in.png", "-o", "p.png", "--indices-out", "i.npz"),
]


@pytest.mark.parametrize("args", ASCII_COMMANDS, ids=lambda a: "-".join(a[:2]))
@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_ascii_terminal(tmp_path, args, encoding):
    """``×``, ``→``, ``·`` become ASCII on a terminal that cannot show them."""
    _png(tmp_path / "in.png")
    _png(tmp_path / "big.png", (24, 24, 3))
    np.save(tmp_path / "x.npy", np.array([[1.0, 2.0], [3.0, 4.0]]))
    done = upsamp_process(*args, cwd=tmp_path, env=_env(PYTHONIOENCODING=encoding))
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert b"Traceback" not in done.stderr
    for stream in (done.stdout, done.stderr):
        stream.decode(encoding)  # nothing the terminal cannot show
        assert b"\\u00d7" not in stream and b"\\u2192" not in stream


CLOSED_STDOUT = [
    ("kernels", "show", "bilinear", "--stride", "2", "--json"),
    ("kernels", "show", "bilinear", "--stride", "2"),
    ("enlarge", "in.png", "--method", "nearest", "-o", "o.png", "--json"),
    ("batch", "in", "-o", "out", "--method", "nearest", "--json"),
    ("report", "big.png", "--stride", "2", "--json"),
]


@pytest.mark.parametrize("args", CLOSED_STDOUT, ids=lambda a: "-".join(a[:2]))
def test_missing_stdout(tmp_path, args):
    """Started with stdout closed (``>&-``): the work is done, the data goes nowhere, exit 0."""
    _png(tmp_path / "in.png")
    _png(tmp_path / "in" / "a.png")
    _png(tmp_path / "big.png", (24, 24, 3))
    done = subprocess.run(
        [sys.executable, "-c", _CLOSED_STDOUT_RUNNER, *args],
        cwd=tmp_path,
        env=_env(),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert b"Traceback" not in done.stderr and b"error" not in done.stderr, done.stderr
    if args[0] == "enlarge":
        assert (tmp_path / "o.png").is_file()
    if args[0] == "batch":
        assert (tmp_path / "out" / "a_nearestx2.png").is_file()


#: Runs upsamp with file descriptor 1 closed, as a shell does for ``>&-``.
_CLOSED_STDOUT_RUNNER = (
    "import os, sys, runpy\n"
    "os.close(1)\n"
    "sys.stdout = None\n"
    "sys.argv = ['upsamp', *sys.argv[1:]]\n"
    "runpy.run_module('upsamp', run_name='__main__')\n"
)

BROKEN_PIPE = [
    ("kernels", "show", "bicubic", "--stride", "16"),
    ("kernels", "show", "bicubic", "--stride", "16", "--json"),
    ("batch", "many", "-o", "out", "--method", "nearest", "--dry-run"),
    ("batch", "many", "-o", "out", "--method", "nearest", "--json", "-j", "1"),
    ("enlarge", "x.npy", "--method", "nearest", "--stride", "8", "-o", "y.npy", "--show"),
    # the image itself on stdout, larger than a pipe's buffer
    ("enlarge", "noise.png", "--method", "nearest", "--stride", "4", "-o", "-", "--format", "png"),
    ("enlarge", "noise.png", "--method", "nearest", "--stride", "4", "-o", "-", "--format", "tiff"),
]


@pytest.mark.parametrize("args", BROKEN_PIPE, ids=lambda a: "-".join((*a[:2], a[-1])) + str(len(a)))
def test_broken_pipe_ends_quietly(tmp_path, args):
    """``upsamp ... | head -c 10``: exit 0, nothing on stderr (as ``ls | head``)."""
    tiny = _png(tmp_path / "tiny.png", (2, 2)).read_bytes()
    (tmp_path / "many").mkdir()
    for i in range(1500):  # a plan longer than a pipe's buffer (64 KiB)
        (tmp_path / "many" / f"image_with_a_long_name_{i:04d}.png").write_bytes(tiny)
    np.save(tmp_path / "x.npy", np.arange(4.0).reshape(2, 2))
    _png(tmp_path / "noise.png", (300, 300, 3))  # > 64 KiB even compressed
    process = subprocess.Popen(
        [sys.executable, "-m", "upsamp", *args],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None and process.stderr is not None
        head = process.stdout.read(10)
        process.stdout.close()
        stderr = process.stderr.read()
        code = process.wait(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert len(head) == 10
    assert code == 0, stderr.decode()
    assert stderr == b"", stderr.decode()


# --------------------------------------------------------------------------------------------
# Finding 8: warnings are one line
# --------------------------------------------------------------------------------------------


def _corrupt_exif_jpeg(path: Path) -> Path:
    """A JPEG whose EXIF block claims more data than it holds (Pillow warns
    'Corrupt EXIF data')."""
    Image.fromarray(np.full((8, 8, 3), 100, np.uint8)).save(path, quality=95)
    data = path.read_bytes()
    tiff = b"II*\x00\x08\x00\x00\x00" + b"\x01\x00" + b"\x0f\x01\x02\x00\xff\x00\x00\x00\x40\x00"
    tiff += b"\x00\x00\x00\x00"
    payload = b"Exif\x00\x00" + tiff
    app1 = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    path.write_bytes(data[:2] + app1 + data[2:])
    return path


def test_python_warnings_become_one_line(run_cli, monkeypatch, tmp_path):
    """Any warning raised while a command runs (here a numpy overflow, and a multi-line one)
    is one ``upsamp: warning:`` line on stderr."""
    _png(tmp_path / "in.png")
    original = upsamp_pipeline.enlarge_file

    def noisy(*args, **kwargs):
        with np.errstate(over="warn"):
            np.float64(1e308) * np.float64(10)
        warnings.warn("first line\nsecond line", UserWarning, stacklevel=1)
        return original(*args, **kwargs)

    monkeypatch.setattr(upsamp_pipeline, "enlarge_file", noisy)
    result = run_cli("enlarge", "in.png", "--method", "nearest", "-o", "o.png")
    assert result.exit_code == 0
    lines = [line for line in result.stderr.splitlines() if "warning" in line]
    assert lines == [
        "upsamp: warning: overflow encountered in scalar multiply",
        "upsamp: warning: first line second line",
    ], result.stderr


def test_corrupt_exif_is_one_line(tmp_path):
    _corrupt_exif_jpeg(tmp_path / "exif.jpg")
    done = upsamp_process("enlarge", "exif.jpg", "--method", "nearest", "-o", "o.png", cwd=tmp_path)
    stderr = done.stderr.decode()
    assert done.returncode == 0, stderr
    assert "Traceback" not in stderr and "warnings.warn" not in stderr
    notes = [line for line in stderr.splitlines() if "EXIF" in line or "warning" in line]
    assert notes and all(line.startswith("upsamp: warning: ") for line in notes), stderr
    assert len(stderr.splitlines()) == len(notes) + 1, stderr  # and the line saying it worked


# --------------------------------------------------------------------------------------------
# Finding 12: SIGTERM is Ctrl-C (exit 130, no temporary file); batch workers die with it
# --------------------------------------------------------------------------------------------


class _Terminated(Exception):
    """What the default SIGTERM action is replaced by in this test process."""


@pytest.fixture
def sigterm_fails_the_test():
    """Without upsamp's own handler, SIGTERM here raises _Terminated (not the default action,
    which would end the test run)."""

    def handler(signum, frame):
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, handler)
    yield
    signal.signal(signal.SIGTERM, previous)


SIGTERM_COMMANDS = [
    ("enlarge", "in.png", "--method", "nearest", "-o", "o.png"),
    ("enlarge", "in.png", "--method", "transconv", "-o", "o.npy"),
    ("pool", "in.png", "-o", "p.png", "--indices-out", "i.npz"),
    ("report", "big.png", "--stride", "2", "--save-outputs", "saved"),
    ("kernels", "show", "bilinear", "--stride", "2", "--save", "k.json"),
    ("kernels", "fix", "checkerboard", "--stride", "2", "--how", "hold", "-o", "k.json"),
]


@pytest.mark.parametrize("args", SIGTERM_COMMANDS, ids=lambda a: "-".join(a[:2]))
def test_sigterm_while_writing(run_cli, tmp_path, monkeypatch, sigterm_fails_the_test, args):
    """SIGTERM arrives while an output's temporary file is being written: one line,
    exit 130, and no temporary file left."""
    _png(tmp_path / "in.png")
    _png(tmp_path / "big.png", (24, 24, 3))
    (tmp_path / "saved").mkdir()
    original = upsamp_imageio._fsync_file

    def terminated_here(path):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler interrupts this
        original(path)

    monkeypatch.setattr(upsamp_imageio, "_fsync_file", terminated_here)
    before = {p.name for p in tmp_path.rglob("*")}
    result = run_cli(*args)
    assert result.exit_code == 130, result.output
    assert result.stderr.strip() == "upsamp: error: interrupted"
    assert {p.name for p in tmp_path.rglob("*")} == before


def test_sigterm_to_a_real_process(tmp_path):
    """The real command, terminated while it writes: exit 130, no temporary file."""
    _png(tmp_path / "in.png", (1500, 1500, 3))
    process = subprocess.Popen(
        [sys.executable, "-m", "upsamp", "enlarge", "in.png", "-o", "out.png"]
        + ["--method", "transconv", "--kernel", "bicubic", "--stride", "3"],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + TIMEOUT
        while not any(p.name.endswith(".tmp") and p.stat().st_size > 0 for p in tmp_path.iterdir()):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.002)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, stderr.decode()
    assert stderr.decode().strip() == "upsamp: error: interrupted"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(v) for v in text)
    return found


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs /proc")
def test_batch_workers_die_with_a_killed_parent(tmp_path):
    """SIGKILL to ``upsamp batch``: its worker processes end within seconds instead of
    finishing their files while holding the caller's pipes open."""
    from batch_files import SLOW_ARGS, noise, save_image

    for i in range(6):
        save_image(tmp_path / "in" / f"img{i}.png", noise((700, 700, 3), i), compress_level=1)
    process = subprocess.Popen(
        [sys.executable, "-m", "upsamp", "batch", "in", "-o", "out", "-j", "2", "-q", *SLOW_ARGS],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    workers: list[int] = []
    try:
        deadline = time.monotonic() + TIMEOUT
        while len(workers) < 2:
            assert process.poll() is None
            assert time.monotonic() < deadline, "no workers started"
            # the spawn workers (and the resource tracker): python children of the parent
            workers = [c for c in _children(process.pid) if _alive(c)]
            time.sleep(0.05)
        time.sleep(1.0)  # let them get to work
        process.kill()
        process.wait(timeout=TIMEOUT)
        deadline = time.monotonic() + 15
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        survivors = [pid for pid in workers if _alive(pid)]
    finally:
        for pid in workers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert survivors == [], "workers outlived their parent"
