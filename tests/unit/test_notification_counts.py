"""The gateway's `notification:count`: one count per user hosted in the room, batched."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from contracts import delivery, subjects
from contracts.identity import Identity
from contracts.inbox import CountNotifications
from services.gateway.limits import TokenBucket
from services.gateway.notifications import BATCH, NotificationCounts
from services.gateway.sessions import Session


@dataclass
class Reply:
    data: bytes


class FakeNats:
    """Answers `notifications.counts` with each viewer's user id length."""

    def __init__(self) -> None:
        self.asked: list[list[str]] = []

    async def request(self, subject: str, body: bytes, timeout: float) -> Reply:
        query = CountNotifications.model_validate_json(body)
        self.asked.append([v.user_id for v in query.viewers])
        counts = [len(v.user_id) for v in query.viewers]
        return Reply(orjson.dumps({"ok": True, "unread": counts}))


def session(sid: str, user: str, tenant: str = "acme") -> Session:
    s = Session(
        sid=sid,
        namespace="/tenant",
        identity=Identity(tenant=tenant, user_id=user, role="member"),
        exp=0,
        bucket=TokenBucket(10, 10),
    )
    s.subjects.update({subjects.deliver_tenant(tenant), subjects.deliver_user(tenant, user)})
    return s


async def test_each_hosted_user_is_counted_once_and_every_tab_gets_it() -> None:
    nc = FakeNats()
    sessions = {s.sid: s for s in (session("1", "bob"), session("2", "bob"), session("3", "al"))}
    sessions["4"] = session("4", "zed", tenant="other")
    sent: list[tuple[str, int]] = []

    async def emit(s: Session, unread: int) -> None:
        sent.append((s.sid, unread))

    counts = NotificationCounts(nc, sessions, emit, wait=1)  # type: ignore[arg-type]
    new = delivery.Delivery(event="notification:new", body=b"{}")
    counts.delivered(subjects.deliver_tenant("acme"), new)
    counts.delivered(subjects.deliver_tenant("acme"), delivery.Delivery("chat:message", b"{}"))
    await counts.settle()
    assert nc.asked == [["bob", "al"]]
    assert sorted(sent) == [("1", 3), ("2", 3), ("3", 2)]


async def test_big_rooms_are_counted_in_batches_and_closed_sockets_are_skipped() -> None:
    nc = FakeNats()
    users = 2 * BATCH + 3
    sessions = {str(i): session(str(i), f"u{i}") for i in range(users)}
    sent: list[str] = []

    async def emit(s: Session, unread: int) -> None:
        sent.append(s.sid)

    counts = NotificationCounts(nc, sessions, emit, wait=1)  # type: ignore[arg-type]
    counts.delivered(subjects.deliver_tenant("acme"), delivery.Delivery("notification:new", b""))
    del sessions["0"]
    await counts.settle()
    assert sorted(len(batch) for batch in nc.asked) == [3, BATCH, BATCH]
    assert len(sent) == users - 1 and "0" not in sent


async def test_a_connecting_socket_gets_its_count() -> None:
    nc = FakeNats()
    bob = session("1", "bob")
    sent: list[Any] = []

    async def emit(s: Session, unread: int) -> None:
        sent.append((s.sid, unread))

    counts = NotificationCounts(nc, {"1": bob}, emit, wait=1)  # type: ignore[arg-type]
    counts.connected(bob)
    await counts.settle()
    assert sent == [("1", 3)]
