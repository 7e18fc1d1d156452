"""`ROOMCAST_STREAM_REPLICAS`: streams replicated over a three-node cluster, changed
in place on an existing stream, and refused with a clear reason on one server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import nats
import pytest

from contracts import subjects
from roomcast.dev.embedded import EmbeddedNats
from roomcast.platform.streams import StreamConfigError, ensure_dlq_stream, ensure_log_stream
from tests.cluster_support import jetstream_ready, replicated, running_cluster

DAY = 86400.0


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[EmbeddedNats]]:
    with running_cluster(tmp_path / "cluster") as nodes:
        yield nodes


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
