"""cgroup limits read from fake /proc and /sys/fs/cgroup trees (v1 and v2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from upsamp import cgroup

V2_MOUNT = "30 25 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"
V1_MOUNTS = (
    "35 25 0:30 / /sys/fs/cgroup/cpu,cpuacct rw shared:10 - cgroup cgroup rw,cpu,cpuacct\n"
    "36 25 0:31 / /sys/fs/cgroup/memory rw shared:11 - cgroup cgroup rw,memory\n"
)


def _write(root: Path, path: str, text: str) -> None:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


def _v2(root: Path, group: str, files: dict[str, str], mount_root: str = "/") -> None:
    _write(root, "/proc/self/cgroup", f"0::{group}\n")
    mount = V2_MOUNT.replace(" / /sys", f" {mount_root} /sys")
    _write(root, "/proc/self/mountinfo", "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n" + mount)
    _write(root, "/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory pids\n")
    for path, text in files.items():
        _write(root, path, text)


def _v1(root: Path, cpu_group: str, memory_group: str, files: dict[str, str]) -> None:
    _write(
        root,
        "/proc/self/cgroup",
        f"12:pids:/x\n4:cpu,cpuacct:{cpu_group}\n7:memory:{memory_group}\n1:name=systemd:/\n",
    )
    _write(root, "/proc/self/mountinfo", "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n" + V1_MOUNTS)
    for path, text in files.items():
        _write(root, path, text)


def test_v2_quota_and_memory(tmp_path):
    g = "/sys/fs/cgroup/job"
    _v2(
        tmp_path,
        "/job",
        {
            f"{g}/cpu.max": "150000 100000\n",
            f"{g}/memory.max": "2147483648\n",
            f"{g}/memory.current": "536870912\n",
        },
    )
    got = cgroup.limits(tmp_path)
    assert got == cgroup.CgroupLimits(2, 1.5, 2, 2**31, 2**31 - 2**29)


def test_v2_max_means_unlimited(tmp_path):
    g = "/sys/fs/cgroup/job"
    _v2(tmp_path, "/job", {f"{g}/cpu.max": "max 100000\n", f"{g}/memory.max": "max\n"})
    assert cgroup.limits(tmp_path) == cgroup.CgroupLimits(2, None, None, None, None)


def test_v2_nested_groups_take_the_tightest_level(tmp_path):
    base = "/sys/fs/cgroup"
    _v2(
        tmp_path,
        "/kubepods/pod1/ctr",
        {
            f"{base}/kubepods/cpu.max": "400000 100000\n",
            f"{base}/kubepods/pod1/cpu.max": "50000 100000\n",  # 0.5 CPU: the tightest
            f"{base}/kubepods/pod1/ctr/cpu.max": "max 100000\n",
            f"{base}/kubepods/memory.max": "1000\n",
            f"{base}/kubepods/memory.current": "900\n",  # 100 left here
            f"{base}/kubepods/pod1/ctr/memory.max": "800\n",
            f"{base}/kubepods/pod1/ctr/memory.current": "600\n",  # 200 left here
        },
    )
    assert cgroup.cpu_quota(tmp_path) == 0.5
    assert cgroup.cpu_limit(tmp_path) == 1  # at least one CPU
    assert cgroup.memory_limit(tmp_path) == 800
    assert cgroup.memory_available(tmp_path) == 100


def test_v2_inside_a_container_namespace(tmp_path):
    # The container sees its own group as "/", mounted at the cgroup root.
    _v2(tmp_path, "/", {"/sys/fs/cgroup/cpu.max": "200000 100000\n"})
    assert cgroup.cpu_limit(tmp_path) == 2


def test_v2_mount_root_below_the_hierarchy_root(tmp_path):
    # mountinfo's root field is the group the mount shows; the process path starts with it.
    _v2(
        tmp_path,
        "/docker/abc/sub",
        {"/sys/fs/cgroup/sub/cpu.max": "300000 100000\n"},
        mount_root="/docker/abc",
    )
    assert cgroup.cpu_quota(tmp_path) == 3.0
    _, dirs = cgroup.controller_dirs(tmp_path)
    assert dirs["cpu"][0] == tmp_path / "sys/fs/cgroup/sub"
    assert dirs["cpu"][-1] == tmp_path / "sys/fs/cgroup"


def test_v1_quota_and_memory(tmp_path):
    _v1(
        tmp_path,
        "/docker/abc",
        "/docker/abc",
        {
            "/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "250000\n",
            "/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000\n",
            "/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": "1073741824\n",
            "/sys/fs/cgroup/memory/docker/abc/memory.usage_in_bytes": "73741824\n",
            "/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n",  # none
        },
    )
    assert cgroup.limits(tmp_path) == cgroup.CgroupLimits(1, 2.5, 3, 2**30, 10**9)


def test_v1_unlimited(tmp_path):
    _v1(
        tmp_path,
        "/",
        "/",
        {
            "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us": "-1\n",
            "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": "100000\n",
            "/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n",
        },
    )
    assert cgroup.limits(tmp_path) == cgroup.CgroupLimits(1, None, None, None, None)


@pytest.mark.parametrize(
    "files",
    [
        {},  # no /proc at all (not Linux)
        {"/proc/self/cgroup": "garbage\n", "/proc/self/mountinfo": "also garbage\n"},
        {"/proc/self/cgroup": "0::/job\n", "/proc/self/mountinfo": V2_MOUNT},  # no files
    ],
)
def test_missing_or_broken_files_mean_no_limit(tmp_path, files):
    for path, text in files.items():
        _write(tmp_path, path, text)
    got = cgroup.limits(tmp_path)
    assert (got.cpu_quota, got.cpus, got.memory_limit, got.memory_available) == (None,) * 4


def test_unparsable_values_are_skipped(tmp_path):
    g = "/sys/fs/cgroup/job"
    _v2(tmp_path, "/job", {f"{g}/cpu.max": "lots 100000\n", f"{g}/memory.max": "many\n"})
    assert cgroup.cpu_quota(tmp_path) is None and cgroup.memory_limit(tmp_path) is None


def test_escaped_mount_point(tmp_path):
    _write(tmp_path, "/proc/self/cgroup", "0::/\n")
    mount = "30 25 0:26 / /sys/fs/my\\040cgroup rw - cgroup2 cgroup2 rw\n"
    _write(tmp_path, "/proc/self/mountinfo", mount)
    _write(tmp_path, "/sys/fs/my cgroup/cpu.max", "100000 100000\n")
    assert cgroup.cpu_limit(tmp_path) == 1


def test_this_machine_does_not_raise():
    got = cgroup.limits()
    assert got.cpus is None or got.cpus >= 1
