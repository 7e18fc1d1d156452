"""Presence service settings (`ROOMCAST_*`).

The gateway's side of the bounds (its beat interval and lease TTL) lives in the
gateway settings: a gateway states its lease TTL in every report.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from roomcast.platform.settings import CommonSettings
from services.presence.adapters.store import Timing


class PresenceSettings(CommonSettings):
    """Everything the presence service needs; validated at start-up."""

    presence_ttl: float = Field(
        default=90.0,
        gt=0,
        description="Seconds a connection stays online without a `presence:heartbeat`.",
    )
    presence_grace: float = Field(
        default=5.0,
        ge=0,
        description="Seconds between a user's last connection closing and `user:offline` "
        "(absorbs page reloads).",
    )
    presence_sweep_interval: float = Field(
        default=1.0, gt=0, le=10, description="Seconds between sweeps for expired items."
    )
    presence_sweep_batch: int = Field(
        default=1000, ge=10, description="Items one sweep script handles before yielding."
    )
    presence_gap: float = Field(
        default=5.0,
        gt=0,
        description="When no replica swept for this many seconds, nothing expires until "
        "every gateway had one lease TTL to report again.",
    )
    presence_recovery_hold: float = Field(
        default=10.0,
        ge=0,
        description="After Redis lost the presence state, seconds to wait for every gateway "
        "to restore its connections before users who left meanwhile are announced offline.",
    )
    presence_key_prefix: str = Field(
        default="roomcast:presence:", min_length=1, description="Prefix of every Redis key."
    )
    presence_workers: int = Field(
        default=16, ge=1, le=256, description="Reports handled concurrently per replica."
    )
    redis_timeout: float = Field(
        default=2.0, gt=0, description="Seconds to wait for Redis before answering UNAVAILABLE."
    )

    @model_validator(mode="after")
    def _sweeps_fit_the_gap(self) -> PresenceSettings:
        if self.presence_gap <= 2 * self.presence_sweep_interval:
            raise ValueError("presence_gap must exceed twice presence_sweep_interval")
        return self

    def timing(self) -> Timing:
        """The bounds in the milliseconds the store works with."""
        return Timing(
            ttl_ms=round(self.presence_ttl * 1000),
            grace_ms=round(self.presence_grace * 1000),
            recovery_hold_ms=round(self.presence_recovery_hold * 1000),
            gap_ms=round(self.presence_gap * 1000),
        )
