"""Where test servers come from, and service processes for tests.

For each of NATS, PostgreSQL and Redis, in this order: the URL in
`ROOMCAST_NATS_URL` / `ROOMCAST_DATABASE_URL` / `ROOMCAST_REDIS_URL`; else a
container through testcontainers when a Docker engine answers; else an embedded
server (`roomcast.dev.embedded`). Session fixtures start a server only when a test asks
for it. Fault tests that stop and restart a server use the `embedded_*` factories,
which always start a private embedded server the test controls.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from roomcast.dev import service_process
from roomcast.dev.embedded import EmbeddedNats, EmbeddedPostgres, EmbeddedRedis, EmbeddedServer

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


class ServiceProcess(service_process.ServiceProcess):
    """`roomcast.dev.service_process.ServiceProcess` that fails the test (with the
    output's tail) when the service does not become ready."""

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Poll for the ready file; fail the test if it never comes."""
        try:
            super().wait_ready(timeout)
        except service_process.ServiceNotReady as exc:
            pytest.fail(str(exc))


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
