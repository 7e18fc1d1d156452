"""One service replica as a child process: start it, know when it is ready, stop it.

`roomcast dev`, the test fixtures and the benchmarks all run services this way:
`python -m <module>` of a registered service (`roomcast.registry`), in its own
session (`roomcast.dev.processes.child_options`), told where to create its ready file.
Its output goes to a log file, or line by line to a callback.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any, Self

from roomcast import registry
from roomcast.dev.processes import child_options, free_port, stop_process

TAIL_LINES = 60
"""Lines of output quoted when a service does not become ready."""


class ServiceNotReady(RuntimeError):
    """A service exited, or timed out, before it created its ready file.

    The message names it and ends with the tail of its output.
    """


class ServiceProcess:
    """`python -m services.<name>` as a child process, waited for through its ready file.

    Args:
        name: Registered service name, e.g. `rooms` or `gateway`.
        workdir: Directory for the ready file (and the log file).
        env: Settings on top of this process's environment.
        port: `ROOMCAST_PORT`; a service that listens gets a free port if None.
        instance: `ROOMCAST_INSTANCE_ID` and file name stem (default: `name`).
        host: `ROOMCAST_HOST` when a port is set.
        log: Where the output goes: a file (appended to; default
            `<workdir>/<instance>.log`) or a callback called with each line.
    """

    def __init__(
        self,
        name: str,
        workdir: Path,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        *,
        instance: str | None = None,
        host: str = "127.0.0.1",
        log: Path | Callable[[str], None] | None = None,
    ) -> None:
        self.name = name
        self.service = registry.get(name)
        self.port = free_port() if port is None and self.service.listens else port
        self.host = host
        self.instance = instance or name
        self.ready_file = workdir / f"{self.instance}.ready"
        self.log: Path | Callable[[str], None] = log or workdir / f"{self.instance}.log"
        self.env = {**os.environ, "ROOMCAST_INSTANCE_ID": self.instance, **(env or {})}
        self.env |= {"PYTHONUNBUFFERED": "1", registry.READY_FILE_ENV: str(self.ready_file)}
        if self.port is not None:
            self.env |= {"ROOMCAST_PORT": str(self.port), "ROOMCAST_HOST": host}
        self._proc: subprocess.Popen[bytes] | None = None
        self._pump: threading.Thread | None = None
        self._tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)

    @property
    def url(self) -> str:
        """`http://HOST:PORT` of a service that listens (gateways)."""
        return f"http://{self.host}:{self.port}"

    @property
    def health_url(self) -> str:
        """`http://HOST:PORT` of the service's internal listener (/healthz /readyz
        /metrics, and a gateway's /statz), from its ready file."""
        info = json.loads(self.ready_file.read_text())
        return str(info["health_url"])

    @property
    def pid(self) -> int:
        """Process id of the current run."""
        if self._proc is None:
            raise RuntimeError(f"{self.instance} was never started")
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        """Exit code once it has exited (or was never started: None)."""
        return self._proc.poll() if self._proc is not None else None

    @property
    def running(self) -> bool:
        """True from `start()` until the process exits."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def ready(self) -> bool:
        """True once the current run created its ready file."""
        return self.ready_file.exists()

    def start(self, wait: bool = True, timeout: float = 30.0) -> Self:
        """Start (or start again after it exited), then wait until ready if `wait`.

        Raises:
            ServiceNotReady: `wait` was set and the service did not become ready.
        """
        if self.running:
            raise RuntimeError(f"{self.instance} is already running")
        self.ready_file.unlink(missing_ok=True)
        command = [sys.executable, "-m", self.service.module]
        options: dict[str, Any] = {"env": self.env, "stdin": subprocess.DEVNULL, **child_options()}
        if isinstance(self.log, Path):
            with self.log.open("ab") as out:
                self._proc = subprocess.Popen(
                    command, stdout=out, stderr=subprocess.STDOUT, **options
                )
        else:
            self._proc = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **options
            )
            assert self._proc.stdout is not None
            self._pump = threading.Thread(
                target=self._forward,
                args=(self._proc.stdout, self.log),
                name=f"output-{self.instance}",
                daemon=True,
            )
            self._pump.start()
        if wait:
            self.wait_ready(timeout)
        return self

    def _forward(self, stream: IO[bytes], callback: Callable[[str], None]) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode(errors="replace").rstrip()
            self._tail.append(line)
            callback(line)

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Poll for the ready file; a service still not ready after `timeout` is stopped.

        Raises:
            ServiceNotReady: It exited first, or `timeout` seconds passed.
        """
        deadline = time.monotonic() + timeout
        while not self.ready:
            code = self.returncode
            if code is not None:
                raise ServiceNotReady(
                    f"{self.instance} exited with {code} before ready:\n{self.tail()}"
                )
            if time.monotonic() >= deadline:
                self.stop()
                raise ServiceNotReady(
                    f"{self.instance} not ready after {timeout} s:\n{self.tail()}"
                )
            time.sleep(0.05)

    def output(self) -> str:
        """What the process printed so far: the whole log file, or the last lines
        passed to the callback."""
        if not isinstance(self.log, Path):
            return "".join(f"{line}\n" for line in self._tail)
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def tail(self) -> str:
        """The last `TAIL_LINES` lines of output."""
        lines = self.output().splitlines()[-TAIL_LINES:]
        return "\n".join(lines)

    def terminate(self) -> None:
        """Send SIGTERM (a graceful stop) without waiting."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()

    def wait(self, timeout: float = 10.0) -> int:
        """Wait for the process to exit and return its exit code."""
        if self._proc is None:
            raise RuntimeError(f"{self.instance} was never started")
        return self._proc.wait(timeout)

    def kill(self) -> int | None:
        """SIGKILL the process and its process group, at once; returns the exit code."""
        return self._end(signal.SIGKILL, 5.0)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL of the whole group after `timeout`; returns the exit code."""
        return self._end(signal.SIGTERM, timeout)

    def _end(self, sig: signal.Signals, timeout: float) -> int | None:
        if self._proc is None:
            return None
        code = stop_process(self._proc, sig, timeout)
        if self._pump is not None:
            self._pump.join(timeout=2.0)
        return code
