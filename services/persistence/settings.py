"""Persistence service settings (`ROOMCAST_*`)."""

from __future__ import annotations

from pydantic import Field

from roomcast.platform.settings import CommonSettings


class PersistenceSettings(CommonSettings):
    """Everything the persistence service needs; validated at start-up."""

    persistence_consumer: str = Field(
        default="persistence",
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Durable JetStream consumer on the message log, shared by every replica.",
    )
    persistence_batch: int = Field(
        default=2000, ge=1, le=10_000, description="Most log messages written per transaction."
    )
    persistence_inflight: int = Field(
        default=2, ge=1, le=16, description="Batches written concurrently (one connection each)."
    )
    persistence_fetch_wait: float = Field(
        default=0.2,
        gt=0,
        le=30,
        description="Seconds a fetch waits for more messages once the log is drained "
        "(bounds the delay before a message is in PostgreSQL at low traffic).",
    )
    persistence_linger: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Seconds to let a batch form once the log is drained (fewer commits at "
        "low traffic; adds at most this much to the delay before a message is in PostgreSQL).",
    )
    persistence_ack_wait: float = Field(
        default=30, gt=0, description="Seconds before an unacknowledged message is redelivered."
    )
    persistence_max_deliveries: int = Field(
        default=5,
        ge=1,
        description="Deliveries of a message PostgreSQL keeps refusing before it is dead-lettered "
        "(outages do not count: the service retries them without giving up).",
    )
    persistence_retry_max: float = Field(
        default=5, gt=0, description="Longest pause between retries while PostgreSQL is down."
    )
    log_max_age: float = Field(
        default=7 * 86400,
        gt=0,
        description="Seconds the message log keeps messages; used only to create a missing log "
        "(the rooms service owns its configuration).",
    )
    log_duplicate_window: float = Field(
        default=120,
        gt=0,
        description="Seconds within which the log deduplicates a repeated clientId; used only to "
        "create a missing log.",
    )
    dlq_max_age: float = Field(
        default=30 * 86400, gt=0, description="Seconds the dead-letter stream keeps messages."
    )
    recover_max_messages: int = Field(
        default=1000, ge=1, description="Most messages replayed per room; beyond, `too_many`."
    )
    recover_scan_factor: int = Field(
        default=10,
        ge=1,
        description="A tenant's admins room scans at most this many times `recover_max_messages` "
        "log messages (it keeps only supervised ones).",
    )
    recover_chunk_bytes: int = Field(
        default=256 * 1024,
        ge=16 * 1024,
        description="Largest history or recovery reply message (bytes; at most the NATS "
        "server's max_payload less 4 KiB).",
    )
    history_workers: int = Field(
        default=32, ge=1, description="History and recovery requests served concurrently."
    )
    db_pool_size: int = Field(default=10, ge=1, description="PostgreSQL connections per replica.")
