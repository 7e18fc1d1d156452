"""A process given several NATS servers connects to one that answers."""

from __future__ import annotations

import socket

from roomcast.platform.runtime import NatsGuard, connect_nats


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_dead_first_server_is_skipped(nats_url: str) -> None:
    dead = f"nats://127.0.0.1:{closed_port()}"
    guard = NatsGuard("test")
    nc = await connect_nats(f"{dead},{nats_url}", "servers-test", guard)
    try:
        assert nc.is_connected
        assert nc.connected_url is not None
        assert nc.connected_url.port == int(nats_url.rsplit(":", 1)[1])
        await nc.flush(timeout=2)
    finally:
        guard.stopping()  # else closing ends this process, as it would end a service
        await nc.close()
