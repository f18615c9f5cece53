"""``--scheduler`` on a real Dask cluster on loopback: ``dask scheduler`` and two ``dask worker``
processes started by a fixture (127.0.0.1 only, bounded in time, torn down afterwards).

A batch on the cluster writes the same bytes, the same records, the same summary and exit
code as a local run; a killed worker leaves every file complete or reported failed; the
chunked ``upsamp enlarge --scheduler`` writes the same file as without it; ``--scheduler
local`` starts and stops its own cluster, also on Ctrl-C. Skipped without the extra.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

from batch_files import SLOW_ARGS, make_slow_inputs, temp_files, wait_until_writing  # noqa: E402
from batch_files import json_records as records  # noqa: E402
from batch_files import noise as _noise  # noqa: E402
from batch_files import run_cli as run  # noqa: E402
from batch_files import save_image as _save  # noqa: E402

from upsamp import batch as lib  # noqa: E402 (after the skip)
from upsamp.distributed import Cluster, ClusterRunner  # noqa: E402
from upsamp.pipeline import EnlargeSettings  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]

#: Seconds the cluster may take to come up (a loaded two-core machine is slow to spawn).
START_TIMEOUT = 60
#: Seconds each of its processes gets to stop after SIGTERM before it is killed.
STOP_TIMEOUT = 10


# --------------------------------------------------------------------------------------------
# the loopback cluster
# --------------------------------------------------------------------------------------------


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env.setdefault("COLUMNS", "200")
    return env


def _dask_command() -> list[str]:
    """The ``dask`` command of this interpreter's environment."""
    script = Path(sys.executable).parent / "dask"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "dask"]


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the process group we started (the worker's nanny and its worker), then
    SIGKILL after STOP_TIMEOUT."""
    for signum in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, signum)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=STOP_TIMEOUT)
            return
        except subprocess.TimeoutExpired:
            continue


@dataclass
class Loopback:
    address: str
    client: object
    workers: list[subprocess.Popen]

    def wait_for_workers(self, n: int = 2) -> None:
        self.client.wait_for_workers(n, timeout=START_TIMEOUT)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def loopback(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loopback]:
    """A scheduler and two single-thread workers on 127.0.0.1 (dashboards off; their small
    HTTP servers on free loopback ports too)."""
    folder = tmp_path_factory.mktemp("dask")
    scheduler_file = folder / "scheduler.json"
    processes: list[subprocess.Popen] = []
    loopback_http = ["--no-dashboard", "--dashboard-address", "127.0.0.1:0"]

    def start(name: str, *args: str) -> subprocess.Popen:
        log = (folder / f"{name}.log").open("w")
        process = subprocess.Popen(
            [*_dask_command(), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_env(),
            cwd=folder,
            start_new_session=True,  # its own process group: torn down with its children
        )
        processes.append(process)
        return process

    try:
        start(
            "scheduler",
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            *loopback_http,
            "--scheduler-file",
            str(scheduler_file),
        )
        deadline = time.monotonic() + START_TIMEOUT
        address = None
        while address is None:
            assert processes[0].poll() is None, (folder / "scheduler.log").read_text()
            assert time.monotonic() < deadline, "the scheduler did not start"
            try:
                address = json.loads(scheduler_file.read_text())["address"]
            except (OSError, ValueError, KeyError):
                time.sleep(0.1)
        assert address.startswith("tcp://127.0.0.1:")
        workers = [
            start(
                f"worker{i}",
                "worker",
                "--nthreads",
                "1",
                "--nworkers",
                "1",
                *loopback_http,
                "--host",
                "127.0.0.1",
                "--local-directory",
                str(folder / f"worker{i}"),
                address,
            )
            for i in range(2)
        ]
        with distributed.Client(address, timeout=START_TIMEOUT, set_as_default=False) as client:
            cluster = Loopback(address, client, workers)
            cluster.wait_for_workers(2)
            yield cluster
    finally:
        for process in reversed(processes):
            _stop(process)


@pytest.fixture
def cluster(loopback: Loopback) -> Loopback:
    """The loopback cluster with both workers connected (a killed one is restarted by its
    nanny)."""
    loopback.wait_for_workers(2)
    return loopback


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def comparable(stdout: str, root: Path) -> list[dict]:
    """The JSON records without timings, with paths relative to their folders."""
    out = []
    for record in records(stdout):
        record = dict(record)
        record.pop("seconds")
        record["input"] = Path(record["input"]).relative_to(root).as_posix()
        record["output"] = Path(record["output"]).name
        out.append(record)
    return out


def snapshot(root: Path) -> dict[str, tuple]:
    return {
        p.relative_to(root).as_posix(): (
            p.stat().st_mtime_ns,
            hashlib.sha256(p.read_bytes()).hexdigest(),
        )
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def summary_counts(stderr: str) -> list[str]:
    """The count rows of the summary table (``processed 7`` ...), spacing normalised."""
    words = ("processed", "skipped", "failed", "not started")
    return [
        " ".join(line.split()) for line in stderr.splitlines() if line.strip().startswith(words)
    ]


def make_tree(root: Path) -> Path:
    src = root / "in"
    _save(src / "rgb.png", _noise((17, 23, 3), 1))
    _save(src / "grey.png", _noise((9, 14), 2))
    _save(src / "sub" / "rgba.png", _noise((12, 19, 4), 3))
    _save(src / "sub" / "grey16.png", _noise((7, 9), 4, np.uint16))
    _save(src / "sub" / "deeper" / "photo.webp", _noise((10, 10, 3), 5), lossless=True)
    for i in range(5):
        _save(src / "more" / f"m{i}.png", _noise((16 + i, 20, 3), 10 + i))
    (src / "notes.png").write_text("not a picture\n")
    (src / "readme.txt").write_text("ignored\n")
    return src


# --------------------------------------------------------------------------------------------
# a batch on the cluster is a local batch
# --------------------------------------------------------------------------------------------

BATCH_ARGS = ("-r", "--method", "transconv", "--kernel", "bicubic", "--edge", "reflect")


def test_batch_on_the_cluster_is_identical_to_a_local_run(tmp_path: Path, cluster: Loopback):
    src = make_tree(tmp_path)
    local_out, cluster_out = tmp_path / "local", tmp_path / "cluster"
    for out in (local_out, cluster_out):  # one output exists already: reported as failed
        _save(out / "sub" / "rgba_transconvx2.png", _noise((2, 2, 4), 99))

    local = run("batch", src, "-o", local_out, "-j", "1", "--json", *BATCH_ARGS)
    remote = run(
        "batch", src, "-o", cluster_out, "--scheduler", cluster.address, "--json", *BATCH_ARGS
    )

    assert local.exit_code == remote.exit_code == 1, remote.stderr
    assert comparable(remote.stdout, src) == comparable(local.stdout, src)
    assert summary_counts(remote.stderr) == summary_counts(local.stderr)
    assert summary_counts(local.stderr) == ["processed 9", "skipped 0", "failed 2"]
    assert files_under(cluster_out) == files_under(local_out)
    for name in files_under(local_out):
        assert (cluster_out / name).read_bytes() == (local_out / name).read_bytes(), name
    assert "on the Dask scheduler" not in remote.stdout  # stdout carries the records only

    before = snapshot(cluster_out)
    again = run(
        "batch",
        src,
        "-o",
        cluster_out,
        "--scheduler",
        cluster.address,
        "--skip-existing",
        "--json",
        *BATCH_ARGS,
    )
    local_again = run("batch", src, "-o", local_out, "--skip-existing", "--json", *BATCH_ARGS)
    assert again.exit_code == local_again.exit_code == 1  # notes.png still fails
    statuses = {r["input"]: r["status"] for r in comparable(again.stdout, src)}
    assert statuses.pop("notes.png") == "failed"
    assert set(statuses.values()) == {"skipped"}
    assert snapshot(cluster_out) == before  # nothing rewritten, nothing touched
    assert comparable(again.stdout, src) == comparable(local_again.stdout, src)


def test_a_file_a_worker_cannot_read_fails_clearly(tmp_path: Path, cluster: Loopback) -> None:
    src = make_tree(tmp_path)
    plan = lib.plan_batch(
        src, tmp_path / "out", EnlargeSettings(method="nearest"), lib.BatchOptions(recursive=True)
    )
    (src / "rgb.png").unlink()  # gone between the plan and the run, as on an unshared disk

    with Cluster(cluster.address) as connection:
        report = lib.run_batch(plan, runner=ClusterRunner(connection))

    failed = {r.input.name: r.reason for r in report.failures}
    assert set(failed) == {"rgb.png", "notes.png"}
    assert "cannot read it" in failed["rgb.png"] and "shared file system" in failed["rgb.png"]
    assert report.count("ok") == 9 and report.exit_code == 1


def test_fail_fast_on_the_cluster_stops_handing_out_files(
    tmp_path: Path, cluster: Loopback
) -> None:
    src = tmp_path / "in"
    _save(src / "big_rgba.png", _noise((40, 40, 4), 1))  # the largest: handed out first
    for i in range(8):
        _save(src / f"small{i}.png", _noise((10, 10, 3), 2 + i))
    result = run(
        "batch",
        src,
        "-o",
        tmp_path / "out",
        "--format",
        "jpeg",  # JPEG has no alpha: big_rgba fails when it is written
        "--fail-fast",
        "--scheduler",
        cluster.address,
        "--json",
    )
    assert result.exit_code == 1
    found = {Path(r["input"]).name: r for r in records(result.stdout)}
    assert found["big_rgba.png"]["status"] == "failed"
    assert len(found) == 9  # every file has a record: some were never started
    assert "not-started" in {r["status"] for r in found.values()}
    assert "stopped at the first failure" in result.stderr
    assert temp_files(tmp_path / "out") == []


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("out.png", ("--method", "transconv", "--kernel", "bicubic", "--padding", "same")),
        ("out.npy", ("--method", "transconv", "--dilation", "2", "--edge", "replicate")),
        ("out.png", ("--method", "bilinear", "--stride", "3")),  # the exact-integer path
        ("out.png", ("--method", "nearest", "--scale", "1.5")),
    ],
)
def test_enlarge_on_the_cluster_writes_the_same_file(
    tmp_path: Path, cluster: Loopback, name: str, args: tuple[str, ...]
) -> None:
    source = _save(tmp_path / "huge.png", _noise((37, 29, 4), 7))
    (tmp_path / "here").mkdir()
    (tmp_path / "there").mkdir()
    here = run("enlarge", source, "-o", tmp_path / "here" / name, *args)
    there = run(
        "enlarge", source, "-o", tmp_path / "there" / name, "--scheduler", cluster.address, *args
    )
    assert here.exit_code == there.exit_code == 0, there.stderr
    assert (tmp_path / "there" / name).read_bytes() == (tmp_path / "here" / name).read_bytes()
    assert os.listdir(tmp_path / "there") == [name]


def test_tiny_chunks_over_tcp_equal_the_local_result(tmp_path: Path, cluster: Loopback) -> None:
    """Max-unpool with positions (sent with the settings) and alpha, one row per task."""
    from upsamp import imageio
    from upsamp.distributed import distributed_storage
    from upsamp.indices import indices_payload
    from upsamp.pipeline import enlarge_to_storage, prepare
    from upsamp.pool_job import pool_image

    big = _noise((22, 18, 4), 8)
    image = imageio.LoadedImage(big[::2, ::2, :3].copy(), big[::2, ::2, 3].copy(), "RGBA", "", "")
    _, _, found = pool_image(
        imageio.LoadedImage(big[:, :, :3], big[:, :, 3], "RGBA", "", ""), (2, 2)
    )
    np.savez(tmp_path / "positions.npz", **indices_payload(found))
    settings = EnlargeSettings(
        method="max-unpool", indices_file=tmp_path / "positions.npz", stride_given=False
    )
    local, _ = enlarge_to_storage(image, prepare(image, settings), "RGBA")
    chunked, _ = distributed_storage(image, settings, "RGBA", cluster.client, chunk_rows=1)
    np.testing.assert_array_equal(chunked, local)


def test_unreachable_scheduler_and_bad_address(tmp_path: Path) -> None:
    import dask

    src = make_tree(tmp_path)
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        started = time.monotonic()
        result = run("batch", src, "-o", tmp_path / "out", "--scheduler", "tcp://127.0.0.1:9")
    assert result.exit_code == 1
    assert result.stderr.startswith("upsamp: error: cannot reach the Dask scheduler at tcp://")
    assert len(result.stderr.strip().splitlines()) == 1
    assert time.monotonic() - started < 30
    assert not (tmp_path / "out").exists()

    bad = run("batch", src, "-o", tmp_path / "out", "--scheduler", "http://host/")
    assert bad.exit_code == 2 and bad.stderr.startswith("upsamp: error: --scheduler: ")


# --------------------------------------------------------------------------------------------
# --scheduler local: a cluster of this machine, and Ctrl-C
# --------------------------------------------------------------------------------------------

N_SLOW = 12


@pytest.fixture(scope="module")
def slow_inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Images that take a noticeable time each, and their outputs from a local run."""
    return make_slow_inputs(tmp_path_factory.mktemp("slow"), N_SLOW, 160)


def _group_gone(pgid: int, timeout: float) -> bool:
    """True once no process of the group ``pgid`` is left (within ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def _popen_batch(*args: object) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "upsamp", "batch", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        start_new_session=True,  # its own process group, as a terminal gives a command
    )


def _finish(process: subprocess.Popen, timeout: float = 60) -> tuple[str, str]:
    try:
        return process.communicate(timeout=timeout)
    finally:
        if process.poll() is None or not _group_gone(process.pid, 0.1):
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.communicate()


def test_scheduler_local_runs_and_stops_its_own_cluster(
    tmp_path: Path, slow_inputs: tuple[Path, Path]
) -> None:
    src, reference = slow_inputs
    out = tmp_path / "out"
    process = _popen_batch(src, "-o", out, "--scheduler", "local", "-j", "2", "--json", *SLOW_ARGS)
    stdout, stderr = _finish(process)
    assert process.returncode == 0, stderr
    assert _group_gone(process.pid, 10), "local cluster processes were left running"
    assert "done in" in stderr and "2 jobs" in stderr
    assert len(records(stdout)) == N_SLOW
    assert files_under(out) == files_under(reference)
    for name in files_under(reference):
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name


def test_ctrl_c_with_scheduler_local_leaves_complete_files_only(
    tmp_path: Path, slow_inputs: tuple[Path, Path]
) -> None:
    src, reference = slow_inputs
    out = tmp_path / "out"
    process = _popen_batch(src, "-o", out, "--scheduler", "local", "-j", "2", "--json", *SLOW_ARGS)
    try:
        wait_until_writing(process, out, timeout=60)
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: the whole group, workers included
        signalled = time.monotonic()
    finally:
        stdout, stderr = _finish(process, timeout=30)
    assert process.returncode == 130, stderr
    assert time.monotonic() - signalled < 15, "the run did not stop promptly"
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert _group_gone(process.pid, 10), "local cluster processes were left running"
    assert temp_files(out) == []
    present = files_under(out)
    assert len(present) < N_SLOW, "the run should have been stopped part-way"
    for name in present:  # every file there is complete
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name
    listed = {Path(r["output"]).name: r["status"] for r in records(stdout)}
    assert len(listed) == N_SLOW  # every file has a record: ok, or not-started
    assert {n for n, s in listed.items() if s == "ok"} <= present
    # (a file whose worker the signal reached first may be reported failed)
    assert set(listed.values()) <= {"ok", "failed", "not-started"}


# --------------------------------------------------------------------------------------------
# a worker killed mid-batch (last: the fixture's nanny restarts it)
# --------------------------------------------------------------------------------------------


def test_killed_worker_leaves_every_file_complete_or_failed(
    tmp_path: Path, cluster: Loopback, slow_inputs: tuple[Path, Path]
) -> None:
    src, reference = slow_inputs
    out = tmp_path / "out"
    client = cluster.client
    pids = client.run(os.getpid)  # type: ignore[attr-defined]
    process = _popen_batch(src, "-o", out, "--scheduler", cluster.address, "--json", *SLOW_ARGS)
    killed = None
    try:
        # Strike the worker that is writing a file (imgNN is task NN: one file per worker
        # thread, so its task is the one the scheduler says it is processing): its temporary
        # file is left behind, and the file must be redone elsewhere or reported failed.
        deadline = time.monotonic() + 60
        while killed is None:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no worker was caught writing"
            processing = client.processing()  # type: ignore[attr-defined]
            for temp in temp_files(out) if out.is_dir() else []:
                index = int(temp.name[len(".img") :][:2])
                writer = [
                    w
                    for w, keys in processing.items()
                    if any(k.endswith(f"-{index}") for k in keys)
                ]
                if writer and temp.exists():
                    killed, left = writer[0], temp
                    os.kill(pids[killed], signal.SIGKILL)
                    break
            time.sleep(0.002)
        stdout, stderr = _finish(process)
    finally:
        if process.poll() is None:
            _finish(process, timeout=1)
    assert process.returncode in (0, 1), stderr
    found = {Path(r["input"]).name: r for r in records(stdout)}
    assert len(found) == N_SLOW  # every file reported
    for name, record in found.items():
        output = out / Path(record["output"]).name
        expected = (reference / output.name).read_bytes()
        if record["status"] == "ok":
            assert output.read_bytes() == expected, name
        else:  # reported failed (its workers died; or it was redone after the worker wrote
            # it but died before saying so: "exists"): nothing there, or a complete file
            assert record["status"] == "failed", record
            assert "died" in record["reason"] or "exists" in record["reason"], record
            assert not output.exists() or output.read_bytes() == expected, name
    assert not left.exists() and temp_files(out) == []  # swept by the parent
    statuses = sorted({r["status"] for r in found.values()})
    print(f"killed the worker writing {left.name}; statuses afterwards: {statuses}")
    shutil.rmtree(out)
