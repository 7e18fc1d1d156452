"""`disconnect_user` as presence sees it: the user's sockets on two gateways close as
ordinary disconnects, so watchers get one `user:offline {reason: disconnect}`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from roomcast.sdk.publisher import Publisher
from tests.clients import unique
from tests.presence_support import GRACE, MARGIN, Stack, about, count, listed
from tests.servers import ServiceProcess


@pytest.fixture
async def stack(
    run_service: Callable[..., ServiceProcess], nats_url: str, redis_url: str
) -> AsyncIterator[Stack]:
    s = Stack(run_service, nats_url, redis_url)
    yield s
    await s.close()


async def test_a_disconnected_user_goes_offline_like_any_close(stack: Stack) -> None:
    g1, g2 = stack.start(presences=1, gateways=2)
    t = unique("t")
    obs = await stack.connect(g1, "obs", t)
    tab1 = await stack.connect(g1, "alice", t)
    tab2 = await stack.connect(g2, "alice", t)
    await obs.wait_for("user:online", about("alice", t), timeout=MARGIN)
    assert await listed(tab2) >= {"obs", "alice"}

    async with await Publisher.connect(stack.nats_url) as pub:
        await pub.disconnect_user(t, "alice", reason="logged_out")
    for tab in (tab1, tab2):
        assert await tab.wait_for("session:ended") == {"reason": "logged_out"}
    offline = await obs.wait_for("user:offline", about("alice", t), timeout=GRACE + MARGIN)
    assert offline["reason"] == "disconnect"
    assert count(obs, "user:offline", "alice") == 1
    assert "alice" not in await listed(obs)
    assert not obs.received("session:ended")
