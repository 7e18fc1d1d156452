"""py-spy profiles of server processes during a rate, and where their CPU went.

`record` samples one process for the length of a phase (`py-spy record --format raw`:
one line per distinct stack, `frame;frame;… count`, idle threads left out, so the
samples are time on the CPU). `summarise` turns a file into shares: by the package of
the innermost frame (self time), and the functions with the most inclusive time.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

RATE_HZ = 200
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^():]+)(?::\d+)?\)$")


def available() -> str | None:
    """The py-spy executable, if installed (`pip install -e '.[bench]'`)."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def record(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    """Start sampling `pid` for `seconds` into `out`; returns the py-spy process."""
    exe = available()
    if exe is None:
        raise RuntimeError("py-spy is not installed: pip install -e '.[bench]'")
    command = [exe, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds)))]
    command += ["--rate", str(RATE_HZ), "--format", "raw", "--output", str(out)]
    command += ["--nonblocking"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


MINE = ("services", "roomcast", "contracts", "bench")
LOOP = "Runner.run"
"""The frame uvloop's native time is charged to: polling, socket reads, scheduling."""
LOOP_LABEL = "event loop, native (uvloop: epoll, socket reads, callbacks)"


def _package(file: str) -> str:
    """A short owner for a source file as py-spy names it: `nats`, `services/gateway`, …"""
    parts = file.split("/")
    if len(parts) == 1:
        return file or "(no file: native or interpreter)"
    return "/".join(parts[:2]) if parts[0] in MINE else parts[0]


def _short(frame: str) -> str:
    m = _FRAME.match(frame)
    if not m:
        return frame
    if m["func"] == LOOP:
        return LOOP_LABEL
    return f"{m['func']} ({m['file']})"


@dataclass
class Summary:
    samples: int
    self_by_package: list[tuple[str, float]]
    self_by_function: list[tuple[str, float]]
    inclusive: list[tuple[str, float]]


def parse(lines: Iterable[str]) -> Counter[tuple[str, ...]]:
    stacks: Counter[tuple[str, ...]] = Counter()
    for line in lines:
        line = line.strip()
        if not line:
            continue
        stack, _, count = line.rpartition(" ")
        frames = tuple(
            f for f in stack.split(";") if f and not f.startswith(("process ", "thread "))
        )
        if frames:
            stacks[frames] += int(count)
    return stacks


def _loop_depth(frames: tuple[str, ...]) -> int:
    for i, frame in enumerate(frames):
        if frame.startswith(LOOP + " "):
            return i
    return -1


def summarise(path: Path, top: int = 12) -> Summary:
    stacks = parse(path.read_text().splitlines())
    total = sum(stacks.values()) or 1
    by_package: Counter[str] = Counter()
    by_function: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for frames, n in stacks.items():
        leaf = frames[-1]
        m = _FRAME.match(leaf)
        owner = (LOOP_LABEL if m["func"] == LOOP else _package(m["file"])) if m else leaf
        by_package[owner] += n
        by_function[_short(leaf)] += n
        # below the event loop: what the loop ran (a task's own stack has no loop frame)
        inner = frames[_loop_depth(frames) + 1 :]
        for name in {_short(f) for f in inner}:
            inclusive[name] += n

    def shares(c: Counter[str]) -> list[tuple[str, float]]:
        return [(k, v / total) for k, v in c.most_common(top)]

    return Summary(total, shares(by_package), shares(by_function), shares(inclusive))


def markdown(title: str, s: Summary, us_per_dm: float | None) -> str:
    """A section: the shares, and µs per DM where the process's CPU per DM is known."""

    def rows(items: list[tuple[str, float]]) -> list[str]:
        out = []
        for name, share in items:
            per = f" | {share * us_per_dm:.0f}" if us_per_dm else " | "
            out.append(f"| {name.replace('|', '/')} | {share:.0%}{per} |")
        return out

    head = ["| | share | µs per DM |", "|---|---|---|"]
    per = f", {us_per_dm:.0f} µs of CPU per DM" if us_per_dm else ""
    lines = [f"#### {title} ({s.samples} samples{per})", ""]
    lines += ["Self time by package of the innermost frame (a C call is charged to its caller):"]
    lines += ["", *head]
    lines += rows(s.self_by_package)
    lines += ["", "Self time by function:", "", *head, *rows(s.self_by_function)]
    lines += ["", "Inclusive time (the function and what it called; entry frames left out):"]
    lines += ["", *head]
    lines += rows(s.inclusive)
    return "\n".join(lines) + "\n"
