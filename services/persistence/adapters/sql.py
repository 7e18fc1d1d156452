"""The `messages` table in PostgreSQL (SQLAlchemy 2 async engine and pool, asyncpg).

Writes are batched: one statement and one commit per batch, the rows passed as one
array per column and expanded by `unnest` (asyncpg sends the arrays in binary), with
`ON CONFLICT DO NOTHING` on the primary key and on the idempotency key, so a batch
that is written twice leaves one row per message. (COPY cannot skip conflicts; COPY
into a temporary table then `INSERT ... SELECT` measured no faster here, since index
maintenance, not parsing, is the cost.)

History pages are the latency-sensitive path: they take a connection from the same
SQLAlchemy pool in autocommit (one round trip, no BEGIN/ROLLBACK) and run one of
three fixed statements on the asyncpg connection itself, prepared once per
connection. Through SQLAlchemy Core's statement and row machinery a page took about
twice as long (0.9 ms against 0.4 ms, most of the service's share of a request).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.history import StoredMessage
from services.persistence.domain.conversations import (
    AdminsRoom,
    Conversation,
    Target,
    UserRoom,
)
from services.persistence.domain.records import COLUMNS, Row
from services.persistence.ports import RowsRejected, StoreUnavailable

_ARRAY_TYPES = {"seq": "bigint[]", "ts": "bigint[]", "supervised": "boolean[]"}

INSERT = sa.text(
    f"INSERT INTO messages ({', '.join(COLUMNS)}) "  # noqa: S608 - column names are constants
    "SELECT * FROM unnest("
    + ", ".join(f"CAST(:{c} AS {_ARRAY_TYPES.get(c, 'text[]')})" for c in COLUMNS)
    + ") ON CONFLICT DO NOTHING"
)

AFTER_EVERY_ID = "z"
"""Sorts after every message id (fixed-width lowercase hex, "C" collation)."""

_PAGE = "SELECT id, tenant_id, sender_id, recipient_id, room, body, ts, seq FROM messages"

CONVERSATION_PAGE = (
    f"{_PAGE} WHERE tenant_id = $1 AND conversation = $2 AND id < $3 ORDER BY id DESC LIMIT $4"
)
ADMINS_PAGE = f"{_PAGE} WHERE tenant_id = $1 AND supervised AND id < $2 ORDER BY id DESC LIMIT $3"
USER_PAGE = (
    f"({_PAGE} WHERE tenant_id = $1 AND sender_id = $2 AND sender_tenant = $1"
    " AND room IS NULL AND id < $3 ORDER BY id DESC LIMIT $4)"
    " UNION ALL "
    f"({_PAGE} WHERE tenant_id = $1 AND recipient_id = $2"
    " AND NOT (sender_id = $2 AND sender_tenant = $1) AND id < $3 ORDER BY id DESC LIMIT $4)"
    " ORDER BY id DESC LIMIT $4"
)

_UNREACHABLE = (
    sa_exc.SQLAlchemyError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    OSError,
    TimeoutError,
)


class SqlMessageStore:
    """Stores batches of rows and reads history pages."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._reads = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def insert(self, rows: Sequence[Row]) -> int:
        """Insert `rows` in one transaction; returns how many were new.

        Raises:
            RowsRejected: PostgreSQL refused the content of a row.
            StoreUnavailable: PostgreSQL could not be reached or did not commit.
        """
        if not rows:
            return 0
        columns = zip(*rows, strict=True)
        params = {name: list(values) for name, values in zip(COLUMNS, columns, strict=True)}
        try:
            async with self._engine.begin() as conn:
                result = await conn.execute(INSERT, params)
        except (sa_exc.DataError, sa_exc.IntegrityError) as exc:
            raise RowsRejected(str(exc.orig or exc)[:500]) from exc
        except _UNREACHABLE as exc:
            raise StoreUnavailable(f"{type(exc).__name__}: {str(exc)[:300]}") from exc
        return max(result.rowcount, 0)

    async def page(self, target: Target, before: str | None, limit: int) -> list[StoredMessage]:
        """One history page of `target`, newest first, ids below `before`.

        Raises:
            StoreUnavailable: PostgreSQL could not be reached.
        """
        sql, args = _page_statement(target, before or AFTER_EVERY_ID, limit)
        try:
            async with self._reads.connect() as conn:
                driver = (await conn.get_raw_connection()).driver_connection
                assert driver is not None
                try:
                    rows = await driver.fetch(sql, *args)
                except BaseException:
                    await conn.invalidate()
                    raise
        except _UNREACHABLE as exc:
            raise StoreUnavailable(f"{type(exc).__name__}: {str(exc)[:300]}") from exc
        return [
            StoredMessage.model_construct(
                id=r[0], tenant=r[1], from_=r[2], to=r[3], room=r[4], body=r[5], ts=r[6], seq=r[7]
            )
            for r in rows
        ]


def _page_statement(target: Target, before: str, limit: int) -> tuple[str, tuple[Any, ...]]:
    if isinstance(target, Conversation):
        return CONVERSATION_PAGE, (target.tenant, target.key, before, limit)
    if isinstance(target, AdminsRoom):
        return ADMINS_PAGE, (target.tenant, before, limit)
    assert isinstance(target, UserRoom)
    return USER_PAGE, (target.tenant, target.user_id, before, limit)
