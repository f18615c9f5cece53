"""CPU and memory limits of the control group this process runs in (Linux containers).

Docker, Kubernetes and SLURM limit a job through cgroups, which neither the CPU affinity mask
nor the host's free memory show. This module reads them, for cgroup v2 (``cpu.max``,
``memory.max``, ``memory.current``) and v1 (``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``,
``memory.limit_in_bytes``, ``memory.usage_in_bytes``): the process's group comes from
``/proc/self/cgroup``, where that hierarchy is mounted from ``/proc/self/mountinfo``, and the
limit that applies is the tightest along the path from the group up to the mount point (a
parent's limit bounds its children).

Pure parsing: files are only read, nothing is cached, and a missing or unreadable file means
"no limit known" (None), never an error. Every function takes ``root``, the directory that
stands for ``/``, so tests run on fake trees.

>>> cpu_limit("/nonexistent") is None
True
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CgroupLimits",
    "controller_dirs",
    "cpu_limit",
    "cpu_quota",
    "limits",
    "memory_available",
    "memory_limit",
]

#: v1 writes "no limit" as a huge page-aligned number; anything from 2**60 bytes up is none.
_UNLIMITED_BYTES = 2**60


@dataclass(frozen=True)
class CgroupLimits:
    """What the cgroup allows; None = no limit found."""

    version: int | None  #: 2, 1, or None when no cgroup hierarchy was found
    cpu_quota: float | None  #: CPUs' worth of time per period, e.g. 1.5
    cpus: int | None  #: ``ceil(cpu_quota)``
    memory_limit: int | None  #: bytes
    memory_available: int | None  #: bytes: limit minus current usage, at the tightest level


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _inside(root: str | os.PathLike[str], absolute: str) -> Path:
    return Path(root) / absolute.lstrip("/")


def _membership(root: str | os.PathLike[str]) -> tuple[str | None, dict[str, str]]:
    """``(v2 path or None, {v1 controller: path})`` from ``/proc/self/cgroup``."""
    text = _read(_inside(root, "/proc/self/cgroup")) or ""
    unified, v1 = None, {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if hierarchy == "0" and controllers == "":
            unified = path
        else:
            for name in controllers.split(","):
                if name:
                    v1[name] = path
    return unified, v1


def _mounts(root: str | os.PathLike[str]) -> list[tuple[str, str, str, set[str]]]:
    """``(mount point, fs type, root inside the fs, super options)`` of cgroup mounts."""
    text = _read(_inside(root, "/proc/self/mountinfo")) or ""
    found = []
    for line in text.splitlines():
        fields = line.split()
        if "-" not in fields:
            continue
        dash = fields.index("-")
        if dash < 5 or len(fields) < dash + 3:
            continue
        fs_type = fields[dash + 1]
        if fs_type in ("cgroup", "cgroup2"):
            options = set(fields[dash + 3].split(",")) if len(fields) > dash + 3 else set()
            found.append((_unescape(fields[4]), fs_type, _unescape(fields[3]), options))
    return found


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def _chain(mount_point: str, fs_root: str, group: str) -> list[str]:
    """Directories from the process's group up to the mount point, as absolute paths.

    The group path is relative to the hierarchy's root; the mount shows the hierarchy from
    ``fs_root`` on (a container sees its own group as ``/``). A group outside the mounted part
    (a cgroup namespace moved, etc.) falls back to the mount point itself."""
    group = "/" + group.strip("/")
    fs_root = "/" + fs_root.strip("/")
    if fs_root == "/":
        relative = group
    elif group == fs_root or group.startswith(fs_root + "/"):
        relative = group[len(fs_root) :] or "/"
    else:
        relative = "/"
    parts = [p for p in relative.split("/") if p]
    base = mount_point.rstrip("/") or "/"
    chain = []
    for n in range(len(parts), -1, -1):
        chain.append(base + ("/" + "/".join(parts[:n]) if n else ""))
    return chain


def controller_dirs(root: str | os.PathLike[str] = "/") -> tuple[int | None, dict[str, list[Path]]]:
    """``(version, {"cpu": [dirs], "memory": [dirs]})``: for each controller the directories
    from the process's group up to its hierarchy's mount point (inside ``root``). Version 2
    when the process is in a v2 hierarchy that has the controller; else v1."""
    unified, v1 = _membership(root)
    mounts = _mounts(root)
    dirs: dict[str, list[Path]] = {}
    version = None
    for controller in ("cpu", "memory"):
        if unified is not None:
            for point, fs_type, fs_root, _ in mounts:
                if fs_type != "cgroup2":
                    continue
                chain = [_inside(root, d) for d in _chain(point, fs_root, unified)]
                enabled = _read(_inside(root, point) / "cgroup.controllers")
                if enabled is not None and controller not in enabled.split():
                    continue
                dirs[controller], version = chain, 2
                break
        if controller in dirs or controller not in v1:
            continue
        for point, fs_type, fs_root, options in mounts:
            if fs_type == "cgroup" and controller in options:
                chain = [_inside(root, d) for d in _chain(point, fs_root, v1[controller])]
                dirs[controller] = chain
                version = version or 1
                break
    return version, dirs


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def cpu_quota(root: str | os.PathLike[str] = "/") -> float | None:
    """The tightest CPU quota along the group's path, in CPUs (quota / period), or None when
    no level sets one (``max`` in v2, ``-1`` in v1)."""
    _, dirs = controller_dirs(root)
    best = None
    for directory in dirs.get("cpu", []):
        value = _read(directory / "cpu.max")
        if value is not None:
            fields = value.split()
            quota = _int(fields[0]) if fields and fields[0] != "max" else None
            period = _int(fields[1]) if len(fields) > 1 else 100000
        else:
            quota = _int(_read(directory / "cpu.cfs_quota_us"))
            period = _int(_read(directory / "cpu.cfs_period_us"))
        if quota is None or quota <= 0 or not period or period <= 0:
            continue
        cpus = quota / period
        best = cpus if best is None else min(best, cpus)
    return best


def cpu_limit(root: str | os.PathLike[str] = "/") -> int | None:
    """Whole CPUs the quota allows, ``ceil(quota / period)`` (at least 1), or None."""
    quota = cpu_quota(root)
    return None if quota is None else max(1, math.ceil(quota - 1e-9))


def _memory_levels(root: str | os.PathLike[str]) -> list[tuple[int, int | None]]:
    """``(limit, usage)`` in bytes at each level of the path that sets a limit."""
    _, dirs = controller_dirs(root)
    levels = []
    for directory in dirs.get("memory", []):
        limit_text = _read(directory / "memory.max")
        if limit_text is not None:
            usage = _int(_read(directory / "memory.current"))
        else:
            limit_text = _read(directory / "memory.limit_in_bytes")
            usage = _int(_read(directory / "memory.usage_in_bytes"))
        limit = _int(limit_text) if limit_text not in (None, "max") else None
        if limit is None or limit <= 0 or limit >= _UNLIMITED_BYTES:
            continue
        levels.append((limit, usage))
    return levels


def memory_limit(root: str | os.PathLike[str] = "/") -> int | None:
    """The tightest memory limit along the group's path in bytes, or None."""
    levels = _memory_levels(root)
    return min(limit for limit, _ in levels) if levels else None


def memory_available(root: str | os.PathLike[str] = "/") -> int | None:
    """Bytes the group may still allocate: the smallest ``limit - usage`` along the path
    (0 at least; a level without a usage file counts its whole limit), or None."""
    levels = _memory_levels(root)
    if not levels:
        return None
    return max(0, min(limit - (usage or 0) for limit, usage in levels))


def limits(root: str | os.PathLike[str] = "/") -> CgroupLimits:
    """All of the above in one value."""
    version, _ = controller_dirs(root)
    return CgroupLimits(
        version=version,
        cpu_quota=cpu_quota(root),
        cpus=cpu_limit(root),
        memory_limit=memory_limit(root),
        memory_available=memory_available(root),
    )
