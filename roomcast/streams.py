"""The JetStream message log: its configuration, created or updated idempotently.

The log is the durability point of every chat message: a send is acknowledged to the
client only after the NATS server has stored it in this stream (file storage). The
server's own `sync_interval` decides when that write is fsynced (embedded servers use
`always`; see the README's durability section).
"""

from __future__ import annotations

from datetime import UTC, datetime

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from contracts import subjects


def log_stream_config(max_age_s: float, duplicate_window_s: float) -> StreamConfig:
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
    )


async def ensure_log_stream(
    js: JetStreamContext, max_age_s: float, duplicate_window_s: float
) -> int:
    """Create or update the log stream; returns its epoch (creation time, seconds)."""
    config = log_stream_config(max_age_s, duplicate_window_s)
    try:
        info = await js.stream_info(subjects.LOG_STREAM)
    except NotFoundError:
        info = await js.add_stream(config)
    else:
        if (info.config.max_age, info.config.duplicate_window) != (max_age_s, duplicate_window_s):
            info = await js.update_stream(config)
    created = info.created
    if isinstance(created, str):
        created = datetime.fromisoformat(created.replace("Z", "+00:00"))
    if created is None:
        return int(datetime.now(UTC).timestamp())
    return int(created.timestamp())
