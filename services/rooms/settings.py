"""Rooms service settings (`ROOMCAST_*`)."""

from __future__ import annotations

from pydantic import Field

from roomcast.platform.settings import CommonSettings


class RoomsSettings(CommonSettings):
    """Everything the rooms service needs; validated at start-up."""

    rooms_workers: int = Field(
        default=64, ge=1, le=1024, description="Sends handled concurrently per replica."
    )
    log_max_age: float = Field(
        default=7 * 86400, gt=0, description="Seconds the message log keeps messages (recovery)."
    )
    log_duplicate_window: float = Field(
        default=120, gt=0, description="Seconds within which a repeated clientId is deduplicated."
    )
    member_cache_size: int = Field(
        default=100_000, ge=0, description="Known tenant members cached per replica."
    )
    db_pool_size: int = Field(default=10, ge=1, description="PostgreSQL connections per replica.")
    entity_max_age: float = Field(
        default=30 * 86400,
        gt=0,
        description="Seconds the entity event stream keeps events (applied or not): an event "
        "published while the rooms service is down longer than this is lost.",
    )
    entity_ack_wait: float = Field(
        default=30,
        gt=0,
        description="Seconds before an unacknowledged entity event is redelivered.",
    )
    entity_max_deliveries: int = Field(
        default=5,
        ge=1,
        description="Deliveries of an entity event that keeps failing (other than the store "
        "being unavailable) before it is dead-lettered.",
    )
    entity_retry_max: float = Field(
        default=30,
        gt=0,
        description="Longest back-off, in seconds, before an entity event is retried.",
    )
    dlq_max_age: float = Field(
        default=30 * 86400,
        gt=0,
        description="Seconds the dead-letter stream keeps messages, if this service creates it.",
    )
