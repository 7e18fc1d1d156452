"""Rooms service settings (`ROOMCAST_*`)."""

from __future__ import annotations

from pydantic import Field, field_validator

from contracts.endpoints import POLICY_TIMEOUT
from contracts.policies import KindSpec
from roomcast.platform.settings import CommonSettings
from services.rooms.domain.declared import KindRule


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
    policy_timeout: float = Field(
        default=POLICY_TIMEOUT,
        gt=0,
        le=10,
        description="Seconds to wait for a room kind's policy; no answer is `UNAVAILABLE`.",
    )
    policy_cache_size: int = Field(
        default=100_000, ge=0, description="Policy decisions cached per replica (0: none)."
    )
    policy_max_ttl: float = Field(
        default=300,
        ge=0,
        description="Longest a policy decision is reused, whatever TTL the policy gave "
        "(seconds); `revoke` drops it sooner.",
    )
    room_kinds: dict[str, KindRule] = Field(
        default_factory=dict,
        description="Declared room kinds, JSON: kind → one rule, `roleIn` (roles), "
        "`claimEquals` (forwarded claims and values) or `memberOf` (an entity type), e.g. "
        '`{"staff": {"roleIn": ["admin"]}}` (see services/rooms/domain/declared.py).',
    )

    @field_validator("room_kinds")
    @classmethod
    def _kind_names(cls, value: dict[str, KindRule]) -> dict[str, KindRule]:
        for kind in value:
            KindSpec(kind=kind)  # a valid, unreserved kind name
        return value

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
