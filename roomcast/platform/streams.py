"""The JetStream message log: its configuration, created or updated idempotently.

The log is the durability point of every chat message: a send is acknowledged to the
client only after the NATS server has stored it in this stream (file storage). The
server's own `sync_interval` decides when that write is fsynced: the embedded server
and the deployment files set `always` (see docs/deploy.md, "Durability").
"""

from __future__ import annotations

from datetime import UTC, datetime

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig, StreamInfo
from nats.js.errors import APIError, NotFoundError

from contracts import subjects


class StreamConfigError(RuntimeError):
    """The server refused a stream's configuration (e.g. 3 replicas on one server)."""


async def _apply(js: JetStreamContext, config: StreamConfig, *, create: bool) -> StreamInfo:
    """Add or update `config`; a refusal names the stream and the setting to look at."""
    try:
        return await (js.add_stream(config) if create else js.update_stream(config))
    except APIError as exc:
        raise StreamConfigError(
            f"NATS refused stream {config.name} with {config.num_replicas} replica(s) "
            f"(ROOMCAST_STREAM_REPLICAS): {exc.description or exc}"
        ) from exc


async def ensure_stream(js: JetStreamContext, config: StreamConfig) -> StreamInfo:
    """Create the stream, or update it when its retention, dedup window or replicas differ.

    Raises:
        StreamConfigError: the server refused the configuration.
    """
    try:
        info = await js.stream_info(config.name or "")
    except NotFoundError:
        return await _apply(js, config, create=True)
    have = (info.config.max_age, info.config.duplicate_window, info.config.num_replicas)
    if have != (config.max_age, config.duplicate_window, config.num_replicas):
        return await _apply(js, config, create=False)
    return info


def log_stream_config(
    max_age_s: float, duplicate_window_s: float, replicas: int = 1
) -> StreamConfig:
    """The log stream's configuration."""
    return StreamConfig(
        name=subjects.LOG_STREAM,
        subjects=[subjects.log_all()],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=max_age_s,
        duplicate_window=duplicate_window_s,
        allow_direct=True,
        num_replicas=replicas,
    )


async def ensure_log_stream(
    js: JetStreamContext, max_age_s: float, duplicate_window_s: float, replicas: int = 1
) -> int:
    """Create or update the log stream; returns its epoch (creation time, seconds).

    Raises:
        StreamConfigError: the server refused the configuration.
    """
    info = await ensure_stream(js, log_stream_config(max_age_s, duplicate_window_s, replicas))
    return stream_epoch(info)


def stream_epoch(info: StreamInfo) -> int:
    """A stream's epoch: its creation time, in whole seconds."""
    created = info.created
    if isinstance(created, str):
        created = datetime.fromisoformat(created.replace("Z", "+00:00"))
    if created is None:
        return int(datetime.now(UTC).timestamp())
    return int(created.timestamp())


async def open_log_stream(
    js: JetStreamContext, max_age_s: float, duplicate_window_s: float, replicas: int = 1
) -> int:
    """The log's epoch; creates the log with these limits only if it does not exist.

    For services that read the log without owning its configuration (the rooms
    service's `ensure_log_stream` sets it), so two services configured differently do
    not keep rewriting it.
    """
    try:
        info = await js.stream_info(subjects.LOG_STREAM)
    except NotFoundError:
        return await ensure_log_stream(js, max_age_s, duplicate_window_s, replicas)
    return stream_epoch(info)


def retained_stream_config(
    name: str, subject: str, max_age_s: float, replicas: int = 1
) -> StreamConfig:
    """A stream kept `max_age_s` whether read or not (file storage, oldest dropped first,
    a two-minute duplicate window): dead letters, entity events, forwarded client events."""
    return StreamConfig(
        name=name,
        subjects=[subject],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=max_age_s,
        duplicate_window=120,
        num_replicas=replicas,
    )


async def ensure_dlq_stream(js: JetStreamContext, max_age_s: float, replicas: int = 1) -> None:
    """Create the dead-letter stream (what consumers gave up on, kept for inspection),
    or update its retention and replicas.

    Raises:
        StreamConfigError: the server refused the configuration.
    """
    config = retained_stream_config(
        subjects.DLQ_STREAM, subjects.dead_letter_all(), max_age_s, replicas
    )
    await ensure_stream(js, config)


async def ensure_entity_stream(js: JetStreamContext, max_age_s: float, replicas: int = 1) -> None:
    """Create the entity event stream (kept whether applied or not), or update its
    retention and replicas.

    Raises:
        StreamConfigError: the server refused the configuration.
    """
    config = retained_stream_config(
        subjects.ENTITY_STREAM, subjects.entity_all(), max_age_s, replicas
    )
    await ensure_stream(js, config)


async def open_dlq_stream(js: JetStreamContext, max_age_s: float, replicas: int = 1) -> None:
    """Create the dead-letter stream if it does not exist (persistence owns its limits)."""
    try:
        await js.stream_info(subjects.DLQ_STREAM)
    except NotFoundError:
        await ensure_dlq_stream(js, max_age_s, replicas)


async def ensure_client_events_stream(
    js: JetStreamContext, max_age_s: float, replicas: int = 1
) -> None:
    """Create the stream of client events forwarded to backend services (kept whether
    consumed or not: each backend service reads with its own durable consumer), or
    update its retention and replicas.

    Raises:
        StreamConfigError: the server refused the configuration.
    """
    config = retained_stream_config(
        subjects.CLIENT_EVENTS_STREAM, subjects.client_event_all(), max_age_s, replicas
    )
    await ensure_stream(js, config)
