"""Where test servers come from, and service processes for tests.

For each of NATS, PostgreSQL and Redis, in this order: the URL in
`ROOMCAST_NATS_URL` / `ROOMCAST_DATABASE_URL` / `ROOMCAST_REDIS_URL`; else a
container through testcontainers when a Docker engine answers; else an embedded
server (`roomcast.embedded`). Session fixtures start a server only when a test asks
for it. Fault tests that stop and restart a server use the `embedded_*` factories,
which always start a private embedded server the test controls.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from roomcast import registry
from roomcast.embedded import EmbeddedNats, EmbeddedPostgres, EmbeddedRedis, EmbeddedServer
from roomcast.processes import child_options, free_port, stop_process

Kind = Literal["nats", "postgres", "redis"]
ENV_URL: dict[Kind, str] = {
    "nats": "ROOMCAST_NATS_URL",
    "postgres": "ROOMCAST_DATABASE_URL",
    "redis": "ROOMCAST_REDIS_URL",
}


@dataclass
class Provided:
    """A server a test session may use: its URL, where it came from, how to stop it."""

    url: str
    source: Literal["env", "docker", "embedded"]
    stop: Callable[[], None]


def from_docker(kind: Kind) -> Provided:
    """Start a container; raises `docker.errors.DockerException` without an engine."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return _start_container(kind)


def _start_container(kind: Kind) -> Provided:
    if kind == "nats":
        from testcontainers.community.nats import NatsContainer

        nats = NatsContainer(jetstream=True).start()
        return Provided(nats.nats_uri(), "docker", nats.stop)
    if kind == "postgres":
        from testcontainers.community.postgres import PostgresContainer

        pg = PostgresContainer(driver="asyncpg").start()
        return Provided(pg.get_connection_url(), "docker", pg.stop)
    from testcontainers.community.redis import RedisContainer

    redis = RedisContainer().start()
    host, port = redis.get_container_host_ip(), redis.get_exposed_port(redis.port)
    return Provided(f"redis://{host}:{port}/0", "docker", redis.stop)


def embedded_server(kind: Kind, data_dir: Path, port: int = 0) -> EmbeddedServer:
    """An embedded server of `kind` (not started); test PostgreSQL skips fsync."""
    if kind == "nats":
        return EmbeddedNats(data_dir, port)
    if kind == "postgres":
        return EmbeddedPostgres(data_dir, port, durable=False)
    return EmbeddedRedis(data_dir, port)


def from_embedded(kind: Kind, data_dir: Path) -> Provided:
    """Start an embedded server under `data_dir`."""
    server = embedded_server(kind, data_dir)
    return Provided(server.start(), "embedded", server.stop)


def provide(
    kind: Kind,
    data_dir: Path,
    *,
    environ: Mapping[str, str] = os.environ,
    docker: Callable[[Kind], Provided] = from_docker,
    embedded: Callable[[Kind, Path], Provided] = from_embedded,
) -> Provided:
    """A server of `kind`: from the environment, else Docker, else embedded."""
    url = environ.get(ENV_URL[kind])
    if url:
        return Provided(url, "env", lambda: None)
    try:
        from docker.errors import DockerException
    except ImportError:
        return embedded(kind, data_dir)
    try:
        return docker(kind)
    except (DockerException, ImportError):
        return embedded(kind, data_dir)


