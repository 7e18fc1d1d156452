"""A three-node NATS JetStream cluster for tests, and waits on its elections."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

from nats.js import JetStreamContext
from nats.js.api import StreamConfig
from nats.js.errors import BadRequestError

from roomcast.dev.embedded import EmbeddedNats, nats_cluster


@contextlib.contextmanager
def running_cluster(data_dir: Path, size: int = 3) -> Iterator[list[EmbeddedNats]]:
    """`size` nodes on loopback, started; all stopped at the end."""
    nodes = nats_cluster(data_dir, size)
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


async def peers_ready(js: JetStreamContext, size: int = 3, timeout: float = 30.0) -> None:
    """Wait until a stream can be placed on `size` nodes (the meta leader may be elected
    before every node has joined JetStream: `no suitable peers for placement`)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await js.add_stream(StreamConfig(name="PEERS", subjects=["peers"], num_replicas=size))
        except BadRequestError:
            assert time.monotonic() < deadline, f"JetStream never had {size} peers"
            await asyncio.sleep(0.2)
        else:
            await js.delete_stream("PEERS")
            return


async def replicated(js: JetStreamContext, stream: str, peers: int, timeout: float = 30) -> None:
    """Wait until `stream` has a leader and `peers` current followers."""
    deadline = time.monotonic() + timeout
    while True:
        cluster = (await js.stream_info(stream)).cluster
        current = [p for p in (cluster.replicas or []) if p.current] if cluster else []
        if cluster is not None and cluster.leader and len(current) == peers:
            return
        assert time.monotonic() < deadline, f"{stream} not replicated: {cluster}"
        await asyncio.sleep(0.2)
