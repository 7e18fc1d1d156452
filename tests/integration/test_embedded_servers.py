"""The embedded servers are real: real clients talk to them, and stopping leaves nothing."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import nats
import psutil
import pytest
import redis.asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from roomcast.dev.embedded import (
    EmbeddedNats,
    EmbeddedPostgres,
    EmbeddedRedis,
    EmbeddedServer,
    EmbeddedServerError,
)
from roomcast.dev.processes import is_gone


def family(server: EmbeddedServer) -> list[int]:
    """The server's pid and every descendant's."""
    assert server.pid is not None
    return [server.pid, *(p.pid for p in psutil.Process(server.pid).children(recursive=True))]


def wait_gone(pids: list[int], timeout: float = 10.0) -> list[int]:
    """Poll until every pid has exited; return those still running at the deadline."""
    deadline = time.monotonic() + timeout
    alive = [p for p in pids if not is_gone(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [p for p in alive if not is_gone(p)]
    return alive


async def nats_roundtrip(url: str, stream: str) -> int:
    """Publish to a JetStream stream (created if absent); return its message count."""
    nc = await nats.connect(url, connect_timeout=5, allow_reconnect=False)
    try:
        js = nc.jetstream()
        await js.add_stream(name=stream, subjects=[f"{stream.lower()}.>"])
        ack = await js.publish(f"{stream.lower()}.x", b"hello", timeout=5)
        assert ack.stream == stream
        info = await js.stream_info(stream)
        return int(info.state.messages)
    finally:
        await nc.close()


async def test_nats_serves_jetstream_and_keeps_streams_across_restart(
    embedded_nats: Callable[..., EmbeddedNats],
) -> None:
    server = embedded_nats()
    port, pids = server.port, family(server)
    assert server.url == f"nats://127.0.0.1:{port}"
    assert await nats_roundtrip(server.url, "EMBEDDED") == 1

    server.stop()
    assert wait_gone(pids) == []
    server.start()
    assert server.port == port
    assert await nats_roundtrip(server.url, "EMBEDDED") == 2


async def test_postgres_answers_over_tcp_and_reuses_its_data_dir(
    embedded_postgres: Callable[..., EmbeddedPostgres],
) -> None:
    server = embedded_postgres()
    port = server.port
    version_file = server.pgdata / "PG_VERSION"
    initialised_at = version_file.stat().st_mtime_ns
    engine = create_async_engine(server.url)
    try:
        async with engine.begin() as conn:
            assert (await conn.execute(text("select 1"))).scalar_one() == 1
            await conn.execute(text("create table kept (v int)"))
            await conn.execute(text("insert into kept values (7)"))
    finally:
        await engine.dispose()

    pids = family(server)
    assert len(pids) > 1, "PostgreSQL runs background workers"
    server.stop()
    assert wait_gone(pids) == []

    server.start()
    assert server.port == port
    assert version_file.stat().st_mtime_ns == initialised_at, "initdb ran again"
    engine = create_async_engine(server.url)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("select v from kept"))).scalar_one() == 7
    finally:
        await engine.dispose()


async def test_postgres_listens_on_loopback_only(
    embedded_postgres: Callable[..., EmbeddedPostgres],
) -> None:
    server = embedded_postgres()
    assert server.pid is not None
    listening = {
        (c.laddr.ip, c.laddr.port)
        for c in psutil.Process(server.pid).net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    }
    assert listening == {("127.0.0.1", server.port)}


async def test_redis_answers_and_stops(embedded_redis: Callable[..., EmbeddedRedis]) -> None:
    server = embedded_redis()
    client = aioredis.from_url(server.url)
    try:
        assert await client.ping() is True
        await client.set("k", "v")
        assert await client.get("k") == b"v"
    finally:
        await client.aclose()
    pids = family(server)
    server.stop()
    assert wait_gone(pids) == []
    server.stop()


def test_start_twice_is_a_no_op_and_stop_is_idempotent(
    embedded_redis: Callable[..., EmbeddedRedis],
) -> None:
    server = embedded_redis()
    pid = server.pid
    assert server.start() == server.url
    assert server.pid == pid
    server.stop()
    server.stop()
    assert not server.running


def test_a_port_in_use_is_refused_without_touching_the_other_server(
    embedded_nats: Callable[..., EmbeddedNats], scratch_path: Path
) -> None:
    first = embedded_nats()
    clash = EmbeddedNats(scratch_path / "clash", port=first.port)
    with pytest.raises(EmbeddedServerError, match=rf"port 127.0.0.1:{first.port} is in use"):
        clash.start(timeout=10)
    assert not clash.running
    assert first.running


def test_servers_die_with_their_owner_even_on_sigkill(scratch_path: Path) -> None:
    """A supervisor killed with SIGKILL cannot clean up: the kernel must."""
    script = textwrap.dedent(f"""
        import json, sys, time
        from pathlib import Path
        from roomcast.dev.embedded import EmbeddedNats, EmbeddedPostgres, EmbeddedRedis
        root = Path({str(scratch_path)!r})
        servers = [EmbeddedNats(root / "nats"), EmbeddedPostgres(root / "pg", durable=False),
                   EmbeddedRedis(root / "redis")]
        for server in servers:
            server.start()
        (root / "pids.json").write_text(json.dumps([s.pid for s in servers]))
        time.sleep(120)
    """)
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL)
    try:
        pids_file = scratch_path / "pids.json"
        deadline = time.monotonic() + 30
        while not pids_file.exists():
            assert owner.poll() is None, "the owner process failed to start its servers"
            assert time.monotonic() < deadline, "servers did not start in 30 s"
            time.sleep(0.05)
        leaders = json.loads(pids_file.read_text())
        pids = [p for leader in leaders for p in [leader, *_children(leader)]]
        owner.send_signal(signal.SIGKILL)
        owner.wait(10)
        assert wait_gone(pids, timeout=15) == []
    finally:
        owner.kill()
        owner.wait(10)


def _children(pid: int) -> list[int]:
    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def test_cold_start_of_all_three_is_quick(scratch_path: Path) -> None:
    servers: list[EmbeddedServer] = [
        EmbeddedNats(scratch_path / "nats"),
        EmbeddedPostgres(scratch_path / "postgres"),
        EmbeddedRedis(scratch_path / "redis"),
    ]
    timings: dict[str, float] = {}
    try:
        for server in servers:
            started = time.perf_counter()
            server.start()
            timings[server.name] = time.perf_counter() - started
    finally:
        for server in servers:
            server.stop()
    total = sum(timings.values())
    print(f"cold start: {', '.join(f'{k} {v:.2f} s' for k, v in timings.items())}")
    assert total < 15, timings
