"""Two rooms replicas behave like one: each send handled once, settings in force on both."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.clients import Client, connect, token, unique
from tests.integration.test_spine import set_tenant
from tests.servers import ServiceProcess
from tests.stack import Stack


@pytest.fixture(scope="module")
def replicas(stack_factory: Stack) -> Iterator[ServiceProcess]:
    stack_factory.start("rooms", instance="rooms-a")
    stack_factory.start("rooms", instance="rooms-b")
    yield stack_factory.start("gateway", instance="gw-replicas")


async def test_every_send_is_handled_once_across_replicas(
    replicas: ServiceProcess, clients: list[Client], nats_url: str
) -> None:
    t = unique("replicas")
    sender = await connect(replicas.url, token("ann", t))
    recipient = await connect(replicas.url, token("bob", t))
    admin = await connect(replicas.url, token("boss", t, role="admin"))
    clients += [sender, recipient, admin]

    warm = await asyncio.gather(
        *(sender.call("chat:send", {"to": "bob", "body": f"w{i}"}) for i in range(20))
    )
    assert all(a["ok"] for a in warm), "both replicas now cache supervise_dms=false"
    await recipient.wait_for(
        "chat:message", lambda m: len(recipient.received("chat:message")) >= 20
    )
    recipient.events.clear()

    reply = await set_tenant(nats_url, t, supervise_dms=True)
    assert reply.ok
    acks = await asyncio.gather(
        *(sender.call("chat:send", {"to": "bob", "body": f"m{i}"}) for i in range(40))
    )
    assert all(a["ok"] for a in acks), acks
    ids = {a["id"] for a in acks}
    assert len(ids) == 40

    await recipient.wait_for(
        "chat:message", lambda m: len(recipient.received("chat:message")) >= 40
    )
    await admin.wait_for("chat:message", lambda m: len(admin.received("chat:message")) >= 40)
    await asyncio.sleep(0.3)
    assert sorted(m["id"] for m in recipient.received("chat:message")) == sorted(ids)
    assert sorted(m["id"] for m in admin.received("chat:message")) == sorted(ids), (
        "supervision must be in force on both replicas for every later message"
    )

    assert (await set_tenant(nats_url, t, supervise_dms=False)).ok
    later = await asyncio.gather(
        *(sender.call("chat:send", {"to": "bob", "body": f"n{i}"}) for i in range(20))
    )
    later_ids = {a["id"] for a in later}
    await recipient.wait_for(
        "chat:message", lambda m: len(recipient.received("chat:message")) >= 60
    )
    await asyncio.sleep(0.3)
    assert not later_ids & {m["id"] for m in admin.received("chat:message")}
