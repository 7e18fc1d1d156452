"""Publish notifications and app events to roomcast from a backend service, over NATS.

```python
from roomcast.sdk.publisher import Publisher, Target

async with await Publisher.connect("nats://127.0.0.1:4222") as pub:
    sent = await pub.notify_user("acme", "bob", title="New assignment", body="Due Friday")
    print(sent.id)
    await pub.notify_tenant("acme", title="Maintenance tonight", priority="high")
    await pub.publish(Target.of_room("acme", "course:42"), "course:updated", {"id": 42})
    await pub.disconnect_user("acme", "mallory", reason="banned")
```

Every call is a request/reply to roomcast (`contracts.endpoints.NOTIFY`, `PUBLISH`): a
notification's `id` comes back once it is stored; a publication roomcast refuses raises
`ServiceError` with the code (`INVALID`, ...) and the reason, and so does one that does
not validate here. `UNAVAILABLE` means roomcast did not answer: the outcome is unknown,
so retry with the same `idempotency_key`. Seed 002's payloads can be sent as they are
with `send_notification`. `disconnect_user` is a broadcast to every gateway (no reply):
it returns once the NATS server has it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, TypeVar

import nats
from nats.aio.client import Client as NATS
from pydantic import BaseModel, ValidationError

from contracts import endpoints
from contracts.errors import ErrorCode, ServiceError
from contracts.notifications import AppEvent, Notify, Target, TargetKind
from contracts.sessions import DEFAULT_REASON, DisconnectUser
from roomcast.platform import bus
from roomcast.platform.announce import announce

__all__ = ["Published", "Publisher", "ServiceError", "Target", "TargetKind"]


@dataclass(frozen=True, slots=True)
class Published:
    """A stored notification: its id, and when it was stored (ms since the epoch)."""

    id: str
    ts: int


M = TypeVar("M", bound=BaseModel)


def _build(model: type[M], payload: dict[str, Any]) -> M:
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        reasons = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'payload'}: {err['msg']}"
            for err in exc.errors()[:3]
        )
        raise ServiceError(ErrorCode.INVALID, reasons) from None


class Publisher:
    """Publishes to roomcast on a NATS connection.

    Args:
        nc: a connected NATS client (the caller keeps owning it), or use `connect`.
        wait: seconds to wait for roomcast's answer (the endpoint's timeout by default).
    """

    def __init__(self, nc: NATS, *, wait: float | None = None) -> None:
        self._nc = nc
        self._wait = wait
        self._owned = False

    @classmethod
    async def connect(cls, url: str, *, wait: float | None = None) -> Publisher:
        """A publisher on its own connection to `url`, closed by `close` (or `async with`)."""
        publisher = cls(await nats.connect(url), wait=wait)
        publisher._owned = True
        return publisher

    async def close(self) -> None:
        """Close the connection if this publisher opened it."""
        if self._owned:
            await self._nc.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # notifications ------------------------------------------------------------------

    async def notify(
        self,
        target: Target,
        *,
        title: str | None = None,
        body: str | None = None,
        event: str | None = None,
        data: dict[str, Any] | None = None,
        priority: str = "normal",
        expires_at: int | None = None,
        idempotency_key: str | None = None,
    ) -> Published:
        """Store a notification for `target` and deliver it to the sockets online.

        Args:
            target: who it is for (`Target.user(...)`, `Target.of_tenant(...)`, ...).
            title: short title.
            body: text.
            event: what kind of notification (default `notification`).
            data: any JSON object for the client.
            priority: `low`, `normal`, `high` or `urgent`.
            expires_at: ms since the epoch after which it is no longer listed.
            idempotency_key: retries with the same key get the same id.

        Raises:
            ServiceError: refused (`INVALID` with the reason) or `UNAVAILABLE`.
        """
        payload: dict[str, Any] = {
            "target": target,
            "title": title,
            "body": body,
            "data": data or {},
            "priority": priority,
            "expires_at": expires_at,
            "idempotency_key": idempotency_key,
        }
        if event is not None:
            payload["event"] = event
        return await self._notify(_build(Notify, payload))

    async def send_notification(self, payload: dict[str, Any]) -> Published:
        """Send a notification as a JSON object, e.g. seed 002's
        `{tenantId, userId?, title, message, type, priority}`."""
        return await self._notify(_build(Notify, payload))

    async def notify_user(self, tenant: str, user_id: str, **fields: Any) -> Published:
        """`notify` one user of a tenant (seed 002's `sendNotificationToUser`)."""
        return await self.notify(Target.user(tenant, user_id), **fields)

    async def notify_tenant(self, tenant: str, **fields: Any) -> Published:
        """`notify` every user of a tenant (seed 002's `broadcastToTenant`)."""
        return await self.notify(Target.of_tenant(tenant), **fields)

    async def notify_role(self, tenant: str, role: str, **fields: Any) -> Published:
        """`notify` the users of one role within a tenant."""
        return await self.notify(Target.of_role(tenant, role), **fields)

    async def notify_admins(self, tenant: str, **fields: Any) -> Published:
        """`notify` a tenant's admins."""
        return await self.notify(Target.admins(tenant), **fields)

    async def notify_platform_role(self, role: str, **fields: Any) -> Published:
        """`notify` the users of one role in every tenant."""
        return await self.notify(Target.platform_role(role), **fields)

    async def notify_room(self, tenant: str, room: str, **fields: Any) -> Published:
        """`notify` the users who may read an explicit room (`room:{slug}`,
        `{entityType}:{entityId}`); the sockets that joined it get it live."""
        return await self.notify(Target.of_room(tenant, room), **fields)

    # app events ---------------------------------------------------------------------

    async def publish(self, target: Target, event: str, data: dict[str, Any] | None = None) -> int:
        """Deliver app event `event` with `data` to the sockets of `target`; nothing is
        stored. Returns when roomcast handed it to NATS (ms since the epoch).

        Raises:
            ServiceError: `INVALID` for a protocol event name or bad data, `UNAVAILABLE`.
        """
        command = _build(AppEvent, {"target": target, "event": event, "data": data or {}})
        reply = await bus.request(self._nc, endpoints.PUBLISH, command, wait=self._wait)
        return reply.checked().ts or 0

    # sessions -----------------------------------------------------------------------

    async def disconnect_user(
        self, tenant: str, user_id: str, *, reason: str = DEFAULT_REASON
    ) -> int:
        """End every socket of a user on every gateway, as a server can.

        Each socket gets `session:ended {reason}`, then a server-side disconnect that
        Socket.IO clients do not retry; presence sees ordinary closes. The user may
        connect again with a valid token: stop issuing tokens to keep them out.

        Args:
            tenant: the user's tenant.
            user_id: the user.
            reason: a short code the client sees, e.g. `logged_out` or `banned`.

        Returns:
            When it was published (ms since the epoch); the NATS server had it then.

        Raises:
            ServiceError: `INVALID` (bad ids or reason) or `UNAVAILABLE` (NATS did not
                confirm; gateways may still have acted).
        """
        order = _build(
            DisconnectUser,
            {"tenant": tenant, "user_id": user_id, "reason": reason, "ts": _now_ms()},
        )
        wait = self._wait if self._wait is not None else endpoints.REQUEST_TIMEOUT
        await announce(self._nc, endpoints.DISCONNECT_USER, order, wait=wait)
        return order.ts

    async def _notify(self, command: Notify) -> Published:
        reply = await bus.request(self._nc, endpoints.NOTIFY, command, wait=self._wait)
        reply = reply.checked()
        return Published(reply.id or "", reply.ts or 0)


def _now_ms() -> int:
    return int(time.time() * 1000)
