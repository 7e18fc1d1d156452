"""`presence:list` stays within a tenant; super_admins list and watch any tenant."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from tests.clients import unique
from tests.presence_support import MARGIN, Stack, about, count, listed
from tests.servers import ServiceProcess


@pytest.fixture
async def stack(
    run_service: Callable[..., ServiceProcess], nats_url: str, redis_url: str
) -> AsyncIterator[Stack]:
    s = Stack(run_service, nats_url, redis_url)
    yield s
    await s.close()


async def test_list_isolation_and_manage_watch(stack: Stack) -> None:
    g1, g2 = stack.start(presences=1, gateways=2)
    t1, t2 = unique("t1"), unique("t2")
    amy = await stack.connect(g1, "amy", t1)
    ben = await stack.connect(g2, "ben", t1)
    xia = await stack.connect(g2, "xia", t2)
    amy2 = await stack.connect(g1, "amy", t2)  # same user id, other tenant
    for client in (amy, amy2):  # a caller's own list waits until it is recorded
        assert "amy" in await listed(client)

    assert await listed(ben) == {"amy", "ben"}
    assert await listed(xia) == {"xia", "amy"}
    ack = await amy.call("presence:list", {})
    users = {u["userId"]: u for u in ack["users"]}
    assert users["amy"]["name"] == "Amy" and isinstance(users["amy"]["since"], int)
    refused = await amy.call("presence:list", {"tenant": t2})
    assert refused["error"]["code"] == "INVALID", "a tenant user cannot name a tenant"

    root = await stack.connect(g1, "root", unique("ops"), role="super_admin", ns="/manage")
    assert await listed(root, {"tenant": t1}) == {"amy", "ben"}
    assert (await root.call("presence:list", {}))["error"]["code"] == "INVALID"
    assert (await root.call("presence:heartbeat", {}))["ok"]

    assert (await root.call("manage:watch", {"tenant": t2}))["ok"]
    yan = await stack.connect(g2, "yan", t2)
    seen = await root.wait_for("user:online", about("yan", t2), timeout=MARGIN)
    assert seen == {"userId": "yan", "tenant": t2, "ts": seen["ts"]}

    await ben.close()
    await amy.wait_for("user:offline", about("ben", t1), timeout=MARGIN)
    presence = [d for e, d in root.events if e.startswith("user:")]
    assert all(d["tenant"] == t2 for d in presence), "nothing from unwatched tenants"

    assert (await root.call("manage:unwatch", {"tenant": t2}))["ok"]
    await yan.close()
    await xia.wait_for("user:offline", about("yan", t2), timeout=MARGIN)
    assert count(root, "user:offline", "yan") == 0
    assert count(xia, "user:online", "ben") == 0