@contextlib.contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """A temporary directory outside pytest's own temp root, removed afterwards.

    As root, embedded PostgreSQL runs as another user, who must be able to enter
    every parent of its data directory. pytest's root (`/tmp/pytest-of-<user>`) is
    private, and pytest makes it private again whenever another session starts.
    """
    path = Path(tempfile.mkdtemp(prefix=f"roomcast-{prefix}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _session_server(kind: Kind) -> Iterator[str]:
    with scratch_dir(kind) as data_dir:
        server = provide(kind, data_dir)
        try:
            yield server.url
        finally:
            server.stop()


@pytest.fixture(scope="session")
def nats_url() -> Iterator[str]:
    """A NATS server with JetStream, shared by the session."""
    yield from _session_server("nats")


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A PostgreSQL SQLAlchemy URL (`postgresql+asyncpg://...`), shared by the session."""
    yield from _session_server("postgres")


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis URL, shared by the session."""
    yield from _session_server("redis")


def _private_servers(kind: Kind) -> Iterator[Callable[..., Any]]:
    started: list[EmbeddedServer] = []
    counter = itertools.count(1)
    with scratch_dir(kind) as base:

        def start(port: int = 0) -> EmbeddedServer:
            server = embedded_server(kind, base / f"{kind}-{next(counter)}", port)
            started.append(server)
            server.start()
            return server

        try:
            yield start
        finally:
            for server in reversed(started):
                server.stop()


@pytest.fixture
def scratch_path() -> Iterator[Path]:
    """A fresh directory an embedded PostgreSQL can use (see `scratch_dir`)."""
    with scratch_dir("test") as path:
        yield path


@pytest.fixture
def embedded_nats() -> Iterator[Callable[..., EmbeddedNats]]:
    """Factory: `embedded_nats(port=0)` starts a private NATS the test may stop/restart."""
    yield from _private_servers("nats")


@pytest.fixture
def embedded_redis() -> Iterator[Callable[..., EmbeddedRedis]]:
    """Factory: `embedded_redis(port=0)` starts a private Redis the test may stop/restart."""
    yield from _private_servers("redis")


@pytest.fixture
def embedded_postgres() -> Iterator[Callable[..., EmbeddedPostgres]]:
    """Factory: `embedded_postgres(port=0)` starts a private PostgreSQL (fsync off)."""
    yield from _private_servers("postgres")


class ServiceProcess:
    """`python -m services.<name>` as a child process, waited for through its ready file.

    Args:
        name: Service package under `services`, e.g. `rooms` or `gateway`.
        workdir: Directory for the ready file and the captured output.
        env: Extra environment (on top of this process's environment).
        port: `ROOMCAST_PORT` for the service; gateways get a free port if None.
        instance: `ROOMCAST_INSTANCE_ID` and file name stem (default: `name`).
    """

    def __init__(
        self,
        name: str,
        workdir: Path,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        instance: str | None = None,
    ) -> None:
        self.name = name
        self.service = registry.get(name)
        self.port = free_port() if port is None and self.service.listens else port
        self.instance = instance or name
        self.ready_file = workdir / f"{self.instance}.ready"
        self.log_path = workdir / f"{self.instance}.log"
        self.env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
        self.env |= {registry.READY_FILE_ENV: str(self.ready_file)}
        self.env.setdefault("ROOMCAST_INSTANCE_ID", self.instance)
        if self.port is not None:
            self.env |= {"ROOMCAST_PORT": str(self.port), "ROOMCAST_HOST": "127.0.0.1"}
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT` of a service that listens (gateways)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def health_url(self) -> str:
        """`http://HOST:PORT` of the service's internal listener (/healthz /readyz
        /metrics, and a gateway's /statz), from its ready file."""
        info = json.loads(self.ready_file.read_text())
        return str(info["health_url"])

    @property
    def pid(self) -> int:
        """Process id of the current run."""
        assert self._proc is not None, "not started"
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        """Exit code once it has exited, else None."""
        return self._proc.poll() if self._proc is not None else None

    def start(self, wait: bool = True, timeout: float = 30.0) -> ServiceProcess:
        """Start (or start again after `kill()`), then wait until ready if `wait`."""
        assert self._proc is None or self._proc.poll() is not None, "already running"
        self.ready_file.unlink(missing_ok=True)
        with self.log_path.open("ab") as out:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", self.service.module],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                **child_options(),
            )
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Poll for the ready file; fail the test with the output if it never comes."""
        deadline = time.monotonic() + timeout
        while not self.ready_file.exists():
            code = self.returncode
            if code is not None:
                pytest.fail(f"{self.instance} exited with {code} before ready:\n{self.output()}")
            if time.monotonic() >= deadline:
                self.stop()
                pytest.fail(f"{self.instance} not ready after {timeout} s:\n{self.output()}")
            time.sleep(0.05)

    def output(self) -> str:
        """Everything the process printed so far (stdout and stderr)."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def kill(self) -> None:
        """SIGKILL the process and its process group, at once."""
        if self._proc is not None:
            stop_process(self._proc, signal.SIGKILL, timeout=5.0)

    def terminate(self) -> None:
        """Send SIGTERM (a graceful stop) without waiting."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()

    def wait(self, timeout: float = 10.0) -> int:
        """Wait for the process to exit and return its exit code."""
        assert self._proc is not None, "not started"
        return self._proc.wait(timeout)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL of the whole group after `timeout`; returns the exit code."""
        if self._proc is None:
            return None
        return stop_process(self._proc, signal.SIGTERM, timeout)


@pytest.fixture
def run_service(tmp_path: Path) -> Iterator[Callable[..., ServiceProcess]]:
    """Factory: `run_service(name, env=None, port=None, wait=True)` → a ready `ServiceProcess`.

    Every process it started is stopped (and its process group killed) at teardown.
    """
    started: list[ServiceProcess] = []
    counter = itertools.count(1)

    def start(
        name: str,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        *,
        wait: bool = True,
        timeout: float = 30.0,
    ) -> ServiceProcess:
        instance = f"{name}-{next(counter)}"
        service = ServiceProcess(name, tmp_path, env=env, port=port, instance=instance)
        started.append(service)
        return service.start(wait=wait, timeout=timeout)

    yield start
    for service in reversed(started):
        service.stop()
