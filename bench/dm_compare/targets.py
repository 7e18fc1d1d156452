"""The systems under test: roomcast as `roomcast dev --gateways 2` runs it, and the reference.

Each target starts its processes, gives the two URLs the load connects to and the
root pid of every process whose CPU counts (`processes`), and stops everything it
started. `edge` names the processes clients connect to (gateways, Socket.IO servers).
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import psutil

from bench.stack import SECRET
from roomcast.dev import devstate
from roomcast.dev.embedded import EmbeddedRedis
from roomcast.dev.processes import port_free

SERVER_ENVS = ("ROOMCAST_NATS_URL", "ROOMCAST_DATABASE_URL", "ROOMCAST_REDIS_URL")


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port} after {timeout:g} s")


def _stop_group(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """SIGTERM the process, then SIGKILL its whole group if it is still there."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)


def listener_pid(url: str) -> int | None:
    """The pid listening on the TCP port of `url` on this machine, if any."""
    port = urlsplit(url.split(",")[0]).port
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
            return conn.pid
    return None


@dataclass
class Target:
    """What the bench needs from a running system."""

    name: str
    urls: list[str] = field(default_factory=list)
    processes: dict[str, int] = field(default_factory=dict)
    edge: tuple[str, ...] = ()
    secret: str = SECRET
    notes: list[str] = field(default_factory=list)

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def cleanup(self) -> None:
        """Remove what the target kept on disk."""


class Roomcast(Target):
    """`roomcast dev --gateways 2`, its servers embedded or from `ROOMCAST_*_URL`.

    Args:
        servers: `embedded` (what a new user gets: NATS with fsync on every append,
            PostgreSQL, Valkey, all counted) or `env` (the servers named by
            `ROOMCAST_NATS_URL` / `_DATABASE_URL` / `_REDIS_URL`; the NATS server is
            counted when it runs on this machine, PostgreSQL and Redis are not: they
            may serve others too).
        log: Where the supervisor's output goes.
    """

    def __init__(self, servers: str, log: Path) -> None:
        super().__init__(name="roomcast", edge=("gateway-1", "gateway-2"))
        self.servers = servers
        self.log = log
        self.dir = Path(tempfile.mkdtemp(prefix="roomcast-dmcompare-"))
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.notes = []
        env = {**os.environ, "ROOMCAST_JWT_SECRET": self.secret, "ROOMCAST_LOG_LEVEL": "WARNING"}
        if self.servers == "embedded":
            for key in SERVER_ENVS:
                env.pop(key, None)
        else:
            missing = [key for key in SERVER_ENVS if not env.get(key)]
            if missing:
                raise SystemExit(f"--servers env needs {', '.join(missing)}")
        port = _free_pair()
        script = Path(sys.executable).with_name("roomcast")
        command = [str(script), "dev", "--gateways", "2", "--port", str(port)]
        command += ["--data-dir", str(self.dir)]
        with self.log.open("ab") as out:
            self._proc = subprocess.Popen(
                command,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        state = self._wait_state(self._proc, timeout=120)
        self.urls = list(state.gateways)
        self.processes = {"supervisor": self._proc.pid}
        for pid, _ in state.children:
            self.processes[_process_name(pid)] = pid
        if self.servers == "env":
            nats = listener_pid(state.nats_url)
            if nats is not None:
                self.processes["nats"] = nats
                self.notes.append("NATS: the server at ROOMCAST_NATS_URL (counted)")
            self.notes.append("PostgreSQL and Redis: the machine's, shared, not counted")
        else:
            self.notes.append("embedded NATS (JetStream sync_interval: always), PostgreSQL, Valkey")

    def _wait_state(self, proc: subprocess.Popen[bytes], timeout: float) -> devstate.DevState:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"roomcast dev exited with {proc.returncode}; see {self.log}")
            state = devstate.load(self.dir)
            if state is not None and state.children:
                return state
            time.sleep(0.1)
        _stop_group(proc)
        raise RuntimeError(f"roomcast dev was not ready in {timeout:g} s; see {self.log}")

    def stop(self) -> None:
        if self._proc is not None:
            _stop_group(self._proc)
            self._proc = None

    def cleanup(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


class Reference(Target):
    """python-socketio + `AsyncRedisManager` (`bench.reference.server`), two processes.

    Args:
        redis_url: A Redis to share (not counted), or None to run an embedded Valkey
            for the run (counted).
        log: Where the servers' output goes.
    """

    def __init__(self, redis_url: str | None, log: Path) -> None:
        super().__init__(name="python-socketio + Redis", edge=("server-1", "server-2"))
        self.redis_url = redis_url
        self.log = log
        self.dir = Path(tempfile.mkdtemp(prefix="reference-dmcompare-"))
        self._procs: list[subprocess.Popen[bytes]] = []
        self._redis: EmbeddedRedis | None = None

    def start(self) -> None:
        self.notes = []
        url = self.redis_url
        if url is None:
            self._redis = EmbeddedRedis(self.dir / "redis")
            url = self._redis.start()
            assert self._redis.pid is not None
            self.processes["redis"] = self._redis.pid
            self.notes.append("embedded Valkey (counted)")
        else:
            self.notes.append(f"Redis at {url} (shared, not counted)")
        port = _free_pair()
        env = {**os.environ, "REFERENCE_JWT_SECRET": self.secret}
        for i in range(2):
            command = [sys.executable, "-m", "bench.reference.server", "--port", str(port + i)]
            command += ["--redis-url", url, "--channel", f"roomcast-bench-reference-{port}"]
            with self.log.open("ab") as out:
                proc = subprocess.Popen(
                    command,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            self._procs.append(proc)
            self.processes[f"server-{i + 1}"] = proc.pid
            self.urls.append(f"http://127.0.0.1:{port + i}")
        for i, proc in enumerate(self._procs):
            _wait_listening(port + i, proc, timeout=30)

    def stop(self) -> None:
        for proc in self._procs:
            _stop_group(proc)
        self._procs.clear()
        if self._redis is not None:
            self._redis.stop()
            self._redis = None
        self.urls, self.processes = [], {}

    def cleanup(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def _free_pair() -> int:
    """A port p with p and p + 1 free, below the ephemeral range (32768+ on Linux), where
    an outgoing connection of a process starting meanwhile could take it first."""
    for _ in range(200):
        port = random.randrange(20000, 32000)
        if port_free(port) and port_free(port + 1):
            return port
    raise RuntimeError("no two consecutive free ports")


def _process_name(pid: int) -> str:
    """`gateway-1`, `rooms`, … for a service; `nats`, `postgres`, `redis` for a server."""
    try:
        proc = psutil.Process(pid)
        instance = proc.environ().get("ROOMCAST_INSTANCE_ID")
        if instance:
            return instance
        exe = Path(proc.cmdline()[0]).name
    except (psutil.Error, IndexError):
        return f"pid-{pid}"
    for key, name in (("nats", "nats"), ("postgres", "postgres"), ("valkey", "redis")):
        if key in exe:
            return name
    return exe
