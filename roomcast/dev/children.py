"""The processes `roomcast dev` supervises: services and embedded servers.

Each `Child` knows how to start (again), whether it died and how to clean up
after it; `roomcast.dev.supervisor` decides when. Service output is printed line by
line with the service's name as a prefix (`say`).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
from datetime import UTC, datetime
from typing import IO

from roomcast.dev.embedded import EmbeddedServer
from roomcast.dev.restarts import CrashHistory, RestartPolicy
from roomcast.dev.service_process import ServiceProcess
from roomcast.platform import logs
from roomcast.platform.logs import strip_ansi

_print_lock = threading.Lock()


def say(text: str, name: str = "dev", stream: IO[str] | None = None) -> None:
    """Print one line prefixed with its source, safe from several threads.

    Escape sequences (colours) are dropped unless the output is a terminal. With
    `ROOMCAST_LOG_FORMAT=json` every line is a JSON object instead: a service's
    own JSON lines pass through as they are, other lines are wrapped with the
    service's name.
    """
    out = stream or sys.stdout
    if not out.isatty():
        text = strip_ansi(text)
    if os.environ.get(logs.FORMAT_ENV, "").lower() == "json":
        level = "ERROR" if out is sys.stderr else "INFO"
        text = text if text.startswith("{") else _json_line(name, level, text)
    else:
        text = f"{name:<11}| {text}"
    with _print_lock, contextlib.suppress(BrokenPipeError, ValueError):
        print(text, file=out, flush=True)


def _json_line(name: str, level: str, text: str) -> str:
    """A line that is not JSON, as a log object: the supervisor's, or a service's raw output."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    logger = "roomcast.dev.supervisor" if name == "dev" else "output"
    record = {"ts": now, "level": level, "service": name, "logger": logger, "message": text}
    return json.dumps(record, ensure_ascii=False)


class Child:
    """One supervised process: a service or an embedded server.

    Subclasses say how to (re)start it and whether it is alive; the supervisor
    keeps its crash history and when it is due to restart.
    """

    name: str
    history: CrashHistory
    restart_at: float | None = None
    log_hint = "its output"

    def exit_code(self) -> int | None:
        """The exit code once the process has died, else None."""
        raise NotImplementedError

    def launch(self) -> None:
        """Start the process (again)."""
        raise NotImplementedError

    def reap(self) -> None:
        """Clean up after a process that died (its group, its output pump)."""

    def pids(self) -> list[int]:
        """The running process ids, for `dev.json`."""
        return []


class ServiceChild(Child):
    """One service replica; its output is printed with its name as a prefix."""

    def __init__(self, process: ServiceProcess, policy: RestartPolicy) -> None:
        self.process = process
        self.name = process.instance
        self.history = CrashHistory(policy)
        self.restarted = False

    def launch(self) -> None:
        """Start the process (again) without waiting for it to be ready."""
        self.process.start(wait=False)

    def exit_code(self) -> int | None:
        """The exit code once the process has died, else None."""
        return self.process.returncode

    @property
    def ready(self) -> bool:
        """True once the service created its ready file."""
        return self.process.ready

    def reap(self) -> None:
        """Kill what is left of the process group and flush its last output."""
        self.process.kill()

    def pids(self) -> list[int]:
        """The service's pid while it runs."""
        return [self.process.pid] if self.process.running else []


class ServerChild(Child):
    """An embedded server: restarts on the same port and data directory."""

    def __init__(
        self, server: EmbeddedServer, policy: RestartPolicy, name: str | None = None
    ) -> None:
        self.server = server
        self.name = name or server.name
        self.log_hint = str(server.log_path)
        self.history = CrashHistory(policy)

    def exit_code(self) -> int | None:
        """The exit code once the server has died, else None."""
        return self.server.exit_code

    def launch(self) -> None:
        """Start the server and wait until it serves (raises if it does not)."""
        self.server.start()

    def reap(self) -> None:
        """Kill what is left of the server's process group."""
        self.server.stop(timeout=0.0)

    def pids(self) -> list[int]:
        """The server's pid while it runs."""
        pid = self.server.pid
        return [pid] if pid is not None and self.server.running else []
