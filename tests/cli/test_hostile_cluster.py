"""An unreachable, silent, misconfigured, shrinking or lying cluster (issue 16, findings 7, 9
and 14): bounded waits, one line, and results that are checked before they are used.

Everything runs on loopback (127.0.0.1): an in-process scheduler (``LocalCluster`` with
threads), and where the working folder matters a ``dask worker`` process started elsewhere.
Every wait is bounded. Skipped without the ``distributed`` extra.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

distributed = pytest.importorskip("distributed")

import upsamp.distributed as upsamp_distributed  # noqa: E402
from upsamp.batch import FileResult  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]

#: Seconds any process or cluster started here may take.
TIMEOUT = 90


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


def _png(path: Path, shape: tuple[int, ...], seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def upsamp_process(*args: object, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "upsamp", *map(str, args)],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        timeout=TIMEOUT,
    )


def one_line(stderr: bytes | str) -> str:
    text = stderr.decode() if isinstance(stderr, bytes) else stderr
    assert "Traceback" not in text, text
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert lines[0].startswith("upsamp: error: "), text
    return lines[0]


@pytest.fixture
def scheduler() -> Iterator[distributed.LocalCluster]:
    """A scheduler in this process on 127.0.0.1, with one in-process worker thread."""
    with distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        protocol="tcp://",
        host="127.0.0.1",
        dashboard_address=None,
        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
    ) as cluster:
        yield cluster


# --------------------------------------------------------------------------------------------
# Finding 7 and 14: addresses that cannot work fail at once, silent ones within the timeout
# --------------------------------------------------------------------------------------------


@pytest.fixture
def silent_listener() -> Iterator[str]:
    """A loopback port that accepts connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    try:
        yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()


