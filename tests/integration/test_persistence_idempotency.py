"""`clientId` makes sends idempotent: same id back, one delivery, one stored row.

Within the log's duplicate window (`ROOMCAST_LOG_DUPLICATE_WINDOW`) the log itself
answers a repeated `clientId` with the original; beyond it the store still keeps one
row per `(sender, clientId)`. This module shortens the window to show both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.clients import Client, connect, token, unique
from tests.persistence_support import Gateways, eventually, gateway_stack, stored

WINDOW_S = 2.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[Gateways]:
    env = {"ROOMCAST_LOG_DUPLICATE_WINDOW": str(WINDOW_S)}
    with gateway_stack(tmp_path_factory.mktemp("idem"), database_url, env=env) as gateways:
        yield gateways


async def test_a_repeated_client_id_gets_the_same_id_and_is_delivered_and_stored_once(
    stack: Gateways, clients: list[Client]
) -> None:
    t = unique("idem")
    alice = await connect(stack.gw1.url, token("alice", t))
    bob = await connect(stack.gw2.url, token("bob", t))
    clients += [alice, bob]
    payload = {"to": "bob", "body": "exactly once", "clientId": "c-1"}
    first = await alice.call("chat:send", payload)
    again = await alice.call("chat:send", payload)
    assert first["ok"] and again["ok"]
    assert (again["id"], again["ts"]) == (first["id"], first["ts"])

    marker = await alice.call("chat:send", {"to": "bob", "body": "marker", "clientId": "c-2"})
    await bob.wait_for("chat:message", lambda m: m["id"] == marker["id"])
    assert [m["id"] for m in bob.received("chat:message")] == [first["id"], marker["id"]]

    async def both_stored() -> bool:
        return len(await stored(stack.database_url, t)) == 2

    await eventually(both_stored, 10, "two rows", stack.persistence.output)
    assert await stored(stack.database_url, t) == [
        (first["id"], "exactly once"),
        (marker["id"], "marker"),
    ]


async def test_beyond_the_duplicate_window_the_store_still_keeps_one_row(
    stack: Gateways, clients: list[Client]
) -> None:
    t = unique("late")
    alice = await connect(stack.gw1.url, token("alice", t))
    bob = await connect(stack.gw1.url, token("bob", t))
    clients += [alice, bob]
    payload = {"to": "bob", "body": "retried late", "clientId": "late-1"}
    first = await alice.call("chat:send", payload)
    assert first["ok"]

    async def first_stored() -> bool:
        return len(await stored(stack.database_url, t)) == 1

    await eventually(first_stored, 10, "the first send stored", stack.persistence.output)
    await asyncio.sleep(WINDOW_S * 1.5)  # let the log's duplicate window pass
    late = await alice.call("chat:send", payload)
    assert late["ok"]
    marker = await alice.call("chat:send", {"to": "bob", "body": "marker"})

    async def marker_stored() -> bool:
        rows = await stored(stack.database_url, t)
        return marker["id"] in [row_id for row_id, _ in rows]

    await eventually(marker_stored, 10, "the marker stored", stack.persistence.output)
    assert await stored(stack.database_url, t) == [
        (first["id"], "retried late"),
        (marker["id"], "marker"),
    ]
