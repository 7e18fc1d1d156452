"""CPU time of process trees and of the whole machine, read from /proc.

A server is a root pid and everything below it (PostgreSQL serves each connection
from a child process). A `Sample` holds utime+stime of every pid of every tree;
`cpu_between` charges each tree with what its pids used between two samples,
counting a pid that appeared in between from zero.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

TICK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after its last ')'
    return raw[raw.rindex(")") + 2 :].split()


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of one process, in seconds (None once it is gone)."""
    fields = _stat_fields(pid)
    if fields is None:
        return None
    return (int(fields[11]) + int(fields[12])) / TICK


def io_calls(pid: int) -> tuple[int, int]:
    """(read-like, write-like) system calls of one process so far, from /proc/PID/io
    (`syscr`, `syscw`: read/readv/write/writev on sockets count; epoll does not)."""
    try:
        with open(f"/proc/{pid}/io") as f:
            values = dict(line.split(":", 1) for line in f)
    except OSError:
        return 0, 0
    return int(values["syscr"]), int(values["syscw"])


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def tree(root: int, children: Mapping[int, list[int]], stop: set[int] | None = None) -> list[int]:
    """`root` and its descendants, not descending into the pids of `stop` (other roots)."""
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(c for c in children.get(pid, ()) if not stop or c not in stop)
    return found


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])
    return float(total - idle), float(total)


@dataclass
class Sample:
    """CPU seconds of every pid of every named tree, and the machine's counters."""

    at: float
    per_tree: dict[str, dict[int, float]] = field(default_factory=dict)
    io: dict[str, dict[int, tuple[int, int]]] = field(default_factory=dict)
    machine: tuple[float, float] = (0.0, 0.0)


def sample(roots: Mapping[str, int | list[int]]) -> Sample:
    """Read every tree now. `roots` maps a name to one root pid or several; a pid under
    two roots (a service under its supervisor) counts for the nearer one only."""
    children = _children_map()
    out = Sample(at=time.monotonic(), machine=machine_busy())
    listed = [[r] if isinstance(r, int) else r for r in roots.values()]
    every_root = {pid for group in listed for pid in group}
    for name, group in zip(roots, listed, strict=True):
        pids: dict[int, float] = {}
        io: dict[int, tuple[int, int]] = {}
        for r in group:
            for pid in tree(r, children, every_root - {r}):
                cpu = cpu_seconds(pid)
                if cpu is not None:
                    pids[pid] = cpu
                    io[pid] = io_calls(pid)
        out.per_tree[name] = pids
        out.io[name] = io
    return out


def cpu_between(before: Sample, after: Sample) -> dict[str, float]:
    """CPU seconds each tree used between two samples."""
    used: dict[str, float] = {}
    for name, now in after.per_tree.items():
        then = before.per_tree.get(name, {})
        used[name] = sum(max(0.0, cpu - then.get(pid, 0.0)) for pid, cpu in now.items())
    return used


def io_between(before: Sample, after: Sample) -> dict[str, tuple[int, int]]:
    """(reads, writes) system calls each tree made between two samples."""
    used: dict[str, tuple[int, int]] = {}
    for name, now in after.io.items():
        then = before.io.get(name, {})
        reads = sum(max(0, r - then.get(pid, (0, 0))[0]) for pid, (r, _) in now.items())
        writes = sum(max(0, w - then.get(pid, (0, 0))[1]) for pid, (_, w) in now.items())
        used[name] = (reads, writes)
    return used


def busy_cores(before: Sample, after: Sample) -> float:
    """Busy cores of the whole machine between two samples."""
    busy = after.machine[0] - before.machine[0]
    total = after.machine[1] - before.machine[1]
    return (os.cpu_count() or 1) * busy / total if total else 0.0
