# ruff: noqa: S608 - statements are built from constant fragments; every value is a bind parameter
"""Notifications in PostgreSQL: one row per notification, state rows per user and action.

Every inbox query is a union over the viewer's `(tenant_id, audience)` keys
(`audience.py`), each read from the index `(tenant_id, audience, id)`:

- a page runs one `ORDER BY id DESC LIMIT n` per key and merges them (the same shape
  as a user's direct-message history in `adapters/sql.py`), so it reads at most
  `limit` rows per key however many notifications the tenant has;
- the unread count walks each key's range above the user's read-all cursor, newest
  first, and skips notifications the user read or dismissed: exact up to `UNREAD_CAP`,
  where it stops (a count of 500,000 unread took 0.66 s; capped it reads at most
  `UNREAD_CAP` rows per key).

A read state is written only when the user acts (`notification_states`), and
mark-all-read is one cursor row, so a tenant-wide notification costs one row however
many users the tenant has.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import orjson
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.inbox import UNREAD_CAP, ListFilter, MarkAction, Notification, Status
from services.persistence.notifications.audience import ROOM_AUDIENCE
from services.persistence.notifications.ports import (
    NewNotification,
    NotFound,
    Stored,
    Viewer,
)
from services.persistence.ports import StoreUnavailable

NO_CURSOR = 2**63 - 1
"""`before` of a first page: above every id."""

_COLUMNS = "n.id, n.event, n.title, n.body, n.data, n.priority, n.ts, n.expires_at"

_READ_THROUGH = (
    "COALESCE((SELECT c.read_through FROM notification_cursors c"
    " WHERE c.tenant_id = :vt AND c.user_id = :vu), 0)"
)

_STATE_JOIN = (
    " LEFT JOIN notification_states s ON s.tenant_id = :vt AND s.user_id = :vu"
    " AND s.notification_id = n.id"
)

_LIVE = "(n.expires_at IS NULL OR n.expires_at > :now)"

_FILTERS: dict[ListFilter, str] = {
    ListFilter.ACTIVE: "s.dismissed_at IS NULL",
    ListFilter.UNREAD: "s.dismissed_at IS NULL AND s.read_at IS NULL AND n.id > _wm.rt",
    ListFilter.READ: "s.dismissed_at IS NULL AND (s.read_at IS NOT NULL OR n.id <= _wm.rt)",
    ListFilter.DISMISSED: "s.dismissed_at IS NOT NULL",
    ListFilter.ALL: "TRUE",
}

INSERT = sa.text(
    "INSERT INTO notifications (tenant_id, audience, event, title, body, data, priority, ts,"
    " expires_at, idempotency_key) VALUES (:tenant, :audience, :event, :title, :body,"
    " CAST(:data AS jsonb), :priority, :ts, :expires_at, :key)"
    " ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING"
    " RETURNING id, ts"
)
ROOM_NOTIFICATIONS = sa.text(
    "SELECT EXISTS (SELECT 1 FROM notifications n WHERE n.tenant_id = :tenant"
    " AND n.audience >= :low AND n.audience < :high AND (n.expires_at IS NULL"
    " OR n.expires_at > :now))"
)
EXISTING = sa.text(
    "SELECT id, ts FROM notifications WHERE tenant_id = :tenant AND idempotency_key = :key"
)

_UNREACHABLE = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    OSError,
    TimeoutError,
)


def _keys(viewer: Viewer) -> tuple[list[str], dict[str, Any]]:
    """One `(tenant_id, audience)` condition per key (the viewer's explicit rooms share
    one, `audience = ANY(...)`: a user may read hundreds), and their parameters."""
    conds: list[str] = []
    params: dict[str, Any] = {"vt": viewer.tenant, "vu": viewer.user_id}
    rooms = [a for t, a in viewer.keys if t == viewer.tenant and a.startswith(ROOM_AUDIENCE)]
    for i, (tenant, audience) in enumerate(viewer.keys):
        if tenant == viewer.tenant and audience.startswith(ROOM_AUDIENCE):
            continue
        conds.append(f"n.tenant_id = :t{i} AND n.audience = :a{i}")
        params[f"t{i}"], params[f"a{i}"] = tenant, audience
    if rooms:
        conds.append("n.tenant_id = :vt AND n.audience = ANY(:rooms)")
        params["rooms"] = rooms
    return conds, params


def page_statement(
    viewer: Viewer, status: ListFilter, before: int, limit: int, now: int
) -> tuple[sa.TextClause, dict[str, Any]]:
    """The page query: one ordered, limited scan per key, merged newest first."""
    conds, params = _keys(viewer)
    params |= {"before": before, "limit": limit, "now": now}
    parts = [
        f"(SELECT {_COLUMNS}, s.read_at, s.dismissed_at, n.id <= _wm.rt AS swept"
        f" FROM wm AS _wm, notifications n{_STATE_JOIN}"
        f" WHERE {cond} AND n.id < :before AND {_LIVE} AND {_FILTERS[status]}"
        " ORDER BY n.id DESC LIMIT :limit)"
        for cond in conds
    ]
    sql = (
        f"WITH wm AS (SELECT {_READ_THROUGH} AS rt) "
        + " UNION ALL ".join(parts)
        + " ORDER BY id DESC LIMIT :limit"
    )
    return sa.text(sql), params


def unread_statement(viewer: Viewer, now: int) -> tuple[sa.TextClause, dict[str, Any]]:
    """The unread count: each key's live range above the read-all cursor, less states,
    newest first and at most `UNREAD_CAP` rows per key; the sum is capped too."""
    conds, params = _keys(viewer)
    params |= {"now": now, "cap": UNREAD_CAP}
    parts = [
        "(SELECT count(*) AS c FROM (SELECT 1 FROM notifications n"
        f" WHERE {cond} AND n.id > (SELECT rt FROM wm) AND {_LIVE}"
        " AND NOT EXISTS (SELECT 1 FROM notification_states s WHERE s.tenant_id = :vt"
        " AND s.user_id = :vu AND s.notification_id = n.id"
        " AND (s.read_at IS NOT NULL OR s.dismissed_at IS NOT NULL))"
        " ORDER BY n.id DESC LIMIT :cap) AS k)"
        for cond in conds
    ]
    sql = (
        f"WITH wm AS (SELECT {_READ_THROUGH} AS rt) "
        f"SELECT LEAST(COALESCE(sum(c), 0), :cap) FROM ({' UNION ALL '.join(parts)}) AS per_key"
    )
    return sa.text(sql), params


def _visible_statement(viewer: Viewer, now: int) -> tuple[sa.TextClause, dict[str, Any]]:
    conds, params = _keys(viewer)
    params["now"] = now
    anyof = " OR ".join(f"({c})" for c in conds)
    sql = f"SELECT n.id FROM notifications n WHERE n.id = ANY(:ids) AND ({anyof}) AND {_LIVE}"
    return sa.text(sql), params


def _newest_statement(viewer: Viewer) -> tuple[sa.TextClause, dict[str, Any]]:
    conds, params = _keys(viewer)
    parts = [f"(SELECT max(n.id) AS m FROM notifications n WHERE {c})" for c in conds]
    sql = (
        "INSERT INTO notification_cursors (tenant_id, user_id, read_through) "
        f"SELECT :vt, :vu, COALESCE(max(m), 0) FROM ({' UNION ALL '.join(parts)}) AS per_key "
        "ON CONFLICT (tenant_id, user_id) DO UPDATE SET read_through = "
        "GREATEST(notification_cursors.read_through, EXCLUDED.read_through)"
    )
    return sa.text(sql), params


_MARK = {
    MarkAction.READ: "read_at",
    MarkAction.DISMISS: "dismissed_at",
}


def _mark_statement(action: MarkAction) -> sa.TextClause:
    column = _MARK[action]
    return sa.text(
        f"INSERT INTO notification_states (tenant_id, user_id, notification_id, {column}) "
        "SELECT :vt, :vu, unnest(CAST(:ids AS bigint[])), :now "
        "ON CONFLICT (tenant_id, user_id, notification_id) DO UPDATE SET "
        f"{column} = COALESCE(notification_states.{column}, EXCLUDED.{column})"
    )


def _status(read_at: int | None, dismissed_at: int | None, swept: bool) -> Status:
    if dismissed_at is not None:
        return Status.DISMISSED
    return Status.READ if read_at is not None or swept else Status.UNREAD


def _data(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


class SqlNotificationStore:
    """`NotificationStore` on the persistence service's SQLAlchemy engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._reads = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def insert(self, row: NewNotification) -> Stored:
        tenant, audience = row.key
        params = {
            "tenant": tenant,
            "audience": audience,
            "event": row.event,
            "title": row.title,
            "body": row.body,
            "data": orjson.dumps(row.data).decode(),
            "priority": row.priority,
            "ts": row.ts,
            "expires_at": row.expires_at,
            "key": row.idempotency_key,
        }
        try:
            async with self._engine.begin() as conn:
                new = (await conn.execute(INSERT, params)).first()
                if new is not None:
                    return Stored(str(new.id), new.ts, created=True)
                old = (await conn.execute(EXISTING, params)).one()
                return Stored(str(old.id), old.ts, created=False)
        except _UNREACHABLE as exc:
            raise StoreUnavailable(_why(exc)) from exc

    async def page(
        self, viewer: Viewer, status: ListFilter, before: str | None, limit: int, now: int
    ) -> list[Notification]:
        sql, params = page_statement(viewer, status, int(before or NO_CURSOR), limit, now)
        rows = await self._read(sql, params)
        return [
            Notification(
                id=str(r.id),
                event=r.event,
                title=r.title,
                body=r.body,
                data=_data(r.data),
                priority=r.priority,
                ts=r.ts,
                status=_status(r.read_at, r.dismissed_at, r.swept),
                expires_at=r.expires_at,
            )
            for r in rows
        ]

    async def unread(self, viewer: Viewer, now: int) -> int:
        sql, params = unread_statement(viewer, now)
        return int((await self._read(sql, params))[0][0])

    async def mark(self, viewer: Viewer, action: MarkAction, ids: Sequence[str], now: int) -> None:
        wanted = [int(i) for i in ids]
        visible_sql, params = _visible_statement(viewer, now)
        try:
            async with self._engine.begin() as conn:
                seen = {r.id for r in await conn.execute(visible_sql, {**params, "ids": wanted})}
                missing = [str(i) for i in wanted if i not in seen]
                if missing:
                    raise NotFound(missing)
                await conn.execute(
                    _mark_statement(action),
                    {"vt": viewer.tenant, "vu": viewer.user_id, "ids": wanted, "now": now},
                )
        except _UNREACHABLE as exc:
            raise StoreUnavailable(_why(exc)) from exc

    async def read_all(self, viewer: Viewer) -> None:
        sql, params = _newest_statement(viewer)
        try:
            async with self._engine.begin() as conn:
                await conn.execute(sql, params)
        except _UNREACHABLE as exc:
            raise StoreUnavailable(_why(exc)) from exc

    async def has_room_notifications(self, tenant: str, now: int) -> bool:
        low = ROOM_AUDIENCE
        high = low[:-1] + chr(ord(low[-1]) + 1)
        params = {"tenant": tenant, "low": low, "high": high, "now": now}
        return bool((await self._read(ROOM_NOTIFICATIONS, params))[0][0])

    async def _read(self, sql: sa.TextClause, params: dict[str, Any]) -> Sequence[Any]:
        try:
            async with self._reads.connect() as conn:
                return await _fetch(conn, sql, params)
        except _UNREACHABLE as exc:
            raise StoreUnavailable(_why(exc)) from exc


async def _fetch(
    conn: AsyncConnection, sql: sa.TextClause, params: dict[str, Any]
) -> Sequence[Any]:
    return (await conn.execute(sql, params)).all()


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:300]}"
