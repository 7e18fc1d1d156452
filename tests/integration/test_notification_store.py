"""The notification store on a real PostgreSQL: the count stays exact under races.

Concurrent reads, dismisses, mark-all-reads and new notifications run against the SQL
store; afterwards the count it computes equals a count from scratch over every row
and every state, for every user.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from contracts.identity import Identity
from contracts.inbox import UNREAD_CAP, ListFilter, MarkAction
from contracts.notifications import Target
from roomcast.migrations import upgrade
from services.persistence.notifications.audience import seen_by, stored_under
from services.persistence.notifications.ports import NewNotification, NotFound, Viewer
from services.persistence.notifications.service import now_ms
from services.persistence.notifications.sql import SqlNotificationStore
from tests.clients import unique


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    await upgrade(database_url)
    engine = create_async_engine(database_url, pool_size=8)
    yield engine
    await engine.dispose()


def viewer(who: Identity) -> Viewer:
    return Viewer(who.tenant, who.user_id, seen_by(who))


def row(target: Target, n: int) -> NewNotification:
    return NewNotification(
        key=stored_under(target),
        event="e",
        title=f"n{n}",
        body=None,
        data={},
        priority="normal",
        ts=now_ms(),
        expires_at=None,
        idempotency_key=None,
    )


async def from_scratch(engine: AsyncEngine, who: Identity, now: int) -> int:
    """Unread count by brute force: every row the user sees, every state, the cursor."""
    keys = seen_by(who)
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.text(
            "SELECT id, tenant_id, audience, expires_at FROM notifications"
            " WHERE tenant_id IN (:t, '')"), {"t": who.tenant})).all()  # fmt: skip
        states = {
            r.notification_id: r
            for r in await conn.execute(sa.text(
                "SELECT notification_id, read_at, dismissed_at FROM notification_states"
                " WHERE tenant_id = :t AND user_id = :u"), {"t": who.tenant, "u": who.user_id})
        }  # fmt: skip
        cursor = (await conn.execute(sa.text(
            "SELECT read_through FROM notification_cursors WHERE tenant_id = :t AND user_id = :u"),
            {"t": who.tenant, "u": who.user_id})).scalar()  # fmt: skip
    unread = 0
    for r in rows:
        if (r.tenant_id, r.audience) not in keys or (r.expires_at and r.expires_at <= now):
            continue
        state = states.get(r.id)
        if r.id <= (cursor or 0) or (state and (state.read_at or state.dismissed_at)):
            continue
        unread += 1
    return unread


async def test_the_count_equals_a_count_from_scratch_after_a_race(engine: AsyncEngine) -> None:
    store = SqlNotificationStore(engine)
    t = unique("race")
    role = unique("role")
    users = [
        Identity(tenant=t, user_id=f"u{i}", role=role if i % 2 else "member") for i in range(4)
    ]
    targets = [
        Target.of_tenant(t),
        Target.of_role(t, role),
        *(Target.user(t, u.user_id) for u in users),
    ]
    ids: list[str] = []
    for n in range(20):
        ids.append((await store.insert(row(random.choice(targets), n))).id)
    rnd = random.Random(11)

    async def actor(who: Identity, steps: int) -> None:
        for step in range(steps):
            choice = rnd.random()
            if choice < 0.35:
                ids.append((await store.insert(row(rnd.choice(targets), 100 + step))).id)
            elif choice < 0.9:
                action = MarkAction.READ if choice < 0.65 else MarkAction.DISMISS
                picked = rnd.sample(ids, 3)
                with contextlib.suppress(NotFound):  # some ids are others'; nothing changes
                    await store.mark(viewer(who), action, picked, now_ms())
            else:
                await store.read_all(viewer(who))

    await asyncio.gather(*(actor(who, 40) for who in users for _ in range(2)))
    async with engine.connect() as conn:
        marked = await conn.execute(
            sa.text("SELECT count(*) FROM notification_states WHERE tenant_id = :t"), {"t": t}
        )
        assert marked.scalar_one() > 10
    now = now_ms()
    for who in users:
        counted = await store.unread(viewer(who), now)
        assert counted == await from_scratch(engine, who, now), who.user_id
        unread = await store.page(viewer(who), ListFilter.UNREAD, None, 200, now)
        assert len(unread) == counted


async def test_the_count_stops_at_the_cap(engine: AsyncEngine) -> None:
    store = SqlNotificationStore(engine)
    t = unique("cap")
    async with engine.begin() as conn:
        await conn.execute(
            sa.text(
                "INSERT INTO notifications (tenant_id, audience, event, data, priority, ts)"
                " SELECT :t, 'tenant', 'e', '{}'::jsonb, 'normal', s"
                " FROM generate_series(1, :n) AS s"
            ),
            {"t": t, "n": UNREAD_CAP + 5},
        )
    bob = viewer(Identity(tenant=t, user_id="bob", role="member"))
    assert await store.unread(bob, now_ms()) == UNREAD_CAP
    newest = await store.page(bob, ListFilter.UNREAD, None, 10, now_ms())
    await store.mark(bob, MarkAction.READ, [n.id for n in newest], now_ms())
    assert await store.unread(bob, now_ms()) == UNREAD_CAP - 5
