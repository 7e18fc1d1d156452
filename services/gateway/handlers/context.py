"""What a client event handler may use of the gateway: a narrow protocol.

Handlers are typed against `Context`, not against the `Gateway` class, so that they
import nothing of the server that dispatches to them (no import cycle) and unit tests
can pass a small fake.
"""

from __future__ import annotations

from typing import Protocol

from nats.aio.client import Client as NATS

from services.gateway.auth import VerifiedToken
from services.gateway.fanout import Fanout
from services.gateway.presence import PresenceReporter
from services.gateway.sessions import Session
from services.gateway.settings import GatewaySettings


class Context(Protocol):
    """The gateway as its handlers see it."""

    settings: GatewaySettings
    nc: NATS
    fanout: Fanout
    presence: PresenceReporter
    sessions: dict[str, Session]
    """Live sessions by sid; a handler that awaited checks its session is still here."""

    async def verify(self, token: str) -> VerifiedToken:
        """Verify a token; refusals are `ServiceError`s with the auth code."""
        ...

    def schedule_expiry(self, s: Session, exp: int) -> None:
        """Disconnect `s` at `exp` plus the leeway, replacing an earlier deadline."""
        ...
