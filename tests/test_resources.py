"""CPU count and memory budget under cgroup limits, on fake /proc and /sys/fs/cgroup trees."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from upsamp import batch, resources, threads

V2_MOUNT = "30 25 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"
V1_MOUNTS = (
    "35 25 0:30 / /sys/fs/cgroup/cpu,cpuacct rw shared:10 - cgroup cgroup rw,cpu,cpuacct\n"
    "36 25 0:31 / /sys/fs/cgroup/memory rw shared:11 - cgroup cgroup rw,memory\n"
)
GIB = 2**30


def _write(root: Path, path: str, text: str) -> None:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


def _v2_tree(root: Path, cpu_max: str, memory_max: str, memory_current: str) -> Path:
    _write(root, "/proc/self/cgroup", "0::/job\n")
    _write(root, "/proc/self/mountinfo", "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n" + V2_MOUNT)
    _write(root, "/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory pids\n")
    _write(root, "/sys/fs/cgroup/job/cpu.max", cpu_max)
    _write(root, "/sys/fs/cgroup/job/memory.max", memory_max)
    _write(root, "/sys/fs/cgroup/job/memory.current", memory_current)
    return root


def _v1_tree(root: Path, quota_us: int, period_us: int, limit: int, usage: int) -> Path:
    _write(root, "/proc/self/cgroup", "4:cpu,cpuacct:/docker/abc\n7:memory:/docker/abc\n")
    _write(root, "/proc/self/mountinfo", "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n" + V1_MOUNTS)
    _write(root, "/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", f"{quota_us}\n")
    _write(root, "/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us", f"{period_us}\n")
    _write(root, "/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes", f"{limit}\n")
    _write(root, "/sys/fs/cgroup/memory/docker/abc/memory.usage_in_bytes", f"{usage}\n")
    return root


@pytest.fixture
def host(monkeypatch):
    """A host with 8 CPUs in the affinity mask and 16 GiB available."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    monkeypatch.setattr(resources, "_host_available_memory", lambda: 16 * GIB)
    monkeypatch.delenv(threads.THREADS_VARIABLE, raising=False)
    return monkeypatch


def test_no_cgroup_files_leaves_the_host_figures(host, tmp_path):
    host.setattr(resources, "CGROUP_ROOT", str(tmp_path))
    assert resources.usable_cpus() == 8
    assert resources.available_memory() == 16 * GIB


def test_v2_quota_and_limit_lower_both(host, tmp_path):
    _v2_tree(tmp_path, "150000 100000\n", f"{2 * GIB}\n", f"{GIB // 2}\n")
    host.setattr(resources, "CGROUP_ROOT", str(tmp_path))
    assert resources.usable_cpus() == 2  # 1.5 CPUs of quota, rounded up
    assert resources.available_memory() == 2 * GIB - GIB // 2
    assert threads.image_threads() == 2
    assert batch.default_jobs() == 2


def test_v2_unlimited_keeps_the_host(host, tmp_path):
    _v2_tree(tmp_path, "max 100000\n", "max\n", f"{GIB}\n")
    host.setattr(resources, "CGROUP_ROOT", str(tmp_path))
    assert resources.usable_cpus() == 8
    assert resources.available_memory() == 16 * GIB


def test_v1_quota_and_limit(host, tmp_path):
    _v1_tree(tmp_path, 300000, 100000, 4 * GIB, 3 * GIB)
    host.setattr(resources, "CGROUP_ROOT", str(tmp_path))
    assert resources.usable_cpus() == 3
    assert resources.available_memory() == GIB


def test_a_quota_above_the_affinity_changes_nothing(host, tmp_path):
    _v1_tree(tmp_path, 3200000, 100000, 64 * GIB, GIB)
    host.setattr(resources, "CGROUP_ROOT", str(tmp_path))
    assert resources.usable_cpus() == 8
    assert resources.available_memory() == 16 * GIB


def test_host_unknown_uses_the_group(host, tmp_path):
    _v2_tree(tmp_path, "max 100000\n", f"{GIB}\n", "0\n")
    host.setattr(resources, "CGROUP_ROOT", str(tmp_path))
    host.setattr(resources, "_host_available_memory", lambda: None)
    assert resources.available_memory() == GIB


def test_batch_workers_fit_the_group_memory(host, tmp_path):
    _v2_tree(tmp_path, "max 100000\n", f"{3 * GIB}\n", "0\n")
    host.setattr(resources, "CGROUP_ROOT", str(tmp_path))
    tasks = [
        batch.BatchTask(
            i, Path(f"{i}.png"), Path(f"{i}.png"), Path(f"o{i}.png"), None, "run",
            estimated_bytes=GIB,
        )  # fmt: skip
        for i in range(4)
    ]
    plan = batch.BatchPlan(Path("in"), Path("out"), tasks)
    jobs, warning = batch.effective_jobs(plan, 4)
    # 16 GiB on the host would run all four; the group's 3 GiB runs fewer.
    assert jobs < 4 and warning is not None
    assert batch.effective_jobs(plan, 4, available=16 * GIB)[0] == 4


def test_the_output_budget_uses_the_group_memory(host, tmp_path):
    _v2_tree(tmp_path, "max 100000\n", f"{GIB}\n", "0\n")
    host.setattr(resources, "CGROUP_ROOT", str(tmp_path))
    with pytest.raises(resources.OutputError, match="only 1.0 GiB"):
        resources.check_output_budget((8000, 8000, 3), (16000, 16000, 3), 10**9)
