"""`ROOMCAST_STREAM_REPLICAS`: streams replicated over a three-node cluster, changed
in place on an existing stream, and refused with a clear reason on one server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import nats
import pytest
from nats.js import JetStreamContext

from contracts import subjects
from roomcast.dev.embedded import EmbeddedNats, nats_cluster
from roomcast.platform.streams import StreamConfigError, ensure_dlq_stream, ensure_log_stream

DAY = 86400.0


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[EmbeddedNats]]:
    nodes = nats_cluster(tmp_path / "cluster")
    try:
        for node in nodes:
            node.start()
        yield nodes
    finally:
        for node in nodes:
            node.stop()


async def jetstream_ready(js: JetStreamContext, timeout: float = 30.0) -> None:
    """Wait until the cluster has elected its JetStream meta leader."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await js.account_info()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def replicated(js: JetStreamContext, stream: str, peers: int) -> None:
    """Wait until `stream` has a leader and `peers` current followers."""
    deadline = time.monotonic() + 30
    while True:
        cluster = (await js.stream_info(stream)).cluster
        current = [p for p in (cluster.replicas or []) if p.current] if cluster else []
        if cluster is not None and cluster.leader and len(current) == peers:
            return
        assert time.monotonic() < deadline, f"{stream} not replicated: {cluster}"
        await asyncio.sleep(0.2)


async def test_three_replicas_on_a_cluster_and_changed_in_place(
    cluster: list[EmbeddedNats],
) -> None:
    urls = ",".join(node.url for node in cluster)
    nc = await nats.connect(servers=urls.split(","), connect_timeout=5)
    try:
        js = nc.jetstream(timeout=10)
        await jetstream_ready(js)
        await ensure_log_stream(js, DAY, 120, replicas=1)
        assert (await js.stream_info(subjects.LOG_STREAM)).config.num_replicas == 1

        epoch = await ensure_log_stream(js, DAY, 120, replicas=3)
        assert (await js.stream_info(subjects.LOG_STREAM)).config.num_replicas == 3
        await replicated(js, subjects.LOG_STREAM, peers=2)
        # Changing replicas keeps the stream (and so its epoch, which keys messages).
        assert epoch == await ensure_log_stream(js, DAY, 120, replicas=3)

        await ensure_dlq_stream(js, DAY, replicas=3)
        assert (await js.stream_info(subjects.DLQ_STREAM)).config.num_replicas == 3
    finally:
        await nc.close()


async def test_more_replicas_than_servers_is_refused_naming_the_setting(
    embedded_nats: Callable[..., EmbeddedNats],
) -> None:
    server = embedded_nats()
    nc = await nats.connect(server.url, connect_timeout=5)
    try:
        js = nc.jetstream(timeout=10)
        with pytest.raises(StreamConfigError, match="ROOMCAST_STREAM_REPLICAS"):
            await ensure_log_stream(js, DAY, 120, replicas=3)
        await ensure_log_stream(js, DAY, 120, replicas=1)
        with pytest.raises(StreamConfigError, match="ROOMCAST_STREAM_REPLICAS"):
            await ensure_log_stream(js, DAY, 120, replicas=3)
        assert (await js.stream_info(subjects.LOG_STREAM)).config.num_replicas == 1
    finally:
        await nc.close()