@pytest.mark.parametrize("command", ["batch", "enlarge"])
def test_silent_listener_fails_within_the_timeout(tmp_path, silent_listener, command):
    _png(tmp_path / "in" / "a.png", (6, 5, 3))
    args = ("batch", "in", "-o", "out") if command == "batch" else ("enlarge", "in/a.png")
    done = upsamp_process(
        *args, "--method", "nearest", "--scheduler", silent_listener,
        "--scheduler-timeout", "1", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 1
    line = one_line(done.stderr)
    assert silent_listener in line and "no answer within 1 s" in line
    assert not (tmp_path / "out").exists() and not (tmp_path / "in" / "a_nearestx2.png").exists()


@pytest.mark.parametrize(
    "address, needle",
    [
        ("inproc://nothing", "cannot reach the Dask scheduler at inproc://nothing"),
        ("tls://127.0.0.1:9", "TLS is not configured"),
        ("tcp://127.0.0.1:9", "cannot reach the Dask scheduler at tcp://127.0.0.1:9"),
    ],
)
def test_unreachable_scheduler_is_one_line(tmp_path, address, needle):
    _png(tmp_path / "in" / "a.png", (6, 5, 3))
    done = upsamp_process(
        "batch", "in", "-o", "out", "--scheduler", address, "--scheduler-timeout", "2",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 1
    assert needle in one_line(done.stderr)


@pytest.mark.parametrize(
    "address, needle",
    [
        ("tcp://127.0.0.1", "has no port"),
        ("tls://scheduler.example", "has no port"),
        ("127.0.0.1", "has no port"),
        ("udp://127.0.0.1:8786", "is not 'local' or a scheduler address"),
        ("http://127.0.0.1:8786/", "is not 'local' or a scheduler address"),
    ],
)
def test_address_without_port_or_with_another_scheme_is_a_usage_error(run_cli, address, needle):
    (Path.cwd() / "in").mkdir()
    result = run_cli("batch", "in", "-o", "out", "--scheduler", address)
    assert result.exit_code == 2, result.output
    assert needle in result.stderr


def test_scheduler_timeout_must_be_positive(run_cli, tmp_path):
    (tmp_path / "in").mkdir()
    result = run_cli("batch", "in", "-o", "out", "--scheduler-timeout", "0")
    assert result.exit_code == 2


# --------------------------------------------------------------------------------------------
# Finding 7: a worker's result is checked before it is used
# --------------------------------------------------------------------------------------------


def rogue_not_a_result(task, client_token=""):
    return "not a result"


def rogue_other_index(task, client_token=""):
    return FileResult(task.index + 1000, task.input, task.output, "ok", None, (1, 1), (2, 2))


def rogue_bad_shape(task, client_token=""):
    return FileResult(task.index, task.input, task.output, "ok", None, ("x",), (-1, 2))


def rogue_bad_status(task, client_token=""):
    return FileResult(task.index, task.input, task.output, "pwned", None, None, None)


ROGUES = [rogue_not_a_result, rogue_other_index, rogue_bad_shape, rogue_bad_status]


@pytest.mark.parametrize("rogue", ROGUES, ids=lambda f: f.__name__)
def test_malformed_worker_result_fails_that_file(run_cli, tmp_path, monkeypatch, scheduler, rogue):
    _png(tmp_path / "in" / "a.png", (6, 5, 3))
    _png(tmp_path / "in" / "b.png", (6, 5, 3), seed=1)
    monkeypatch.setattr(upsamp_distributed, "run_file_on_worker", rogue)
    result = run_cli(
        "batch", "in", "-o", "out", "--method", "nearest", "--json",
        "--scheduler", scheduler.scheduler_address,
    )  # fmt: skip
    assert "Traceback" not in result.output
    assert result.exit_code == 3, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["input"] for r in records] == ["in/a.png", "in/b.png"]
    for record in records:
        assert record["status"] == "failed"
        assert "malformed result" in record["reason"]


def rogue_chunk_shape(image, settings, rows, mode, span, client_token):
    return np.zeros((rows[1] - rows[0] + 5, 3), np.uint8), 0.0


def rogue_chunk_type(image, settings, rows, mode, span, client_token):
    return {"rows": rows}


@pytest.mark.parametrize("rogue", [rogue_chunk_shape, rogue_chunk_type], ids=lambda f: f.__name__)
def test_malformed_chunk_fails_enlarge(run_cli, tmp_path, monkeypatch, scheduler, rogue):
    _png(tmp_path / "a.png", (6, 5, 3))
    monkeypatch.setattr(upsamp_distributed, "_storage_rows", rogue)
    result = run_cli(
        "enlarge", "a.png", "-o", "b.png", "--method", "nearest",
        "--scheduler", scheduler.scheduler_address,
    )  # fmt: skip
    assert result.exit_code == 1
    assert "malformed result for output rows" in one_line(result.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


# --------------------------------------------------------------------------------------------
# Finding 14: a cluster that loses every worker gives up within the timeout
# --------------------------------------------------------------------------------------------

_RELEASE = threading.Event()


def stuck_on_worker(task, client_token=""):
    _RELEASE.wait(TIMEOUT)
    return None


def test_cluster_losing_every_worker_gives_up(run_cli, tmp_path, monkeypatch, scheduler):
    for i in range(3):
        _png(tmp_path / "in" / f"{i}.png", (6, 5, 3), seed=i)
    monkeypatch.setattr(upsamp_distributed, "run_file_on_worker", stuck_on_worker)
    _RELEASE.clear()

    def lose_the_workers() -> None:
        time.sleep(1.0)
        scheduler.scale(0)

    thread = threading.Thread(target=lose_the_workers, daemon=True)
    thread.start()
    try:
        result = run_cli(
            "batch", "in", "-o", "out", "--method", "nearest",
            "--scheduler", scheduler.scheduler_address, "--scheduler-timeout", "2",
        )  # fmt: skip
    finally:
        _RELEASE.set()
        thread.join(TIMEOUT)
    assert result.exit_code == 1, result.output
    assert "has had no workers for 2 s" in one_line(result.stderr)


def test_cluster_without_workers_gives_up(run_cli, tmp_path, scheduler):
    scheduler.scale(0)
    deadline = time.monotonic() + TIMEOUT
    while scheduler.scheduler.workers and time.monotonic() < deadline:
        time.sleep(0.05)
    _png(tmp_path / "in" / "a.png", (6, 5, 3))
    result = run_cli(
        "batch", "in", "-o", "out", "--method", "nearest",
        "--scheduler", scheduler.scheduler_address, "--scheduler-timeout", "1",
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "has had no workers for 1 s" in result.stderr.strip().splitlines()[-1]
    assert "Traceback" not in result.output


# --------------------------------------------------------------------------------------------
# Finding 9: relative paths are made absolute before the work is sent
# --------------------------------------------------------------------------------------------


def _dask_command() -> list[str]:
    script = Path(sys.executable).parent / "dask"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "dask"]


@pytest.fixture
def worker_elsewhere(tmp_path, scheduler) -> Iterator[tuple[str, Path]]:
    """The in-process scheduler, its own worker gone, and one ``dask worker`` process whose
    working folder (``tmp_path / "elsewhere"``) holds decoys named like the inputs."""
    home = tmp_path / "elsewhere"
    home.mkdir()
    scheduler.scale(0)
    process = subprocess.Popen(
        [*_dask_command(), "worker", scheduler.scheduler_address, "--nthreads", "1",
         "--no-nanny", "--no-dashboard", "--host", "127.0.0.1"],
        cwd=home, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + TIMEOUT
        while len(scheduler.scheduler.workers) != 1:
            assert process.poll() is None, "the worker did not start"
            assert time.monotonic() < deadline, "the worker did not connect"
            time.sleep(0.1)
        yield scheduler.scheduler_address, home
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.parametrize("unpool", [False, True], ids=["plain", "guide-dir"])
def test_relative_paths_are_resolved_before_sending(run_cli, tmp_path, worker_elsewhere, unpool):
    """The worker runs in another folder holding files of the same names: it must read and
    write the files this command names, not its own."""
    address, home = worker_elsewhere
    real = _png(tmp_path / "in" / "a.png", (6, 4, 3), seed=1)
    _png(home / "in" / "a.png", (20, 30, 3), seed=2)  # the decoy, another size
    args = ["batch", "in", "-o", "out", "--json", "--scheduler", address, "--stride", "2"]
    if unpool:
        _png(tmp_path / "guides" / "a.png", (12, 8, 3), seed=3)
        _png(home / "guides" / "a.png", (40, 60, 3), seed=4)
        args += ["--method", "max-unpool", "--guide-dir", "guides"]
    else:
        args += ["--method", "nearest"]
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    (record,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert record["input"] == "in/a.png" and record["output"] == "out/a_" + (
        "max-unpoolx2.png" if unpool else "nearestx2.png"
    )
    assert record["input_shape"] == [6, 4, 3]
    assert record["output_shape"][:2] == [12, 8]
    written = tmp_path / record["output"]
    assert Image.open(written).size == (8, 12)
    if not unpool:
        expected = np.asarray(Image.open(real)).repeat(2, axis=0).repeat(2, axis=1)
        assert np.array_equal(np.asarray(Image.open(written)), expected)
    assert not (home / "out").exists()
