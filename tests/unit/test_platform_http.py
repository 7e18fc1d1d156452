"""The platform listener's routing and readiness logic, without sockets."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from roomcast.platform.checks import Check, nats_check, run_checks
from roomcast.platform.http import platform_app
from roomcast.platform.metrics import ServiceMetrics, gateway_collector


async def request(
    app: Any, path: str, method: str = "GET"
) -> tuple[int, dict[bytes, bytes], bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "http", "method": method, "path": path}, receive, send)
    start, body = sent
    return start["status"], dict(start["headers"]), body["body"]


def fixed(result: bool) -> Check:
    async def check() -> bool:
        return result

    return check


async def failing() -> bool:
    raise ConnectionError("refused")


async def hanging() -> bool:
    await asyncio.Event().wait()
    return True


def make_app(checks: dict[str, Check], stats: dict[str, int] | None = None) -> Any:
    holder = SimpleNamespace(client=SimpleNamespace(is_connected=True, stats={"reconnects": 3}))
    collectors = (gateway_collector(lambda: stats),) if stats is not None else ()
    routes = {"/statz": lambda: stats} if stats is not None else None
    return platform_app(checks, ServiceMetrics(holder, collectors), routes)


def samples(body: bytes) -> dict[str, float]:
    return {
        s.name + json.dumps(s.labels, sort_keys=True) * bool(s.labels): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


async def test_healthz_answers_whatever_the_dependencies() -> None:
    app = make_app({"nats": fixed(False)})
    assert await request(app, "/healthz") == (
        200,
        {b"content-type": b"application/json", b"cache-control": b"no-store"},
        b'{"ok": true}',
    )


async def test_readyz_names_every_dependency_and_fails_when_one_fails() -> None:
    app = make_app({"nats": fixed(True), "postgres": fixed(True)})
    status, _, body = await request(app, "/readyz")
    assert (status, json.loads(body)) == (
        200,
        {"ok": True, "dependencies": {"nats": True, "postgres": True}},
    )

    app = make_app({"nats": fixed(True), "redis": failing})
    status, _, body = await request(app, "/readyz")
    assert (status, json.loads(body)) == (
        503,
        {"ok": False, "dependencies": {"nats": True, "redis": False}},
    )


async def test_a_check_that_hangs_counts_as_failed() -> None:
    assert await run_checks({"postgres": hanging, "nats": fixed(True)}, limit_s=0.05) == {
        "postgres": False,
        "nats": True,
    }


async def test_nats_check_follows_the_client() -> None:
    holder = SimpleNamespace(client=None)
    check = nats_check(holder)
    assert await check() is False
    holder.client = SimpleNamespace(is_connected=True)
    assert await check() is True
    holder.client.is_connected = False
    assert await check() is False


async def test_metrics_carry_readiness_nats_and_gateway_counters() -> None:
    stats = {"sessions": 2, "hosted_subjects": 3, "packets_delivered": 7, "unknown": 1}
    app = make_app({"nats": fixed(True), "redis": fixed(False)}, stats)
    status, headers, body = await request(app, "/metrics")
    assert status == 200
    assert headers[b"content-type"].startswith(b"text/plain; version=0.0.4")
    got = samples(body)
    assert got["roomcast_ready"] == 0
    assert got['roomcast_dependency_up{"dependency": "redis"}'] == 0
    assert got['roomcast_dependency_up{"dependency": "nats"}'] == 1
    assert got["roomcast_nats_reconnects_total"] == 3
    assert got["roomcast_gateway_sessions"] == 2
    assert got["roomcast_gateway_hosted_subjects"] == 3
    assert got["roomcast_gateway_packets_delivered_total"] == 7
    assert not any("unknown" in name for name in got)

    stats["sessions"] = 5
    assert samples((await request(app, "/metrics"))[2])["roomcast_gateway_sessions"] == 5
    status, _, body = await request(app, "/statz")
    assert (status, json.loads(body)["sessions"]) == (200, 5)


async def test_unknown_paths_and_methods_are_refused() -> None:
    app = make_app({"nats": fixed(True)})
    assert (await request(app, "/statz"))[0] == 404
    assert (await request(app, "/"))[0] == 404
    assert (await request(app, "/readyz", method="POST"))[0] == 405
