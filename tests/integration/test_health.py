"""Every service's platform listener on real servers: `/healthz`, `/readyz`, `/metrics`.

Each service is a real process; the listener's port comes from its ready file
(`ROOMCAST_HEALTH_PORT` is 0, a free port), and every request is real HTTP.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from roomcast.dev.embedded import EmbeddedNats, EmbeddedRedis
from roomcast.dev.processes import free_port
from roomcast.migrations import migrate
from tests.clients import Client, connect, token, unique
from tests.servers import ServiceProcess
from tests.stack import base_env

DEPENDENCIES = {
    "rooms": {"nats", "postgres"},
    "presence": {"nats", "redis"},
    "persistence": {"nats", "postgres"},
    "gateway": {"nats"},
}

Samples = dict[str, list[tuple[dict[str, str], float]]]


def get(url: str) -> tuple[int, str, bytes]:
    """Status, content type and body of a GET, 4xx/5xx included."""
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310
            return resp.status, resp.headers["content-type"], resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers["content-type"], err.read()


def health_url(service: ServiceProcess) -> str:
    info = json.loads(service.ready_file.read_text())
    assert isinstance(info["health_port"], int) and info["health_port"] > 0
    assert info["health_url"] == f"http://127.0.0.1:{info['health_port']}"
    return str(info["health_url"])


def readyz(service: ServiceProcess) -> tuple[int, dict[str, Any]]:
    status, ctype, body = get(f"{health_url(service)}/readyz")
    assert ctype == "application/json"
    return status, dict(json.loads(body))


def metrics(service: ServiceProcess) -> Samples:
    """Every sample of `/metrics`, by sample name, parsed as Prometheus would."""
    status, ctype, body = get(f"{health_url(service)}/metrics")
    assert status == 200 and ctype.startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    found = [v for sample_labels, v in samples.get(name, []) if sample_labels == labels]
    assert len(found) == 1, f"{name}{labels} in {sorted(samples)}"
    return found[0]


def wait_readyz(service: ServiceProcess, status: int, timeout: float = 20.0) -> dict[str, Any]:
    """Poll `/readyz` until it answers `status`; its body."""
    deadline = time.monotonic() + timeout
    while True:
        got, body = readyz(service)
        if got == status:
            return body
        if time.monotonic() > deadline:
            pytest.fail(f"/readyz still {got} {body}, wanted {status}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def env(nats_url: str, database_url: str, redis_url: str) -> dict[str, str]:
    migrate(database_url)
    return base_env(nats_url, database_url, redis_url) | {"ROOMCAST_HEALTH_PORT": "0"}


@pytest.mark.parametrize("name", sorted(DEPENDENCIES))
def test_each_service_serves_health_readiness_and_metrics(
    name: str, env: dict[str, str], run_service: Callable[..., ServiceProcess]
) -> None:
    service = run_service(name, env)
    base = health_url(service)

    status, _, body = get(f"{base}/healthz")
    assert (status, json.loads(body)) == (200, {"ok": True})

    status, ready = readyz(service)
    assert status == 200, ready
    assert ready == {"ok": True, "dependencies": dict.fromkeys(DEPENDENCIES[name], True)}

    samples = metrics(service)
    assert value(samples, "roomcast_ready") == 1
    for dependency in DEPENDENCIES[name]:
        assert value(samples, "roomcast_dependency_up", dependency=dependency) == 1
    assert value(samples, "roomcast_nats_reconnects_total") == 0
    assert value(samples, "roomcast_nats_messages_received_total") >= 0
    assert "process_resident_memory_bytes" in samples

    assert get(f"{base}/nope")[0] == 404


async def test_gateway_counters_are_metrics_on_the_internal_port_only(
    env: dict[str, str], run_service: Callable[..., ServiceProcess], clients: list[Client]
) -> None:
    gateway = run_service("gateway", env)
    base = health_url(gateway)
    tenant = unique("health")
    clients.append(await connect(gateway.url, token("alice", tenant)))
    clients.append(await connect(gateway.url, token("bob", tenant)))

    samples = await asyncio.to_thread(metrics, gateway)
    assert value(samples, "roomcast_gateway_sessions") == 2
    assert value(samples, "roomcast_gateway_hosted_subjects") >= 2
    for counter in ("deliveries_received", "packets_delivered", "slow_consumers_dropped"):
        assert value(samples, f"roomcast_gateway_{counter}_total") >= 0

    status, _, body = await asyncio.to_thread(get, f"{base}/statz")
    assert status == 200 and json.loads(body)["sessions"] == 2
    public = await asyncio.to_thread(get, f"{gateway.url}/metrics")
    assert public[0] == 404


def test_presence_readiness_follows_redis(
    env: dict[str, str],
    run_service: Callable[..., ServiceProcess],
    embedded_redis: Callable[..., EmbeddedRedis],
) -> None:
    redis = embedded_redis()
    presence = run_service("presence", env | {"ROOMCAST_REDIS_URL": redis.url})
    assert readyz(presence) == (200, {"ok": True, "dependencies": {"nats": True, "redis": True}})

    redis.stop()
    body = wait_readyz(presence, 503)
    assert body == {"ok": False, "dependencies": {"nats": True, "redis": False}}
    samples = metrics(presence)
    assert value(samples, "roomcast_ready") == 0
    assert value(samples, "roomcast_dependency_up", dependency="redis") == 0
    assert value(samples, "roomcast_dependency_up", dependency="nats") == 1
    assert get(f"{health_url(presence)}/healthz")[0] == 200

    redis.start()
    body = wait_readyz(presence, 200)
    assert body == {"ok": True, "dependencies": {"nats": True, "redis": True}}


def test_rooms_readiness_follows_nats_and_counts_the_reconnect(
    env: dict[str, str],
    run_service: Callable[..., ServiceProcess],
    embedded_nats: Callable[..., EmbeddedNats],
) -> None:
    nats = embedded_nats()
    rooms = run_service("rooms", env | {"ROOMCAST_NATS_URL": nats.url})
    assert readyz(rooms)[0] == 200

    nats.stop()
    body = wait_readyz(rooms, 503)
    assert body == {"ok": False, "dependencies": {"nats": False, "postgres": True}}
    assert value(metrics(rooms), "roomcast_dependency_up", dependency="nats") == 0

    nats.start()
    wait_readyz(rooms, 200)
    assert value(metrics(rooms), "roomcast_nats_reconnects_total") >= 1


def test_readiness_names_postgres_when_it_does_not_answer(
    env: dict[str, str], run_service: Callable[..., ServiceProcess]
) -> None:
    closed = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/postgres"
    rooms = run_service("rooms", env | {"ROOMCAST_DATABASE_URL": closed})
    status, body = readyz(rooms)
    assert status == 503
    assert body == {"ok": False, "dependencies": {"nats": True, "postgres": False}}
    assert get(f"{health_url(rooms)}/healthz")[0] == 200


def test_a_service_whose_health_port_is_taken_exits_naming_it(
    env: dict[str, str], run_service: Callable[..., ServiceProcess]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        presence = run_service("presence", env | {"ROOMCAST_HEALTH_PORT": str(port)}, wait=False)
        code = presence.wait(timeout=30)
    assert code != 0, (code, presence.output())
    assert str(port) in presence.output()
    assert not presence.ready_file.exists()
